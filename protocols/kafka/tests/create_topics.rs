//! CreateTopics through the handler, answers decoded as a client would: replication factors
//! (lenient by default, strict on request) and manual replica assignments.

mod support;

use bytes::{Buf, Bytes};
use hubgate_kafka::{Handler, KafkaConfig, Outcome};
use hubgate_storage::{HubName, SharedStorage, StorageConfig, StorageUrl, open};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, TopicName,
    create_topics_request::{CreatableReplicaAssignment, CreatableTopic},
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use support::request;

fn handler(strict: bool) -> (Handler, SharedStorage) {
    let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    let mut config = KafkaConfig::new("gw.example", 19092);
    config.strict_replication_factor = strict;
    (Handler::new(storage.clone(), config), storage)
}

fn body(outcome: Outcome) -> Bytes {
    let Outcome::Respond(mut frame) = outcome else {
        panic!("expected a response, got {outcome:?}");
    };
    frame.advance(9);
    frame
}

/// Creates `topic` and returns (error code, message, partitions, replication factor reported).
async fn create(h: &Handler, topic: CreatableTopic) -> (i16, Option<String>, i32, i16) {
    let req = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(1000);
    let mut resp = body(h.handle(request(ApiKey::CreateTopics, 7, &req)).await);
    let r = CreateTopicsResponse::decode(&mut resp, 7).unwrap();
    let t = &r.topics[0];
    (
        t.error_code,
        t.error_message.as_ref().map(|m| m.to_string()),
        t.num_partitions,
        t.replication_factor,
    )
}

fn topic(name: &str, partitions: i32, factor: i16) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(TopicName(StrBytes::from_string(name.to_owned())))
        .with_num_partitions(partitions)
        .with_replication_factor(factor)
}

/// (partition index, broker ids) per partition.
type Assignments<'a> = &'a [(i32, &'a [i32])];

fn assigned(name: &str, assignments: Assignments) -> CreatableTopic {
    topic(name, -1, -1).with_assignments(
        assignments
            .iter()
            .map(|(p, ids)| {
                CreatableReplicaAssignment::default()
                    .with_partition_index(*p)
                    .with_broker_ids(ids.iter().copied().map(BrokerId).collect())
            })
            .collect(),
    )
}

async fn exists(s: &SharedStorage, name: &str) -> bool {
    s.hub(&HubName::new(name).unwrap()).await.is_ok()
}

#[tokio::test]
async fn any_replication_factor_is_accepted_and_one_replica_reported() {
    let (h, s) = handler(false);
    for (name, factor) in [("rf3", 3), ("rf1", 1), ("rfd", -1), ("rf32767", i16::MAX)] {
        let (code, _, partitions, reported) = create(&h, topic(name, 2, factor)).await;
        assert_eq!((code, partitions, reported), (0, 2, 1), "{name}");
        assert!(exists(&s, name).await);
    }
    for (name, factor) in [("rf0", 0), ("rfm2", -2)] {
        let (code, ..) = create(&h, topic(name, 2, factor)).await;
        assert_eq!(code, 38, "{name}");
        assert!(!exists(&s, name).await);
    }
}

#[tokio::test]
async fn strict_replication_factor_refuses_factors_above_one() {
    let (h, s) = handler(true);
    let (code, message, ..) = create(&h, topic("rf3", 2, 3)).await;
    assert_eq!(code, 38);
    assert!(message.unwrap().contains("replication factor 3"));
    assert!(!exists(&s, "rf3").await);
    assert_eq!(create(&h, topic("rf1", 2, 1)).await.0, 0);
    assert_eq!(create(&h, topic("rfd", 2, -1)).await.0, 0);
    assert_eq!(create(&h, topic("rf0", 2, 0)).await.0, 38);
}

#[tokio::test]
async fn assignments_naming_this_node_set_the_partition_count() {
    let (h, s) = handler(true);
    let (code, _, partitions, factor) =
        create(&h, assigned("a", &[(0, &[0]), (1, &[0]), (2, &[0])])).await;
    assert_eq!((code, partitions, factor), (0, 3, 1));
    let info = s.hub(&HubName::new("a").unwrap()).await.unwrap();
    assert_eq!(info.config.partitions, 3);
    // Listed out of order is fine: they are numbered by partition_index.
    assert_eq!(
        create(&h, assigned("b", &[(1, &[0]), (0, &[0])])).await.0,
        0
    );
}

#[tokio::test]
async fn other_assignments_are_refused_with_kafkas_errors() {
    let (h, s) = handler(false);
    let cases: [(&str, Assignments); 5] = [
        ("other-node", &[(0, &[0]), (1, &[1])]),
        ("empty-list", &[(0, &[])]),
        ("twice", &[(0, &[0, 0])]),
        ("gap", &[(0, &[0]), (2, &[0])]),
        ("duplicate", &[(0, &[0]), (0, &[0])]),
    ];
    for (name, assignments) in cases {
        let (code, message, ..) = create(&h, assigned(name, assignments)).await;
        assert_eq!(code, 39, "{name}");
        assert!(message.is_some(), "{name}");
        assert!(!exists(&s, name).await, "{name}");
    }
    let (_, message, ..) = create(&h, assigned("named", &[(0, &[5])])).await;
    assert!(message.unwrap().contains("broker 5"));
    // Assignments with a partition count or a replication factor: INVALID_REQUEST (42).
    for (name, partitions, factor) in [("with-count", 1, -1), ("with-factor", -1, 1)] {
        let t = assigned(name, &[(0, &[0])])
            .with_num_partitions(partitions)
            .with_replication_factor(factor);
        assert_eq!(create(&h, t).await.0, 42, "{name}");
        assert!(!exists(&s, name).await);
    }
}
