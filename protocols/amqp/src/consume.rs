//! Receive links: clients read one partition through a consumer group.
//!
//! The start position comes from the selector filter ([`crate::filter`]); owner levels and the
//! reader cap from [`crate::owners`]. Records are read from the log and sent as link credit
//! allows (`send_batchable` waits for credit); when caught up the link waits on
//! [`Transactions::wait_stable`](hubgate_storage::Transactions::wait_stable), woken by appends.
//! Receivers read committed: only below the last stable offset, without aborted or control
//! records (`hubgate_storage::committed_records`); sequence numbers keep their offsets.
//!
//! Event Hubs consumers (a selector filter or an owner level) get
//! pre-settled deliveries, because pyamqp never settles them; other clients get the settle
//! mode they ask for.

use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::link::Sender;
use fe2o3_amqp::link::delivery::Sendable;
use fe2o3_amqp::types::messaging::DeliveryAnnotations;
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::{OrderedMap, Symbol, Timestamp, Value};
use fe2o3_amqp_types::messaging::annotations::OwnedKey;
use hubgate_protocol::{CancellationToken, Right, hub_or_create, metrics};
use hubgate_storage::{HubName, PartitionId, PartitionState, TimeQuery};
use tracing::debug;

use crate::access::Access;
use crate::error::Error;
use crate::filter::{self, StartPosition};
use crate::mapping::{self, BrokerAnnotations};
use crate::owners::Ownership;
use crate::session::AcceptOptions;
use crate::{Shared, now_ms, pad};

/// Owner level (epoch) link property, a long.
const EPOCH: &str = "com.microsoft:epoch";
/// Capability asking for last-enqueued-event properties on each delivery.
const RUNTIME_METRIC: &str = "com.microsoft:enable-receiver-runtime-metric";
/// Most bytes read from the log at once.
const READ_BYTES: usize = 1024 * 1024;
/// How long one wait for new records lasts before it is renewed.
const WAIT: Duration = Duration::from_secs(30);

/// A receive link, ready to run.
#[derive(Debug)]
pub(crate) struct Plan {
    partition: PartitionId,
    start: i64,
    ownership: Ownership,
    runtime_metric: bool,
}

fn epoch(attach: &Attach) -> Result<Option<i64>, Error> {
    let Some(value) = attach
        .properties
        .as_ref()
        .and_then(|p| p.get(&Symbol::from(EPOCH)))
    else {
        return Ok(None);
    };
    match value {
        Value::Long(e) => Ok(Some(*e)),
        Value::Int(e) => Ok(Some(i64::from(*e))),
        Value::Short(e) => Ok(Some(i64::from(*e))),
        Value::Uint(e) => Ok(Some(i64::from(*e))),
        Value::Null => Ok(None),
        other => Err(Error::InvalidField(format!(
            "{EPOCH} must be a long, got {other:?}"
        ))),
    }
}

/// What a receive link asks to read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    /// The hub.
    pub(crate) hub: &'a str,
    /// The consumer group.
    pub(crate) group: &'a str,
    /// The partition.
    pub(crate) partition: u32,
}

/// Checks the connection may listen to the hub and the source of a receive link, registers
/// the reader and resolves where it starts.
pub(crate) async fn prepare(
    shared: &Shared,
    access: &Access,
    attach: &Attach,
    reader: Reader<'_>,
) -> Result<(Plan, AcceptOptions), Error> {
    let Reader {
        hub,
        group,
        partition: index,
    } = reader;
    access.authorize(hub, Right::Listen)?;
    let name = HubName::new(hub)?;
    let auto_create = access.auto_create(hub, shared.config.auto_create);
    let info = hub_or_create(shared.storage.as_ref(), &name, auto_create).await?;
    if index >= info.config.partitions {
        return Err(Error::NotFound(format!(
            "partition `{index}` of event hub `{hub}` does not exist"
        )));
    }
    let filter_set = attach.source.as_ref().and_then(|s| s.filter.as_ref());
    let start = filter::start_position(filter_set)?;
    let epoch = epoch(attach)?;
    let runtime_metric = attach
        .desired_capabilities
        .as_ref()
        .is_some_and(|caps| caps.0.iter().any(|c| c.as_str() == RUNTIME_METRIC));
    let event_hubs = epoch.is_some() || filter_set.is_some_and(|f| !f.is_empty());
    let partition = PartitionId::new(name, index);
    let start = resolve(shared, &partition, start).await?;
    let ownership = shared.owners.register(hub, group, index, epoch)?;
    debug!(%partition, group, start, ?epoch, "reader attached");
    let mut properties = pad::fields();
    if let Some(e) = epoch {
        properties.insert(Symbol::from(EPOCH), Value::Long(e));
    }
    let options = AcceptOptions {
        settled_sender: event_hubs,
        max_message_size: Some(shared.config.max_message_bytes),
        offered: if runtime_metric {
            vec![Symbol::from(RUNTIME_METRIC)]
        } else {
            Vec::new()
        },
        properties: Some(properties),
    };
    Ok((
        Plan {
            partition,
            start,
            ownership,
            runtime_metric,
        },
        options,
    ))
}

/// The first offset a reader starting at `start` gets.
async fn resolve(
    shared: &Shared,
    partition: &PartitionId,
    start: StartPosition,
) -> Result<i64, Error> {
    let state = shared.storage.partition(partition).await?;
    let clamp = |offset: i64| offset.clamp(state.log_start, state.high_watermark);
    Ok(match start {
        StartPosition::Earliest => state.log_start,
        StartPosition::Latest => state.high_watermark,
        StartPosition::Offset { offset, inclusive } => clamp(if inclusive {
            offset
        } else {
            offset.saturating_add(1)
        }),
        StartPosition::EnqueuedTime { ms, inclusive } => {
            let at = if inclusive { ms } else { ms.saturating_add(1) };
            shared
                .storage
                .offset_for_timestamp(partition, TimeQuery::AtOrAfter(at))
                .await?
                .map_or(state.high_watermark, |found| clamp(found.offset))
        }
    })
}

