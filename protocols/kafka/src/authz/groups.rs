//! Authorization of the consumer-group APIs: Listen to take part in a group, read or commit its
//! offsets and describe it; Manage to delete a group or its offsets. Kafka answers a denied
//! group GROUP_AUTHORIZATION_FAILED (30) for the whole request, per group where a request names
//! several, and drops groups from ListGroups instead of failing it.

use hubgate_protocol::Right;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};

use super::Access;
use crate::error::code::{
    GROUP_AUTHORIZATION_FAILED as DENIED, TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};

/// Whether the access may take part in consumer groups.
pub(crate) fn may_join(access: &Access) -> bool {
    access.holds(Right::Listen)
}

/// The error code for a whole group request the access may not make, if any.
pub(crate) fn group_denied(access: &Access) -> Option<i16> {
    (!may_join(access)).then_some(DENIED)
}

/// OffsetCommit: the group needs Listen (else 30 on every partition), then each topic needs
/// Listen (else 29 on its partitions). Returns the full answer when the group is denied, else
/// the denied topics' results to add to the handler's answer.
pub(crate) fn offset_commit(
    access: &Access,
    request: &mut OffsetCommitRequest,
) -> Result<Vec<OffsetCommitResponseTopic>, OffsetCommitResponse> {
    let answer =
        |topic: &kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic,
         code| {
            OffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_topic_id(topic.topic_id)
                .with_partitions(
                    topic
                        .partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        };
    if !may_join(access) {
        let topics = request.topics.iter().map(|t| answer(t, DENIED)).collect();
        return Err(OffsetCommitResponse::default().with_topics(topics));
    }
    let (keep, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut request.topics)
        .into_iter()
        .partition(|t| access.allows(&t.name, Right::Listen));
    request.topics = keep;
    Ok(denied
        .iter()
        .map(|t| answer(t, TOPIC_AUTHORIZATION_FAILED))
        .collect())
}

/// OffsetFetch of a group without Listen: 30 for the group (the top-level error from v2, per
/// group from v8, per requested partition in v1).
pub(crate) fn offset_fetch_denied(
    access: &Access,
    request: &OffsetFetchRequest,
    version: i16,
) -> Option<OffsetFetchResponse> {
    if may_join(access) {
        return None;
    }
    let mut response = OffsetFetchResponse::default();
    if version >= 8 {
        response.groups = request
            .groups
            .iter()
            .map(|g| {
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id.clone())
                    .with_error_code(DENIED)
            })
            .collect();
    } else {
        if version >= 2 {
            response.error_code = DENIED;
        }
        response.topics = request
            .topics
            .iter()
            .flatten()
            .map(|t| {
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|&index| {
                        OffsetFetchResponsePartition::default()
                            .with_partition_index(index)
                            .with_committed_offset(-1)
                            .with_error_code(DENIED)
                    })
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
    }
    Some(response)
}

/// DescribeGroups: each group needs Listen; returns the denied groups' results.
pub(crate) fn describe_groups(access: &Access, groups: &mut Vec<GroupId>) -> Vec<DescribedGroup> {
    if may_join(access) {
        return Vec::new();
    }
    std::mem::take(groups)
        .into_iter()
        .map(|g| {
            DescribedGroup::default()
                .with_group_id(g)
                .with_error_code(DENIED)
                .with_authorized_operations(i32::MIN)
        })
        .collect()
}

/// DeleteGroups: each group needs Manage; returns the denied groups' results.
pub(crate) fn delete_groups(
    access: &Access,
    groups: &mut Vec<GroupId>,
) -> Vec<DeletableGroupResult> {
    if access.holds(Right::Manage) {
        return Vec::new();
    }
    std::mem::take(groups)
        .into_iter()
        .map(|g| {
            DeletableGroupResult::default()
                .with_group_id(g)
                .with_error_code(DENIED)
        })
        .collect()
}

/// FindCoordinator: a group coordinator needs Listen (else 30), a transaction coordinator
/// Send (else 53). The full answer when denied.
pub(crate) fn find_coordinator_denied(
    access: &Access,
    request: &FindCoordinatorRequest,
    version: i16,
) -> Option<FindCoordinatorResponse> {
    let (allowed, code) = match request.key_type {
        1 => (
            access.holds(Right::Send),
            TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ),
        _ => (may_join(access), DENIED),
    };
    if allowed {
        return None;
    }
    let mut response = FindCoordinatorResponse::default();
    if version >= 4 {
        response.coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id((-1).into())
                    .with_port(-1)
                    .with_error_code(code)
            })
            .collect();
    } else {
        response.error_code = code;
        response.node_id = (-1).into();
        response.port = -1;
    }
    Some(response)
}

/// OffsetFetch of a group the access may read: the committed offsets of each topic need
/// Listen on it. A listing of every committed topic drops the others; a named topic gets 29 on
/// its partitions (offset -1), as Kafka does.
pub(crate) fn offset_fetch_topics(
    access: &Access,
    request: &OffsetFetchRequest,
    response: &mut OffsetFetchResponse,
) {
    let allowed = |name: &str| access.allows(name, Right::Listen);
    if request.topics.is_none() {
        response.topics.retain(|t| allowed(&t.name));
    }
    for topic in response.topics.iter_mut().filter(|t| !allowed(&t.name)) {
        for p in &mut topic.partitions {
            p.committed_offset = -1;
            p.metadata = None;
            p.error_code = TOPIC_AUTHORIZATION_FAILED;
        }
    }
    for (group, asked) in response.groups.iter_mut().zip(&request.groups) {
        if asked.topics.is_none() {
            group.topics.retain(|t| allowed(&t.name));
        }
        for topic in group.topics.iter_mut().filter(|t| !allowed(&t.name)) {
            for p in &mut topic.partitions {
                p.committed_offset = -1;
                p.metadata = None;
                p.error_code = TOPIC_AUTHORIZATION_FAILED;
            }
        }
    }
}
