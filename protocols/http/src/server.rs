//! Serving the router on the shared accept loop.

use std::io;
use std::sync::Arc;

use hubgate_protocol::{CancellationToken, Connection, Listener, SasPolicies};
use hubgate_storage::SharedStorage;

use crate::config::HttpConfig;
use crate::peer::PeerInfo;
use crate::routes::router;

/// Serves HTTP/1.1 and HTTP/2 (HTTPS when `listener` has TLS; HTTP/2 over TLS via ALPN `h2`)
/// on `listener` until `shutdown` is cancelled, through `hubgate_protocol::http::serve_router`
/// (the shared accept loop, connection cap, TLS handshake and drain).
///
/// # Errors
///
/// As `hubgate_protocol::serve`.
pub async fn serve(
    listener: Listener,
    storage: SharedStorage,
    config: HttpConfig,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let listener_config = config.listener.clone();
    let header_timeout = config.request_timeout;
    let policies = Arc::clone(&config.policies);
    let app = router(storage, config);
    hubgate_protocol::http::serve_router(
        listener,
        listener_config,
        app,
        move |conn| peer_info(conn, &policies),
        header_timeout,
        shutdown,
    )
    .await
}

/// What every request of `conn` is told about its connection.
fn peer_info(conn: &Connection, policies: &SasPolicies) -> Arc<PeerInfo> {
    let loopback_listener = conn
        .stream
        .tcp()
        .local_addr()
        .is_ok_and(|addr| addr.ip().is_loopback());
    let cert_grant = conn
        .client_cert_subject()
        .and_then(|subject| policies.authenticate_cert(subject));
    if let Some(grant) = &cert_grant {
        tracing::debug!(
            policy = grant.policy(),
            "client certificate maps to a policy"
        );
    }
    Arc::new(PeerInfo {
        loopback_listener,
        cert_grant,
    })
}
