//! The front end's errors and their one mapping to AMQP error conditions.

use fe2o3_amqp::types::definitions::{
    self, AmqpError, ConnectionError, ErrorCondition, Fields, LinkError,
};
use fe2o3_amqp::types::primitives::{Symbol, Value};

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything an AMQP request or link can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address names no hub, partition or node this gateway has.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (bad address, filter or application property).
    #[error("{0}")]
    InvalidField(String),
    /// A message could not be decoded.
    #[error("cannot decode message: {0}")]
    Decode(String),
    /// A message could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// A message or batch is larger than allowed.
    #[error("{0}")]
    MessageTooLarge(String),
    /// A reader with a higher or equal owner level took this link's place, or an owner-level
    /// reader excludes this one.
    #[error("{0}")]
    Stolen(String),
    /// Too many readers on one partition and consumer group.
    #[error("{0}")]
    ResourceLimit(String),
    /// A feature this gateway does not offer.
    #[error("{0}")]
    NotImplemented(String),
    /// The connection holds no credential that allows this (no token, an expired one, or one
    /// whose policy lacks the right or the hub).
    #[error("{0}")]
    Unauthorized(String),
    /// The gateway is shutting down.
    #[error("the gateway is shutting down")]
    ShuttingDown,
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] hubgate_storage::Error),
}

impl Error {
    /// The AMQP condition this error is reported with.
    pub fn condition(&self) -> ErrorCondition {
        use hubgate_storage::Error as S;
        match self {
            Error::NotFound(_) => AmqpError::NotFound.into(),
            Error::InvalidField(_) => AmqpError::InvalidField.into(),
            Error::Decode(_) => AmqpError::DecodeError.into(),
            Error::MessageTooLarge(_) => LinkError::MessageSizeExceeded.into(),
            Error::Stolen(_) => LinkError::Stolen.into(),
            Error::ResourceLimit(_) => AmqpError::ResourceLimitExceeded.into(),
            Error::NotImplemented(_) => AmqpError::NotImplemented.into(),
            Error::Unauthorized(_) => AmqpError::UnauthorizedAccess.into(),
            Error::ShuttingDown => ConnectionError::ConnectionForced.into(),
            Error::Storage(S::NoSuchHub(_) | S::NoSuchPartition { .. }) => {
                AmqpError::NotFound.into()
            }
            Error::Storage(S::InvalidHubName { .. }) => AmqpError::InvalidField.into(),
            Error::Storage(S::MessageTooLarge { .. }) => LinkError::MessageSizeExceeded.into(),
            Error::Encode(_) | Error::Storage(_) => AmqpError::InternalError.into(),
        }
    }

    /// The description sent to the peer; internal failures are not detailed.
    fn description(&self) -> String {
        match self {
            Error::Encode(_) => "internal error".to_owned(),
            Error::Storage(e) if self.condition() == AmqpError::InternalError.into() => {
                tracing::error!(error = %e, "storage failure");
                "internal error".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The AMQP error sent to the peer, always with an `info` map (pyamqp 5.15.1 indexes it).
    pub fn to_amqp(&self) -> definitions::Error {
        amqp_error(self.condition(), self.description())
    }

    /// The HTTP-like status a `$management` reply carries for this error.
    pub fn status_code(&self) -> i32 {
        match self.condition() {
            ErrorCondition::AmqpError(AmqpError::NotFound) => 404,
            ErrorCondition::AmqpError(AmqpError::InvalidField | AmqpError::DecodeError) => 400,
            ErrorCondition::AmqpError(AmqpError::NotImplemented) => 501,
            ErrorCondition::AmqpError(AmqpError::UnauthorizedAccess) => 401,
            ErrorCondition::AmqpError(AmqpError::ResourceLimitExceeded) => 403,
            _ => 500,
        }
    }
}

/// An AMQP error with a description and a non-null `info` map.
pub fn amqp_error(
    condition: impl Into<ErrorCondition>,
    description: impl Into<String>,
) -> definitions::Error {
    let condition = condition.into();
    let mut info = Fields::new();
    info.insert(
        Symbol::from("com.microsoft:tracking-id"),
        Value::String(String::new()),
    );
    info.insert(Symbol::from("gateway"), Value::String("hubgate".to_owned()));
    definitions::Error::new(condition, Some(description.into()), Some(info))
}
