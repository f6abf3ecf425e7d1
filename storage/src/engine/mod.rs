//! The engine: everything about the log that does not depend on where bytes are kept.
//!
//! It assigns offsets, validates appends, decides what readers may see, waits for durability
//! (group commit), answers time lookups, applies retention and holds committed group offsets
//! in memory; a [`Backend`] persists. The sled and in-memory engines are this type over their
//! backends, so both behave the same by construction and the conformance suite checks the
//! backends.

pub(crate) mod backend;
mod commit;
mod compact;
mod notify;
mod objects;
mod txn;

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::time::Instant;

use crate::batch::{Limits, RecordBatch};
use crate::error::{Error, Result};
use crate::hub::{
    CleanupPolicy, HubConfig, HubInfo, HubName, HubUpdate, PartitionId, PartitionState,
    TimestampPolicy,
};
use crate::log::{
    Appended, Capabilities, CommittedOffset, Durability, GroupOffsets, Log, ReadBatches,
    RetentionReport, TimeQuery, TimestampOffset,
};
use crate::producer::{self, ProducerState, SequenceCheck, SequencedBatch};
use crate::record::{Offset, Record};
use crate::txn::{AbortedTxn, TxnRecord};
use backend::{Backend, BatchSummary, PartitionMeta, PartitionStore, TimeSeek};
use commit::GroupCommit;
pub(crate) use compact::Rewrite;
use notify::Watermarks;

/// Bytes read per step while scanning for a timestamp.
const TIME_SCAN_BYTES: usize = 1 << 20;
/// Under relaxed durability, an append that finds this much unsynced starts a sync without
/// waiting for it...
const RELAXED_SYNC_AFTER: u64 = 8 << 20;
/// ...and one that finds this much waits for it. Without a bound a producer faster than the
/// disk makes sled hold ever more dirty data in memory (measured: 1.4 GB RSS while writing
/// 1 GiB of 1 MiB batches).
const RELAXED_UNSYNCED_LIMIT: u64 = 64 << 20;
/// Batch summaries fetched per step during retention.
const RETENTION_STEP: usize = 512;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

// A panic while holding one of these locks leaves consistent data behind (every update is a
// single assignment after the backend write succeeded), so poisoning is ignored.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// A partition's persistent state plus what readers may see of it.
#[derive(Debug, Clone, Copy)]
struct Tail {
    meta: PartitionMeta,
    /// Readers see offsets below this; under strict durability it trails `next_offset` until
    /// the append is synced.
    high_watermark: Offset,
    /// First offset of the oldest open transaction in the partition, if any.
    first_unstable: Option<Offset>,
}

impl Tail {
    /// The last stable offset: read-committed readers see offsets below it.
    fn last_stable(&self) -> Offset {
        self.first_unstable.map_or(self.high_watermark, |first| {
            first.max(self.meta.log_start).min(self.high_watermark)
        })
    }

    fn state(&self) -> PartitionState {
        PartitionState {
            log_start: self.meta.log_start,
            high_watermark: self.high_watermark,
            last_stable: self.last_stable(),
            last_append_ms: self.meta.last_append_ms,
            stored_bytes: self.meta.stored_bytes,
        }
    }
}

struct PartitionEntry<P> {
    id: PartitionId,
    store: P,
    /// Serialises writers of this partition. std Mutex: held only around synchronous backend
    /// calls, never across an `.await`.
    tail: Mutex<Tail>,
    /// Idempotent producers' state; locked only while `tail` is held.
    producers: Mutex<HashMap<i64, ProducerState>>,
    /// Aborted transactions by marker offset; locked only while `tail` is held.
    aborted: Mutex<Vec<AbortedTxn>>,
    /// The cleaner's state; held for a whole compaction pass.
    cleaner: tokio::sync::Mutex<compact::CleanerState>,
}

impl<P> PartitionEntry<P> {
    /// A partition whose persisted state is `meta`; all of it is durable, so readable.
    fn new(hub: &HubName, index: u32, store: P, meta: PartitionMeta) -> Arc<Self> {
        Arc::new(Self {
            id: PartitionId::new(hub.clone(), index),
            store,
            tail: Mutex::new(Tail {
                meta,
                high_watermark: meta.next_offset,
                first_unstable: None,
            }),
            producers: Mutex::new(HashMap::new()),
            aborted: Mutex::new(Vec::new()),
            cleaner: tokio::sync::Mutex::default(),
        })
    }

