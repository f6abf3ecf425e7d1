//! The front end on a port-0 listener over the in-memory log, driven by fe2o3-amqp's client:
//! batched publishing with a partition key, reading back with a selector filter and an owner
//! level, take-over by a higher owner level, and shutdown.

mod support;

use support::{epoch, reader_source};

use std::time::Duration;

use fe2o3_amqp::link::RecvError;
use fe2o3_amqp::link::delivery::Sendable;
use fe2o3_amqp::types::messaging::{
    Batch, Body, Data, Message, MessageAnnotations, message::__private::Serializable,
};
use fe2o3_amqp::types::primitives::{Binary, Symbol, Value};
use fe2o3_amqp::{Connection, Receiver, Sender, Session};
use fe2o3_amqp_types::messaging::annotations::OwnedKey;
use hubgate_amqp::{AmqpConfig, serve};
use hubgate_protocol::{CancellationToken, Listener};
use hubgate_storage::{HubName, PartitionId, StorageConfig, open};

const BATCH_FORMAT: u32 = 0x8001_3700;

fn event(body: &str, key: &str) -> Data {
    let message: Message<Body<Value>> = Message::builder()
        .message_annotations(
            MessageAnnotations::builder()
                .insert("x-opt-partition-key", Value::String(key.into()))
                .build(),
        )
        .body(Body::Data(Batch::new(vec![Data(Binary::from(
            body.as_bytes().to_vec(),
        ))])))
        .build();
    Data(Binary::from(
        serde_amqp::to_vec(&Serializable(&message)).unwrap(),
    ))
}

fn annotation(message: &Message<Body<Value>>, key: &str) -> Option<Value> {
    message
        .message_annotations
        .as_ref()?
        .0
        .get(&OwnedKey::Symbol(Symbol::from(key)))
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_batch_then_read_with_filter_and_owner_levels() {
    let storage = open(&StorageConfig::new("memory://".parse().unwrap())).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(
        Listener::plain(tcp),
        storage.clone(),
        AmqpConfig::default(),
        shutdown.clone(),
    ));

    let url = format!("amqp://{addr}");
    let mut conn = Connection::open("rust-client", url.as_str()).await.unwrap();
    let mut session = Session::begin(&mut conn).await.unwrap();
    let mut sender = Sender::attach(&mut session, "publisher", "orders")
        .await
        .unwrap();
    let key = "device-17";
    let envelope: Message<Body<Value>> = Message::builder()
        .body(Body::Data(Batch::new(
            (0..5)
                .map(|i| event(&format!("e{i}"), key))
                .collect::<Vec<_>>(),
        )))
        .build();
    let outcome = sender
        .send(
            Sendable::builder()
                .message(envelope)
                .message_format(BATCH_FORMAT)
                .build(),
        )
        .await
        .unwrap();
    assert!(outcome.is_accepted());

    // Acked means stored: the five events are in the key's partition.
    let hub = HubName::new("orders").unwrap();
    let partitions = std::num::NonZeroU32::new(4).unwrap();
    let index = hubgate_protocol::partition_for_key(key.as_bytes(), partitions);
    let state = storage
        .partition(&PartitionId::new(hub, index))
        .await
        .unwrap();
    assert_eq!(state.high_watermark, 5);

    let address = format!("orders/ConsumerGroups/$Default/Partitions/{index}");
    let mut first = Receiver::builder()
        .name("first")
        .source(reader_source(
            &address,
            "amqp.annotation.x-opt-offset > '1'",
        ))
        .properties(epoch(1))
        .attach(&mut session)
        .await
        .unwrap();
    for seq in 2..5i64 {
        let delivery = first.recv::<Body<Value>>().await.unwrap();
        first.accept(&delivery).await.unwrap();
        let message = delivery.message();
        assert_eq!(
            message.body,
            Body::Data(Batch::new(vec![Data(Binary::from(
                format!("e{seq}").into_bytes()
            ))]))
        );
        assert_eq!(
            annotation(message, "x-opt-sequence-number"),
            Some(Value::Long(seq))
        );
        assert_eq!(
            annotation(message, "x-opt-offset"),
            Some(Value::String(seq.to_string()))
        );
        assert!(matches!(
            annotation(message, "x-opt-enqueued-time"),
            Some(Value::Timestamp(_))
        ));
        assert_eq!(
            annotation(message, "x-opt-partition-key"),
            Some(Value::String(key.into()))
        );
    }

    // A higher owner level takes the partition; the first reader is detached as stolen.
    let mut second = Receiver::builder()
        .name("second")
        .source(reader_source(
            &address,
            "amqp.annotation.x-opt-sequence-number >= '4'",
        ))
        .properties(epoch(2))
        .attach(&mut session)
        .await
        .unwrap();
    let delivery = second.recv::<Body<Value>>().await.unwrap();
    second.accept(&delivery).await.unwrap();
    assert_eq!(
        annotation(delivery.message(), "x-opt-sequence-number"),
        Some(Value::Long(4))
    );
    let stolen = tokio::time::timeout(Duration::from_secs(10), first.recv::<Body<Value>>())
        .await
        .unwrap();
    match stolen {
        Err(RecvError::LinkStateError(state)) => {
            let text = format!("{state:?}");
            assert!(text.contains("Stolen"), "{text}");
        }
        other => panic!("expected a stolen link, got {other:?}"),
    }

    // Live delivery: a new event wakes the waiting reader.
    let envelope: Message<Body<Value>> = Message::builder()
        .body(Body::Data(Batch::new(vec![event("late", key)])))
        .build();
    sender
        .send(
            Sendable::builder()
                .message(envelope)
                .message_format(BATCH_FORMAT)
                .build(),
        )
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), second.recv::<Body<Value>>())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        annotation(delivery.message(), "x-opt-sequence-number"),
        Some(Value::Long(5))
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
