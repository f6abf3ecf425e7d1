//! `GET /healthz` (the process answers), `GET /readyz` (storage answers) and `GET /metrics`
//! (Prometheus text: the process-wide counters plus consumer lag per group).
//!
//! Health and readiness are always open. With access policies, `/metrics` needs a token (or
//! client certificate) of a Listen or Manage policy that covers every hub, unless
//! `metrics_public` is set.

use std::fmt::Write as _;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubgate_protocol::metrics::escape;
use serde_json::json;

use crate::peer::Peer;
use crate::state::AppState;

pub(crate) async fn healthz() -> Response {
    Json(json!({ "status": "healthy" })).into_response()
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    match state.storage.hubs().await {
        Ok(hubs) => Json(json!({ "status": "ready", "hubs": hubs.len() })).into_response(),
        Err(error) => {
            tracing::warn!(%error, "not ready: storage does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "message": error.to_string() })),
            )
                .into_response()
        }
    }
}

pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
) -> Response {
    if !state.config.metrics_public
        && let Err(error) = crate::sas::authorize_metrics(
            &state.config.policies,
            &headers,
            peer.cert_grant(),
            crate::time::now_ms() / 1000,
        )
    {
        return error.into_response();
    }
    let mut text = String::new();
    state.metrics.render(&mut text);
    let name = "hubgate_consumer_lag";
    let _ = writeln!(
        text,
        "# HELP {name} Records between a group's committed offset and the high watermark.\n# TYPE {name} gauge"
    );
    if let Err(error) = lag(&state, &mut text).await {
        tracing::warn!(%error, "consumer lag unavailable");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn lag(state: &AppState, out: &mut String) -> hubgate_storage::Result<()> {
    for group in state.storage.offset_groups().await? {
        for (partition, committed) in state.storage.committed_offsets(&group).await? {
            let Ok(p) = state.storage.partition(&partition).await else {
                continue; // the hub was deleted after the commit
            };
            let lag = (p.high_watermark - committed.offset).max(0);
            let _ = writeln!(
                out,
                "hubgate_consumer_lag{{group=\"{}\",hub=\"{}\",partition=\"{}\"}} {lag}",
                escape(&group),
                escape(partition.hub.as_str()),
                partition.index
            );
        }
    }
    Ok(())
}
