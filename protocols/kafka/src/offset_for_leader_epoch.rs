//! OffsetForLeaderEpoch (key 23): the leader epoch is always 0 on this single broker, so
//! epoch 0 ends at the high watermark and no later epoch exists yet.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::lookup;

/// Answers an OffsetForLeaderEpoch request.
pub(crate) async fn handle(
    h: &Handler,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let hub = lookup::topic(h, topic.topic.as_str()).await;
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut out = EpochEndOffset::default()
                .with_partition(p.partition)
                .with_leader_epoch(-1)
                .with_end_offset(-1);
            let id = lookup::partition(&hub, p.partition);
            match id {
                Err(e) => out.error_code = e,
                Ok(_) if p.current_leader_epoch > 0 => out.error_code = code::UNKNOWN_LEADER_EPOCH,
                Ok(id) if p.leader_epoch <= 0 => match h.storage.partition(&id).await {
                    Ok(state) => {
                        out.leader_epoch = 0;
                        out.end_offset = state.high_watermark;
                    }
                    Err(e) => out.error_code = storage_code(&e),
                },
                // An epoch this broker never had: undefined, as Kafka answers.
                Ok(_) => {}
            }
            partitions.push(out);
        }
        topics.push(
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions),
        );
    }
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
