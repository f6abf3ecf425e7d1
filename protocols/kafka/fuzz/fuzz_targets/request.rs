//! Fuzzes the Kafka request path: framing, header and body decoding, and the handlers, over a
//! fresh in-memory log per input. Time is paused, so long-polling fetches end at once.
//!
//! Run from `protocols/kafka`:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run request -- -max_total_time=300 -malloc_limit_mb=256`
//! (seed the corpus with `tests/fixtures/requests/*.bin` for coverage from the start).
#![no_main]

use bytes::{Bytes, BytesMut};
use hubgate_kafka::{Handler, KafkaConfig};
use hubgate_storage::{StorageConfig, StorageUrl, open};
use libfuzzer_sys::fuzz_target;

const MAX_FRAME: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let storage = open(&StorageConfig::new(StorageUrl::Memory)).expect("memory storage");
        let handler = Handler::new(storage, KafkaConfig::new("127.0.0.1", 9092));
        // The input as one request body...
        let _ = handler.handle(Bytes::copy_from_slice(data)).await;
        // ...and as a stream of size-prefixed frames.
        let mut buf = BytesMut::from(data);
        while let Ok(Some(frame)) = hubgate_kafka::frame::decode(&mut buf, MAX_FRAME) {
            let _ = handler.handle(frame).await;
        }
    });
});
