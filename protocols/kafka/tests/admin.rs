//! Admin requests through the handler, answers decoded as a client would: broker configs,
//! CreatePartitions with explicit assignments, and DescribeTopicPartitions pages.

mod support;

use bytes::{Buf, Bytes};
use hubgate_kafka::{Handler, KafkaConfig, Outcome};
use hubgate_storage::{HubConfig, HubName, StorageConfig, StorageUrl, open};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
    TopicName,
    create_partitions_request::{CreatePartitionsAssignment, CreatePartitionsTopic},
    describe_configs_request::DescribeConfigsResource,
    describe_topic_partitions_request::{Cursor, TopicRequest},
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use support::request;

/// A handler over a fresh in-memory log holding hubs `a` (3 partitions) and `b` (2).
async fn handler() -> Handler {
    let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    for (name, partitions) in [("a", 3), ("b", 2)] {
        let config = HubConfig {
            partitions,
            ..HubConfig::default()
        };
        storage
            .create_hub(&HubName::new(name).unwrap(), config)
            .await
            .unwrap();
    }
    Handler::new(storage, KafkaConfig::new("gw.example", 19092))
}

/// The response body of `outcome`, after the size, the correlation id and, for flexible
/// versions, the header's tagged fields.
fn body(outcome: Outcome, flexible: bool) -> Bytes {
    let Outcome::Respond(mut frame) = outcome else {
        panic!("expected a response, got {outcome:?}");
    };
    frame.advance(if flexible { 9 } else { 8 });
    frame
}

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_owned()))
}

async fn describe_broker(
    h: &Handler,
    node: &str,
    keys: Option<&[&str]>,
) -> DescribeConfigsResponse {
    let resource = DescribeConfigsResource::default()
        .with_resource_type(4)
        .with_resource_name(StrBytes::from_string(node.to_owned()))
        .with_configuration_keys(keys.map(|k| {
            k.iter()
                .map(|k| StrBytes::from_string((*k).to_owned()))
                .collect()
        }));
    let req = DescribeConfigsRequest::default().with_resources(vec![resource]);
    let mut resp = body(
        h.handle(request(ApiKey::DescribeConfigs, 4, &req)).await,
        true,
    );
    DescribeConfigsResponse::decode(&mut resp, 4).unwrap()
}

#[tokio::test]
async fn broker_configs_are_described_and_other_nodes_refused() {
    let h = handler().await;
    let resp = describe_broker(&h, "0", None).await;
    let result = &resp.results[0];
    assert_eq!(result.error_code, 0);
    let get = |n: &str| {
        result
            .configs
            .iter()
            .find(|c| c.name.as_str() == n)
            .unwrap_or_else(|| panic!("{n} missing"))
    };
    let listeners = get("advertised.listeners");
    assert_eq!(
        listeners.value.as_ref().unwrap().as_str(),
        "PLAINTEXT://gw.example:19092"
    );
    assert_eq!(listeners.config_source, 4); // STATIC_BROKER_CONFIG
    assert_eq!(listeners.config_type, 7); // LIST
    assert!(listeners.read_only && !listeners.is_sensitive);
    assert_eq!(get("num.partitions").value.as_ref().unwrap().as_str(), "4");
    assert_eq!(get("num.partitions").config_source, 5); // DEFAULT_CONFIG
    assert!(result.configs.iter().all(|c| c.read_only));
    // The handler was not started by `serve`: no socket, so no `listeners`.
    assert!(
        result
            .configs
            .iter()
            .all(|c| c.name.as_str() != "listeners")
    );

    let filtered = describe_broker(&h, "0", Some(&["node.id", "no.such.config"])).await;
    let names: Vec<&str> = filtered.results[0]
        .configs
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["node.id"]);

    for node in ["1", "x", "-0.5"] {
        let resp = describe_broker(&h, node, None).await;
        assert_eq!(resp.results[0].error_code, 42, "{node}"); // INVALID_REQUEST
        assert!(resp.results[0].configs.is_empty());
        assert!(resp.results[0].error_message.is_some());
    }
    let cluster_defaults = describe_broker(&h, "", None).await;
    assert_eq!(cluster_defaults.results[0].error_code, 0);
    assert!(cluster_defaults.results[0].configs.is_empty());
}

async fn grow(h: &Handler, count: i32, assignments: Option<Vec<Vec<i32>>>) -> i16 {
    let topic = CreatePartitionsTopic::default()
        .with_name(name("b"))
        .with_count(count)
        .with_assignments(assignments.map(|a| {
            a.into_iter()
                .map(|ids| {
                    CreatePartitionsAssignment::default()
                        .with_broker_ids(ids.into_iter().map(BrokerId).collect())
                })
                .collect()
        }));
    let req = CreatePartitionsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(1000);
    let mut resp = body(
        h.handle(request(ApiKey::CreatePartitions, 3, &req)).await,
        true,
    );
    CreatePartitionsResponse::decode(&mut resp, 3)
        .unwrap()
        .results[0]
        .error_code
}

