//! FindCoordinator (key 10): this broker coordinates every group (see `group`) and every
//! transactional id (see `txn`), known or not.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use crate::NODE_ID;
use crate::dispatch::Handler;
use crate::error::code;

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

/// Answers a FindCoordinator request.
pub(crate) fn handle(
    h: &Handler,
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let host = StrBytes::from_string(h.config.advertised_host.clone());
    let port = i32::from(h.config.advertised_port);
    let error = match request.key_type {
        GROUP | TRANSACTION => code::NONE,
        _ => code::INVALID_REQUEST,
    };
    let (node, host, port) = if error == code::NONE {
        (NODE_ID, host, port)
    } else {
        (-1, StrBytes::default(), -1)
    };
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key)
                    .with_node_id(BrokerId(node))
                    .with_host(host.clone())
                    .with_port(port)
                    .with_error_code(error)
            })
            .collect();
        FindCoordinatorResponse::default().with_coordinators(coordinators)
    } else {
        FindCoordinatorResponse::default()
            .with_error_code(error)
            .with_node_id(BrokerId(node))
            .with_host(host)
            .with_port(port)
    }
}
