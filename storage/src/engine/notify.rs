//! Append notifications: one `watch` channel per partition that readers wait on.

use dashmap::DashMap;
use tokio::sync::watch;

use crate::hub::{HubName, PartitionId};
use crate::record::Offset;

/// High-watermark channels for the partitions someone is waiting on.
#[derive(Debug, Default)]
pub(crate) struct Watermarks {
    channels: DashMap<PartitionId, watch::Sender<Offset>>,
}

impl Watermarks {
    /// Subscribes to a partition's high watermark. Subscribe *before* reading the current
    /// state, so an append in between is not missed.
    pub(crate) fn subscribe(&self, partition: &PartitionId) -> watch::Receiver<Offset> {
        // The guard is dropped before the function returns; nothing awaits while holding it.
        self.channels
            .entry(partition.clone())
            .or_insert_with(|| watch::channel(Offset::MIN).0)
            .subscribe()
    }

    /// Publishes a new high watermark, waking everyone waiting on the partition.
    pub(crate) fn publish(&self, partition: &PartitionId, high_watermark: Offset) {
        if let Some(sender) = self.channels.get(partition) {
            sender.send_if_modified(|current| {
                let grew = high_watermark > *current;
                if grew {
                    *current = high_watermark;
                }
                grew
            });
        }
    }

    /// Drops a hub's channels: waiters wake up and find the hub gone.
    pub(crate) fn remove_hub(&self, hub: &HubName) {
        self.channels.retain(|partition, _| &partition.hub != hub);
    }
}
