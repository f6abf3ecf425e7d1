//! `GET /{hub}` and `GET /{hub}/partitions/{id}`: what the AMQP management READ returns, as
//! JSON, for senders without an AMQP or Kafka client. Reads never create hubs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use hubgate_protocol::Right;
use hubgate_storage::HubName;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

pub(crate) async fn hub(
    State(state): State<AppState>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    state.authorize(&headers, &peer, &hub, Right::Listen)?;
    let info = state.storage.hub(&HubName::new(hub)?).await?;
    let ids: Vec<String> = (0..info.config.partitions).map(|p| p.to_string()).collect();
    Ok(Json(json!({
        "name": info.name.as_str(),
        "type": "com.microsoft:eventhub",
        "created_at": crate::time::rfc3339(info.created_at_ms),
        "partition_count": info.config.partitions,
        "partition_ids": ids,
        "retention_ms": info.config.retention.map(|r| r.as_millis() as u64),
        "retention_bytes": info.config.retention_bytes,
    })))
}

pub(crate) async fn partition(
    State(state): State<AppState>,
    Path((hub, id)): Path<(String, String)>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    state.authorize(&headers, &peer, &hub, Right::Listen)?;
    let partition =
        crate::ingest::existing_partition(&state.storage, HubName::new(hub)?, &id).await?;
    let (name, index) = (&partition.hub, partition.index);
    let p = state.storage.partition(&partition).await?;
    let last = p.high_watermark - 1;
    Ok(Json(json!({
        "name": name.as_str(),
        "type": "com.microsoft:partition",
        "partition": index.to_string(),
        "begin_sequence_number": p.log_start,
        "last_enqueued_sequence_number": last,
        "last_enqueued_offset": last.to_string(),
        "last_enqueued_time_utc": p.last_append_ms.map(crate::time::rfc3339),
        "last_enqueued_time_ms": p.last_append_ms,
        "is_partition_empty": p.is_empty(),
        "stored_bytes": p.stored_bytes,
    })))
}
