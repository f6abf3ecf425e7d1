//! One client connection: protocol-header dispatch, SASL, Open, then its sessions.
//!
//! fe2o3-amqp's acceptor either requires SASL or refuses it, so the first 8 bytes are read
//! here and the stream is handed, rewound, to the acceptor that matches: `AMQP 3.1.0.0`
//! (SASL) or `AMQP 0.1.0.0` (no SASL). TLS was already terminated by the shared listener.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use fe2o3_amqp::acceptor::{ConnectionAcceptor, ListenerConnectionHandle, SessionAcceptor};
use fe2o3_amqp::types::definitions::{AmqpError, ConnectionError};
use hubgate_protocol::{CancellationToken, Connection, Grant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::task::JoinSet;
use tracing::{Instrument, debug};

use crate::access::Access;
use crate::error::amqp_error;
use crate::sasl::Sasl;
use crate::{AmqpConfig, Shared, nodes, pad, session};

/// Protocol header of a client that starts with SASL.
pub(crate) const SASL_HEADER: [u8; 8] = *b"AMQP\x03\x01\x00\x00";
/// Protocol header of a client that skips SASL.
pub(crate) const AMQP_HEADER: [u8; 8] = *b"AMQP\x00\x01\x00\x00";

/// How connections are accepted: the acceptor for clients without SASL, built once, and the
/// settings of the SASL acceptor, built per connection so that its [`Sasl`] can hand the
/// connection the grant a PLAIN exchange verified.
pub(crate) struct Acceptors {
    plain: ConnectionAcceptor<(), ()>,
    max_frame_size: u32,
    idle_ms: u32,
}

impl std::fmt::Debug for Acceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptors").finish_non_exhaustive()
    }
}

impl Acceptors {
    pub(crate) fn new(config: &AmqpConfig) -> Self {
        let idle_ms = u32::try_from(config.idle_timeout.as_millis()).unwrap_or(u32::MAX);
        let plain = ConnectionAcceptor::builder()
            .container_id("hubgate")
            .max_frame_size(config.max_frame_size)
            .channel_max(255u16)
            .idle_time_out(idle_ms)
            .properties(pad::fields())
            .build();
        Self {
            plain,
            max_frame_size: config.max_frame_size,
            idle_ms,
        }
    }

    fn sasl(&self, sasl: Sasl) -> ConnectionAcceptor<(), Sasl> {
        ConnectionAcceptor::builder()
            .container_id("hubgate")
            .max_frame_size(self.max_frame_size)
            .channel_max(255u16)
            .idle_time_out(self.idle_ms)
            .properties(pad::fields())
            .sasl_acceptor(sasl)
            .build()
    }
}

/// What the sessions of one connection share.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// Where `$cbs` and `$management` replies go.
    pub(crate) routes: nodes::Routes,
    /// The connection's credentials.
    pub(crate) access: Arc<Access>,
}

/// Serves one accepted client until it closes or `shutdown` fires.
pub(crate) async fn handle(shared: Arc<Shared>, conn: Connection, shutdown: CancellationToken) {
    // A verified TLS client certificate that maps to a policy authenticates the connection
    // like SASL PLAIN does.
    let certificate = conn
        .client_cert_subject()
        .and_then(|subject| shared.config.policies.authenticate_cert(subject));
    handle_stream(shared, conn.stream, certificate, shutdown).await;
}

