//! Create Container: `PUT /{account}/{container}?restype=container` → `201`, or `409
//! ContainerAlreadyExists`.

use axum::http::StatusCode;
use axum::response::Response;
use hubgate_storage::Precondition;

use crate::error::BlobError;
use crate::request::BlobRequest;
use crate::routes::{Ctx, entity};
use crate::store::{Properties, container_key, encode, etag, now_ms};

pub(crate) async fn run(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    if req.headers.contains_key("x-ms-blob-public-access") {
        return Err(BlobError::UnsupportedHeader("x-ms-blob-public-access"));
    }
    let now = now_ms();
    let properties = Properties {
        metadata: req.metadata()?,
        created_ms: now,
        modified_ms: now,
        content_type: None,
    };
    let written = ctx
        .storage
        .put_object(
            &container_key(&req.account, container),
            encode(&properties, &[]),
            Precondition::Absent,
        )
        .await?;
    match written {
        Some(version) => Ok(entity(StatusCode::CREATED, &etag(version), now)),
        None => Err(BlobError::ContainerAlreadyExists),
    }
}
