//! Unit tests of the batch codec: varints, round trips for every codec, corruption,
//! truncation, hostile lengths and counts, decompression bombs, and header patching.

use std::io::Write;

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::compression::{compress, decompress};
use super::varint::{
    MAX_VARINT_LEN, MAX_VARLONG_LEN, put_varint, put_varlong, read_varint, read_varlong,
    varint_len, varlong_len,
};
use super::*;
use crate::record::{Header, Record};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

fn b(s: &[u8]) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(s))
}

fn rec(offset: Offset, timestamp: i64, key: Option<Bytes>, value: Option<Bytes>) -> Record {
    Record {
        offset,
        timestamp,
        key,
        value,
        headers: Vec::new(),
    }
}

/// Records covering the awkward cases: null and empty keys and values, duplicate header keys
/// in a deliberate order, null header values, gaps between offsets, and timestamps that go
/// backwards (negative deltas).
fn sample_records(base: Offset) -> Vec<Record> {
    let mut with_headers = rec(base + 2, 1_700_000_000_500, b(b"k2"), b(b"v2"));
    with_headers.headers = vec![
        Header::new("trace", b(b"1")),
        Header::new("empty", b(b"")),
        Header::new("trace", b(b"2")),
        Header::new("null", None),
        Header::new("", b(b"unnamed")),
        Header::new("trace", b(b"3")),
        Header::new("ünïcødé", b(&[0, 255, 1])),
    ];
    vec![
        rec(base, 1_700_000_000_000, None, b(b"null key")),
        rec(base + 1, 1_700_000_000_001, b(b"null value"), None),
        with_headers,
        rec(base + 7, 1_699_999_999_000, b(b""), b(b"")),
        rec(base + 8, 1_700_000_001_000, None, None),
        rec(
            base + 1000,
            1_700_000_000_200,
            b(&[0xff; 300]),
            b(&[7; 5000]),
        ),
    ]
}

fn options(base_offset: Offset, compression: Compression) -> EncodeOptions {
    EncodeOptions {
        base_offset,
        compression,
        ..EncodeOptions::default()
    }
}

fn encode(records: &[Record], options: &EncodeOptions) -> RecordBatch {
    RecordBatch::encode(records, options).expect("encode")
}

/// What decoding should give for `records` in a batch of `timestamp_type` with
/// `max_timestamp`: log-append-time batches report the batch time for every record.
fn expected(records: &[Record], timestamp_type: TimestampType, max_timestamp: i64) -> Vec<Record> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            if timestamp_type == TimestampType::LogAppendTime {
                r.timestamp = max_timestamp;
            }
            r
        })
        .collect()
}

/// Builds a batch around a hand-made records section, with a correct length and CRC, so
/// the tests reach the records decoder with exactly the bytes they want.
fn raw_batch(
    base_offset: Offset,
    attributes: i16,
    record_count: i32,
    base_timestamp: i64,
    section: &[u8],
) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i64(base_offset);
    out.put_i32((HEADER_LEN - LOG_OVERHEAD + section.len()) as i32);
    out.put_i32(0);
    out.put_i8(MAGIC);
    out.put_u32(0);
    out.put_i16(attributes);
    out.put_i32(record_count.max(1) - 1);
    out.put_i64(base_timestamp);
    out.put_i64(base_timestamp);
    out.put_i64(NO_PRODUCER_ID);
    out.put_i16(NO_PRODUCER_EPOCH);
    out.put_i32(NO_SEQUENCE);
    out.put_i32(record_count);
    out.put_slice(section);
    reseal(&mut out);
    out.freeze()
}

