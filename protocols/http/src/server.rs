//! Serving the router on the shared accept loop.

use std::io;

use hubgate_protocol::{CancellationToken, Listener};
use hubgate_storage::SharedStorage;

use crate::config::HttpConfig;
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
    let app = router(storage, config);
    hubgate_protocol::http::serve_router(listener, listener_config, app, header_timeout, shutdown)
        .await
}
