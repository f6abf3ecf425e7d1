//! The cleaner's pass over one partition (Kafka's `LogCleaner`, without segment files).
//!
//! 1. **Plan**: the cleanable range is the longest prefix `[log_start, end)` of batches that
//!    lie below the last stable offset, are not the newest batch, have rolled out of the
//!    active head (older than `min(segment_ms, max_compaction_lag_ms)` by max timestamp, or
//!    followed by at least `segment_bytes` bytes) and are older than `min_compaction_lag_ms`.
//!    A pass runs when the dirty part (written since the last pass) is at least
//!    `min_cleanable_dirty_ratio` of that range, when a dirty batch is older than
//!    `max_compaction_lag_ms`, or when a tombstone or marker the last pass kept has expired.
//! 2. **Key map**: key → latest offset over the range, skipping control batches, aborted
//!    transactions and keyless records (bounded by [`KEY_MAP_BYTES`]; a range that needs more
//!    is shortened).
//! 3. **Filter**, in offset order: aborted transactional batches go; a record stays if it is
//!    its key's latest and has a value or is a tombstone younger than `delete_retention_ms`;
//!    keyless records go (as in Kafka); a transaction marker stays while data of its
//!    transaction stays, then until `delete_retention_ms` after its timestamp. A batch that
//!    keeps everything is left as it is, one that keeps nothing is removed, the others are
//!    rebuilt at the same base offset with the same producer metadata
//!    ([`RecordBatch::retain`]).
//! 4. **Write**: changes go to the backend in groups of at most [`WRITE_BYTES`], each one
//!    atomic write under the partition lock (held only for that write, so appends wait at most
//!    one group), checked against the log start first so retention running meanwhile wins.
//!    A crash between groups leaves each batch either as it was or compacted: offsets never
//!    change and no live record is lost or duplicated.

use std::collections::HashMap;

use bytes::Bytes;

use super::backend::{BatchSummary, PartitionStore};
use super::{Engine, HubEntry, PartitionEntry, Tail, lock, read};
use crate::batch::{BatchHeader, RecordBatch};
use crate::compaction::{CleanerStatus, CompactionConfig, CompactionReport};
use crate::engine::backend::Backend;
use crate::error::Result;
use crate::record::Offset;
use crate::txn::AbortedTxn;

/// Most bytes of keys (plus per-entry overhead) a pass holds in its key map.
const KEY_MAP_BYTES: usize = 64 << 20;
/// Per-entry overhead counted against [`KEY_MAP_BYTES`].
const KEY_ENTRY_OVERHEAD: usize = 48;
/// Bytes read per step.
const SCAN_BYTES: usize = 1 << 20;
/// Bytes of rewritten batches per atomic write.
const WRITE_BYTES: usize = 1 << 20;
/// Batches changed per atomic write.
const WRITE_BATCHES: usize = 256;
/// Batch summaries fetched per planning step.
const PLAN_STEP: usize = 512;

/// One change of the cleaner to a stored batch.
#[derive(Debug, Clone)]
pub(crate) enum Rewrite {
    /// The batch goes whole.
    Remove(BatchSummary),
    /// The batch is replaced by a smaller one at the same base offset.
    Replace(BatchSummary, RecordBatch),
}

impl Rewrite {
    /// The batch as stored before the change.
    pub(crate) fn old(&self) -> &BatchSummary {
        match self {
            Self::Remove(old) | Self::Replace(old, _) => old,
        }
    }

    fn freed(&self) -> u64 {
        match self {
            Self::Remove(old) => old.len,
            Self::Replace(old, new) => old.len.saturating_sub(new.len() as u64),
        }
    }
}

/// What the cleaner remembers about a partition between passes (in memory: after a restart
/// everything counts as dirty, so the first pass cleans it all again, which is harmless).
#[derive(Debug, Clone, Default)]
pub(super) struct CleanerState {
    /// Offsets below this were covered by the last pass.
    first_dirty: Offset,
    /// When the earliest tombstone or marker kept by the last pass expires.
    next_expiry: Option<i64>,
    /// Totals removed since start.
    removed: CompactionReport,
    /// From the last plan.
    dirty_ratio: f64,
    lag_ms: i64,
}

