//! The Event Hubs REST send API: `POST /{hub}/messages`, `/{hub}/partitions/{id}/messages`,
//! `/{hub}/publishers/{name}/messages` (and the singular `publisher` form), for single events
//! and `application/vnd.microsoft.servicebus.json` batches.
//!
//! - Single event: the body is the value; `BrokerProperties` (JSON) gives `PartitionKey` (the
//!   record key) and the standard properties; every other non-standard request header becomes
//!   a record header (the event's user properties) with its value as sent, except headers that
//!   carry credentials (`Authorization`, `X-Api-Key`, `*-token`, ...: see `credentials.rs`),
//!   which are never stored.
//! - Batch: a JSON array of `{"Body", "IsBodyBase64", "UserProperties", "BrokerProperties"}`;
//!   each item is one record. User properties in request headers are ignored, as on the service.
//! - Publisher form: the publisher name is the partition key (a different `PartitionKey` is
//!   refused); partition form: the partition is fixed and a `PartitionKey` is refused.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use hubgate_protocol::Right;
use hubgate_storage::Header;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::body::{content_type, read_body};
use crate::credentials::is_credential;
use crate::error::ApiError;
use crate::ingest::{self, Event, Placement};
use crate::peer::Peer;
use crate::state::AppState;

/// The batch content type.
const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";

/// Request headers that describe the HTTP exchange, not the event: never user properties.
const STANDARD_HEADERS: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "authorization",
    "brokerproperties",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "cookie",
    "date",
    "expect",
    "forwarded",
    "host",
    "keep-alive",
    "origin",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "referer",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "via",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-ms-retrypolicy",
];

/// Where the URL sends the event.
#[derive(Debug)]
enum Target {
    Hub,
    Partition(String),
    Publisher(String),
}

/// `BrokerProperties`: the fields hubgate maps; the rest are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BrokerProperties {
    partition_key: Option<String>,
    message_id: Option<Value>,
    correlation_id: Option<Value>,
    content_type: Option<String>,
    label: Option<String>,
}

/// One item of a batch body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchItem {
    body: Option<Value>,
    #[serde(default)]
    is_body_base64: bool,
    #[serde(default)]
    user_properties: Map<String, Value>,
    #[serde(default)]
    broker_properties: Option<BrokerProperties>,
}

