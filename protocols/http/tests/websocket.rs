//! `GET /$servicebus/websocket` on a real socket: the subprotocol check, binary messages read
//! and written as the byte stream the configured handler gets, and the message size cap.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hubgate_http::HttpConfig;
use hubgate_protocol::{CancellationToken, Listener, StreamHandler, Tunneled};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// What the test handler saw: bytes read before the stream ended, and how it ended.
#[derive(Debug)]
struct Seen {
    bytes: usize,
    clean_eof: bool,
}

/// A handler that echoes the first 8 bytes, then reads to the end and reports.
fn echo_handler() -> (StreamHandler, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = StreamHandler::new(move |mut stream: Tunneled| {
        let tx = tx.clone();
        async move {
            let mut header = [0u8; 8];
            if stream.read_exact(&mut header).await.is_ok() {
                stream.write_all(&header).await.unwrap();
                stream.flush().await.unwrap();
            }
            let mut rest = Vec::new();
            let clean_eof = stream.read_to_end(&mut rest).await.is_ok();
            let _ = tx.send(Seen {
                bytes: 8 + rest.len(),
                clean_eof,
            });
        }
    });
    (handler, rx)
}

async fn start(config: HttpConfig) -> (std::net::SocketAddr, CancellationToken) {
    let listener = Listener::plain(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(hubgate_http::serve(
        listener,
        support::memory(),
        config,
        shutdown.clone(),
    ));
    (addr, shutdown)
}

async fn connect(
    addr: std::net::SocketAddr,
    subprotocol: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, WsError> {
    let mut request = format!("ws://{addr}/$servicebus/websocket")
        .into_client_request()
        .unwrap();
    if let Some(p) = subprotocol {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(request, tcp)
        .await
        .map(|(ws, response)| {
            assert_eq!(response.status(), 101);
            ws
        })
}

fn status_of(error: WsError) -> u16 {
    match error {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test]
async fn binary_messages_are_the_byte_stream() {
    let (handler, mut seen) = echo_handler();
    let (addr, shutdown) = start(HttpConfig {
        amqp_websocket: Some(handler),
        ..HttpConfig::default()
    })
    .await;
    for name in ["amqp", "AMQPWSB10"] {
        let mut ws = connect(addr, Some(name)).await.unwrap();
        // The header split over two messages reads as one stream.
        ws.send(Message::binary(b"AMQP".to_vec())).await.unwrap();
        ws.send(Message::binary(b"\x00\x01\x00\x00tail".to_vec()))
            .await
            .unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_data().as_ref(), b"AMQP\x00\x01\x00\x00");
        ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
        assert!(matches!(
            ws.next().await.unwrap().unwrap(),
            Message::Pong(_)
        ));
        ws.close(None).await.unwrap();
        let report = tokio::time::timeout(Duration::from_secs(5), seen.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(report.bytes, 12);
        assert!(report.clean_eof, "a close message reads as end of stream");
    }
    shutdown.cancel();
}

#[tokio::test]
async fn the_subprotocol_is_required_and_the_route_needs_a_handler() {
    let (handler, _seen) = echo_handler();
    let (addr, shutdown) = start(HttpConfig {
        amqp_websocket: Some(handler),
        ..HttpConfig::default()
    })
    .await;
    assert_eq!(status_of(connect(addr, None).await.unwrap_err()), 400);
    assert_eq!(
        status_of(connect(addr, Some("mqtt")).await.unwrap_err()),
        400
    );
    shutdown.cancel();

    let (addr, shutdown) = start(HttpConfig::default()).await;
    assert_eq!(
        status_of(connect(addr, Some("amqp")).await.unwrap_err()),
        404
    );
    shutdown.cancel();
}

#[tokio::test]
async fn a_message_over_the_cap_ends_the_stream() {
    let (handler, mut seen) = echo_handler();
    let (addr, shutdown) = start(HttpConfig {
        amqp_websocket: Some(handler),
        ..HttpConfig::default()
    })
    .await;
    // Exactly 1 MiB in one message is accepted.
    let mut ws = connect(addr, Some("amqp")).await.unwrap();
    ws.send(Message::binary(vec![7u8; 1 << 20])).await.unwrap();
    let _echo = ws.next().await.unwrap().unwrap();
    ws.close(None).await.unwrap();
    let report = seen.recv().await.unwrap();
    assert_eq!((report.bytes, report.clean_eof), (1 << 20, true));
    // One byte more is refused: the handler's read fails.
    let mut ws = connect(addr, Some("amqp")).await.unwrap();
    ws.send(Message::binary(b"AMQP\x00\x01\x00\x00".to_vec()))
        .await
        .unwrap();
    let _echo = ws.next().await.unwrap().unwrap();
    let _ = ws.send(Message::binary(vec![7u8; (1 << 20) + 1])).await;
    let report = tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !report.clean_eof,
        "an oversized message must not read as data"
    );
    assert_eq!(report.bytes, 8);
    shutdown.cancel();
}
