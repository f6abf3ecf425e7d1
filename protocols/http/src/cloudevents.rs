//! `POST /cloudevents/{hub}`: CloudEvents 1.0 over HTTP in binary, structured and batched
//! mode, stored as the CloudEvents *Kafka protocol binding* binary-mode message:
//!
//! - each context attribute and extension → header `ce_{name}` with its string form (HTTP
//!   binary-mode `ce-` header values are percent-decoded first);
//! - `datacontenttype` → header `content-type` (in binary mode: the HTTP `Content-Type`);
//! - data → the value (`data_base64` decoded; JSON `data` serialised, a string `data` with a
//!   non-JSON content type stored as its text);
//! - the `partitionkey` extension → the record key (and stays a `ce_partitionkey` header).
//!
//! A structured event whose `data` is JSON and that has no `datacontenttype` gets
//! `content-type: application/json`, which the JSON format implies.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use hubgate_protocol::{Right, percent};
use hubgate_storage::Header;
use serde_json::{Map, Value};

use crate::body::{content_type, read_body};
use crate::credentials::is_credential;
use crate::error::ApiError;
use crate::ingest::{self, Event, Placement};
use crate::peer::Peer;
use crate::state::AppState;

const STRUCTURED: &str = "application/cloudevents+json";
const BATCH: &str = "application/cloudevents-batch+json";
/// Attributes every event must carry.
const REQUIRED: [&str; 4] = ["specversion", "id", "source", "type"];
/// Longest attribute name (the spec recommends at most 20 characters).
const MAX_NAME_LEN: usize = 20;

pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(hub): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Response, ApiError> {
    state.authorize(&headers, &peer, &hub, Right::Send)?;
    // Size checked before the hub lookup, so a refused request cannot create a hub.
    let bytes = read_body(&headers, body, state.config.max_body_bytes).await?;
    let hub_info = ingest::hub(&state, &hub, state.config.auto_create).await?;
    let content_type = content_type(&headers).unwrap_or_default();
    let events = if content_type.starts_with(BATCH) {
        let items: Vec<Value> = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("invalid CloudEvents batch: {e}")))?;
        if items.is_empty() {
            return Err(ApiError::BadRequest(
                "the CloudEvents batch is empty".into(),
            ));
        }
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                structured(item).map_err(|e| ApiError::BadRequest(format!("event {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?
    } else if content_type.starts_with(STRUCTURED) {
        let item: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("invalid structured CloudEvent: {e}")))?;
        vec![structured(item).map_err(ApiError::BadRequest)?]
    } else {
        vec![binary(&headers, bytes).map_err(ApiError::BadRequest)?]
    };
    ingest::store(&state, &hub_info, events).await?;
    Ok(StatusCode::CREATED.into_response())
}

/// Builds the record of an event from its attributes (name → string form) and data.
fn event(
    attributes: Vec<(String, String)>,
    content_type: Option<String>,
    data: Option<Bytes>,
) -> Result<Event, String> {
    for required in REQUIRED {
        match attributes.iter().find(|(n, _)| n == required) {
            None => return Err(format!("missing required attribute `{required}`")),
            Some((_, v)) if v.is_empty() => {
                return Err(format!("required attribute `{required}` is empty"));
            }
            Some(_) => {}
        }
    }
    if let Some((_, version)) = attributes.iter().find(|(n, _)| n == "specversion")
        && version != "1.0"
    {
        return Err(format!(
            "unsupported specversion `{version}` (expected 1.0)"
        ));
    }
    let mut key = None;
    let mut headers = Vec::with_capacity(attributes.len() + 1);
    for (name, value) in attributes {
        if name.is_empty()
            || name.len() > MAX_NAME_LEN
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(format!(
                "invalid attribute name `{name}` (1-{MAX_NAME_LEN} lower-case letters or digits)"
            ));
        }
        if name == "partitionkey" {
            ingest::check_key(&value).map_err(|e| e.to_string())?;
            key = Some(Bytes::from(value.clone()));
        }
        headers.push(Header::new(format!("ce_{name}"), Some(Bytes::from(value))));
    }
    if let Some(ct) = content_type {
        headers.push(Header::new("content-type", Some(Bytes::from(ct))));
    }
    Ok(Event {
        placement: key.map_or(Placement::Any, Placement::Key),
        value: data,
        headers,
    })
}

