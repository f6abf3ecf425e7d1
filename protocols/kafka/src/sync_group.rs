//! SyncGroup (key 14): the leader hands in the assignment, every member gets its part. A
//! member that is not the leader waits here until the leader's SyncGroup arrives.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::error::code;
use crate::group::{Sync, Synced};

/// Answers a SyncGroup request.
pub(crate) async fn handle(
    h: &Handler,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let synced = if request.group_id.0.is_empty() {
        Synced::error(code::INVALID_GROUP_ID)
    } else {
        let sync = Sync {
            member_id: request.member_id.to_string(),
            instance_id: request.group_instance_id.map(|i| i.to_string()),
            generation: request.generation_id,
            protocol_type: request.protocol_type.map(|t| t.to_string()),
            protocol_name: request.protocol_name.map(|n| n.to_string()),
            assignments: request
                .assignments
                .into_iter()
                .map(|a| (a.member_id.to_string(), a.assignment))
                .collect(),
        };
        h.groups.sync(&request.group_id.0, sync).await
    };
    let v5 = |value: Option<String>| value.filter(|_| version >= 5).map(StrBytes::from_string);
    SyncGroupResponse::default()
        .with_error_code(synced.error)
        .with_protocol_type(v5(synced.protocol_type))
        .with_protocol_name(v5(synced.protocol_name))
        .with_assignment(synced.assignment)
}
