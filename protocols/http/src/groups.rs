//! `GET /admin/groups`, `GET /admin/groups/{group}` and `DELETE /admin/groups/{group}`:
//! consumer groups — the live state the Kafka coordinator publishes (state, protocol, members
//! and their assignments, through [`hubgate_protocol::GroupDirectory`]) joined with what
//! storage keeps (committed offsets and lag).
//!
//! Without a Kafka listener there is no coordinator; groups then show their offsets only, with
//! `state: null`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hubgate_protocol::{GroupDeleted, GroupDescription, Right};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

pub(crate) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    crate::access::namespace(&state, &headers, &peer, Right::Listen)?;
    let mut live: BTreeMap<String, Option<(String, String)>> = BTreeMap::new();
    if let Some(directory) = state.config.groups.get() {
        for g in directory.list() {
            live.insert(g.group, Some((g.state, g.protocol_type)));
        }
    }
    for group in state.storage.offset_groups().await? {
        live.entry(group).or_insert(None);
    }
    let mut out = Vec::with_capacity(live.len());
    for (group, coordinator) in live {
        let lags = crate::lag::of_group(&state, &group).await?;
        let mut hubs: Vec<&str> = lags.iter().map(|l| l.hub.as_str()).collect();
        hubs.dedup();
        let (group_state, protocol_type) = coordinator.unzip();
        out.push(json!({
            "group": group,
            "kind": "kafka",
            "state": group_state,
            "protocol_type": protocol_type,
            "hubs": hubs,
            "partitions": lags.len(),
            "lag": crate::lag::total(&lags),
        }));
    }
    Ok(Json(json!({ "groups": out })))
}

/// The coordinator's view of `group`, if there is a coordinator and it knows the group.
async fn live(state: &AppState, group: &str) -> Option<GroupDescription> {
    state.config.groups.get()?.describe(group).await
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    crate::access::namespace(&state, &headers, &peer, Right::Listen)?;
    let lags = crate::lag::of_group(&state, &group).await?;
    let description = live(&state, &group).await;
    if lags.is_empty() && description.is_none() {
        return Err(no_such_group(&group));
    }
    let members: Option<Vec<Value>> = description.as_ref().map(|d| {
        d.members
            .iter()
            .map(|m| {
                let assignment: Vec<Value> = m
                    .assignment
                    .iter()
                    .map(|(hub, partitions)| json!({ "hub": hub, "partitions": partitions }))
                    .collect();
                json!({
                    "member_id": m.member_id,
                    "instance_id": m.instance_id,
                    "client_id": m.client_id,
                    "client_host": m.client_host,
                    "assignment": assignment,
                })
            })
            .collect()
    });
    Ok(Json(json!({
        "group": group,
        "kind": "kafka",
        "state": description.as_ref().map(|d| d.state.as_str()),
        "protocol_type": description.as_ref().map(|d| d.protocol_type.as_str()),
        "protocol": description.as_ref().map(|d| d.protocol.as_str()),
        "members": members,
        "lag": crate::lag::total(&lags),
        "offsets": lags,
    })))
}

/// Refuses a change to a group that still has members: they would overwrite it.
pub(crate) async fn require_empty(state: &AppState, group: &str) -> Result<(), ApiError> {
    match live(state, group).await {
        Some(d) if !d.members.is_empty() => Err(ApiError::Conflict(format!(
            "group `{group}` has {} member(s) ({}); stop its consumers first",
            d.members.len(),
            d.state
        ))),
        _ => Ok(()),
    }
}

/// Deletes an empty group: through the coordinator when it holds the group (so a member
/// joining at the same moment is ordered against the delete), else its stored offsets.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<StatusCode, ApiError> {
    crate::access::namespace(&state, &headers, &peer, Right::Manage)?;
    if let Some(directory) = state.config.groups.get() {
        match directory.delete(&group).await {
            GroupDeleted::Deleted => {
                tracing::info!(%group, "deleted group over HTTP");
                return Ok(StatusCode::NO_CONTENT);
            }
            GroupDeleted::NotEmpty => {
                return Err(ApiError::Conflict(format!(
                    "group `{group}` has members; stop its consumers first"
                )));
            }
            GroupDeleted::Failed(message) => {
                return Err(hubgate_storage::Error::Io(std::io::Error::other(message)).into());
            }
            // Offsets committed outside the coordinator (an offset reset here) are storage's.
            GroupDeleted::NotFound => {}
        }
    }
    if state.storage.committed_offsets(&group).await?.is_empty() {
        return Err(no_such_group(&group));
    }
    state.storage.delete_group_offsets(&group).await?;
    tracing::info!(%group, "deleted group offsets over HTTP");
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn no_such_group(group: &str) -> ApiError {
    ApiError::NotFound(format!("no consumer group `{group}`"))
}
