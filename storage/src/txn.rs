//! Transactions in the log, protocol-neutral: transaction markers (control batches), the last
//! stable offset, the aborted-transaction index, read-committed reads and the coordinator's
//! durable state per transactional id.
//!
//! The model is Kafka's (KIP-98), because the stored format is Kafka's v2 batch:
//! - a producer's transactional batches in a partition open a transaction there; the first
//!   one's base offset is kept in the producer's state, written with the batch;
//! - [`Transactions::write_marker`] closes it with a one-record control batch (COMMIT or
//!   ABORT); an abort adds `(producer, first offset, marker offset)` to the partition's aborted
//!   index, in the same atomic write;
//! - the **last stable offset** is the first offset of the oldest open transaction, else the
//!   high watermark; read-committed readers stop there and skip what the aborted index names.
//!
//! Front ends other than Kafka use [`committed_records`] on a [`CommittedRead`] to get only
//! committed data records: aborted transactions and control records are dropped, offsets are
//! kept (a skipped offset simply does not appear).

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::batch::{EncodeOptions, Limits, RecordBatch};
use crate::error::Result;
use crate::hub::{PartitionId, PartitionState};
use crate::log::{Appended, CommittedOffset};
use crate::record::{Offset, Record};

/// How a transaction ended in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarkerKind {
    /// The transaction's records are discarded.
    Abort,
    /// The transaction's records become visible to read-committed readers.
    Commit,
}

impl MarkerKind {
    /// The control record type on the wire (Kafka `ControlRecordType`): 0 abort, 1 commit.
    pub fn control_type(self) -> i16 {
        match self {
            Self::Abort => 0,
            Self::Commit => 1,
        }
    }
}

/// A transaction marker to write into one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// The producer whose transaction ends.
    pub producer_id: i64,
    /// The producer epoch the marker is written at; older batches of the producer are refused
    /// from then on.
    pub producer_epoch: i16,
    /// Commit or abort.
    pub kind: MarkerKind,
    /// The coordinator's epoch, stored in the marker's value.
    pub coordinator_epoch: i32,
}

impl TxnMarker {
    /// The one-record control batch for this marker at offset 0, timestamped `now_ms`:
    /// key `version 0, type`, value `version 0, coordinator epoch`, base sequence -1.
    pub(crate) fn batch(&self, now_ms: i64) -> Result<RecordBatch> {
        let mut key = Vec::with_capacity(4);
        key.extend_from_slice(&0i16.to_be_bytes());
        key.extend_from_slice(&self.kind.control_type().to_be_bytes());
        let mut value = Vec::with_capacity(6);
        value.extend_from_slice(&0i16.to_be_bytes());
        value.extend_from_slice(&self.coordinator_epoch.to_be_bytes());
        let record = Record {
            offset: 0,
            timestamp: now_ms,
            key: Some(Bytes::from(key)),
            value: Some(Bytes::from(value)),
            headers: Vec::new(),
        };
        let options = EncodeOptions {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            transactional: true,
            control: true,
            ..EncodeOptions::default()
        };
        Ok(RecordBatch::encode(&[record], &options)?)
    }
}

/// One aborted transaction in a partition: its data lies in `[first_offset, last_offset)`
/// and `last_offset` is its ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: i64,
    /// Offset of the transaction's first batch in the partition.
    pub first_offset: Offset,
    /// Offset of the ABORT marker.
    pub last_offset: Offset,
}

impl AbortedTxn {
    /// Size of [`AbortedTxn::encode`]'s output.
    pub(crate) const ENCODED_LEN: usize = 24;

    /// Fixed-width big-endian encoding for backends that persist bytes.
    pub(crate) fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[0..8].copy_from_slice(&self.producer_id.to_be_bytes());
        out[8..16].copy_from_slice(&self.first_offset.to_be_bytes());
        out[16..24].copy_from_slice(&self.last_offset.to_be_bytes());
        out
    }

    /// Inverse of [`AbortedTxn::encode`]; `None` for the wrong length.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::ENCODED_LEN] = bytes.try_into().ok()?;
        let at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            i64::from_be_bytes(b)
        };
        Some(Self {
            producer_id: at(0),
            first_offset: at(8),
            last_offset: at(16),
        })
    }
}

/// The result of [`Transactions::read_committed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedRead {
    /// Stored batches below the last stable offset, as [`Log::read`](crate::Log::read)
    /// returns them: aborted data and control batches included (Kafka clients filter them).
    pub batches: Vec<RecordBatch>,
    /// Partition state at the time of the read.
    pub state: PartitionState,
    /// The aborted transactions overlapping the returned batches, oldest first.
    pub aborted: Vec<AbortedTxn>,
}

/// An idempotent or transactional producer's state in one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerInfo {
    /// The producer.
    pub producer_id: i64,
    /// Its current epoch in the partition.
    pub producer_epoch: i16,
    /// Sequence of its last stored record, -1 if none in this epoch.
    pub last_sequence: i32,
    /// Timestamp of its last stored batch (ms), -1 if unknown.
    pub last_timestamp: i64,
    /// First offset of its open transaction in the partition, if one is open.
    pub txn_start: Option<Offset>,
}

