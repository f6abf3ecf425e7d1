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
#[ignore = "kafka-protocol 0.18.0 preallocates wire array counts; see docs/KAFKA.md"]
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
    for frame in hostile {
        ALLOCATOR.set_limit(ALLOCATOR.allocated() + BUDGET).unwrap();
        let outcome = h.handle(frame).await;
        ALLOCATOR.set_limit(usize::MAX).unwrap();
        assert!(matches!(outcome, Outcome::Close(_)), "{outcome:?}");
    }
}