    /// Loads the persisted producers and aborted index and derives the open transactions.
    fn restore(&self) -> Result<()>
    where
        P: PartitionStore,
    {
        let mut tail = lock(&self.tail);
        let mut producers = lock(&self.producers);
        producers.extend(self.store.producers()?);
        tail.first_unstable = first_unstable(&producers);
        *lock(&self.aborted) = self.store.aborted()?;
        Ok(())
    }
}

/// The first offset of the oldest open transaction among `producers`.
fn first_unstable(producers: &HashMap<i64, ProducerState>) -> Option<Offset> {
    producers.values().filter_map(|p| p.txn_first).min()
}

struct HubEntry<P> {
    info: RwLock<HubInfo>,
    partitions: RwLock<Vec<Arc<PartitionEntry<P>>>>,
    deleted: AtomicBool,
}

impl<P> HubEntry<P> {
    fn new(info: HubInfo, partitions: Vec<(P, PartitionMeta)>) -> Arc<Self> {
        let partitions = partitions
            .into_iter()
            .enumerate()
            .map(|(index, (store, meta))| {
                PartitionEntry::new(&info.name, index as u32, store, meta)
            })
            .collect();
        Arc::new(Self {
            info: RwLock::new(info),
            partitions: RwLock::new(partitions),
            deleted: AtomicBool::new(false),
        })
    }
}

type HubRef<P> = Arc<HubEntry<P>>;
type PartitionRef<P> = Arc<PartitionEntry<P>>;
/// A partition with the hub it belongs to.
type Located<P> = (HubRef<P>, PartitionRef<P>);
type Committed = BTreeMap<(String, PartitionId), CommittedOffset>;
/// An append's outcome and its group-commit ticket, before durability is waited for.
type Issued = (Appended, Option<u64>);

/// A [`Log`] and [`GroupOffsets`] implementation over a [`Backend`].
pub(crate) struct Engine<B: Backend> {
    backend: Arc<B>,
    hubs: RwLock<BTreeMap<HubName, Arc<HubEntry<B::Partition>>>>,
    committed: RwLock<Committed>,
    /// Transaction coordinator state by transactional id.
    txns: RwLock<BTreeMap<String, TxnRecord>>,
    /// Serialises hub creation, deletion and updates.
    admin: Mutex<()>,
    watermarks: Watermarks,
    durability: Durability,
    /// Present when the backend persists; relaxed mode uses it for backpressure only.
    group_commit: Option<GroupCommit>,
    limits: Limits,
    /// Read (or created) once at open.
    cluster_id: String,
}

