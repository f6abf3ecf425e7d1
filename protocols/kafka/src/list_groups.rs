//! ListGroups (key 16): every group on this node, filtered by state (v4+) and type (v5+;
//! every group here is "classic").

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;

const GROUP_TYPE: &str = "classic";

/// Answers a ListGroups request.
pub(crate) async fn handle(
    h: &Handler,
    request: ListGroupsRequest,
    version: i16,
) -> ListGroupsResponse {
    let wanted = |filter: &[StrBytes], value: &str| {
        filter.is_empty() || filter.iter().any(|f| f.eq_ignore_ascii_case(value))
    };
    // Groups whose offsets were committed outside the coordinator (Blob checkpoints) get
    // their actor here, so they are listed like any other.
    h.groups.load().await;
    let groups = h
        .groups
        .list()
        .into_iter()
        .filter(|g| wanted(&request.states_filter, g.phase.name()))
        .filter(|_| wanted(&request.types_filter, GROUP_TYPE))
        .map(|g| {
            let listed = ListedGroup::default()
                .with_group_id(GroupId(StrBytes::from_string(g.group_id)))
                .with_protocol_type(StrBytes::from_string(g.protocol_type));
            let listed = if version >= 4 {
                listed.with_group_state(StrBytes::from_static_str(g.phase.name()))
            } else {
                listed
            };
            if version >= 5 {
                listed.with_group_type(StrBytes::from_static_str(GROUP_TYPE))
            } else {
                listed
            }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
