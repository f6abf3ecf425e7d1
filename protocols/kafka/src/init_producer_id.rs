//! InitProducerId (key 22): producer ids for idempotent producers.
//!
//! A new producer gets a fresh id (unique across restarts, from storage) at epoch 0. A producer
//! that presents its current id and epoch (v3+, KIP-360, after a sequence error) gets the same
//! id at the next epoch, which resets its sequences; when the epoch would overflow it gets a new
//! id. Transactional ids are refused: transactions are not supported.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use crate::dispatch::Handler;
use crate::error::{code, storage_code};

/// Answers an InitProducerId request.
pub(crate) async fn handle(h: &Handler, request: InitProducerIdRequest) -> InitProducerIdResponse {
    let failed = |error_code| {
        InitProducerIdResponse::default()
            .with_error_code(error_code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if request.transactional_id.is_some() {
        return failed(code::INVALID_REQUEST);
    }
    let current = (request.producer_id.0, request.producer_epoch);
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
