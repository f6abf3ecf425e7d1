//! The transaction APIs: every one needs Send (the transactional id acts for a producer), and
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53) answers a client without it. AddPartitionsToTxn
//! needs Send on each topic (29 for those without it, OPERATION_NOT_ATTEMPTED for the rest, as
//! Kafka answers); AddOffsetsToTxn and TxnOffsetCommit also need Listen for the group (30), and
//! TxnOffsetCommit Listen on each topic (29). The admin views need Listen: DescribeTransactions
//! answers 53 per id without it, ListTransactions lists nothing, DescribeProducers answers 29 per
//! topic not covered.

use hubgate_protocol::Right;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_producers_response::{PartitionResponse, TopicResponse};
use kafka_protocol::messages::describe_transactions_response::TransactionState;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, DescribeProducersRequest,
    DescribeTransactionsRequest, DescribeTransactionsResponse, TxnOffsetCommitRequest,
};

use super::Access;
use super::topics::split_off;
use crate::error::code::{
    GROUP_AUTHORIZATION_FAILED, OPERATION_NOT_ATTEMPTED, TOPIC_AUTHORIZATION_FAILED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};

/// The error for a request that needs Send on its transactional id, if the access lacks it.
pub(crate) fn txn_denied(access: &Access) -> Option<i16> {
    (!access.holds(Right::Send)).then_some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
}

/// The error for AddOffsetsToTxn: Send for the transaction, then Listen for the group.
pub(crate) fn add_offsets_denied(access: &Access) -> Option<i16> {
    txn_denied(access)
        .or_else(|| (!access.holds(Right::Listen)).then_some(GROUP_AUTHORIZATION_FAILED))
}

/// The whole answer to an AddPartitionsToTxn (v0–3) the access may not make, if any.
pub(crate) fn add_partitions(
    access: &Access,
    request: &AddPartitionsToTxnRequest,
) -> Option<AddPartitionsToTxnResponse> {
    let transaction = txn_denied(access);
    let any_topic = request
        .v3_and_below_topics
        .iter()
        .any(|t| !access.allows(&t.name, Right::Send));
    if transaction.is_none() && !any_topic {
        return None;
    }
    let topics = request
        .v3_and_below_topics
        .iter()
        .map(|topic| {
            let error = transaction.unwrap_or(if access.allows(&topic.name, Right::Send) {
                OPERATION_NOT_ATTEMPTED
            } else {
                TOPIC_AUTHORIZATION_FAILED
            });
            let results = topic
                .partitions
                .iter()
                .map(|&index| {
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(index)
                        .with_partition_error_code(error)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic.name.clone())
                .with_results_by_partition(results)
        })
        .collect();
    Some(AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics))
}

/// TxnOffsetCommit: when the transaction or the group is refused, every partition gets that
/// error (`Err`); otherwise the topics without Listen are moved out of `request` and answered
/// 29 (`Ok`).
pub(crate) fn txn_offset_commit(
    access: &Access,
    request: &mut TxnOffsetCommitRequest,
) -> Result<Vec<TxnOffsetCommitResponseTopic>, Vec<TxnOffsetCommitResponseTopic>> {
    let answer = |topics: Vec<_>, error: i16| -> Vec<TxnOffsetCommitResponseTopic> {
        topics
            .into_iter()
            .map(|t: kafka_protocol::messages::txn_offset_commit_request::TxnOffsetCommitRequestTopic| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        TxnOffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(error)
                    })
                    .collect();
                TxnOffsetCommitResponseTopic::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect()
    };
    if let Some(error) = add_offsets_denied(access) {
        return Err(answer(std::mem::take(&mut request.topics), error));
    }
    let denied = split_off(&mut request.topics, |t| {
        access.allows(&t.name, Right::Listen)
    });
    Ok(answer(denied, TOPIC_AUTHORIZATION_FAILED))
}

/// DescribeTransactions without Listen: 53 for every id asked for.
pub(crate) fn describe_transactions(
    access: &Access,
    request: &DescribeTransactionsRequest,
) -> Option<DescribeTransactionsResponse> {
    if access.holds(Right::Listen) {
        return None;
    }
    let states = request
        .transactional_ids
        .iter()
        .map(|id| {
            TransactionState::default()
                .with_error_code(TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
                .with_transactional_id(id.clone())
        })
        .collect();
    Some(DescribeTransactionsResponse::default().with_transaction_states(states))
}

/// Whether ListTransactions may list anything.
pub(crate) fn may_list_transactions(access: &Access) -> bool {
    access.holds(Right::Listen)
}

/// DescribeProducers: the topics without Listen are moved out of `request` and answered 29.
pub(crate) fn describe_producers(
    access: &Access,
    request: &mut DescribeProducersRequest,
) -> Vec<TopicResponse> {
    split_off(&mut request.topics, |t| {
        access.allows(&t.name, Right::Listen)
    })
    .into_iter()
    .map(|t| {
        let partitions = t
            .partition_indexes
            .iter()
            .map(|&index| {
                PartitionResponse::default()
                    .with_partition_index(index)
                    .with_error_code(TOPIC_AUTHORIZATION_FAILED)
            })
            .collect();
        TopicResponse::default()
            .with_name(t.name)
            .with_partitions(partitions)
    })
    .collect()
}