/// Binary mode: attributes in `ce-` headers, data in the body.
fn binary(headers: &HeaderMap, body: Bytes) -> Result<Event, String> {
    let mut attributes = Vec::new();
    for (name, value) in headers {
        if let Some(attr) = name.as_str().strip_prefix("ce-") {
            if is_credential(name.as_str()) {
                continue; // e.g. `ce-token`: a request header that carries a credential
            }
            let text = percent::decode(value.as_bytes())
                .ok_or_else(|| format!("header ce-{attr} is not valid percent-encoded UTF-8"))?;
            attributes.push((attr.to_owned(), text));
        }
    }
    if attributes.is_empty() {
        return Err(
            "not a CloudEvent: no ce- headers and not a CloudEvents content type \
                    (missing required attribute `specversion`)"
                .into(),
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    event(attributes, content_type, Some(body))
}

/// Structured mode: one JSON object holding attributes and data.
fn structured(item: Value) -> Result<Event, String> {
    let Value::Object(object) = item else {
        return Err("a structured CloudEvent must be a JSON object".into());
    };
    let mut object: Map<String, Value> = object;
    let data = object.remove("data");
    let data_base64 = object.remove("data_base64");
    let content_type = match object.remove("datacontenttype") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err("attribute `datacontenttype` must be a string".into()),
    };
    let mut attributes = Vec::with_capacity(object.len());
    for (name, value) in object {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s,
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => {
                return Err(format!(
                    "attribute `{name}` must be a string, number or boolean"
                ));
            }
        };
        attributes.push((name, text));
    }
    let is_json = content_type.as_deref().is_none_or(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.starts_with("application/json") || ct.contains("+json") || ct.starts_with("text/json")
    });
    let (content_type, data) = match (data, data_base64) {
        (Some(_), Some(_)) => return Err("both `data` and `data_base64` are present".into()),
        (None, None) => (content_type, None),
        (None, Some(Value::String(b64))) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| format!("`data_base64` is not base64: {e}"))?;
            (content_type, Some(Bytes::from(bytes)))
        }
        (None, Some(_)) => return Err("`data_base64` must be a string".into()),
        (Some(Value::String(text)), None) if !is_json => (content_type, Some(Bytes::from(text))),
        (Some(value), None) => (
            content_type.or_else(|| Some("application/json".to_owned())),
            Some(Bytes::from(value.to_string())),
        ),
    };
    event(attributes, content_type, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_event_maps_to_kafka_binding() {
        let e = structured(serde_json::json!({
            "specversion": "1.0", "id": "1", "source": "/s", "type": "t",
            "partitionkey": "k1", "count": 3, "data": {"a": 1}
        }))
        .unwrap();
        assert_eq!(e.placement, Placement::Key(Bytes::from("k1")));
        assert_eq!(e.value.as_deref(), Some(&b"{\"a\":1}"[..]));
        let h: Vec<(String, String)> = e
            .headers
            .iter()
            .map(|h| {
                (
                    h.key.clone(),
                    String::from_utf8(h.value.clone().unwrap().to_vec()).unwrap(),
                )
            })
            .collect();
        assert!(h.contains(&("ce_count".into(), "3".into())));
        assert!(h.contains(&("content-type".into(), "application/json".into())));
        assert!(h.contains(&("ce_id".into(), "1".into())));
    }

    #[test]
    fn missing_attributes_are_named() {
        let e = structured(serde_json::json!({"specversion": "1.0", "id": "1", "type": "t"}));
        assert_eq!(e.err().unwrap(), "missing required attribute `source`");
        let e = structured(
            serde_json::json!({"specversion": "0.3", "id": "1", "source": "s", "type": "t"}),
        );
        assert!(e.err().unwrap().contains("specversion"));
    }
}
