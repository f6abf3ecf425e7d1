//! DeleteRecords (key 21): moves partitions' log start offsets; `-1` means the high watermark.

use hubgate_storage::PartitionId;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::dispatch::Handler;
use crate::error::storage_code;
use crate::lookup;

/// Answers a DeleteRecords request.
pub(crate) async fn handle(h: &Handler, request: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let hub = lookup::topic(h, topic.name.as_str()).await;
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut result = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            let id = lookup::partition(&hub, p.partition_index);
            match id {
                Ok(id) => match delete(h, &id, p.offset).await {
                    Ok(low) => result.low_watermark = low,
                    Err(e) => result.error_code = e,
                },
                Err(e) => result.error_code = e,
            }
            partitions.push(result);
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

async fn delete(h: &Handler, id: &PartitionId, offset: i64) -> Result<i64, i16> {
    let before = if offset == -1 {
        h.storage
            .partition(id)
            .await
            .map_err(|e| storage_code(&e))?
            .high_watermark
    } else {
        offset
    };
    h.storage
        .delete_records(id, before)
        .await
        .map_err(|e| storage_code(&e))
}
