//! What a storage backend provides to the shared engine: durable key-value primitives for
//! batches, hub metadata and group offsets. All offset assignment, validation, visibility and
//! retention decisions live in the engine, once.

use std::fmt;

use crate::batch::RecordBatch;
use crate::error::Result;
use crate::hub::{HubInfo, HubName, PartitionId};
use crate::log::{CommittedOffset, RetentionReport};
use crate::producer::ProducerState;
use crate::record::Offset;
use crate::txn::{AbortedTxn, TxnRecord};

/// The persistent state of a partition, written atomically with every change to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionMeta {
    /// First readable offset.
    pub(crate) log_start: Offset,
    /// Offset the next append gets.
    pub(crate) next_offset: Offset,
    /// Sum of the sizes of the stored batches.
    pub(crate) stored_bytes: u64,
    /// Append time of the newest batch, `None` before the first append.
    pub(crate) last_append_ms: Option<i64>,
    /// Largest batch max-timestamp appended so far (`i64::MIN` when none): the time index
    /// gets an entry whenever it grows.
    pub(crate) max_timestamp: i64,
}

impl Default for PartitionMeta {
    fn default() -> Self {
        Self {
            log_start: 0,
            next_offset: 0,
            stored_bytes: 0,
            last_append_ms: None,
            max_timestamp: i64::MIN,
        }
    }
}

impl PartitionMeta {
    /// Size of [`PartitionMeta::encode`]'s output.
    pub(crate) const ENCODED_LEN: usize = 40;

    /// Fixed-width big-endian encoding for backends that persist bytes.
    pub(crate) fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[0..8].copy_from_slice(&self.log_start.to_be_bytes());
        out[8..16].copy_from_slice(&self.next_offset.to_be_bytes());
        out[16..24].copy_from_slice(&self.stored_bytes.to_be_bytes());
        out[24..32].copy_from_slice(&self.last_append_ms.unwrap_or(i64::MIN).to_be_bytes());
        out[32..40].copy_from_slice(&self.max_timestamp.to_be_bytes());
        out
    }

    /// Inverse of [`PartitionMeta::encode`]; `None` if `bytes` has the wrong length.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::ENCODED_LEN] = bytes.try_into().ok()?;
        let field = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            b
        };
        let last_append = i64::from_be_bytes(field(24));
        Some(Self {
            log_start: i64::from_be_bytes(field(0)),
            next_offset: i64::from_be_bytes(field(8)),
            stored_bytes: u64::from_be_bytes(field(16)),
            last_append_ms: (last_append != i64::MIN).then_some(last_append),
            max_timestamp: i64::from_be_bytes(field(32)),
        })
    }
}

/// The facts about one stored batch that retention and time lookups need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchSummary {
    /// First offset.
    pub(crate) base: Offset,
    /// Last offset.
    pub(crate) last: Offset,
    /// Largest timestamp.
    pub(crate) max_timestamp: i64,
    /// Size in bytes.
    pub(crate) len: u64,
}

impl BatchSummary {
    pub(crate) fn of(batch: &RecordBatch) -> Self {
        Self {
            base: batch.base_offset(),
            last: batch.last_offset(),
            max_timestamp: batch.header().max_timestamp,
            len: batch.len() as u64,
        }
    }
}

/// Where the time index points a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeSeek {
    /// The first batch whose running max timestamp reaches this time.
    AtOrAfter(i64),
    /// The batch where the running max timestamp last grew.
    Max,
}

/// Storage of one partition's batches. Calls are synchronous and short; the engine serialises
/// writers per partition, so implementations need no write ordering of their own.
pub(crate) trait PartitionStore: Send + Sync + 'static {
    /// Stores `batch` (offsets already assigned), the new `meta`, if the running max
    /// timestamp grew to `time_entry` a time-index entry, the new state of the batch's
    /// idempotent `producer` and, for an ABORT marker, its `aborted` index entry — all in
    /// one atomic write.
    fn append(
        &self,
        batch: &RecordBatch,
        meta: &PartitionMeta,
        time_entry: Option<i64>,
        producer: Option<(i64, &ProducerState)>,
        aborted: Option<&AbortedTxn>,
    ) -> Result<()>;

    /// Every idempotent producer's persisted state in this partition.
    fn producers(&self) -> Result<Vec<(i64, ProducerState)>>;

    /// The persisted aborted-transaction index, by marker offset.
    fn aborted(&self) -> Result<Vec<AbortedTxn>>;

    /// Batches in offset order starting with the one that contains `from` (or the first after
    /// it), stopping before `end` and once `max_bytes` is reached; at least one if any exists.
    fn read(&self, from: Offset, end: Offset, max_bytes: usize) -> Result<Vec<RecordBatch>>;

    /// Summaries of up to `limit` batches in offset order, starting as [`PartitionStore::read`].
    fn summaries(&self, from: Offset, limit: usize) -> Result<Vec<BatchSummary>>;

    /// Base offset of the batch the time index points `seek` at, `None` if no entry matches.
    fn time_seek(&self, seek: TimeSeek) -> Result<Option<Offset>>;

    /// Deletes the batches that end below `meta.log_start`, the aborted-index entries whose
    /// marker is below it, and the time-index entries below it
    /// (all but the last one, which may still bound later lookups), and writes `meta` with
    /// `stored_bytes` reduced by what was freed — in one atomic write. Returns what was freed.
    fn truncate_front(&self, meta: &mut PartitionMeta) -> Result<RetentionReport>;

    /// Applies the cleaner's `changes` (each batch removed or replaced at its base offset),
    /// removes the aborted-index entries whose marker offsets are in `markers_removed`, and
    /// writes `meta` — in one atomic write.
    fn rewrite(
        &self,
        changes: &[super::compact::Rewrite],
        markers_removed: &[Offset],
        meta: &PartitionMeta,
    ) -> Result<()>;
}

