//! AMQP connections tunneled in as byte streams ([`AmqpFrontEnd::stream_handler`], what AMQP over
//! WebSocket uses) are served like the listener's, with the same shared state: an event sent
//! through a tunnel is read over TCP, delivery annotations come back as sent, an inclusive
//! sequence-number start delivers that event, and owner levels span both paths.

mod support;

use support::{epoch, reader_source};

use std::time::Duration;

use fe2o3_amqp::link::RecvError;
use fe2o3_amqp::link::delivery::Sendable;
use fe2o3_amqp::types::messaging::{Body, DeliveryAnnotations, Message};
use fe2o3_amqp::types::primitives::{Symbol, Value};
use fe2o3_amqp::{Connection, Receiver, Sender, Session};
use fe2o3_amqp_types::messaging::annotations::OwnedKey;
use hubgate_amqp::{AmqpConfig, AmqpFrontEnd};
use hubgate_protocol::{CancellationToken, Listener, Tunneled};
use hubgate_storage::{StorageConfig, open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunneled_streams_share_the_front_end() {
    let storage = open(&StorageConfig::new("memory://".parse().unwrap())).unwrap();
    let front_end = AmqpFrontEnd::new(storage, AmqpConfig::default());
    let shutdown = CancellationToken::new();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let served = front_end.clone();
    let token = shutdown.clone();
    tokio::spawn(async move { served.serve(Listener::plain(tcp), token).await });
    let handler = front_end.stream_handler(shutdown.clone());

    // The client's end of an in-memory pipe; the gateway's end goes to the handler.
    let (client_io, gateway_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(handler.serve(Tunneled::new(gateway_io, "test")));
    let mut tunneled = Connection::builder()
        .container_id("tunneled")
        .open_with_stream(client_io)
        .await
        .unwrap();
    let mut session = Session::begin(&mut tunneled).await.unwrap();
    let mut sender = Sender::attach(&mut session, "publisher", "tunnelhub/Partitions/0")
        .await
        .unwrap();
    let message: Message<Body<Value>> = Message::builder()
        .delivery_annotations(
            DeliveryAnnotations::builder()
                .insert("delann_key", Value::String("delann_value".into()))
                .build(),
        )
        .body(Body::Value(fe2o3_amqp::types::messaging::AmqpValue(
            Value::String("through the tunnel".into()),
        )))
        .build();
    let outcome = sender
        .send(Sendable::builder().message(message).build())
        .await
        .unwrap();
    assert!(outcome.is_accepted());

    let address = "tunnelhub/ConsumerGroups/$Default/Partitions/0";
    let inclusive = "amqp.annotation.x-opt-sequence-number >= '0'";
    let mut first = Receiver::builder()
        .name("first")
        .source(reader_source(address, inclusive))
        .properties(epoch(1))
        .attach(&mut session)
        .await
        .unwrap();
    let delivery = first.recv::<Body<Value>>().await.unwrap();
    first.accept(&delivery).await.unwrap();
    let got = delivery.message();
    assert_eq!(
        got.body,
        Body::Value(fe2o3_amqp::types::messaging::AmqpValue(Value::String(
            "through the tunnel".into()
        )))
    );
    let annotations = got.delivery_annotations.as_ref().unwrap();
    assert_eq!(
        annotations
            .0
            .get(&OwnedKey::Symbol(Symbol::from("delann_key")))
            .cloned(),
        Some(Value::String("delann_value".into()))
    );

    // A higher owner level over TCP takes the partition from the tunneled reader.
    let mut plain = Connection::open("plain", format!("amqp://{addr}").as_str())
        .await
        .unwrap();
    let mut plain_session = Session::begin(&mut plain).await.unwrap();
    let mut second = Receiver::builder()
        .name("second")
        .source(reader_source(address, inclusive))
        .properties(epoch(2))
        .attach(&mut plain_session)
        .await
        .unwrap();
    let delivery = second.recv::<Body<Value>>().await.unwrap();
    second.accept(&delivery).await.unwrap();
    let stolen = tokio::time::timeout(Duration::from_secs(10), first.recv::<Body<Value>>())
        .await
        .unwrap();
    match stolen {
        Err(RecvError::LinkStateError(state)) => {
            assert!(format!("{state:?}").contains("Stolen"), "{state:?}");
        }
        other => panic!("expected a stolen link, got {other:?}"),
    }
    shutdown.cancel();
}