impl<B: Backend> std::fmt::Debug for Engine<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("backend", &self.backend)
            .field("group_commit", &self.group_commit)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Engine<B> {
    /// Loads everything the backend holds and starts group commit when `durability` asks for it
    /// and the backend is durable.
    pub(crate) fn open(backend: B, durability: Durability) -> Result<Self> {
        let backend = Arc::new(backend);
        let (loaded, offsets) = backend.load()?;
        let mut hubs = BTreeMap::new();
        for hub in loaded {
            let entry = HubEntry::new(hub.info, hub.partitions);
            for partition in read(&entry.partitions).iter() {
                partition.restore()?;
            }
            let name = read(&entry.info).name.clone();
            hubs.insert(name, entry);
        }
        let committed = offsets
            .into_iter()
            .map(|(group, partition, offset)| ((group, partition), offset))
            .collect();
        let txns = backend.load_txns()?.into_iter().collect();
        let cluster_id = backend.cluster_id()?;
        let group_commit = if backend.durable() {
            let syncer = Arc::clone(&backend);
            Some(GroupCommit::start(Box::new(move || syncer.sync()))?)
        } else {
            None
        };
        Ok(Self {
            backend,
            hubs: RwLock::new(hubs),
            committed: RwLock::new(committed),
            txns: RwLock::new(txns),
            admin: Mutex::new(()),
            watermarks: Watermarks::default(),
            durability,
            group_commit,
            limits: Limits {
                max_batch_bytes: usize::MAX,
                ..Limits::default()
            },
            cluster_id,
        })
    }

    fn hub_entry(&self, name: &HubName) -> Result<Arc<HubEntry<B::Partition>>> {
        read(&self.hubs)
            .get(name)
            .cloned()
            .ok_or_else(|| Error::NoSuchHub(name.to_string()))
    }

    fn partition_entry(&self, id: &PartitionId) -> Result<Located<B::Partition>> {
        let hub = self.hub_entry(&id.hub)?;
        let partition = read(&hub.partitions)
            .get(id.index as usize)
            .cloned()
            .ok_or_else(|| Error::NoSuchPartition {
                hub: id.hub.to_string(),
                partition: id.index,
            })?;
        Ok((hub, partition))
    }

    /// The group commit to wait on before acknowledging, under strict durability.
    fn strict_commit(&self) -> Option<&GroupCommit> {
        self.group_commit
            .as_ref()
            .filter(|_| self.durability == Durability::Strict)
    }

    /// Waits for a sync under strict durability; returns at once otherwise.
    async fn durable(&self) -> Result<()> {
        match self.strict_commit() {
            Some(gc) => gc.sync_all().await,
            None => Ok(()),
        }
    }

    /// Visits the readable records (offsets in `[log_start, high_watermark)`) from the batch
    /// holding `start` on, in offset order, decoding only the batches `wanted` accepts, until
    /// `visit` breaks.
    fn visit_records(
        &self,
        partition: &PartitionEntry<B::Partition>,
        start: Offset,
        tail: &Tail,
        wanted: impl Fn(&RecordBatch) -> bool,
        mut visit: impl FnMut(&Record) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut from = start.max(tail.meta.log_start);
        while from < tail.high_watermark {
            let batches = partition
                .store
                .read(from, tail.high_watermark, TIME_SCAN_BYTES)?;
            let Some(last) = batches.last() else {
                break;
            };
            from = last.last_offset() + 1;
            for batch in batches.iter().filter(|b| wanted(b)) {
                for record in batch.records(&self.limits)? {
                    if record.offset >= tail.meta.log_start
                        && record.offset < tail.high_watermark
                        && visit(&record).is_break()
                    {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// The first readable record from `start` on whose timestamp `matches`, looking only at
    /// batches whose max timestamp reaches `min_timestamp`.
    fn first_record(
        &self,
        partition: &PartitionEntry<B::Partition>,
        start: Offset,
        tail: &Tail,
        min_timestamp: i64,
        matches: impl Fn(i64) -> bool,
    ) -> Result<Option<TimestampOffset>> {
        let mut found = None;
        self.visit_records(
            partition,
            start,
            tail,
            |b| b.header().max_timestamp >= min_timestamp,
            |r| {
                if matches(r.timestamp) {
                    found = Some(TimestampOffset {
                        offset: r.offset,
                        timestamp: r.timestamp,
                    });
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            },
        )?;
        Ok(found)
    }

    /// The first readable record with the largest timestamp, by a scan of every readable
    /// batch that could beat the best so far.
    fn scan_max(
        &self,
        partition: &PartitionEntry<B::Partition>,
        tail: &Tail,
    ) -> Result<Option<TimestampOffset>> {
        let best: std::cell::Cell<Option<TimestampOffset>> = std::cell::Cell::new(None);
        self.visit_records(
            partition,
            tail.meta.log_start,
            tail,
            |b| {
                best.get()
                    .is_none_or(|t| b.header().max_timestamp > t.timestamp)
            },
            |r| {
                if best.get().is_none_or(|t| r.timestamp > t.timestamp) {
                    best.set(Some(TimestampOffset {
                        offset: r.offset,
                        timestamp: r.timestamp,
                    }));
                }
                ControlFlow::Continue(())
            },
        )?;
        Ok(best.get())
    }

    /// Moves a partition's log start to `new_start` (never backwards) and frees what lies
    /// wholly below it.
    fn truncate(
        &self,
        partition: &PartitionEntry<B::Partition>,
        new_start: Offset,
    ) -> Result<(Offset, RetentionReport)> {
        let mut tail = lock(&partition.tail);
        if new_start <= tail.meta.log_start {
            return Ok((tail.meta.log_start, RetentionReport::default()));
        }
        let mut meta = tail.meta;
        meta.log_start = new_start.min(tail.high_watermark);
        let report = partition.store.truncate_front(&mut meta)?;
        tail.meta = meta;
        lock(&partition.aborted).retain(|a| a.last_offset >= meta.log_start);
        Ok((meta.log_start, report))
    }

    /// Writes `batch` (offsets assigned) at the partition's tail, with the producer state and
    /// aborted-index entry that go with it, in one backend write; updates the meta and takes
    /// a group-commit ticket. Called with the tail locked.
    fn write_locked(
        &self,
        partition: &PartitionEntry<B::Partition>,
        tail: &mut Tail,
        batch: &RecordBatch,
        now: i64,
        producer: Option<(i64, &ProducerState)>,
        aborted: Option<&AbortedTxn>,
    ) -> Result<Option<u64>> {
        if let Some(gc) = &self.group_commit {
            gc.check_writable()?;
        }
        let mut meta = tail.meta;
        meta.next_offset = batch.last_offset() + 1;
        meta.stored_bytes += batch.len() as u64;
        meta.last_append_ms = Some(now);
        let max_ts = batch.header().max_timestamp;
        let time_entry = (max_ts > meta.max_timestamp).then_some(max_ts);
        meta.max_timestamp = meta.max_timestamp.max(max_ts);
        partition
            .store
            .append(batch, &meta, time_entry, producer, aborted)?;
        tail.meta = meta;
        // Taken under the lock, so tickets follow offset order.
        let ticket = self
            .group_commit
            .as_ref()
            .map(|gc| gc.ticket(batch.len() as u64));
        if self.strict_commit().is_none() {
            tail.high_watermark = meta.next_offset;
        }
        Ok(ticket)
    }

    /// Waits for an issued append to be durable as the log's durability asks, moves the high
    /// watermark past it and wakes readers.
    async fn settle(
        &self,
        id: &PartitionId,
        partition: &PartitionEntry<B::Partition>,
        (appended, ticket): Issued,
    ) -> Result<Appended> {
        if appended.duplicate {
            // The original may still be waiting for its sync.
            self.durable().await?;
            return Ok(appended);
        }
        if let (Some(gc), Some(ticket)) = (&self.group_commit, ticket) {
            if self.durability == Durability::Strict {
                gc.wait(ticket).await?;
                let mut tail = lock(&partition.tail);
                // Every append before this one (in offset order) is covered by the same sync.
                tail.high_watermark = tail.high_watermark.max(appended.last_offset + 1);
            } else {
                let unsynced = gc.unsynced();
                if unsynced > RELAXED_UNSYNCED_LIMIT {
                    gc.wait(ticket).await?;
                } else if unsynced > RELAXED_SYNC_AFTER {
                    gc.request(ticket);
                }
            }
        }
        self.watermarks.publish(id, appended.last_offset + 1);
        Ok(appended)
    }

    /// Where retention moves a partition's log start, or `None` if nothing expires.
    fn retention_point(
        partition: &PartitionEntry<B::Partition>,
        config: &HubConfig,
        now_ms: i64,
    ) -> Result<Option<Offset>> {
        let tail = *lock(&partition.tail);
        // Never past the oldest open transaction: its data must stay until it ends.
        let limit = tail.last_stable();
        let cutoff = config
            .retention
            .map(|r| now_ms.saturating_sub(r.as_millis() as i64));
        let mut remaining = tail.meta.stored_bytes;
        let mut new_start = None;
        let mut from = tail.meta.log_start;
        'scan: while from < tail.high_watermark {
            let summaries: Vec<BatchSummary> = partition.store.summaries(from, RETENTION_STEP)?;
            if summaries.is_empty() {
                break;
            }
            for s in summaries {
                if s.last >= limit {
                    break 'scan;
                }
                let expired = cutoff.is_some_and(|c| s.max_timestamp < c);
                let oversized = config.retention_bytes.is_some_and(|max| remaining > max);
                if !(expired || oversized) {
                    break 'scan;
                }
                remaining = remaining.saturating_sub(s.len);
                new_start = Some(s.last + 1);
                from = s.last + 1;
            }
        }
        Ok(new_start)
    }
}

#[async_trait]
impl<B: Backend> Log for Engine<B> {
    fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    fn capabilities(&self) -> Capabilities {
        // What the engine implements, the same over every backend.
        Capabilities {
            contiguous_offsets: true,
            delete_records: true,
            compaction: true,
            transactions: true,
            shared: false,
            durable: self.backend.durable(),
        }
    }

    async fn create_hub(&self, name: &HubName, config: HubConfig) -> Result<HubInfo> {
        config.validate()?;
        let info = {
            let _admin = lock(&self.admin);
            if read(&self.hubs).contains_key(name) {
                return Err(Error::HubExists(name.to_string()));
            }
            let stores = self.backend.create_partitions(name, 0, config.partitions)?;
            let info = HubInfo {
                name: name.clone(),
                config,
                created_at_ms: now_ms(),
            };
            self.backend.save_hub(&info)?;
            let partitions = stores
                .into_iter()
                .map(|store| (store, PartitionMeta::default()))
                .collect();
            write(&self.hubs).insert(name.clone(), HubEntry::new(info.clone(), partitions));
            info
        };
        self.durable().await?;
        Ok(info)
    }

    async fn delete_hub(&self, name: &HubName) -> Result<()> {
        {
            let _admin = lock(&self.admin);
            let hub = self.hub_entry(name)?;
            hub.deleted.store(true, Ordering::SeqCst);
            // Wait for in-flight appends: they hold the partition lock while writing.
            for partition in read(&hub.partitions).iter() {
                drop(lock(&partition.tail));
            }
            let info = read(&hub.info).clone();
            self.backend.remove_hub(&info)?;
            write(&self.hubs).remove(name);
            let stale: Vec<(String, PartitionId)> = read(&self.committed)
                .keys()
                .filter(|(_, p)| &p.hub == name)
                .cloned()
                .collect();
            self.backend.remove_offsets(&stale)?;
            let mut committed = write(&self.committed);
            for key in &stale {
                committed.remove(key);
            }
        }
        self.watermarks.remove_hub(name);
        self.durable().await
    }

    async fn hub(&self, name: &HubName) -> Result<HubInfo> {
        let hub = self.hub_entry(name)?;
        let info = read(&hub.info).clone();
        Ok(info)
    }

    async fn hubs(&self) -> Result<Vec<HubInfo>> {
        let hubs = read(&self.hubs);
        Ok(hubs.values().map(|h| read(&h.info).clone()).collect())
    }

    async fn update_hub(&self, name: &HubName, update: HubUpdate) -> Result<HubInfo> {
        let info = {
            let _admin = lock(&self.admin);
            let hub = self.hub_entry(name)?;
            let current = read(&hub.info).clone();
            let config = update.apply(&current.config)?;
            let added = if config.partitions > current.config.partitions {
                self.backend.create_partitions(
                    name,
                    current.config.partitions,
                    config.partitions,
                )?
            } else {
                Vec::new()
            };
            let info = HubInfo { config, ..current };
            self.backend.save_hub(&info)?;
            let mut partitions = write(&hub.partitions);
            for store in added {
                let index = partitions.len() as u32;
                partitions.push(PartitionEntry::new(
                    name,
                    index,
                    store,
                    PartitionMeta::default(),
                ));
            }
            *write(&hub.info) = info.clone();
            info
        };
        self.durable().await?;
        Ok(info)
    }

    async fn append(&self, id: &PartitionId, mut batch: RecordBatch) -> Result<Appended> {
        let (hub, partition) = self.partition_entry(id)?;
        let config = read(&hub.info).config.clone();
        if batch.len() > config.max_message_bytes as usize {
            return Err(Error::MessageTooLarge {
                size: batch.len(),
                limit: config.max_message_bytes as usize,
            });
        }
        if batch.header().record_count == 0 {
            return Err(crate::batch::CodecError::Inconsistent("a batch must hold records").into());
        }
        let header = *batch.header();
        if header.is_control() {
            return Err(Error::ControlBatch);
        }
        if header.is_transactional() && !header.is_idempotent() {
            return Err(Error::InvalidTxnState {
                producer_id: header.producer_id,
                reason: "a transactional batch needs a producer id",
            });
        }
        let now = now_ms();
        let log_append_time =
            (config.timestamp_policy == TimestampPolicy::LogAppendTime).then_some(now);
        let issued: Issued = 'locked: {
            let mut tail = lock(&partition.tail);
            if hub.deleted.load(Ordering::SeqCst) {
                return Err(Error::NoSuchHub(id.hub.to_string()));
            }
            let mut producers = header.is_idempotent().then(|| lock(&partition.producers));
            let previous = producers
                .as_ref()
                .and_then(|p| p.get(&header.producer_id).cloned());
            if producers.is_some()
                && let SequenceCheck::Duplicate(stored) =
                    producer::check(previous.as_ref(), &header)?
            {
                let appended = Appended {
                    base_offset: stored.base_offset,
                    last_offset: stored.last_offset,
                    log_append_time: (stored.log_append_time != i64::MIN)
                        .then_some(stored.log_append_time),
                    log_start: tail.meta.log_start,
                    duplicate: true,
                };
                break 'locked (appended, None);
            }
            let open_txn = previous.as_ref().and_then(|p| p.txn_first);
            if open_txn.is_some()
                && !header.is_transactional()
                && previous
                    .as_ref()
                    .is_some_and(|p| p.epoch == header.producer_epoch)
            {
                return Err(Error::InvalidTxnState {
                    producer_id: header.producer_id,
                    reason: "a non-transactional batch while the producer's transaction is open",
                });
            }
            let base = tail.meta.next_offset;
            batch.assign(base, 0);
            if let Some(ts) = log_append_time {
                batch.stamp_log_append_time(ts);
            }
            let producer_state = producers.is_some().then(|| {
                let mut state = producer::advance(
                    previous.as_ref(),
                    header.producer_epoch,
                    SequencedBatch {
                        first_sequence: header.base_sequence,
                        last_sequence: producer::last_sequence(
                            header.base_sequence,
                            header.last_offset_delta,
                        ),
                        base_offset: base,
                        last_offset: batch.last_offset(),
                        log_append_time: log_append_time.unwrap_or(i64::MIN),
                    },
                );
                if header.is_transactional() {
                    state.txn_first = Some(open_txn.unwrap_or(base));
                }
                state
            });
            let written = producer_state.as_ref().map(|s| (header.producer_id, s));
            let ticket = self.write_locked(&partition, &mut tail, &batch, now, written, None)?;
            if let (Some(producers), Some(state)) = (producers.as_mut(), producer_state) {
                producers.insert(header.producer_id, state);
                if header.is_transactional() {
                    tail.first_unstable = first_unstable(producers);
                }
            }
            drop(producers);
            let appended = Appended {
                base_offset: base,
                last_offset: batch.last_offset(),
                log_append_time,
                log_start: tail.meta.log_start,
                duplicate: false,
            };
            (appended, ticket)
        };
        self.settle(id, &partition, issued).await
    }

    async fn read(&self, id: &PartitionId, from: Offset, max_bytes: usize) -> Result<ReadBatches> {
        let (_, partition) = self.partition_entry(id)?;
        let tail = *lock(&partition.tail);
        if from < tail.meta.log_start || from > tail.high_watermark {
            return Err(Error::OffsetOutOfRange {
                requested: from,
                log_start: tail.meta.log_start,
                high_watermark: tail.high_watermark,
            });
        }
        let batches = if from == tail.high_watermark {
            Vec::new()
        } else {
            partition.store.read(from, tail.high_watermark, max_bytes)?
        };
        Ok(ReadBatches {
            batches,
            state: tail.state(),
        })
    }

    async fn partition(&self, id: &PartitionId) -> Result<PartitionState> {
        let (_, partition) = self.partition_entry(id)?;
        let state = lock(&partition.tail).state();
        Ok(state)
    }

    async fn offset_for_timestamp(
        &self,
        id: &PartitionId,
        query: TimeQuery,
    ) -> Result<Option<TimestampOffset>> {
        let (_, partition) = self.partition_entry(id)?;
        let tail = *lock(&partition.tail);
        if tail.meta.log_start >= tail.high_watermark {
            return Ok(None);
        }
        match query {
            TimeQuery::AtOrAfter(ts) => {
                let Some(base) = partition.store.time_seek(TimeSeek::AtOrAfter(ts))? else {
                    return Ok(None);
                };
                self.first_record(&partition, base, &tail, ts, |t| t >= ts)
            }
            TimeQuery::Max => {
                // Fast path: the time index points at the batch where the overall max was
                // reached; it answers unless deletion took that record away.
                let max = tail.meta.max_timestamp;
                if let Some(base) = partition.store.time_seek(TimeSeek::Max)?
                    && let Some(found) =
                        self.first_record(&partition, base, &tail, max, |t| t == max)?
                {
                    return Ok(Some(found));
                }
                self.scan_max(&partition, &tail)
            }
        }
    }

    async fn delete_records(&self, id: &PartitionId, before: Offset) -> Result<Offset> {
        let (_, partition) = self.partition_entry(id)?;
        let tail = *lock(&partition.tail);
        if before < 0 || before > tail.high_watermark {
            return Err(Error::OffsetOutOfRange {
                requested: before,
                log_start: tail.meta.log_start,
                high_watermark: tail.high_watermark,
            });
        }
        let (start, _) = self.truncate(&partition, before)?;
        self.durable().await?;
        Ok(start)
    }

    async fn wait_for(
        &self,
        id: &PartitionId,
        offset: Offset,
        deadline: Instant,
    ) -> Result<PartitionState> {
        self.wait_until(id, deadline, |state| state.high_watermark > offset)
            .await
    }

    async fn new_producer_id(&self) -> Result<i64> {
        let backend = Arc::clone(&self.backend);
        tokio::task::spawn_blocking(move || backend.next_producer_id())
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))?
    }

    async fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport> {
        let hubs: Vec<_> = read(&self.hubs).values().cloned().collect();
        let mut total = RetentionReport::default();
        for hub in hubs {
            let config = read(&hub.info).config.clone();
            if config.cleanup_policy == CleanupPolicy::Compact
                || (config.retention.is_none() && config.retention_bytes.is_none())
            {
                continue;
            }
            let partitions = read(&hub.partitions).clone();
            for partition in partitions {
                if let Some(new_start) = Self::retention_point(&partition, &config, now_ms)? {
                    let (start, report) = self.truncate(&partition, new_start)?;
                    if report.batches > 0 {
                        tracing::debug!(partition = %partition.id, log_start = start,
                            batches = report.batches, bytes = report.bytes, "retention");
                    }
                    total.batches += report.batches;
                    total.bytes += report.bytes;
                }
            }
        }
        if total.batches > 0 {
            self.durable().await?;
        }
        Ok(total)
    }

    async fn compact(&self, now_ms: i64) -> Result<crate::compaction::CompactionReport> {
        self.compact_all(now_ms).await
    }

    async fn cleaner_status(&self) -> Result<Vec<crate::compaction::CleanerStatus>> {
        Ok(self.cleaner_statuses().await)
    }

    async fn flush(&self) -> Result<()> {
        match &self.group_commit {
            Some(gc) => gc.sync_all().await,
            None => {
                let backend = Arc::clone(&self.backend);
                tokio::task::spawn_blocking(move || backend.sync())
                    .await
                    .map_err(|e| Error::Io(std::io::Error::other(e)))?
            }
        }
    }
}

#[async_trait]
impl<B: Backend> GroupOffsets for Engine<B> {
    async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[(PartitionId, CommittedOffset)],
    ) -> Result<()> {
        for (partition, _) in offsets {
            self.partition_entry(partition)?;
        }
        {
            // Writers of the committed map are serialised so the backend write and the map
            // update happen in the same order.
            let mut committed = write(&self.committed);
            self.backend.save_offsets(group, offsets)?;
            for (partition, offset) in offsets {
                committed.insert((group.to_owned(), partition.clone()), offset.clone());
            }
        }
        self.durable().await
    }

    async fn committed_offsets(&self, group: &str) -> Result<Vec<(PartitionId, CommittedOffset)>> {
        let committed = read(&self.committed);
        Ok(of_group(&committed, group)
            .map(|((_, p), o)| (p.clone(), o.clone()))
            .collect())
    }

    async fn offset_groups(&self) -> Result<Vec<String>> {
        let committed = read(&self.committed);
        let mut groups: Vec<String> = committed.keys().map(|(g, _)| g.clone()).collect();
        groups.dedup();
        Ok(groups)
    }

    async fn delete_group_offsets(&self, group: &str) -> Result<()> {
        self.forget_offsets(group, |_| true).await
    }

    async fn delete_offsets(&self, group: &str, partitions: &[PartitionId]) -> Result<()> {
        self.forget_offsets(group, |p| partitions.contains(p)).await
    }
}

/// The group's entries of the committed map: one range of the map, not a scan of every group's.
fn of_group<'a>(
    committed: &'a Committed,
    group: &'a str,
) -> impl Iterator<Item = (&'a (String, PartitionId), &'a CommittedOffset)> + 'a {
    let first = (group.to_owned(), PartitionId::new(HubName::lowest(), 0));
    committed
        .range(first..)
        .take_while(move |((g, _), _)| g == group)
}

