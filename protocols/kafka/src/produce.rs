//! Produce (key 0): each partition's batch is validated (size, CRC, magic, one batch per
//! partition, no control batches, keys on compacted hubs) and stored as it came; the log
//! patches its base offset. A transactional batch is accepted only when the request names its
//! transactional id and the partition is in that producer's open transaction (Kafka's
//! partition verification, KIP-890 part 1), so no transaction is left hanging. Partitions of one request are appended concurrently,
//! so one group-commit sync covers them all; the response is sent once every append is durable.

use std::future::Future;
use std::task::Poll;

use bytes::Bytes;
use futures_util::future::join_all;
use hubgate_protocol::metrics;
use hubgate_storage::{CleanupPolicy, HubInfo, HubName, PartitionId, RecordBatch};
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::messages::ProduceResponse;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;

use crate::dispatch::Handler;
use crate::error::{code, codec_code, storage_code};

/// Answers a Produce request; `None` for `acks=0`, which gets no response.
///
/// `started` is dropped once every partition's append has been issued (the log assigns offsets
/// when an append is first polled), so the connection can start the next request while this
/// one waits for durability: appends stay in request order, syncs are shared.
pub(crate) async fn handle(
    h: &Handler,
    request: ProduceRequest,
    version: i16,
    started: Option<oneshot::Sender<()>>,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let txn_id = request.transactional_id.as_ref().map(|t| t.to_string());
    let txn_id = txn_id.as_deref();
    let valid_acks = matches!(acks, -1..=1);
    let mut hubs = Vec::with_capacity(request.topic_data.len());
    for topic in &request.topic_data {
        hubs.push(match HubName::new(topic.name.as_str()) {
            Ok(name) => h.storage.hub(&name).await.map_err(|e| storage_code(&e)),
            Err(_) => Err(code::INVALID_TOPIC_EXCEPTION),
        });
    }
    let mut names = Vec::with_capacity(request.topic_data.len());
    let mut appends = Vec::new();
    for (t, (topic, hub)) in request.topic_data.into_iter().zip(&hubs).enumerate() {
        names.push(topic.name);
        for p in topic.partition_data {
            appends.push(async move {
                let result = if valid_acks {
                    match hub {
                        Ok(hub) => {
                            let target = Target {
                                hub,
                                index: p.index,
                                txn_id,
                            };
                            produce_partition(h, target, p.records, version).await
                        }
                        Err(error_code) => Err(Failure::code(*error_code)),
                    }
                } else {
                    Err(Failure::code(code::INVALID_REQUIRED_ACKS))
                };
                (t, response(p.index, result))
            });
        }
    }
    let mut all = std::pin::pin!(join_all(appends));
    let first = std::future::poll_fn(|cx| Poll::Ready(all.as_mut().poll(cx))).await;
    drop(started);
    let results = match first {
        Poll::Ready(results) => results,
        Poll::Pending => all.await,
    };
    let mut topics: Vec<TopicProduceResponse> = names
        .into_iter()
        .map(|name| TopicProduceResponse::default().with_name(name))
        .collect();
    for (t, partition) in results {
        topics[t].partition_responses.push(partition);
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(topics))
}

/// A partition's successful append.
struct Stored {
    base_offset: i64,
    log_append_time: i64,
    log_start: i64,
}

/// Why a partition's batch was refused.
struct Failure {
    error_code: i16,
    message: Option<&'static str>,
    /// Per-record errors (v8+), by index within the batch.
    record_errors: Vec<i32>,
}

impl Failure {
    fn code(error_code: i16) -> Self {
        Self {
            error_code,
            message: None,
            record_errors: Vec::new(),
        }
    }

    fn with_message(error_code: i16, message: &'static str) -> Self {
        Self {
            message: Some(message),
            ..Self::code(error_code)
        }
    }
}