/// The cleanable range of a partition.
struct Plan {
    end: Offset,
    clean_bytes: u64,
    dirty_bytes: u64,
    oldest_dirty: Option<i64>,
}

/// Finds the cleanable range `[log_start, end)`.
fn plan<P: PartitionStore>(
    store: &P,
    tail: &Tail,
    config: &CompactionConfig,
    first_dirty: Offset,
    now: i64,
) -> Result<Plan> {
    let upper = tail.last_stable();
    let roll_ms = config.segment_ms.min(config.max_compaction_lag_ms) as i64;
    let roll_cut = now.saturating_sub(roll_ms);
    let lag_cut = now.saturating_sub(config.min_compaction_lag_ms as i64);
    let mut remaining = tail.meta.stored_bytes;
    let mut plan = Plan {
        end: tail.meta.log_start,
        clean_bytes: 0,
        dirty_bytes: 0,
        oldest_dirty: None,
    };
    let mut from = tail.meta.log_start;
    'scan: loop {
        let summaries = store.summaries(from, PLAN_STEP)?;
        if summaries.is_empty() {
            break;
        }
        for s in summaries {
            let newest = s.last + 1 >= tail.meta.next_offset;
            let after = remaining.saturating_sub(s.len);
            let rolled = s.max_timestamp <= roll_cut || after >= config.segment_bytes;
            if newest || s.last >= upper || !rolled || s.max_timestamp > lag_cut {
                break 'scan;
            }
            if s.base >= first_dirty {
                plan.dirty_bytes += s.len;
                plan.oldest_dirty = Some(
                    plan.oldest_dirty
                        .map_or(s.max_timestamp, |o| o.min(s.max_timestamp)),
                );
            } else {
                plan.clean_bytes += s.len;
            }
            remaining = after;
            plan.end = s.last + 1;
            from = s.last + 1;
        }
    }
    Ok(plan)
}

/// Whether `header` is a data batch of a transaction the aborted index names.
fn aborted(header: &BatchHeader, index: &[AbortedTxn]) -> bool {
    header.is_transactional()
        && !header.is_control()
        && index.iter().any(|a| {
            a.producer_id == header.producer_id
                && a.first_offset <= header.base_offset
                && header.base_offset < a.last_offset
        })
}

fn earliest(current: &mut Option<i64>, candidate: i64) {
    *current = Some(current.map_or(candidate, |c| c.min(candidate)));
}

impl<B: Backend> Engine<B> {
    /// One cleaner round over every compacted hub.
    pub(super) async fn compact_all(&self, now: i64) -> Result<CompactionReport> {
        let hubs: Vec<_> = read(&self.hubs).values().cloned().collect();
        let mut total = CompactionReport::default();
        for hub in hubs {
            let config = read(&hub.info).config.clone();
            if !config.compacted() {
                continue;
            }
            let partitions = read(&hub.partitions).clone();
            for partition in partitions {
                let report = self
                    .compact_partition(&hub, &partition, &config.compaction, now)
                    .await?;
                total.add(&report);
                tokio::task::yield_now().await;
            }
        }
        Ok(total)
    }

    /// The cleaner's view of every partition of every compacted hub.
    pub(super) async fn cleaner_statuses(&self) -> Vec<CleanerStatus> {
        let hubs: Vec<_> = read(&self.hubs).values().cloned().collect();
        let mut out = Vec::new();
        for hub in hubs {
            if !read(&hub.info).config.compacted() {
                continue;
            }
            let partitions = read(&hub.partitions).clone();
            for partition in partitions {
                let state = partition.cleaner.lock().await.clone();
                out.push(CleanerStatus {
                    partition: partition.id.clone(),
                    dirty_ratio: state.dirty_ratio,
                    lag_ms: state.lag_ms,
                    removed: state.removed,
                });
            }
        }
        out
    }

