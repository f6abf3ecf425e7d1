//! Delete Container: `DELETE /{account}/{container}?restype=container` → `202`, with every
//! blob stored in it. Checkpoints stay: they are Kafka group offsets, not objects.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hubgate_storage::{MAX_OBJECT_LIST, Precondition};

use crate::error::BlobError;
use crate::request::BlobRequest;
use crate::routes::Ctx;
use crate::store::{blobs_prefix, container_key};

pub(crate) async fn run(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    let conditions = req.conditions()?;
    let deleted = ctx
        .storage
        .delete_object(
            &container_key(&req.account, container),
            conditions.existing(),
        )
        .await?;
    if !deleted {
        let exists = ctx
            .storage
            .object(&container_key(&req.account, container))
            .await?
            .is_some();
        return Err(if exists {
            BlobError::ConditionNotMet
        } else {
            BlobError::ContainerNotFound
        });
    }
    let prefix = blobs_prefix(&req.account, container);
    loop {
        let page = ctx
            .storage
            .list_objects(&prefix, &prefix, MAX_OBJECT_LIST)
            .await?;
        if page.is_empty() {
            break;
        }
        for (key, _) in page {
            ctx.storage.delete_object(&key, Precondition::Any).await?;
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
