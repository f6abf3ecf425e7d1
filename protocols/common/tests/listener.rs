//! The shared accept loop over plain TCP: connection cap, shutdown and drain, robustness.

mod support;

use support::expect_closed;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hubgate_protocol::{CancellationToken, Connection, Listener, ListenerConfig, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

const GREETING: u8 = b'!';

async fn bind() -> (Listener, SocketAddr) {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = Listener::plain(tcp);
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn config(max_connections: usize, drain_timeout: Duration) -> ListenerConfig {
    ListenerConfig {
        protocol: "test",
        max_connections,
        tls_handshake_timeout: Duration::from_secs(1),
        drain_timeout,
    }
}

/// Sends one greeting byte, then holds the connection until the client closes it.
async fn greet_until_eof(mut conn: Connection) {
    if conn.stream.write_all(&[GREETING]).await.is_err() {
        return;
    }
    let mut buf = [0u8; 64];
    while matches!(conn.stream.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// The greeting byte, or `None` if none arrived within `within`.
async fn greeting(client: &mut TcpStream, within: Duration) -> Option<u8> {
    let mut byte = [0u8; 1];
    match timeout(within, client.read_exact(&mut byte)).await {
        Ok(Ok(_)) => Some(byte[0]),
        Ok(Err(error)) => panic!("connection failed instead of greeting: {error}"),
        Err(_elapsed) => None,
    }
}

#[tokio::test]
async fn plain_connection_gets_peer_nodelay_and_no_tls() {
    let (listener, addr) = bind().await;
    let shutdown = CancellationToken::new();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(
        listener,
        config(10, Duration::from_secs(1)),
        shutdown.clone(),
        move |conn, _shutdown| {
            let nodelay = conn.stream.tcp().nodelay().unwrap();
            seen_tx
                .send((
                    conn.peer,
                    conn.tls,
                    nodelay,
                    conn.stream.alpn_protocol().is_some(),
                ))
                .unwrap();
            greet_until_eof(conn)
        },
    ));

    let mut client = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        greeting(&mut client, Duration::from_secs(2)).await,
        Some(GREETING)
    );
    let (peer, tls, nodelay, alpn) = seen.recv().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert!(!tls, "plain listener reported a TLS connection");
    assert!(nodelay, "TCP_NODELAY not set on the accepted socket");
    assert!(!alpn);

    drop(client);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn connection_cap_holds_extra_client_until_a_slot_frees() {
    let (listener, addr) = bind().await;
    let shutdown = CancellationToken::new();
    let (served_tx, mut served) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(
        listener,
        config(2, Duration::from_secs(1)),
        shutdown.clone(),
        move |conn, _shutdown| {
            served_tx.send(conn.peer).unwrap();
            greet_until_eof(conn)
        },
    ));

    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        greeting(&mut first, Duration::from_secs(2)).await,
        Some(GREETING)
    );
    assert_eq!(
        greeting(&mut second, Duration::from_secs(2)).await,
        Some(GREETING)
    );

    // The kernel completes the third TCP handshake (backlog), but it must not be served.
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        greeting(&mut third, Duration::from_millis(300)).await,
        None,
        "a third client was served with max_connections = 2"
    );
    assert_eq!(served.recv().await, Some(first.local_addr().unwrap()));
    assert_eq!(served.recv().await, Some(second.local_addr().unwrap()));
    assert!(
        served.try_recv().is_err(),
        "handler ran for the third client"
    );

    drop(first);
    assert_eq!(
        greeting(&mut third, Duration::from_secs(2)).await,
        Some(GREETING)
    );
    assert_eq!(served.recv().await, Some(third.local_addr().unwrap()));

    drop((second, third));
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_aborts_a_handler_that_ignores_the_token_after_drain_timeout() {
    let (listener, addr) = bind().await;
    let shutdown = CancellationToken::new();
    let drain = Duration::from_millis(300);
    // Each handler holds a sender; the channel closes only once every handler has been dropped.
    let (alive_tx, mut alive) = mpsc::channel::<()>(1);
    let server = tokio::spawn(serve(
        listener,
        config(10, drain),
        shutdown.clone(),
        move |mut conn, _ignored| {
            let alive = alive_tx.clone();
            async move {
                let _alive = alive;
                conn.stream.write_all(&[GREETING]).await.unwrap();
                std::future::pending::<()>().await;
            }
        },
    ));

    let mut client = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        greeting(&mut client, Duration::from_secs(2)).await,
        Some(GREETING)
    );

    let cancelled_at = Instant::now();
    shutdown.cancel();

    // Accepting stops at once, while the stubborn connection is still draining.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "listener still accepting after shutdown");

    timeout(drain + Duration::from_secs(2), server)
        .await
        .expect("serve did not return after the drain timeout")
        .unwrap()
        .unwrap();
    let took = cancelled_at.elapsed();
    assert!(
        took >= drain - Duration::from_millis(50),
        "did not wait for the drain: {took:?}"
    );

    // The stubborn handler was aborted: its socket is closed and its sender dropped.
    expect_closed(&mut client, Duration::from_secs(1)).await;
    assert_eq!(
        timeout(Duration::from_secs(1), alive.recv()).await,
        Ok(None)
    );
}

