//! OffsetCommit (key 8): a group's consumed positions, with leader epoch and metadata string.
//! Partitions are resolved here (UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE each on
//! their own); the group's coordinator then checks the member and generation and stores the
//! rest in one durable write.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use crate::dispatch::Handler;
use crate::error::code;
use crate::group::{Commit, MemberRef, now_ms};
use crate::lookup;
use hubgate_storage::CommittedOffset;

/// Answers an OffsetCommit request.
pub(crate) async fn handle(
    h: &Handler,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_error = request
        .group_id
        .0
        .is_empty()
        .then_some(code::INVALID_GROUP_ID);
    let max_metadata = h.groups.config().max_metadata_bytes;
    let committed_at_ms = now_ms();
    // Per topic, per partition: the index and its own error, or `None` when it is committed
    // with the others.
    let mut answers: Vec<Vec<(i32, Option<i16>)>> = Vec::with_capacity(request.topics.len());
    let mut offsets = Vec::new();
    for topic in &request.topics {
        let hub = lookup::topic(h, &topic.name).await;
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let metadata = p.committed_metadata.as_deref().unwrap_or_default();
            let own_error = match (group_error, lookup::partition(&hub, p.partition_index)) {
                (Some(error), _) | (None, Err(error)) => Some(error),
                (None, Ok(_)) if metadata.len() > max_metadata => {
                    Some(code::OFFSET_METADATA_TOO_LARGE)
                }
                (None, Ok(id)) => {
                    offsets.push((
                        id,
                        CommittedOffset {
                            offset: p.committed_offset,
                            leader_epoch: (version >= 6 && p.committed_leader_epoch >= 0)
                                .then_some(p.committed_leader_epoch),
                            metadata: metadata.to_owned(),
                            committed_at_ms,
                        },
                    ));
                    None
                }
            };
            partitions.push((p.partition_index, own_error));
        }
        answers.push(partitions);
    }
    let stored = if offsets.is_empty() {
        Ok(())
    } else {
        let commit = Commit {
            who: MemberRef {
                member_id: request.member_id.to_string(),
                instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
            },
            generation: request.generation_id_or_member_epoch,
            offsets,
        };
        h.groups.commit(&request.group_id.0, commit).await
    };
    let topics = answers
        .into_iter()
        .zip(request.topics)
        .map(|(partitions, topic)| {
            let partitions = partitions
                .into_iter()
                .map(|(index, own_error)| {
                    let error = own_error.unwrap_or(stored.err().unwrap_or(code::NONE));
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(error)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