/// Where a transaction stands, as its coordinator keeps it (Kafka's `TransactionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TxnStatus {
    /// No transaction open.
    Empty,
    /// Partitions or groups added; the transaction's timeout runs.
    Ongoing,
    /// Commit decided; markers being written.
    PrepareCommit,
    /// Abort decided; markers being written.
    PrepareAbort,
    /// Every commit marker written.
    CompleteCommit,
    /// Every abort marker written.
    CompleteAbort,
    /// Expired; being removed.
    Dead,
    /// Epoch bumped to fence a zombie or a timed-out producer; an abort follows.
    PrepareEpochFence,
}

/// A transactional id's coordinator state, stored durably by [`Transactions::put_txn`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRecord {
    /// Producer id kept for the transactional id.
    pub producer_id: i64,
    /// Current producer epoch (-1 before the first InitProducerId completes).
    pub producer_epoch: i16,
    /// The epoch before the last bump (-1 if none): a retried InitProducerId presents it.
    pub last_epoch: i16,
    /// Transaction timeout in ms.
    pub timeout_ms: i64,
    /// Where the transaction stands.
    pub status: TxnStatus,
    /// Partitions in the open (or completing) transaction.
    pub partitions: Vec<PartitionId>,
    /// Consumer groups whose offsets the transaction commits.
    pub groups: Vec<String>,
    /// Offsets committed in the transaction, per group; applied at commit, dropped at abort.
    pub pending_offsets: Vec<PendingOffset>,
    /// When the open transaction started (ms since the epoch), -1 if none.
    pub started_ms: i64,
    /// When the record last changed (ms since the epoch).
    pub updated_ms: i64,
}

/// A group offset committed inside a transaction, not yet visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOffset {
    /// The group.
    pub group: String,
    /// The partition.
    pub partition: PartitionId,
    /// The offset to commit.
    pub offset: CommittedOffset,
}

/// The transactional side of storage. Expressible by an engine that delegates to a Kafka
/// cluster: markers are WriteTxnMarkers, read-committed reads a fetch with isolation level 1,
/// coordinator state a compacted topic.
#[async_trait]
pub trait Transactions: Send + Sync + 'static {
    /// Writes a COMMIT or ABORT marker into `partition`, closing the producer's open
    /// transaction there (if any), durably under the log's durability before returning.
    ///
    /// # Errors
    /// [`Error::InvalidProducerEpoch`](crate::Error::InvalidProducerEpoch) when the marker's
    /// epoch is older than the producer's in the partition.
    async fn write_marker(&self, partition: &PartitionId, marker: TxnMarker) -> Result<Appended>;

    /// Reads stored batches from `from` below the last stable offset, up to about `max_bytes`,
    /// with the aborted transactions overlapping them. Empty at or above the last stable
    /// offset.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`](crate::Error::OffsetOutOfRange) as [`Log::read`](crate::Log::read).
    async fn read_committed(
        &self,
        partition: &PartitionId,
        from: Offset,
        max_bytes: usize,
    ) -> Result<CommittedRead>;

    /// Waits until the last stable offset passes `offset` or until `deadline`, and returns
    /// the partition state then. Woken by appends and markers.
    async fn wait_stable(
        &self,
        partition: &PartitionId,
        offset: Offset,
        deadline: Instant,
    ) -> Result<PartitionState>;

    /// The producers with state in `partition`, by producer id.
    async fn producers(&self, partition: &PartitionId) -> Result<Vec<ProducerInfo>>;

    /// Every stored transactional id with its state, sorted by id.
    async fn txns(&self) -> Result<Vec<(String, TxnRecord)>>;

    /// Stores (or with `None` removes) a transactional id's state, durably on return.
    async fn put_txn(&self, id: &str, record: Option<&TxnRecord>) -> Result<()>;
}

/// The committed data records of a read-committed read, in offset order: records of aborted
/// transactions and control records are left out; the others keep their offsets. Records
/// before `from` (in the first batch) are skipped too.
///
/// This is the filter Kafka's Java consumer applies: a transactional batch is aborted when its
/// producer has an aborted transaction in the index whose range contains the batch.
///
/// # Errors
/// [`CodecError`](crate::batch::CodecError) if a stored batch does not decode.
pub fn committed_records(
    read: &CommittedRead,
    from: Offset,
    limits: &Limits,
) -> Result<Vec<Record>> {
    let mut by_producer: HashMap<i64, Vec<&AbortedTxn>> = HashMap::new();
    for a in &read.aborted {
        by_producer.entry(a.producer_id).or_default().push(a);
    }
    let mut out = Vec::new();
    for batch in &read.batches {
        let header = batch.header();
        if header.is_control() {
            continue;
        }
        if header.is_transactional() {
            let base = batch.base_offset();
            let aborted = by_producer.get(&header.producer_id).is_some_and(|list| {
                list.iter()
                    .any(|a| a.first_offset <= base && base < a.last_offset)
            });
            if aborted {
                continue;
            }
        }
        out.extend(
            batch
                .records(limits)?
                .into_iter()
                .filter(|r| r.offset >= from),
        );
    }
    Ok(out)
}
