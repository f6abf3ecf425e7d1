//! AddOffsetsToTxn (key 25): adds a consumer group to the producer's open transaction, so that
//! its TxnOffsetCommits are committed or dropped with it.

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use crate::dispatch::Handler;
use crate::error::{code, fenced_for};

/// Answers an AddOffsetsToTxn request.
pub(crate) async fn handle(
    h: &Handler,
    request: AddOffsetsToTxnRequest,
    version: i16,
) -> AddOffsetsToTxnResponse {
    let id = request.transactional_id.0.to_string();
    let group = request.group_id.0.to_string();
    let error = if id.is_empty() {
        code::INVALID_REQUEST
    } else if group.is_empty() {
        code::INVALID_GROUP_ID
    } else {
        let result = h
            .txns
            .add_offsets(&id, request.producer_id.0, request.producer_epoch, group)
            .await;
        fenced_for(result.err().unwrap_or(code::NONE), version, 2)
    };
    AddOffsetsToTxnResponse::default().with_error_code(error)
}
