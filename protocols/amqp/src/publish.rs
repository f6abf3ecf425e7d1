//! Send links: clients publish events to `{hub}` or `{hub}/Partitions/{id}`.
//!
//! Each transfer becomes one append: a plain message is one record, a `0x80013700` batch is
//! one record per inner message. The delivery is accepted only after the append returned
//! (durable under strict durability); a failed append rejects it. Credit is refilled as
//! deliveries are settled, so a client never waits for credit while its sends are acked.

use std::num::NonZeroU32;
use std::sync::Arc;

use fe2o3_amqp::link::{Receiver, RecvError};
use fe2o3_amqp::types::messaging::{Body, Data};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::{Symbol, Value};
use hubgate_protocol::{
    AutoCreate, CancellationToken, Right, hub_or_create, metrics, partition_for_key,
};
use hubgate_storage::{EncodeOptions, HubName, PartitionId, Record, RecordBatch};
use tracing::debug;

use crate::access::Access;
use crate::error::{Error, amqp_error};
use crate::mapping::{self, AmqpMessage};
use crate::session::AcceptOptions;
use crate::{Shared, now_ms, pad};

/// Message format of an Event Hubs batch: each data section is one encoded message.
pub(crate) const BATCH_FORMAT: u32 = 0x8001_3700;

/// Capability of the JS/.NET idempotent producer, which this gateway does not offer.
const IDEMPOTENT_PRODUCER: &str = "com.microsoft:idempotent-producer";

/// Bytes each record adds to a stored batch beyond its key, value and header bytes (varints
/// and lengths, generously).
const RECORD_OVERHEAD: usize = 32;
/// A stored batch's fixed header.
const BATCH_OVERHEAD: usize = 61;

/// Where a send link's events go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    hub: HubName,
    partitions: NonZeroU32,
    partition: Option<u32>,
    max_batch_bytes: usize,
}

/// Checks the target of a send link and chooses how it is accepted.
pub(crate) async fn prepare(
    shared: &Shared,
    attach: &Attach,
    hub: &str,
    partition: Option<u32>,
    auto_create: AutoCreate,
) -> Result<(Target, AcceptOptions), Error> {
    let wants_idempotence = attach
        .desired_capabilities
        .as_ref()
        .is_some_and(|caps| caps.0.iter().any(|c| c.as_str() == IDEMPOTENT_PRODUCER));
    if wants_idempotence {
        return Err(Error::NotImplemented(
            "idempotent publishing is not supported by this gateway".into(),
        ));
    }
    let name = HubName::new(hub)?;
    let info = hub_or_create(shared.storage.as_ref(), &name, auto_create).await?;
    let partitions = NonZeroU32::new(info.config.partitions)
        .ok_or_else(|| Error::NotFound(format!("event hub `{hub}` has no partitions")))?;
    if let Some(p) = partition
        && p >= partitions.get()
    {
        return Err(Error::NotFound(format!(
            "partition `{p}` of event hub `{hub}` does not exist"
        )));
    }
    let mut properties = pad::fields();
    properties.insert(
        Symbol::from("com.microsoft:tracking-id"),
        Value::String(attach.name.clone()),
    );
    let options = AcceptOptions {
        max_message_size: Some(shared.config.max_message_bytes),
        properties: Some(properties),
        ..AcceptOptions::default()
    };
    let target = Target {
        hub: name,
        partitions,
        partition,
        max_batch_bytes: usize::try_from(info.config.max_message_bytes).unwrap_or(usize::MAX),
    };
    Ok((target, options))
}