/// Rewrites the batch length and CRC after the bytes were edited.
fn reseal(bytes: &mut BytesMut) {
    let len = (bytes.len() - LOG_OVERHEAD) as i32;
    bytes[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[CRC_START..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// One record of an uncompressed section, written field by field so that any field can be
/// made wrong. `body` is everything after the length prefix.
fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    put_varint(&mut out, body.len() as i32);
    out.put_slice(body);
    out.to_vec()
}

/// The body of a record with no key, value "v" and the given header bytes appended.
fn record_body(header_count: i32, headers: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_i8(0);
    put_varlong(&mut out, 0);
    put_varint(&mut out, 0);
    put_varint(&mut out, -1);
    put_varint(&mut out, 1);
    out.put_u8(b'v');
    put_varint(&mut out, header_count);
    out.put_slice(headers);
    out.to_vec()
}

fn decode_section(record_count: i32, section: &[u8]) -> Result<Vec<Record>, CodecError> {
    let limits = Limits::default();
    let batch = RecordBatch::parse(raw_batch(0, 0, record_count, 0, section), &limits)?;
    batch.records(&limits)
}

// ---------------------------------------------------------------------------------------
// varints

#[test]
fn varint_boundaries() {
    let cases: &[(i32, &[u8])] = &[
        (0, &[0x00]),
        (-1, &[0x01]),
        (1, &[0x02]),
        (63, &[0x7e]),
        (-64, &[0x7f]),
        (64, &[0x80, 0x01]),
        (-65, &[0x81, 0x01]),
        (8191, &[0xfe, 0x7f]),
        (-8192, &[0xff, 0x7f]),
        (8192, &[0x80, 0x80, 0x01]),
        (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
        (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
    ];
    for &(value, wire) in cases {
        let mut out = BytesMut::new();
        put_varint(&mut out, value);
        assert_eq!(&out[..], wire, "encoding of {value}");
        assert_eq!(varint_len(value), wire.len(), "length of {value}");
        assert_eq!(
            read_varint(wire),
            Ok((value, wire.len())),
            "decoding of {value}"
        );
        // A varint and a varlong of the same value are the same bytes.
        assert_eq!(read_varlong(wire), Ok((i64::from(value), wire.len())));
    }
    assert_eq!(MAX_VARINT_LEN, 5);
}

#[test]
fn varlong_boundaries() {
    let mut max = vec![0xfe];
    max.extend([0xff; 8]);
    max.push(0x01);
    let mut min = vec![0xff; 9];
    min.push(0x01);
    let cases: Vec<(i64, Vec<u8>)> = vec![
        (0, vec![0x00]),
        (-1, vec![0x01]),
        (i64::from(i32::MAX) + 1, vec![0x80, 0x80, 0x80, 0x80, 0x10]),
        (i64::from(i32::MIN) - 1, vec![0x81, 0x80, 0x80, 0x80, 0x10]),
        (i64::MAX, max),
        (i64::MIN, min),
    ];
    for (value, wire) in cases {
        let mut out = BytesMut::new();
        put_varlong(&mut out, value);
        assert_eq!(&out[..], &wire[..], "encoding of {value}");
        assert_eq!(varlong_len(value), wire.len());
        assert_eq!(read_varlong(&wire), Ok((value, wire.len())));
    }
    assert_eq!(MAX_VARLONG_LEN, 10);
}

#[test]
fn varint_rejects_overlong_and_truncated() {
    // Six bytes for an i32, and five whose last byte carries bits past 32.
    assert_eq!(
        read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        Err(CodecError::BadVarint)
    );
    assert_eq!(
        read_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]),
        Err(CodecError::BadVarint)
    );
    assert_eq!(
        read_varint(&[0x80, 0x80, 0x80, 0x80, 0x80]),
        Err(CodecError::BadVarint)
    );
    // Eleven bytes for an i64, and ten whose last byte carries bits past 64.
    assert_eq!(read_varlong(&[0x80; 11]), Err(CodecError::BadVarint));
    let mut too_wide = vec![0xff; 9];
    too_wide.push(0x02);
    assert_eq!(read_varlong(&too_wide), Err(CodecError::BadVarint));
    // Cut short.
    for cut in [&[][..], &[0x80], &[0xff, 0xff], &[0x80, 0x80, 0x80, 0x80]] {
        assert!(
            matches!(read_varint(cut), Err(CodecError::Truncated { .. })),
            "{cut:?}"
        );
        assert!(
            matches!(read_varlong(cut), Err(CodecError::Truncated { .. })),
            "{cut:?}"
        );
    }
    assert!(matches!(
        read_varlong(&[0x80; 9]),
        Err(CodecError::Truncated { .. })
    ));
    // Non-minimal encodings are accepted, as Kafka accepts them; trailing bytes are left alone.
    assert_eq!(read_varint(&[0x80, 0x00]), Ok((0, 2)));
    assert_eq!(read_varint(&[0x02, 0xff]), Ok((1, 1)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn varints_round_trip(v32 in any::<i32>(), v64 in any::<i64>()) {
        let mut out = BytesMut::new();
        put_varint(&mut out, v32);
        prop_assert_eq!(out.len(), varint_len(v32));
        prop_assert_eq!(read_varint(&out), Ok((v32, out.len())));
        let mut out = BytesMut::new();
        put_varlong(&mut out, v64);
        prop_assert_eq!(out.len(), varlong_len(v64));
        prop_assert_eq!(read_varlong(&out), Ok((v64, out.len())));
    }
}

// ---------------------------------------------------------------------------------------
// round trips

#[test]
fn round_trip_every_codec_and_timestamp_type() {
    let limits = Limits::default();
    let records = sample_records(1000);
    for codec in CODECS {
        for timestamp_type in [TimestampType::CreateTime, TimestampType::LogAppendTime] {
            let opts = EncodeOptions {
                timestamp_type,
                partition_leader_epoch: 3,
                ..options(1000, codec)
            };
            let batch = encode(&records, &opts);
            let parsed = RecordBatch::parse(batch.as_bytes().clone(), &limits).expect("parse");
            let header = parsed.header();
            assert_eq!(header.compression(), Ok(codec));
            assert_eq!(header.timestamp_type(), timestamp_type);
            assert_eq!(header.base_offset, 1000);
            assert_eq!(header.partition_leader_epoch, 3);
            assert_eq!(header.record_count, 6);
            assert_eq!(header.last_offset_delta, 1000);
            assert_eq!(parsed.last_offset(), 2000);
            assert_eq!(header.base_timestamp, 1_700_000_000_000);
            assert_eq!(header.max_timestamp, 1_700_000_001_000);
            assert_eq!(header.producer_id, NO_PRODUCER_ID);
            assert_eq!(header.base_sequence, NO_SEQUENCE);
            let decoded = parsed.records(&limits).expect("records");
            assert_eq!(
                decoded,
                expected(&records, timestamp_type, header.max_timestamp),
                "{codec:?} {timestamp_type:?}"
            );
        }
    }
}

#[test]
fn round_trip_large_batches_span_codec_blocks() {
    // ~3 MiB: several LZ4 64 KiB blocks, and more than one zstd/gzip internal block.
    let limits = Limits::default();
    let records: Vec<Record> = (0..3000)
        .map(|i| {
            let value: Vec<u8> = (0..1024).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
            rec(
                i,
                1_000 + i,
                b(format!("key-{i}").as_bytes()),
                Some(value.into()),
            )
        })
        .collect();
    for codec in CODECS {
        let batch = encode(&records, &options(0, codec));
        let parsed = RecordBatch::parse(batch.into_bytes(), &limits).expect("parse");
        assert_eq!(
            parsed.records(&limits).expect("records"),
            records,
            "{codec:?}"
        );
    }
}

#[test]
fn empty_batch_round_trips() {
    let limits = Limits::default();
    for codec in CODECS {
        let batch = encode(&[], &options(5, codec));
        assert_eq!(batch.header().record_count, 0);
        let parsed = RecordBatch::parse(batch.into_bytes(), &limits).expect("parse");
        assert_eq!(parsed.records(&limits), Ok(Vec::new()));
    }
}

#[test]
fn parse_keeps_bytes_byte_exact() {
    let limits = Limits::default();
    for codec in CODECS {
        let bytes = encode(&sample_records(0), &options(0, codec)).into_bytes();
        let parsed = RecordBatch::parse(bytes.clone(), &limits).expect("parse");
        assert_eq!(parsed.as_bytes(), &bytes);
        assert_eq!(parsed.len(), bytes.len());
        // Re-encoding what was decoded gives the same batch: the encoders are deterministic
        // and nothing is lost on the way through.
        let again = encode(
            &parsed.records(&limits).expect("records"),
            &options(0, codec),
        );
        assert_eq!(again.as_bytes(), &bytes, "{codec:?}");
        // from_stored takes the same bytes without recomputing anything.
        let stored = RecordBatch::from_stored(bytes.clone()).expect("from_stored");
        assert_eq!(stored, parsed);
    }
}

#[test]
fn uncompressed_records_share_the_batch_buffer() {
    let limits = Limits::default();
    let batch = encode(&sample_records(0), &options(0, Compression::None));
    let records = batch.records(&limits).expect("records");
    let range = batch.as_bytes().as_ptr_range();
    let value = records[5].value.as_ref().expect("value");
    assert!(
        range.contains(&value.as_ptr()),
        "value was copied instead of sliced"
    );
    let header = records[2].headers[0].value.as_ref().expect("header value");
    assert!(
        range.contains(&header.as_ptr()),
        "header value was copied instead of sliced"
    );
}

#[test]
fn split_reads_batches_back_to_back() {
    let limits = Limits::default();
    let first = encode(&sample_records(0), &options(0, Compression::None)).into_bytes();
    let second = encode(&sample_records(2000), &options(2000, Compression::Zstd)).into_bytes();
    let mut both = BytesMut::new();
    both.put_slice(&first);
    both.put_slice(&second);
    let both = both.freeze();
    let batches = RecordBatch::split(both.clone(), &limits).expect("split");
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].as_bytes(), &first);
    assert_eq!(batches[1].as_bytes(), &second);
    assert_eq!(
        batches[1].records(&limits).expect("records"),
        sample_records(2000)
    );
    assert_eq!(RecordBatch::split(Bytes::new(), &limits), Ok(Vec::new()));
    // A partial trailing batch is an error, not silently dropped.
    let cut = both.slice(..both.len() - 1);
    assert!(matches!(
        RecordBatch::split(cut, &limits),
        Err(CodecError::Truncated { .. })
    ));
}

#[test]
fn encode_rejects_offsets_that_do_not_fit() {
    let descending = vec![rec(5, 0, None, None), rec(4, 0, None, None)];
    assert!(RecordBatch::encode(&descending, &options(0, Compression::None)).is_err());
    let duplicate = vec![rec(5, 0, None, None), rec(5, 0, None, None)];
    assert!(RecordBatch::encode(&duplicate, &options(0, Compression::None)).is_err());
    let below_base = vec![rec(5, 0, None, None)];
    assert!(RecordBatch::encode(&below_base, &options(6, Compression::None)).is_err());
    let too_far = vec![rec(i64::from(i32::MAX) + 1, 0, None, None)];
    assert!(RecordBatch::encode(&too_far, &options(0, Compression::None)).is_err());
    let overflow = vec![rec(i64::MAX, 0, None, None)];
    assert!(RecordBatch::encode(&overflow, &options(i64::MIN, Compression::None)).is_err());
    let wild_timestamps = vec![rec(0, i64::MIN, None, None), rec(1, i64::MAX, None, None)];
    assert!(RecordBatch::encode(&wild_timestamps, &options(0, Compression::None)).is_err());
}

fn arb_bytes(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from))
}

