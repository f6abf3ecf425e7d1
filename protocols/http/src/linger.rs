//! Reading what is left of a request body before an early error response goes out.
//!
//! A handler that refuses a request before reading its body (a `401` for a missing token, a
//! `421`, a `503`) drops the body unread. On HTTP/2, h2 then sends the whole response and ends
//! the stream with `RST_STREAM(NO_ERROR)`, as RFC 9113 §8.1 allows, while the client is still
//! uploading. A client whose next upload write meets the closed stream may fail the whole
//! transfer and drop the response it already has: curl 7.88 logs `stream 1 closed` and exits
//! with `(92) Stream error in the HTTP/2 framing layer`. Whether the upload was finished when
//! the reset arrived is a race, so about half of the early 401s were lost this way. On HTTP/1.1
//! hyper closes the connection with the upload unfinished, and a client still writing fails the
//! same way (curl: `(55) Send failure: Broken pipe`).
//!
//! [`finish_body`] therefore hands the handler a body it can read as usual, and after the
//! handler has answered it reads and discards whatever the handler left — at most
//! [`DRAIN_FACTOR`] times the body limit and for at most [`DRAIN_TIME`] (or the request timeout
//! when shorter) — before the response is sent. Nothing read is kept, so memory does not grow
//! with the body. The exchange then ends the normal way: the client's upload completes, the stream closes
//! cleanly, the client reads the status. Not drained: requests that sent
//! `Expect: 100-continue` (the client waits for the answer and sends nothing when it is an
//! error), `408` answers (the client is already too slow), and bodies longer than the budget
//! (those get the reset; the status was already decided).

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::Frame;

use crate::state::AppState;

/// How many times the body limit is read at most after an early answer.
pub(crate) const DRAIN_FACTOR: usize = 64;

/// Longest time spent reading what an early answer left of a body.
pub(crate) const DRAIN_TIME: Duration = Duration::from_secs(5);

/// The request body, shared by the handler (which reads it) and [`finish_body`] (which reads
/// what the handler left).
#[derive(Clone)]
struct Held {
    inner: Arc<Mutex<HeldState>>,
}

struct HeldState {
    body: Body,
    finished: bool,
}

impl Held {
    fn poll(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if state.finished {
            return Poll::Ready(None);
        }
        let polled = Pin::new(&mut state.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            state.finished = true;
        }
        polled
    }

    fn finished(&self) -> bool {
        let state = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        state.finished || state.body.is_end_stream()
    }

    /// Reads and drops frames until the body ends or `budget` bytes have been read; `false`
    /// when the budget ran out first.
    async fn drain(&self, budget: usize) -> bool {
        let mut read = 0usize;
        loop {
            match std::future::poll_fn(|cx| self.poll(cx)).await {
                None | Some(Err(_)) => return true,
                Some(Ok(frame)) => {
                    read = read.saturating_add(frame.data_ref().map_or(0, Bytes::len));
                    if read > budget {
                        return false;
                    }
                }
            }
        }
    }
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.poll(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.finished()
    }
}

/// The middleware: runs the request with a shared body, then drains what the handler left
/// (see the [module docs](self)).
pub(crate) async fn finish_body(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let expects_continue = request
        .headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = request.into_parts();
    let held = Held {
        inner: Arc::new(Mutex::new(HeldState {
            body,
            finished: false,
        })),
    };
    let response = next
        .run(Request::from_parts(parts, Body::new(held.clone())))
        .await;
    if expects_continue || response.status() == StatusCode::REQUEST_TIMEOUT || held.finished() {
        return response;
    }
    let budget = state.config.max_body_bytes.saturating_mul(DRAIN_FACTOR);
    let time = DRAIN_TIME.min(state.config.request_timeout);
    match tokio::time::timeout(time, held.drain(budget)).await {
        Ok(true) => {}
        Ok(false) => tracing::debug!(budget, "unread request body too long to drain"),
        Err(_) => tracing::debug!("unread request body not drained within the timeout"),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn held(text: &'static str) -> Held {
        Held {
            inner: Arc::new(Mutex::new(HeldState {
                body: Body::from(text),
                finished: false,
            })),
        }
    }

    #[tokio::test]
    async fn drains_within_the_budget() {
        let body = held("abcdef");
        assert!(!body.finished());
        assert!(body.drain(6).await);
        assert!(body.finished());
        let long = held("abcdefg");
        assert!(!long.drain(6).await, "7 bytes exceed a budget of 6");
    }

    #[tokio::test]
    async fn the_handler_reads_through_the_shared_body() {
        let body = held("abcdef");
        let read = Body::new(body.clone()).collect().await.unwrap().to_bytes();
        assert_eq!(&read[..], b"abcdef");
        assert!(body.finished(), "nothing is left to drain");
    }
}