/// A hub as loaded at start-up.
pub(crate) struct LoadedHub<P> {
    pub(crate) info: HubInfo,
    pub(crate) partitions: Vec<(P, PartitionMeta)>,
}

/// Everything a backend holds: hubs with their partitions, and committed offsets.
pub(crate) type Loaded<P> = (
    Vec<LoadedHub<P>>,
    Vec<(String, PartitionId, CommittedOffset)>,
);

/// A storage backend: where partitions, hub metadata and group offsets persist.
pub(crate) trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The backend's partition store.
    type Partition: PartitionStore;

    /// Whether completed writes survive a crash once [`Backend::sync`] returns.
    fn durable(&self) -> bool;

    /// Every hub with its partitions, and every committed offset, as persisted.
    fn load(&self) -> Result<Loaded<Self::Partition>>;

    /// Creates (empty) partitions `from..to` of `hub`.
    fn create_partitions(&self, hub: &HubName, from: u32, to: u32) -> Result<Vec<Self::Partition>>;

    /// Persists a hub's description; a hub exists once this returns.
    fn save_hub(&self, info: &HubInfo) -> Result<()>;

    /// Removes a hub's description and then all its partitions.
    fn remove_hub(&self, info: &HubInfo) -> Result<()>;

    /// Persists committed offsets atomically.
    fn save_offsets(&self, group: &str, offsets: &[(PartitionId, CommittedOffset)]) -> Result<()>;

    /// Removes committed offsets.
    fn remove_offsets(&self, keys: &[(String, PartitionId)]) -> Result<()>;

    /// A producer id never returned before, even across restarts.
    fn next_producer_id(&self) -> Result<i64>;

    /// The cluster id kept with the data, generated (with [`new_cluster_id`]) and stored durably
    /// the first time; a backend that keeps nothing returns a fresh one.
    fn cluster_id(&self) -> Result<String>;

    /// Every persisted transactional id's coordinator state.
    fn load_txns(&self) -> Result<Vec<(String, TxnRecord)>>;

    /// Persists (or with `None` removes) a transactional id's coordinator state.
    fn save_txn(&self, id: &str, record: Option<&TxnRecord>) -> Result<()>;

    /// Makes every completed write durable. Called from one flusher thread at a time.
    fn sync(&self) -> Result<()>;
}

/// What a decision of [`ObjectBackend::swap_object`] does: `None` leaves the object alone,
/// `Some(None)` deletes it, `Some(Some(object))` stores `object`.
pub(crate) type ObjectChange = Option<Option<crate::objects::StoredObject>>;

/// Where a backend keeps [`Objects`](crate::Objects).
pub(crate) trait ObjectBackend {
    /// The object under `key`.
    fn object(&self, key: &[u8]) -> Result<Option<crate::objects::StoredObject>>;

    /// Atomically applies what `decide` answers for the current object (it may be asked more
    /// than once when another writer got in between); returns whether anything changed.
    fn swap_object(
        &self,
        key: &[u8],
        decide: &mut dyn FnMut(Option<&crate::objects::StoredObject>) -> ObjectChange,
    ) -> Result<bool>;

    /// Up to `limit` objects with keys starting with `prefix`, at or after `start`, in order.
    fn list_objects(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<(bytes::Bytes, crate::objects::StoredObject)>>;

    /// A version no object write got before, even across restarts.
    fn next_object_version(&self) -> Result<u64>;
}

/// A new cluster id in Kafka's format: 16 random bytes, URL-safe base64 without padding (22
/// characters), as Kafka's own storage tool generates them.
pub(crate) fn new_cluster_id() -> String {
    use base64::Engine as _;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
