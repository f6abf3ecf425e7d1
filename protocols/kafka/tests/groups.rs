//! The consumer-group APIs through the request handler, in every advertised version: a whole
//! group lifecycle per version, and the error codes clients act on.

mod support;

use std::time::Duration;

use bytes::{Buf, Bytes};
use hubgate_kafka::{GroupConfig, Handler, KafkaConfig, Outcome};
use hubgate_storage::{HubConfig, HubName, StorageConfig, StorageUrl, open};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use support::request;

const TOPIC: &str = "events";

async fn handler() -> Handler {
    let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
    let config = HubConfig {
        partitions: 2,
        ..HubConfig::default()
    };
    storage
        .create_hub(&HubName::new(TOPIC).unwrap(), config)
        .await
        .unwrap();
    let mut config = KafkaConfig::new("127.0.0.1", 9092);
    config.groups = GroupConfig {
        initial_rebalance_delay: Duration::ZERO,
        ..GroupConfig::default()
    };
    Handler::new(storage, config)
}

/// Sends `body` as `api` at `version` and decodes the answer.
async fn call<Q: Encodable, R: Decodable>(h: &Handler, api: ApiKey, version: i16, body: &Q) -> R {
    let Outcome::Respond(frame) = h.handle(request(api, version, body)).await else {
        panic!("{api:?} v{version}: no response");
    };
    let mut frame = frame.slice(4..);
    ResponseHeader::decode(&mut frame, api.response_header_version(version)).unwrap();
    let response = R::decode(&mut frame, version).unwrap();
    assert!(!frame.has_remaining(), "{api:?} v{version}: trailing bytes");
    response
}

fn s(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

fn group(name: &str) -> GroupId {
    GroupId(s(name))
}

fn join_request(group_id: &str, member_id: &str, session_ms: i32) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(group(group_id))
        .with_session_timeout_ms(session_ms)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(s(member_id))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::from_static(b"subscription")),
        ])
}

