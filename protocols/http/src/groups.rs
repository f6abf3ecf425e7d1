//! `GET /admin/groups`, `GET /admin/groups/{group}` and `DELETE /admin/groups/{group}`:
//! consumer groups as storage knows them — their committed offsets and lag.
//!
//! The Kafka group coordinator's live state (members, assignments, protocol, generation) lives
//! in the Kafka front end and is not visible here; those fields are `null`, and
//! `"membership": "not visible over HTTP"` says so. Kafka's `DescribeGroups` answers them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hubgate_protocol::Right;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::AppState;

const MEMBERSHIP: &str = "not visible over HTTP";

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::access::namespace(&state, &headers, Right::Listen)?;
    let mut out = Vec::new();
    for group in state.storage.offset_groups().await? {
        let lags = crate::lag::of_group(&state, &group).await?;
        let mut hubs: Vec<&str> = lags.iter().map(|l| l.hub.as_str()).collect();
        hubs.dedup();
        out.push(json!({
            "group": group,
            "kind": "kafka",
            "state": Value::Null,
            "hubs": hubs,
            "partitions": lags.len(),
            "lag": crate::lag::total(&lags),
        }));
    }
    Ok(Json(json!({ "groups": out, "membership": MEMBERSHIP })))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::access::namespace(&state, &headers, Right::Listen)?;
    let lags = crate::lag::of_group(&state, &group).await?;
    if lags.is_empty() {
        return Err(no_such_group(&group));
    }
    Ok(Json(json!({
        "group": group,
        "kind": "kafka",
        "state": Value::Null,
        "protocol": Value::Null,
        "members": Value::Null,
        "membership": MEMBERSHIP,
        "lag": crate::lag::total(&lags),
        "offsets": lags,
    })))
}

/// Forgets every offset the group committed. The HTTP front end cannot see whether Kafka
/// members are still in the group; a member that commits again brings the offsets it commits
/// back.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    crate::access::namespace(&state, &headers, Right::Manage)?;
    if state.storage.committed_offsets(&group).await?.is_empty() {
        return Err(no_such_group(&group));
    }
    state.storage.delete_group_offsets(&group).await?;
    tracing::info!(%group, "deleted group offsets over HTTP");
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn no_such_group(group: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no consumer group `{group}` with committed offsets"
    ))
}
