//! Rebuilding a stored batch with fewer records, for the cleaner.
//!
//! Kafka's cleaner (`MemoryRecords.filterTo`) keeps everything about a batch but its dropped
//! records: base offset, last offset delta (so the producer's last sequence survives), producer
//! id, epoch, base sequence, attributes, codec and partition leader epoch. [`RecordBatch::encode`]
//! derives the last offset delta and max timestamp from the records it is given, so both are
//! patched back here and the CRC is recomputed.

use super::{CRC_START, CodecError, EncodeOptions, RecordBatch, TimestampType};
use crate::record::Record;

impl RecordBatch {
    /// This batch with only `kept` (a subsequence of its own records, at least one), keeping the
    /// header's metadata. The max timestamp is kept for log-append-time batches and recomputed
    /// for create-time ones, as Kafka does.
    ///
    /// # Errors
    /// [`CodecError`] if `kept` is empty, does not fit the batch, or compression fails.
    pub fn retain(&self, kept: &[Record]) -> Result<Self, CodecError> {
        let header = *self.header();
        let first = kept.first().ok_or(CodecError::Inconsistent(
            "a rebuilt batch must keep a record",
        ))?;
        if first.offset < header.base_offset
            || kept.last().is_some_and(|r| r.offset > header.last_offset())
        {
            return Err(CodecError::Inconsistent(
                "kept records lie outside the batch",
            ));
        }
        let options = EncodeOptions {
            base_offset: header.base_offset,
            partition_leader_epoch: header.partition_leader_epoch,
            compression: header.compression()?,
            timestamp_type: header.timestamp_type(),
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            transactional: header.is_transactional(),
            control: header.is_control(),
        };
        let built = Self::encode(kept, &options)?;
        let mut bytes = bytes::BytesMut::from(&built.as_bytes()[..]);
        bytes[23..27].copy_from_slice(&header.last_offset_delta.to_be_bytes());
        if header.timestamp_type() == TimestampType::LogAppendTime {
            bytes[35..43].copy_from_slice(&header.max_timestamp.to_be_bytes());
        }
        let crc = crc32c::crc32c(&bytes[CRC_START..]);
        bytes[17..21].copy_from_slice(&crc.to_be_bytes());
        Self::from_stored(bytes.freeze())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::batch::{Compression, Limits};
    use crate::record::Header;

    fn record(offset: i64, key: &str, value: Option<&str>) -> Record {
        Record {
            offset,
            timestamp: 1_000 + offset,
            key: Some(Bytes::from(key.to_owned())),
            value: value.map(|v| Bytes::from(v.to_owned())),
            headers: vec![Header::new("h", None), Header::new("h", Some("x".into()))],
        }
    }

    #[test]
    fn a_rebuilt_batch_keeps_offsets_and_producer_metadata() {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let records: Vec<Record> = (0..5)
                .map(|i| record(i, &format!("k{}", i % 2), Some("v")))
                .collect();
            let mut batch = RecordBatch::encode(
                &records,
                &EncodeOptions {
                    compression,
                    producer_id: 7,
                    producer_epoch: 3,
                    base_sequence: 40,
                    transactional: true,
                    ..EncodeOptions::default()
                },
            )
            .unwrap();
            batch.assign(100, 2);
            let stored = batch.records(&Limits::default()).unwrap();
            let kept = vec![stored[1].clone(), stored[3].clone()];
            let rebuilt = batch.retain(&kept).unwrap();
            rebuilt.verify_crc().unwrap();
            let (a, b) = (batch.header(), rebuilt.header());
            assert_eq!(b.base_offset, 100);
            assert_eq!(
                b.last_offset_delta, a.last_offset_delta,
                "last sequence survives"
            );
            assert_eq!(rebuilt.last_offset(), 104);
            assert_eq!(
                (b.producer_id, b.producer_epoch, b.base_sequence),
                (7, 3, 40)
            );
            assert_eq!(b.partition_leader_epoch, 2);
            assert_eq!(b.attributes, a.attributes);
            assert_eq!(b.record_count, 2);
            assert_eq!(b.max_timestamp, 1_003, "create time: recomputed");
            assert_eq!(rebuilt.records(&Limits::default()).unwrap(), kept);
        }
    }

    #[test]
    fn log_append_time_is_kept_and_empty_or_foreign_records_are_refused() {
        let records: Vec<Record> = (0..3).map(|i| record(i, "k", None)).collect();
        let mut batch = RecordBatch::encode(&records, &EncodeOptions::default()).unwrap();
        batch.stamp_log_append_time(9_999);
        let stored = batch.records(&Limits::default()).unwrap();
        let rebuilt = batch.retain(&stored[2..]).unwrap();
        assert_eq!(rebuilt.header().max_timestamp, 9_999);
        assert_eq!(
            rebuilt.header().timestamp_type(),
            TimestampType::LogAppendTime
        );
        assert_eq!(rebuilt.records(&Limits::default()).unwrap(), stored[2..]);
        assert!(batch.retain(&[]).is_err());
        assert!(batch.retain(&[record(9, "k", None)]).is_err());
    }
}
