//! Rights and denials on decoded requests, without a connection.

use hubgate_protocol::{Right, Rights, SasPolicies, SasPolicy, Secret};
use kafka_protocol::messages::describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AlterConfigsRequest, DescribeTopicPartitionsResponse, OffsetFetchRequest, OffsetFetchResponse,
    ProduceRequest, TopicName, alter_configs_request::AlterConfigsResource,
};
use kafka_protocol::protocol::StrBytes;

use super::{Access, groups, topics};

/// A Listen grant on the hub `orders` only.
fn orders_listener() -> Access {
    let policies = SasPolicies::new([SasPolicy {
        name: "reader".into(),
        key: Secret::new("k"),
        rights: Rights::from(Right::Listen),
        hubs: vec!["orders".into()],
        cert_subject: None,
    }])
    .unwrap();
    Access::Granted(policies.authenticate_key("reader", b"k").unwrap())
}

fn name(text: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(text))
}

#[test]
fn rights_follow_the_policy_and_its_hubs() {
    let access = orders_listener();
    assert!(access.allows("orders", Right::Listen));
    assert!(!access.allows("orders", Right::Send));
    assert!(!access.allows("payments", Right::Listen));
    assert!(access.sees("orders") && !access.sees("payments"));
    assert!(access.holds(Right::Listen) && !access.holds(Right::Manage));
    assert!(!Access::Anonymous.sees("orders") && !Access::Anonymous.authenticated());
    assert!(Access::Open.allows("anything", Right::Manage));
}

#[test]
fn produce_without_send_is_29_per_partition() {
    let mut request = ProduceRequest::default().with_topic_data(vec![
        TopicProduceData::default()
            .with_name(name("orders"))
            .with_partition_data(vec![
                PartitionProduceData::default().with_index(0),
                PartitionProduceData::default().with_index(1),
            ]),
    ]);
    let denied = topics::produce(&orders_listener(), &mut request);
    assert!(request.topic_data.is_empty());
    let codes: Vec<(i32, i16)> = denied[0]
        .partition_responses
        .iter()
        .map(|p| (p.index, p.error_code))
        .collect();
    assert_eq!(codes, [(0, 29), (1, 29)]);
    let mut open = ProduceRequest::default()
        .with_topic_data(vec![TopicProduceData::default().with_name(name("orders"))]);
    assert!(topics::produce(&Access::Open, &mut open).is_empty());
    assert_eq!(open.topic_data.len(), 1);
}

#[test]
fn committed_offsets_of_uncovered_topics_are_hidden_or_29() {
    let response = || {
        OffsetFetchResponse::default().with_topics(
            ["orders", "payments"]
                .into_iter()
                .map(|t| {
                    OffsetFetchResponseTopic::default()
                        .with_name(name(t))
                        .with_partitions(vec![
                            OffsetFetchResponsePartition::default().with_committed_offset(7),
                        ])
                })
                .collect(),
        )
    };
    let access = orders_listener();
    let all = OffsetFetchRequest::default().with_topics(None);
    let mut listed = response();
    groups::offset_fetch_topics(&access, &all, &mut listed);
    assert_eq!(listed.topics.len(), 1);
    assert_eq!(listed.topics[0].name.as_str(), "orders");
    let named = OffsetFetchRequest::default().with_topics(Some(vec![
        OffsetFetchRequestTopic::default().with_name(name("orders")),
        OffsetFetchRequestTopic::default().with_name(name("payments")),
    ]));
    let mut answered = response();
    groups::offset_fetch_topics(&access, &named, &mut answered);
    let payments = &answered.topics[1].partitions[0];
    assert_eq!((payments.error_code, payments.committed_offset), (29, -1));
    assert_eq!(answered.topics[0].partitions[0].committed_offset, 7);
}

#[test]
fn describe_topic_partitions_hides_or_refuses_uncovered_hubs() {
    let response = || {
        DescribeTopicPartitionsResponse::default().with_topics(
            ["orders", "payments"]
                .into_iter()
                .map(|t| {
                    DescribeTopicPartitionsResponseTopic::default()
                        .with_name(Some(name(t)))
                        .with_topic_id(uuid::Uuid::from_u128(1))
                })
                .collect(),
        )
    };
    let access = orders_listener();
    let mut listed = response();
    topics::describe_topic_partitions(&access, true, &mut listed);
    assert_eq!(listed.topics.len(), 1);
    let mut named = response();
    topics::describe_topic_partitions(&access, false, &mut named);
    assert_eq!(named.topics[1].error_code, 29);
    assert!(named.topics[1].topic_id.is_nil());
}

#[test]
fn altering_configs_needs_manage_29_for_topics_31_for_the_broker() {
    let resource = |kind, text: &'static str| {
        AlterConfigsResource::default()
            .with_resource_type(kind)
            .with_resource_name(StrBytes::from_static_str(text))
    };
    let mut request = AlterConfigsRequest::default()
        .with_resources(vec![resource(2, "orders"), resource(4, "0")]);
    let denied = topics::alter_configs(&orders_listener(), &mut request);
    let codes: Vec<i16> = denied.iter().map(|d| d.error_code).collect();
    assert_eq!(codes, [29, 31]);
    assert!(request.resources.is_empty());
}
