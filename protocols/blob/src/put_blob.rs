//! Put Blob (block blobs only): `PUT /{account}/{container}/{blob}` with `x-ms-blob-type:
//! BlockBlob` → `201`. Metadata and content replace the blob's; `If-None-Match: *` on an
//! existing blob is `409 BlobAlreadyExists`, any other failed condition `412`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;

use crate::checkpoint;
use crate::error::BlobError;
use crate::request::{BlobRequest, Match};
use crate::routes::{Ctx, entity};
use crate::store::{self, Properties, blob_key, encode, etag, now_ms};

pub(crate) async fn run(ctx: &Ctx, req: &BlobRequest, body: Bytes) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    let name = req.blob.as_deref().unwrap_or_default();
    match req.header("x-ms-blob-type")? {
        Some("BlockBlob") => {}
        Some(_) => return Err(BlobError::InvalidBlobType),
        None => return Err(BlobError::InvalidHeaderValue("x-ms-blob-type is required")),
    }
    if req.headers.contains_key("x-ms-copy-source") {
        return Err(BlobError::FeatureNotSupported(
            "Put Blob from URL (x-ms-copy-source)",
        ));
    }
    let metadata = req.metadata()?;
    let conditions = req.conditions()?;
    store::container(&ctx.storage, &req.account, container).await?;
    let create_only = conditions.if_none_match == Some(Match::Any);
    let refused = |exists: bool| {
        if create_only && exists {
            BlobError::BlobAlreadyExists
        } else {
            BlobError::ConditionNotMet
        }
    };
    if body.is_empty()
        && let Some(cp) = checkpoint::parse(&ctx.storage, name).await?
    {
        let current = checkpoint::read(&ctx.storage, &cp).await?;
        if !conditions.hold(current.as_ref().map(checkpoint::version)) {
            return Err(refused(current.is_some()));
        }
        let committed = checkpoint::write(&ctx.storage, &cp, &metadata).await?;
        return Ok(created(
            &etag(checkpoint::version(&committed)),
            committed.committed_at_ms,
        ));
    }
    let current = store::blob(&ctx.storage, &req.account, container, name).await?;
    if !conditions.hold(current.as_ref().map(|e| e.version)) {
        return Err(refused(current.is_some()));
    }
    let now = now_ms();
    let content_type = req
        .header("x-ms-blob-content-type")?
        .or(req.header("content-type")?)
        .unwrap_or("application/octet-stream")
        .to_owned();
    let properties = Properties {
        metadata,
        created_ms: current.as_ref().map_or(now, |e| e.properties.created_ms),
        modified_ms: now,
        content_type: Some(content_type),
    };
    let written = ctx
        .storage
        .put_object(
            &blob_key(&req.account, container, name),
            encode(&properties, &body),
            conditions.atomic(),
        )
        .await?;
    match written {
        Some(version) => Ok(created(&etag(version), now)),
        None => {
            let exists = store::blob(&ctx.storage, &req.account, container, name)
                .await?
                .is_some();
            Err(refused(exists))
        }
    }
}

fn created(etag: &str, modified_ms: i64) -> Response {
    let mut response = entity(StatusCode::CREATED, etag, modified_ms);
    response.headers_mut().insert(
        "x-ms-request-server-encrypted",
        HeaderValue::from_static("false"),
    );
    response
}