/// Receives and stores transfers until the link or connection ends, or until the
/// connection's credentials no longer allow sending to the hub (the link is then detached
/// with `amqp:unauthorized-access`; a transfer being stored is finished first).
pub(crate) async fn run(
    shared: Arc<Shared>,
    access: Arc<Access>,
    mut receiver: Receiver,
    target: Target,
    shutdown: CancellationToken,
) {
    let revoked = access.revoked(target.hub.as_str(), Right::Send);
    tokio::pin!(revoked);
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => {
                let error = Error::ShuttingDown.to_amqp();
                let _ = receiver.close_with_error(error).await;
                return;
            }
            () = &mut revoked => {
                close_unauthorized(receiver, &target).await;
                return;
            }
            delivery = receiver.recv::<Body<Value>>() => delivery,
        };
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(RecvError::MessageDecode(error)) => {
                debug!(%error, "undecodable transfer");
                let error = amqp_error(
                    fe2o3_amqp::types::definitions::AmqpError::DecodeError,
                    format!("cannot decode message: {error}"),
                );
                let _ = receiver.close_with_error(error).await;
                return;
            }
            Err(error) => {
                debug!(%error, "publish link ended");
                let _ = receiver.close().await;
                return;
            }
        };
        if access.authorize(target.hub.as_str(), Right::Send).is_err() {
            // Expired while this transfer was on its way: it is not stored.
            close_unauthorized(receiver, &target).await;
            return;
        }
        let format = delivery.message_format().unwrap_or(0);
        let (info, message) = delivery.into_parts();
        let stored = ingest(&shared, &target, format, message).await;
        let settled = match stored {
            Ok(count) => {
                debug!(records = count, "stored");
                receiver.accept(info).await
            }
            Err(error) => {
                debug!(%error, "transfer rejected");
                receiver.reject(info, error.to_amqp()).await
            }
        };
        if let Err(error) = settled {
            debug!(%error, "disposition not sent");
            return;
        }
    }
}

/// Detaches a send link whose credentials expired.
async fn close_unauthorized(receiver: Receiver, target: &Target) {
    let error = Error::Unauthorized(format!(
        "Unauthorized access. The token for '{}' expired and was not renewed.",
        target.hub
    ));
    debug!(%error, "closing send link");
    let _ = receiver.close_with_error(error.to_amqp()).await;
}

/// Turns one transfer into records and appends them; returns how many were stored.
async fn ingest(
    shared: &Shared,
    target: &Target,
    format: u32,
    message: AmqpMessage,
) -> Result<usize, Error> {
    let records = records_of(format, message, now_ms())?;
    if records.is_empty() {
        return Ok(0);
    }
    let index = match target.partition {
        Some(p) => p,
        None => match records[0].key.as_deref() {
            Some(key) => partition_for_key(key, target.partitions),
            None => shared.round_robin.next(target.partitions),
        },
    };
    let partition = PartitionId::new(target.hub.clone(), index);
    let count = records.len();
    for batch in encode_batches(records, target.max_batch_bytes)? {
        let bytes = batch.len() as u64;
        let stored = batch.header().record_count.max(0) as u64;
        shared.storage.append(&partition, batch).await?;
        metrics::global().records_in("amqp", target.hub.as_str(), stored, bytes);
    }
    Ok(count)
}

/// The records of one transfer: the message itself, or each inner message of a batch.
pub(crate) fn records_of(
    format: u32,
    message: AmqpMessage,
    now_ms: i64,
) -> Result<Vec<Record>, Error> {
    if format != BATCH_FORMAT {
        return Ok(vec![mapping::message_to_record(message, None, now_ms)?]);
    }
    let envelope_key = mapping::partition_key(&message);
    let sections = match message.body {
        Body::Data(sections) => sections,
        Body::Empty => return Ok(Vec::new()),
        _ => {
            return Err(Error::Decode(
                "a batch message must carry data sections".into(),
            ));
        }
    };
    sections
        .into_iter()
        .map(|Data(bytes)| {
            let inner = mapping::decode_message(&bytes)?;
            mapping::message_to_record(inner, envelope_key.as_deref(), now_ms)
        })
        .collect()
}

fn record_size(record: &Record) -> usize {
    RECORD_OVERHEAD
        + record.key.as_ref().map_or(0, |k| k.len())
        + record.value.as_ref().map_or(0, |v| v.len())
        + record
            .headers
            .iter()
            .map(|h| 10 + h.key.len() + h.value.as_ref().map_or(0, |v| v.len()))
            .sum::<usize>()
}

