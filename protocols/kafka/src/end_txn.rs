//! EndTxn (key 26): commits or aborts the producer's open transaction. Answered once a marker
//! is durable in every partition of the transaction and the pending group offsets are applied
//! (commit) or dropped (abort).

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use crate::dispatch::Handler;
use crate::error::{code, fenced_for};

/// Answers an EndTxn request.
pub(crate) async fn handle(h: &Handler, request: EndTxnRequest, version: i16) -> EndTxnResponse {
    let id = request.transactional_id.0.to_string();
    let error = if id.is_empty() {
        code::INVALID_REQUEST
    } else {
        let result = h
            .txns
            .end(
                &id,
                request.producer_id.0,
                request.producer_epoch,
                request.committed,
            )
            .await;
        fenced_for(result.err().unwrap_or(code::NONE), version, 2)
    };
    EndTxnResponse::default().with_error_code(error)
}
