//! `POST /admin/groups/{group}/offsets`: moves a group's committed offsets in one hub to the
//! earliest or latest offset, or to the first record at or after a time.
//!
//! Body: `{"hub": "orders", "to": "earliest" | "latest" | "time", "time_ms": 1700000000000,
//! "partitions": [0, 1]}` (`partitions` optional: every partition of the hub; `time_ms` only
//! with `"time"`; a time after the newest record resets to the high watermark). Answers the
//! new offsets. The group need not have committed before; a group with live Kafka members is
//! refused (`409`), as Kafka's own tools refuse to reset an active group.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use hubgate_protocol::Right;
use hubgate_storage::{CommittedOffset, HubName, PartitionId, TimeQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::read_body;
use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Target {
    Earliest,
    Latest,
    Time,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetRequest {
    hub: String,
    to: Target,
    time_ms: Option<i64>,
    partitions: Option<Vec<u32>>,
}

pub(crate) async fn reset(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let request: ResetRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid offset reset: {e}")))?;
    state.authorize(&headers, &peer, &request.hub, Right::Manage)?;
    if group.is_empty() {
        return Err(ApiError::BadRequest("the group name is empty".into()));
    }
    let time = match (request.to, request.time_ms) {
        (Target::Time, Some(t)) => Some(t),
        (Target::Time, None) => {
            return Err(ApiError::BadRequest("`to: time` needs `time_ms`".into()));
        }
        (_, Some(_)) => {
            return Err(ApiError::BadRequest(
                "`time_ms` goes with `to: time`".into(),
            ));
        }
        (_, None) => None,
    };
    crate::groups::require_empty(&state, &group).await?;
    let name = HubName::new(request.hub)?;
    let info = state.storage.hub(&name).await?;
    let partitions = match request.partitions {
        None => (0..info.config.partitions).collect(),
        Some(list) => {
            if let Some(bad) = list.iter().find(|p| **p >= info.config.partitions) {
                return Err(ApiError::NotFound(format!(
                    "hub `{name}` has no partition {bad}"
                )));
            }
            list
        }
    };
    let now = crate::time::now_ms();
    let mut offsets = Vec::with_capacity(partitions.len());
    for index in partitions {
        let id = PartitionId::new(name.clone(), index);
        let p = state.storage.partition(&id).await?;
        let offset = match (request.to, time) {
            (Target::Earliest, _) => p.log_start,
            (Target::Time, Some(t)) => state
                .storage
                .offset_for_timestamp(&id, TimeQuery::AtOrAfter(t))
                .await?
                .map_or(p.high_watermark, |found| found.offset),
            _ => p.high_watermark,
        };
        offsets.push((
            id,
            CommittedOffset {
                offset,
                leader_epoch: None,
                metadata: String::new(),
                committed_at_ms: now,
            },
        ));
    }
    state.storage.commit_offsets(&group, &offsets).await?;
    tracing::info!(%group, hub = %name, partitions = offsets.len(), "reset group offsets over HTTP");
    let answer: Vec<Value> = offsets
        .iter()
        .map(|(id, o)| json!({ "partition": id.index, "offset": o.offset }))
        .collect();
    Ok(Json(
        json!({ "group": group, "hub": name.as_str(), "offsets": answer }),
    ))
}