/// One member's whole life in a group, every API at the version that goes with `join_v`.
async fn lifecycle(h: &Handler, join_v: i16) {
    let name = format!("group-v{join_v}");
    let (sync_v, heartbeat_v, leave_v) = (join_v.min(5), join_v.min(4), join_v.min(5));
    let (commit_v, fetch_v) = ((join_v + 1).clamp(2, 9), join_v.clamp(1, 9));
    let (describe_v, list_v, delete_v) = (join_v.min(5), join_v.min(5), join_v.min(2));
    let ctx = format!("JoinGroup v{join_v}");

    let mut joined: JoinGroupResponse = call(
        h,
        ApiKey::JoinGroup,
        join_v,
        &join_request(&name, "", 10_000),
    )
    .await;
    if join_v >= 4 {
        assert_eq!(joined.error_code, 79, "{ctx}: MEMBER_ID_REQUIRED");
        let id = joined.member_id.to_string();
        joined = call(
            h,
            ApiKey::JoinGroup,
            join_v,
            &join_request(&name, &id, 10_000),
        )
        .await;
    }
    assert_eq!(joined.error_code, 0, "{ctx}");
    assert_eq!(joined.generation_id, 1, "{ctx}");
    assert_eq!(joined.leader, joined.member_id, "{ctx}");
    assert_eq!(joined.protocol_name.as_deref(), Some("range"), "{ctx}");
    assert_eq!(joined.members.len(), 1, "{ctx}");
    assert_eq!(
        joined.members[0].metadata.as_ref(),
        b"subscription",
        "{ctx}"
    );
    let member = joined.member_id.clone();

    let synced: SyncGroupResponse = call(
        h,
        ApiKey::SyncGroup,
        sync_v,
        &SyncGroupRequest::default()
            .with_group_id(group(&name))
            .with_generation_id(1)
            .with_member_id(member.clone())
            .with_assignments(vec![
                SyncGroupRequestAssignment::default()
                    .with_member_id(member.clone())
                    .with_assignment(Bytes::from_static(b"both partitions")),
            ]),
    )
    .await;
    assert_eq!(synced.error_code, 0, "{ctx}");
    assert_eq!(synced.assignment.as_ref(), b"both partitions", "{ctx}");
    if sync_v >= 5 {
        assert_eq!(synced.protocol_name.as_deref(), Some("range"), "{ctx}");
    }

    let beat: HeartbeatResponse = call(
        h,
        ApiKey::Heartbeat,
        heartbeat_v,
        &HeartbeatRequest::default()
            .with_group_id(group(&name))
            .with_generation_id(1)
            .with_member_id(member.clone()),
    )
    .await;
    assert_eq!(beat.error_code, 0, "{ctx}");

    let committed: OffsetCommitResponse = call(
        h,
        ApiKey::OffsetCommit,
        commit_v,
        &OffsetCommitRequest::default()
            .with_group_id(group(&name))
            .with_generation_id_or_member_epoch(1)
            .with_member_id(member.clone())
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(TOPIC)))
                    .with_partitions(vec![
                        OffsetCommitRequestPartition::default()
                            .with_partition_index(1)
                            .with_committed_offset(17)
                            .with_committed_leader_epoch(if commit_v >= 6 { 0 } else { -1 })
                            .with_committed_metadata(Some(s("where I was"))),
                    ]),
            ]),
    )
    .await;
    assert_eq!(committed.topics[0].partitions[0].error_code, 0, "{ctx}");

    let (offset, metadata, epoch) = fetch_offset(h, &name, fetch_v).await;
    assert_eq!(offset, 17, "{ctx}");
    assert_eq!(metadata, "where I was", "{ctx}");
    if fetch_v >= 5 && commit_v >= 6 {
        assert_eq!(epoch, 0, "{ctx}");
    }

    let described: DescribeGroupsResponse = call(
        h,
        ApiKey::DescribeGroups,
        describe_v,
        &DescribeGroupsRequest::default().with_groups(vec![group(&name)]),
    )
    .await;
    let g = &described.groups[0];
    assert_eq!(g.group_state.as_str(), "Stable", "{ctx}");
    assert_eq!(g.protocol_type.as_str(), "consumer", "{ctx}");
    assert_eq!(g.protocol_data.as_str(), "range", "{ctx}");
    assert_eq!(g.members.len(), 1, "{ctx}");
    assert_eq!(g.members[0].client_id.as_str(), "test", "{ctx}");
    assert_eq!(g.members[0].member_assignment.as_ref(), b"both partitions");

    let listed: ListGroupsResponse =
        call(h, ApiKey::ListGroups, list_v, &ListGroupsRequest::default()).await;
    assert!(
        listed.groups.iter().any(|l| l.group_id.0.as_str() == name),
        "{ctx}"
    );

    let refused: DeleteGroupsResponse = call(
        h,
        ApiKey::DeleteGroups,
        delete_v,
        &DeleteGroupsRequest::default().with_groups_names(vec![group(&name)]),
    )
    .await;
    assert_eq!(refused.results[0].error_code, 68, "{ctx}: NON_EMPTY_GROUP");

    let leave = if leave_v >= 3 {
        LeaveGroupRequest::default()
            .with_group_id(group(&name))
            .with_members(vec![
                MemberIdentity::default().with_member_id(member.clone()),
                MemberIdentity::default().with_member_id(s("stranger")),
            ])
    } else {
        LeaveGroupRequest::default()
            .with_group_id(group(&name))
            .with_member_id(member.clone())
    };
    let left: LeaveGroupResponse = call(h, ApiKey::LeaveGroup, leave_v, &leave).await;
    assert_eq!(left.error_code, 0, "{ctx}");
    if leave_v >= 3 {
        let errors: Vec<i16> = left.members.iter().map(|m| m.error_code).collect();
        assert_eq!(
            errors,
            vec![0, 25],
            "{ctx}: UNKNOWN_MEMBER_ID for the stranger"
        );
    }

    let deleted: DeleteGroupsResponse = call(
        h,
        ApiKey::DeleteGroups,
        delete_v,
        &DeleteGroupsRequest::default().with_groups_names(vec![group(&name)]),
    )
    .await;
    assert_eq!(deleted.results[0].error_code, 0, "{ctx}");
    let (offset, metadata, _) = fetch_offset(h, &name, fetch_v).await;
    assert_eq!((offset, metadata.as_str()), (-1, ""), "{ctx}: offsets gone");
}

