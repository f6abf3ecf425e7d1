//! The transaction coordinator. This node coordinates every transactional id.
//!
//! Built like the group coordinator: each transactional id is owned by one task (its actor),
//! which holds the id's stored [`TxnRecord`] and applies its requests one at a time, in arrival
//! order, through the pure rules of [`state`]. Every change is stored durably
//! ([`hubgate_storage::Transactions::put_txn`]) before it is answered.
//!
//! Ending a transaction is synchronous: the actor stores PrepareCommit/PrepareAbort, writes a
//! marker into every partition of the transaction (concurrently, each durable), applies or drops the
//! pending group offsets, stores CompleteCommit/CompleteAbort and only then answers EndTxn.
//! Requests that arrive meanwhile wait in the actor's queue, so they see the completed state.
//! A transaction whose markers could not all be written stays in Prepare* and is retried.
//!
//! Timers are the actor's: an open transaction past its timeout is fenced (epoch bumped) and
//! aborted. On start every stored id gets an actor, so Prepare* transactions are completed and
//! Ongoing ones abort at their timeout.
//!
//! The actors publish each stored record into a shared snapshot, which answers what needs no
//! ordering: Produce's check that a partition is in the producer's open transaction,
//! OffsetFetch's `require_stable`, DescribeTransactions and ListTransactions.

