//! Conversion between AMQP messages and stored [`Record`]s (documented in `docs/MAPPING.md`).
//!
//! Ingest (AMQP → record):
//! - a body of exactly one `data` section becomes the record value as is; any other body
//!   (amqp-value, amqp-sequence, several data sections, no body) is stored AMQP-encoded in the
//!   value and named by the [`BODY`] header;
//! - `x-opt-partition-key` becomes the record key;
//! - every application property becomes a header of the same name whose value is the
//!   AMQP encoding of the property (constructor included, so its type survives), and [`TYPED`]
//!   marks the record as carrying such headers;
//! - the header, properties, footer and the message annotations other than the broker's own
//!   (`x-opt-sequence-number`, `x-opt-offset`, `x-opt-enqueued-time`, `x-opt-partition-key`) are
//!   kept AMQP-encoded under reserved `x-amqp-*` headers; so are the delivery annotations,
//!   which Event Hubs keeps on the stored event and returns to its readers.
//!
//! Delivery (record → AMQP) reverses this; a record written by another protocol (no [`TYPED`]
//! header) gets its value as one `data` section and its headers as binary application
//! properties.

use bytes::Bytes;
use fe2o3_amqp::types::messaging::message::__private::{Deserializable, Serializable};
use fe2o3_amqp::types::messaging::{
    ApplicationProperties, Batch, Body, Data, DeliveryAnnotations, Footer, Header, Message,
    MessageAnnotations, Properties,
};
use fe2o3_amqp::types::primitives::{Binary, OrderedMap, SimpleValue, Symbol, Timestamp, Value};
use fe2o3_amqp_types::messaging::annotations::OwnedKey;
use hubgate_storage::{Header as RecordHeader, Record};

use crate::error::Error;

/// Header naming how the record value encodes a body that is not a single `data` section:
/// `amqp-value`, `amqp-sequence`, `data` (several sections) or `empty`.
pub const BODY: &str = "x-amqp-body";
/// Header present (value `amqp`) when the record's other non-reserved headers are
/// AMQP-encoded application properties.
pub const TYPED: &str = "x-amqp-application-properties";
/// Header holding the AMQP-encoded header section.
pub const HEADER: &str = "x-amqp-header";
/// Header holding the AMQP-encoded delivery-annotations section, as the producer sent it.
pub const DELIVERY_ANNOTATIONS: &str = "x-amqp-delivery-annotations";
/// Header holding the AMQP-encoded properties section.
pub const PROPERTIES: &str = "x-amqp-properties";
/// Header holding the AMQP-encoded message-annotations section (broker annotations removed).
pub const ANNOTATIONS: &str = "x-amqp-message-annotations";
/// Header holding the AMQP-encoded footer section.
pub const FOOTER: &str = "x-amqp-footer";
/// Prefix of every header name this mapping reserves.
pub const RESERVED_PREFIX: &str = "x-amqp-";

/// Annotation carrying the partition key.
pub const PARTITION_KEY: &str = "x-opt-partition-key";
/// Broker annotation: sequence number (long).
pub const SEQUENCE_NUMBER: &str = "x-opt-sequence-number";
/// Broker annotation: offset (string).
pub const OFFSET: &str = "x-opt-offset";
/// Broker annotation: enqueued time (timestamp).
pub const ENQUEUED_TIME: &str = "x-opt-enqueued-time";

/// A decoded AMQP message as the front end handles it.
pub type AmqpMessage = Message<Body<Value>>;

