//! OffsetFetch (key 9): a group's committed offsets, with leader epoch and metadata. A
//! partition without a commit answers offset -1 and no error, as Kafka does; a null topic
//! list asks for every partition the group committed. v8+ asks for several groups at once.
//! With `require_stable` (v7+) a partition for which an open transaction holds pending offsets
//! of the group answers UNSTABLE_OFFSET_COMMIT (retriable), so a read-committed consumer never
//! resumes from an offset that the transaction is about to move.

use std::collections::BTreeMap;

use hubgate_storage::{CommittedOffset, HubName, PartitionId};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::error::{code, storage_code};

/// The (topic, partition indexes) a request asks for; `None` asks for every committed offset.
/// The v1–7 and v8+ request topic types differ only in their type name.
macro_rules! wanted {
    ($topics:expr) => {
        $topics.map(|topics| {
            topics
                .into_iter()
                .map(|t| (t.name, t.partition_indexes))
                .collect()
        })
    };
}

/// One partition's answer: index, committed offset (if any) or error.
type Answer = (i32, Result<Option<CommittedOffset>, i16>);

/// Answers an OffsetFetch request.
pub(crate) async fn handle(
    h: &Handler,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let stable = version >= 7 && request.require_stable;
    if version < 8 {
        let (error, topics) = fetch(h, &request.group_id.0, wanted!(request.topics), stable).await;
        let topics = topics
            .into_iter()
            .map(|(name, partitions)| {
                let partitions = partitions
                    .into_iter()
                    .map(|(index, answer)| {
                        // v1 has no group-level error: each partition carries it.
                        let (offset, error) = split(answer, error.filter(|_| version < 2));
                        OffsetFetchResponsePartition::default()
                            .with_partition_index(index)
                            .with_committed_offset(offset.as_ref().map_or(-1, |o| o.offset))
                            .with_committed_leader_epoch(epoch(&offset, version >= 5))
                            .with_metadata(Some(metadata(offset)))
                            .with_error_code(error)
                    })
                    .collect();
                OffsetFetchResponseTopic::default()
                    .with_name(name)
                    .with_partitions(partitions)
            })
            .collect();
        let top = if version >= 2 {
            error.unwrap_or(code::NONE)
        } else {
            code::NONE
        };
        return OffsetFetchResponse::default()
            .with_topics(topics)
            .with_error_code(top);
    }
    let mut groups = Vec::with_capacity(request.groups.len());
    for group in request.groups {
        let (error, topics) = fetch(h, &group.group_id.0, wanted!(group.topics), stable).await;
        let topics = topics
            .into_iter()
            .map(|(name, partitions)| {
                let partitions = partitions
                    .into_iter()
                    .map(|(index, answer)| {
                        let (offset, error) = split(answer, None);
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(index)
                            .with_committed_offset(offset.as_ref().map_or(-1, |o| o.offset))
                            .with_committed_leader_epoch(epoch(&offset, true))
                            .with_metadata(Some(metadata(offset)))
                            .with_error_code(error)
                    })
                    .collect();
                OffsetFetchResponseTopics::default()
                    .with_name(name)
                    .with_partitions(partitions)
            })
            .collect();
        groups.push(
            OffsetFetchResponseGroup::default()
                .with_group_id(group.group_id)
                .with_topics(topics)
                .with_error_code(error.unwrap_or(code::NONE)),
        );
    }
    OffsetFetchResponse::default().with_groups(groups)
}

/// The group's offsets for `wanted` (`None`: everything it committed), by topic, with the
/// group-level error if the whole group failed; with `stable`, partitions with pending
/// transactional offsets answer UNSTABLE_OFFSET_COMMIT.
async fn fetch(
    h: &Handler,
    group: &str,
    wanted: Option<Vec<(TopicName, Vec<i32>)>>,
    stable: bool,
) -> (Option<i16>, Vec<(TopicName, Vec<Answer>)>) {
    let (error, mut topics) = committed(h, group, wanted).await;
    if stable && error.is_none() {
        for (name, answers) in &mut topics {
            let Ok(hub) = HubName::new(name.0.as_str()) else {
                continue;
            };
            for (index, answer) in answers.iter_mut() {
                let Ok(index) = u32::try_from(*index) else {
                    continue;
                };
                if h.txns
                    .has_pending(group, &PartitionId::new(hub.clone(), index))
                {
                    *answer = Err(code::UNSTABLE_OFFSET_COMMIT);
                }
            }
        }
    }
    (error, topics)
}

/// The group's committed offsets for `wanted`, as [`fetch`] without the stability check.
async fn committed(
    h: &Handler,
    group: &str,
    wanted: Option<Vec<(TopicName, Vec<i32>)>>,
) -> (Option<i16>, Vec<(TopicName, Vec<Answer>)>) {
    let failed = |error: i16, wanted: Option<Vec<(TopicName, Vec<i32>)>>| {
        let topics = wanted
            .unwrap_or_default()
            .into_iter()
            .map(|(name, indexes)| {
                let answers = indexes.into_iter().map(|i| (i, Err(error))).collect();
                (name, answers)
            })
            .collect();
        (Some(error), topics)
    };
    if group.is_empty() {
        return failed(code::INVALID_GROUP_ID, wanted);
    }
    let committed = match h.storage.committed_offsets(group).await {
        Ok(committed) => committed,
        Err(e) => return failed(storage_code(&e), wanted),
    };
    let mut by_topic: BTreeMap<String, BTreeMap<i32, CommittedOffset>> = BTreeMap::new();
    for (partition, offset) in committed {
        let index = i32::try_from(partition.index).unwrap_or(i32::MAX);
        by_topic
            .entry(partition.hub.to_string())
            .or_default()
            .insert(index, offset);
    }
    let topics = match wanted {
        None => by_topic
            .into_iter()
            .map(|(name, partitions)| {
                let answers = partitions
                    .into_iter()
                    .map(|(i, offset)| (i, Ok(Some(offset))))
                    .collect();
                (TopicName(StrBytes::from_string(name)), answers)
            })
            .collect(),
        Some(wanted) => wanted
            .into_iter()
            .map(|(name, indexes)| {
                let committed = by_topic.get(name.0.as_str());
                let answers = indexes
                    .into_iter()
                    .map(|i| (i, Ok(committed.and_then(|c| c.get(&i)).cloned())))
                    .collect();
                (name, answers)
            })
            .collect(),
    };
    (None, topics)
}

/// The offset and error code of one answer; `group_error` overrides when set.
fn split(
    answer: Result<Option<CommittedOffset>, i16>,
    group_error: Option<i16>,
) -> (Option<CommittedOffset>, i16) {
    match (answer, group_error) {
        (_, Some(error)) | (Err(error), None) => (None, error),
        (Ok(offset), None) => (offset, code::NONE),
    }
}

fn epoch(offset: &Option<CommittedOffset>, supported: bool) -> i32 {
    offset
        .as_ref()
        .and_then(|o| o.leader_epoch)
        .filter(|_| supported)
        .unwrap_or(-1)
}

fn metadata(offset: Option<CommittedOffset>) -> StrBytes {
    StrBytes::from_string(offset.map(|o| o.metadata).unwrap_or_default())
}
