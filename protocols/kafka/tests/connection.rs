//! The connection loop over TCP: in-order responses, a long-poll that does not block the
//! requests behind it, the KIP-511 fallback, and framing errors closing the connection.

mod support;

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use hubgate_kafka::KafkaConfig;
use hubgate_protocol::{CancellationToken, Listener};
use hubgate_storage::{
    EncodeOptions, HubConfig, HubName, Record, RecordBatch, StorageConfig, StorageUrl, open,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FetchRequest, FetchResponse, ProduceRequest,
    ProduceResponse, TopicName,
    fetch_request::{FetchPartition, FetchTopic},
    produce_request::{PartitionProduceData, TopicProduceData},
};
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{framed, request};

async fn start(max_frame: usize) -> (std::net::SocketAddr, CancellationToken) {
    let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    storage
        .create_hub(
            &HubName::new("t").unwrap(),
            HubConfig {
                partitions: 1,
                ..HubConfig::default()
            },
        )
        .await
        .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let mut config = KafkaConfig::new("127.0.0.1", addr.port());
    config.limits.max_frame_bytes = max_frame;
    let shutdown = CancellationToken::new();
    tokio::spawn(hubgate_kafka::serve(
        Listener::plain(tcp),
        storage,
        config,
        shutdown.clone(),
    ));
    (addr, shutdown)
}

/// Reads one response frame; returns (correlation id, rest).
async fn read_response(stream: &mut TcpStream) -> (i32, Bytes) {
    let size = stream.read_i32().await.unwrap();
    let mut buf = vec![0u8; size as usize];
    stream.read_exact(&mut buf).await.unwrap();
    let mut buf = Bytes::from(buf);
    let correlation = buf.get_i32();
    (correlation, buf)
}

fn with_correlation(frame: Bytes, id: i32) -> Vec<u8> {
    let mut f = BytesMut::from(&frame[..]);
    f[4..8].copy_from_slice(&id.to_be_bytes());
    framed(&f)
}

async fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

#[tokio::test]
async fn a_long_poll_does_not_block_the_produce_behind_it() {
    let (addr, shutdown) = start(1 << 20).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let topic = TopicName(StrBytes::from_static_str("t"));
    let fetch = FetchRequest::default()
        .with_replica_id((-1).into())
        .with_max_wait_ms(10_000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(topic.clone())
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let record = Record {
        offset: 0,
        timestamp: 1,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        headers: Vec::new(),
    };
    let batch = RecordBatch::encode(&[record], &EncodeOptions::default()).unwrap();
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(topic)
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch.into_bytes())),
                ]),
        ]);
    let started = Instant::now();
    let mut pipelined = with_correlation(request(ApiKey::Fetch, 11, &fetch), 2);
    pipelined.extend(with_correlation(request(ApiKey::Produce, 8, &produce), 3));
    stream.write_all(&pipelined).await.unwrap();

    let (first, mut body) = read_response(&mut stream).await;
    assert_eq!(first, 2, "responses come back in request order");
    let fetched = FetchResponse::decode(&mut body, 11).unwrap();
    let records = fetched.responses[0].partitions[0].records.clone().unwrap();
    let got = RecordBatch::parse(records, &Default::default()).unwrap();
    assert_eq!(got.header().record_count, 1);
    let (second, mut body) = read_response(&mut stream).await;
    assert_eq!(second, 3);
    let produced = ProduceResponse::decode(&mut body, 8).unwrap();
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
    // The fetch was answered by the append, far before its 10 s wait.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    shutdown.cancel();
}

#[tokio::test]
async fn unknown_api_versions_version_gets_the_v0_fallback() {
    let (addr, shutdown) = start(1 << 20).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // ApiVersions v3 encoding, labelled v99: the header is still readable.
    let mut frame =
        BytesMut::from(&request(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())[..]);
    frame[2..4].copy_from_slice(&99i16.to_be_bytes());
    stream.write_all(&framed(&frame)).await.unwrap();
    let (correlation, mut body) = read_response(&mut stream).await;
    assert_eq!(correlation, 42);
    let response = ApiVersionsResponse::decode(&mut body, 0).unwrap();
    assert_eq!(response.error_code, 35);
    assert_eq!(response.api_keys.len(), 1);
    assert_eq!(response.api_keys[0].api_key, ApiKey::ApiVersions as i16);
    // The connection stays usable.
    let named = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("test-client"))
        .with_client_software_version(StrBytes::from_static_str("1.0"));
    stream
        .write_all(&framed(&request(ApiKey::ApiVersions, 3, &named)))
        .await
        .unwrap();
    let (_, mut body) = read_response(&mut stream).await;
    assert_eq!(
        ApiVersionsResponse::decode(&mut body, 3)
            .unwrap()
            .error_code,
        0
    );
    shutdown.cancel();
}

#[tokio::test]
async fn framing_errors_close_the_connection() {
    let (addr, shutdown) = start(1024).await;
    let cases: Vec<Vec<u8>> = vec![
        (-1i32).to_be_bytes().to_vec(),
        1025i32.to_be_bytes().to_vec(),
        i32::MAX.to_be_bytes().to_vec(),
        framed(&[0, 18, 0]), // shorter than a request header
        framed(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]), // unknown API key
        framed(&[0, 3, 0, 12, 0, 0, 0, 1, 0xff]), // malformed Metadata v12 header
    ];
    for bytes in cases {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        assert!(closed(&mut stream).await, "{bytes:?}");
    }
    // A frame exactly at the cap is read (and answered).
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut frame = request(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default()).to_vec();
    frame.resize(1024, 0);
    stream.write_all(&framed(&frame)).await.unwrap();
    let (correlation, _) = read_response(&mut stream).await;
    assert_eq!(correlation, 42);
    shutdown.cancel();
}
