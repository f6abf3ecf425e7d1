//! `PUT /admin/hubs/{hub}` (create, or update an existing hub) and `DELETE /admin/hubs/{hub}`.
//!
//! Body of `PUT` (every field optional): `{"partitions": 8, "retention_ms": 86400000,
//! "retention_bytes": -1, "cleanup_policy": "delete", "max_message_bytes": 1048588}`;
//! `-1` means unlimited. `201` with the hub when created, `200` when updated.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hubgate_protocol::Right;
use hubgate_storage::{
    CleanupPolicy, HubConfig, HubInfo, HubName, HubUpdate, TimestampPolicy, retention_bytes_from,
    retention_from_ms,
};
use serde::Deserialize;
use serde_json::json;

use crate::body::read_body;
use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct HubRequest {
    partitions: Option<u32>,
    retention_ms: Option<i64>,
    retention_bytes: Option<i64>,
    cleanup_policy: Option<CleanupPolicy>,
    timestamp_policy: Option<TimestampPolicy>,
    max_message_bytes: Option<u32>,
}

pub(crate) async fn put_hub(
    State(state): State<AppState>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Response, ApiError> {
    state.authorize(&headers, &peer, &hub, Right::Manage)?;
    let name = HubName::new(hub)?;
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let request: HubRequest = if bytes.iter().all(u8::is_ascii_whitespace) {
        HubRequest::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("invalid hub settings: {e}")))?
    };
    // `None`: not given; `Some(None)`: -1, unlimited.
    let retention = request
        .retention_ms
        .map(retention_from_ms)
        .transpose()
        .map_err(|_| ApiError::BadRequest("retention_ms must be positive or -1".into()))?;
    let retention_bytes = request
        .retention_bytes
        .map(retention_bytes_from)
        .transpose()
        .map_err(|_| ApiError::BadRequest("retention_bytes must be positive or -1".into()))?;
    match state.storage.hub(&name).await {
        Ok(_) => {
            let update = HubUpdate {
                partitions: request.partitions,
                retention,
                retention_bytes,
                cleanup_policy: request.cleanup_policy,
                timestamp_policy: request.timestamp_policy,
                max_message_bytes: request.max_message_bytes,
                compaction: hubgate_storage::CompactionUpdate::default(),
            };
            let info = state.storage.update_hub(&name, update).await?;
            Ok((StatusCode::OK, Json(describe(&info))).into_response())
        }
        Err(hubgate_storage::Error::NoSuchHub(_)) => {
            let defaults = HubConfig::default();
            let config = HubConfig {
                partitions: request
                    .partitions
                    .unwrap_or(state.config.auto_create.partitions),
                retention: retention.unwrap_or(defaults.retention),
                retention_bytes: retention_bytes.unwrap_or(defaults.retention_bytes),
                cleanup_policy: request.cleanup_policy.unwrap_or(defaults.cleanup_policy),
                timestamp_policy: request
                    .timestamp_policy
                    .unwrap_or(defaults.timestamp_policy),
                max_message_bytes: request
                    .max_message_bytes
                    .unwrap_or(defaults.max_message_bytes),
                compaction: defaults.compaction,
            };
            config.validate()?;
            let info = state.storage.create_hub(&name, config).await?;
            tracing::info!(hub = %name, partitions = info.config.partitions, "created hub over HTTP");
            Ok((StatusCode::CREATED, Json(describe(&info))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn delete_hub(
    State(state): State<AppState>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<StatusCode, ApiError> {
    state.authorize(&headers, &peer, &hub, Right::Manage)?;
    let name = HubName::new(hub)?;
    state.storage.delete_hub(&name).await?;
    tracing::info!(hub = %name, "deleted hub over HTTP");
    Ok(StatusCode::NO_CONTENT)
}

fn describe(info: &HubInfo) -> serde_json::Value {
    json!({
        "name": info.name.as_str(),
        "partition_count": info.config.partitions,
        "retention_ms": info.config.retention.map(|r| r.as_millis() as u64),
        "retention_bytes": info.config.retention_bytes,
        "cleanup_policy": info.config.cleanup_policy,
        "timestamp_policy": info.config.timestamp_policy,
        "max_message_bytes": info.config.max_message_bytes,
        "created_at": crate::time::rfc3339(info.created_at_ms),
    })
}
