//! Serving an axum [`Router`] on the shared accept loop, for every HTTP-based front end.
//!
//! Connections come from [`crate::serve`], so the connection cap, `TCP_NODELAY`, the TLS
//! handshake and the drain on shutdown are the shared ones; each connection is then run by
//! hyper-util's auto builder (HTTP/1.1, and HTTP/2 by prior knowledge or ALPN `h2`). On
//! shutdown a connection finishes its request in flight and closes.

use std::io;
use std::time::Duration;

use axum::Router;
use axum::http::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt as _;

use crate::{CancellationToken, Connection, Listener, ListenerConfig};

/// Serves `app` on `listener` until `shutdown` is cancelled; a client has `header_timeout` to
/// send a request's headers. `connection_info` is called once per connection, before the
/// first request; what it returns is inserted into every request's extensions (the HTTP front
/// end puts the listener kind and a client certificate's grant there).
///
/// # Errors
///
/// As [`crate::serve`].
pub async fn serve_router<F, T>(
    listener: Listener,
    config: ListenerConfig,
    app: Router,
    connection_info: F,
    header_timeout: Duration,
    shutdown: CancellationToken,
) -> io::Result<()>
where
    F: Fn(&Connection) -> T + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    crate::serve(listener, config, shutdown, move |conn, shutdown| {
        let info = connection_info(&conn);
        connection(conn, app.clone(), info, header_timeout, shutdown)
    })
    .await
}

async fn connection<T: Clone + Send + Sync + 'static>(
    conn: Connection,
    app: Router,
    info: T,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let io = TokioIo::new(conn.stream);
    let app = app.map_request(move |mut request: Request<_>| {
        request.extensions_mut().insert(info.clone());
        request
    });
    // With upgrades: `GET /$servicebus/websocket` becomes a WebSocket on the HTTP listener.
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
