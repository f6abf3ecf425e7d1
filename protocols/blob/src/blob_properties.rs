//! Get Blob Properties (`HEAD /{account}/{container}/{blob}`) and Get Blob (`GET`, the whole
//! content; `Range` is refused): ETag, Last-Modified, `x-ms-blob-type: BlockBlob` and the
//! metadata as `x-ms-meta-*`. `If-Match` failing is `412`, `If-None-Match` matching `304`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::checkpoint;
use crate::error::BlobError;
use crate::request::{BlobRequest, Conditions, Match};
use crate::routes::{Ctx, with_metadata};
use crate::store::{self, etag, http_date};

pub(crate) async fn run(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    let name = req.blob.as_deref().unwrap_or_default();
    if req.headers.contains_key(header::RANGE) || req.headers.contains_key("x-ms-range") {
        return Err(BlobError::UnsupportedHeader("range"));
    }
    let conditions = req.conditions()?;
    store::container(&ctx.storage, &req.account, container).await?;
    let (version, created, modified, metadata, content, content_type) =
        match checkpoint::parse(&ctx.storage, name).await? {
            Some(cp) => {
                let c = checkpoint::read(&ctx.storage, &cp)
                    .await?
                    .ok_or(BlobError::BlobNotFound)?;
                let version = checkpoint::version(&c);
                let metadata = checkpoint::metadata(&c);
                let at = c.committed_at_ms;
                (
                    version,
                    at,
                    at,
                    metadata,
                    Bytes::new(),
                    "application/octet-stream".to_owned(),
                )
            }
            None => {
                let e = store::blob(&ctx.storage, &req.account, container, name)
                    .await?
                    .ok_or(BlobError::BlobNotFound)?;
                let p = e.properties;
                let content_type = p
                    .content_type
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                (
                    e.version,
                    p.created_ms,
                    p.modified_ms,
                    p.metadata,
                    e.content,
                    content_type,
                )
            }
        };
    check_read(conditions, version)?;
    let mut response = (StatusCode::OK, content).into_response();
    let headers = response.headers_mut();
    let text = [
        (header::ETAG.as_str(), etag(version)),
        (header::LAST_MODIFIED.as_str(), http_date(modified)),
        ("x-ms-creation-time", http_date(created)),
        (header::CONTENT_TYPE.as_str(), content_type),
    ];
    for (k, v) in text {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    }
    for (k, v) in [
        ("x-ms-blob-type", "BlockBlob"),
        ("x-ms-lease-status", "unlocked"),
        ("x-ms-lease-state", "available"),
        ("x-ms-server-encrypted", "false"),
        ("accept-ranges", "bytes"),
    ] {
        headers.insert(k, HeaderValue::from_static(v));
    }
    Ok(with_metadata(response, &metadata))
}

fn check_read(conditions: Conditions, version: u64) -> Result<(), BlobError> {
    if let Some(m) = conditions.if_match {
        let matches = match m {
            Match::Any => true,
            Match::Etag(v) => v == Some(version),
        };
        if !matches {
            return Err(BlobError::ConditionNotMet);
        }
    }
    if let Some(m) = conditions.if_none_match {
        let matches = match m {
            Match::Any => true,
            Match::Etag(v) => v == Some(version),
        };
        if matches {
            return Err(BlobError::NotModified);
        }
    }
    Ok(())
}
