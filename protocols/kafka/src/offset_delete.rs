//! OffsetDelete (key 47): forgets a group's committed offsets for some partitions. Refused per
//! partition (GROUP_SUBSCRIBED_TO_TOPIC) while a member of the consumer group subscribes to the
//! topic, and for the whole request (NON_EMPTY_GROUP) when the group has members of another
//! protocol type.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::dispatch::Handler;
use crate::error::code;
use crate::lookup;

/// Answers an OffsetDelete request.
pub(crate) async fn handle(h: &Handler, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
    if request.group_id.0.is_empty() {
        return OffsetDeleteResponse::default().with_error_code(code::INVALID_GROUP_ID);
    }
    // Per topic, per partition: its own error, or its place in `partitions`.
    let mut answers = Vec::with_capacity(request.topics.len());
    let mut partitions = Vec::new();
    for topic in &request.topics {
        let hub = lookup::topic(h, &topic.name).await;
        let mut answer = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            match lookup::partition(&hub, p.partition_index) {
                Ok(id) => {
                    answer.push((p.partition_index, Ok(partitions.len())));
                    partitions.push(id);
                }
                Err(error) => answer.push((p.partition_index, Err(error))),
            }
        }
        answers.push(answer);
    }
    let deleted = h
        .groups
        .delete_offsets(&request.group_id.0, partitions)
        .await;
    let errors = match deleted {
        Ok(errors) => errors,
        Err(error) => return OffsetDeleteResponse::default().with_error_code(error),
    };
    let topics = answers
        .into_iter()
        .zip(request.topics)
        .map(|(answer, topic)| {
            let partitions = answer
                .into_iter()
                .map(|(index, slot)| {
                    let error = match slot {
                        Ok(i) => errors.get(i).copied().unwrap_or(code::NONE),
                        Err(error) => error,
                    };
                    OffsetDeleteResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(error)
                })
                .collect();
            OffsetDeleteResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetDeleteResponse::default().with_topics(topics)
}
