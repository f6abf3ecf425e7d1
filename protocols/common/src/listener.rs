//! The accept loop every front end shares.
//!
//! [`serve`] owns everything between a bound socket and a protocol handler: the connection cap,
//! accept-error back-off, `TCP_NODELAY`, the TLS handshake (with a deadline), one tracing span
//! per connection, task tracking, and the shutdown sequence. A front end passes a closure that
//! handles one [`Connection`] and returns when the peer hangs up or the shutdown token fires.
//!
//! Shutdown (when the token passed to [`serve`] is cancelled):
//! 1. stop accepting at once and close the listening socket;
//! 2. every handler's token (a child of that token) is cancelled too, so handlers finish the
//!    request in flight at a frame boundary and return;
//! 3. wait up to [`ListenerConfig::drain_timeout`] for the connection tasks;
//! 4. abort whatever is left, then return.

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info, info_span, warn};

/// First pause after an accept error such as `EMFILE`; doubled on each further error.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause between accept attempts while errors persist.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A bound TCP socket, with the TLS acceptor to use on it if it serves TLS.
///
/// The caller binds the socket (tests bind `127.0.0.1:0`), so a front end never picks ports.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
}

impl Listener {
    /// A listener whose connections speak the protocol in the clear.
    pub fn plain(tcp: TcpListener) -> Self {
        Self { tcp, tls: None }
    }

    /// A listener whose connections start with a TLS handshake using `acceptor`
    /// (see [`crate::tls::acceptor`]).
    pub fn tls(tcp: TcpListener, acceptor: TlsAcceptor) -> Self {
        Self {
            tcp,
            tls: Some(acceptor),
        }
    }

    /// The address the socket is bound to (useful after binding port 0).
    ///
    /// # Errors
    ///
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Whether connections on this listener are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("tcp", &self.tcp)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Options for [`serve`].
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Protocol name recorded on every connection span and log line (`"kafka"`, `"amqp"`,
    /// `"http"`).
    pub protocol: &'static str,
    /// Most connections served at once (at least 1). Further clients wait in the kernel's accept
    /// backlog until a connection closes.
    pub max_connections: usize,
    /// How long a client has to complete the TLS handshake before it is dropped.
    pub tls_handshake_timeout: Duration,
    /// How long shutdown waits for connection handlers to return before aborting them.
    pub drain_timeout: Duration,
}

impl ListenerConfig {
    /// The defaults (see [`Default`]) for a front end named `protocol`.
    pub fn new(protocol: &'static str) -> Self {
        Self {
            protocol,
            ..Self::default()
        }
    }
}

impl Default for ListenerConfig {
    /// `protocol: "tcp"`, 10,000 connections, 10 s TLS handshake, 5 s drain.
    fn default() -> Self {
        Self {
            protocol: "tcp",
            max_connections: 10_000,
            tls_handshake_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// One accepted client, handed to the front end's handler.
#[derive(Debug)]
pub struct Connection {
    /// The byte stream, already past the TLS handshake if the listener serves TLS.
    pub stream: Stream,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether `stream` is TLS.
    pub tls: bool,
    /// The subject of the client certificate verified in the TLS handshake.
    client_cert_subject: Option<String>,
}

impl Connection {
    /// The subject of the TLS client certificate the peer presented and the listener verified
    /// against its client CA (see [`crate::tls::server_config`]), in the format of
    /// [`crate::tls::certificate_subject`] (e.g. `CN=client-a`); `None` on plain TCP, without a
    /// client CA, or when the subject does not parse.
    ///
    /// Front ends pass it to [`SasPolicies::authenticate_cert`](crate::SasPolicies::authenticate_cert)
    /// to authenticate the connection as the policy whose `cert_subject` it is.
    pub fn client_cert_subject(&self) -> Option<&str> {
        self.client_cert_subject.as_deref()
    }
}

/// A client byte stream: plain TCP or TLS over TCP.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP, after a completed handshake. Boxed: the TLS state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The underlying TCP stream (for socket options or addresses).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// The ALPN protocol agreed in the TLS handshake, if any (e.g. `b"h2"`).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls.get_ref().1.alpn_protocol(),
        }
    }

