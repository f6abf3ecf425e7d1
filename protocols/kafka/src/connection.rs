//! One Kafka connection: a reader, one task per request, and an in-order writer.
//!
//! Kafka clients match responses to requests by position, so responses leave in request order.
//! Requests still run concurrently where that is safe: a Fetch (which may long-poll for
//! seconds) runs on its own, while every other request waits for the previous non-fetch request
//! to finish first — a Produce only until its appends are issued, so produces are appended in
//! the order they were sent while their durability waits overlap. At most
//! [`MAX_IN_FLIGHT`] requests are pending per connection; the reader stops reading beyond that.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use hubgate_protocol::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::authz::now_ms;
use crate::dispatch::{Handler, Outcome};
use crate::frame;
use crate::sasl::{FAILED_AUTH_DELAY, Gate, Session};

/// Requests read but not yet answered, per connection.
const MAX_IN_FLIGHT: usize = 32;
/// Initial read buffer; it grows to the size of the largest frame read (checked against the
/// frame cap first). Small, so idle connections cost little.
const READ_BUFFER: usize = 8 * 1024;

/// Serves one connection until the peer hangs up, a framing error, or `shutdown`.
pub(crate) async fn run(
    stream: Stream,
    peer: SocketAddr,
    handler: Arc<Handler>,
    session: Session,
    shutdown: CancellationToken,
) {
    let (reader, writer) = tokio::io::split(stream);
    let (pending_tx, pending_rx) = mpsc::channel(MAX_IN_FLIGHT);
    let closing = CancellationToken::new();
    let write = write_loop(writer, pending_rx, closing.clone());
    let read = read_loop(
        reader, peer, handler, session, pending_tx, shutdown, closing,
    );
    // The writer finishes the responses already queued after the reader stops.
    let ((), ()) = tokio::join!(read, write);
}

async fn read_loop(
    mut reader: ReadHalf<Stream>,
    peer: SocketAddr,
    handler: Arc<Handler>,
    mut session: Session,
    pending: mpsc::Sender<JoinHandle<Outcome>>,
    shutdown: CancellationToken,
    closing: CancellationToken,
) {
    let idle = handler.config.limits.idle_timeout;
    let max_frame = handler.config.limits.max_frame_bytes;
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    // Completion signal of the previous ordered (non-fetch) request.
    let mut previous: Option<oneshot::Receiver<()>> = None;
    loop {
        loop {
            let cap = session.frame_cap(&handler.credentials, max_frame);
            let frame = match frame::decode(&mut buf, cap) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => {
                    debug!(error = %e, "framing error; closing");
                    return;
                }
            };
            let access = match session.gate(&handler.credentials, &frame, now_ms()) {
                Gate::Pass(access) => access,
                Gate::Close(reason) => {
                    debug!(reason, "closing connection");
                    return;
                }
                Gate::Sasl => {
                    // The exchange changes what the next frames may do: run it here, after
                    // every earlier request, before reading on.
                    if let Some(earlier) = previous.take() {
                        let _ = earlier.await;
                    }
                    let reply = session.handle(&handler, frame, now_ms());
                    let answered = tokio::spawn(std::future::ready(reply.outcome));
                    if pending.send(answered).await.is_err() {
                        return;
                    }
                    if reply.close {
                        tokio::time::sleep(FAILED_AUTH_DELAY).await;
                        return;
                    }
                    continue;
                }
            };
            let handler = Arc::clone(&handler);
            let task = if Handler::is_concurrent(&frame) {
                tokio::spawn(async move {
                    handler
                        .handle_ordered(frame, Some(peer), access, None)
                        .await
                })
            } else {
                let (done, next) = oneshot::channel::<()>();
                let wait_for = previous.replace(next);
                tokio::spawn(async move {
                    if let Some(earlier) = wait_for {
                        // Err only means the earlier request finished by being dropped.
                        let _ = earlier.await;
                    }
                    handler
                        .handle_ordered(frame, Some(peer), access, Some(done))
                        .await
                })
            };
            if pending.send(task).await.is_err() {
                return;
            }
        }
        let read = tokio::select! {
            () = shutdown.cancelled() => return,
            () = closing.cancelled() => return,
            read = tokio::time::timeout(idle, reader.read_buf(&mut buf)) => read,
        };
        match read {
            Ok(Ok(0)) => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                debug!(error = %e, "read failed");
                return;
            }
            Err(_) => {
                debug!(?idle, "idle connection; closing");
                return;
            }
        }
    }
}

async fn write_loop(
    mut writer: WriteHalf<Stream>,
    mut pending: mpsc::Receiver<JoinHandle<Outcome>>,
    closing: CancellationToken,
) {
    while let Some(task) = pending.recv().await {
        match task.await {
            Ok(Outcome::Respond(bytes)) => {
                if let Err(e) = writer.write_all(&bytes).await {
                    debug!(error = %e, "write failed");
                    break;
                }
            }
            Ok(Outcome::NoResponse) => {}
            Ok(Outcome::Close(reason)) => {
                debug!(reason, "closing connection");
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "request handler failed; closing its connection");
                break;
            }
        }
    }
    closing.cancel();
    let _ = writer.shutdown().await;
}
