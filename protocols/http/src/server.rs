//! Serving the router on the shared accept loop.

use std::io;
use std::sync::Arc;

use axum::Router;
use axum::http::Request;
use hubgate_protocol::{CancellationToken, Connection, Listener, SasPolicies};
use hubgate_storage::SharedStorage;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt as _;

use crate::config::HttpConfig;
use crate::peer::PeerInfo;
use crate::routes::router;

/// Serves HTTP/1.1 and HTTP/2 (HTTPS when `listener` has TLS; HTTP/2 over TLS via ALPN `h2`)
/// on `listener` until `shutdown` is cancelled.
///
/// Connections come from `hubgate_protocol::serve`, so the connection cap, `TCP_NODELAY`, the
/// TLS handshake and the drain on shutdown are the shared ones; each connection is then run by
/// hyper-util's auto builder. On shutdown a connection finishes its request in flight and
/// closes.
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
    hubgate_protocol::serve(
        listener,
        listener_config,
        shutdown,
        move |conn, shutdown| {
            let peer = peer_info(&conn, &policies);
            connection(conn, app.clone(), peer, header_timeout, shutdown)
        },
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

async fn connection(
    conn: Connection,
    app: Router,
    peer: Arc<PeerInfo>,
    header_timeout: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let io = TokioIo::new(conn.stream);
    let app = app.map_request(move |mut request: Request<_>| {
        request.extensions_mut().insert(Arc::clone(&peer));
        request
    });
    let served = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = shutdown.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection ended with an error");
    }
}
