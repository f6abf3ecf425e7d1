//! Shared helpers for the Kafka front end's tests.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use bytes::{BufMut, Bytes, BytesMut};
use hubgate_kafka::{Handler, KafkaConfig};
use hubgate_storage::{StorageConfig, StorageUrl, open};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};

/// A handler over a fresh in-memory log, advertising 127.0.0.1:9092.
pub fn handler() -> Handler {
    let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    Handler::new(storage, KafkaConfig::new("127.0.0.1", 9092))
}

/// Every captured client request: (file name, frame without its size prefix).
pub fn fixtures() -> Vec<(String, Bytes)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/requests");
    let mut out: Vec<(String, Bytes)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, Bytes::from(std::fs::read(&p).unwrap()))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 20, "fixtures missing from {}", dir.display());
    out
}

/// Encodes a request frame (without size prefix) for `api` at `version`.
pub fn request<R: Encodable>(api: ApiKey, version: i16, body: &R) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(42)
        .with_client_id(Some(StrBytes::from_static_str("test")));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.freeze()
}

/// Adds the size prefix.
pub fn framed(frame: &[u8]) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.put_i32(frame.len() as i32);
    buf.put_slice(frame);
    buf.to_vec()
}
