//! Truncated and mutated real client requests never panic the handler: a malformed request
//! closes its connection, a well-formed one with bad content gets an error code.
//!
//! The fixtures under `tests/fixtures/requests` were captured from kcat, confluent-kafka,
//! kafka-python and aiokafka by `tests/fixtures/capture.py`.

mod support;

use bytes::Bytes;
use hubgate_kafka::Outcome;
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, TopicName,
    metadata_request::MetadataRequestTopic,
    produce_request::{PartitionProduceData, TopicProduceData},
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use support::{fixtures, handler, request};

fn body(outcome: Outcome) -> Bytes {
    match outcome {
        Outcome::Respond(frame) => frame,
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn every_captured_request_is_answered() {
    let h = handler();
    for (name, frame) in fixtures() {
        let outcome = h.handle(frame).await;
        assert!(
            matches!(outcome, Outcome::Respond(_)),
            "{name}: {outcome:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn every_truncation_closes_the_connection() {
    let h = handler();
    for (name, frame) in fixtures() {
        for len in 0..frame.len() {
            let outcome = h.handle(frame.slice(..len)).await;
            assert!(
                matches!(outcome, Outcome::Close(_)),
                "{name} cut to {len} bytes: {outcome:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn mutated_requests_never_panic() {
    let h = handler();
    let mut answered = 0;
    let mut closed = 0;
    for (_, frame) in fixtures() {
        // Every byte of small requests, a sample of large ones (record payloads).
        let step = if frame.len() > 2048 { 7 } else { 1 };
        for at in (0..frame.len()).step_by(step) {
            for value in [0x00, 0x7f, 0x80, 0xff, frame[at] ^ 0x01] {
                let mut mutated = frame.to_vec();
                mutated[at] = value;
                match h.handle(Bytes::from(mutated)).await {
                    Outcome::Close(_) => closed += 1,
                    _ => answered += 1,
                }
            }
        }
    }
    // Both paths are exercised: the mutations are not all harmless, nor all fatal.
    assert!(
        answered > 1000 && closed > 1000,
        "{answered} answered, {closed} closed"
    );
}

#[tokio::test]
async fn semantic_errors_get_error_codes_on_an_open_connection() {
    let h = handler();
    // An invalid topic name in Metadata: INVALID_TOPIC_EXCEPTION (17).
    let metadata = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_static_str(
            "no spaces allowed",
        )))),
    ]));
    let mut resp = body(h.handle(request(ApiKey::Metadata, 9, &metadata)).await);
    let _ = resp.split_to(4 + 4 + 1); // size, correlation id, header tagged fields
    let decoded = MetadataResponse::decode(&mut resp, 9).unwrap();
    assert_eq!(decoded.topics[0].error_code, 17);

    // A produce whose batch fails its CRC: CORRUPT_MESSAGE (2); garbage: also an error code.
    let name = TopicName(StrBytes::from_static_str("t"));
    let _ = h
        .handle(request(
            ApiKey::Metadata,
            9,
            &MetadataRequest::default()
                .with_topics(Some(vec![
                    MetadataRequestTopic::default().with_name(Some(name.clone())),
                ]))
                .with_allow_auto_topic_creation(true),
        ))
        .await;
    let (_, good) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("kcat-00"))
        .unwrap();
    let mut records = extract_records(good);
    let last = records.len() - 1;
    records[last] ^= 0xff;
    for (bytes, expected) in [
        (Bytes::from(records), 2),
        (Bytes::from_static(&[1, 2, 3]), 2),
    ] {
        let produce = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name.clone())
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(bytes)),
                    ]),
            ]);
        let mut resp = body(h.handle(request(ApiKey::Produce, 7, &produce)).await);
        let _ = resp.split_to(8);
        let decoded = ProduceResponse::decode(&mut resp, 7).unwrap();
        assert_eq!(
            decoded.responses[0].partition_responses[0].error_code,
            expected
        );
    }
}

/// The records of the first partition of a captured Produce request.
fn extract_records(frame: Bytes) -> Vec<u8> {
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let mut buf = frame;
    kafka_protocol::protocol::decode_request_header_from_buffer(&mut buf).unwrap();
    let produce = ProduceRequest::decode(&mut buf, version).unwrap();
    produce.topic_data[0].partition_data[0]
        .records
        .clone()
        .unwrap()
        .to_vec()
}