fn last_enqueued(state: &PartitionState) -> DeliveryAnnotations {
    let mut map: OrderedMap<OwnedKey, Value> = OrderedMap::new();
    let last = state.high_watermark - 1;
    let empty = state.is_empty();
    let key = |k: &str| OwnedKey::Symbol(Symbol::from(k));
    map.insert(
        key("last_enqueued_sequence_number"),
        Value::Long(if empty { -1 } else { last }),
    );
    map.insert(
        key("last_enqueued_offset"),
        Value::String(if empty { "-1".into() } else { last.to_string() }),
    );
    map.insert(
        key("last_enqueued_time_utc"),
        Value::Timestamp(Timestamp::from_milliseconds(
            state.last_append_ms.unwrap_or(0),
        )),
    );
    map.insert(
        key("runtime_info_retrieval_time_utc"),
        Value::Timestamp(Timestamp::from_milliseconds(now_ms())),
    );
    DeliveryAnnotations(map)
}

/// Why a consume link stops.
enum Stop {
    Stolen,
    Unauthorized,
    Shutdown,
    Detached,
    Failed(Error),
}

/// Delivers records until the link is detached, stolen, no longer authorized (its token
/// expired unrefreshed) or the gateway stops.
pub(crate) async fn run(
    shared: Arc<Shared>,
    access: Arc<Access>,
    mut sender: Sender,
    plan: Plan,
    shutdown: CancellationToken,
) {
    let stolen = plan.ownership.stolen.clone();
    let stop = tokio::select! {
        stop = deliver(&shared, &mut sender, &plan, &stolen, &shutdown) => stop,
        () = access.revoked(plan.partition.hub.as_str(), Right::Listen) => Stop::Unauthorized,
    };
    let error = match stop {
        Stop::Detached => {
            let _ = sender.close().await;
            return;
        }
        Stop::Stolen => Error::Stolen(format!(
            "a receiver with a higher or equal owner level took over partition {}",
            plan.partition
        )),
        Stop::Unauthorized => Error::Unauthorized(format!(
            "Unauthorized access. The token for '{}' expired and was not renewed.",
            plan.partition.hub
        )),
        Stop::Shutdown => Error::ShuttingDown,
        Stop::Failed(error) => error,
    };
    debug!(%error, "closing receive link");
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        sender.close_with_error(error.to_amqp()),
    )
    .await;
    drop(plan);
}

async fn deliver(
    shared: &Shared,
    sender: &mut Sender,
    plan: &Plan,
    stolen: &CancellationToken,
    shutdown: &CancellationToken,
) -> Stop {
    let limits = hubgate_storage::Limits::default();
    let storage = &shared.storage;
    let mut next = plan.start;
    loop {
        let read = tokio::select! {
            () = stolen.cancelled() => return Stop::Stolen,
            () = shutdown.cancelled() => return Stop::Shutdown,
            // Committed data only: never past the last stable offset, never aborted or control
            // records (their offsets are skipped).
            read = storage.read_committed(&plan.partition, next, READ_BYTES) => read,
        };
        let read = match read {
            Ok(read) => read,
            Err(hubgate_storage::Error::OffsetOutOfRange {
                log_start,
                high_watermark,
                ..
            }) => {
                // Retention moved the start past us, or the log was truncated.
                next = if next < log_start {
                    log_start
                } else {
                    high_watermark
                };
                continue;
            }
            Err(error) => return Stop::Failed(error.into()),
        };
        if read.batches.is_empty() {
            let deadline = tokio::time::Instant::now() + WAIT;
            tokio::select! {
                () = stolen.cancelled() => return Stop::Stolen,
                () = shutdown.cancelled() => return Stop::Shutdown,
                error = sender.on_detach() => {
                    debug!(%error, "reader detached");
                    return Stop::Detached;
                }
                waited = storage.wait_stable(&plan.partition, next, deadline) => {
                    if let Err(error) = waited {
                        return Stop::Failed(error.into());
                    }
                }
            }
            continue;
        }
        let runtime = plan.runtime_metric.then(|| last_enqueued(&read.state));
        let end = read.batches.last().map_or(next, |b| b.last_offset() + 1);
        let records = match hubgate_storage::committed_records(&read, next, &limits) {
            Ok(records) => records,
            Err(error) => return Stop::Failed(Error::Storage(error)),
        };
        for record in &records {
            let mut message = mapping::record_to_message(
                record,
                BrokerAnnotations {
                    sequence_number: record.offset,
                    enqueued_time_ms: record.timestamp,
                },
            );
            mapping::add_runtime_annotations(&mut message, runtime.as_ref());
            let sendable = Sendable::builder().message(message).build();
            let sent = tokio::select! {
                () = stolen.cancelled() => return Stop::Stolen,
                () = shutdown.cancelled() => return Stop::Shutdown,
                sent = sender.send_batchable(sendable) => sent,
            };
            match sent {
                // Pre-settled deliveries complete at once, and a generic client's outcome
                // is tracked by the link itself, so the future is not awaited.
                Ok(_outcome) => {
                    let bytes = record.value.as_ref().map_or(0, |v| v.len()) as u64;
                    metrics::global().records_out("amqp", plan.partition.hub.as_str(), 1, bytes);
                }
                Err(error) => {
                    debug!(%error, "delivery failed; reader gone");
                    return Stop::Detached;
                }
            }
            next = record.offset + 1;
        }
        next = next.max(end);
    }
}
