//! The front end's error type, mapped once to a status, the `x-ms-error-code` header and the
//! XML body `<Error><Code>…</Code><Message>…</Message></Error>` the Blob SDKs parse.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubgate_storage::Error as StorageError;

use crate::xml::escape;

/// Why a request failed; each variant is one Blob error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// `404 ContainerNotFound`.
    #[error("The specified container does not exist.")]
    ContainerNotFound,
    /// `409 ContainerAlreadyExists`.
    #[error("The specified container already exists.")]
    ContainerAlreadyExists,
    /// `404 BlobNotFound`.
    #[error("The specified blob does not exist.")]
    BlobNotFound,
    /// `409 BlobAlreadyExists`.
    #[error("The specified blob already exists.")]
    BlobAlreadyExists,
    /// `412 ConditionNotMet`.
    #[error("The condition specified using HTTP conditional header(s) is not met.")]
    ConditionNotMet,
    /// `304 Not Modified` (a read whose `If-None-Match` matched).
    #[error("The resource has not been modified.")]
    NotModified,
    /// `403 AuthenticationFailed`.
    #[error("Server failed to authenticate the request: {0}")]
    AuthenticationFailed(&'static str),
    /// `400 InvalidQueryParameterValue`.
    #[error("Value for one of the query parameters specified in the request URI is invalid: {0}")]
    InvalidQueryParameterValue(&'static str),
    /// `400 InvalidHeaderValue`.
    #[error("The value for one of the HTTP headers is not in the correct format: {0}")]
    InvalidHeaderValue(&'static str),
    /// `400 UnsupportedHeader`.
    #[error("One of the HTTP headers specified in the request is not supported: {0}")]
    UnsupportedHeader(&'static str),
    /// `400 InvalidResourceName`.
    #[error("The specified resource name contains invalid characters or is too long: {0}")]
    InvalidResourceName(&'static str),
    /// `400 InvalidUri`.
    #[error("The requested URI does not represent any resource on the server: {0}")]
    InvalidUri(&'static str),
    /// `400 InvalidMetadata`.
    #[error("The metadata specified is invalid: {0}")]
    InvalidMetadata(&'static str),
    /// `400 MetadataTooLarge`.
    #[error("The size of the specified metadata exceeds the maximum size permitted ({0} bytes).")]
    MetadataTooLarge(usize),
    /// `400 InvalidBlobType`.
    #[error("The blob type is invalid for this operation: only BlockBlob is served.")]
    InvalidBlobType,
    /// `413 RequestBodyTooLarge`.
    #[error("The request body is too large and exceeds the maximum permissible limit ({0} bytes).")]
    RequestBodyTooLarge(usize),
    /// `408 OperationTimedOut`: the body did not arrive within the request timeout.
    #[error("The request body was not received within {0:?}.")]
    Timeout(std::time::Duration),
    /// `405 UnsupportedHttpVerb`.
    #[error("The resource doesn't support the specified HTTP verb {0}.")]
    UnsupportedHttpVerb(String),
    /// `501 FeatureNotSupported`: a Blob operation outside the subset hubgate serves.
    #[error("This operation is not supported by hubgate: {0}")]
    FeatureNotSupported(&'static str),
    /// A storage failure: `500 InternalError` (details logged, not sent).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl BlobError {
    /// The HTTP status and Blob error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::ContainerNotFound => (S::NOT_FOUND, "ContainerNotFound"),
            Self::ContainerAlreadyExists => (S::CONFLICT, "ContainerAlreadyExists"),
            Self::BlobNotFound => (S::NOT_FOUND, "BlobNotFound"),
            Self::BlobAlreadyExists => (S::CONFLICT, "BlobAlreadyExists"),
            Self::ConditionNotMet => (S::PRECONDITION_FAILED, "ConditionNotMet"),
            Self::NotModified => (S::NOT_MODIFIED, "ConditionNotMet"),
            Self::AuthenticationFailed(_) => (S::FORBIDDEN, "AuthenticationFailed"),
            Self::InvalidQueryParameterValue(_) => (S::BAD_REQUEST, "InvalidQueryParameterValue"),
            Self::InvalidHeaderValue(_) => (S::BAD_REQUEST, "InvalidHeaderValue"),
            Self::UnsupportedHeader(_) => (S::BAD_REQUEST, "UnsupportedHeader"),
            Self::InvalidResourceName(_) => (S::BAD_REQUEST, "InvalidResourceName"),
            Self::InvalidUri(_) => (S::BAD_REQUEST, "InvalidUri"),
            Self::InvalidMetadata(_) => (S::BAD_REQUEST, "InvalidMetadata"),
            Self::MetadataTooLarge(_) => (S::BAD_REQUEST, "MetadataTooLarge"),
            Self::InvalidBlobType => (S::BAD_REQUEST, "InvalidBlobType"),
            Self::RequestBodyTooLarge(_) => (S::PAYLOAD_TOO_LARGE, "RequestBodyTooLarge"),
            Self::UnsupportedHttpVerb(_) => (S::METHOD_NOT_ALLOWED, "UnsupportedHttpVerb"),
            Self::Timeout(_) => (S::REQUEST_TIMEOUT, "OperationTimedOut"),
            Self::FeatureNotSupported(_) => (S::NOT_IMPLEMENTED, "FeatureNotSupported"),
            Self::Storage(StorageError::ObjectTooLarge { .. }) => {
                (S::BAD_REQUEST, "InvalidResourceName")
            }
            Self::Storage(StorageError::Closed) => (S::SERVICE_UNAVAILABLE, "ServerBusy"),
            Self::Storage(_) => (S::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }
}

impl IntoResponse for BlobError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Self::Storage(error) if status == StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(%error, "blob request failed in storage");
                "The server encountered an internal error.".to_owned()
            }
            other => other.to_string(),
        };
        let mut response = if status == StatusCode::NOT_MODIFIED {
            status.into_response()
        } else {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{}</Message></Error>",
                escape(&message)
            );
            let mut r = (status, body).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        };
        response
            .headers_mut()
            .insert("x-ms-error-code", HeaderValue::from_static(code));
        response
    }
}
