//! `GET /$servicebus/websocket`: AMQP 1.0 over WebSocket, as the Event Hubs SDKs use it behind
//! firewalls that let only HTTPS through. The subprotocol is `AMQPWSB10` (the OASIS WebSocket
//! binding's name, which the Python and JS SDKs send) or `amqp`.
//!
//! Binary messages carry the AMQP byte stream in both directions; [`WsIo`] turns the message
//! stream back into bytes and the configured [`StreamHandler`] (the AMQP front end, wired by
//! the gateway) serves them, so SASL, `$cbs` tokens, link rights and the AMQP limits are the
//! plain listener's. This crate knows nothing of AMQP beyond the subprotocol name.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes};
use futures_util::{Sink, Stream};
use hubgate_protocol::{StreamHandler, Tunneled};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ApiError;
use crate::state::AppState;

/// The WebSocket subprotocols AMQP 1.0 is carried in, in order of preference.
pub(crate) const SUBPROTOCOLS: [&str; 2] = ["amqp", "AMQPWSB10"];

/// Largest WebSocket message (and frame) accepted: AMQP frames are at most the negotiated
/// `max-frame-size` (256 KiB by default), and a client may put several in one message.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Upgrades the request and hands the AMQP byte stream to `handler`.
pub(crate) async fn upgrade(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let Some(handler) = state.config.amqp_websocket.clone() else {
        return ApiError::NotFound("AMQP over WebSocket is not served here".into()).into_response();
    };
    let upgrade = upgrade.protocols(SUBPROTOCOLS);
    if upgrade.selected_protocol().is_none() {
        return ApiError::BadRequest(
            "the WebSocket subprotocol `amqp` (or `AMQPWSB10`) is required".into(),
        )
        .into_response();
    }
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(|error| tracing::debug!(%error, "websocket upgrade failed"))
        .on_upgrade(move |socket| serve(handler, socket))
}

async fn serve(handler: StreamHandler, socket: WebSocket) {
    handler
        .serve(Tunneled::new(WsIo::new(socket), "websocket"))
        .await;
}

/// A WebSocket read and written as a byte stream: every binary message received is read in
/// order, every write is sent as one binary message. Pings are answered by the WebSocket
/// layer; a close message or the end of the stream reads as end of file, a text message as
/// an error. Written by hand because axum's `WebSocket` is a message `Stream` + `Sink` and the
/// AMQP acceptor needs tokio's `AsyncRead` + `AsyncWrite`.
pub(crate) struct WsIo {
    socket: WebSocket,
    pending: Bytes,
}

impl WsIo {
    pub(crate) fn new(socket: WebSocket) -> Self {
        Self {
            socket,
            pending: Bytes::new(),
        }
    }
}

impl std::fmt::Debug for WsIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsIo")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn to_io(error: axum::Error) -> io::Error {
    io::Error::other(error)
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.socket).poll_next(cx)) {
                Some(Ok(Message::Binary(bytes))) => this.pending = bytes,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text message on an AMQP WebSocket",
                    )));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(Ok(())),
                Some(Err(error)) => return Poll::Ready(Err(to_io(error))),
            }
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.socket).poll_ready(cx)).map_err(to_io)?;
        Pin::new(&mut this.socket)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(to_io)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket)
            .poll_flush(cx)
            .map_err(to_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket)
            .poll_close(cx)
            .map_err(to_io)
    }
}