impl<B: Backend> Engine<B> {
    /// Waits until `reached` holds for the partition's state, or until `deadline`, and returns
    /// the state then; woken by every append and marker of the partition (readers never poll).
    pub(crate) async fn wait_until(
        &self,
        id: &PartitionId,
        deadline: Instant,
        reached: impl Fn(&PartitionState) -> bool + Send,
    ) -> Result<PartitionState> {
        let mut watermark = self.watermarks.subscribe(id);
        loop {
            let state = self.partition(id).await?;
            if reached(&state) {
                return Ok(state);
            }
            match tokio::time::timeout_at(deadline, watermark.changed()).await {
                Ok(Ok(())) => {}
                // Deadline passed, or the hub was deleted (the next lookup reports it).
                Err(_) | Ok(Err(_)) => return self.partition(id).await,
            }
        }
    }

    /// Removes the group's offsets for the partitions `which` selects, durably.
    async fn forget_offsets(
        &self,
        group: &str,
        which: impl Fn(&PartitionId) -> bool,
    ) -> Result<()> {
        {
            let mut committed = write(&self.committed);
            let keys: Vec<_> = of_group(&committed, group)
                .filter(|((_, p), _)| which(p))
                .map(|(key, _)| key.clone())
                .collect();
            self.backend.remove_offsets(&keys)?;
            for key in &keys {
                committed.remove(key);
            }
        }
        self.durable().await
    }
}

