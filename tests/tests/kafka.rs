//! The Rust client tier: rskafka (a pure-Rust Kafka client) against the real `hubgate` binary:
//! create a topic, produce with compression, fetch, list offsets, delete records, and read the
//! same records back after a restart.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hubgate_tests::Gateway;
use rskafka::client::ClientBuilder;
use rskafka::client::partition::{Compression, OffsetAt, UnknownTopicHandling};
use rskafka::record::Record;

const READY: Duration = Duration::from_secs(30);

fn start(data: &str) -> (Gateway, SocketAddr) {
    let mut gw = Gateway::start(&[
        "serve",
        "--data-dir",
        data,
        "--kafka-listen",
        "127.0.0.1:0",
        "--amqp-listen",
        "off",
        "--http-listen",
        "off",
        "--blob-listen",
        "off",
    ])
    .unwrap();
    let addr = gw.listen_addr("kafka", READY).unwrap();
    gw.wait_ready(READY).unwrap();
    (gw, addr)
}

fn records(now_ms: i64) -> Vec<Record> {
    (0..10)
        .map(|i| Record {
            key: Some(format!("key-{i}").into_bytes()),
            value: Some(format!("value-{i}-").repeat(30).into_bytes()),
            headers: BTreeMap::from([
                ("source".to_owned(), b"rskafka".to_vec()),
                ("index".to_owned(), i.to_string().into_bytes()),
            ]),
            timestamp: Utc.timestamp_millis_opt(now_ms + i).unwrap(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rskafka_produces_fetches_and_reads_back_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (mut gw, addr) = start(data);

    let client = ClientBuilder::new(vec![addr.to_string()])
        .build()
        .await
        .unwrap();
    client
        .controller_client()
        .unwrap()
        .create_topic("rust-e2e", 2, 1, 5_000)
        .await
        .unwrap();
    let partition = client
        .partition_client("rust-e2e", 1, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    let now_ms = Utc::now().timestamp_millis();
    let sent = records(now_ms);
    let offsets = partition
        .produce(sent[..4].to_vec(), Compression::Gzip)
        .await
        .unwrap();
    assert_eq!(offsets, vec![0, 1, 2, 3]);
    let offsets = partition
        .produce(sent[4..].to_vec(), Compression::Snappy)
        .await
        .unwrap();
    assert_eq!(offsets, (4..10).collect::<Vec<i64>>());

    let (fetched, high_watermark) = partition
        .fetch_records(0, 1..1_000_000, 1_000)
        .await
        .unwrap();
    assert_eq!(high_watermark, 10);
    let got: Vec<(i64, Record)> = fetched.into_iter().map(|r| (r.offset, r.record)).collect();
    let expected: Vec<(i64, Record)> = (0..10).zip(sent.clone()).collect();
    assert_eq!(got, expected);

    assert_eq!(partition.get_offset(OffsetAt::Earliest).await.unwrap(), 0);
    assert_eq!(partition.get_offset(OffsetAt::Latest).await.unwrap(), 10);
    partition.delete_records(4, 5_000).await.unwrap();
    assert_eq!(partition.get_offset(OffsetAt::Earliest).await.unwrap(), 4);

    drop(partition);
    drop(client);
    assert!(gw.terminate().unwrap().success());

    let (_gw, addr) = start(data);
    let client = ClientBuilder::new(vec![addr.to_string()])
        .build()
        .await
        .unwrap();
    let partition = client
        .partition_client("rust-e2e", 1, UnknownTopicHandling::Retry)
        .await
        .unwrap();
    assert_eq!(partition.get_offset(OffsetAt::Earliest).await.unwrap(), 4);
    let (fetched, high_watermark) = partition
        .fetch_records(4, 1..1_000_000, 1_000)
        .await
        .unwrap();
    assert_eq!(high_watermark, 10);
    // The batch holding offset 4 starts there (the second produce), so exactly 4..10 return.
    let got: Vec<(i64, Record)> = fetched.into_iter().map(|r| (r.offset, r.record)).collect();
    assert_eq!(got, (4..10).zip(sent[4..].to_vec()).collect::<Vec<_>>());
}
