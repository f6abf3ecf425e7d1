//! The shared accept loop over TLS, with a certificate generated for the test and loaded from
//! PEM files through `load_server_config`.

mod support;

use support::expect_closed;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hubgate_protocol::{
    CancellationToken, Connection, Listener, ListenerConfig, acceptor, load_server_config, serve,
};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

const ALPN: &[u8] = b"hubgate-test";

/// A self-signed certificate for `localhost`, written as PEM files.
struct Pki {
    _dir: tempfile::TempDir,
    cert_path: PathBuf,
    key_path: PathBuf,
    cert_der: CertificateDer<'static>,
}

fn generate_pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("server.crt");
    let key_path = dir.path().join("server.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    Pki {
        _dir: dir,
        cert_path,
        key_path,
        cert_der: cert.der().clone(),
    }
}

async fn tls_listener(pki: &Pki) -> (Listener, SocketAddr) {
    let server_config = load_server_config(&pki.cert_path, &pki.key_path, &[ALPN]).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = Listener::tls(tcp, acceptor(server_config));
    assert!(listener.is_tls());
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A client that trusts only the test certificate.
fn connector(pki: &Pki) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.cert_der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    TlsConnector::from(Arc::new(config))
}

fn config(max_connections: usize, tls_handshake_timeout: Duration) -> ListenerConfig {
    ListenerConfig {
        protocol: "test-tls",
        max_connections,
        tls_handshake_timeout,
        drain_timeout: Duration::from_secs(1),
    }
}

async fn echo(mut conn: Connection) {
    let mut buf = [0u8; 1024];
    loop {
        match conn.stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[tokio::test]
async fn tls_client_exchanges_bytes_through_an_echo_handler() {
    let pki = generate_pki();
    let (listener, addr) = tls_listener(&pki).await;
    let shutdown = CancellationToken::new();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let server = tokio::spawn(serve(
        listener,
        config(10, Duration::from_secs(5)),
        shutdown.clone(),
        move |conn, _shutdown| {
            seen_tx
                .send((
                    conn.tls,
                    conn.stream.alpn_protocol().map(<[u8]>::to_vec),
                    conn.stream.server_name().map(str::to_owned),
                    conn.peer,
                ))
                .unwrap();
            echo(conn)
        },
    ));

    let tcp = TcpStream::connect(addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = connector(&pki).connect(name, tcp).await.unwrap();
    assert_eq!(client.get_ref().1.alpn_protocol(), Some(ALPN));

    client.write_all(b"hello over tls").await.unwrap();
    let mut echoed = [0u8; 14];
    timeout(Duration::from_secs(2), client.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echoed, b"hello over tls");

    let (tls, alpn, sni, peer) = seen.recv().await.unwrap();
    assert!(tls, "Connection::tls is false on a TLS listener");
    assert_eq!(alpn.as_deref(), Some(ALPN));
    assert_eq!(sni.as_deref(), Some("localhost"));
    assert_eq!(peer, local);

    drop(client);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn silent_plain_client_is_dropped_after_the_handshake_timeout() {
    let pki = generate_pki();
    let (listener, addr) = tls_listener(&pki).await;
    let shutdown = CancellationToken::new();
    let handled = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&handled);
    let handshake_timeout = Duration::from_millis(200);
    let server = tokio::spawn(serve(
        listener,
        // One slot: the silent client must not keep it once the handshake times out.
        config(1, handshake_timeout),
        shutdown.clone(),
        move |conn, _shutdown| {
            count.fetch_add(1, Ordering::SeqCst);
            echo(conn)
        },
    ));

    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    expect_closed(&mut silent, Duration::from_secs(3)).await;
    let took = started.elapsed();
    assert!(
        took >= handshake_timeout - Duration::from_millis(50),
        "dropped before the handshake timeout: {took:?}"
    );
    assert_eq!(handled.load(Ordering::SeqCst), 0, "handler ran without TLS");

    // The slot is free again: a real TLS client is served.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = timeout(Duration::from_secs(2), connector(&pki).connect(name, tcp))
        .await
        .expect("slot not released after the handshake timeout")
        .unwrap();
    client.write_all(b"x").await.unwrap();
    let mut byte = [0u8; 1];
    client.read_exact(&mut byte).await.unwrap();
    assert_eq!(handled.load(Ordering::SeqCst), 1);

    drop(client);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn plaintext_request_to_a_tls_listener_is_refused_without_calling_the_handler() {
    let pki = generate_pki();
    let (listener, addr) = tls_listener(&pki).await;
    let shutdown = CancellationToken::new();
    let handled = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&handled);
    let server = tokio::spawn(serve(
        listener,
        config(10, Duration::from_secs(10)),
        shutdown.clone(),
        move |conn, _shutdown| {
            count.fetch_add(1, Ordering::SeqCst);
            echo(conn)
        },
    ));

    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // Well inside the 10 s handshake timeout: the handshake fails, it does not time out.
    expect_closed(&mut plain, Duration::from_secs(2)).await;
    assert_eq!(handled.load(Ordering::SeqCst), 0);

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn client_that_does_not_trust_the_certificate_fails_the_handshake() {
    let pki = generate_pki();
    let other = generate_pki();
    let (listener, addr) = tls_listener(&pki).await;
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        config(10, Duration::from_secs(5)),
        shutdown.clone(),
        |conn, _shutdown| echo(conn),
    ));

    // Trusting a different self-signed certificate: the server must present the loaded one.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let result = connector(&other).connect(name, tcp).await;
    assert!(
        result.is_err(),
        "handshake succeeded with an untrusted certificate"
    );

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
