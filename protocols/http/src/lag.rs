//! Consumer lag from committed group offsets: for each partition a group committed in, the
//! committed offset, the partition's high watermark and the difference. Shared by the hub and
//! group admin routes.

use hubgate_storage::Offset;
use serde::Serialize;

use crate::state::AppState;

/// A group's position in one partition.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PartitionLag {
    pub(crate) hub: String,
    pub(crate) partition: u32,
    /// Next offset the group will read.
    pub(crate) committed: Offset,
    pub(crate) log_start: Offset,
    pub(crate) high_watermark: Offset,
    /// `high_watermark - committed`, never negative.
    pub(crate) lag: i64,
    pub(crate) metadata: String,
    pub(crate) committed_at: String,
}

/// Every committed offset of `group` with its lag, sorted by hub and partition. Offsets of
/// hubs deleted since the commit are skipped.
pub(crate) async fn of_group(
    state: &AppState,
    group: &str,
) -> hubgate_storage::Result<Vec<PartitionLag>> {
    let mut out = Vec::new();
    for (partition, committed) in state.storage.committed_offsets(group).await? {
        let Ok(p) = state.storage.partition(&partition).await else {
            continue;
        };
        out.push(PartitionLag {
            hub: partition.hub.as_str().to_owned(),
            partition: partition.index,
            committed: committed.offset,
            log_start: p.log_start,
            high_watermark: p.high_watermark,
            lag: (p.high_watermark - committed.offset).max(0),
            metadata: committed.metadata,
            committed_at: crate::time::rfc3339(committed.committed_at_ms),
        });
    }
    Ok(out)
}

/// The sum of the lags.
pub(crate) fn total(lags: &[PartitionLag]) -> i64 {
    lags.iter().map(|l| l.lag).fold(0, i64::saturating_add)
}
