//! The one request handler: authentication, dispatch on method + `restype` + `comp`, and the
//! headers every response carries.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hubgate_storage::SharedStorage;
use tracing::Instrument;

use crate::config::BlobConfig;
use crate::error::BlobError;
use crate::request::BlobRequest;
use crate::store::http_date;
use crate::{
    auth, blob_properties, container_properties, create_container, delete_blob, delete_container,
    list_blobs, put_blob, set_metadata,
};

/// The `x-ms-version` answered when the request names none.
const DEFAULT_VERSION: &str = "2025-01-05";

/// What every operation gets.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) storage: SharedStorage,
    pub(crate) config: Arc<BlobConfig>,
}

/// The Blob application: every request goes to one handler that parses the raw path (blob
/// names may hold `/`, and SharedKey signs the path as sent).
///
/// [`serve`](crate::serve) runs it on the shared accept loop; tests call it with
/// `tower::ServiceExt::oneshot`.
pub fn router(storage: SharedStorage, config: BlobConfig) -> Router {
    let ctx = Ctx {
        storage,
        config: Arc::new(config),
    };
    Router::new().fallback(handle).with_state(ctx)
}

async fn handle(State(ctx): State<Ctx>, request: Request) -> Response {
    let version = request
        .headers()
        .get("x-ms-version")
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_VERSION));
    let client_id = request.headers().get("x-ms-client-request-id").cloned();
    let method = request.method().clone();
    let span = tracing::debug_span!("blob", method = %method, path = %request.uri().path());
    let mut response = match dispatch(&ctx, request).instrument(span).await {
        Ok(response) => response,
        Err(error) => {
            let (status, code) = error.status_and_code();
            tracing::debug!(%method, %status, code, "blob request refused");
            error.into_response()
        }
    };
    let headers = response.headers_mut();
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(id) = HeaderValue::from_str(&id) {
        headers.insert("x-ms-request-id", id);
    }
    headers.insert("x-ms-version", version);
    if let Some(client_id) = client_id {
        headers.insert("x-ms-client-request-id", client_id);
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(header::DATE, date);
    }
    response
}

async fn dispatch(ctx: &Ctx, request: Request) -> Result<Response, BlobError> {
    let (parts, body) = request.into_parts();
    let req = BlobRequest::parse(parts.method.clone(), &parts.uri, parts.headers)?;
    auth::verify(
        &ctx.config,
        &req.method,
        &parts.uri,
        &req.headers,
        &req.account,
        SystemTime::now(),
    )?;
    let timeout = ctx.config.header_timeout;
    let body = tokio::time::timeout(timeout, read_body(body, ctx.config.max_blob_bytes))
        .await
        .map_err(|_| BlobError::Timeout(timeout))??;
    let restype = req.param("restype");
    let comp = req.param("comp");
    let m = &req.method;
    let Some(_) = req.container else {
        return Err(BlobError::FeatureNotSupported(
            "account operations (list containers, service properties)",
        ));
    };
    if req.blob.is_none() {
        if restype != Some("container") {
            return Err(BlobError::FeatureNotSupported(
                "blobs in the root container; container requests need restype=container",
            ));
        }
        return match (m, comp) {
            (&Method::PUT, None) => create_container::run(ctx, &req).await,
            (&Method::PUT, Some("metadata")) => container_properties::set(ctx, &req).await,
            (&Method::GET | &Method::HEAD, None) => container_properties::get(ctx, &req).await,
            (&Method::GET, Some("list")) => list_blobs::run(ctx, &req).await,
            (&Method::DELETE, None) => delete_container::run(ctx, &req).await,
            (&Method::PUT | &Method::GET | &Method::HEAD | &Method::DELETE, Some(_)) => Err(
                BlobError::FeatureNotSupported("this container operation (acl, lease, ...)"),
            ),
            _ => Err(BlobError::UnsupportedHttpVerb(m.to_string())),
        };
    }
    if restype.is_some() {
        return Err(BlobError::InvalidQueryParameterValue(
            "restype is not valid on a blob",
        ));
    }
    match (m, comp) {
        (&Method::PUT, Some("metadata")) => set_metadata::run(ctx, &req).await,
        (&Method::PUT, None) => put_blob::run(ctx, &req, body).await,
        (&Method::GET | &Method::HEAD, None) => blob_properties::run(ctx, &req).await,
        (&Method::DELETE, None) => delete_blob::run(ctx, &req).await,
        (&Method::PUT | &Method::GET | &Method::HEAD | &Method::DELETE, Some(_)) => {
            Err(BlobError::FeatureNotSupported(
                "this blob operation (blocks, leases, snapshots, tags, ...)",
            ))
        }
        _ => Err(BlobError::UnsupportedHttpVerb(m.to_string())),
    }
}

/// Reads the body, refusing more than `limit` bytes before buffering them.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, BlobError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| BlobError::RequestBodyTooLarge(limit))
}

/// A response with `status`, the entity's quoted ETag and its Last-Modified.
pub(crate) fn entity(status: StatusCode, etag: &str, modified_ms: i64) -> Response {
    let mut response = status.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(modified_ms)) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    response
}

/// Adds `x-ms-meta-*` headers.
pub(crate) fn with_metadata(mut response: Response, metadata: &[(String, String)]) -> Response {
    for (k, v) in metadata {
        let name = format!("x-ms-meta-{k}");
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
