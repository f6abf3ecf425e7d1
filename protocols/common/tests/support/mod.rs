//! Helpers shared by the listener and TLS integration tests.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Reads until EOF or a reset, failing the test if neither comes within `within`.
pub(crate) async fn expect_closed(client: &mut TcpStream, within: Duration) {
    let mut buf = [0u8; 256];
    let closed = timeout(within, async {
        loop {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "connection still open after {within:?}");
}
