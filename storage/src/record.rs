//! The protocol-neutral record every front end converts its messages into.

use bytes::Bytes;

/// Offset of a record within its partition (the Event Hubs sequence number).
pub type Offset = i64;

/// One record: what a Kafka producer sends, an AMQP message or an HTTPS event becomes.
///
/// Headers keep their order and duplicates (Kafka KIP-82 allows both).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Absolute offset. When encoding a new batch the offsets only need to be relative to
    /// [`EncodeOptions::base_offset`](crate::batch::EncodeOptions::base_offset); the log
    /// assigns the real ones on append.
    pub offset: Offset,
    /// Milliseconds since the Unix epoch (create time or log-append time, per the batch).
    pub timestamp: i64,
    /// Partition key; `None` is a null key, distinct from an empty one.
    pub key: Option<Bytes>,
    /// Payload; `None` is a null value (a tombstone on compacted hubs).
    pub value: Option<Bytes>,
    /// Headers in wire order, duplicates preserved.
    pub headers: Vec<Header>,
}

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name (UTF-8 on the Kafka wire).
    pub key: String,
    /// Header value; `None` is a null value.
    pub value: Option<Bytes>,
}

impl Header {
    /// Builds a header from a name and a value.
    pub fn new(key: impl Into<String>, value: Option<Bytes>) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}
