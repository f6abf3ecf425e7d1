//! DescribeGroups (key 15): state, protocol and members (with metadata and assignment once
//! the group is stable) of each named group. A group that does not exist is reported as
//! "Dead" with no error, as Kafka does before v6.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::error::code;

/// Answers a DescribeGroups request.
pub(crate) async fn handle(
    h: &Handler,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut groups = Vec::with_capacity(request.groups.len());
    for group_id in request.groups {
        let described =
            DescribedGroup::default().with_group_state(StrBytes::from_static_str("Dead"));
        if group_id.0.is_empty() {
            groups.push(
                described
                    .with_group_id(group_id)
                    .with_error_code(code::INVALID_GROUP_ID),
            );
            continue;
        }
        let Some(view) = h.groups.describe(&group_id.0).await else {
            groups.push(described.with_group_id(group_id));
            continue;
        };
        let members = view
            .members
            .into_iter()
            .map(|m| {
                DescribedGroupMember::default()
                    .with_member_id(StrBytes::from_string(m.member_id))
                    .with_group_instance_id(
                        m.instance_id
                            .filter(|_| version >= 4)
                            .map(StrBytes::from_string),
                    )
                    .with_client_id(StrBytes::from_string(m.client_id))
                    .with_client_host(StrBytes::from_string(m.client_host))
                    .with_member_metadata(m.metadata)
                    .with_member_assignment(m.assignment)
            })
            .collect();
        groups.push(
            described
                .with_group_id(group_id)
                .with_group_state(StrBytes::from_static_str(view.phase.name()))
                .with_protocol_type(StrBytes::from_string(view.protocol_type))
                .with_protocol_data(StrBytes::from_string(view.protocol))
                .with_members(members),
        );
    }
    DescribeGroupsResponse::default().with_groups(groups)
}
