//! `GET /admin/hubs/{hub}`: one hub's settings, every partition's state, and every consumer
//! group that committed offsets in the hub, with its committed offset and lag per partition
//! and in total.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use hubgate_protocol::Right;
use hubgate_storage::{HubName, PartitionId};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

pub(crate) async fn get(
    State(state): State<AppState>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    state.authorize(&headers, &peer, &hub, Right::Listen)?;
    let name = HubName::new(hub)?;
    let info = state.storage.hub(&name).await?;
    let mut partitions = Vec::with_capacity(info.config.partitions as usize);
    for index in 0..info.config.partitions {
        let p = state
            .storage
            .partition(&PartitionId::new(name.clone(), index))
            .await?;
        partitions.push(json!({
            "partition": index,
            "log_start": p.log_start,
            "high_watermark": p.high_watermark,
            // Below the high watermark while a transaction is open in the partition.
            "last_stable_offset": p.last_stable,
            "records": (p.high_watermark - p.log_start).max(0),
            "stored_bytes": p.stored_bytes,
            "last_enqueued_time": p.last_append_ms.map(crate::time::rfc3339),
            "last_enqueued_time_ms": p.last_append_ms,
        }));
    }
    let mut groups = Vec::new();
    for group in state.storage.offset_groups().await? {
        let lags: Vec<_> = crate::lag::of_group(&state, &group)
            .await?
            .into_iter()
            .filter(|l| l.hub == name.as_str())
            .collect();
        if lags.is_empty() {
            continue;
        }
        groups.push(json!({
            "group": group,
            "kind": "kafka",
            "lag": crate::lag::total(&lags),
            "partitions": lags,
        }));
    }
    let mut out = crate::hub_list::settings(&info);
    out["partitions"] = json!(partitions);
    out["groups"] = json!(groups);
    Ok(Json(out))
}