/// Encodes `records` into as few stored batches as the hub's batch limit allows.
pub(crate) fn encode_batches(
    records: Vec<Record>,
    max_batch_bytes: usize,
) -> Result<Vec<RecordBatch>, Error> {
    let mut batches = Vec::new();
    let mut chunk: Vec<Record> = Vec::new();
    let mut size = BATCH_OVERHEAD;
    for record in records {
        let len = record_size(&record);
        if !chunk.is_empty() && size + len > max_batch_bytes {
            batches.push(encode(&mut chunk)?);
            size = BATCH_OVERHEAD;
        }
        size += len;
        chunk.push(record);
    }
    if !chunk.is_empty() {
        batches.push(encode(&mut chunk)?);
    }
    for batch in &batches {
        if batch.len() > max_batch_bytes {
            return Err(Error::MessageTooLarge(format!(
                "an event of {} bytes exceeds the event hub's limit of {max_batch_bytes} bytes",
                batch.len()
            )));
        }
    }
    Ok(batches)
}

fn encode(chunk: &mut Vec<Record>) -> Result<RecordBatch, Error> {
    for (i, record) in chunk.iter_mut().enumerate() {
        record.offset = i64::try_from(i).unwrap_or(i64::MAX);
    }
    let batch = RecordBatch::encode(chunk, &EncodeOptions::default())
        .map_err(|e| Error::Storage(e.into()))?;
    chunk.clear();
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use fe2o3_amqp::types::messaging::{Batch, Message, MessageAnnotations};
    use fe2o3_amqp::types::primitives::Binary;

    fn data(bytes: &[u8]) -> Body<Value> {
        Body::Data(Batch::new(vec![Data(Binary::from(bytes.to_vec()))]))
    }

    /// An Event Hubs batch as `send_batch(partition_key=…)` builds it: the key on the envelope
    /// and on each inner message, one data section per encoded inner message.
    #[test]
    fn batch_envelope_gives_one_record_per_inner_message() {
        let key = MessageAnnotations::builder()
            .insert(mapping::PARTITION_KEY, Value::String("pk".into()))
            .build();
        let inner: Vec<Data> = (0..3)
            .map(|i| {
                let m: AmqpMessage = Message::builder()
                    .message_annotations(key.clone())
                    .body(data(format!("event-{i}").as_bytes()))
                    .build();
                Data(Binary::from(mapping::encode_message(&m).unwrap().to_vec()))
            })
            .collect();
        let envelope: AmqpMessage = Message::builder()
            .message_annotations(key)
            .body(Body::Data(Batch::new(inner)))
            .build();
        let records = records_of(BATCH_FORMAT, envelope, 7).unwrap();
        assert_eq!(records.len(), 3);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.value.as_deref(), Some(format!("event-{i}").as_bytes()));
            assert_eq!(r.key.as_deref(), Some(&b"pk"[..]));
            assert_eq!(r.timestamp, 7);
        }
        // Format 0 keeps the message whole, even with several data sections.
        let plain: AmqpMessage = Message::builder().body(data(b"x")).build();
        assert_eq!(records_of(0, plain, 0).unwrap().len(), 1);
        // A batch whose section is not a message is a decode error, not a panic.
        let bad: AmqpMessage = Message::builder().body(data(b"\xff\x00")).build();
        assert!(matches!(
            records_of(BATCH_FORMAT, bad, 0),
            Err(Error::Decode(_))
        ));
        let value: AmqpMessage = Message::builder()
            .body(Body::Value(fe2o3_amqp::types::messaging::AmqpValue(
                Value::Int(1),
            )))
            .build();
        assert!(matches!(
            records_of(BATCH_FORMAT, value, 0),
            Err(Error::Decode(_))
        ));
    }

    fn record(len: usize) -> Record {
        Record {
            value: Some(Bytes::from(vec![b'x'; len])),
            ..Record::default()
        }
    }

    #[test]
    fn batches_split_at_the_hub_limit_and_single_records_over_it_fail() {
        let limit = 10_000;
        let batches = encode_batches((0..10).map(|_| record(3_000)).collect(), limit).unwrap();
        assert!(batches.len() >= 4, "{}", batches.len());
        assert!(batches.iter().all(|b| b.len() <= limit));
        let total: usize = batches
            .iter()
            .map(|b| b.records(&Default::default()).unwrap().len())
            .sum();
        assert_eq!(total, 10);
        assert_eq!(encode_batches(vec![record(100)], limit).unwrap().len(), 1);
        assert!(matches!(
            encode_batches(vec![record(limit)], limit),
            Err(Error::MessageTooLarge(_))
        ));
    }
}
