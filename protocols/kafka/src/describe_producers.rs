//! DescribeProducers (key 61, KIP-664): the idempotent and transactional producers with state
//! in each partition, with the first offset of their open transaction
//! (`kafka-transactions.sh describe-producers`, `find-hanging`).

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use crate::dispatch::Handler;
use crate::error::storage_code;
use crate::lookup;

/// Answers a DescribeProducers request.
pub(crate) async fn handle(
    h: &Handler,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let hub = lookup::topic(h, topic.name.as_str()).await;
        let mut partitions = Vec::with_capacity(topic.partition_indexes.len());
        for index in topic.partition_indexes {
            let out = PartitionResponse::default().with_partition_index(index);
            let producers = match lookup::partition(&hub, index) {
                Ok(id) => h.storage.producers(&id).await.map_err(|e| storage_code(&e)),
                Err(error) => Err(error),
            };
            partitions.push(match producers {
                Ok(producers) => out.with_active_producers(
                    producers
                        .into_iter()
                        .map(|p| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(p.producer_id))
                                .with_producer_epoch(i32::from(p.producer_epoch))
                                .with_last_sequence(p.last_sequence)
                                .with_last_timestamp(p.last_timestamp)
                                .with_coordinator_epoch(0)
                                .with_current_txn_start_offset(p.txn_start.unwrap_or(-1))
                        })
                        .collect(),
                ),
                Err(error) => out.with_error_code(error),
            });
        }
        topics.push(
            TopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DescribeProducersResponse::default().with_topics(topics)
}
