//! Record batches written by a real Kafka client (kafka-python's `DefaultRecordBatchBuilder`,
//! see `fixtures/generate.py`), one per codec plus librdkafka-style raw Snappy: each must
//! parse byte-exact, pass its CRC and decode to exactly the records the generator wrote.

use bytes::Bytes;
use hubgate_storage::batch::{
    Compression, EncodeOptions, Limits, NO_PRODUCER_ID, RecordBatch, TimestampType,
};
use hubgate_storage::record::{Header, Record};
use serde_json::Value;

const EXPECTED: &str = include_str!("fixtures/expected.json");

/// Every fixture file, by name, as compiled-in bytes.
const FIXTURES: &[(&str, &[u8])] = &[
    ("none.bin", include_bytes!("fixtures/none.bin")),
    ("gzip.bin", include_bytes!("fixtures/gzip.bin")),
    ("snappy.bin", include_bytes!("fixtures/snappy.bin")),
    ("snappy_raw.bin", include_bytes!("fixtures/snappy_raw.bin")),
    ("lz4.bin", include_bytes!("fixtures/lz4.bin")),
    ("zstd.bin", include_bytes!("fixtures/zstd.bin")),
];

fn description() -> Value {
    serde_json::from_str(EXPECTED).expect("expected.json is valid JSON")
}

fn int(value: &Value, field: &str) -> i64 {
    value[field]
        .as_i64()
        .unwrap_or_else(|| panic!("`{field}` missing in {value}"))
}

/// Decodes the generator's byte notation: null, `{"utf8": s}`, `{"hex": h}`, or
/// `{"utf8": s, "repeat": n}`.
fn bytes_of(value: &Value) -> Option<Bytes> {
    if value.is_null() {
        return None;
    }
    if let Some(hex) = value["hex"].as_str() {
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect::<Vec<u8>>();
        return Some(bytes.into());
    }
    let text = value["utf8"]
        .as_str()
        .unwrap_or_else(|| panic!("bad bytes {value}"));
    let repeat = value["repeat"].as_u64().unwrap_or(1) as usize;
    Some(Bytes::from(text.repeat(repeat)))
}

fn expected_records() -> Vec<Record> {
    description()["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| Record {
            offset: int(r, "offset"),
            timestamp: int(r, "timestamp"),
            key: bytes_of(&r["key"]),
            value: bytes_of(&r["value"]),
            headers: r["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|h| Header::new(h[0].as_str().expect("header key"), bytes_of(&h[1])))
                .collect(),
        })
        .collect()
}

