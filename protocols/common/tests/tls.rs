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

/// A CA made for the test, a server certificate for `localhost` and a client certificate for
/// `CN=client-a` that it signs, and a client certificate signed by nobody the server trusts.
struct Mtls {
    dir: tempfile::TempDir,
    ca_path: PathBuf,
    ca_der: CertificateDer<'static>,
    server_cert: PathBuf,
    server_key: PathBuf,
    client: (
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ),
    stranger: (
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ),
}

fn mtls() -> Mtls {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hubgate test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>, cn: &str, issuer: &Issuer<'_, KeyPair>| {
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, issuer).unwrap();
        (cert, key)
    };
    let (server, server_key) = leaf(vec!["localhost".into()], "localhost", &issuer);
    let (client, client_key) = leaf(vec![], "client-a", &issuer);
    let mut other_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let other = Issuer::new(other_params, KeyPair::generate().unwrap());
    let (stranger, stranger_key) = leaf(vec![], "client-a", &other);

    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca_path = write("ca.pem", ca_cert.pem());
    let server_cert = write("server.pem", server.pem());
    let server_key = write("server-key.pem", server_key.serialize_pem());
    let key_der =
        |key: &KeyPair| rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    Mtls {
        ca_der: ca_cert.der().clone(),
        ca_path,
        server_cert,
        server_key,
        client: (vec![client.der().clone()], key_der(&client_key)),
        stranger: (vec![stranger.der().clone()], key_der(&stranger_key)),
        dir,
    }
}

fn client_config(
    ca: &CertificateDer<'static>,
    identity: Option<&(
        Vec<CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    )>,
) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    TlsConnector::from(Arc::new(config))
}

/// Runs a TLS listener that requires client certificates from the test CA and reports each
/// connection's `client_cert_subject`.
async fn mtls_server(
    pki: &Mtls,
) -> (
    SocketAddr,
    CancellationToken,
    mpsc::UnboundedReceiver<Option<String>>,
    Arc<hubgate_protocol::ReloadableCert>,
) {
    let cert = hubgate_protocol::ReloadableCert::load(&pki.server_cert, &pki.server_key).unwrap();
    let server_config =
        hubgate_protocol::server_config(Arc::clone(&cert), Some(&pki.ca_path), &[]).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = Listener::tls(tcp, acceptor(server_config));
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(serve(
        listener,
        config(10, Duration::from_secs(5)),
        shutdown.clone(),
        move |conn, _shutdown| {
            tx.send(conn.client_cert_subject().map(str::to_owned))
                .unwrap();
            echo(conn)
        },
    ));
    (addr, shutdown, rx, cert)
}

/// Connects, writes a byte and reads the echo; `Err` when the handshake or echo fails.
async fn echo_once(addr: SocketAddr, connector: &TlsConnector) -> std::io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = connector.connect(name, tcp).await?;
    client.write_all(b"x").await?;
    let mut byte = [0u8; 1];
    timeout(Duration::from_secs(2), client.read_exact(&mut byte))
        .await
        .map_err(|_| std::io::Error::other("no echo"))??;
    Ok(())
}

#[tokio::test]
async fn a_client_certificate_from_the_ca_is_required_and_its_subject_exposed() {
    let pki = mtls();
    let (addr, shutdown, mut seen, _cert) = mtls_server(&pki).await;

    echo_once(addr, &client_config(&pki.ca_der, Some(&pki.client)))
        .await
        .unwrap();
    assert_eq!(seen.recv().await.unwrap().as_deref(), Some("CN=client-a"));

    // No certificate, or one signed by another CA: the handshake fails, no handler runs.
    assert!(
        echo_once(addr, &client_config(&pki.ca_der, None))
            .await
            .is_err()
    );
    assert!(
        echo_once(addr, &client_config(&pki.ca_der, Some(&pki.stranger)))
            .await
            .is_err()
    );
    assert!(
        seen.try_recv().is_err(),
        "a refused client reached the handler"
    );
    shutdown.cancel();
}

#[tokio::test]
async fn reload_serves_the_new_certificate_to_new_connections_only() {
    let first = generate_pki();
    let second = generate_pki();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(&first.cert_path, &cert_path).unwrap();
    std::fs::copy(&first.key_path, &key_path).unwrap();
    let cert = hubgate_protocol::ReloadableCert::load(&cert_path, &key_path).unwrap();
    let server_config = hubgate_protocol::server_config(Arc::clone(&cert), None, &[ALPN]).unwrap();
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = Listener::tls(tcp, acceptor(server_config));
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        config(10, Duration::from_secs(5)),
        shutdown.clone(),
        |conn, _shutdown| echo(conn),
    ));

    // An open connection made with the first certificate.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut open = connector(&first).connect(name, tcp).await.unwrap();

    // Broken files keep the certificate in use.
    std::fs::write(&cert_path, "not a certificate").unwrap();
    assert!(cert.reload().is_err());
    echo_once(addr, &connector(&first)).await.unwrap();

    std::fs::copy(&second.cert_path, &cert_path).unwrap();
    std::fs::copy(&second.key_path, &key_path).unwrap();
    cert.reload().unwrap();
    echo_once(addr, &connector(&second)).await.unwrap();
    assert!(
        echo_once(addr, &connector(&first)).await.is_err(),
        "new connections still get the old certificate"
    );
    // The connection opened before the reload still works.
    open.write_all(b"still here").await.unwrap();
    let mut echoed = [0u8; 10];
    open.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"still here");
    shutdown.cancel();
}

#[test]
fn certificate_subjects_read_as_type_equals_value() {
    let pki = mtls();
    let subject = hubgate_protocol::certificate_subject(&pki.client.0[0]);
    assert_eq!(subject.as_deref(), Some("CN=client-a"));
    assert_eq!(hubgate_protocol::certificate_subject(b"garbage"), None);
    drop(pki.dir);
}
