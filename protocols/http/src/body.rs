//! Reading a request body under the size cap, before anything is allocated for it, and its
//! content type.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;

/// The `Content-Type` header, trimmed and lower-cased; `None` when absent or not text.
pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// Reads the whole body, refusing with `413` anything over `limit`: at once when
/// `Content-Length` says so, otherwise as soon as the streamed body passes the limit.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(length) = headers.get(header::CONTENT_LENGTH) {
        let length = length
            .to_str()
            .ok()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| ApiError::BadRequest("invalid Content-Length".into()))?;
        if length > limit as u64 {
            return Err(ApiError::TooLarge { limit });
        }
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::TooLarge { limit })
        }
        Err(error) => Err(ApiError::BadRequest(format!(
            "cannot read the request body: {error}"
        ))),
    }
}