/// Encodes one AMQP value or section with its constructor.
fn encode<T: serde::Serialize>(value: &T) -> Result<Bytes, Error> {
    serde_amqp::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a complete AMQP message (all its sections) from `bytes`.
///
/// # Errors
/// [`Error::Decode`] when the bytes are not one well-formed message.
pub fn decode_message(bytes: &[u8]) -> Result<AmqpMessage, Error> {
    serde_amqp::from_slice::<Deserializable<AmqpMessage>>(bytes)
        .map(|m| m.0)
        .map_err(|e| Error::Decode(e.to_string()))
}

/// Encodes a complete AMQP message.
///
/// # Errors
/// [`Error::Encode`] if a value cannot be encoded.
pub fn encode_message(message: &AmqpMessage) -> Result<Bytes, Error> {
    encode(&Serializable(message))
}

/// Whether an annotation key is one the broker sets on delivery (never stored).
fn is_broker_annotation(key: &OwnedKey) -> bool {
    matches!(key, OwnedKey::Symbol(s) if matches!(s.as_str(), PARTITION_KEY | SEQUENCE_NUMBER | OFFSET | ENQUEUED_TIME))
}

/// The partition key of a message: its `x-opt-partition-key` annotation when that is a string
/// (or symbol).
pub fn partition_key(message: &AmqpMessage) -> Option<String> {
    let annotations = message.message_annotations.as_ref()?;
    match annotations
        .0
        .get(&OwnedKey::Symbol(Symbol::from(PARTITION_KEY)))?
    {
        Value::String(s) => Some(s.clone()),
        Value::Symbol(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// Converts an incoming message into the record to store. `fallback_key` is the key of the
/// batch envelope, used when the message carries none. The record's offset is left 0 and its
/// timestamp is `now_ms` (the enqueued time).
///
/// # Errors
/// [`Error::Encode`] if a section cannot be re-encoded.
pub fn message_to_record(
    message: AmqpMessage,
    fallback_key: Option<&str>,
    now_ms: i64,
) -> Result<Record, Error> {
    let key = partition_key(&message)
        .or_else(|| fallback_key.map(str::to_owned))
        .map(Bytes::from);
    let Message {
        header,
        delivery_annotations,
        message_annotations,
        properties,
        application_properties,
        body,
        footer,
    } = message;
    let mut headers = Vec::new();
    let value = match body {
        Body::Data(mut sections) if sections.len() == 1 => {
            sections.pop().map(|Data(bin)| Bytes::from(bin.into_vec()))
        }
        other => {
            let kind = match &other {
                Body::Value(_) => "amqp-value",
                Body::Sequence(_) => "amqp-sequence",
                Body::Data(_) => "data",
                Body::Empty => "empty",
            };
            headers.push(RecordHeader::new(
                BODY,
                Some(Bytes::from_static(kind.as_bytes())),
            ));
            match other {
                Body::Empty => None,
                body => Some(encode_message(&Message::builder().body(body).build())?),
            }
        }
    };
    if let Some(header) = header {
        headers.push(RecordHeader::new(HEADER, Some(encode(&header)?)));
    }
    if let Some(delivery_annotations) = delivery_annotations {
        headers.push(RecordHeader::new(
            DELIVERY_ANNOTATIONS,
            Some(encode(&delivery_annotations)?),
        ));
    }
    if let Some(properties) = properties {
        headers.push(RecordHeader::new(PROPERTIES, Some(encode(&properties)?)));
    }
    if let Some(MessageAnnotations(map)) = message_annotations {
        let kept: OrderedMap<OwnedKey, Value> = map
            .into_iter()
            .filter(|(k, _)| !is_broker_annotation(k))
            .collect();
        if !kept.is_empty() {
            headers.push(RecordHeader::new(
                ANNOTATIONS,
                Some(encode(&MessageAnnotations(kept))?),
            ));
        }
    }
    if let Some(footer) = footer {
        headers.push(RecordHeader::new(FOOTER, Some(encode(&footer)?)));
    }
    if let Some(ApplicationProperties(map)) = application_properties {
        headers.push(RecordHeader::new(TYPED, Some(Bytes::from_static(b"amqp"))));
        for (name, value) in map {
            headers.push(RecordHeader::new(name, Some(encode(&value)?)));
        }
    }
    Ok(Record {
        offset: 0,
        timestamp: now_ms,
        key,
        value,
        headers,
    })
}

/// What the broker adds to every delivered message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerAnnotations {
    /// The record's offset (sequence number).
    pub sequence_number: i64,
    /// The record's timestamp (ms), the enqueued time.
    pub enqueued_time_ms: i64,
}

/// Converts a stored record back into the message delivered to an AMQP reader, adding the
/// broker annotations. Sections that fail to decode are dropped (logged at debug).
pub fn record_to_message(record: &Record, broker: BrokerAnnotations) -> AmqpMessage {
    let typed = record
        .headers
        .iter()
        .any(|h| h.key == TYPED && h.value.as_deref() == Some(b"amqp"));
    let mut body_kind = None;
    let mut header = None;
    let mut delivery_annotations = None;
    let mut properties = None;
    let mut annotations: OrderedMap<OwnedKey, Value> = OrderedMap::new();
    let mut footer = None;
    let mut app: OrderedMap<String, SimpleValue> = OrderedMap::new();
    for h in &record.headers {
        let bytes = h.value.as_deref().unwrap_or_default();
        match h.key.as_str() {
            BODY => body_kind = Some(bytes),
            HEADER => header = decode_section::<Header>(bytes),
            DELIVERY_ANNOTATIONS => {
                delivery_annotations = decode_section::<DeliveryAnnotations>(bytes);
            }
            PROPERTIES => properties = decode_section::<Properties>(bytes),
            ANNOTATIONS => {
                if let Some(MessageAnnotations(map)) = decode_section::<MessageAnnotations>(bytes) {
                    annotations = map;
                }
            }
            FOOTER => footer = decode_section::<Footer>(bytes),
            TYPED => {}
            name => {
                let value = match (&h.value, typed) {
                    (None, _) => SimpleValue::Null,
                    (Some(v), true) => match serde_amqp::from_slice::<SimpleValue>(v) {
                        Ok(value) => value,
                        Err(error) => {
                            tracing::debug!(header = name, %error, "undecodable property");
                            SimpleValue::Binary(Binary::from(v.to_vec()))
                        }
                    },
                    (Some(v), false) => SimpleValue::Binary(Binary::from(v.to_vec())),
                };
                app.insert(name.to_owned(), value);
            }
        }
    }
    let body = match body_kind {
        None => Body::Data(Batch::new(vec![Data(Binary::from(
            record.value.as_deref().unwrap_or_default().to_vec(),
        ))])),
        Some(b"empty") => Body::Empty,
        Some(_) => record
            .value
            .as_deref()
            .and_then(|v| decode_message(v).ok())
            .map(|m| m.body)
            .unwrap_or(Body::Empty),
    };
    annotations.insert(
        OwnedKey::Symbol(Symbol::from(SEQUENCE_NUMBER)),
        Value::Long(broker.sequence_number),
    );
    annotations.insert(
        OwnedKey::Symbol(Symbol::from(OFFSET)),
        Value::String(broker.sequence_number.to_string()),
    );
    annotations.insert(
        OwnedKey::Symbol(Symbol::from(ENQUEUED_TIME)),
        Value::Timestamp(Timestamp::from_milliseconds(broker.enqueued_time_ms)),
    );
    if let Some(key) = record
        .key
        .as_deref()
        .and_then(|k| std::str::from_utf8(k).ok())
    {
        annotations.insert(
            OwnedKey::Symbol(Symbol::from(PARTITION_KEY)),
            Value::String(key.to_owned()),
        );
    }
    Message {
        header,
        delivery_annotations,
        message_annotations: Some(MessageAnnotations(annotations)),
        properties,
        application_properties: (!app.is_empty()).then_some(ApplicationProperties(app)),
        body,
        footer,
    }
}

/// Adds the broker's runtime metrics (`runtime`, when the reader asked for them) to the
/// delivery annotations a message already carries from its producer; a producer's annotation
/// of the same name gives way to the broker's.
pub fn add_runtime_annotations(message: &mut AmqpMessage, runtime: Option<&DeliveryAnnotations>) {
    let Some(DeliveryAnnotations(runtime)) = runtime else {
        return;
    };
    let annotations = message
        .delivery_annotations
        .get_or_insert_with(|| DeliveryAnnotations(OrderedMap::new()));
    for (key, value) in runtime {
        annotations.0.insert(key.clone(), value.clone());
    }
}

fn decode_section<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match serde_amqp::from_slice::<T>(bytes) {
        Ok(section) => Some(section),
        Err(error) => {
            tracing::debug!(%error, "undecodable stored section");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fe2o3_amqp::types::messaging::{AmqpSequence, AmqpValue, MessageId};
    use fe2o3_amqp::types::primitives::Uuid;

    fn header<'a>(record: &'a Record, name: &str) -> Option<&'a [u8]> {
        record
            .headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value.as_deref())
    }

    fn every_type() -> ApplicationProperties {
        ApplicationProperties::builder()
            .insert("int", SimpleValue::Int(7))
            .insert("long", SimpleValue::Long(1 << 40))
            .insert("double", SimpleValue::Double(1.5.into()))
            .insert("bool", SimpleValue::Bool(true))
            .insert("string", SimpleValue::String("hello".into()))
            .insert("binary", SimpleValue::Binary(Binary::from(vec![0, 1, 2])))
            .insert("uuid", SimpleValue::Uuid(Uuid::from([7u8; 16])))
            .insert(
                "timestamp",
                SimpleValue::Timestamp(Timestamp::from_milliseconds(1_700_000_000_123)),
            )
            .build()
    }

    /// The stored headers a Kafka consumer sees, byte for byte (docs/MAPPING.md).
    #[test]
    fn application_properties_are_stored_amqp_encoded() {
        let message = Message::builder()
            .message_annotations(
                MessageAnnotations::builder()
                    .insert(PARTITION_KEY, Value::String("pk-1".into()))
                    .build(),
            )
            .application_properties(every_type())
            .body(Body::Data(Batch::new(vec![Data(Binary::from(
                b"payload".to_vec(),
            ))])))
            .build();
        let record = message_to_record(message, None, 42).unwrap();
        assert_eq!(record.key.as_deref(), Some(&b"pk-1"[..]));
        assert_eq!(record.value.as_deref(), Some(&b"payload"[..]));
        assert_eq!(record.timestamp, 42);
        assert_eq!(header(&record, TYPED), Some(&b"amqp"[..]));
        // The encoder picks the compact constructor (smallint) where one exists.
        assert_eq!(header(&record, "int"), Some(&[0x54, 7][..]));
        assert_eq!(
            header(&record, "long"),
            Some(&[0x81, 0, 0, 1, 0, 0, 0, 0, 0][..])
        );
        assert_eq!(
            header(&record, "double"),
            Some(&[0x82, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0][..])
        );
        assert_eq!(header(&record, "bool"), Some(&[0x41][..]));
        assert_eq!(header(&record, "string"), Some(&b"\xa1\x05hello"[..]));
        assert_eq!(header(&record, "binary"), Some(&[0xa0, 3, 0, 1, 2][..]));
        let mut uuid = vec![0x98];
        uuid.extend([7u8; 16]);
        assert_eq!(header(&record, "uuid"), Some(&uuid[..]));
        let mut ts = vec![0x83];
        ts.extend(1_700_000_000_123i64.to_be_bytes());
        assert_eq!(header(&record, "timestamp"), Some(&ts[..]));
        // The broker's partition-key annotation becomes the key, not a stored annotation.
        assert_eq!(header(&record, ANNOTATIONS), None);
        assert_eq!(header(&record, BODY), None);
    }

    /// The remaining simple types' header bytes, as documented in docs/MAPPING.md.
    #[test]
    fn compact_constructors_of_other_simple_types() {
        let cases: [(SimpleValue, &[u8]); 9] = [
            (SimpleValue::Uint(0), &[0x43]),
            (SimpleValue::Uint(5), &[0x52, 5]),
            (SimpleValue::Ulong(0), &[0x44]),
            (SimpleValue::Ulong(5), &[0x53, 5]),
            (SimpleValue::Long(-3), &[0x55, 0xfd]),
            (SimpleValue::Int(200), &[0x71, 0, 0, 0, 200]),
            (SimpleValue::Float(0.5.into()), &[0x72, 0x3f, 0, 0, 0]),
            (SimpleValue::Symbol(Symbol::from("sym")), b"\xa3\x03sym"),
            (SimpleValue::Null, &[0x40]),
        ];
        for (value, bytes) in cases {
            let encoded = encode(&value).unwrap();
            assert_eq!(&encoded[..], bytes, "{value:?}");
            assert_eq!(
                serde_amqp::from_slice::<SimpleValue>(&encoded).unwrap(),
                value
            );
        }
    }

    /// AMQP → record → AMQP keeps every section and every property type.
    #[test]
    fn amqp_round_trip_is_exact() {
        let properties = Properties::builder()
            .message_id(MessageId::Uuid(Uuid::from([3u8; 16])))
            .correlation_id(MessageId::String("corr".into()))
            .content_type(Symbol::from("application/json"))
            .subject("subj")
            .creation_time(Timestamp::from_milliseconds(5))
            .build();
        let message = Message::builder()
            .header(Header {
                durable: true,
                priority: 7.into(),
                ..Header::default()
            })
            .message_annotations(
                MessageAnnotations::builder()
                    .insert("x-custom", Value::Int(9))
                    .insert(SEQUENCE_NUMBER, Value::Long(999))
                    .build(),
            )
            .properties(properties.clone())
            .application_properties(every_type())
            .footer(Footer::builder().insert("f", Value::Bool(true)).build())
            .value(Value::List(vec![Value::Int(1), Value::String("x".into())]))
            .build();
        let message: AmqpMessage = message.map_body(|AmqpValue(v)| Body::Value(AmqpValue(v)));
        let record = message_to_record(message, None, 1_000).unwrap();
        assert_eq!(header(&record, BODY), Some(&b"amqp-value"[..]));
        let back = record_to_message(
            &record,
            BrokerAnnotations {
                sequence_number: 12,
                enqueued_time_ms: 1_000,
            },
        );
        assert_eq!(back.properties, Some(properties));
        assert_eq!(back.application_properties, Some(every_type()));
        assert!(back.header.as_ref().is_some_and(|h| h.durable));
        assert_eq!(
            back.body,
            Body::Value(AmqpValue(Value::List(vec![
                Value::Int(1),
                Value::String("x".into())
            ])))
        );
        let ann = back.message_annotations.unwrap().0;
        let get = |k: &str| ann.get(&OwnedKey::Symbol(Symbol::from(k))).cloned();
        assert_eq!(get("x-custom"), Some(Value::Int(9)));
        // Broker annotations are the gateway's, never the producer's.
        assert_eq!(get(SEQUENCE_NUMBER), Some(Value::Long(12)));
        assert_eq!(get(OFFSET), Some(Value::String("12".into())));
        assert_eq!(
            get(ENQUEUED_TIME),
            Some(Value::Timestamp(Timestamp::from_milliseconds(1_000)))
        );
        assert_eq!(get(PARTITION_KEY), None);
        assert!(back.footer.is_some());
    }

    #[test]
    fn other_body_kinds_round_trip() {
        let sequence: AmqpMessage = Message::builder()
            .body(Body::Sequence(Batch::new(vec![AmqpSequence(vec![
                Value::Int(1),
                Value::Int(2),
            ])])))
            .build();
        let two_data: AmqpMessage = Message::builder()
            .body(Body::Data(Batch::new(vec![
                Data(Binary::from(b"a".to_vec())),
                Data(Binary::from(b"b".to_vec())),
            ])))
            .build();
        let empty: AmqpMessage = Message::builder().body(Body::Empty).build();
        for (message, kind) in [
            (sequence, "amqp-sequence"),
            (two_data, "data"),
            (empty, "empty"),
        ] {
            let body = message.body.clone();
            let record = message_to_record(message, None, 0).unwrap();
            assert_eq!(header(&record, BODY), Some(kind.as_bytes()));
            let back = record_to_message(
                &record,
                BrokerAnnotations {
                    sequence_number: 0,
                    enqueued_time_ms: 0,
                },
            );
            assert_eq!(back.body, body, "{kind}");
        }
    }

    /// A record written over Kafka (no AMQP headers) reads as one data section with binary
    /// application properties and its UTF-8 key as the partition key.
    #[test]
    fn plain_kafka_record_reads_as_data_with_binary_properties() {
        let record = Record {
            offset: 5,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"user-1")),
            value: Some(Bytes::from_static(b"{\"a\":1}")),
            headers: vec![
                RecordHeader::new("trace", Some(Bytes::from_static(b"\x00\x01"))),
                RecordHeader::new("empty", None),
            ],
        };
        let message = record_to_message(
            &record,
            BrokerAnnotations {
                sequence_number: 5,
                enqueued_time_ms: 1_700_000_000_000,
            },
        );
        assert_eq!(
            message.body,
            Body::Data(Batch::new(vec![Data(Binary::from(b"{\"a\":1}".to_vec()))]))
        );
        let app = message.application_properties.unwrap().0;
        assert_eq!(
            app.get("trace"),
            Some(&SimpleValue::Binary(Binary::from(vec![0, 1])))
        );
        assert_eq!(app.get("empty"), Some(&SimpleValue::Null));
        let ann = message.message_annotations.unwrap().0;
        assert_eq!(
            ann.get(&OwnedKey::Symbol(Symbol::from(PARTITION_KEY))),
            Some(&Value::String("user-1".into()))
        );
        assert_eq!(
            ann.get(&OwnedKey::Symbol(Symbol::from(OFFSET))),
            Some(&Value::String("5".into()))
        );
        // A null value reads as an empty data section; a non-UTF-8 key is not a partition key.
        let tombstone = Record {
            key: Some(Bytes::from_static(b"\xff")),
            value: None,
            ..record
        };
        let message = record_to_message(
            &tombstone,
            BrokerAnnotations {
                sequence_number: 6,
                enqueued_time_ms: 0,
            },
        );
        assert_eq!(
            message.body,
            Body::Data(Batch::new(vec![Data(Binary::from(Vec::new()))]))
        );
        let ann = message.message_annotations.unwrap().0;
        assert!(!ann.contains_key(&OwnedKey::Symbol(Symbol::from(PARTITION_KEY))));
    }

    /// Bytes as azure-eventhub 5.15.1 sends `send_event(EventData("single"))`.
    #[test]
    fn pyamqp_single_event_fixture() {
        let bytes = b"\x00\x53\x75\xa0\x06single";
        let message = decode_message(bytes).unwrap();
        let record = message_to_record(message, Some("env-key"), 0).unwrap();
        assert_eq!(record.value.as_deref(), Some(&b"single"[..]));
        assert_eq!(record.key.as_deref(), Some(&b"env-key"[..]));
        assert!(record.headers.is_empty());
        assert!(decode_message(b"\x00\x53\x75\xa0\x09short").is_err());
        assert!(decode_message(b"\xff\xff").is_err());
    }

    /// Delivery annotations are stored under their own header, byte for byte as documented,
    /// and returned on delivery next to the broker's runtime metrics.
    #[test]
    fn delivery_annotations_are_stored_and_returned() {
        let sent = DeliveryAnnotations::builder()
            .insert("delann_key", Value::String("delann_value".into()))
            .build();
        let message: AmqpMessage = Message::builder()
            .delivery_annotations(sent.clone())
            .data(Binary::from(b"x".to_vec()))
            .build()
            .map_body(|Data(bin)| Body::Data(Batch::new(vec![Data(bin)])));
        let record = message_to_record(message, None, 0).unwrap();
        let mut stored = b"\x00\x53\x71\xc1\x1b\x02\xa3\x0adelann_key".to_vec();
        stored.extend_from_slice(b"\xa1\x0cdelann_value");
        assert_eq!(header(&record, DELIVERY_ANNOTATIONS), Some(&stored[..]));
        let broker = BrokerAnnotations {
            sequence_number: 0,
            enqueued_time_ms: 0,
        };
        let mut back = record_to_message(&record, broker);
        assert_eq!(back.delivery_annotations, Some(sent));
        let runtime = DeliveryAnnotations::builder()
            .insert("last_enqueued_sequence_number", Value::Long(4))
            .build();
        add_runtime_annotations(&mut back, Some(&runtime));
        let got = back.delivery_annotations.unwrap().0;
        let get = |k: &str| got.get(&OwnedKey::Symbol(Symbol::from(k))).cloned();
        assert_eq!(
            get("delann_key"),
            Some(Value::String("delann_value".into()))
        );
        assert_eq!(get("last_enqueued_sequence_number"), Some(Value::Long(4)));
        // Without the section, nothing is stored and no runtime metrics means none delivered.
        let plain = message_to_record(decode_message(b"\x00\x53\x75\xa0\x01x").unwrap(), None, 0);
        let plain = plain.unwrap();
        assert!(header(&plain, DELIVERY_ANNOTATIONS).is_none());
        let mut back = record_to_message(&plain, broker);
        add_runtime_annotations(&mut back, None);
        assert!(back.delivery_annotations.is_none());
    }
}
