//! Fetch size rules (KIP-74) and offsets, on the handler over an in-memory log.

mod support;

use bytes::{Buf, Bytes};
use hubgate_kafka::{Handler, Outcome};
use hubgate_storage::{
    EncodeOptions, HubConfig, HubName, PartitionId, Record, RecordBatch, SharedStorage,
    StorageConfig, StorageUrl, open,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::{Decodable, StrBytes};

/// A log with hub `t` (2 partitions); partition 0 holds three batches of 3 records
/// (offsets 0–2, 3–5, 6–8), each about 1 KiB.
async fn log() -> SharedStorage {
    let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    let hub = HubName::new("t").unwrap();
    storage
        .create_hub(
            &hub,
            HubConfig {
                partitions: 2,
                ..HubConfig::default()
            },
        )
        .await
        .unwrap();
    for b in 0..3 {
        let records: Vec<Record> = (0..3)
            .map(|i| Record {
                offset: i,
                timestamp: 1000 + b * 3 + i,
                key: None,
                value: Some(Bytes::from(vec![b as u8; 330])),
                headers: Vec::new(),
            })
            .collect();
        let batch = RecordBatch::encode(&records, &EncodeOptions::default()).unwrap();
        storage
            .append(&PartitionId::new(hub.clone(), 0), batch)
            .await
            .unwrap();
    }
    storage
}

/// Fetches (partition, offset, partition_max_bytes) triples with `max_bytes`; returns per
/// partition (error code, batch base offsets, high watermark).
async fn fetch(
    h: &Handler,
    wanted: &[(i32, i64, i32)],
    max_bytes: i32,
) -> Vec<(i16, Vec<i64>, i64)> {
    let request = FetchRequest::default()
        .with_replica_id((-1).into())
        .with_max_wait_ms(0)
        .with_max_bytes(max_bytes)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(
                    wanted
                        .iter()
                        .map(|&(p, offset, max)| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_fetch_offset(offset)
                                .with_partition_max_bytes(max)
                        })
                        .collect(),
                ),
        ]);
    let Outcome::Respond(mut frame) = h
        .handle(support::request(ApiKey::Fetch, 11, &request))
        .await
    else {
        panic!("no response");
    };
    frame.advance(8);
    let response = FetchResponse::decode(&mut frame, 11).unwrap();
    response.responses[0]
        .partitions
        .iter()
        .map(|p| {
            let bases =
                RecordBatch::split(p.records.clone().unwrap_or_default(), &Default::default())
                    .unwrap()
                    .iter()
                    .map(RecordBatch::base_offset)
                    .collect();
            (p.error_code, bases, p.high_watermark)
        })
        .collect()
}

#[tokio::test]
async fn size_limits_follow_kip_74() {
    let h = Handler::new(
        log().await,
        hubgate_kafka::KafkaConfig::new("127.0.0.1", 9092),
    );
    // Everything fits.
    assert_eq!(
        fetch(&h, &[(0, 0, 1 << 20)], 1 << 20).await,
        [(0, vec![0, 3, 6], 9)]
    );
    // A partition limit below one batch still returns that first batch whole.
    assert_eq!(fetch(&h, &[(0, 0, 100)], 1 << 20).await, [(0, vec![0], 9)]);
    // The response limit stops after the batches that fit (here two).
    assert_eq!(
        fetch(&h, &[(0, 0, 1 << 20)], 2200).await,
        [(0, vec![0, 3], 9)]
    );
    // Once the first partition used the response budget, the next gets no records.
    assert_eq!(
        fetch(&h, &[(0, 0, 1 << 20), (1, 0, 1 << 20)], 500).await,
        [(0, vec![0], 9), (0, vec![], 0)]
    );
}

