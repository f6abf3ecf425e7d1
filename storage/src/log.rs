//! The protocol-neutral log API every front end uses, and the engine-independent types it
//! speaks in.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::batch::RecordBatch;
use crate::error::Result;
use crate::hub::{HubConfig, HubInfo, HubName, HubUpdate, PartitionId, PartitionState};
use crate::record::Offset;
use crate::txn::Transactions;

/// What an engine can do; front ends check these instead of assuming.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Offsets of one append are contiguous and follow the previous append's.
    pub contiguous_offsets: bool,
    /// [`Log::delete_records`] is supported.
    pub delete_records: bool,
    /// Key-based compaction is performed.
    pub compaction: bool,
    /// Transactions are supported.
    pub transactions: bool,
    /// Several gateways can share the storage.
    pub shared: bool,
    /// Acknowledged appends survive a crash of the process.
    pub durable: bool,
}

/// When an append is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// After the write is on disk (group commit: one fsync covers every append waiting for it).
    #[default]
    Strict,
    /// After the write reached the engine; the engine flushes in the background (sled: every
    /// 500 ms, and appends wait for a flush whenever 64 MiB are unflushed, which bounds memory).
    /// A crash can lose acknowledged records.
    Relaxed,
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Offset assigned to the first record.
    pub base_offset: Offset,
    /// Offset assigned to the last record.
    pub last_offset: Offset,
    /// The append time stamped on the batch, if the hub uses log-append time.
    pub log_append_time: Option<i64>,
    /// The partition's log start offset after the append.
    pub log_start: Offset,
    /// The batch was a retry of an idempotent producer's batch already stored: nothing was
    /// written and the offsets are the ones it was stored at.
    pub duplicate: bool,
}

/// Batches returned by a read, with the partition state they were read against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBatches {
    /// Stored batches in offset order. The first one contains the requested offset (it may
    /// start before it), or, when compaction removed that offset, is the next batch still
    /// stored; the list is empty when the offset equals the high watermark.
    pub batches: Vec<RecordBatch>,
    /// Partition state at the time of the read.
    pub state: PartitionState,
}

/// Which record [`Log::offset_for_timestamp`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeQuery {
    /// The first record whose timestamp is at or after this time (ms).
    AtOrAfter(i64),
    /// The record with the largest timestamp (the first such, if several share it).
    Max,
}

/// A record located by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampOffset {
    /// The record's offset.
    pub offset: Offset,
    /// The record's timestamp.
    pub timestamp: i64,
}

/// What a retention pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionReport {
    /// Batches deleted.
    pub batches: u64,
    /// Bytes deleted.
    pub bytes: u64,
}

/// A consumer group's committed position in one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommittedOffset {
    /// Next offset to consume.
    pub offset: Offset,
    /// Leader epoch the consumer saw, if it sent one.
    pub leader_epoch: Option<i32>,
    /// Client metadata string, returned as stored.
    pub metadata: String,
    /// When the commit was made (ms since the epoch).
    pub committed_at_ms: i64,
}