/// The committed (offset, metadata, leader epoch) of partition 1 of [`TOPIC`].
async fn fetch_offset(h: &Handler, name: &str, version: i16) -> (i64, String, i32) {
    if version >= 8 {
        let request = OffsetFetchRequest::default().with_groups(vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(group(name))
                .with_topics(Some(vec![
                    OffsetFetchRequestTopics::default()
                        .with_name(TopicName(s(TOPIC)))
                        .with_partition_indexes(vec![1]),
                ])),
        ]);
        let response: OffsetFetchResponse = call(h, ApiKey::OffsetFetch, version, &request).await;
        let p = &response.groups[0].topics[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let metadata = p.metadata.as_deref().unwrap_or_default().to_owned();
        return (p.committed_offset, metadata, p.committed_leader_epoch);
    }
    let request = OffsetFetchRequest::default()
        .with_group_id(group(name))
        .with_topics(Some(vec![
            OffsetFetchRequestTopic::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partition_indexes(vec![1]),
        ]));
    let response: OffsetFetchResponse = call(h, ApiKey::OffsetFetch, version, &request).await;
    assert_eq!(response.error_code, 0);
    let p = &response.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    let metadata = p.metadata.as_deref().unwrap_or_default().to_owned();
    (p.committed_offset, metadata, p.committed_leader_epoch)
}

#[tokio::test]
async fn a_whole_group_lifecycle_works_in_every_join_group_version() {
    let h = handler().await;
    for version in 0..=9 {
        lifecycle(&h, version).await;
    }
}

#[tokio::test]
async fn bad_group_requests_get_kafka_error_codes() {
    let h = handler().await;
    let too_short: JoinGroupResponse =
        call(&h, ApiKey::JoinGroup, 5, &join_request("g", "", 10)).await;
    assert_eq!(too_short.error_code, 26, "INVALID_SESSION_TIMEOUT");
    let no_group: JoinGroupResponse =
        call(&h, ApiKey::JoinGroup, 5, &join_request("", "", 10_000)).await;
    assert_eq!(no_group.error_code, 24, "INVALID_GROUP_ID");
    let unknown_member: JoinGroupResponse = call(
        &h,
        ApiKey::JoinGroup,
        5,
        &join_request("g", "ghost", 10_000),
    )
    .await;
    assert_eq!(unknown_member.error_code, 25, "UNKNOWN_MEMBER_ID");

    let beat: HeartbeatResponse = call(
        &h,
        ApiKey::Heartbeat,
        4,
        &HeartbeatRequest::default()
            .with_group_id(group("nowhere"))
            .with_generation_id(1)
            .with_member_id(s("ghost")),
    )
    .await;
    assert_eq!(beat.error_code, 25, "UNKNOWN_MEMBER_ID");

    let partition = |index, metadata: &str| {
        OffsetCommitRequestPartition::default()
            .with_partition_index(index)
            .with_committed_offset(1)
            .with_committed_metadata(Some(s(metadata)))
    };
    let commit = OffsetCommitRequest::default()
        .with_group_id(group("simple"))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partitions(vec![
                    partition(0, "ok"),
                    partition(9, "ok"),
                    partition(1, &"x".repeat(5000)),
                ]),
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s("no-such-topic")))
                .with_partitions(vec![partition(0, "ok")]),
        ]);
    let response: OffsetCommitResponse = call(&h, ApiKey::OffsetCommit, 8, &commit).await;
    let codes: Vec<Vec<i16>> = response
        .topics
        .iter()
        .map(|t| t.partitions.iter().map(|p| p.error_code).collect())
        .collect();
    // NONE, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE; UNKNOWN_TOPIC_OR_PARTITION
    assert_eq!(codes, vec![vec![0, 3, 12], vec![3]]);

    let stale = OffsetCommitRequest::default()
        .with_group_id(group("never-joined"))
        .with_generation_id_or_member_epoch(4)
        .with_member_id(s("ghost"))
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(TOPIC)))
                .with_partitions(vec![partition(0, "")]),
        ]);
    let response: OffsetCommitResponse = call(&h, ApiKey::OffsetCommit, 8, &stale).await;
    assert_eq!(
        response.topics[0].partitions[0].error_code, 22,
        "ILLEGAL_GENERATION"
    );

    let deleted: DeleteGroupsResponse = call(
        &h,
        ApiKey::DeleteGroups,
        2,
        &DeleteGroupsRequest::default().with_groups_names(vec![group("never-existed")]),
    )
    .await;
    assert_eq!(deleted.results[0].error_code, 69, "GROUP_ID_NOT_FOUND");

    let described: DescribeGroupsResponse = call(
        &h,
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![group("never-existed")]),
    )
    .await;
    assert_eq!(described.groups[0].error_code, 0);
    assert_eq!(described.groups[0].group_state.as_str(), "Dead");

    // The simple consumer's commit is there, and a null topic list returns it.
    let all: OffsetFetchResponse = call(
        &h,
        ApiKey::OffsetFetch,
        7,
        &OffsetFetchRequest::default()
            .with_group_id(group("simple"))
            .with_topics(None),
    )
    .await;
    assert_eq!(all.topics.len(), 1);
    assert_eq!(all.topics[0].partitions[0].committed_offset, 1);
}