#[tokio::test]
async fn offsets_inside_batches_and_out_of_range() {
    let h = Handler::new(
        log().await,
        hubgate_kafka::KafkaConfig::new("127.0.0.1", 9092),
    );
    // An offset inside a batch returns the whole containing batch.
    assert_eq!(
        fetch(&h, &[(0, 4, 1 << 20)], 1 << 20).await,
        [(0, vec![3, 6], 9)]
    );
    // At the high watermark: nothing yet, no error.
    assert_eq!(
        fetch(&h, &[(0, 9, 1 << 20)], 1 << 20).await,
        [(0, vec![], 9)]
    );
    // Beyond it, or a missing partition: error codes, with the watermark when known.
    assert_eq!(
        fetch(&h, &[(0, 10, 1 << 20)], 1 << 20).await,
        [(1, vec![], 9)]
    );
    assert_eq!(
        fetch(&h, &[(7, 0, 1 << 20)], 1 << 20).await,
        [(3, vec![], -1)]
    );
}

/// One read_committed (or read_uncommitted) fetch of partition 1 from `offset`: (batch base
/// offsets, last stable offset, aborted transactions as (producer, first offset)).
async fn fetch_isolated(
    h: &Handler,
    offset: i64,
    isolation: i8,
) -> (Vec<i64>, i64, Option<Vec<(i64, i64)>>) {
    let request = FetchRequest::default()
        .with_replica_id((-1).into())
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(1)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let Outcome::Respond(mut frame) = h
        .handle(support::request(ApiKey::Fetch, 11, &request))
        .await
    else {
        panic!("no response");
    };
    frame.advance(8);
    let response = FetchResponse::decode(&mut frame, 11).unwrap();
    let p = &response.responses[0].partitions[0];
    let bases = RecordBatch::split(p.records.clone().unwrap_or_default(), &Default::default())
        .unwrap()
        .iter()
        .map(RecordBatch::base_offset)
        .collect();
    let aborted = p.aborted_transactions.as_ref().map(|list| {
        list.iter()
            .map(|a| (a.producer_id.0, a.first_offset))
            .collect()
    });
    (bases, p.last_stable_offset, aborted)
}

#[tokio::test]
async fn read_committed_stops_at_the_lso_and_lists_aborted_transactions() {
    use hubgate_storage::{MarkerKind, TxnMarker};
    let storage = log().await;
    let p = PartitionId::new(HubName::new("t").unwrap(), 1);
    let txn_batch = |seq: i32| {
        let record = Record {
            value: Some(Bytes::from_static(b"v")),
            ..Record::default()
        };
        let options = EncodeOptions {
            producer_id: 42,
            producer_epoch: 0,
            base_sequence: seq,
            transactional: true,
            ..EncodeOptions::default()
        };
        RecordBatch::encode(&[record], &options).unwrap()
    };
    let marker = |kind| TxnMarker {
        producer_id: 42,
        producer_epoch: 0,
        kind,
        coordinator_epoch: 0,
    };
    // 0: aborted data, 1: ABORT, 2: committed data, 3: COMMIT, 4: open.
    storage.append(&p, txn_batch(0)).await.unwrap();
    storage
        .write_marker(&p, marker(MarkerKind::Abort))
        .await
        .unwrap();
    storage.append(&p, txn_batch(1)).await.unwrap();
    storage
        .write_marker(&p, marker(MarkerKind::Commit))
        .await
        .unwrap();
    storage.append(&p, txn_batch(2)).await.unwrap();
    let h = Handler::new(storage, hubgate_kafka::KafkaConfig::new("127.0.0.1", 9092));

    assert_eq!(
        fetch_isolated(&h, 0, 1).await,
        (vec![0, 1, 2, 3], 4, Some(vec![(42, 0)]))
    );
    // Past the aborted range the list is empty; at the LSO nothing is returned.
    assert_eq!(
        fetch_isolated(&h, 2, 1).await,
        (vec![2, 3], 4, Some(vec![]))
    );
    assert_eq!(fetch_isolated(&h, 4, 1).await, (vec![], 4, Some(vec![])));
    // read_uncommitted reads to the high watermark with a null list.
    assert_eq!(
        fetch_isolated(&h, 0, 0).await,
        (vec![0, 1, 2, 3, 4], 4, None)
    );
}