/// A partitioned, append-only log of record batches.
///
/// Offsets are dense at append where [`Capabilities::contiguous_offsets`] says so. Readers see
/// only what is below the high watermark, which under [`Durability::Strict`] only covers
/// records already on disk.
#[async_trait]
pub trait Log: Send + Sync + fmt::Debug + 'static {
    /// What this engine supports.
    fn capabilities(&self) -> Capabilities;

    /// The cluster id: generated once per data directory and stored with the data, so it is
    /// the same after a restart; an engine that keeps nothing has a fresh one per process.
    fn cluster_id(&self) -> &str;

    /// Creates a hub with `config.partitions` empty partitions.
    async fn create_hub(&self, name: &HubName, config: HubConfig) -> Result<HubInfo>;

    /// Deletes a hub, its records and its committed group offsets.
    async fn delete_hub(&self, name: &HubName) -> Result<()>;

    /// Describes one hub.
    async fn hub(&self, name: &HubName) -> Result<HubInfo>;

    /// Describes every hub, sorted by name.
    async fn hubs(&self) -> Result<Vec<HubInfo>>;

    /// Changes a hub's configuration; a larger partition count adds empty partitions.
    async fn update_hub(&self, name: &HubName, update: HubUpdate) -> Result<HubInfo>;

    /// Appends one batch, assigning its offsets (and log-append time if the hub uses it).
    /// Returns once the batch is durable under the log's [`Durability`].
    ///
    /// A batch with a producer id (`producerId >= 0`) is checked against that producer's
    /// epoch and sequence in the partition first, and its state is stored with it (see
    /// [`RETAINED_BATCHES`](crate::RETAINED_BATCHES)): a retried batch is not stored again
    /// but answered with [`Appended::duplicate`] and its original offsets.
    ///
    /// # Errors
    /// Among others [`Error::InvalidProducerEpoch`](crate::Error::InvalidProducerEpoch),
    /// [`Error::OutOfOrderSequence`](crate::Error::OutOfOrderSequence) and
    /// [`Error::DuplicateSequence`](crate::Error::DuplicateSequence) for idempotent batches.
    async fn append(&self, partition: &PartitionId, batch: RecordBatch) -> Result<Appended>;

    /// Reads stored batches from `from`, up to about `max_bytes` (at least one batch when any
    /// record is at or after `from`).
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`](crate::Error::OffsetOutOfRange) when `from` is below the log
    /// start or above the high watermark.
    async fn read(
        &self,
        partition: &PartitionId,
        from: Offset,
        max_bytes: usize,
    ) -> Result<ReadBatches>;

    /// The partition's offsets, size and last append time.
    async fn partition(&self, partition: &PartitionId) -> Result<PartitionState>;

    /// Finds a record by timestamp among the records still stored; `None` if there is none.
    async fn offset_for_timestamp(
        &self,
        partition: &PartitionId,
        query: TimeQuery,
    ) -> Result<Option<TimestampOffset>>;

    /// Makes every record below `before` unreadable (moves the log start offset) and frees the
    /// batches that lie wholly below it. Returns the new log start offset.
    async fn delete_records(&self, partition: &PartitionId, before: Offset) -> Result<Offset>;

    /// Waits until a record at `offset` is readable (the high watermark passes it) or until
    /// `deadline`, whichever is first, and returns the partition state then. Woken by appends,
    /// never by polling.
    async fn wait_for(
        &self,
        partition: &PartitionId,
        offset: Offset,
        deadline: Instant,
    ) -> Result<PartitionState>;

    /// A producer id never handed out before by this storage, even across restarts.
    async fn new_producer_id(&self) -> Result<i64>;

    /// Deletes batches past their hub's retention time or size as of `now_ms`.
    async fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport>;

    /// Compacts every hub whose cleanup policy includes compaction, where its settings say a
    /// pass is due as of `now_ms` (see [`crate::compaction`]): the latest record per key stays,
    /// offsets never change.
    async fn compact(&self, now_ms: i64) -> Result<crate::compaction::CompactionReport>;

    /// The cleaner's view of every partition of every compacted hub, for metrics.
    async fn cleaner_status(&self) -> Result<Vec<crate::compaction::CleanerStatus>>;

    /// Makes everything written so far durable.
    async fn flush(&self) -> Result<()>;
}

/// Committed consumer-group offsets, per (group, hub, partition).
#[async_trait]
pub trait GroupOffsets: Send + Sync + fmt::Debug + 'static {
    /// Stores the offsets atomically; durable under the log's [`Durability`] on return.
    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[(PartitionId, CommittedOffset)],
    ) -> Result<()>;

    /// Every offset the group has committed, sorted by partition.
    async fn committed_offsets(&self, group: &str) -> Result<Vec<(PartitionId, CommittedOffset)>>;

    /// Names of the groups with committed offsets, sorted.
    async fn offset_groups(&self) -> Result<Vec<String>>;

    /// Forgets every offset the group committed.
    async fn delete_group_offsets(&self, group: &str) -> Result<()>;

    /// Forgets the group's offsets for these partitions; partitions without one are skipped.
    async fn delete_offsets(&self, group: &str, partitions: &[PartitionId]) -> Result<()>;
}

/// Everything a front end needs from storage.
pub trait Storage: Log + GroupOffsets + Transactions + crate::Objects {}

impl<T: Log + GroupOffsets + Transactions + crate::Objects> Storage for T {}

/// The shared handle front ends hold.
pub type SharedStorage = Arc<dyn Storage>;

// Build-time check that the traits stay usable as trait objects.
fn _assert_object_safe(_: &dyn Storage) {}
