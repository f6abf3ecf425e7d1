//! Get Container Properties (`GET`/`HEAD …?restype=container`) and Set Container Metadata
//! (`PUT …?restype=container&comp=metadata`).

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use hubgate_storage::Precondition;

use crate::error::BlobError;
use crate::request::BlobRequest;
use crate::routes::{Ctx, entity, with_metadata};
use crate::store::{self, container_key, encode, now_ms};

/// Attempts of a read-modify-write before giving up on a container written non-stop.
const ATTEMPTS: usize = 16;

pub(crate) async fn get(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    let entry = store::container(&ctx.storage, &req.account, container).await?;
    let mut response = entity(StatusCode::OK, &entry.etag(), entry.properties.modified_ms);
    let headers = response.headers_mut();
    for (k, v) in [
        ("x-ms-lease-status", "unlocked"),
        ("x-ms-lease-state", "available"),
        ("x-ms-has-immutability-policy", "false"),
        ("x-ms-has-legal-hold", "false"),
    ] {
        headers.insert(k, HeaderValue::from_static(v));
    }
    Ok(with_metadata(response, &entry.properties.metadata))
}

pub(crate) async fn set(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    let metadata = req.metadata()?;
    let conditions = req.conditions()?;
    if conditions.if_none_match.is_some() {
        return Err(BlobError::UnsupportedHeader("if-none-match"));
    }
    let key = container_key(&req.account, container);
    for _ in 0..ATTEMPTS {
        let entry = store::container(&ctx.storage, &req.account, container).await?;
        if !conditions.hold(Some(entry.version)) {
            return Err(BlobError::ConditionNotMet);
        }
        let mut properties = entry.properties;
        properties.metadata = metadata.clone();
        properties.modified_ms = now_ms();
        let written = ctx
            .storage
            .put_object(
                &key,
                encode(&properties, &[]),
                Precondition::Version(entry.version),
            )
            .await?;
        if let Some(version) = written {
            return Ok(entity(
                StatusCode::OK,
                &store::etag(version),
                properties.modified_ms,
            ));
        }
    }
    Err(BlobError::Storage(hubgate_storage::Error::Closed))
}
