//! DescribeTransactions (key 65, KIP-664): a transactional id's coordinator state, so an
//! operator can see a stuck transaction (`kafka-transactions.sh describe`). An unknown id
//! answers TRANSACTIONAL_ID_NOT_FOUND.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::error::code;
use crate::txn::state::status_name;

/// Answers a DescribeTransactions request.
pub(crate) fn handle(
    h: &Handler,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let state = TransactionState::default().with_transactional_id(id.clone());
            let Some(record) = h.txns.describe(id.as_str()) else {
                return state
                    .with_error_code(code::TRANSACTIONAL_ID_NOT_FOUND)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
                    .with_transaction_start_time_ms(-1);
            };
            let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for p in &record.partitions {
                topics
                    .entry(p.hub.to_string())
                    .or_default()
                    .push(i32::try_from(p.index).unwrap_or(i32::MAX));
            }
            let topics = topics
                .into_iter()
                .map(|(name, partitions)| {
                    TopicData::default()
                        .with_topic(TopicName(StrBytes::from_string(name)))
                        .with_partitions(partitions)
                })
                .collect();
            state
                .with_transaction_state(StrBytes::from_static_str(status_name(record.status)))
                .with_transaction_timeout_ms(i32::try_from(record.timeout_ms).unwrap_or(i32::MAX))
                .with_transaction_start_time_ms(record.started_ms)
                .with_producer_id(ProducerId(record.producer_id))
                .with_producer_epoch(record.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