    /// The subject of the client's leaf certificate, if it sent one (it was verified in the
    /// handshake: a listener only accepts client certificates when it has a client CA).
    fn client_cert_subject(&self) -> Option<String> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|leaf| crate::tls::certificate_subject(leaf)),
        }
    }

    /// The host name the client asked for with TLS SNI, if any.
    pub fn server_name(&self) -> Option<&str> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls.get_ref().1.server_name(),
        }
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Plain(tcp) => f.debug_tuple("Plain").field(tcp).finish(),
            Stream::Tls(tls) => f
                .debug_struct("Tls")
                .field("tcp", tls.get_ref().0)
                .field("alpn", &self.alpn_protocol())
                .finish(),
        }
    }
}

// Both inner streams are `Unpin`, so `Stream` is too and each method can re-pin the inner
// stream with `Pin::new`, with no projection crate and no unsafe code.
impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections on `listener` and runs `handler` for each until `shutdown` is cancelled.
///
/// - At most [`ListenerConfig::max_connections`] handlers run at once. A slot is taken *before*
///   `accept`, so excess clients wait in the kernel backlog rather than being accepted and left
///   idle; the slot is freed when the connection's task ends.
/// - Accepted sockets get `TCP_NODELAY`. On a TLS listener the handshake runs inside the
///   connection's task, bounded by [`ListenerConfig::tls_handshake_timeout`]; a failed or slow
///   handshake drops the connection without calling `handler`.
/// - Each connection runs in the span `conn{proto, peer, tls}`.
/// - Accept errors are logged and retried after a growing pause (10 ms to 1 s), so running out
///   of file descriptors cannot spin the loop. A peer that reset before `accept` returned is
///   logged at debug level and skipped.
/// - `handler` receives `shutdown.child_token()`: when it fires, finish the request in flight,
///   close, and return. See the [module docs](self) for the shutdown sequence; connections still
///   running after [`ListenerConfig::drain_timeout`] are aborted. Dropping the returned future
///   aborts every connection task as well.
///
/// # Errors
///
/// `InvalidInput` if `max_connections` is 0. Accept errors are retried, never returned.
///
/// # Examples
///
/// ```
/// use hubgate_protocol::{serve, CancellationToken, Listener, ListenerConfig};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = Listener::plain(tokio::net::TcpListener::bind("127.0.0.1:0").await?);
/// let addr = listener.local_addr()?;
/// let shutdown = CancellationToken::new();
/// let server = tokio::spawn(serve(
///     listener,
///     ListenerConfig::new("greeter"),
///     shutdown.clone(),
///     |mut conn, _shutdown| async move {
///         let _ = conn.stream.write_all(b"hello\n").await;
///     },
/// ));
///
/// let mut client = tokio::net::TcpStream::connect(addr).await?;
/// let mut greeting = String::new();
/// client.read_to_string(&mut greeting).await?;
/// assert_eq!(greeting, "hello\n");
///
/// shutdown.cancel();
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub async fn serve<H, F>(
    listener: Listener,
    config: ListenerConfig,
    shutdown: CancellationToken,
    handler: H,
) -> io::Result<()>
where
    H: Fn(Connection, CancellationToken) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    if config.max_connections == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "max_connections must be at least 1",
        ));
    }
    let Listener { tcp, tls } = listener;
    let proto = config.protocol;
    let is_tls = tls.is_some();
    info!(
        proto,
        addr = ?tcp.local_addr().ok(),
        tls = is_tls,
        max_connections = config.max_connections,
        "listening"
    );

    let slots = Arc::new(Semaphore::new(
        config.max_connections.min(Semaphore::MAX_PERMITS),
    ));
    let handler = Arc::new(handler);
    let mut tasks = JoinSet::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;

    'accept: loop {
        // Take a slot first: at the cap we stop calling accept and clients queue in the kernel.
        let permit = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break 'accept,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => reaped(proto, joined),
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(permit) => break permit,
                    // The semaphore lives in this function and is never closed.
                    Err(_closed) => break 'accept,
                },
            }
        };
        let accepted = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break 'accept,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => reaped(proto, joined),
                accepted = tcp.accept() => break accepted,
            }
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF_MIN;
                accepted
            }
            Err(error) if peer_gone(&error) => {
                debug!(proto, %error, "client went away before accept");
                continue;
            }
            Err(error) => {
                warn!(proto, %error, retry_in = ?backoff, "accept failed");
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break 'accept,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };

        let span = info_span!("conn", proto, peer = %peer, tls = is_tls);
        let task = connection(
            socket,
            peer,
            tls.clone(),
            config.tls_handshake_timeout,
            shutdown.child_token(),
            Arc::clone(&handler),
        );
        tasks.spawn(
            async move {
                // Held for the connection's lifetime; dropping it lets the loop accept again.
                let _slot = permit;
                task.await;
            }
            .instrument(span),
        );
    }

    // Close the listening socket before draining so new clients are refused, not queued.
    drop(tcp);
    drain(proto, tasks, config.drain_timeout).await;
    info!(proto, "listener stopped");
    Ok(())
}

