//! The front end's error type, mapped once to an HTTP status and a JSON body
//! `{"code": "...", "message": "..."}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubgate_storage::Error as StorageError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Malformed request (`400`).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials or signature (`401`).
    #[error("{0}")]
    Unauthorized(String),
    /// Not allowed (`403`).
    #[error("{0}")]
    Forbidden(String),
    /// No such hub, partition or route (`404`).
    #[error("{0}")]
    NotFound(String),
    /// The request names a host this listener does not serve (`421`).
    #[error("{0}")]
    Misdirected(String),
    /// The request conflicts with the current state, e.g. a group that still has members
    /// (`409`).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit (`413`).
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request took longer than the request timeout (`408`).
    #[error("request not completed within {0:?}")]
    Timeout(std::time::Duration),
    /// Too many requests in flight or storage unavailable (`503`).
    #[error("{0}")]
    Busy(String),
    /// A storage error, mapped by kind.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl ApiError {
    /// The status and the `code` field of the body.
    pub fn status(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequest"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
            Self::Misdirected(_) => (StatusCode::MISDIRECTED_REQUEST, "MisdirectedRequest"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            Self::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "RequestTimeout"),
            Self::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServerBusy"),
            Self::Storage(e) => match e {
                StorageError::NoSuchHub(_) | StorageError::NoSuchPartition { .. } => {
                    (StatusCode::NOT_FOUND, "NotFound")
                }
                StorageError::InvalidHubName { .. }
                | StorageError::InvalidConfig(_)
                | StorageError::OffsetOutOfRange { .. } => (StatusCode::BAD_REQUEST, "BadRequest"),
                StorageError::HubExists(_) => (StatusCode::CONFLICT, "Conflict"),
                StorageError::MessageTooLarge { .. } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge")
                }
                StorageError::Closed => (StatusCode::SERVICE_UNAVAILABLE, "ServerBusy"),
                StorageError::StorageFailed(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
                }
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            // Details stay in the log, not on the wire.
            tracing::error!(error = %self, "request failed");
            "internal error".to_owned()
        } else {
            tracing::debug!(error = %self, %status, "request refused");
            self.to_string()
        };
        let mut response = (
            status,
            Json(serde_json::json!({ "code": code, "message": message })),
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