fn arb_records() -> impl Strategy<Value = Vec<Record>> {
    // Header keys come from a small alphabet so that duplicates are common.
    let header = ("[ab\u{e9}]{0,2}", arb_bytes(8)).prop_map(|(k, v)| Header::new(k, v));
    let record = (
        1i64..1000,
        -100_000i64..100_000,
        arb_bytes(24),
        arb_bytes(200),
        proptest::collection::vec(header, 0..5),
    );
    proptest::collection::vec(record, 0..24).prop_map(|fields| {
        let mut offset = -1;
        fields
            .into_iter()
            .map(|(gap, ts, key, value, headers)| {
                offset += gap;
                Record {
                    offset,
                    timestamp: 1_700_000_000_000 + ts,
                    key,
                    value,
                    headers,
                }
            })
            .collect()
    })
}

fn arb_codec() -> impl Strategy<Value = Compression> {
    proptest::sample::select(CODECS.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_records_round_trip(
        records in arb_records(),
        codec in arb_codec(),
        log_append in any::<bool>(),
        base in 0i64..1 << 40,
    ) {
        let limits = Limits::default();
        let timestamp_type =
            if log_append { TimestampType::LogAppendTime } else { TimestampType::CreateTime };
        let records: Vec<Record> =
            records.into_iter().map(|r| Record { offset: r.offset + base, ..r }).collect();
        let opts = EncodeOptions { timestamp_type, ..options(base, codec) };
        let bytes = RecordBatch::encode(&records, &opts).expect("encode").into_bytes();
        let parsed = RecordBatch::parse(bytes.clone(), &limits).expect("parse");
        prop_assert_eq!(parsed.as_bytes(), &bytes);
        let decoded = parsed.records(&limits).expect("records");
        let max_timestamp = parsed.header().max_timestamp;
        prop_assert_eq!(decoded, expected(&records, timestamp_type, max_timestamp));
    }

    #[test]
    fn garbage_records_section_never_panics(
        section in proptest::collection::vec(any::<u8>(), 0..256),
        count in -2i32..40,
        codec in arb_codec(),
    ) {
        let limits = Limits::default();
        let bytes = raw_batch(0, codec.attribute_bits(), count, 0, &section);
        // Whatever the outcome, it is a value, not a panic; a negative count never parses.
        if let Ok(batch) = RecordBatch::parse(bytes, &limits) {
            prop_assert!(count >= 0);
            let _ = batch.records(&limits);
        }
    }
}

// ---------------------------------------------------------------------------------------
// corruption and truncation

#[test]
fn corrupting_any_covered_byte_is_detected() {
    let limits = Limits::default();
    for codec in CODECS {
        let bytes = encode(&sample_records(0)[..3], &options(0, codec)).into_bytes();
        for at in 17..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut corrupt = bytes.to_vec();
                corrupt[at] ^= flip;
                let result = RecordBatch::parse(Bytes::from(corrupt), &limits);
                match result {
                    Err(CodecError::CrcMismatch { .. }) => {}
                    // The compression bits are checked before the CRC.
                    Err(CodecError::UnknownCompression(_)) if (21..23).contains(&at) => {}
                    // So are the last offset delta and record count.
                    Err(CodecError::Negative { .. } | CodecError::TooLarge { .. })
                        if (23..27).contains(&at) || (57..61).contains(&at) => {}
                    other => panic!("{codec:?}: byte {at} ^ {flip:#x} gave {other:?}"),
                }
            }
        }
    }
}

