//! One partition's tree.

use crate::batch::RecordBatch;
use crate::engine::backend::{BatchSummary, PartitionMeta, PartitionStore, TimeSeek};
use crate::error::{Error, Result};
use crate::hub::PartitionId;
use crate::log::RetentionReport;
use crate::record::Offset;

use super::keys::{
    self, BATCH, META, SUMMARY, decode_summary, ivec_bytes, key_offset, offset_key, time_key,
};

/// A partition stored in its own sled tree.
#[derive(Debug)]
pub(crate) struct SledPartition {
    tree: sled::Tree,
}

impl SledPartition {
    pub(super) fn new(tree: sled::Tree) -> Self {
        Self { tree }
    }

    /// Reads the persisted meta and checks it against the newest stored batch, whose CRC is
    /// verified: a batch is either wholly there with its meta (one atomic write) or not at all.
    pub(super) fn recover(&self, id: &PartitionId) -> Result<PartitionMeta> {
        let meta = match self.tree.get(META)? {
            Some(bytes) => PartitionMeta::decode(&bytes)
                .ok_or_else(|| Error::Corrupt(format!("{id}: partition meta")))?,
            None => PartitionMeta::default(),
        };
        let newest = self
            .tree
            .range(offset_key(BATCH, 0)..=offset_key(BATCH, Offset::MAX))
            .next_back()
            .transpose()?;
        if let Some((_, value)) = newest {
            let batch = RecordBatch::from_stored(ivec_bytes(value))
                .map_err(|e| Error::Corrupt(format!("{id}: newest batch: {e}")))?;
            batch
                .verify_crc()
                .map_err(|e| Error::Corrupt(format!("{id}: newest batch: {e}")))?;
            if batch.last_offset() + 1 != meta.next_offset {
                return Err(Error::Corrupt(format!(
                    "{id}: newest batch ends at {} but the partition continues at {}",
                    batch.last_offset(),
                    meta.next_offset
                )));
            }
        }
        Ok(meta)
    }

    /// Base offset of the batch holding `from`, or `from` itself if no batch does.
    fn containing(&self, from: Offset) -> Result<Offset> {
        let found = self
            .tree
            .range(offset_key(SUMMARY, 0)..=offset_key(SUMMARY, from))
            .next_back()
            .transpose()?;
        if let Some((key, value)) = found {
            let base = key_offset(&key).unwrap_or(from);
            if decode_summary(base, &value).is_some_and(|s| s.last >= from) {
                return Ok(base);
            }
        }
        Ok(from)
    }
}

impl PartitionStore for SledPartition {
    fn append(
        &self,
        batch: &RecordBatch,
        meta: &PartitionMeta,
        time_entry: Option<i64>,
    ) -> Result<()> {
        let base = batch.base_offset();
        let mut write = sled::Batch::default();
        write.insert(&offset_key(BATCH, base)[..], &batch.as_bytes()[..]);
        write.insert(
            &offset_key(SUMMARY, base)[..],
            &keys::encode_summary(&BatchSummary::of(batch))[..],
        );
        if let Some(ts) = time_entry {
            write.insert(&time_key(ts)[..], &base.to_be_bytes()[..]);
        }
        write.insert(META, &meta.encode()[..]);
        self.tree.apply_batch(write)?;
        Ok(())
    }

    fn read(&self, from: Offset, end: Offset, max_bytes: usize) -> Result<Vec<RecordBatch>> {
        let start = self.containing(from)?;
        let mut out = Vec::new();
        let mut total = 0usize;
        for entry in self
            .tree
            .range(offset_key(BATCH, start)..=offset_key(BATCH, Offset::MAX))
        {
            let (key, value) = entry?;
            if key_offset(&key).is_none_or(|base| base >= end)
                || (!out.is_empty() && total >= max_bytes)
            {
                break;
            }
            let batch = RecordBatch::from_stored(ivec_bytes(value))
                .map_err(|e| Error::Corrupt(format!("stored batch: {e}")))?;
            total += batch.len();
            out.push(batch);
        }
        Ok(out)
    }

    fn summaries(&self, from: Offset, limit: usize) -> Result<Vec<BatchSummary>> {
        let start = self.containing(from)?;
        let mut out = Vec::new();
        for entry in self
            .tree
            .range(offset_key(SUMMARY, start)..=offset_key(SUMMARY, Offset::MAX))
            .take(limit)
        {
            let (key, value) = entry?;
            let summary = key_offset(&key)
                .and_then(|base| decode_summary(base, &value))
                .ok_or_else(|| Error::Corrupt("batch summary".into()))?;
            out.push(summary);
        }
        Ok(out)
    }

    fn time_seek(&self, seek: TimeSeek) -> Result<Option<Offset>> {
        let found = match seek {
            TimeSeek::AtOrAfter(ts) => self
                .tree
                .range(time_key(ts)..=time_key(i64::MAX))
                .next()
                .transpose()?,
            TimeSeek::Max => self
                .tree
                .range(time_key(i64::MIN)..=time_key(i64::MAX))
                .next_back()
                .transpose()?,
        };
        found
            .map(|(_, base)| {
                <[u8; 8]>::try_from(base.as_ref())
                    .map(i64::from_be_bytes)
                    .map_err(|_| Error::Corrupt("time index entry".into()))
            })
            .transpose()
    }

    fn truncate_front(&self, meta: &mut PartitionMeta) -> Result<RetentionReport> {
        let mut report = RetentionReport::default();
        let mut write = sled::Batch::default();
        for entry in self
            .tree
            .range(offset_key(SUMMARY, 0)..=offset_key(SUMMARY, Offset::MAX))
        {
            let (key, value) = entry?;
            let summary = key_offset(&key)
                .and_then(|base| decode_summary(base, &value))
                .ok_or_else(|| Error::Corrupt("batch summary".into()))?;
            if summary.last >= meta.log_start {
                break;
            }
            write.remove(&offset_key(SUMMARY, summary.base)[..]);
            write.remove(&offset_key(BATCH, summary.base)[..]);
            report.batches += 1;
            report.bytes += summary.len;
        }
        // Time entries below the new start, except the last: it still bounds lookups for
        // timestamps earlier than the next entry.
        let mut stale = Vec::new();
        for entry in self.tree.range(time_key(i64::MIN)..=time_key(i64::MAX)) {
            let (key, base) = entry?;
            let base: [u8; 8] = base
                .as_ref()
                .try_into()
                .map_err(|_| Error::Corrupt("time index entry".into()))?;
            if i64::from_be_bytes(base) >= meta.log_start {
                break;
            }
            stale.push(key);
        }
        stale.pop();
        for key in stale {
            write.remove(key);
        }
        meta.stored_bytes = meta.stored_bytes.saturating_sub(report.bytes);
        write.insert(META, &meta.encode()[..]);
        self.tree.apply_batch(write)?;
        Ok(report)
    }
}