#[cfg(test)]
mod fail_stop_tests {
    use super::*;
    use crate::batch::EncodeOptions;
    use crate::memory::MemoryBackend;
    use std::sync::atomic::AtomicBool;

    fn batch(value: &'static str) -> RecordBatch {
        let record = Record {
            offset: 0,
            timestamp: 1_000,
            key: None,
            value: Some(bytes::Bytes::from_static(value.as_bytes())),
            headers: Vec::new(),
        };
        RecordBatch::encode(&[record], &EncodeOptions::default()).unwrap()
    }

    #[tokio::test]
    async fn a_failed_sync_hides_its_record_and_stops_writes_but_not_reads() {
        let fault = Arc::new(AtomicBool::new(false));
        let mut backend = MemoryBackend::default();
        backend.sync_fault = Some(Arc::clone(&fault));
        let log = Engine::open(backend, Durability::Strict).unwrap();
        let hub = HubName::new("orders").unwrap();
        log.create_hub(&hub, HubConfig::default()).await.unwrap();
        let id = PartitionId::new(hub, 0);
        log.append(&id, batch("acknowledged")).await.unwrap();

        fault.store(true, Ordering::SeqCst);
        let failed = log.append(&id, batch("sync failed")).await;
        assert!(matches!(failed, Err(Error::StorageFailed(_))), "{failed:?}");
        // The disk recovers, but the log stays stopped until restart.
        fault.store(false, Ordering::SeqCst);
        let refused = log.append(&id, batch("after the failure")).await;
        assert!(
            matches!(refused, Err(Error::StorageFailed(_))),
            "{refused:?}"
        );

        let read = log.read(&id, 0, 1 << 20).await.unwrap();
        assert_eq!(
            read.state.high_watermark, 1,
            "only the synced record is visible"
        );
        let values: Vec<_> = read
            .batches
            .iter()
            .flat_map(|b| b.records(&Limits::default()).unwrap())
            .filter(|r| r.offset < read.state.high_watermark)
            .map(|r| r.value.unwrap())
            .collect();
        assert_eq!(values, vec![bytes::Bytes::from_static(b"acknowledged")]);
    }
}