#[test]
fn bytes_outside_the_crc_are_checked_or_free() {
    let limits = Limits::default();
    let bytes = encode(&sample_records(0), &options(0, Compression::None)).into_bytes();
    // Base offset and leader epoch are outside the CRC by design: the log patches them.
    for at in (0..8).chain(12..16) {
        let mut edited = bytes.to_vec();
        edited[at] ^= 0x01;
        assert!(
            RecordBatch::parse(Bytes::from(edited), &limits).is_ok(),
            "byte {at}"
        );
    }
    // The length and magic are checked on their own.
    for at in (8..12).chain(16..17) {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut edited = bytes.to_vec();
            edited[at] ^= flip;
            assert!(
                RecordBatch::parse(Bytes::from(edited), &limits).is_err(),
                "byte {at}"
            );
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let limits = Limits::default();
    for codec in CODECS {
        let bytes = encode(&sample_records(0)[..4], &options(0, codec)).into_bytes();
        for len in 0..bytes.len() {
            let cut = bytes.slice(..len);
            assert!(
                RecordBatch::parse(cut.clone(), &limits).is_err(),
                "{codec:?} {len}"
            );
            assert!(
                RecordBatch::from_stored(cut.clone()).is_err(),
                "{codec:?} {len}"
            );
            if len > 0 {
                assert!(RecordBatch::split(cut, &limits).is_err(), "{codec:?} {len}");
            }
        }
    }
}

#[test]
fn every_truncation_of_the_records_section_is_an_error() {
    // Cut the (possibly compressed) section and fix up length and CRC, so that parse
    // succeeds and only the records decoder can notice.
    let limits = Limits::default();
    for codec in CODECS {
        let bytes = encode(&sample_records(0)[..4], &options(0, codec)).into_bytes();
        for len in HEADER_LEN..bytes.len() {
            let mut cut = BytesMut::from(&bytes[..len]);
            reseal(&mut cut);
            let batch = RecordBatch::parse(cut.freeze(), &limits).expect("resealed batch parses");
            assert!(batch.records(&limits).is_err(), "{codec:?} cut at {len}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// hostile lengths and counts

#[test]
fn batch_length_field_is_checked() {
    let limits = Limits::default();
    let bytes = encode(&sample_records(0), &options(0, Compression::None)).into_bytes();
    let with_len = |len: i32| {
        let mut edited = bytes.to_vec();
        edited[8..12].copy_from_slice(&len.to_be_bytes());
        Bytes::from(edited)
    };
    assert!(matches!(
        RecordBatch::parse(with_len(-1), &limits),
        Err(CodecError::Negative {
            field: "batch length",
            ..
        })
    ));
    assert!(matches!(
        RecordBatch::parse(with_len(i32::MAX), &limits),
        Err(CodecError::TooLarge {
            field: "batch length",
            ..
        })
    ));
    assert!(matches!(
        RecordBatch::parse(with_len(10), &limits),
        Err(CodecError::Inconsistent(_))
    ));
    // One byte more than the input holds, and one less.
    let actual = (bytes.len() - LOG_OVERHEAD) as i32;
    assert!(RecordBatch::parse(with_len(actual + 1), &limits).is_err());
    assert!(RecordBatch::parse(with_len(actual - 1), &limits).is_err());
    assert!(RecordBatch::split(with_len(actual + 1), &limits).is_err());
    assert!(RecordBatch::from_stored(with_len(actual + 1)).is_err());
    assert!(RecordBatch::from_stored(with_len(-1)).is_err());

    // The batch size limit, exactly and one byte over.
    let exact = Limits {
        max_batch_bytes: bytes.len(),
        ..limits
    };
    assert!(RecordBatch::parse(bytes.clone(), &exact).is_ok());
    let under = Limits {
        max_batch_bytes: bytes.len() - 1,
        ..limits
    };
    assert!(matches!(
        RecordBatch::parse(bytes.clone(), &under),
        Err(CodecError::TooLarge {
            field: "batch length",
            ..
        })
    ));
    assert!(matches!(
        RecordBatch::split(bytes, &under),
        Err(CodecError::TooLarge {
            field: "batch length",
            ..
        })
    ));
}

#[test]
fn record_count_is_checked() {
    let limits = Limits::default();
    let section = framed(&record_body(0, &[]));
    assert_eq!(decode_section(1, &section).map(|r| r.len()), Ok(1));
    for count in [-1, i32::MIN] {
        assert!(matches!(
            RecordBatch::parse(raw_batch(0, 0, count, 0, &section), &limits),
            Err(CodecError::Negative {
                field: "record count",
                ..
            })
        ));
    }
    // The limit, exactly and one over.
    let ten: Vec<Record> = (0..10).map(|i| rec(i, 0, None, None)).collect();
    let bytes = encode(&ten, &options(0, Compression::None)).into_bytes();
    let exact = Limits {
        max_records: 10,
        ..limits
    };
    let batch = RecordBatch::parse(bytes.clone(), &exact).expect("ten records at a limit of ten");
    assert_eq!(batch.records(&exact).map(|r| r.len()), Ok(10));
    let under = Limits {
        max_records: 9,
        ..limits
    };
    assert!(matches!(
        RecordBatch::parse(bytes.clone(), &under),
        Err(CodecError::TooLarge {
            field: "record count",
            ..
        })
    ));
    // from_stored does not check counts, so records() does.
    let stored = RecordBatch::from_stored(bytes).expect("from_stored");
    assert!(matches!(
        stored.records(&under),
        Err(CodecError::TooLarge {
            field: "record count",
            ..
        })
    ));
    let negative = RecordBatch::from_stored(raw_batch(0, 0, -1, 0, &section)).expect("stored");
    assert!(matches!(
        negative.records(&limits),
        Err(CodecError::Negative { .. })
    ));

    // A count far beyond what the bytes hold must fail without reserving for the count:
    // a Vec<Record> sized from i32::MAX would be >100 GiB and abort the test process.
    let unlimited = Limits {
        max_records: usize::MAX,
        ..limits
    };
    let batch =
        RecordBatch::parse(raw_batch(0, 0, i32::MAX, 0, &section), &unlimited).expect("parse");
    assert_eq!(
        batch.records(&unlimited),
        Err(CodecError::Inconsistent(
            "record count is larger than the records present"
        ))
    );
    assert!(matches!(
        decode_section(2, &section),
        Err(CodecError::Inconsistent(_))
    ));
    assert!(matches!(
        decode_section(1, &[]),
        Err(CodecError::Inconsistent(_))
    ));
    // And fewer records claimed than present leaves trailing bytes.
    let two = [section.clone(), section.clone()].concat();
    assert_eq!(
        decode_section(1, &two),
        Err(CodecError::Inconsistent("bytes left after the last record"))
    );
    assert_eq!(
        decode_section(0, &section),
        Err(CodecError::Inconsistent("bytes left after the last record"))
    );
}

#[test]
fn hostile_record_fields_are_rejected() {
    let body = record_body(0, &[]);

    // Record length: negative, huge, one short and one long.
    let mut huge = BytesMut::new();
    put_varint(&mut huge, i32::MAX);
    huge.put_slice(&body);
    assert!(matches!(
        decode_section(1, &huge),
        Err(CodecError::Truncated { .. })
    ));
    let mut negative = BytesMut::new();
    put_varint(&mut negative, -1);
    negative.put_slice(&body);
    assert!(matches!(
        decode_section(1, &negative),
        Err(CodecError::Negative {
            field: "record length",
            ..
        })
    ));
    let mut short = BytesMut::new();
    put_varint(&mut short, body.len() as i32 - 1);
    short.put_slice(&body);
    assert!(decode_section(1, &short).is_err());
    let mut long = body.clone();
    long.push(0);
    assert_eq!(
        decode_section(1, &framed(&long)),
        Err(CodecError::Inconsistent(
            "record length does not match its contents"
        ))
    );
    // A record whose length prefix is a malformed varint.
    assert_eq!(decode_section(1, &[0xff; 6]), Err(CodecError::BadVarint));

    // Key and value lengths.
    let with_key_len = |len: i32, value_len: i32| {
        let mut out = BytesMut::new();
        out.put_i8(0);
        put_varlong(&mut out, 0);
        put_varint(&mut out, 0);
        put_varint(&mut out, len);
        put_varint(&mut out, value_len);
        put_varint(&mut out, 0);
        framed(&out)
    };
    assert_eq!(
        decode_section(1, &with_key_len(-1, -1)).map(|r| r.len()),
        Ok(1)
    );
    assert!(matches!(
        decode_section(1, &with_key_len(-2, -1)),
        Err(CodecError::Negative {
            field: "key length",
            value: -2
        })
    ));
    assert!(matches!(
        decode_section(1, &with_key_len(-1, i32::MIN)),
        Err(CodecError::Negative {
            field: "value length",
            ..
        })
    ));
    assert!(matches!(
        decode_section(1, &with_key_len(i32::MAX, -1)),
        Err(CodecError::Truncated { .. })
    ));
    assert!(matches!(
        decode_section(1, &with_key_len(-1, i32::MAX)),
        Err(CodecError::Truncated { .. })
    ));

    // Header count: negative, and huge (no reservation sized from it: a Vec<Header> of
    // i32::MAX entries would be ~100 GiB).
    assert!(matches!(
        decode_section(1, &framed(&record_body(-1, &[]))),
        Err(CodecError::Negative {
            field: "header count",
            ..
        })
    ));
    assert!(matches!(
        decode_section(1, &framed(&record_body(i32::MAX, &[]))),
        Err(CodecError::Truncated { .. })
    ));
    assert!(decode_section(1, &framed(&record_body(2, &[0x02, b'k', 0x01]))).is_err());

    // Header fields.
    let header = |key_len: i32, key: &[u8], value_len: i32, value: &[u8]| {
        let mut out = BytesMut::new();
        put_varint(&mut out, key_len);
        out.put_slice(key);
        put_varint(&mut out, value_len);
        out.put_slice(value);
        framed(&record_body(1, &out))
    };
    let ok = decode_section(1, &header(1, b"k", 1, b"v")).expect("valid header");
    assert_eq!(ok[0].headers, vec![Header::new("k", b(b"v"))]);
    let null = decode_section(1, &header(1, b"k", -1, b"")).expect("null header value");
    assert_eq!(null[0].headers, vec![Header::new("k", None)]);
    assert!(matches!(
        decode_section(1, &header(-1, b"", 1, b"v")),
        Err(CodecError::Negative {
            field: "header key length",
            ..
        })
    ));
    assert!(matches!(
        decode_section(1, &header(1, b"k", -2, b"")),
        Err(CodecError::Negative {
            field: "header value length",
            ..
        })
    ));
    assert!(matches!(
        decode_section(1, &header(i32::MAX, b"k", 1, b"v")),
        Err(CodecError::Truncated { .. })
    ));
    assert!(matches!(
        decode_section(1, &header(1, b"k", i32::MAX, b"v")),
        Err(CodecError::Truncated { .. })
    ));
    assert_eq!(
        decode_section(1, &header(2, &[0xc3, 0x28], 1, b"v")),
        Err(CodecError::InvalidHeaderKey)
    );

    // Over-long varints inside a record.
    let mut overlong = BytesMut::new();
    overlong.put_i8(0);
    overlong.put_slice(&[0xff; 11]);
    assert_eq!(
        decode_section(1, &framed(&overlong)),
        Err(CodecError::BadVarint)
    );
}

#[test]
fn a_field_cannot_read_into_the_next_record() {
    // The first record's length stops one byte before its header count; the byte that
    // follows belongs to the next record and must not be taken for it.
    let body = record_body(0, &[]);
    let mut section = BytesMut::new();
    put_varint(&mut section, body.len() as i32 - 1);
    section.put_slice(&body[..body.len() - 1]);
    section.put_slice(&framed(&body));
    assert!(matches!(
        decode_section(2, &section),
        Err(CodecError::Truncated { .. })
    ));
}

#[test]
fn offsets_and_timestamps_that_overflow_are_rejected() {
    let limits = Limits::default();
    let mut body = BytesMut::new();
    body.put_i8(0);
    put_varlong(&mut body, 1);
    put_varint(&mut body, 1);
    put_varint(&mut body, -1);
    put_varint(&mut body, -1);
    put_varint(&mut body, 0);
    let section = framed(&body);
    let high_offset =
        RecordBatch::parse(raw_batch(i64::MAX, 0, 1, 0, &section), &limits).expect("parse");
    assert_eq!(
        high_offset.records(&limits),
        Err(CodecError::Inconsistent("record offset overflows"))
    );
    let high_time =
        RecordBatch::parse(raw_batch(0, 0, 1, i64::MAX, &section), &limits).expect("parse");
    assert_eq!(
        high_time.records(&limits),
        Err(CodecError::Inconsistent("record timestamp overflows"))
    );
}

#[test]
fn offset_deltas_must_ascend_within_the_batch_range() {
    let limits = Limits::default();
    let with_delta = |delta: i32| {
        let mut body = BytesMut::new();
        body.put_i8(0);
        put_varlong(&mut body, 0);
        put_varint(&mut body, delta);
        put_varint(&mut body, -1);
        put_varint(&mut body, -1);
        put_varint(&mut body, 0);
        framed(&body)
    };
    let decode_with_last = |deltas: &[i32], last_offset_delta: i32| {
        let section: Vec<u8> = deltas.iter().flat_map(|&d| with_delta(d)).collect();
        let mut bytes = BytesMut::from(&raw_batch(100, 0, deltas.len() as i32, 0, &section)[..]);
        bytes[23..27].copy_from_slice(&last_offset_delta.to_be_bytes());
        reseal(&mut bytes);
        let batch = RecordBatch::parse(bytes.freeze(), &limits).expect("parse");
        batch
            .records(&limits)
            .map(|r| r.iter().map(|r| r.offset).collect::<Vec<_>>())
    };
    let decode = |deltas: &[i32]| decode_with_last(deltas, deltas.len() as i32 - 1);
    assert_eq!(decode(&[0, 1, 2]), Ok(vec![100, 101, 102]));
    // Gaps, and a last offset delta past the last record, are what compaction leaves.
    assert_eq!(
        decode_with_last(&[0, 2, 3, 4], 4),
        Ok(vec![100, 102, 103, 104])
    );
    assert_eq!(decode_with_last(&[1, 3], 9), Ok(vec![101, 103]));
    let out_of_order = Err(CodecError::Inconsistent(
        "record offsets must ascend within the batch's offset range",
    ));
    assert_eq!(decode(&[-1, 0]), out_of_order, "below the base offset");
    assert_eq!(decode(&[1, 0]), out_of_order, "descending");
    assert_eq!(decode(&[0, 0]), out_of_order, "repeated");
    assert_eq!(decode(&[0, 2]), out_of_order, "past last_offset_delta");
    assert_eq!(
        decode(&[0, i32::MAX]),
        out_of_order,
        "far past last_offset_delta"
    );
}

#[test]
fn header_offsets_at_the_edge_do_not_panic() {
    let limits = Limits::default();
    let section = framed(&record_body(0, &[]));
    let mut bytes = BytesMut::from(&raw_batch(i64::MAX, 0, 1, 0, &section)[..]);
    bytes[23..27].copy_from_slice(&i32::MAX.to_be_bytes()); // last offset delta
    reseal(&mut bytes);
    let batch = RecordBatch::parse(bytes.freeze(), &limits).expect("parse");
    assert_eq!(batch.last_offset(), i64::MAX);
    let records = batch
        .records(&limits)
        .expect("offset i64::MAX itself is representable");
    assert_eq!(records[0].offset, i64::MAX);
}

// ---------------------------------------------------------------------------------------
// compression

#[test]
fn compression_limit_is_exact() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 97) as u8).collect();
    for codec in CODECS {
        let packed = compress(codec, &data).expect("compress");
        assert_eq!(
            decompress(codec, &packed, data.len()).as_deref(),
            Ok(&data[..]),
            "{codec:?}"
        );
        match decompress(codec, &packed, data.len() - 1) {
            Err(CodecError::TooLarge {
                field: "uncompressed records",
                value,
                limit,
            }) => {
                assert_eq!(limit, data.len() as u64 - 1, "{codec:?}");
                assert!(value > limit, "{codec:?}");
            }
            other => panic!("{codec:?}: {other:?}"),
        }
    }
}

#[test]
fn compressed_garbage_is_an_error() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        for garbage in [&b"not compressed at all"[..], &[0xff; 64], &[0x00; 64]] {
            let result = decompress(codec, garbage, 1 << 20);
            assert!(
                matches!(result, Err(CodecError::Decompress { .. })),
                "{codec:?} {garbage:?}: {result:?}"
            );
        }
    }
}

