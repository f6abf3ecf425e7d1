//! DeleteGroups (key 42): forgets empty groups and their committed offsets. A group with
//! members answers NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::dispatch::Handler;
use crate::error::code;

/// Answers a DeleteGroups request.
pub(crate) async fn handle(h: &Handler, request: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut results = Vec::with_capacity(request.groups_names.len());
    for group_id in request.groups_names {
        let error = if group_id.0.is_empty() {
            code::INVALID_GROUP_ID
        } else {
            h.groups.delete(&group_id.0).await
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(group_id)
                .with_error_code(error),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}
