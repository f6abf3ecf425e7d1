//! Feeds arbitrary bytes to the record-batch decoder the way a Kafka produce request does:
//! split the `records` field into batches, then decode every batch's records.
//!
//! Run from `storage/`: `RUSTC_BOOTSTRAP=1 cargo fuzz run batch` (add `-- -max_total_time=120`
//! for a bounded run). The limits are small so that a decompression bomb or a huge count
//! shows up as an allocation far beyond them (pass `-malloc_limit_mb=64`).

#![no_main]

use bytes::Bytes;
use hubgate_storage::batch::{LOG_OVERHEAD, Limits, RecordBatch};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_batch_bytes: 64 * 1024,
    max_records: 1024,
    max_uncompressed_bytes: 256 * 1024,
};

/// Where the CRC sits in a batch, and where the bytes it covers start.
const CRC_AT: usize = 17;
const CRC_START: usize = 21;

fuzz_target!(|data: &[u8]| {
    // As sent: exercises the framing and CRC checks.
    check(Bytes::copy_from_slice(data));
    // With every batch's CRC made right, so that mutations reach the records decoder and
    // the codecs instead of dying at the checksum.
    check(with_valid_crcs(data));
});

fn check(input: Bytes) {
    let Ok(batches) = RecordBatch::split(input, &LIMITS) else {
        return;
    };
    for batch in batches {
        let header = *batch.header();
        if let Ok(records) = batch.records(&LIMITS) {
            // What decoded must agree with the header it came with.
            assert_eq!(records.len(), header.record_count as usize);
            let mut previous = None;
            for record in &records {
                assert!(record.offset >= header.base_offset);
                assert!(record.offset <= batch.last_offset());
                assert!(previous < Some(record.offset));
                previous = Some(record.offset);
            }
        }
        // Patching the header never breaks a batch that parsed.
        let mut patched = batch.clone();
        patched.assign(7, 1);
        assert!(patched.verify_crc().is_ok());
        patched.stamp_log_append_time(42);
        assert!(RecordBatch::parse(patched.into_bytes(), &LIMITS).is_ok());
    }
}

fn with_valid_crcs(data: &[u8]) -> Bytes {
    let mut out = data.to_vec();
    let mut at = 0;
    while let Some(rest) = out.get(at..) {
        let Ok(len) = RecordBatch::peek_total_len(rest, &LIMITS) else {
            break;
        };
        let Some(batch) = out.get_mut(at..at + len) else {
            break;
        };
        if batch.len() > CRC_START {
            let crc = crc32c::crc32c(&batch[CRC_START..]);
            batch[CRC_AT..CRC_START].copy_from_slice(&crc.to_be_bytes());
        }
        at += len.max(LOG_OVERHEAD);
    }
    Bytes::from(out)
}