pub(crate) async fn to_hub(
    State(state): State<AppState>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Response, ApiError> {
    send(&state, &peer, &hub, Target::Hub, &headers, body).await
}

pub(crate) async fn to_partition(
    State(state): State<AppState>,
    Path((hub, partition)): Path<(String, String)>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Response, ApiError> {
    send(
        &state,
        &peer,
        &hub,
        Target::Partition(partition),
        &headers,
        body,
    )
    .await
}

pub(crate) async fn as_publisher(
    State(state): State<AppState>,
    Path((hub, publisher)): Path<(String, String)>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Response, ApiError> {
    send(
        &state,
        &peer,
        &hub,
        Target::Publisher(publisher),
        &headers,
        body,
    )
    .await
}

async fn send(
    state: &AppState,
    peer: &Peer,
    hub: &str,
    target: Target,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.authorize(headers, peer, hub, Right::Send)?;
    let broker = match headers.get("brokerproperties") {
        Some(value) => parse_broker_properties(value.as_bytes())?,
        None => BrokerProperties::default(),
    };
    let partition = match &target {
        Target::Partition(id) => Some(ingest::parse_partition(id)?),
        _ => None,
    };
    if let Target::Publisher(name) = &target {
        ingest::check_key(name)?;
    }
    // The body is read (and its size checked) before the hub is looked up, so a refused
    // request cannot create a hub.
    let bytes = read_body(headers, body, state.config.max_body_bytes).await?;
    let hub = ingest::hub(state, hub, state.config.auto_create).await?;
    let batch = content_type(headers).is_some_and(|ct| ct.starts_with(BATCH_CONTENT_TYPE));
    let events = if batch {
        let items: Vec<BatchItem> = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("invalid batch body: {e}")))?;
        if items.is_empty() {
            return Err(ApiError::BadRequest("the batch has no events".into()));
        }
        let mut events = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            events.push(batch_event(i, item, &target, partition)?);
        }
        events
    } else {
        let mut record_headers = broker_headers(&broker);
        if let Some(ct) = headers.get(header::CONTENT_TYPE)
            && broker.content_type.is_none()
            && !is_envelope_type(ct.as_bytes())
        {
            record_headers.push(Header::new(
                "content-type",
                Some(Bytes::copy_from_slice(ct.as_bytes())),
            ));
        }
        for (name, value) in headers {
            if !STANDARD_HEADERS.contains(&name.as_str()) && !is_credential(name.as_str()) {
                record_headers.push(Header::new(
                    name.as_str(),
                    Some(Bytes::copy_from_slice(value.as_bytes())),
                ));
            }
        }
        vec![Event {
            placement: placement(&target, partition, broker.partition_key.as_deref())?,
            value: Some(bytes),
            headers: record_headers,
        }]
    };
    ingest::store(state, &hub, events).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// `application/atom+xml` is the documented envelope type of a single REST event; it says
/// nothing about the payload, so it is not stored.
fn is_envelope_type(value: &[u8]) -> bool {
    value
        .to_ascii_lowercase()
        .starts_with(b"application/atom+xml")
}

fn parse_broker_properties(raw: &[u8]) -> Result<BrokerProperties, ApiError> {
    serde_json::from_slice(raw)
        .map_err(|e| ApiError::BadRequest(format!("invalid BrokerProperties header: {e}")))
}

/// Where an event goes, given the URL and its `PartitionKey`.
fn placement(
    target: &Target,
    partition: Option<u32>,
    key: Option<&str>,
) -> Result<Placement, ApiError> {
    if let Some(key) = key {
        ingest::check_key(key)?;
    }
    match (target, key) {
        (Target::Partition(_), Some(_)) => Err(ApiError::BadRequest(
            "a PartitionKey cannot be given when sending to a partition".into(),
        )),
        (Target::Partition(_), None) => Ok(Placement::Partition(partition.unwrap_or(0))),
        (Target::Publisher(name), Some(key)) if key != name => Err(ApiError::BadRequest(format!(
            "PartitionKey `{key}` differs from the publisher `{name}`"
        ))),
        (Target::Publisher(name), _) => Ok(Placement::Key(Bytes::copy_from_slice(name.as_bytes()))),
        (Target::Hub, Some(key)) => Ok(Placement::Key(Bytes::copy_from_slice(key.as_bytes()))),
        (Target::Hub, None) => Ok(Placement::Any),
    }
}

/// Record headers for the standard broker properties, with the names the AMQP front end uses
/// for the same AMQP properties.
fn broker_headers(broker: &BrokerProperties) -> Vec<Header> {
    let mut headers = Vec::new();
    let mut push = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            headers.push(Header::new(name, Some(Bytes::from(value))));
        }
    };
    push("message-id", broker.message_id.as_ref().map(value_text));
    push(
        "correlation-id",
        broker.correlation_id.as_ref().map(value_text),
    );
    push("content-type", broker.content_type.clone());
    push("subject", broker.label.clone());
    headers
}

/// A JSON value as property text: strings as they are, anything else as JSON.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn batch_event(
    index: usize,
    item: BatchItem,
    target: &Target,
    partition: Option<u32>,
) -> Result<Event, ApiError> {
    let body = item
        .body
        .ok_or_else(|| ApiError::BadRequest(format!("batch item {index} has no Body")))?;
    let value = match (body, item.is_body_base64) {
        (Value::String(text), true) => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes::from)
            .map_err(|e| {
                ApiError::BadRequest(format!("batch item {index}: Body is not base64: {e}"))
            })?,
        (Value::String(text), false) => Bytes::from(text),
        (_, true) => {
            return Err(ApiError::BadRequest(format!(
                "batch item {index}: IsBodyBase64 needs a string Body"
            )));
        }
        (other, false) => Bytes::from(other.to_string()),
    };
    let broker = item.broker_properties.unwrap_or_default();
    let mut headers = broker_headers(&broker);
    for (name, value) in &item.user_properties {
        let value = match value {
            Value::Null => None,
            other => Some(Bytes::from(value_text(other))),
        };
        headers.push(Header::new(name.as_str(), value));
    }
    Ok(Event {
        placement: placement(target, partition, broker.partition_key.as_deref())?,
        value: Some(value),
        headers,
    })
}