#[tokio::test]
async fn shutdown_lets_a_watching_handler_finish_cleanly() {
    let (listener, addr) = bind().await;
    let shutdown = CancellationToken::new();
    let clean_exits = Arc::new(AtomicUsize::new(0));
    let exits = Arc::clone(&clean_exits);
    let server = tokio::spawn(serve(
        listener,
        // A long drain: a handler that watches the token must not need it.
        config(10, Duration::from_secs(5)),
        shutdown.clone(),
        move |mut conn, shutdown| {
            let exits = Arc::clone(&exits);
            async move {
                let mut buf = [0u8; 64];
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            conn.stream.write_all(b"bye").await.unwrap();
                            conn.stream.shutdown().await.unwrap();
                            exits.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                        read = conn.stream.read(&mut buf) => match read {
                            Ok(0) | Err(_) => return,
                            Ok(n) => conn.stream.write_all(&buf[..n]).await.unwrap(),
                        },
                    }
                }
            }
        },
    ));

    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    client.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping");

    let cancelled_at = Instant::now();
    shutdown.cancel();
    let mut rest = Vec::new();
    timeout(Duration::from_secs(2), client.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"bye");

    timeout(Duration::from_secs(2), server)
        .await
        .expect("serve waited for the full drain timeout")
        .unwrap()
        .unwrap();
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
    assert_eq!(clean_exits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shutdown_while_at_the_cap_returns() {
    let (listener, addr) = bind().await;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        config(1, Duration::from_millis(100)),
        shutdown.clone(),
        |conn, _shutdown| greet_until_eof(conn),
    ));
    let mut held = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        greeting(&mut held, Duration::from_secs(2)).await,
        Some(GREETING)
    );
    let mut waiting = TcpStream::connect(addr).await.unwrap();

    shutdown.cancel();
    timeout(Duration::from_secs(2), server)
        .await
        .expect("serve hung while waiting for a connection slot")
        .unwrap()
        .unwrap();
    // The queued client was never served; it is reset when the listening socket closes.
    expect_closed(&mut waiting, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_the_listener() {
    let (listener, addr) = bind().await;
    let shutdown = CancellationToken::new();
    let first = Arc::new(AtomicBool::new(true));
    let server = tokio::spawn(serve(
        listener,
        config(10, Duration::from_secs(1)),
        shutdown.clone(),
        move |conn, _shutdown| {
            let panic_now = first.swap(false, Ordering::SeqCst);
            async move {
                assert!(!panic_now, "deliberate panic in the first handler");
                greet_until_eof(conn).await;
            }
        },
    ));

    let mut doomed = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut doomed, Duration::from_secs(2)).await;
    let mut next = TcpStream::connect(addr).await.unwrap();
    assert_eq!(
        greeting(&mut next, Duration::from_secs(2)).await,
        Some(GREETING)
    );

    drop(next);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn zero_max_connections_is_rejected() {
    let (listener, _addr) = bind().await;
    let err = serve(
        listener,
        config(0, Duration::from_secs(1)),
        CancellationToken::new(),
        |conn, _shutdown| greet_until_eof(conn),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn listener_config_defaults() {
    let config = ListenerConfig::new("kafka");
    assert_eq!(config.protocol, "kafka");
    assert_eq!(config.max_connections, 10_000);
    assert_eq!(config.tls_handshake_timeout, Duration::from_secs(10));
    assert_eq!(config.drain_timeout, Duration::from_secs(5));
}