#[tokio::test]
async fn offset_delete_spares_topics_the_group_consumes() {
    let h = handler().await;
    let delete = |group_id: &str, partitions: Vec<i32>| {
        use kafka_protocol::messages::offset_delete_request::{
            OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
        };
        OffsetDeleteRequest::default()
            .with_group_id(group(group_id))
            .with_topics(vec![
                OffsetDeleteRequestTopic::default()
                    .with_name(TopicName(s(TOPIC)))
                    .with_partitions(
                        partitions
                            .into_iter()
                            .map(|p| {
                                OffsetDeleteRequestPartition::default().with_partition_index(p)
                            })
                            .collect(),
                    ),
            ])
    };
    let commit = |group_id: &str, generation: i32, member: &str| {
        OffsetCommitRequest::default()
            .with_group_id(group(group_id))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(member))
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(TOPIC)))
                    .with_partitions(
                        (0..2)
                            .map(|p| {
                                OffsetCommitRequestPartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(5)
                            })
                            .collect(),
                    ),
            ])
    };

    let unknown: OffsetDeleteResponse =
        call(&h, ApiKey::OffsetDelete, 0, &delete("nobody", vec![0])).await;
    assert_eq!(unknown.error_code, 69, "GROUP_ID_NOT_FOUND");

    // A group without members: the offsets go.
    let _: OffsetCommitResponse = call(&h, ApiKey::OffsetCommit, 8, &commit("idle", -1, "")).await;
    let deleted: OffsetDeleteResponse =
        call(&h, ApiKey::OffsetDelete, 0, &delete("idle", vec![1, 7])).await;
    assert_eq!(deleted.error_code, 0);
    let codes: Vec<i16> = deleted.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(codes, vec![0, 3]);
    assert_eq!(fetch_offset(&h, "idle", 8).await.0, -1);

    // A consumer group subscribed to the topic keeps them.
    let mut subscription = Vec::new();
    subscription.extend_from_slice(&0i16.to_be_bytes());
    subscription.extend_from_slice(&1i32.to_be_bytes());
    subscription.extend_from_slice(&(TOPIC.len() as i16).to_be_bytes());
    subscription.extend_from_slice(TOPIC.as_bytes());
    subscription.extend_from_slice(&(-1i32).to_be_bytes());
    let mut join = join_request("busy", "", 10_000);
    join.protocols[0].metadata = Bytes::from(subscription);
    let joined: JoinGroupResponse = call(&h, ApiKey::JoinGroup, 3, &join).await;
    assert_eq!(joined.error_code, 0);
    let member = joined.member_id.to_string();
    let synced: SyncGroupResponse = call(
        &h,
        ApiKey::SyncGroup,
        3,
        &SyncGroupRequest::default()
            .with_group_id(group("busy"))
            .with_generation_id(1)
            .with_member_id(s(&member)),
    )
    .await;
    assert_eq!(synced.error_code, 0);
    let committed: OffsetCommitResponse =
        call(&h, ApiKey::OffsetCommit, 8, &commit("busy", 1, &member)).await;
    assert_eq!(committed.topics[0].partitions[0].error_code, 0);
    let refused: OffsetDeleteResponse =
        call(&h, ApiKey::OffsetDelete, 0, &delete("busy", vec![0])).await;
    assert_eq!(refused.error_code, 0);
    assert_eq!(
        refused.topics[0].partitions[0].error_code, 86,
        "GROUP_SUBSCRIBED_TO_TOPIC"
    );
    assert_eq!(fetch_offset(&h, "busy", 8).await.0, 5);
}