pub(crate) mod state;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures_util::future::join_all;
use hubgate_protocol::metrics;
use hubgate_storage::{
    CommittedOffset, MarkerKind, PartitionId, PendingOffset, SharedStorage, TxnMarker, TxnRecord,
    TxnStatus,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{Instrument, debug, info_span, warn};

use crate::error::{code, storage_code};
use crate::group::now_ms;
use state::{End, Init};

/// Requests waiting for an id's actor; senders wait when it is full.
const QUEUE: usize = 64;
/// The coordinator epoch written into markers: a single node never changes coordinator.
const COORDINATOR_EPOCH: i32 = 0;

#[derive(Debug)]
enum Command {
    Init {
        timeout_ms: i64,
        given: Option<(i64, i16)>,
        reply: oneshot::Sender<Result<(i64, i16), i16>>,
    },
    AddPartitions {
        pid: i64,
        epoch: i16,
        partitions: Vec<PartitionId>,
        reply: oneshot::Sender<Result<(), i16>>,
    },
    AddOffsets {
        pid: i64,
        epoch: i16,
        group: String,
        reply: oneshot::Sender<Result<(), i16>>,
    },
    CommitOffsets {
        pid: i64,
        epoch: i16,
        group: String,
        offsets: Vec<PendingOffset>,
        reply: oneshot::Sender<Result<(), i16>>,
    },
    End {
        pid: i64,
        epoch: i16,
        commit: bool,
        reply: oneshot::Sender<Result<(), i16>>,
    },
}

#[derive(Debug)]
struct Inner {
    storage: SharedStorage,
    actors: DashMap<String, mpsc::Sender<Command>>,
    /// The stored record of every transactional id, as its actor last stored it.
    records: DashMap<String, TxnRecord>,
}

/// The coordinator of every transactional id on this node.
#[derive(Debug, Clone)]
pub(crate) struct TxnCoordinator {
    inner: Arc<Inner>,
}

impl TxnCoordinator {
    /// A coordinator over `storage`'s transaction state.
    pub(crate) fn new(storage: SharedStorage) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage,
                actors: DashMap::new(),
                records: DashMap::new(),
            }),
        }
    }

    /// Starts an actor for every stored transactional id, which completes what a restart
    /// interrupted and runs the open transactions' timeouts.
    pub(crate) async fn load(&self) {
        match self.inner.storage.txns().await {
            Ok(txns) => {
                for (id, record) in txns {
                    if record.status == TxnStatus::Ongoing {
                        metrics::global().transaction("opened");
                    }
                    self.inner.records.insert(id.clone(), record);
                    self.inner.actor(&id);
                }
            }
            Err(e) => warn!(error = %e, "cannot load transaction state"),
        }
    }

    /// InitProducerId for `id`: the producer id and epoch to use.
    pub(crate) async fn init(
        &self,
        id: &str,
        timeout_ms: i64,
        given: Option<(i64, i16)>,
    ) -> Result<(i64, i16), i16> {
        self.inner
            .call(id, |reply| Command::Init {
                timeout_ms,
                given,
                reply,
            })
            .await
    }

    /// AddPartitionsToTxn.
    pub(crate) async fn add_partitions(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        partitions: Vec<PartitionId>,
    ) -> Result<(), i16> {
        self.inner
            .call(id, |reply| Command::AddPartitions {
                pid,
                epoch,
                partitions,
                reply,
            })
            .await
    }

    /// AddOffsetsToTxn.
    pub(crate) async fn add_offsets(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        group: String,
    ) -> Result<(), i16> {
        self.inner
            .call(id, |reply| Command::AddOffsets {
                pid,
                epoch,
                group,
                reply,
            })
            .await
    }

    /// TxnOffsetCommit, once the group accepted the member: the offsets become pending.
    pub(crate) async fn commit_offsets(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        group: String,
        offsets: Vec<PendingOffset>,
    ) -> Result<(), i16> {
        self.inner
            .call(id, |reply| Command::CommitOffsets {
                pid,
                epoch,
                group,
                offsets,
                reply,
            })
            .await
    }

    /// EndTxn: answered once every marker is written and the offsets are applied or dropped.
    pub(crate) async fn end(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), i16> {
        self.inner
            .call(id, |reply| Command::End {
                pid,
                epoch,
                commit,
                reply,
            })
            .await
    }

    /// Checks that `partition` is in the open transaction of `id` at producer (`pid`,
    /// `epoch`): Produce accepts transactional data only then. A fenced (older) epoch gets
    /// INVALID_PRODUCER_EPOCH, anything else INVALID_TXN_STATE.
    pub(crate) fn verify(
        &self,
        id: &str,
        pid: i64,
        epoch: i16,
        partition: &PartitionId,
    ) -> Result<(), i16> {
        let record = self.inner.records.get(id).ok_or(code::INVALID_TXN_STATE)?;
        if record.producer_id == pid && record.producer_epoch > epoch {
            return Err(code::INVALID_PRODUCER_EPOCH);
        }
        let ok = record.producer_id == pid
            && record.producer_epoch == epoch
            && record.status == TxnStatus::Ongoing
            && record.partitions.contains(partition);
        if ok {
            Ok(())
        } else {
            Err(code::INVALID_TXN_STATE)
        }
    }

    /// Whether an open transaction holds pending offsets of `group` for `partition`.
    pub(crate) fn has_pending(&self, group: &str, partition: &PartitionId) -> bool {
        self.inner.records.iter().any(|r| {
            r.pending_offsets
                .iter()
                .any(|o| o.group == group && &o.partition == partition)
        })
    }

    /// One id's stored state.
    pub(crate) fn describe(&self, id: &str) -> Option<TxnRecord> {
        self.inner.records.get(id).map(|r| r.clone())
    }

    /// Every id's stored state, sorted by id.
    pub(crate) fn list(&self) -> Vec<(String, TxnRecord)> {
        let all: BTreeMap<String, TxnRecord> = self
            .inner
            .records
            .iter()
            .map(|r| (r.key().clone(), r.value().clone()))
            .collect();
        all.into_iter().collect()
    }
}

