//! Storage errors. They name what went wrong in storage terms; each front end maps them to its
//! own wire codes at one boundary.

use crate::batch::CodecError;
use crate::record::Offset;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the log can refuse or fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The hub does not exist.
    #[error("hub `{0}` does not exist")]
    NoSuchHub(String),
    /// A hub with this name already exists.
    #[error("hub `{0}` already exists")]
    HubExists(String),
    /// The hub exists but has no such partition.
    #[error("hub `{hub}` has no partition {partition}")]
    NoSuchPartition {
        /// Hub name.
        hub: String,
        /// Requested partition index.
        partition: u32,
    },
    /// The name is not a legal hub name.
    #[error("invalid hub name `{name}`: {reason}")]
    InvalidHubName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A read asked for an offset outside `[log_start, high_watermark]`.
    #[error("offset {requested} is out of range [{log_start}, {high_watermark}]")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: Offset,
        /// First offset still stored.
        log_start: Offset,
        /// Offset the next append will get.
        high_watermark: Offset,
    },
    /// A hub configuration value is out of range.
    #[error("invalid hub configuration: {0}")]
    InvalidConfig(String),
    /// A batch is larger than the hub's `max_message_bytes`.
    #[error("batch of {size} bytes exceeds the hub's limit of {limit} bytes")]
    MessageTooLarge {
        /// Size of the batch.
        size: usize,
        /// The hub's limit.
        limit: usize,
    },
    /// An idempotent producer's batch carries an epoch older than the one already seen.
    #[error("producer {producer_id}: epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer.
        producer_id: i64,
        /// Epoch of the batch.
        epoch: i16,
        /// Epoch already seen.
        current: i16,
    },
    /// An idempotent producer's batch does not continue its sequence.
    #[error("producer {producer_id}: expected sequence {expected}, got {received}")]
    OutOfOrderSequence {
        /// The producer.
        producer_id: i64,
        /// Sequence the next batch must start with.
        expected: i32,
        /// Sequence the batch starts with.
        received: i32,
    },
    /// An idempotent producer's batch was stored before, too long ago to return its offsets.
    #[error("producer {producer_id}: sequence {received} was already written")]
    DuplicateSequence {
        /// The producer.
        producer_id: i64,
        /// Sequence the batch starts with.
        received: i32,
    },
    /// A batch does not fit the producer's transaction state in the partition: a
    /// non-transactional batch while its transaction is open, or a transactional batch
    /// without a producer id.
    #[error("producer {producer_id}: {reason}")]
    InvalidTxnState {
        /// The producer.
        producer_id: i64,
        /// What does not fit.
        reason: &'static str,
    },
    /// A control batch (transaction marker) was appended as data; only
    /// [`Transactions::write_marker`](crate::Transactions::write_marker) writes them.
    #[error("control batches are written by the log only")]
    ControlBatch,
    /// The batch could not be parsed or failed its checksum.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Stored data is inconsistent (should never happen; means disk corruption or a bug).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The storage URL names no engine this build has.
    #[error("unsupported storage URL `{0}` (expected `sled:PATH` or `memory://`)")]
    UnsupportedUrl(String),
    /// The data directory is used by another process.
    #[error("data directory {path} is locked by another process")]
    Locked {
        /// The data directory.
        path: String,
    },
    /// An object key or value is over its cap (see [`Objects`](crate::Objects)).
    #[error("object {what} of {len} bytes exceeds the limit of {limit} bytes")]
    ObjectTooLarge {
        /// `"key"` or `"value"`.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The cap.
        limit: usize,
    },
    /// The log has been closed.
    #[error("the log is closed")]
    Closed,
    /// A durability sync failed. What it covered is never acknowledged nor made visible, and
    /// the log accepts no more writes until the process restarts (fail-stop); reads go on.
    #[error("storage failed and accepts no writes until restart: {0}")]
    StorageFailed(String),
    /// The sled database failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// An I/O operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
