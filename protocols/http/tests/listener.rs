//! The front end on a real socket: `serve` on the shared accept loop, keep-alive requests,
//! health routes and shutdown.

mod support;

use hubgate_http::HttpConfig;
use hubgate_protocol::{CancellationToken, Listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one HTTP/1.1 response with a `content-length` body; returns (status line, body).
async fn response(stream: &mut TcpStream) -> (String, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "connection closed"
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    (
        head.lines().next().unwrap().to_owned(),
        String::from_utf8(body).unwrap(),
    )
}

#[tokio::test]
async fn keep_alive_sends_then_shutdown() {
    let storage = support::memory();
    let listener = Listener::plain(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(hubgate_http::serve(
        listener,
        storage.clone(),
        HttpConfig::default(),
        shutdown.clone(),
    ));

    let mut client = TcpStream::connect(addr).await.unwrap();
    for i in 0..3 {
        let body = format!("event-{i}");
        let request = format!(
            "POST /live/partitions/0/messages HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        client.write_all(request.as_bytes()).await.unwrap();
        let (status, _) = response(&mut client).await;
        assert_eq!(status, "HTTP/1.1 201 Created");
    }
    // A loopback listener answers only loopback host names (DNS-rebinding protection).
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: evil.example\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = response(&mut client).await;
    assert_eq!(status, "HTTP/1.1 421 Misdirected Request");
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = response(&mut client).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("healthy"));
    client
        .write_all(b"GET /live/partitions/0 HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let (_, body) = response(&mut client).await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["last_enqueued_sequence_number"], 2);
    assert_eq!(json["begin_sequence_number"], 0);

    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // The idle keep-alive connection was closed by the shutdown.
    let mut rest = Vec::new();
    let n = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.read_to_end(&mut rest),
    )
    .await
    .unwrap()
    .unwrap_or(0);
    assert_eq!(n, 0);
}
