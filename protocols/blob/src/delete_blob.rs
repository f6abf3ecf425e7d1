//! Delete Blob: `DELETE /{account}/{container}/{blob}` → `202`. Deleting a checkpoint blob
//! forgets the group's committed offset in that partition.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::checkpoint;
use crate::error::BlobError;
use crate::request::BlobRequest;
use crate::routes::Ctx;
use crate::store::{self, blob_key};

pub(crate) async fn run(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    let name = req.blob.as_deref().unwrap_or_default();
    if req.headers.contains_key("x-ms-delete-snapshots") {
        return Err(BlobError::UnsupportedHeader("x-ms-delete-snapshots"));
    }
    let conditions = req.conditions()?;
    store::container(&ctx.storage, &req.account, container).await?;
    if let Some(cp) = checkpoint::parse(&ctx.storage, name).await? {
        checkpoint::existing(&ctx.storage, &cp, conditions).await?;
        ctx.storage
            .delete_offsets(&cp.group, std::slice::from_ref(&cp.partition))
            .await?;
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let key = blob_key(&req.account, container, name);
    if ctx
        .storage
        .delete_object(&key, conditions.existing())
        .await?
    {
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    match store::blob(&ctx.storage, &req.account, container, name).await? {
        Some(_) => Err(BlobError::ConditionNotMet),
        None => Err(conditions.missing()),
    }
}
