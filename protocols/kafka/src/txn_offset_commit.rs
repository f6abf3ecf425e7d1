//! TxnOffsetCommit (key 28): a consumer group's offsets committed inside a transaction. The
//! group checks the member first (KIP-447: v3 sends generation, member id and instance id;
//! older versions, or a generation below 0 with no member, skip the check as Kafka does); the
//! transaction then keeps the offsets pending until it commits (they become the group's
//! committed offsets) or aborts (they are dropped).

use hubgate_storage::{CommittedOffset, PendingOffset};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use crate::dispatch::Handler;
use crate::error::code;
use crate::group::{Commit, MemberRef, now_ms};
use crate::lookup;

/// Answers a TxnOffsetCommit request.
pub(crate) async fn handle(
    h: &Handler,
    request: TxnOffsetCommitRequest,
    version: i16,
) -> TxnOffsetCommitResponse {
    let id = request.transactional_id.0.to_string();
    let group = request.group_id.0.to_string();
    let max_metadata = h.groups.config().max_metadata_bytes;
    let committed_at_ms = now_ms();
    let mut answers = Vec::with_capacity(request.topics.len());
    let mut offsets = Vec::new();
    for topic in &request.topics {
        let hub = lookup::topic(h, topic.name.as_str()).await;
        let mut own = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let metadata = p.committed_metadata.as_deref().unwrap_or_default();
            let error = match lookup::partition(&hub, p.partition_index) {
                Err(error) => Some(error),
                Ok(_) if metadata.len() > max_metadata => Some(code::OFFSET_METADATA_TOO_LARGE),
                Ok(partition) => {
                    offsets.push(PendingOffset {
                        group: group.clone(),
                        partition,
                        offset: CommittedOffset {
                            offset: p.committed_offset,
                            leader_epoch: (version >= 2 && p.committed_leader_epoch >= 0)
                                .then_some(p.committed_leader_epoch),
                            metadata: metadata.to_owned(),
                            committed_at_ms,
                        },
                    });
                    None
                }
            };
            own.push((p.partition_index, error));
        }
        answers.push((topic.name.clone(), own));
    }
    let common = if id.is_empty() {
        code::INVALID_REQUEST
    } else if group.is_empty() {
        code::INVALID_GROUP_ID
    } else {
        match check_member(h, &request, &group).await {
            Err(error) => error,
            Ok(()) if offsets.is_empty() => code::NONE,
            Ok(()) => h
                .txns
                .commit_offsets(
                    &id,
                    request.producer_id.0,
                    request.producer_epoch,
                    group,
                    offsets,
                )
                .await
                .err()
                .unwrap_or(code::NONE),
        }
    };
    let topics = answers
        .into_iter()
        .map(|(name, own)| {
            let partitions = own
                .into_iter()
                .map(|(index, error)| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(error.unwrap_or(common))
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(name)
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

/// The KIP-447 check: with a generation, member id or instance id given, the member must be
/// in the group at that generation.
async fn check_member(
    h: &Handler,
    request: &TxnOffsetCommitRequest,
    group: &str,
) -> Result<(), i16> {
    let unchecked = request.generation_id < 0
        && request.member_id.is_empty()
        && request.group_instance_id.is_none();
    if unchecked {
        return Ok(());
    }
    let commit = Commit {
        who: MemberRef {
            member_id: request.member_id.to_string(),
            instance_id: request.group_instance_id.as_ref().map(|i| i.to_string()),
        },
        generation: request.generation_id,
        offsets: Vec::new(),
    };
    h.groups.commit(group, commit).await
}
