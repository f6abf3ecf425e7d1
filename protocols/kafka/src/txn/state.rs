//! The transaction state machine of one transactional id, without I/O or clock: every
//! function takes the stored [`TxnRecord`] (if any), the request and the time (ms since the
//! epoch) and returns the record to store next, or the Kafka error code to answer. The rules
//! are Kafka's transaction coordinator's (KIP-98, KIP-360, KIP-588).

use hubgate_storage::{PartitionId, PendingOffset, TxnRecord, TxnStatus};

use crate::error::code;

/// Longest transaction timeout a producer may ask for (`transaction.max.timeout.ms`).
pub(crate) const MAX_TIMEOUT_MS: i64 = 900_000;
/// Epoch from which a bump takes a new producer id instead (Kafka's `isEpochExhausted`).
const EXHAUSTED_EPOCH: i16 = i16::MAX - 1;
/// How long a transaction whose markers could not all be written waits before the next try.
pub(crate) const RETRY_MS: i64 = 1000;

/// What an InitProducerId does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Init {
    /// Store this record and answer its producer id and epoch.
    Bump(TxnRecord),
    /// Allocate a new producer id and start it at epoch 0 (a new id, or an exhausted epoch).
    NewProducer,
    /// A transaction is open (a zombie's): store this record (epoch bumped, PrepareAbort),
    /// abort it, and answer CONCURRENT_TRANSACTIONS; the client's retry then bumps.
    Fence(TxnRecord),
}

/// What an EndTxn does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// A retry of the transaction's completed end: answer NONE.
    Done,
    /// Store this Prepare* record, write the markers, then complete it.
    Complete(TxnRecord),
}

/// A fresh record for a new producer id at epoch 0.
pub(crate) fn new_producer(producer_id: i64, timeout_ms: i64, now: i64) -> TxnRecord {
    TxnRecord {
        producer_id,
        producer_epoch: 0,
        last_epoch: -1,
        timeout_ms,
        status: TxnStatus::Empty,
        partitions: Vec::new(),
        groups: Vec::new(),
        pending_offsets: Vec::new(),
        started_ms: -1,
        updated_ms: now,
    }
}

fn is_preparing(status: TxnStatus) -> bool {
    matches!(
        status,
        TxnStatus::PrepareCommit | TxnStatus::PrepareAbort | TxnStatus::PrepareEpochFence
    )
}

/// InitProducerId with a transactional id. `given` is the (producer id, epoch) a v3+ client
/// presents to keep its id (KIP-360), `None` when it sends -1.
pub(crate) fn init(
    current: Option<&TxnRecord>,
    timeout_ms: i64,
    given: Option<(i64, i16)>,
    now: i64,
) -> Result<Init, i16> {
    if timeout_ms <= 0 || timeout_ms > MAX_TIMEOUT_MS {
        return Err(code::INVALID_TRANSACTION_TIMEOUT);
    }
    let Some(current) = current else {
        return Ok(Init::NewProducer);
    };
    if is_preparing(current.status) {
        return Err(code::CONCURRENT_TRANSACTIONS);
    }
    if let Some((pid, epoch)) = given {
        if pid != current.producer_id {
            return Err(code::PRODUCER_FENCED);
        }
        if epoch == current.last_epoch && epoch != current.producer_epoch {
            // A retry of the bump that already happened.
            return Ok(Init::Bump(current.clone()));
        }
        if epoch != current.producer_epoch {
            return Err(code::PRODUCER_FENCED);
        }
    }
    if current.status == TxnStatus::Ongoing {
        return Ok(Init::Fence(fence(current, now)));
    }
    if current.producer_epoch >= EXHAUSTED_EPOCH {
        return Ok(Init::NewProducer);
    }
    Ok(Init::Bump(TxnRecord {
        producer_epoch: current.producer_epoch + 1,
        last_epoch: current.producer_epoch,
        timeout_ms,
        status: TxnStatus::Empty,
        partitions: Vec::new(),
        groups: Vec::new(),
        pending_offsets: Vec::new(),
        started_ms: -1,
        updated_ms: now,
        ..current.clone()
    }))
}

/// The producer's (id, epoch) must be the record's current ones, and no end may be under way.
fn check_producer(current: Option<&TxnRecord>, pid: i64, epoch: i16) -> Result<&TxnRecord, i16> {
    let current = current.ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
    if current.producer_id != pid {
        return Err(code::INVALID_PRODUCER_ID_MAPPING);
    }
    if current.producer_epoch != epoch {
        return Err(code::PRODUCER_FENCED);
    }
    if is_preparing(current.status) {
        return Err(code::CONCURRENT_TRANSACTIONS);
    }
    Ok(current)
}

/// The record with the transaction open (started at `now` if it was not).
fn opened(current: &TxnRecord, now: i64) -> TxnRecord {
    let mut next = current.clone();
    if current.status != TxnStatus::Ongoing {
        next.status = TxnStatus::Ongoing;
        next.started_ms = now;
    }
    next.updated_ms = now;
    next
}

/// AddPartitionsToTxn: `None` when every partition is already in the open transaction.
pub(crate) fn add_partitions(
    current: Option<&TxnRecord>,
    pid: i64,
    epoch: i16,
    partitions: &[PartitionId],
    now: i64,
) -> Result<Option<TxnRecord>, i16> {
    let current = check_producer(current, pid, epoch)?;
    if current.status == TxnStatus::Ongoing
        && partitions.iter().all(|p| current.partitions.contains(p))
    {
        return Ok(None);
    }
    let mut next = opened(current, now);
    for p in partitions {
        if !next.partitions.contains(p) {
            next.partitions.push(p.clone());
        }
    }
    Ok(Some(next))
}