#[test]
fn lz4_frames_use_independent_blocks() {
    let packed = compress(Compression::Lz4, &[1; 1000]).expect("compress");
    assert_eq!(&packed[..4], &[0x04, 0x22, 0x4d, 0x18], "LZ4 frame magic");
    let flags = packed[4];
    assert_ne!(
        flags & 0x20,
        0,
        "Kafka readers need the block-independence flag"
    );
    assert_eq!(
        flags & 0x04,
        0,
        "no content checksum, like librdkafka and Java"
    );
    assert_eq!(packed[5] & 0x70, 0x40, "64 KiB maximum block size");
}

#[test]
fn lz4_input_must_be_exactly_one_whole_frame() {
    let data = vec![9u8; 200_000];
    let frame = compress(Compression::Lz4, &data)
        .expect("compress")
        .to_vec();
    assert_eq!(
        decompress(Compression::Lz4, &frame, data.len()).as_deref(),
        Ok(&data[..])
    );
    let rejected = |bytes: &[u8], what: &str| {
        let result = decompress(Compression::Lz4, bytes, 1 << 20);
        assert!(
            matches!(result, Err(CodecError::Decompress { .. })),
            "{what}: {result:?}"
        );
    };
    // lz4_flex alone would accept the first two and read on into the third.
    rejected(&frame[..frame.len() - 4], "no end mark");
    rejected(&frame[..frame.len() - 2], "half an end mark");
    rejected(&[&frame[..], &frame[..]].concat(), "two frames");
    rejected(&[&frame[..], &[0]].concat(), "trailing byte");
    rejected(&frame[..6], "header cut short");
    let mut legacy = frame.clone();
    legacy[..4].copy_from_slice(&0x184C_2102u32.to_le_bytes());
    rejected(&legacy, "legacy LZ4 format");
}

