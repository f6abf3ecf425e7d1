//! `GET /admin/hubs/{hub}/partitions/{id}/events`: records of one partition for people to read
//! — the newest ones, or from an offset (`?offset=N`) or a time (`?time_ms=MS`), at most
//! `?limit=` (default 20, at most [`MAX_LIMIT`]).
//!
//! Each event has its offset, timestamp, key, value and headers as base64 plus UTF-8 text when
//! they are text, and what the AMQP mapping (`docs/MAPPING.md`) stored decoded with its types:
//! application property values (when the `x-amqp-application-properties` marker is present),
//! the properties section, and the body kind. Values longer than [`MAX_VALUE_BYTES`] are cut
//! (`truncated: true`, `size` gives the full length), and at most [`MAX_HEADERS`] headers are
//! shown. Control batches are skipped.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use base64::Engine as _;
use hubgate_protocol::Right;
use hubgate_storage::{HubName, Limits, Offset, PartitionId, Record, TimeQuery};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

/// Most events per request.
pub(crate) const MAX_LIMIT: usize = 100;
/// Most headers shown per event (`headers_truncated: true` beyond).
pub(crate) const MAX_HEADERS: usize = 64;
/// Longest key, value or header value returned whole.
pub(crate) const MAX_VALUE_BYTES: usize = 64 << 10;
/// Bytes asked of storage per read, and in total per request.
const READ_BYTES: usize = 1 << 20;
const MAX_READ_BYTES: usize = 8 << 20;

/// The header that marks AMQP-encoded application property values.
const AMQP_MARKER: &str = "x-amqp-application-properties";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EventsQuery {
    limit: Option<usize>,
    offset: Option<Offset>,
    time_ms: Option<i64>,
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Path((hub, id)): Path<(String, String)>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
    peer: Peer,
) -> Result<Json<Value>, ApiError> {
    state.authorize(&headers, &peer, &hub, Right::Listen)?;
    let partition =
        crate::ingest::existing_partition(&state.storage, HubName::new(hub)?, &id).await?;
    let index = partition.index;
    let limit = query.limit.unwrap_or(20).clamp(1, MAX_LIMIT);
    let p = state.storage.partition(&partition).await?;
    let limit_i64 = i64::try_from(limit).unwrap_or(i64::MAX);
    let start = match (query.offset, query.time_ms) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give `offset` or `time_ms`, not both".into(),
            ));
        }
        (Some(offset), None) => offset.clamp(p.log_start, p.high_watermark),
        (None, Some(t)) => state
            .storage
            .offset_for_timestamp(&partition, TimeQuery::AtOrAfter(t))
            .await?
            .map_or(p.high_watermark, |found| found.offset),
        (None, None) => (p.high_watermark - limit_i64).max(p.log_start),
    };
    let events = read(&state, &partition, start, p.high_watermark, limit).await?;
    Ok(Json(json!({
        "hub": partition.hub.as_str(),
        "partition": index,
        "log_start": p.log_start,
        "high_watermark": p.high_watermark,
        "from": start,
        "events": events,
    })))
}

/// Up to `limit` committed events from `start`, below `end` and the last stable offset,
/// reading at most [`MAX_READ_BYTES`] of stored batches: like every non-Kafka reader, the
/// console never shows control records, aborted records or records of an open transaction
/// (`hubgate_storage::committed_records`). Each record becomes its (cut) JSON at once, so no
/// decompressed batch is kept beyond the one being read.
async fn read(
    state: &AppState,
    partition: &PartitionId,
    start: Offset,
    end: Offset,
    limit: usize,
) -> Result<Vec<Value>, ApiError> {
    let limits = Limits::default();
    let mut out = Vec::new();
    let mut next = start;
    let mut read_bytes = 0usize;
    while next < end && out.len() < limit && read_bytes < MAX_READ_BYTES {
        let read = state
            .storage
            .read_committed(partition, next, READ_BYTES)
            .await?;
        let Some(last) = read.batches.last().map(|b| b.last_offset()) else {
            break;
        };
        read_bytes = read
            .batches
            .iter()
            .fold(read_bytes, |sum, b| sum.saturating_add(b.len()));
        for record in hubgate_storage::committed_records(&read, next, &limits)? {
            if record.offset < end && out.len() < limit {
                out.push(event(&record));
            }
        }
        next = next.max(last + 1);
    }
    Ok(out)
}

/// Bytes as `{size, base64, text?, truncated?}`.
fn bytes(value: &[u8]) -> Value {
    let cut = &value[..value.len().min(MAX_VALUE_BYTES)];
    let mut out = Map::new();
    out.insert("size".into(), json!(value.len()));
    out.insert(
        "base64".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(cut)),
    );
    if let Ok(text) = std::str::from_utf8(cut) {
        out.insert("text".into(), json!(text));
    }
    if cut.len() < value.len() {
        out.insert("truncated".into(), json!(true));
    }
    Value::Object(out)
}

fn event(record: &Record) -> Value {
    let amqp_typed = record
        .headers
        .iter()
        .any(|h| h.key == AMQP_MARKER && h.value.as_deref() == Some(b"amqp"));
    let mut amqp = Map::new();
    let headers: Vec<Value> = record
        .headers
        .iter()
        .take(MAX_HEADERS)
        .map(|h| {
            let mut header = json!({
                "name": h.key,
                "value": h.value.as_deref().map(bytes),
            });
            let Some(value) = h.value.as_deref() else {
                return header;
            };
            match h.key.as_str() {
                "x-amqp-properties" => {
                    if let Some(p) = crate::amqp_value::properties(value) {
                        amqp.insert("properties".into(), p);
                    }
                }
                "x-amqp-body" => {
                    amqp.insert("body".into(), json!(String::from_utf8_lossy(value)));
                }
                name if amqp_typed && !name.starts_with("x-amqp-") => {
                    if let Some(typed) = crate::amqp_value::scalar(value) {
                        header["amqp"] = typed;
                    }
                }
                _ => {}
            }
            header
        })
        .collect();
    json!({
        "offset": record.offset,
        "timestamp_ms": record.timestamp,
        "timestamp": crate::time::rfc3339(record.timestamp),
        "key": record.key.as_deref().map(bytes),
        "value": record.value.as_deref().map(bytes),
        "headers": headers,
        "headers_truncated": record.headers.len() > MAX_HEADERS,
        "amqp": Value::Object(amqp),
    })
}
