//! InitProducerId (key 22): producer ids for idempotent and transactional producers.
//!
//! Without a transactional id, a new producer gets a fresh id (unique across restarts, from
//! storage) at epoch 0. A producer that presents its current id and epoch (v3+, KIP-360, after
//! a sequence error) gets the same id at the next epoch, which resets its sequences; when the
//! epoch would overflow it gets a new id.
//!
//! With a transactional id the transaction coordinator answers: the id keeps its producer id
//! and each InitProducerId bumps the epoch, fencing older producers; an open transaction of
//! the previous producer is aborted first (CONCURRENT_TRANSACTIONS until it is).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::dispatch::Handler;
use crate::error::{code, fenced_for, storage_code};

/// Answers an InitProducerId request.
pub(crate) async fn handle(
    h: &Handler,
    request: InitProducerIdRequest,
    version: i16,
) -> InitProducerIdResponse {
    let failed = |error_code| {
        InitProducerIdResponse::default()
            .with_error_code(error_code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    let current = (request.producer_id.0, request.producer_epoch);
    if let Some(id) = &request.transactional_id {
        if id.is_empty() {
            return failed(code::INVALID_REQUEST);
        }
        let given = (current.0 >= 0).then_some(current);
        return match h
            .txns
            .init(id, i64::from(request.transaction_timeout_ms), given)
            .await
        {
            Ok((id, epoch)) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(epoch),
            Err(error) => failed(fenced_for(error, version, 4)),
        };
    }
    let (id, epoch) = match current {
        (id, epoch) if id >= 0 && (0..i16::MAX - 1).contains(&epoch) => (id, epoch + 1),
        _ => match h.storage.new_producer_id().await {
            Ok(id) => (id, 0),
            Err(e) => return failed(storage_code(&e)),
        },
    };
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}
