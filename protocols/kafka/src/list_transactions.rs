//! ListTransactions (key 66, KIP-664, v0–1): the transactional ids this node coordinates,
//! filtered by state name, producer id and (v1, KIP-994) how long the open transaction has
//! run. Unknown state names are echoed in `unknown_state_filters`, as Kafka does.

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::group::now_ms;
use crate::txn::state::{STATUS_NAMES, status_name};

/// Answers a ListTransactions request.
pub(crate) fn handle(
    h: &Handler,
    request: ListTransactionsRequest,
    version: i16,
) -> ListTransactionsResponse {
    let unknown: Vec<StrBytes> = request
        .state_filters
        .iter()
        .filter(|s| !STATUS_NAMES.contains(&s.as_str()))
        .cloned()
        .collect();
    let min_duration =
        (version >= 1 && request.duration_filter >= 0).then_some(request.duration_filter);
    let now = now_ms();
    let states = h
        .txns
        .list()
        .into_iter()
        .filter(|(_, r)| {
            let name = status_name(r.status);
            (request.state_filters.is_empty()
                || request.state_filters.iter().any(|s| s.as_str() == name))
                && (request.producer_id_filters.is_empty()
                    || request
                        .producer_id_filters
                        .contains(&ProducerId(r.producer_id)))
                && min_duration.is_none_or(|d| r.started_ms >= 0 && now - r.started_ms >= d)
        })
        .map(|(id, r)| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(StrBytes::from_string(id)))
                .with_producer_id(ProducerId(r.producer_id))
                .with_transaction_state(StrBytes::from_static_str(status_name(r.status)))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(states)
}
