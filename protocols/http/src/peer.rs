//! What the connection tells about a request: whether it came in on a loopback listener, and
//! the access grant of a verified TLS client certificate.
//!
//! [`serve`](crate::serve) puts one [`PeerInfo`] in the extensions of every request of a
//! connection. Requests that do not come through it (tests calling the router directly) have
//! none: no client certificate, and no `Host` check.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hubgate_protocol::Grant;

/// Per-connection facts, shared by the connection's requests.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerInfo {
    /// The listener's address is a loopback address, so the `Host` check applies.
    pub(crate) loopback_listener: bool,
    /// The grant of the policy whose `cert_subject` is the client certificate's subject.
    pub(crate) cert_grant: Option<Grant>,
}

/// The extractor: the connection's [`PeerInfo`], or the default when there is none.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peer(pub(crate) Arc<PeerInfo>);

impl Peer {
    /// The client certificate's grant, if any.
    pub(crate) fn cert_grant(&self) -> Option<&Grant> {
        self.0.cert_grant.as_ref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Arc<PeerInfo>>()
            .map(|info| Peer(Arc::clone(info)))
            .unwrap_or_default())
    }
}
