//! `GET /admin/overview`: the gateway at a glance — listeners, storage, uptime, hub and group
//! counts, and record totals per protocol.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use hubgate_protocol::Right;
use hubgate_storage::Durability;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

pub(crate) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    crate::access::namespace(&state, &headers, &peer, Right::Listen)?;
    let info = &state.config.gateway;
    let hubs = state.storage.hubs().await?;
    let groups = state.storage.offset_groups().await?;
    let capabilities = state.storage.capabilities();
    let now = crate::time::now_ms();
    let listeners: Vec<Value> = info
        .listeners
        .iter()
        .map(|l| json!({ "protocol": l.protocol, "address": l.address, "tls": l.tls }))
        .collect();
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "started_at": crate::time::rfc3339(info.started_at_ms),
        "uptime_secs": (now - info.started_at_ms).max(0) / 1000,
        "listeners": listeners,
        "storage": {
            "url": info.storage_url,
            "durability": match info.durability {
                Durability::Strict => "strict",
                Durability::Relaxed => "relaxed",
            },
            "durable": capabilities.durable,
            "transactions": capabilities.transactions,
            "compaction": capabilities.compaction,
        },
        "access_policies": state.config.policies.len(),
        "hubs": hubs.len(),
        "groups": groups.len(),
        "totals": crate::history::totals(state.metrics),
    })))
}
