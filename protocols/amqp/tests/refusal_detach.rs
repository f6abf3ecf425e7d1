//! Refused links at the frame level, with a raw AMQP client that checks every handle the
//! gateway attaches is detached exactly once before it is attached again: a second Detach on a
//! handle makes rhea fail the connection ("Detach already received" / "Invalid handle").

use std::collections::HashMap;
use std::time::Duration;

use fe2o3_amqp::types::definitions::{Handle, ReceiverSettleMode, Role, SenderSettleMode};
use fe2o3_amqp::types::messaging::{Source, Target, TargetArchetype};
use fe2o3_amqp::types::performatives::{
    Attach, Begin, ChannelMax, Close, Detach, End, MaxFrameSize, Open, Performative,
};
use hubgate_amqp::{AmqpConfig, serve};
use hubgate_protocol::{CancellationToken, Listener};
use hubgate_storage::{StorageConfig, open};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const AMQP_HEADER: [u8; 8] = *b"AMQP\x00\x01\x00\x00";
/// How long the gateway must stay silent before the client answers what it received.
const QUIET: Duration = Duration::from_millis(400);

/// A gateway on a port-0 listener over the in-memory log.
struct Gateway {
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    async fn start() -> Self {
        Self::start_with(AmqpConfig::default()).await
    }

    async fn start_with(config: AmqpConfig) -> Self {
        let storage = open(&StorageConfig::new("memory://".parse().unwrap())).unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve(
            Listener::plain(tcp),
            storage,
            config,
            shutdown.clone(),
        ));
        Self {
            addr,
            shutdown,
            server,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// One connection with one session on channel 0, frames decoded by a reader task.
struct RawClient {
    writer: OwnedWriteHalf,
    frames: mpsc::UnboundedReceiver<Performative>,
    /// The gateway's attached handles, with their link names.
    attached: HashMap<u32, String>,
}

impl RawClient {
    /// Connects without SASL, then sends Open and Begin.
    async fn connect(addr: std::net::SocketAddr) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&AMQP_HEADER).await.unwrap();
        let mut header = [0u8; 8];
        tcp.read_exact(&mut header).await.unwrap();
        assert_eq!(header, AMQP_HEADER);
        let (reader, writer) = tcp.into_split();
        let (tx, frames) = mpsc::unbounded_channel();
        tokio::spawn(read_frames(reader, tx));
        let mut client = Self {
            writer,
            frames,
            attached: HashMap::new(),
        };
        client
            .send(&Open {
                container_id: "raw-client".into(),
                hostname: None,
                max_frame_size: MaxFrameSize::default(),
                channel_max: ChannelMax::default(),
                idle_time_out: None,
                outgoing_locales: None,
                incoming_locales: None,
                offered_capabilities: None,
                desired_capabilities: None,
                properties: None,
            })
            .await;
        client
            .send(&Begin {
                remote_channel: None,
                next_outgoing_id: 0,
                incoming_window: 5000,
                outgoing_window: 5000,
                handle_max: Handle(255),
                offered_capabilities: None,
                desired_capabilities: None,
                properties: None,
            })
            .await;
        client
    }

    async fn send<T: Serialize>(&mut self, performative: &T) {
        let body = serde_amqp::to_vec(performative).unwrap();
        let size = u32::try_from(8 + body.len()).unwrap();
        let mut frame = Vec::with_capacity(8 + body.len());
        frame.extend_from_slice(&size.to_be_bytes());
        frame.extend_from_slice(&[2, 0, 0, 0]); // doff 2, AMQP frame, channel 0
        frame.extend_from_slice(&body);
        self.writer.write_all(&frame).await.unwrap();
    }

    /// Asks for a receiving link from `address`, which the gateway refuses.
    async fn attach_refused(&mut self, handle: u32, address: &str) {
        self.send(&Attach {
            name: format!("link-{handle}"),
            handle: Handle(handle),
            role: Role::Receiver,
            snd_settle_mode: SenderSettleMode::Mixed,
            rcv_settle_mode: ReceiverSettleMode::First,
            source: Some(Box::new(Source::builder().address(address).build())),
            target: Some(Box::new(TargetArchetype::Target(Target::default()))),
            unsettled: None,
            incomplete_unsettled: false,
            initial_delivery_count: None,
            max_message_size: None,
            offered_capabilities: None,
            desired_capabilities: None,
            properties: None,
        })
        .await;
    }

    /// The next frame other than Open, Begin and Flow; `Err` if none came within `wait`.
    /// Attach and Detach are checked against the handles the gateway has attached.
    async fn next(&mut self, wait: Duration) -> Result<Performative, ()> {
        loop {
            let frame = match tokio::time::timeout(wait, self.frames.recv()).await {
                Ok(Some(frame)) => frame,
                Ok(None) => panic!("the gateway closed the connection"),
                Err(_) => return Err(()),
            };
            match &frame {
                Performative::Open(_) | Performative::Begin(_) | Performative::Flow(_) => {
                    continue;
                }
                Performative::Attach(attach) => {
                    let previous = self.attached.insert(attach.handle.0, attach.name.clone());
                    assert_eq!(
                        previous, None,
                        "handle {} attached to `{}` while still attached",
                        attach.handle.0, attach.name
                    );
                }
                Performative::Detach(detach) => {
                    assert!(
                        self.attached.remove(&detach.handle.0).is_some(),
                        "a second Detach for handle {}: {detach:?}",
                        detach.handle.0
                    );
                    assert!(detach.closed, "{detach:?}");
                }
                _ => {}
            }
            return Ok(frame);
        }
    }

