//! The one path from parsed events to the log: placement, encoding, append, metrics.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use bytes::Bytes;
use hubgate_protocol::{AutoCreate, hub_or_create, partition_for_key};
use hubgate_storage::{EncodeOptions, HubInfo, HubName, PartitionId, Record, RecordBatch};

use crate::error::ApiError;
use crate::state::AppState;

/// Longest partition key accepted (Event Hubs' limit).
pub(crate) const MAX_PARTITION_KEY_LEN: usize = 128;

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placement {
    /// This partition.
    Partition(u32),
    /// The partition the Event Hubs hash of this key picks; the key is stored as the record key.
    Key(Bytes),
    /// Any partition: keyless events of one request share one round-robin pick.
    Any,
}

/// An event ready to store.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) placement: Placement,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<hubgate_storage::Header>,
}

/// Validates `name` and looks the hub up, creating it when `auto` allows.
pub(crate) async fn hub(
    state: &AppState,
    name: &str,
    auto: AutoCreate,
) -> Result<HubInfo, ApiError> {
    let name = HubName::new(name)?;
    Ok(hub_or_create(state.storage.as_ref(), &name, auto).await?)
}

/// A partition id from a URL path.
pub(crate) fn parse_partition(id: &str) -> Result<u32, ApiError> {
    id.parse()
        .map_err(|_| ApiError::BadRequest(format!("invalid partition id `{id}`")))
}

/// The partition a read route names (`/{hub}/partitions/{id}`): `400` for an id that is not a
/// number, `404` for a hub or partition that does not exist.
pub(crate) async fn existing_partition(
    storage: &hubgate_storage::SharedStorage,
    name: HubName,
    id: &str,
) -> Result<PartitionId, ApiError> {
    let index = parse_partition(id)?;
    let info = storage.hub(&name).await?;
    if index >= info.config.partitions {
        return Err(ApiError::NotFound(format!(
            "hub `{name}` has no partition {index}"
        )));
    }
    Ok(PartitionId::new(name, index))
}

/// Checks a partition key's length.
pub(crate) fn check_key(key: &str) -> Result<(), ApiError> {
    if key.len() > MAX_PARTITION_KEY_LEN {
        return Err(ApiError::BadRequest(format!(
            "partition key of {} bytes exceeds the limit of {MAX_PARTITION_KEY_LEN}",
            key.len()
        )));
    }
    Ok(())
}

/// Stores `events` in `hub`: one batch and one append per partition, all appends running at
/// once. Returns when every append has returned, so the caller acknowledges only durable
/// records. An error from any append fails the request (appends to other partitions of the
/// same request may have been stored).
pub(crate) async fn store(
    state: &AppState,
    hub: &HubInfo,
    events: Vec<Event>,
) -> Result<(), ApiError> {
    if events.is_empty() {
        return Err(ApiError::BadRequest("no events to send".into()));
    }
    let count = NonZeroU32::new(hub.config.partitions)
        .ok_or_else(|| ApiError::BadRequest(format!("hub `{}` has no partitions", hub.name)))?;
    let now = crate::time::now_ms();
    let mut any = None;
    let mut by_partition: BTreeMap<u32, Vec<Record>> = BTreeMap::new();
    for event in events {
        let (partition, key) = match event.placement {
            Placement::Partition(p) => (p, None),
            Placement::Key(key) => (partition_for_key(&key, count), Some(key)),
            Placement::Any => (
                *any.get_or_insert_with(|| state.round_robin(hub.name.as_str()).next(count)),
                None,
            ),
        };
        if partition >= count.get() {
            return Err(ApiError::NotFound(format!(
                "hub `{}` has no partition {partition}",
                hub.name
            )));
        }
        let records = by_partition.entry(partition).or_default();
        records.push(Record {
            offset: records.len() as i64,
            timestamp: now,
            key,
            value: event.value,
            headers: event.headers,
        });
    }
    // Plain tasks, not a `JoinSet`: if the request is dropped (timeout, client gone) the
    // appends still run to completion instead of being aborted half-way.
    let mut appends = Vec::new();
    for (partition, records) in by_partition {
        let bytes: u64 = records
            .iter()
            .map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64))
            .sum();
        let n = records.len() as u64;
        let batch = RecordBatch::encode(&records, &EncodeOptions::default())
            .map_err(|e| ApiError::Storage(e.into()))?;
        let storage = state.storage.clone();
        let id = PartitionId::new(hub.name.clone(), partition);
        appends.push(tokio::spawn(async move {
            storage.append(&id, batch).await.map(|_| (n, bytes))
        }));
    }
    let mut result = Ok(());
    for append in appends {
        match append.await {
            Ok(Ok((records, bytes))) => {
                state
                    .metrics
                    .records_in("http", hub.name.as_str(), records, bytes);
            }
            Ok(Err(e)) => result = Err(ApiError::Storage(e)),
            Err(e) => {
                result = Err(ApiError::Storage(hubgate_storage::Error::Io(
                    std::io::Error::other(e),
                )));
            }
        }
    }
    result
}
