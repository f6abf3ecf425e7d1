//! Serving the router on the shared accept loop.

use std::io;

use axum::Router;
use hubgate_protocol::{CancellationToken, Connection, Listener};
use hubgate_storage::SharedStorage;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use crate::config::HttpConfig;
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
    let app = router(storage, config);
    hubgate_protocol::serve(
        listener,
        listener_config,
        shutdown,
        move |conn, shutdown| connection(conn, app.clone(), header_timeout, shutdown),
    )
    .await
}

async fn connection(
    conn: Connection,
    app: Router,
    header_timeout: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let io = TokioIo::new(conn.stream);
    // With upgrades: `GET /$servicebus/websocket` becomes a WebSocket.
    let served = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(app));
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
