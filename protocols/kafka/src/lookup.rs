//! Topic and partition lookups shared by the APIs that address partitions (Fetch, ListOffsets,
//! DeleteRecords, OffsetForLeaderEpoch): an unknown or illegal topic name, and a partition index
//! outside the hub, both answer UNKNOWN_TOPIC_OR_PARTITION.

use hubgate_storage::{HubInfo, HubName, PartitionId};

use crate::dispatch::Handler;
use crate::error::{code, storage_code};

/// The hub named by a request's topic, or the Kafka error code to answer for it.
pub(crate) async fn topic(h: &Handler, name: &str) -> Result<HubInfo, i16> {
    match HubName::new(name) {
        Ok(name) => h.storage.hub(&name).await.map_err(|e| storage_code(&e)),
        Err(_) => Err(code::UNKNOWN_TOPIC_OR_PARTITION),
    }
}

/// Partition `index` of a looked-up topic, or the error code to answer for it.
pub(crate) fn partition(hub: &Result<HubInfo, i16>, index: i32) -> Result<PartitionId, i16> {
    let hub = hub.as_ref().map_err(|e| *e)?;
    u32::try_from(index)
        .ok()
        .filter(|i| *i < hub.config.partitions)
        .map(|i| PartitionId::new(hub.name.clone(), i))
        .ok_or(code::UNKNOWN_TOPIC_OR_PARTITION)
}
