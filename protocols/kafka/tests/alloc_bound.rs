//! A request whose array counts ask for gigabytes is refused without allocating them.
//!
//! The global allocator here refuses any allocation that takes the process more than `BUDGET`
//! above what it held before; a refused allocation aborts the test binary. One test function,
//! so no other test allocates meanwhile.

mod support;

use std::alloc::System;

use bytes::{BufMut, Bytes, BytesMut};
use cap::Cap;
use hubgate_kafka::Outcome;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const BUDGET: usize = 16 << 20;

/// An unsigned varint, as flexible versions write compact lengths (length + 1).
fn uvarint(buf: &mut BytesMut, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn header(api: i16, version: i16, flexible: bool) -> BytesMut {
    let mut buf = BytesMut::new();
    buf.put_i16(api);
    buf.put_i16(version);
    buf.put_i32(1);
    buf.put_i16(-1); // null client id
    if flexible {
        buf.put_u8(0); // no tagged fields
    }
    buf
}

#[tokio::test(flavor = "current_thread")]
async fn huge_array_counts_are_not_preallocated() {
    let h = support::handler();
    let mut hostile: Vec<Bytes> = Vec::new();
    // Metadata v0: topics count i32::MAX, nothing after.
    let mut m = header(3, 0, false);
    m.put_i32(i32::MAX);
    hostile.push(m.freeze());
    // Metadata v12 (flexible): compact array count u32::MAX as a varint.
    let mut m = header(3, 12, true);
    m.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    hostile.push(m.freeze());
    // Produce v9: one topic whose partition count is i32::MAX... as a compact varint.
    let mut p = header(0, 9, true);
    p.put_u8(0); // null transactional id
    p.put_i16(-1);
    p.put_i32(1000);
    p.put_u8(2); // one topic
    p.put_u8(2);
    p.put_u8(b't');
    p.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]);
    hostile.push(p.freeze());
    // Fetch v4: topics count i32::MAX.
    let mut f = header(1, 4, false);
    f.put_i32(-1);
    f.put_i32(0);
    f.put_i32(0);
    f.put_i32(1 << 20);
    f.put_i8(0);
    f.put_i32(i32::MAX);
    hostile.push(f.freeze());
    // CreateTopics v4: one topic, one assignment, broker ids count i32::MAX (three deep).
    let mut c = header(19, 4, false);
    c.put_i32(1);
    c.put_i16(1);
    c.put_u8(b't');
    c.put_i32(1);
    c.put_i16(1);
    c.put_i32(1);
    c.put_i32(0);
    c.put_i32(i32::MAX);
    hostile.push(c.freeze());
    // CreateTopics v7 (flexible): the same with compact counts.
    let mut c = header(19, 7, true);
    c.put_u8(2);
    c.put_u8(2);
    c.put_u8(b't');
    c.put_i32(1);
    c.put_i16(1);
    c.put_u8(2);
    c.put_i32(0);
    uvarint(&mut c, u32::MAX);
    hostile.push(c.freeze());
    // ListOffsets v1: one topic with i32::MAX partitions.
    let mut l = header(2, 1, false);
    l.put_i32(-1);
    l.put_i32(1);
    l.put_i16(1);
    l.put_u8(b't');
    l.put_i32(i32::MAX);
    hostile.push(l.freeze());
    // DescribeConfigs v4 (flexible): one resource with u32::MAX - 1 configuration keys.
    let mut d = header(32, 4, true);
    d.put_u8(2);
    d.put_i8(2);
    d.put_u8(2);
    d.put_u8(b't');
    uvarint(&mut d, u32::MAX);
    hostile.push(d.freeze());
    // IncrementalAlterConfigs v0: one resource with i32::MAX configs.
    let mut i = header(44, 0, false);
    i.put_i32(1);
    i.put_i8(2);
    i.put_i16(1);
    i.put_u8(b't');
    i.put_i32(i32::MAX);
    hostile.push(i.freeze());
    // DeleteRecords v2 (flexible), OffsetForLeaderEpoch v3: partitions counts.
    let mut r = header(21, 2, true);
    r.put_u8(2);
    r.put_u8(2);
    r.put_u8(b't');
    uvarint(&mut r, 1 << 30);
    hostile.push(r.freeze());
    let mut o = header(23, 3, false);
    o.put_i32(-1);
    o.put_i32(1);
    o.put_i16(1);
    o.put_u8(b't');
    o.put_i32(i32::MAX);
    hostile.push(o.freeze());
    // FindCoordinator v4 (flexible): u32::MAX - 1 coordinator keys.
    let mut k = header(10, 4, true);
    k.put_i8(0);
    uvarint(&mut k, u32::MAX);
    hostile.push(k.freeze());
    // Flexible tagged fields: a header tagged field of 2^28 bytes, then a huge topics count.
    let mut t = header(3, 12, false);
    t.put_u8(1);
    t.put_u8(0);
    uvarint(&mut t, 1 << 28);
    uvarint(&mut t, u32::MAX);
    hostile.push(t.freeze());
    // Produce v9: a body tagged-field count of u32::MAX after no topics.
    let mut t = header(0, 9, true);
    t.put_u8(0);
    t.put_i16(-1);
    t.put_i32(1000);
    t.put_u8(1);
    uvarint(&mut t, u32::MAX);
    hostile.push(t.freeze());
    // Fetch v12: a known tagged field (cluster id) declared as 1 byte whose content needs more,
    // followed by a topic whose partition count is huge.
    let mut t = header(1, 12, true);
    t.put_slice(&[0; 25]);
    t.put_u8(2);
    t.put_u8(2);
    t.put_u8(b't');
    uvarint(&mut t, u32::MAX);
    hostile.push(t.freeze());
    let mut t = header(1, 12, true);
    t.put_slice(&[0; 25]);
    t.put_slice(&[1, 1, 0]); // no topics, no forgotten topics, null rack id
    t.put_slice(&[1, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    hostile.push(t.freeze());
    for frame in hostile {
        let copy = frame.clone();
        ALLOCATOR.set_limit(ALLOCATOR.allocated() + BUDGET).unwrap();
        let outcome = h.handle(frame).await;
        ALLOCATOR.set_limit(usize::MAX).unwrap();
        assert!(
            matches!(outcome, Outcome::Close(_)),
            "{copy:?}: {outcome:?}"
        );
    }
}
