//! The route table and the per-request limits.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use hubgate_storage::SharedStorage;
use tracing::Instrument;

use crate::config::HttpConfig;
use crate::error::ApiError;
use crate::host::check_host;
use crate::linger::finish_body;
use crate::state::AppState;
use crate::{admin, admin_console, cloudevents, health, read, send, webhook, websocket};

/// The HTTP application: every route, with the body cap, request timeout and concurrency
/// limit of `config` applied (health and metrics routes skip the concurrency limit and the
/// timeout so probes answer under load; so does the AMQP WebSocket upgrade, whose connection
/// outlives its request and is bounded by the AMQP front end instead). Around every route: the
/// `Host` check on loopback listeners, then the reading of whatever an early answer left of the
/// request body.
///
/// [`serve`](crate::serve) runs it on the shared accept loop; tests call it with
/// `tower::ServiceExt::oneshot`.
pub fn router(storage: SharedStorage, config: HttpConfig) -> Router {
    let state = AppState::new(storage, config);
    let limited = Router::new()
        .route("/{hub}", get(read::hub))
        .route("/{hub}/messages", post(send::to_hub))
        .route("/{hub}/partitions/{id}", get(read::partition))
        .route("/{hub}/partitions/{id}/messages", post(send::to_partition))
        .route(
            "/{hub}/publishers/{name}/messages",
            post(send::as_publisher),
        )
        .route("/{hub}/publisher/{name}/messages", post(send::as_publisher))
        .route("/webhooks/{hub}", post(webhook::receive))
        .route("/cloudevents/{hub}", post(cloudevents::receive))
        .route(
            "/admin/hubs/{hub}",
            put(admin::put_hub).delete(admin::delete_hub),
        )
        .merge(admin_console::routes(&state))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), limit));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/$servicebus/websocket", get(websocket::upgrade))
        .route("/$servicebus/websocket/", get(websocket::upgrade))
        .merge(hubgate_console::router())
        .merge(limited)
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .layer(middleware::from_fn_with_state(state.clone(), finish_body))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}

/// One span per request, and the request counter by status.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let span = tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty
    );
    let response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    state.metrics.request("http", response.status().as_str());
    response
}

/// The concurrency limit (`503` when every slot is taken) and the request timeout (`408`),
/// shortened by a `?timeout=SECONDS` query parameter as the Event Hubs REST API sends it.
async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Ok(_slot) = state.slots.clone().try_acquire_owned() else {
        return ApiError::Busy(format!(
            "more than {} requests in flight; retry later",
            state.config.max_concurrent_requests
        ))
        .into_response();
    };
    let timeout = match query_timeout(request.uri()) {
        Ok(Some(t)) => t.min(state.config.request_timeout),
        Ok(None) => state.config.request_timeout,
        Err(e) => return e.into_response(),
    };
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(timeout).into_response(),
    }
}

/// The `timeout` query parameter in whole seconds, if present. `api-version` and any other
/// parameter are accepted and ignored.
fn query_timeout(uri: &Uri) -> Result<Option<Duration>, ApiError> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("timeout=") {
            return match value.parse::<u64>() {
                Ok(secs) if secs > 0 => Ok(Some(Duration::from_secs(secs))),
                _ => Err(ApiError::BadRequest(format!(
                    "timeout must be a positive number of seconds, got `{value}`"
                ))),
            };
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_query() {
        let uri: Uri = "/h/messages?timeout=60&api-version=2014-01"
            .parse()
            .unwrap();
        assert_eq!(query_timeout(&uri).unwrap(), Some(Duration::from_secs(60)));
        let uri: Uri = "/h/messages?api-version=2014-01".parse().unwrap();
        assert_eq!(query_timeout(&uri).unwrap(), None);
        let uri: Uri = "/h/messages?timeout=abc".parse().unwrap();
        assert!(query_timeout(&uri).is_err());
    }
}