    /// Plans and, when due, runs a pass over one partition.
    async fn compact_partition(
        &self,
        hub: &HubEntry<B::Partition>,
        partition: &PartitionEntry<B::Partition>,
        config: &CompactionConfig,
        now: i64,
    ) -> Result<CompactionReport> {
        // Held for the whole pass: one pass per partition at a time.
        let mut state = partition.cleaner.lock().await;
        let tail = *lock(&partition.tail);
        let plan = plan(&partition.store, &tail, config, state.first_dirty, now)?;
        let cleanable = plan.clean_bytes + plan.dirty_bytes;
        state.dirty_ratio = if cleanable == 0 {
            0.0
        } else {
            plan.dirty_bytes as f64 / cleanable as f64
        };
        state.lag_ms = plan
            .oldest_dirty
            .map_or(0, |t| now.saturating_sub(t).max(0));
        let ratio_reached =
            plan.dirty_bytes > 0 && state.dirty_ratio >= config.min_cleanable_dirty_ratio.get();
        let overdue = plan
            .oldest_dirty
            .is_some_and(|t| t <= now.saturating_sub(config.max_compaction_lag_ms as i64));
        let expired = state.next_expiry.is_some_and(|t| t <= now);
        if plan.end <= tail.meta.log_start || !(ratio_reached || overdue || expired) {
            return Ok(CompactionReport::default());
        }
        let (report, end, next_expiry) = self.pass(hub, partition, plan.end, config, now).await?;
        state.first_dirty = end;
        state.next_expiry = next_expiry;
        state.removed.add(&report);
        if report.records_removed > 0 {
            tracing::debug!(partition = %partition.id, end, records = report.records_removed,
                bytes = report.bytes_removed, "compacted");
        }
        Ok(report)
    }

    /// Compacts `[log_start, end)`; returns what it did, where it actually stopped and when
    /// the earliest kept tombstone or marker expires.
    async fn pass(
        &self,
        hub: &HubEntry<B::Partition>,
        partition: &PartitionEntry<B::Partition>,
        end: Offset,
        config: &CompactionConfig,
        now: i64,
    ) -> Result<(CompactionReport, Offset, Option<i64>)> {
        let start = lock(&partition.tail).meta.log_start;
        let index: Vec<AbortedTxn> = lock(&partition.aborted).clone();
        let (latest, end) = self.key_map(partition, start, end, &index).await?;

        let retention = config.delete_retention_ms as i64;
        let horizon = now.saturating_sub(retention);
        let mut report = CompactionReport {
            partitions: 1,
            ..CompactionReport::default()
        };
        let mut next_expiry = None;
        // Per producer: whether data of its current transaction was kept.
        let mut txn_kept: HashMap<i64, bool> = HashMap::new();
        let mut changes: Vec<Rewrite> = Vec::new();
        let mut markers_removed: Vec<Offset> = Vec::new();
        let mut group_bytes = 0usize;
        let mut from = start;
        while from < end {
            let batches = partition.store.read(from, end, SCAN_BYTES)?;
            let Some(last) = batches.last() else {
                break;
            };
            from = last.last_offset() + 1;
            for batch in batches {
                let header = *batch.header();
                let summary = BatchSummary::of(&batch);
                if header.is_control() {
                    let kept_data = txn_kept.remove(&header.producer_id).unwrap_or(false);
                    if kept_data || header.max_timestamp >= horizon {
                        if !kept_data {
                            earliest(
                                &mut next_expiry,
                                header.max_timestamp.saturating_add(retention),
                            );
                        }
                        continue;
                    }
                    report.records_removed += header.record_count.max(0) as u64;
                    markers_removed.push(header.base_offset);
                    changes.push(Rewrite::Remove(summary));
                } else if aborted(&header, &index) {
                    report.records_removed += header.record_count.max(0) as u64;
                    changes.push(Rewrite::Remove(summary));
                } else {
                    let records = batch.records(&self.limits)?;
                    let mut kept = Vec::new();
                    for record in &records {
                        let Some(key) = &record.key else {
                            continue;
                        };
                        if latest.get(key) != Some(&record.offset) {
                            continue;
                        }
                        if record.value.is_none() {
                            if record.timestamp < horizon {
                                continue;
                            }
                            earliest(&mut next_expiry, record.timestamp.saturating_add(retention));
                        }
                        kept.push(record.clone());
                    }
                    if header.is_transactional() && !kept.is_empty() {
                        txn_kept.insert(header.producer_id, true);
                    }
                    if kept.len() == records.len() {
                        continue;
                    }
                    report.records_removed += (records.len() - kept.len()) as u64;
                    if kept.is_empty() {
                        changes.push(Rewrite::Remove(summary));
                    } else {
                        let rebuilt = batch.retain(&kept)?;
                        group_bytes += rebuilt.len();
                        changes.push(Rewrite::Replace(summary, rebuilt));
                    }
                }
                if changes.len() >= WRITE_BATCHES || group_bytes >= WRITE_BYTES {
                    if !self.write_changes(
                        hub,
                        partition,
                        &mut changes,
                        &mut markers_removed,
                        &mut report,
                    )? {
                        return Ok((report, end, next_expiry));
                    }
                    group_bytes = 0;
                    tokio::task::yield_now().await;
                }
            }
            tokio::task::yield_now().await;
        }
        self.write_changes(
            hub,
            partition,
            &mut changes,
            &mut markers_removed,
            &mut report,
        )?;
        Ok((report, end, next_expiry))
    }