/// AddOffsetsToTxn: `None` when the group is already in the open transaction.
pub(crate) fn add_offsets(
    current: Option<&TxnRecord>,
    pid: i64,
    epoch: i16,
    group: &str,
    now: i64,
) -> Result<Option<TxnRecord>, i16> {
    let current = check_producer(current, pid, epoch)?;
    if current.status == TxnStatus::Ongoing && current.groups.iter().any(|g| g == group) {
        return Ok(None);
    }
    let mut next = opened(current, now);
    next.groups.push(group.to_owned());
    Ok(Some(next))
}

/// TxnOffsetCommit (the group's member checks already passed): the offsets become pending in
/// the open transaction, replacing earlier pending ones for the same partitions.
pub(crate) fn commit_offsets(
    current: Option<&TxnRecord>,
    pid: i64,
    epoch: i16,
    group: &str,
    offsets: Vec<PendingOffset>,
    now: i64,
) -> Result<TxnRecord, i16> {
    let current = current.ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
    if current.producer_id != pid {
        return Err(code::INVALID_PRODUCER_ID_MAPPING);
    }
    if current.producer_epoch != epoch {
        return Err(code::INVALID_PRODUCER_EPOCH);
    }
    if is_preparing(current.status) {
        return Err(code::CONCURRENT_TRANSACTIONS);
    }
    if current.status != TxnStatus::Ongoing || !current.groups.iter().any(|g| g == group) {
        return Err(code::INVALID_TXN_STATE);
    }
    let mut next = current.clone();
    next.pending_offsets.retain(|o| {
        !offsets
            .iter()
            .any(|n| n.group == o.group && n.partition == o.partition)
    });
    next.pending_offsets.extend(offsets);
    next.updated_ms = now;
    Ok(next)
}

/// EndTxn.
pub(crate) fn end(
    current: Option<&TxnRecord>,
    pid: i64,
    epoch: i16,
    commit: bool,
    now: i64,
) -> Result<End, i16> {
    let current = current.ok_or(code::INVALID_PRODUCER_ID_MAPPING)?;
    if current.producer_id != pid {
        return Err(code::INVALID_PRODUCER_ID_MAPPING);
    }
    if current.producer_epoch != epoch {
        return Err(code::PRODUCER_FENCED);
    }
    match (current.status, commit) {
        (TxnStatus::Ongoing, _) => Ok(End::Complete(prepare(current, commit, now))),
        (TxnStatus::CompleteCommit, true) | (TxnStatus::CompleteAbort, false) => Ok(End::Done),
        (TxnStatus::PrepareCommit, true) | (TxnStatus::PrepareAbort, false) => {
            Err(code::CONCURRENT_TRANSACTIONS)
        }
        (TxnStatus::PrepareEpochFence, _) => Err(code::CONCURRENT_TRANSACTIONS),
        _ => Err(code::INVALID_TXN_STATE),
    }
}

/// The record with the end decided.
fn prepare(current: &TxnRecord, commit: bool, now: i64) -> TxnRecord {
    TxnRecord {
        status: if commit {
            TxnStatus::PrepareCommit
        } else {
            TxnStatus::PrepareAbort
        },
        updated_ms: now,
        ..current.clone()
    }
}

/// The open transaction fenced: epoch bumped (so the old producer is refused everywhere) and
/// the abort decided.
pub(crate) fn fence(current: &TxnRecord, now: i64) -> TxnRecord {
    TxnRecord {
        producer_epoch: current.producer_epoch.saturating_add(1),
        last_epoch: -1,
        status: TxnStatus::PrepareAbort,
        updated_ms: now,
        ..current.clone()
    }
}

/// The record once every marker of a Prepare* record is written.
pub(crate) fn complete(current: &TxnRecord, now: i64) -> TxnRecord {
    TxnRecord {
        status: if current.status == TxnStatus::PrepareCommit {
            TxnStatus::CompleteCommit
        } else {
            TxnStatus::CompleteAbort
        },
        partitions: Vec::new(),
        groups: Vec::new(),
        pending_offsets: Vec::new(),
        started_ms: -1,
        updated_ms: now,
        ..current.clone()
    }
}

/// Whether an open transaction has passed its timeout at `now`.
pub(crate) fn timed_out(current: &TxnRecord, now: i64) -> bool {
    current.status == TxnStatus::Ongoing
        && current.started_ms.saturating_add(current.timeout_ms) <= now
}

/// When the actor must next act on its own (ms since the epoch): an open transaction's
/// timeout, or the retry of an unfinished end.
pub(crate) fn next_deadline(current: Option<&TxnRecord>) -> Option<i64> {
    let current = current?;
    match current.status {
        TxnStatus::Ongoing => Some(current.started_ms.saturating_add(current.timeout_ms)),
        s if is_preparing(s) => Some(current.updated_ms.saturating_add(RETRY_MS)),
        _ => None,
    }
}

/// Every state name [`status_name`] gives.
pub(crate) const STATUS_NAMES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

/// Kafka's state name, as DescribeTransactions and ListTransactions show it.
pub(crate) fn status_name(status: TxnStatus) -> &'static str {
    match status {
        TxnStatus::Empty => "Empty",
        TxnStatus::Ongoing => "Ongoing",
        TxnStatus::PrepareCommit => "PrepareCommit",
        TxnStatus::PrepareAbort => "PrepareAbort",
        TxnStatus::CompleteCommit => "CompleteCommit",
        TxnStatus::CompleteAbort => "CompleteAbort",
        TxnStatus::Dead => "Dead",
        TxnStatus::PrepareEpochFence => "PrepareEpochFence",
    }
}

#[cfg(test)]
mod tests;
