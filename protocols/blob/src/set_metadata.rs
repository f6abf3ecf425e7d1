//! Set Blob Metadata: `PUT /{account}/{container}/{blob}?comp=metadata` → `200` with a new
//! ETag. The blob must exist (`404 BlobNotFound`; `412` when `If-Match` was given, as
//! Azurite); `If-Match` / `If-None-Match` are checked in the same compare-and-swap as the
//! write. This is how the stores claim, renew and release ownership and write checkpoints.

use axum::http::StatusCode;
use axum::response::Response;
use hubgate_storage::Precondition;

use crate::checkpoint;
use crate::error::BlobError;
use crate::request::BlobRequest;
use crate::routes::{Ctx, entity};
use crate::store::{self, blob_key, encode, etag, now_ms};

/// Attempts of a read-modify-write before giving up on a blob written non-stop.
const ATTEMPTS: usize = 16;

pub(crate) async fn run(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    let name = req.blob.as_deref().unwrap_or_default();
    let metadata = req.metadata()?;
    let conditions = req.conditions()?;
    store::container(&ctx.storage, &req.account, container).await?;
    if let Some(cp) = checkpoint::parse(&ctx.storage, name).await? {
        checkpoint::existing(&ctx.storage, &cp, conditions).await?;
        let committed = checkpoint::write(&ctx.storage, &cp, &metadata).await?;
        return Ok(entity(
            StatusCode::OK,
            &etag(checkpoint::version(&committed)),
            committed.committed_at_ms,
        ));
    }
    let key = blob_key(&req.account, container, name);
    for _ in 0..ATTEMPTS {
        let entry = store::blob(&ctx.storage, &req.account, container, name)
            .await?
            .ok_or_else(|| conditions.missing())?;
        if !conditions.hold(Some(entry.version)) {
            return Err(BlobError::ConditionNotMet);
        }
        let mut properties = entry.properties;
        properties.metadata = metadata.clone();
        properties.modified_ms = now_ms();
        // The version just checked is the compare-and-swap's: a write in between fails it
        // and the conditions are evaluated again against the new version.
        let written = ctx
            .storage
            .put_object(
                &key,
                encode(&properties, &entry.content),
                Precondition::Version(entry.version),
            )
            .await?;
        if let Some(version) = written {
            return Ok(entity(
                StatusCode::OK,
                &etag(version),
                properties.modified_ms,
            ));
        }
    }
    Err(BlobError::Storage(hubgate_storage::Error::Closed))
}
