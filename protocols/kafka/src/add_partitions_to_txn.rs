//! AddPartitionsToTxn (key 24), the client form (v0–3): adds partitions to the producer's open
//! transaction, opening it (and starting its timeout) if none is. Unknown partitions fail with
//! their own error and the others with OPERATION_NOT_ATTEMPTED, as Kafka answers.

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use crate::dispatch::Handler;
use crate::error::{code, fenced_for};
use crate::lookup;

/// Answers an AddPartitionsToTxn request.
pub(crate) async fn handle(
    h: &Handler,
    request: AddPartitionsToTxnRequest,
    version: i16,
) -> AddPartitionsToTxnResponse {
    let id = request.v3_and_below_transactional_id.0.to_string();
    // Per topic, per partition: the index and the partition's own error, if any.
    let mut answers = Vec::with_capacity(request.v3_and_below_topics.len());
    let mut partitions = Vec::new();
    let mut any_failed = false;
    for topic in &request.v3_and_below_topics {
        let hub = lookup::topic(h, topic.name.as_str()).await;
        let mut own = Vec::with_capacity(topic.partitions.len());
        for &index in &topic.partitions {
            match lookup::partition(&hub, index) {
                Ok(id) => {
                    partitions.push(id);
                    own.push((index, None));
                }
                Err(error) => {
                    any_failed = true;
                    own.push((index, Some(error)));
                }
            }
        }
        answers.push((topic.name.clone(), own));
    }
    let common = if id.is_empty() {
        code::INVALID_REQUEST
    } else if any_failed {
        code::OPERATION_NOT_ATTEMPTED
    } else {
        let result = h
            .txns
            .add_partitions(
                &id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                partitions,
            )
            .await;
        fenced_for(result.err().unwrap_or(code::NONE), version, 2)
    };
    let topics = answers
        .into_iter()
        .map(|(name, own)| {
            let results = own
                .into_iter()
                .map(|(index, error)| {
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(index)
                        .with_partition_error_code(error.unwrap_or(common))
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(name)
                .with_results_by_partition(results)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics)
}