impl Inner {
    /// The id's actor, started if there is none.
    fn actor(self: &Arc<Self>, id: &str) -> mpsc::Sender<Command> {
        self.actors
            .entry(id.to_owned())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(QUEUE);
                let span = info_span!("txn", id = %id);
                tokio::spawn(run(Arc::clone(self), id.to_owned(), rx).instrument(span));
                tx
            })
            .clone()
    }

    async fn call<T>(
        self: &Arc<Self>,
        id: &str,
        command: impl FnOnce(oneshot::Sender<Result<T, i16>>) -> Command,
    ) -> Result<T, i16> {
        let (tx, rx) = oneshot::channel();
        self.actor(id)
            .send(command(tx))
            .await
            .map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?;
        rx.await.map_err(|_| code::COORDINATOR_NOT_AVAILABLE)?
    }

    /// Stores `record` durably, then publishes it.
    async fn store(&self, id: &str, record: &TxnRecord) -> Result<(), i16> {
        self.storage
            .put_txn(id, Some(record))
            .await
            .map_err(|e| storage_code(&e))?;
        self.records.insert(id.to_owned(), record.clone());
        Ok(())
    }

    /// Writes the markers of a stored Prepare* record, applies (commit) the pending offsets,
    /// and stores the completed record, which it returns.
    async fn finish(&self, id: &str, prepared: &TxnRecord) -> Result<TxnRecord, i16> {
        let commit = prepared.status == TxnStatus::PrepareCommit;
        let marker = TxnMarker {
            producer_id: prepared.producer_id,
            producer_epoch: prepared.producer_epoch,
            kind: if commit {
                MarkerKind::Commit
            } else {
                MarkerKind::Abort
            },
            coordinator_epoch: COORDINATOR_EPOCH,
        };
        // Every partition's marker at once, so one group-commit sync covers them all.
        let writes = prepared.partitions.iter().map(|partition| async move {
            (
                partition,
                self.storage.write_marker(partition, marker).await,
            )
        });
        for (partition, written) in join_all(writes).await {
            match written {
                Ok(_) => {}
                // A deleted hub has nothing left to mark.
                Err(
                    hubgate_storage::Error::NoSuchHub(_)
                    | hubgate_storage::Error::NoSuchPartition { .. },
                ) => {}
                Err(e) => {
                    warn!(error = %e, %partition, "cannot write a transaction marker; will retry");
                    return Err(storage_code(&e));
                }
            }
        }
        if commit {
            let mut by_group: BTreeMap<&str, Vec<(PartitionId, CommittedOffset)>> = BTreeMap::new();
            for o in &prepared.pending_offsets {
                by_group
                    .entry(o.group.as_str())
                    .or_default()
                    .push((o.partition.clone(), o.offset.clone()));
            }
            for (group, offsets) in by_group {
                self.storage
                    .commit_offsets(group, &offsets)
                    .await
                    .map_err(|e| storage_code(&e))?;
            }
        }
        let done = state::complete(prepared, now_ms());
        self.store(id, &done).await?;
        metrics::global().transaction(if commit { "committed" } else { "aborted" });
        Ok(done)
    }
}

async fn run(inner: Arc<Inner>, id: String, mut rx: mpsc::Receiver<Command>) {
    let mut record = inner.records.get(&id).map(|r| r.clone());
    loop {
        let wake = state::next_deadline(record.as_ref());
        tokio::select! {
            command = rx.recv() => match command {
                Some(command) => apply(&inner, &id, &mut record, command).await,
                None => return,
            },
            () = sleep_until_ms(wake) => tick(&inner, &id, &mut record).await,
        }
    }
}

/// Runs the id's own work: an open transaction's timeout, or an unfinished end.
async fn tick(inner: &Inner, id: &str, record: &mut Option<TxnRecord>) {
    let Some(current) = record.clone() else {
        return;
    };
    let now = now_ms();
    let prepared = if state::timed_out(&current, now) {
        debug!("transaction timed out; fencing the producer and aborting");
        let fenced = state::fence(&current, now);
        if inner.store(id, &fenced).await.is_err() {
            return;
        }
        metrics::global().transaction("timed_out");
        *record = Some(fenced.clone());
        fenced
    } else if matches!(
        current.status,
        TxnStatus::PrepareCommit | TxnStatus::PrepareAbort
    ) {
        current
    } else {
        return;
    };
    match inner.finish(id, &prepared).await {
        Ok(done) => *record = Some(done),
        Err(_) => {
            // Retried at the next deadline.
            let mut retry = prepared;
            retry.updated_ms = now_ms();
            *record = Some(retry);
        }
    }
}

