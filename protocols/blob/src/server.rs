//! Serving the router on the shared accept loop.

use std::io;

use hubgate_protocol::{CancellationToken, Listener};
use hubgate_storage::SharedStorage;

use crate::config::BlobConfig;
use crate::routes::router;

/// Serves the Blob API (HTTP/1.1 and HTTP/2; HTTPS when `listener` has TLS) on `listener`
/// until `shutdown` is cancelled.
///
/// # Errors
///
/// As `hubgate_protocol::serve`.
pub async fn serve(
    listener: Listener,
    storage: SharedStorage,
    config: BlobConfig,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let listener_config = config.listener.clone();
    let header_timeout = config.header_timeout;
    let app = router(storage, config);
    hubgate_protocol::http::serve_router(
        listener,
        listener_config,
        app,
        |_| (),
        header_timeout,
        shutdown,
    )
    .await
}