/// Serves one client byte stream, from the AMQP listener or tunneled in from another, until
/// it closes or `shutdown` fires; `certificate` is the grant of a client certificate that
/// authenticated the connection, if any.
pub(crate) async fn handle_stream<S>(
    shared: Arc<Shared>,
    mut stream: S,
    certificate: Option<Grant>,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + std::fmt::Debug + Send + Unpin + 'static,
{
    let deadline = shared.config.handshake_timeout;
    let mut header = [0u8; 8];
    let read = tokio::select! {
        () = shutdown.cancelled() => return,
        read = tokio::time::timeout(deadline, stream.read_exact(&mut header)) => read,
    };
    match read {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            debug!(%error, "connection closed before the protocol header");
            return;
        }
        Err(_) => {
            debug!("no protocol header in time");
            return;
        }
    }
    let io = Rewind::new(header, stream);
    let sasl = Sasl::new(Arc::clone(&shared.config.policies));
    let accepted = match header {
        SASL_HEADER => {
            let acceptor = shared.acceptors.sasl(sasl.clone());
            tokio::time::timeout(deadline, acceptor.accept(io)).await
        }
        AMQP_HEADER => tokio::time::timeout(deadline, shared.acceptors.plain.accept(io)).await,
        other => {
            debug!(header = ?other, "unsupported protocol header");
            // The spec's answer to an unsupported header: send ours, then close.
            let mut stream = io.into_inner();
            let _ = stream.write_all(&SASL_HEADER).await;
            let _ = stream.shutdown().await;
            return;
        }
    };
    let handle = match accepted {
        Ok(Ok(handle)) => handle,
        Ok(Err(error)) => {
            debug!(%error, "connection refused during open");
            return;
        }
        Err(_) => {
            debug!("SASL/open not completed in time");
            return;
        }
    };
    let access = Arc::new(Access::new(
        Arc::clone(&shared.config.policies),
        sasl.grant().or(certificate),
    ));
    debug!(
        sasl = header == SASL_HEADER,
        authenticated = access.authenticated(),
        "connection open"
    );
    run(shared, handle, access, shutdown).await;
}

/// Accepts sessions until the connection ends; every session task ends with it. With access
/// policies, a connection that has presented no valid credential within the configured
/// `auth_timeout` is closed with `amqp:unauthorized-access`.
async fn run(
    shared: Arc<Shared>,
    mut conn: ListenerConnectionHandle,
    access: Arc<Access>,
    shutdown: CancellationToken,
) {
    let scope = Scope {
        routes: nodes::Routes::default(),
        access,
    };
    let mut sessions = JoinSet::new();
    let auth_deadline = tokio::time::sleep(shared.config.auth_timeout);
    tokio::pin!(auth_deadline);
    let mut awaiting_auth = !scope.access.authenticated();
    loop {
        tokio::select! {
            () = &mut auth_deadline, if awaiting_auth => {
                awaiting_auth = false;
                if !scope.access.authenticated() {
                    debug!("no valid token in time; closing the connection");
                    let error = amqp_error(
                        AmqpError::UnauthorizedAccess,
                        format!(
                            "no valid token was put on $cbs within {} s of opening the connection",
                            shared.config.auth_timeout.as_secs()
                        ),
                    );
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(2),
                        conn.close_with_error(error),
                    ).await;
                    return;
                }
            }
            () = shutdown.cancelled() => {
                let error = amqp_error(ConnectionError::ConnectionForced, "the gateway is shutting down");
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    conn.close_with_error(error),
                ).await;
                return;
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            incoming = conn.next_incoming_session() => {
                let Some(incoming) = incoming else { break };
                let acceptor = SessionAcceptor::builder()
                    .handle_max(pad::HANDLE_MAX)
                    .properties(pad::fields())
                    .build();
                match acceptor.accept_incoming_session(incoming, &mut conn).await {
                    Ok(session) => {
                        sessions.spawn(
                            session::run(
                                Arc::clone(&shared),
                                session,
                                scope.clone(),
                                shutdown.child_token(),
                            )
                            .in_current_span(),
                        );
                    }
                    Err(error) => debug!(%error, "session refused"),
                }
            }
        }
    }
    match tokio::time::timeout(std::time::Duration::from_secs(2), conn.close()).await {
        Ok(Ok(())) => debug!("connection closed"),
        Ok(Err(error)) => debug!(%error, "connection ended"),
        Err(_) => debug!("connection close timed out"),
    }
}

/// A stream whose first bytes were already read; they are replayed before the rest.
#[derive(Debug)]
pub(crate) struct Rewind<S> {
    prefix: [u8; 8],
    pos: usize,
    inner: S,
}

impl<S> Rewind<S> {
    fn new(prefix: [u8; 8], inner: S) -> Self {
        Self {
            prefix,
            pos: 0,
            inner,
        }
    }

    fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let rest = &this.prefix[this.pos..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
