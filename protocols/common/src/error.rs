//! The crate-wide error type.

use crate::limits::LimitError;
use crate::tls::TlsError;

/// Any error this crate returns, for callers that want one type.
///
/// Each module also has its own error ([`TlsError`], [`LimitError`]) so a caller can match on
/// exactly the cases a function can produce.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Loading or using the TLS configuration failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A peer-supplied length or count was out of bounds.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Socket I/O failed.
    #[error("I/O error")]
    Io(#[from] std::io::Error),
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