fn response(index: i32, result: Result<Stored, Failure>) -> PartitionProduceResponse {
    let p = PartitionProduceResponse::default().with_index(index);
    match result {
        Ok(stored) => p
            .with_base_offset(stored.base_offset)
            .with_log_append_time_ms(stored.log_append_time)
            .with_log_start_offset(stored.log_start),
        Err(failure) => p
            .with_error_code(failure.error_code)
            .with_base_offset(-1)
            .with_error_message(failure.message.map(StrBytes::from_static_str))
            .with_record_errors(
                failure
                    .record_errors
                    .into_iter()
                    .map(|i| BatchIndexAndErrorMessage::default().with_batch_index(i))
                    .collect(),
            ),
    }
}

/// INVALID_RECORD exists from Produce v8; older clients get CORRUPT_MESSAGE for the same cases.
fn invalid_record(version: i16) -> i16 {
    if version >= 8 {
        code::INVALID_RECORD
    } else {
        code::CORRUPT_MESSAGE
    }
}

/// Where a partition's batch goes.
struct Target<'a> {
    hub: &'a HubInfo,
    index: i32,
    /// The request's transactional id.
    txn_id: Option<&'a str>,
}

async fn produce_partition(
    h: &Handler,
    target: Target<'_>,
    records: Option<Bytes>,
    version: i16,
) -> Result<Stored, Failure> {
    let Target { hub, index, txn_id } = target;
    let partition = u32::try_from(index)
        .ok()
        .filter(|i| *i < hub.config.partitions)
        .ok_or(Failure::code(code::UNKNOWN_TOPIC_OR_PARTITION))?;
    let records = records
        .filter(|r| !r.is_empty())
        .ok_or(Failure::with_message(invalid_record(version), "no records"))?;
    let max = hub.config.max_message_bytes as usize;
    if records.len() > max {
        return Err(Failure::code(code::MESSAGE_TOO_LARGE));
    }
    let limits = hubgate_storage::Limits {
        max_batch_bytes: max,
        ..hubgate_storage::Limits::default()
    };
    let mut batches =
        RecordBatch::split(records, &limits).map_err(|e| Failure::code(codec_code(&e)))?;
    let batch = match (batches.pop(), batches.is_empty()) {
        (Some(batch), true) => batch,
        _ => {
            return Err(Failure::with_message(
                invalid_record(version),
                "a produce request must carry exactly one batch per partition",
            ));
        }
    };
    let header = *batch.header();
    if header.is_control() {
        return Err(Failure::with_message(
            invalid_record(version),
            "clients may not send control batches",
        ));
    }
    if header.record_count <= 0 {
        return Err(Failure::with_message(
            invalid_record(version),
            "empty batch",
        ));
    }
    if hub.config.cleanup_policy != CleanupPolicy::Delete {
        let records = batch
            .records(&limits)
            .map_err(|e| Failure::code(codec_code(&e)))?;
        let keyless: Vec<i32> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.key.is_none())
            .map(|(i, _)| i as i32)
            .collect();
        if !keyless.is_empty() {
            return Err(Failure {
                error_code: invalid_record(version),
                message: Some("compacted topics accept only records with a key"),
                record_errors: if version >= 8 { keyless } else { Vec::new() },
            });
        }
    }
    let id = PartitionId::new(hub.name.clone(), partition);
    if header.is_transactional() {
        let Some(txn_id) = txn_id else {
            return Err(Failure::with_message(
                code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                "transactional batches need the request's transactional id",
            ));
        };
        h.txns
            .verify(txn_id, header.producer_id, header.producer_epoch, &id)
            .map_err(|error_code| {
                Failure::with_message(error_code, "the partition is not in the transaction")
            })?;
    }
    let (records, bytes) = (header.record_count as u64, batch.len() as u64);
    match h.storage.append(&id, batch).await {
        Ok(appended) => {
            if !appended.duplicate {
                metrics::global().records_in("kafka", hub.name.as_str(), records, bytes);
            }
            Ok(Stored {
                base_offset: appended.base_offset,
                log_append_time: appended.log_append_time.unwrap_or(-1),
                log_start: appended.log_start,
            })
        }
        Err(e) => Err(Failure::code(storage_code(&e))),
    }
}
