//! Peer-controlled sizes never make the codec allocate beyond its limits.
//!
//! The global allocator here refuses any allocation that would take the process more than
//! `BUDGET` above what it held before each hostile input is decoded; a refused allocation
//! aborts the test binary with "memory allocation of N bytes failed". Every hostile input must
//! instead come back as an error. One test function, so no other test allocates meanwhile.

use std::alloc::System;
use std::io::Write;

use bytes::{BufMut, Bytes, BytesMut};
use cap::Cap;
use hubgate_storage::{Compression, Limits, RecordBatch};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Headroom for one decode: far below what the hostile lengths ask for (up to 2 GiB and more),
/// above the 1 MiB limits below plus the LZ4 frame decoder's own buffers (a frame may declare
/// 4 MiB blocks; the decoder holds a compressed and a decompressed block).
const BUDGET: usize = 16 << 20;

const LIMITS: Limits = Limits {
    max_batch_bytes: 1 << 20,
    max_records: 1 << 20,
    max_uncompressed_bytes: 1 << 20,
};

fn zigzag(value: i64, out: &mut BytesMut) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        if v < 0x80 {
            out.put_u8(v as u8);
            return;
        }
        out.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
}

/// A batch header + `body` with a correct CRC, claiming `count` records.
fn raw_batch(body: &[u8], count: i32, compression: Compression) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i64(0);
    out.put_i32((49 + body.len()) as i32);
    out.put_i32(0);
    out.put_i8(2);
    out.put_u32(0);
    out.put_i16(compression.attribute_bits());
    out.put_i32(count.max(1) - 1);
    out.put_i64(0);
    out.put_i64(0);
    out.put_i64(-1);
    out.put_i16(-1);
    out.put_i32(-1);
    out.put_i32(count);
    out.extend_from_slice(body);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out.freeze()
}

/// One record whose fields are given as raw varint values (lengths can lie).
fn record(length: i64, key_len: i64, value_len: i64, headers: i64) -> BytesMut {
    let mut r = BytesMut::new();
    zigzag(length, &mut r);
    r.put_u8(0); // attributes
    zigzag(0, &mut r); // timestamp delta
    zigzag(0, &mut r); // offset delta
    zigzag(key_len, &mut r);
    zigzag(value_len, &mut r);
    zigzag(headers, &mut r);
    r
}

fn compress(codec: Compression, data: &[u8]) -> Vec<u8> {
    match codec {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
        Compression::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Snappy => snap::raw::Encoder::new().compress_vec(data).unwrap(),
        Compression::None => data.to_vec(),
    }
}

/// Decodes `input` fully (split, then records) under the allocation budget; it must fail.
fn refused(name: &str, input: Bytes) {
    ALLOCATOR.set_limit(ALLOCATOR.allocated() + BUDGET).unwrap();
    let result = RecordBatch::split(input, &LIMITS).and_then(|batches| {
        batches
            .iter()
            .try_for_each(|b| b.records(&LIMITS).map(drop))
    });
    ALLOCATOR.set_limit(usize::MAX).unwrap();
    assert!(result.is_err(), "{name}: hostile input was accepted");
}

#[test]
fn hostile_sizes_are_refused_within_the_allocation_budget() {
    let mut cases: Vec<(String, Bytes)> = Vec::new();

    // Batch length field: huge, negative, and longer than the input.
    let mut header = raw_batch(&record(7, -1, -1, 0), 1, Compression::None).to_vec();
    header[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    cases.push(("batch length i32::MAX".into(), Bytes::from(header.clone())));
    header[8..12].copy_from_slice(&(-1i32).to_be_bytes());
    cases.push(("negative batch length".into(), Bytes::from(header.clone())));
    header[8..12].copy_from_slice(&((1i32 << 20) - 12).to_be_bytes());
    cases.push(("batch length past the input".into(), Bytes::from(header)));

    // Record counts: over the limit, negative, and within the limit but with no records.
    let one = record(7, -1, -1, 0);
    cases.push((
        "record count i32::MAX".into(),
        raw_batch(&one, i32::MAX, Compression::None),
    ));
    cases.push((
        "negative record count".into(),
        raw_batch(&one, -5, Compression::None),
    ));
    cases.push((
        "a million records announced, one present".into(),
        raw_batch(&one, 1 << 20, Compression::None),
    ));

    // Lengths inside a record.
    for (name, r) in [
        ("record length i64::MAX", record(i64::MAX, -1, -1, 0)),
        ("record length negative", record(-7, -1, -1, 0)),
        ("key length i32::MAX", record(20, i32::MAX as i64, -1, 0)),
        ("key length -2", record(7, -2, -1, 0)),
        ("value length i32::MAX", record(20, -1, i32::MAX as i64, 0)),
        ("header count i32::MAX", record(7, -1, -1, i32::MAX as i64)),
        ("header count negative", record(7, -1, -1, -3)),
    ] {
        cases.push((name.into(), raw_batch(&r, 1, Compression::None)));
    }
    // A varint that never ends.
    let mut endless = BytesMut::new();
    endless.put_bytes(0xff, 64);
    cases.push((
        "unterminated varint".into(),
        raw_batch(&endless, 1, Compression::None),
    ));

    // Decompression bombs: 64 MiB of zeros behind every codec, limit 1 MiB.
    let zeros = vec![0u8; 64 << 20];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bomb = compress(codec, &zeros);
        cases.push((format!("{codec:?} bomb"), raw_batch(&bomb, 1, codec)));
    }
    drop(zeros);

    for (name, input) in cases {
        eprintln!("decoding: {name}");
        refused(&name, input);
    }
}