async fn apply(inner: &Inner, id: &str, record: &mut Option<TxnRecord>, command: Command) {
    let now = now_ms();
    match command {
        Command::Init {
            timeout_ms,
            given,
            reply,
        } => {
            let result = init(inner, id, record, timeout_ms, given, now).await;
            let _ = reply.send(result);
        }
        Command::AddPartitions {
            pid,
            epoch,
            partitions,
            reply,
        } => {
            let result = match state::add_partitions(record.as_ref(), pid, epoch, &partitions, now)
            {
                Ok(Some(next)) => save(inner, id, record, next).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            let _ = reply.send(result);
        }
        Command::AddOffsets {
            pid,
            epoch,
            group,
            reply,
        } => {
            let result = match state::add_offsets(record.as_ref(), pid, epoch, &group, now) {
                Ok(Some(next)) => save(inner, id, record, next).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            let _ = reply.send(result);
        }
        Command::CommitOffsets {
            pid,
            epoch,
            group,
            offsets,
            reply,
        } => {
            let result =
                match state::commit_offsets(record.as_ref(), pid, epoch, &group, offsets, now) {
                    Ok(next) => save(inner, id, record, next).await,
                    Err(e) => Err(e),
                };
            let _ = reply.send(result);
        }
        Command::End {
            pid,
            epoch,
            commit,
            reply,
        } => {
            let result = match state::end(record.as_ref(), pid, epoch, commit, now) {
                Ok(End::Done) => Ok(()),
                Ok(End::Complete(prepared)) => {
                    match save(inner, id, record, prepared.clone()).await {
                        Ok(()) => match inner.finish(id, &prepared).await {
                            Ok(done) => {
                                *record = Some(done);
                                Ok(())
                            }
                            Err(e) => Err(e),
                        },
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let _ = reply.send(result);
        }
    }
}

/// Stores `next` and makes it the actor's record; counts transactions as they open.
async fn save(
    inner: &Inner,
    id: &str,
    record: &mut Option<TxnRecord>,
    next: TxnRecord,
) -> Result<(), i16> {
    inner.store(id, &next).await?;
    let was_open = record
        .as_ref()
        .is_some_and(|r| r.status == TxnStatus::Ongoing);
    if next.status == TxnStatus::Ongoing && !was_open {
        metrics::global().transaction("opened");
    }
    *record = Some(next);
    Ok(())
}

async fn init(
    inner: &Inner,
    id: &str,
    record: &mut Option<TxnRecord>,
    timeout_ms: i64,
    given: Option<(i64, i16)>,
    now: i64,
) -> Result<(i64, i16), i16> {
    match state::init(record.as_ref(), timeout_ms, given, now)? {
        Init::Bump(next) => {
            let answer = (next.producer_id, next.producer_epoch);
            if record.as_ref() != Some(&next) {
                save(inner, id, record, next).await?;
            }
            Ok(answer)
        }
        Init::NewProducer => {
            let pid = inner
                .storage
                .new_producer_id()
                .await
                .map_err(|e| storage_code(&e))?;
            let next = state::new_producer(pid, timeout_ms, now);
            save(inner, id, record, next).await?;
            Ok((pid, 0))
        }
        Init::Fence(fenced) => {
            save(inner, id, record, fenced.clone()).await?;
            if let Ok(done) = inner.finish(id, &fenced).await {
                *record = Some(done);
            }
            Err(code::CONCURRENT_TRANSACTIONS)
        }
    }
}

async fn sleep_until_ms(deadline_ms: Option<i64>) {
    match deadline_ms {
        Some(at) => {
            let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        None => std::future::pending().await,
    }
}