#[test]
fn zstd_window_is_capped_by_the_output_limit() {
    // A frame that asks for a 16 MiB window although its content is tiny: the decoder would
    // allocate the whole window, so it is refused when the output limit is small.
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
    encoder.window_log(24).expect("window log");
    encoder.write_all(&[5; 1000]).expect("write");
    let frame = encoder.finish().expect("finish");
    assert!(matches!(
        decompress(Compression::Zstd, &frame, 1 << 20),
        Err(CodecError::Decompress { .. })
    ));
    assert_eq!(
        decompress(Compression::Zstd, &frame, 64 << 20).as_deref(),
        Ok(&[5; 1000][..])
    );
}

#[test]
fn snappy_writes_raw_blocks_and_reads_xerial_framing() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let raw = compress(Compression::Snappy, &data).expect("compress");
    assert_eq!(
        snap::raw::Decoder::new().decompress_vec(&raw).expect("raw"),
        data
    );

    // Xerial framing as Java's SnappyOutputStream writes it: 32 KiB chunks.
    let mut framed = BytesMut::new();
    framed.put_slice(b"\x82SNAPPY\x00");
    framed.put_i32(1);
    framed.put_i32(1);
    for chunk in data.chunks(32 * 1024) {
        let block = snap::raw::Encoder::new()
            .compress_vec(chunk)
            .expect("chunk");
        framed.put_i32(block.len() as i32);
        framed.put_slice(&block);
    }
    assert_eq!(
        decompress(Compression::Snappy, &framed, data.len()).as_deref(),
        Ok(&data[..])
    );
    assert!(matches!(
        decompress(Compression::Snappy, &framed, data.len() - 1),
        Err(CodecError::TooLarge {
            field: "uncompressed records",
            ..
        })
    ));
    // Header only: an empty stream.
    assert_eq!(
        decompress(Compression::Snappy, &framed[..16], 10).as_deref(),
        Ok(&b""[..])
    );

    let malformed = |bytes: &[u8]| {
        matches!(
            decompress(Compression::Snappy, bytes, 1 << 20),
            Err(CodecError::Decompress { .. })
        )
    };
    assert!(malformed(&framed[..12]), "short header");
    assert!(malformed(&framed[..18]), "cut chunk length");
    assert!(malformed(&framed[..framed.len() - 1]), "cut chunk");
    let mut negative = BytesMut::from(&framed[..16]);
    negative.put_i32(-5);
    assert!(malformed(&negative), "negative chunk length");
    let mut bad_block = BytesMut::from(&framed[..16]);
    bad_block.put_i32(3);
    bad_block.put_slice(&[0x05, 0xff, 0xff]);
    assert!(malformed(&bad_block), "corrupt block");
}

