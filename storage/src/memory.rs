//! The in-memory backend (`memory://`): the same engine without persistence, for tests and
//! throwaway gateways.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::batch::RecordBatch;
use crate::engine::Rewrite;
use crate::engine::backend::{
    Backend, BatchSummary, Loaded, PartitionMeta, PartitionStore, TimeSeek,
};
use crate::error::Result;
use crate::hub::{HubInfo, HubName, PartitionId};
use crate::log::{CommittedOffset, RetentionReport};
use crate::producer::ProducerState;
use crate::record::Offset;
use crate::txn::{AbortedTxn, TxnRecord};

/// Keeps nothing beyond the engine's own maps and the batches below.
#[derive(Debug, Default)]
pub(crate) struct MemoryBackend {
    producer_ids: AtomicI64,
    objects: crate::memory_objects::MemoryObjects,
    /// Tests only: pretend to be durable, with a sync that fails while the flag is set.
    #[cfg(test)]
    pub(crate) sync_fault: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

#[derive(Debug, Default)]
struct Batches {
    by_base: BTreeMap<Offset, RecordBatch>,
    /// Running max timestamp → base offset of the batch where it was reached.
    time_index: BTreeMap<i64, Offset>,
}

/// One partition's batches.
#[derive(Debug, Default)]
pub(crate) struct MemoryPartition {
    batches: Mutex<Batches>,
}

impl MemoryPartition {
    fn lock(&self) -> MutexGuard<'_, Batches> {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The batches from the one containing `from` onwards.
fn from_containing(
    batches: &BTreeMap<Offset, RecordBatch>,
    from: Offset,
) -> impl Iterator<Item = &RecordBatch> {
    let start = batches
        .range(..=from)
        .next_back()
        .filter(|(_, b)| b.last_offset() >= from)
        .map_or(from, |(base, _)| *base);
    batches.range(start..).map(|(_, b)| b)
}

impl PartitionStore for MemoryPartition {
    fn append(
        &self,
        batch: &RecordBatch,
        _meta: &PartitionMeta,
        time_entry: Option<i64>,
        _producer: Option<(i64, &ProducerState)>,
        _aborted: Option<&AbortedTxn>,
    ) -> Result<()> {
        let mut batches = self.lock();
        batches.by_base.insert(batch.base_offset(), batch.clone());
        if let Some(ts) = time_entry {
            batches.time_index.insert(ts, batch.base_offset());
        }
        Ok(())
    }

    fn producers(&self) -> Result<Vec<(i64, ProducerState)>> {
        // Nothing persists: the engine's own map is the only copy.
        Ok(Vec::new())
    }

    fn aborted(&self) -> Result<Vec<AbortedTxn>> {
        Ok(Vec::new())
    }

    fn read(&self, from: Offset, end: Offset, max_bytes: usize) -> Result<Vec<RecordBatch>> {
        let batches = self.lock();
        let mut out = Vec::new();
        let mut total = 0usize;
        for batch in from_containing(&batches.by_base, from) {
            if batch.base_offset() >= end || (!out.is_empty() && total >= max_bytes) {
                break;
            }
            total += batch.len();
            out.push(batch.clone());
        }
        Ok(out)
    }

    fn summaries(&self, from: Offset, limit: usize) -> Result<Vec<BatchSummary>> {
        let batches = self.lock();
        Ok(from_containing(&batches.by_base, from)
            .take(limit)
            .map(BatchSummary::of)
            .collect())
    }

    fn time_seek(&self, seek: TimeSeek) -> Result<Option<Offset>> {
        let batches = self.lock();
        Ok(match seek {
            TimeSeek::AtOrAfter(ts) => batches.time_index.range(ts..).next(),
            TimeSeek::Max => batches.time_index.iter().next_back(),
        }
        .map(|(_, base)| *base))
    }

    fn truncate_front(&self, meta: &mut PartitionMeta) -> Result<RetentionReport> {
        let mut batches = self.lock();
        let mut report = RetentionReport::default();
        let doomed: Vec<Offset> = batches
            .by_base
            .iter()
            .take_while(|(_, b)| b.last_offset() < meta.log_start)
            .map(|(base, _)| *base)
            .collect();
        for base in doomed {
            if let Some(batch) = batches.by_base.remove(&base) {
                report.batches += 1;
                report.bytes += batch.len() as u64;
            }
        }
        let stale: Vec<i64> = batches
            .time_index
            .iter()
            .filter(|(_, base)| **base < meta.log_start)
            .map(|(ts, _)| *ts)
            .collect();
        // Keep the last stale entry: it still bounds lookups for earlier timestamps.
        for ts in stale.iter().rev().skip(1) {
            batches.time_index.remove(ts);
        }
        meta.stored_bytes = meta.stored_bytes.saturating_sub(report.bytes);
        Ok(report)
    }

    fn rewrite(
        &self,
        changes: &[Rewrite],
        _markers_removed: &[Offset],
        _meta: &PartitionMeta,
    ) -> Result<()> {
        let mut batches = self.lock();
        for change in changes {
            match change {
                Rewrite::Remove(old) => batches.by_base.remove(&old.base),
                Rewrite::Replace(old, new) => batches.by_base.insert(old.base, new.clone()),
            };
        }
        Ok(())
    }
}

impl MemoryBackend {
    pub(crate) fn objects(&self) -> &crate::memory_objects::MemoryObjects {
        &self.objects
    }
}

impl Backend for MemoryBackend {
    type Partition = MemoryPartition;

    fn durable(&self) -> bool {
        #[cfg(test)]
        if self.sync_fault.is_some() {
            return true;
        }
        false
    }

    fn load(&self) -> Result<Loaded<MemoryPartition>> {
        Ok((Vec::new(), Vec::new()))
    }

    fn create_partitions(
        &self,
        _hub: &HubName,
        from: u32,
        to: u32,
    ) -> Result<Vec<MemoryPartition>> {
        Ok((from..to).map(|_| MemoryPartition::default()).collect())
    }

    fn save_hub(&self, _info: &HubInfo) -> Result<()> {
        Ok(())
    }

    fn remove_hub(&self, _info: &HubInfo) -> Result<()> {
        Ok(())
    }

    fn save_offsets(
        &self,
        _group: &str,
        _offsets: &[(PartitionId, CommittedOffset)],
    ) -> Result<()> {
        Ok(())
    }

    fn remove_offsets(&self, _keys: &[(String, PartitionId)]) -> Result<()> {
        Ok(())
    }

    fn next_producer_id(&self) -> Result<i64> {
        Ok(self.producer_ids.fetch_add(1, Ordering::Relaxed))
    }

    fn cluster_id(&self) -> Result<String> {
        // Nothing outlives the process: each engine gets its own.
        Ok(crate::engine::backend::new_cluster_id())
    }

    fn load_txns(&self) -> Result<Vec<(String, TxnRecord)>> {
        Ok(Vec::new())
    }

    fn save_txn(&self, _id: &str, _record: Option<&TxnRecord>) -> Result<()> {
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        #[cfg(test)]
        if self
            .sync_fault
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
        {
            return Err(std::io::Error::other("injected sync failure").into());
        }
        Ok(())
    }
}