    /// Ends the session and the connection, checking nothing but End and Close come back.
    async fn end_and_close(&mut self) {
        self.send(&End { error: None }).await;
        match self.next(Duration::from_secs(5)).await {
            Ok(Performative::End(_)) => {}
            other => panic!("expected End, got {other:?}"),
        }
        self.send(&Close { error: None }).await;
        match self.next(Duration::from_secs(5)).await {
            Ok(Performative::Close(_)) => {}
            other => panic!("expected Close, got {other:?}"),
        }
    }
}

/// Sends every non-empty frame's performative to `frames` until the connection ends.
async fn read_frames(mut reader: OwnedReadHalf, frames: mpsc::UnboundedSender<Performative>) {
    while let Ok(size) = reader.read_u32().await {
        let mut rest = vec![0u8; size as usize - 4];
        reader.read_exact(&mut rest).await.unwrap();
        let body = &rest[usize::from(rest[0]) * 4 - 4..];
        if !body.is_empty() && frames.send(serde_amqp::from_slice(body).unwrap()).is_err() {
            return;
        }
    }
}

/// The client pipelines four refused attaches, as rhea does, and answers each refusal's
/// Detach only once the gateway has gone quiet. Before the fix the gateway reused the first
/// refused link's handle for the next one before the answer came, then took that answer for
/// the client closing the new link and sent a second Detach on the handle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refused_link_is_detached_once() {
    let gateway = Gateway::start().await;
    let mut client = RawClient::connect(gateway.addr).await;
    let addresses = ["a/b", "c/d", "e/f", "g/h"];
    for (handle, address) in (0u32..).zip(addresses) {
        client.attach_refused(handle, address).await;
    }
    // The client's handle by link name.
    let ours: HashMap<String, u32> = (0u32..).map(|h| (format!("link-{h}"), h)).take(4).collect();
    let mut names: HashMap<u32, String> = HashMap::new();
    let mut unanswered: Vec<String> = Vec::new();
    let mut refused = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while refused < addresses.len() || !unanswered.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "refusals too slow");
        match client.next(QUIET).await {
            Ok(Performative::Attach(attach)) => {
                names.insert(attach.handle.0, attach.name);
            }
            Ok(Performative::Detach(detach)) => {
                assert!(detach.error.is_some(), "refused without an error");
                refused += 1;
                unanswered.extend(names.remove(&detach.handle.0));
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(()) => {
                assert!(!unanswered.is_empty(), "the gateway stalled");
                for name in unanswered.drain(..) {
                    let handle = Handle(ours[&name]);
                    client
                        .send(&Detach {
                            handle,
                            closed: true,
                            error: None,
                        })
                        .await;
                }
            }
        }
    }
    // Anything the answers provoke arrives before the End exchange and fails `next`.
    client.end_and_close().await;
    gateway.stop().await;
}

/// The client ends its session instead of answering the refusal, either once the refusal
/// came or right behind its Attach: the gateway sends at most the one Detach for the refused
/// link, then its End.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ended_right_after_a_refusal() {
    let gateway = Gateway::start().await;
    for pipelined in [false, true] {
        let mut client = RawClient::connect(gateway.addr).await;
        client.attach_refused(0, "a/b").await;
        if pipelined {
            client.send(&End { error: None }).await;
        } else {
            loop {
                match client.next(Duration::from_secs(5)).await {
                    Ok(Performative::Attach(_)) => {}
                    Ok(Performative::Detach(detach)) => {
                        assert!(detach.error.is_some(), "refused without an error");
                        break;
                    }
                    other => panic!("expected the refusal, got {other:?}"),
                }
            }
            client.send(&End { error: None }).await;
        }
        // `next` fails on a second Detach for the handle.
        loop {
            match client.next(Duration::from_secs(5)).await {
                Ok(Performative::Attach(_) | Performative::Detach(_)) => {}
                Ok(Performative::End(_)) => break,
                other => panic!("expected End, got {other:?}"),
            }
        }
        client.send(&Close { error: None }).await;
        match client.next(Duration::from_secs(5)).await {
            Ok(Performative::Close(_)) => {}
            other => panic!("expected Close, got {other:?}"),
        }
    }
    gateway.stop().await;
}

/// With access policies, a link from a connection holding no token is refused the same way:
/// attached, then detached once with `amqp:unauthorized-access`, and nothing more once the
/// client answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_link_is_detached_once() {
    use hubgate_protocol::{Right, Rights, SasPolicies, SasPolicy, Secret};
    let policies = SasPolicies::new([SasPolicy {
        name: "listener".into(),
        key: Secret::new("k3y"),
        rights: Rights::from(Right::Listen),
        hubs: vec![],
        cert_subject: None,
    }])
    .unwrap();
    let gateway = Gateway::start_with(AmqpConfig {
        policies: std::sync::Arc::new(policies),
        ..AmqpConfig::default()
    })
    .await;
    let mut client = RawClient::connect(gateway.addr).await;
    client.attach_refused(0, "orders/Partitions/0").await;
    let detach = loop {
        match client.next(Duration::from_secs(5)).await {
            Ok(Performative::Attach(_)) => {}
            Ok(Performative::Detach(detach)) => break detach,
            other => panic!("expected the refusal, got {other:?}"),
        }
    };
    let error = detach.error.expect("refused without an error");
    assert_eq!(
        error.condition,
        fe2o3_amqp::types::definitions::AmqpError::UnauthorizedAccess.into()
    );
    assert!(error.info.is_some(), "pyamqp needs the error's info");
    client
        .send(&Detach {
            handle: Handle(0),
            closed: true,
            error: None,
        })
        .await;
    // A second Detach would fail `next`; anything else arrives before End.
    client.end_and_close().await;
    gateway.stop().await;
}
