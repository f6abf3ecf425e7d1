//! JoinGroup (key 11): validates the request, then hands it to the group's coordinator,
//! which answers when the join phase ends (or at once, with MEMBER_ID_REQUIRED, for a new
//! v4+ member).

use std::time::Duration;

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::{Client, Handler};
use crate::error::code;
use crate::group::{Join, Joined};

/// Answers a JoinGroup request.
pub(crate) async fn handle(
    h: &Handler,
    request: JoinGroupRequest,
    version: i16,
    client: &Client,
) -> JoinGroupResponse {
    let member_id = request.member_id.to_string();
    let config = h.groups.config();
    let session = u64::try_from(request.session_timeout_ms)
        .ok()
        .map(Duration::from_millis)
        .filter(|s| (config.min_session_timeout..=config.max_session_timeout).contains(s));
    let joined = if request.group_id.0.is_empty() {
        Joined::error(code::INVALID_GROUP_ID, &member_id)
    } else if let Some(session_timeout) = session {
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        let rebalance_timeout = u64::try_from(request.rebalance_timeout_ms)
            .ok()
            .filter(|_| version >= 1)
            .map_or(session_timeout, Duration::from_millis);
        let join = Join {
            member_id,
            instance_id: request.group_instance_id.map(|i| i.to_string()),
            client_id: client.id.clone(),
            client_host: client.host.clone(),
            session_timeout,
            rebalance_timeout,
            protocol_type: request.protocol_type.to_string(),
            protocols: request
                .protocols
                .into_iter()
                .map(|p| (p.name.to_string(), p.metadata))
                .collect(),
            require_known_member_id: version >= 4,
            supports_skip_assignment: version >= 9,
        };
        h.groups.join(&request.group_id.0, join).await
    } else {
        Joined::error(code::INVALID_SESSION_TIMEOUT, &member_id)
    };
    response(joined, version)
}

fn response(joined: Joined, version: i16) -> JoinGroupResponse {
    let members = joined
        .members
        .into_iter()
        .map(|(member_id, instance_id, metadata)| {
            JoinGroupResponseMember::default()
                .with_member_id(StrBytes::from_string(member_id))
                .with_group_instance_id(
                    instance_id
                        .filter(|_| version >= 5)
                        .map(StrBytes::from_string),
                )
                .with_metadata(metadata)
        })
        .collect();
    // The protocol name is nullable from v7 on; before that an absent one is "".
    let protocol_name = match joined.protocol_name {
        Some(name) => Some(StrBytes::from_string(name)),
        None if version < 7 => Some(StrBytes::default()),
        None => None,
    };
    JoinGroupResponse::default()
        .with_error_code(joined.error)
        .with_generation_id(joined.generation)
        .with_protocol_type(
            joined
                .protocol_type
                .filter(|_| version >= 7)
                .map(StrBytes::from_string),
        )
        .with_protocol_name(protocol_name)
        .with_leader(StrBytes::from_string(joined.leader))
        .with_skip_assignment(joined.skip_assignment && version >= 9)
        .with_member_id(StrBytes::from_string(joined.member_id))
        .with_members(members)
}
