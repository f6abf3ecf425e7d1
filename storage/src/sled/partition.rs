//! One partition's tree.

use bytes::BytesMut;

use crate::batch::RecordBatch;
use crate::engine::Rewrite;
use crate::engine::backend::{BatchSummary, PartitionMeta, PartitionStore, TimeSeek};
use crate::error::{Error, Result};
use crate::hub::PartitionId;
use crate::log::RetentionReport;
use crate::producer::ProducerState;
use crate::record::Offset;
use crate::txn::AbortedTxn;

use super::keys::{
    self, CHUNK_BYTES, META, SUMMARY, chunk_count, chunk_key, decode_summary, ivec_bytes,
    key_offset, offset_key, time_key,
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

    pub(super) fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    /// Reads the persisted meta and checks it against the newest stored batch, whose CRC is
    /// verified: a batch is either wholly there with its meta (one atomic write) or not at all.
    pub(super) fn recover(&self, id: &PartitionId) -> Result<PartitionMeta> {
        let corrupt = |what: String| Error::Corrupt(format!("{id}: {what}"));
        let meta = match self.tree.get(META)? {
            Some(bytes) => {
                PartitionMeta::decode(&bytes).ok_or_else(|| corrupt("partition meta".into()))?
            }
            None => PartitionMeta::default(),
        };
        let newest = self
            .tree
            .range(offset_key(SUMMARY, 0)..=offset_key(SUMMARY, Offset::MAX))
            .next_back()
            .transpose()?;
        if let Some((key, value)) = newest {
            let summary = key_offset(&key)
                .and_then(|base| decode_summary(base, &value))
                .ok_or_else(|| corrupt("batch summary".into()))?;
            let batch = self.load(&summary)?;
            batch
                .verify_crc()
                .map_err(|e| corrupt(format!("newest batch: {e}")))?;
            if batch.last_offset() + 1 != meta.next_offset {
                return Err(corrupt(format!(
                    "newest batch ends at {} but the partition continues at {}",
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

    /// Reassembles the batch `summary` describes from its pieces. A batch stored in one piece
    /// is shared with sled without copying.
    fn load(&self, summary: &BatchSummary) -> Result<RecordBatch> {
        let missing = || Error::Corrupt(format!("batch at offset {} is incomplete", summary.base));
        let chunks = chunk_count(summary.len);
        let bytes = if chunks == 1 {
            ivec_bytes(
                self.tree
                    .get(chunk_key(summary.base, 0))?
                    .ok_or_else(missing)?,
            )
        } else {
            let mut bytes = BytesMut::with_capacity(summary.len as usize);
            for chunk in 0..chunks {
                let piece = self
                    .tree
                    .get(chunk_key(summary.base, chunk))?
                    .ok_or_else(missing)?;
                bytes.extend_from_slice(&piece);
            }
            bytes.freeze()
        };
        RecordBatch::from_stored(bytes).map_err(|e| Error::Corrupt(format!("stored batch: {e}")))
    }
}

impl PartitionStore for SledPartition {
    fn append(
        &self,
        batch: &RecordBatch,
        meta: &PartitionMeta,
        time_entry: Option<i64>,
        producer: Option<(i64, &ProducerState)>,
        aborted: Option<&AbortedTxn>,
    ) -> Result<()> {
        let base = batch.base_offset();
        let mut write = sled::Batch::default();
        for (chunk, piece) in batch.as_bytes().chunks(CHUNK_BYTES).enumerate() {
            write.insert(&chunk_key(base, chunk as u32)[..], piece);
        }
        write.insert(
            &offset_key(SUMMARY, base)[..],
            &keys::encode_summary(&BatchSummary::of(batch))[..],
        );
        if let Some(ts) = time_entry {
            write.insert(&time_key(ts)[..], &base.to_be_bytes()[..]);
        }
        if let Some((id, state)) = producer {
            write.insert(&keys::producer_key(id)[..], state.encode());
        }
        if let Some(aborted) = aborted {
            write.insert(
                &offset_key(keys::ABORTED, aborted.last_offset)[..],
                &aborted.encode()[..],
            );
        }
        write.insert(META, &meta.encode()[..]);
        self.tree.apply_batch(write)?;
        Ok(())
    }

    fn producers(&self) -> Result<Vec<(i64, ProducerState)>> {
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix([keys::PRODUCER]) {
            let (key, value) = entry?;
            let id = key
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_be_bytes);
            match (id, ProducerState::decode(&value)) {
                (Some(id), Some(state)) => out.push((id, state)),
                _ => return Err(Error::Corrupt("idempotent producer state".into())),
            }
        }
        Ok(out)
    }

    fn aborted(&self) -> Result<Vec<AbortedTxn>> {
        self.tree
            .scan_prefix([keys::ABORTED])
            .map(|entry| {
                let (_, value) = entry?;
                AbortedTxn::decode(&value)
                    .ok_or_else(|| Error::Corrupt("aborted transaction entry".into()))
            })
            .collect()
    }

    fn read(&self, from: Offset, end: Offset, max_bytes: usize) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        let mut total = 0usize;
        let start = self.containing(from)?;
        for entry in self
            .tree
            .range(offset_key(SUMMARY, start)..=offset_key(SUMMARY, Offset::MAX))
        {
            let summary = parse_summary(entry?)?;
            if summary.base >= end || (!out.is_empty() && total >= max_bytes) {
                break;
            }
            let batch = self.load(&summary)?;
            total += batch.len();
            out.push(batch);
        }
        Ok(out)
    }

    fn summaries(&self, from: Offset, limit: usize) -> Result<Vec<BatchSummary>> {
        let start = self.containing(from)?;
        self.tree
            .range(offset_key(SUMMARY, start)..=offset_key(SUMMARY, Offset::MAX))
            .take(limit)
            .map(|entry| parse_summary(entry?))
            .collect()
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
        found.map(|(_, base)| parse_offset(&base)).transpose()
    }

    fn truncate_front(&self, meta: &mut PartitionMeta) -> Result<RetentionReport> {
        let mut report = RetentionReport::default();
        let mut write = sled::Batch::default();
        for entry in self
            .tree
            .range(offset_key(SUMMARY, 0)..=offset_key(SUMMARY, Offset::MAX))
        {
            let summary = parse_summary(entry?)?;
            if summary.last >= meta.log_start {
                break;
            }
            write.remove(&offset_key(SUMMARY, summary.base)[..]);
            for chunk in 0..chunk_count(summary.len) {
                write.remove(&chunk_key(summary.base, chunk)[..]);
            }
            report.batches += 1;
            report.bytes += summary.len;
        }
        for entry in self
            .tree
            .range(offset_key(keys::ABORTED, 0)..offset_key(keys::ABORTED, meta.log_start))
        {
            let (key, _) = entry?;
            write.remove(key);
        }
        // Time entries below the new start, except the last: it still bounds lookups for
        // timestamps earlier than the next entry.
        let mut stale = Vec::new();
        for entry in self.tree.range(time_key(i64::MIN)..=time_key(i64::MAX)) {
            let (key, base) = entry?;
            if parse_offset(&base)? >= meta.log_start {
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

    fn rewrite(
        &self,
        changes: &[Rewrite],
        markers_removed: &[Offset],
        meta: &PartitionMeta,
    ) -> Result<()> {
        self.apply_rewrite(changes, markers_removed, meta)
    }
}

fn parse_summary((key, value): (sled::IVec, sled::IVec)) -> Result<BatchSummary> {
    key_offset(&key)
        .and_then(|base| decode_summary(base, &value))
        .ok_or_else(|| Error::Corrupt("batch summary".into()))
}

fn parse_offset(value: &[u8]) -> Result<Offset> {
    <[u8; 8]>::try_from(value)
        .map(i64::from_be_bytes)
        .map_err(|_| Error::Corrupt("time index entry".into()))
}
