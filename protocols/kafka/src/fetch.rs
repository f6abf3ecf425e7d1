//! Fetch (key 1): stored batches returned as they are, long-polling until `min_bytes` are
//! available or `max_wait_ms` passes, woken by appends.
//!
//! Size rules (KIP-74): each partition gets at most `partition_max_bytes` and the response at
//! most `max_bytes`, except that the first batch of the first partition with data is returned
//! whole even when it is larger, so a consumer can always make progress. A fetch offset inside
//! a batch returns that whole batch; clients skip the records before their offset.
//! Fetch sessions (KIP-227) are declined: the response always carries session id 0, so clients
//! keep sending full fetches.
//!
//! Isolation (KIP-98): `READ_COMMITTED` returns only batches below the last stable offset, with
//! the aborted transactions that overlap them; aborted data and markers are served as stored
//! and the clients filter them. `READ_UNCOMMITTED` reads up to the high watermark and gets a
//! null aborted list. Both get the last stable offset.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::select_all;
use hubgate_protocol::metrics;
use hubgate_storage::{AbortedTxn, Error as StorageError, PartitionId, PartitionState};
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use tokio::time::Instant;

use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::lookup;

/// Longest a fetch is held, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(300);

/// One requested partition, resolved.
struct Wanted {
    index: i32,
    offset: i64,
    max_bytes: usize,
    /// The partition, or the error code for the whole entry.
    target: Result<PartitionId, i16>,
}

/// Largest Fetch response the broker builds, whatever the client asks for: Kafka's
/// `fetch.max.bytes` default, 55 MiB.
pub(crate) const FETCH_MAX_BYTES: usize = 55 * 1024 * 1024;

/// Answers a Fetch request.
pub(crate) async fn handle(h: &Handler, request: FetchRequest, version: i16) -> FetchResponse {
    if version >= 7 && request.session_epoch > 0 {
        return FetchResponse::default().with_error_code(code::FETCH_SESSION_ID_NOT_FOUND);
    }
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    // The client's `max_bytes` is min'ed with the broker's cap (Kafka's `fetch.max.bytes`).
    let max_bytes = if request.max_bytes > 0 {
        (request.max_bytes as usize).min(FETCH_MAX_BYTES)
    } else {
        FETCH_MAX_BYTES
    };
    let read_committed = request.isolation_level == 1;

    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let hub = lookup::topic(h, topic.topic.as_str()).await;
        let wanted: Vec<Wanted> = topic
            .partitions
            .iter()
            .map(|p| Wanted {
                index: p.partition,
                offset: p.fetch_offset,
                max_bytes: p.partition_max_bytes.max(0) as usize,
                target: lookup::partition(&hub, p.partition),
            })
            .collect();
        topics.push((topic.topic, wanted));
    }

    loop {
        let read = read_all(h, &topics, max_bytes, read_committed).await;
        let now = Instant::now();
        if read.bytes >= min_bytes || read.errors || now >= deadline || read.watch.is_empty() {
            return FetchResponse::default().with_responses(read.topics);
        }
        // Wait for an append to any partition past what was just read, or the deadline.
        let waits = read.watch.iter().map(|(id, seen)| {
            let storage = &h.storage;
            Box::pin(async move {
                if read_committed {
                    storage.wait_stable(id, *seen, deadline).await
                } else {
                    storage.wait_for(id, *seen, deadline).await
                }
            })
        });
        let _ = select_all(waits).await;
        if Instant::now() >= deadline {
            let read = read_all(h, &topics, max_bytes, read_committed).await;
            return FetchResponse::default().with_responses(read.topics);
        }
    }
}

struct Read {
    topics: Vec<FetchableTopicResponse>,
    bytes: usize,
    errors: bool,
    /// Partitions to wait on, with the high watermark (read committed: last stable offset)
    /// seen.
    watch: Vec<(PartitionId, i64)>,
}

