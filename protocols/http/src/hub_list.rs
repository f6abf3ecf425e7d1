//! `GET /admin/hubs`: every hub the caller may see, with its settings, record count, stored
//! bytes and the records and bytes moved in and out so far (a client computes rates from two
//! reads).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use hubgate_protocol::Right;
use hubgate_storage::{HubInfo, PartitionId};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::history::Totals;
use crate::peer::Peer;
use crate::state::AppState;

pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    let hubs = state.storage.hubs().await?;
    let visible = crate::access::visible(&state, &headers, &peer, Right::Listen, &hubs, |h| {
        h.name.as_str()
    })?;
    let flows = per_hub(&state);
    let mut out = Vec::with_capacity(visible.len());
    for info in visible {
        let mut records = 0i64;
        let mut bytes = 0u64;
        for index in 0..info.config.partitions {
            let id = PartitionId::new(info.name.clone(), index);
            let p = state.storage.partition(&id).await?;
            records = records.saturating_add((p.high_watermark - p.log_start).max(0));
            bytes = bytes.saturating_add(p.stored_bytes);
        }
        let mut hub = settings(info);
        hub["records"] = json!(records);
        hub["stored_bytes"] = json!(bytes);
        hub["traffic"] = json!(flows.get(info.name.as_str()).copied().unwrap_or_default());
        out.push(hub);
    }
    Ok(Json(json!({ "hubs": out })))
}

/// A hub's settings as the admin API shows them (`PUT /admin/hubs/{hub}` takes the same names).
pub(crate) fn settings(info: &HubInfo) -> Value {
    json!({
        "name": info.name.as_str(),
        "partition_count": info.config.partitions,
        "retention_ms": info.config.retention.map(|r| u64::try_from(r.as_millis()).unwrap_or(u64::MAX)),
        "retention_bytes": info.config.retention_bytes,
        "cleanup_policy": info.config.cleanup_policy,
        "timestamp_policy": info.config.timestamp_policy,
        "max_message_bytes": info.config.max_message_bytes,
        "created_at": crate::time::rfc3339(info.created_at_ms),
    })
}

/// Records and bytes in and out per hub, summed over protocols.
fn per_hub(state: &AppState) -> HashMap<String, Totals> {
    let mut out: HashMap<String, Totals> = HashMap::new();
    for flow in state.metrics.flows() {
        out.entry(flow.hub.clone()).or_default().add(&flow);
    }
    out
}