#[tokio::test]
async fn create_partitions_accepts_assignments_to_this_node_only() {
    let h = handler().await;
    assert_eq!(grow(&h, 3, Some(vec![vec![1]])).await, 39);
    assert_eq!(grow(&h, 4, Some(vec![vec![0]])).await, 39);
    assert_eq!(grow(&h, 3, Some(vec![vec![0, 0]])).await, 39);
    assert_eq!(grow(&h, 4, Some(vec![vec![0], vec![0]])).await, 0);
    assert_eq!(grow(&h, 5, None).await, 0);
    // Shrinking is still refused first: INVALID_PARTITIONS.
    assert_eq!(grow(&h, 2, Some(vec![vec![0]])).await, 37);
    let page = describe_partitions(&h, &["b"], 100, None).await;
    assert_eq!(page.topics[0].partitions.len(), 5);
}

async fn describe_partitions(
    h: &Handler,
    topics: &[&str],
    limit: i32,
    cursor: Option<(&str, i32)>,
) -> DescribeTopicPartitionsResponse {
    let req = DescribeTopicPartitionsRequest::default()
        .with_topics(
            topics
                .iter()
                .map(|t| TopicRequest::default().with_name(name(t)))
                .collect(),
        )
        .with_response_partition_limit(limit)
        .with_cursor(cursor.map(|(t, p)| {
            Cursor::default()
                .with_topic_name(name(t))
                .with_partition_index(p)
        }));
    let outcome = h
        .handle(request(ApiKey::DescribeTopicPartitions, 0, &req))
        .await;
    let mut resp = body(outcome, true);
    DescribeTopicPartitionsResponse::decode(&mut resp, 0).unwrap()
}

/// (topic, error code, partition indexes) per topic, and the cursor.
type Shape = (Vec<(String, i16, Vec<i32>)>, Option<(String, i32)>);

fn shape(r: &DescribeTopicPartitionsResponse) -> Shape {
    (
        r.topics
            .iter()
            .map(|t| {
                (
                    t.name.as_ref().unwrap().as_str().to_owned(),
                    t.error_code,
                    t.partitions.iter().map(|p| p.partition_index).collect(),
                )
            })
            .collect(),
        r.next_cursor
            .as_ref()
            .map(|c| (c.topic_name.as_str().to_owned(), c.partition_index)),
    )
}

fn topic(n: &str, error_code: i16, partitions: &[i32]) -> (String, i16, Vec<i32>) {
    (n.to_owned(), error_code, partitions.to_vec())
}

#[tokio::test]
async fn describe_topic_partitions_pages_through_topics_in_name_order() {
    let h = handler().await;
    let every = describe_partitions(&h, &[], 2000, None).await;
    assert_eq!(
        shape(&every),
        (
            vec![topic("a", 0, &[0, 1, 2]), topic("b", 0, &[0, 1])],
            None
        )
    );
    let p = &every.topics[0].partitions[0];
    assert_eq!(p.leader_id, BrokerId(0));
    assert_eq!(p.leader_epoch, 0);
    assert_eq!(p.replica_nodes, [BrokerId(0)]);
    assert_eq!(p.isr_nodes, [BrokerId(0)]);
    assert!(!every.topics[0].topic_id.is_nil());

    // Named out of order, with an unknown and an invalid name, two partitions a page.
    let named = ["zz", "b", "a", "bad name"];
    let first = describe_partitions(&h, &named, 2, None).await;
    assert_eq!(
        shape(&first),
        (vec![topic("a", 0, &[0, 1])], Some(("a".into(), 2)))
    );
    let second = describe_partitions(&h, &named, 2, Some(("a", 2))).await;
    assert_eq!(
        shape(&second),
        (
            vec![topic("a", 0, &[2]), topic("b", 0, &[0])],
            Some(("b".into(), 1))
        )
    );
    let last = describe_partitions(&h, &named, 2, Some(("b", 1))).await;
    assert_eq!(
        shape(&last),
        (
            vec![
                topic("b", 0, &[1]),
                topic("bad name", 17, &[]),
                topic("zz", 3, &[])
            ],
            None
        )
    );

    // The whole request is refused: cursor outside the named topics, negative cursor
    // partition, a page that holds nothing.
    for (limit, cursor) in [
        (10, Some(("zz-not-named", 0))),
        (10, Some(("a", -1))),
        (0, None),
    ] {
        let refused = describe_partitions(&h, &["a"], limit, cursor).await;
        assert_eq!(shape(&refused), (vec![topic("a", 42, &[])], None));
    }
    // A limit above the cap is served up to the cap.
    let big = describe_partitions(&h, &["a"], i32::MAX, None).await;
    assert_eq!(shape(&big), (vec![topic("a", 0, &[0, 1, 2])], None));
}