async fn read_all(
    h: &Handler,
    topics: &[(kafka_protocol::messages::TopicName, Vec<Wanted>)],
    max_bytes: usize,
    read_committed: bool,
) -> Read {
    let mut out = Read {
        topics: Vec::with_capacity(topics.len()),
        bytes: 0,
        errors: false,
        watch: Vec::new(),
    };
    for (name, wanted) in topics {
        let mut partitions = Vec::with_capacity(wanted.len());
        for w in wanted {
            let data = PartitionData::default()
                .with_partition_index(w.index)
                .with_aborted_transactions(read_committed.then(Vec::new));
            let id = match &w.target {
                Ok(id) => id,
                Err(error_code) => {
                    out.errors = true;
                    partitions.push(data.with_error_code(*error_code).with_high_watermark(-1));
                    continue;
                }
            };
            let budget = w.max_bytes.min(max_bytes.saturating_sub(out.bytes));
            let first = out.bytes == 0;
            let read = read_partition(h, id, w.offset, budget, first, read_committed).await;
            match read {
                Ok((records, state, aborted)) => {
                    out.bytes += records.len();
                    let seen = if read_committed {
                        state.last_stable
                    } else {
                        state.high_watermark
                    };
                    out.watch.push((id.clone(), seen.max(w.offset)));
                    let aborted = read_committed.then(|| {
                        aborted
                            .iter()
                            .map(|a| {
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(a.producer_id))
                                    .with_first_offset(a.first_offset)
                            })
                            .collect()
                    });
                    partitions.push(
                        data.with_high_watermark(state.high_watermark)
                            .with_last_stable_offset(state.last_stable)
                            .with_log_start_offset(state.log_start)
                            .with_aborted_transactions(aborted)
                            .with_records(Some(records)),
                    );
                }
                Err((error_code, state)) => {
                    out.errors = true;
                    let (hw, lso, start) = state.map_or((-1, -1, -1), |s| {
                        (s.high_watermark, s.last_stable, s.log_start)
                    });
                    partitions.push(
                        data.with_error_code(error_code)
                            .with_high_watermark(hw)
                            .with_last_stable_offset(lso)
                            .with_log_start_offset(start),
                    );
                }
            }
        }
        out.topics.push(
            FetchableTopicResponse::default()
                .with_topic(name.clone())
                .with_partitions(partitions),
        );
    }
    out
}

/// What one partition read returned: the records section, the partition state and (read
/// committed) the aborted transactions overlapping it.
type PartitionRead = (Bytes, PartitionState, Vec<AbortedTxn>);

/// Reads one partition: whole batches within `budget`, or the first batch alone when `first`
/// and it is larger; only below the last stable offset when `read_committed`.
async fn read_partition(
    h: &Handler,
    id: &PartitionId,
    offset: i64,
    budget: usize,
    first: bool,
    read_committed: bool,
) -> Result<PartitionRead, (i16, Option<PartitionState>)> {
    if budget == 0 && !first {
        let state = h
            .storage
            .partition(id)
            .await
            .map_err(|e| (storage_code(&e), None))?;
        if offset < state.log_start || offset > state.high_watermark {
            return Err((code::OFFSET_OUT_OF_RANGE, Some(state)));
        }
        return Ok((Bytes::new(), state, Vec::new()));
    }
    let read = if read_committed {
        h.storage
            .read_committed(id, offset, budget.max(1))
            .await
            .map(|r| (r.batches, r.state, r.aborted))
    } else {
        h.storage
            .read(id, offset, budget.max(1))
            .await
            .map(|r| (r.batches, r.state, Vec::new()))
    };
    let (batches, state, aborted) = read.map_err(|e| {
        let state = match &e {
            StorageError::OffsetOutOfRange {
                log_start,
                high_watermark,
                ..
            } => Some(PartitionState {
                log_start: *log_start,
                high_watermark: *high_watermark,
                last_stable: *high_watermark,
                ..PartitionState::default()
            }),
            _ => None,
        };
        (storage_code(&e), state)
    })?;
    let mut kept = 0;
    let mut size = 0;
    for batch in &batches {
        if size + batch.len() > budget && !(first && kept == 0) {
            break;
        }
        size += batch.len();
        kept += 1;
    }
    let delivered: i64 = batches[..kept]
        .iter()
        .map(|b| i64::from(b.header().record_count))
        .sum();
    metrics::global().records_out(
        "kafka",
        id.hub.as_str(),
        delivered.max(0) as u64,
        size as u64,
    );
    let records = match &batches[..kept] {
        [] => Bytes::new(),
        [one] => one.as_bytes().clone(),
        many => {
            let mut buf = BytesMut::with_capacity(size);
            for batch in many {
                buf.extend_from_slice(batch.as_bytes());
            }
            buf.freeze()
        }
    };
    Ok((records, state, aborted))
}
