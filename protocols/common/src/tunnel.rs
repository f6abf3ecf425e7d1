//! Byte streams that arrive inside another protocol, such as AMQP carried in WebSocket
//! messages on the HTTPS listener, and the hook that hands them to the front end speaking them.
//!
//! The HTTPS front end only knows [`StreamHandler`]; the gateway builds one from the AMQP
//! front end, so neither front end depends on the other.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Any bidirectional byte stream a tunnel can carry.
pub trait DuplexStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T> DuplexStream for T where T: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

/// A byte stream unwrapped from its carrier protocol.
pub struct Tunneled {
    stream: Box<dyn DuplexStream>,
    carrier: &'static str,
}

impl Tunneled {
    /// Wraps `stream`, naming the protocol that carried it (for logs), e.g. `"websocket"`.
    pub fn new(stream: impl DuplexStream, carrier: &'static str) -> Self {
        Self {
            stream: Box::new(stream),
            carrier,
        }
    }

    /// The protocol that carried the stream.
    pub fn carrier(&self) -> &'static str {
        self.carrier
    }
}

impl fmt::Debug for Tunneled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tunneled")
            .field("carrier", &self.carrier)
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Tunneled {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tunneled {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

type Serve = dyn Fn(Tunneled) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// Serves one tunneled stream to its end; cheap to clone.
#[derive(Clone)]
pub struct StreamHandler(Arc<Serve>);

impl StreamHandler {
    /// A handler that runs `serve` for every stream.
    pub fn new<F, Fut>(serve: F) -> Self
    where
        F: Fn(Tunneled) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self(Arc::new(move |stream| Box::pin(serve(stream))))
    }

    /// Serves `stream` until it ends.
    pub fn serve(&self, stream: Tunneled) -> impl Future<Output = ()> + Send + 'static {
        (self.0)(stream)
    }
}

impl fmt::Debug for StreamHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamHandler").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_handler_gets_the_bytes_of_the_stream() {
        let (near, far) = tokio::io::duplex(64);
        let handler = StreamHandler::new(|mut stream: Tunneled| async move {
            assert_eq!(stream.carrier(), "test");
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).await.unwrap();
            stream.write_all(&buf).await.unwrap();
        });
        let served = tokio::spawn(handler.serve(Tunneled::new(far, "test")));
        let mut near = near;
        near.write_all(b"hello").await.unwrap();
        let mut echo = [0u8; 5];
        near.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"hello");
        served.await.unwrap();
    }
}
