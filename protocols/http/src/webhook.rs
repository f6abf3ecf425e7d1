//! `POST /webhooks/{hub}`: any body becomes one record, after the hub's signature check.
//!
//! Stored: the raw body as the value; `content-type` and the kept request headers (see
//! [`DEFAULT_KEPT`] plus the hub's `headers` setting) as record headers; the key from the
//! configured header or JSON pointer, else no key and round-robin placement. A failed
//! signature check is `401` and nothing is stored. A hub without a signature scheme takes a
//! SAS token with the Send right instead, when access policies are configured. Headers that
//! carry credentials are never stored, even when listed.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hubgate_protocol::Right;
use hubgate_storage::Header;

use crate::body::{content_type, read_body};
use crate::config::KeySource;
use crate::credentials::is_credential;
use crate::error::ApiError;
use crate::ingest::{self, Event, Placement};
use crate::peer::Peer;
use crate::state::AppState;

/// Request headers every webhook record keeps when present: the content type, the sender, and
/// the event and delivery ids of common webhook senders.
pub(crate) const DEFAULT_KEPT: &[&str] = &[
    "content-type",
    "user-agent",
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-gitlab-event",
    "x-request-id",
    "webhook-id",
    "webhook-timestamp",
];

pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Response, ApiError> {
    let config = state.config.webhooks.get(&hub).cloned().unwrap_or_default();
    // A hub without its own signature takes a Send token like any send, once policies exist.
    if config.signature.is_none() {
        state.authorize(&headers, &peer, &hub, Right::Send)?;
    }
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    // Verify before the hub lookup, so an unsigned request cannot even auto-create a hub.
    if let Some(scheme) = &config.signature {
        crate::signature::verify(scheme, &headers, &bytes, crate::time::now_ms() / 1000)?;
    }
    let hub_info = ingest::hub(&state, &hub, state.config.auto_create).await?;
    let key = match &config.partition_key {
        None => None,
        Some(KeySource::Header(name)) => headers
            .get(name)
            .map(|v| Bytes::copy_from_slice(v.as_bytes())),
        Some(KeySource::JsonPointer(pointer)) => json_key(&headers, &bytes, pointer),
    };
    if let Some(key) = &key {
        ingest::check_key(&String::from_utf8_lossy(key))?;
    }
    let mut record_headers = Vec::new();
    for (name, value) in &headers {
        let kept = (DEFAULT_KEPT.contains(&name.as_str()) || config.keep_headers.contains(name))
            && !is_credential(name.as_str());
        if kept {
            record_headers.push(Header::new(
                name.as_str(),
                Some(Bytes::copy_from_slice(value.as_bytes())),
            ));
        }
    }
    let event = Event {
        placement: key.map_or(Placement::Any, Placement::Key),
        value: Some(bytes),
        headers: record_headers,
    };
    ingest::store(&state, &hub_info, vec![event]).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// The key at `pointer` in a JSON body: strings as they are, numbers and booleans as text;
/// `None` for a non-JSON body or a missing or structured value.
fn json_key(headers: &HeaderMap, body: &[u8], pointer: &str) -> Option<Bytes> {
    let json_type = content_type(headers).is_none_or(|ct| ct.contains("json"));
    if !json_type {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    match value.pointer(pointer)? {
        serde_json::Value::String(s) => Some(Bytes::from(s.clone())),
        v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
            Some(Bytes::from(v.to_string()))
        }
        _ => None,
    }
}