fn fixture(name: &str) -> Bytes {
    let (_, bytes) = FIXTURES
        .iter()
        .find(|(file, _)| *file == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    Bytes::from_static(bytes)
}

fn codec(id: i64) -> Compression {
    match id {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        other => panic!("codec {other}"),
    }
}

#[test]
fn every_fixture_is_described() {
    let described: Vec<String> = description()["batches"]
        .as_array()
        .expect("batches")
        .iter()
        .map(|b| b["file"].as_str().expect("file").to_owned())
        .collect();
    let embedded: Vec<&str> = FIXTURES.iter().map(|(name, _)| *name).collect();
    assert_eq!(described, embedded);
    // The fixtures cover every codec.
    let mut codecs: Vec<i64> = description()["batches"]
        .as_array()
        .expect("batches")
        .iter()
        .map(|b| int(b, "codec"))
        .collect();
    codecs.dedup();
    assert_eq!(codecs, vec![0, 1, 2, 3, 4]);
}

#[test]
fn client_batches_decode_exactly() {
    let limits = Limits::default();
    let expected = expected_records();
    assert_eq!(expected.len(), 4);
    // Duplicate header keys arrive in order, null header values stay null.
    assert_eq!(
        expected[0]
            .headers
            .iter()
            .map(|h| h.key.as_str())
            .collect::<Vec<_>>(),
        ["h1", "dup", "dup", "dup"]
    );

    for batch_desc in description()["batches"].as_array().expect("batches") {
        let name = batch_desc["file"].as_str().expect("file");
        let bytes = fixture(name);
        let batch =
            RecordBatch::parse(bytes.clone(), &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
        batch.verify_crc().unwrap_or_else(|e| panic!("{name}: {e}"));
        // Parsing keeps the client's bytes as they came.
        assert_eq!(batch.as_bytes(), &bytes, "{name}");
        let stored = RecordBatch::from_stored(bytes.clone()).expect("from_stored");
        assert_eq!(stored, batch, "{name}");

        let header = batch.header();
        assert_eq!(
            header.compression(),
            Ok(codec(int(batch_desc, "codec"))),
            "{name}"
        );
        assert_eq!(header.timestamp_type(), TimestampType::CreateTime, "{name}");
        assert_eq!(header.base_offset, 0, "{name}");
        assert_eq!(header.record_count as usize, expected.len(), "{name}");
        assert_eq!(
            i64::from(header.last_offset_delta),
            int(batch_desc, "last_offset_delta"),
            "{name}"
        );
        assert_eq!(
            header.base_timestamp,
            int(batch_desc, "base_timestamp"),
            "{name}"
        );
        assert_eq!(
            header.max_timestamp,
            int(batch_desc, "max_timestamp"),
            "{name}"
        );
        assert_eq!(header.producer_id, int(batch_desc, "producer_id"), "{name}");
        assert_eq!(
            i64::from(header.producer_epoch),
            int(batch_desc, "producer_epoch"),
            "{name}"
        );
        assert_eq!(
            i64::from(header.base_sequence),
            int(batch_desc, "base_sequence"),
            "{name}"
        );
        assert_eq!(header.is_idempotent(), header.producer_id != NO_PRODUCER_ID);
        assert!(!header.is_transactional() && !header.is_control(), "{name}");

        let records = batch
            .records(&limits)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(records.len(), expected.len(), "{name}");
        for (got, want) in records.iter().zip(&expected) {
            assert_eq!(got.offset, want.offset, "{name}: offset");
            assert_eq!(
                got.timestamp, want.timestamp,
                "{name}: timestamp of {}",
                want.offset
            );
            assert_eq!(got.key, want.key, "{name}: key of {}", want.offset);
            assert_eq!(got.value, want.value, "{name}: value of {}", want.offset);
            assert_eq!(
                got.headers, want.headers,
                "{name}: headers of {}",
                want.offset
            );
        }

        // Re-encoding what was decoded, uncompressed, and decoding again changes nothing.
        let again = RecordBatch::encode(
            &records,
            &EncodeOptions {
                base_offset: header.base_offset,
                ..EncodeOptions::default()
            },
        )
        .expect("re-encode");
        let again = RecordBatch::parse(again.into_bytes(), &limits).expect("re-parse");
        assert_eq!(
            again.records(&limits).expect("re-decode"),
            records,
            "{name}"
        );
        assert_eq!(
            again.header().last_offset_delta,
            header.last_offset_delta,
            "{name}"
        );
        assert_eq!(again.header().max_timestamp, header.max_timestamp, "{name}");
    }
}

#[test]
fn uncompressed_client_batch_re_encodes_byte_exact() {
    // With no compression there is one way to write these records, so hubgate's encoder must
    // reproduce kafka-python's bytes exactly.
    let limits = Limits::default();
    let bytes = fixture("none.bin");
    let records = RecordBatch::parse(bytes.clone(), &limits)
        .and_then(|b| b.records(&limits))
        .expect("decode");
    let again = RecordBatch::encode(&records, &EncodeOptions::default()).expect("encode");
    assert_eq!(again.as_bytes(), &bytes);
}

#[test]
fn client_batches_concatenated_split_apart() {
    let limits = Limits::default();
    let mut all = Vec::new();
    for (_, bytes) in FIXTURES {
        all.extend_from_slice(bytes);
    }
    let batches = RecordBatch::split(Bytes::from(all), &limits).expect("split");
    assert_eq!(batches.len(), FIXTURES.len());
    let expected = expected_records();
    for (batch, (name, bytes)) in batches.iter().zip(FIXTURES) {
        assert_eq!(batch.as_bytes().as_ref(), *bytes, "{name}");
        assert_eq!(batch.records(&limits).expect("records"), expected, "{name}");
    }
}

#[test]
fn client_batches_survive_assign_and_log_append_time() {
    let limits = Limits::default();
    let expected = expected_records();
    for (name, _) in FIXTURES {
        let mut batch = RecordBatch::parse(fixture(name), &limits).expect("parse");
        batch.assign(1_000_000, 4);
        batch.stamp_log_append_time(1_800_000_000_000);
        let batch = RecordBatch::parse(batch.into_bytes(), &limits).expect("re-parse");
        let records = batch.records(&limits).expect("records");
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        let want: Vec<i64> = expected.iter().map(|r| r.offset + 1_000_000).collect();
        assert_eq!(offsets, want, "{name}");
        assert!(
            records.iter().all(|r| r.timestamp == 1_800_000_000_000),
            "{name}"
        );
        assert_eq!(records[3].value, expected[3].value, "{name}");
    }
}

#[test]
fn the_uncompressed_limit_applies_to_client_batches() {
    // The big record makes each batch decompress to just over 40,000 bytes.
    for (name, _) in FIXTURES.iter().filter(|(name, _)| *name != "none.bin") {
        let tight = Limits {
            max_uncompressed_bytes: 40_000,
            ..Limits::default()
        };
        let batch = RecordBatch::parse(fixture(name), &tight).expect("parse");
        assert!(batch.records(&tight).is_err(), "{name}");
        let roomy = Limits {
            max_uncompressed_bytes: 41_000,
            ..Limits::default()
        };
        assert!(batch.records(&roomy).is_ok(), "{name}");
    }
}