    /// Key → latest offset over `[start, end)`, and where the map had to stop (at most `end`).
    async fn key_map(
        &self,
        partition: &PartitionEntry<B::Partition>,
        start: Offset,
        mut end: Offset,
        index: &[AbortedTxn],
    ) -> Result<(HashMap<Bytes, Offset>, Offset)> {
        let mut latest: HashMap<Bytes, Offset> = HashMap::new();
        let mut map_bytes = 0usize;
        let mut from = start;
        'scan: while from < end {
            let batches = partition.store.read(from, end, SCAN_BYTES)?;
            let Some(last) = batches.last() else {
                break;
            };
            from = last.last_offset() + 1;
            for batch in batches {
                let header = batch.header();
                if header.is_control() || aborted(header, index) {
                    continue;
                }
                let records = batch.records(&self.limits)?;
                let added: usize = records
                    .iter()
                    .filter_map(|r| r.key.as_ref())
                    .map(|k| k.len() + KEY_ENTRY_OVERHEAD)
                    .sum();
                if map_bytes + added > KEY_MAP_BYTES && !latest.is_empty() {
                    end = batch.base_offset();
                    break 'scan;
                }
                map_bytes += added;
                for record in records {
                    if let Some(key) = record.key {
                        // Copied: a slice would keep the whole batch buffer alive.
                        latest.insert(Bytes::copy_from_slice(&key), record.offset);
                    }
                }
            }
            tokio::task::yield_now().await;
        }
        Ok((latest, end))
    }

    /// Writes one group of changes atomically under the partition lock; `false` when the hub
    /// was deleted meanwhile (the pass stops).
    fn write_changes(
        &self,
        hub: &HubEntry<B::Partition>,
        partition: &PartitionEntry<B::Partition>,
        changes: &mut Vec<Rewrite>,
        markers_removed: &mut Vec<Offset>,
        report: &mut CompactionReport,
    ) -> Result<bool> {
        if changes.is_empty() {
            return Ok(true);
        }
        let mut tail = lock(&partition.tail);
        if hub.deleted.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(false);
        }
        // Retention or record deletion may have freed some of these batches meanwhile.
        let start = tail.meta.log_start;
        changes.retain(|c| c.old().last >= start);
        let mut meta = tail.meta;
        for change in changes.iter() {
            meta.stored_bytes = meta.stored_bytes.saturating_sub(change.freed());
            report.bytes_removed += change.freed();
            match change {
                Rewrite::Remove(_) => report.batches_removed += 1,
                Rewrite::Replace(..) => report.batches_rewritten += 1,
            }
        }
        partition.store.rewrite(changes, markers_removed, &meta)?;
        tail.meta = meta;
        lock(&partition.aborted).retain(|a| !markers_removed.contains(&a.last_offset));
        changes.clear();
        markers_removed.clear();
        Ok(true)
    }
}