/// A raw Snappy block of `len` zeros built by hand (one literal, then 64-byte copies), so
/// a 100 MiB bomb costs no time to make.
fn snappy_zeros(len: usize) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut header = len;
    while header >= 0x80 {
        out.put_u8((header as u8 & 0x7f) | 0x80);
        header >>= 7;
    }
    out.put_u8(header as u8);
    out.put_slice(&[0x00, 0x00]); // literal of one byte: 0
    let mut left = len - 1;
    while left > 0 {
        let n = left.min(64);
        // A copy with a 2-byte offset of 1: tag = (n - 1) << 2 | 0b10.
        out.put_u8(((n as u8 - 1) << 2) | 0b10);
        out.put_u16_le(1);
        left -= n;
    }
    out.to_vec()
}

/// A 100 MiB decompression bomb for each codec, made cheaply by repeating a compressed
/// piece in ways each format allows (concatenated gzip members, repeated LZ4 blocks in one
/// frame, concatenated zstd frames, repeated xerial chunks), so debug-build tests stay fast.
/// `total` must be a multiple of `piece`, and `piece` of 32 KiB.
fn bombs(total: usize, piece: usize) -> Vec<(Compression, &'static str, Vec<u8>)> {
    let zeros = vec![0u8; piece];
    let repeats = total / piece;

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros).expect("gzip");
    let member = gz.finish().expect("gzip");
    let gzip = member.repeat(repeats);

    let info = lz4_flex::frame::FrameInfo::new()
        .block_size(lz4_flex::frame::BlockSize::Max4MB)
        .block_mode(lz4_flex::frame::BlockMode::Independent);
    let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
    enc.write_all(&zeros).expect("lz4");
    let frame = enc.finish().expect("lz4");
    // Frame = 7-byte header, blocks, 4-byte end mark: repeat the blocks.
    let (head, rest) = frame.split_at(7);
    let blocks = &rest[..rest.len() - 4];
    let lz4 = [head, &blocks.repeat(repeats), &[0, 0, 0, 0]].concat();

    let zstd = zstd::bulk::compress(&zeros, 3)
        .expect("zstd")
        .repeat(repeats);

    let mut xerial = BytesMut::new();
    xerial.put_slice(b"\x82SNAPPY\x00");
    xerial.put_i32(1);
    xerial.put_i32(1);
    let chunk = snap::raw::Encoder::new()
        .compress_vec(&zeros[..32 * 1024])
        .expect("snappy");
    for _ in 0..total / (32 * 1024) {
        xerial.put_i32(chunk.len() as i32);
        xerial.put_slice(&chunk);
    }

    vec![
        (Compression::Gzip, "gzip members", gzip),
        (Compression::Lz4, "lz4 frame", lz4),
        (Compression::Zstd, "zstd frame", zstd),
        (Compression::Snappy, "raw snappy", snappy_zeros(total)),
        (Compression::Snappy, "xerial snappy", xerial.to_vec()),
    ]
}

