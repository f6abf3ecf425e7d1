//! LeaveGroup (key 13): members leave at once instead of waiting out their session. v3+
//! names several members (static ones may leave by instance id alone); v0–2 one member id.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::dispatch::Handler;
use crate::error::code;
use crate::group::MemberRef;

/// Answers a LeaveGroup request.
pub(crate) async fn handle(
    h: &Handler,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let members: Vec<MemberRef> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| MemberRef {
                member_id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(|i| i.to_string()),
            })
            .collect()
    } else {
        vec![MemberRef {
            member_id: request.member_id.to_string(),
            instance_id: None,
        }]
    };
    if request.group_id.0.is_empty() {
        return LeaveGroupResponse::default().with_error_code(code::INVALID_GROUP_ID);
    }
    let errors = h.groups.leave(&request.group_id.0, members).await;
    if version < 3 {
        let error = errors.first().copied().unwrap_or(code::NONE);
        return LeaveGroupResponse::default().with_error_code(error);
    }
    let members = request
        .members
        .into_iter()
        .zip(errors)
        .map(|(m, error)| {
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_group_instance_id(m.group_instance_id)
                .with_error_code(error)
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}