/// One connection's task: socket options, TLS handshake, then the handler.
async fn connection<H, F>(
    socket: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    handshake_timeout: Duration,
    shutdown: CancellationToken,
    handler: Arc<H>,
) where
    H: Fn(Connection, CancellationToken) -> F,
    F: Future<Output = ()>,
{
    if let Err(error) = socket.set_nodelay(true) {
        debug!(%error, "cannot set TCP_NODELAY");
    }
    let stream = match tls {
        None => Stream::Plain(socket),
        Some(acceptor) => {
            let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(socket));
            let outcome = tokio::select! {
                biased;
                () = shutdown.cancelled() => {
                    debug!("shutdown during TLS handshake");
                    return;
                }
                outcome = handshake => outcome,
            };
            match outcome {
                Ok(Ok(stream)) => Stream::Tls(Box::new(stream)),
                Ok(Err(error)) => {
                    debug!(%error, "TLS handshake failed");
                    return;
                }
                Err(_elapsed) => {
                    debug!(timeout = ?handshake_timeout, "TLS handshake timed out");
                    return;
                }
            }
        }
    };
    debug!("connection opened");
    let tls = matches!(stream, Stream::Tls(_));
    let client_cert_subject = stream.client_cert_subject();
    if let Some(subject) = &client_cert_subject {
        debug!(client_cert = %subject, "client certificate verified");
    }
    handler(
        Connection {
            stream,
            peer,
            tls,
            client_cert_subject,
        },
        shutdown,
    )
    .await;
    debug!("connection closed");
}

/// Waits up to `grace` for connection tasks to end, then aborts the rest.
async fn drain(proto: &'static str, mut tasks: JoinSet<()>, grace: Duration) {
    if tasks.is_empty() {
        return;
    }
    info!(proto, open = tasks.len(), ?grace, "draining connections");
    let all_done = async {
        while let Some(joined) = tasks.join_next().await {
            reaped(proto, joined);
        }
    };
    if tokio::time::timeout(grace, all_done).await.is_err() {
        warn!(
            proto,
            open = tasks.len(),
            "connections still open after the drain timeout; aborting them"
        );
        tasks.shutdown().await;
    }
}

/// Logs how a finished connection task ended, if it did not end normally.
fn reaped(proto: &'static str, joined: Result<(), JoinError>) {
    match joined {
        Ok(()) => {}
        Err(error) if error.is_panic() => error!(proto, %error, "connection handler panicked"),
        Err(error) => debug!(proto, %error, "connection task cancelled"),
    }
}

/// Accept errors caused by one client hanging up early; the listener itself is fine.
fn peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}