#[test]
fn bomb_builders_make_what_they_claim() {
    // The cheap constructions decode to the zeros they stand for; checked at 2 MiB so the
    // full decode stays quick.
    const TOTAL: usize = 2 << 20;
    for (codec, what, bomb) in bombs(TOTAL, 512 << 10) {
        let out = decompress(codec, &bomb, TOTAL).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(out.len(), TOTAL, "{what}");
        assert!(out.iter().all(|&b| b == 0), "{what}");
    }
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    let limits = Limits {
        max_uncompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    for (codec, what, bomb) in bombs(100 << 20, 4 << 20) {
        assert!(
            bomb.len() < limits.max_batch_bytes,
            "{what} is {} bytes",
            bomb.len()
        );
        let batch = RecordBatch::parse(raw_batch(0, codec.attribute_bits(), 1, 0, &bomb), &limits)
            .expect("parse");
        match batch.records(&limits) {
            Err(CodecError::TooLarge {
                field: "uncompressed records",
                value,
                limit,
            }) => {
                assert_eq!(limit, 1 << 20, "{what}");
                assert!(value > 1 << 20, "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// patching the header

#[test]
fn assign_keeps_the_crc_valid() {
    let limits = Limits::default();
    for codec in CODECS {
        let mut batch = encode(&sample_records(0), &options(0, codec));
        let crc = batch.header().crc;
        // Once with another handle to the bytes alive (copy path), once without.
        let shared = batch.as_bytes().clone();
        batch.assign(5000, 9);
        assert_eq!(
            &shared[0..8],
            &0i64.to_be_bytes(),
            "the other handle is untouched"
        );
        drop(shared);
        batch.assign(10_000, 7);
        assert_eq!(batch.header().crc, crc);
        batch.verify_crc().expect("crc");
        let reparsed = RecordBatch::parse(batch.as_bytes().clone(), &limits).expect("parse");
        assert_eq!(reparsed.header(), batch.header());
        assert_eq!(reparsed.base_offset(), 10_000);
        assert_eq!(reparsed.header().partition_leader_epoch, 7);
        assert_eq!(reparsed.last_offset(), 11_000);
        let offsets: Vec<Offset> = reparsed
            .records(&limits)
            .expect("records")
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(
            offsets,
            vec![10_000, 10_001, 10_002, 10_007, 10_008, 11_000]
        );
    }
}

#[test]
fn stamp_log_append_time_rewrites_timestamps_and_crc() {
    let limits = Limits::default();
    let records = sample_records(0);
    for codec in CODECS {
        let mut batch = encode(&records, &options(0, codec));
        assert_eq!(batch.header().timestamp_type(), TimestampType::CreateTime);
        batch.stamp_log_append_time(1_800_000_000_000);
        batch.verify_crc().expect("crc");
        let reparsed = RecordBatch::parse(batch.as_bytes().clone(), &limits).expect("parse");
        assert_eq!(reparsed.header(), batch.header());
        let header = reparsed.header();
        assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(header.max_timestamp, 1_800_000_000_000);
        assert_eq!(header.compression(), Ok(codec));
        let decoded = reparsed.records(&limits).expect("records");
        assert_eq!(decoded.len(), records.len());
        assert!(decoded.iter().all(|r| r.timestamp == 1_800_000_000_000));
        assert_eq!(
            decoded,
            expected(&records, TimestampType::LogAppendTime, 1_800_000_000_000)
        );
    }
}
