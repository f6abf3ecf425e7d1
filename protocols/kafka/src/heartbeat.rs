//! Heartbeat (key 12): keeps a member's session alive and tells it when to rejoin.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::dispatch::Handler;
use crate::error::code;
use crate::group::MemberRef;

/// Answers a Heartbeat request.
pub(crate) async fn handle(h: &Handler, request: HeartbeatRequest) -> HeartbeatResponse {
    let error = if request.group_id.0.is_empty() {
        code::INVALID_GROUP_ID
    } else {
        let who = MemberRef {
            member_id: request.member_id.to_string(),
            instance_id: request.group_instance_id.map(|i| i.to_string()),
        };
        h.groups
            .heartbeat(&request.group_id.0, who, request.generation_id)
            .await
    };
    HeartbeatResponse::default().with_error_code(error)
}
