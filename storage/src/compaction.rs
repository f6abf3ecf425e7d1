//! Log compaction: the per-hub settings, what a pass reports, and the background cleaner task.
//!
//! The cleaner keeps the latest record per key in hubs whose policy is `compact` or
//! `compact,delete` (Kafka's `cleanup.policy`). hubgate's log has no segment files, so the
//! unit that is never compacted, Kafka's active segment, is an **active head**: the newest
//! batch, every batch from the first one that is younger than `min(segment_ms,
//! max_compaction_lag_ms)` or `min_compaction_lag_ms` by its max timestamp, and the newest
//! `segment_bytes` bytes. Nothing at or past the last stable offset is compacted either.
//! The pass itself lives in the engine (`engine/compact.rs`); offsets never change.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::now_ms;
use crate::error::{Error, Result};
use crate::log::SharedStorage;

/// Kafka's default `delete.retention.ms`: one day.
pub const DEFAULT_DELETE_RETENTION_MS: u64 = 86_400_000;
/// Kafka's default `segment.ms`: seven days.
pub const DEFAULT_SEGMENT_MS: u64 = 604_800_000;
/// Kafka's default `segment.bytes`: 1 GiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;
/// Largest value a millisecond setting accepts (Kafka's `Long.MAX_VALUE`).
pub const MAX_MS: u64 = i64::MAX as u64;

/// `min.cleanable.dirty.ratio`: a number in `[0, 1]`, never NaN (so it can be compared for
/// equality with the rest of a hub's configuration).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct DirtyRatio(f64);

impl DirtyRatio {
    /// Validates `ratio`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when it is NaN or outside `[0, 1]`.
    pub fn new(ratio: f64) -> Result<Self> {
        if (0.0..=1.0).contains(&ratio) {
            Ok(Self(ratio))
        } else {
            Err(Error::InvalidConfig(format!(
                "min.cleanable.dirty.ratio must be between 0 and 1, got {ratio}"
            )))
        }
    }

    /// The ratio.
    pub fn get(self) -> f64 {
        self.0
    }
}

// NaN is refused by `DirtyRatio::new`, the only way to build one.
impl Eq for DirtyRatio {}

impl Default for DirtyRatio {
    fn default() -> Self {
        Self(0.5)
    }
}

impl TryFrom<f64> for DirtyRatio {
    type Error = Error;
    fn try_from(ratio: f64) -> Result<Self> {
        Self::new(ratio)
    }
}

impl From<DirtyRatio> for f64 {
    fn from(ratio: DirtyRatio) -> Self {
        ratio.0
    }
}

/// A hub's compaction settings, Kafka's topic configs of the same names (in milliseconds and
/// bytes). They matter only while the cleanup policy includes compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompactionConfig {
    /// `delete.retention.ms`: how long a tombstone (a keyed record with a null value) and an
    /// emptied transaction's marker stay readable, counted from their timestamp. Default 1 day.
    pub delete_retention_ms: u64,
    /// `min.compaction.lag.ms`: a record younger than this is never compacted. Default 0.
    pub min_compaction_lag_ms: u64,
    /// `max.compaction.lag.ms`: a record older than this is compacted at the next pass even
    /// when the dirty ratio is low. Default `i64::MAX` (never forced).
    pub max_compaction_lag_ms: u64,
    /// `min.cleanable.dirty.ratio`: a pass runs once the dirty part of the cleanable log is at
    /// least this share of it. Default 0.5.
    pub min_cleanable_dirty_ratio: DirtyRatio,
    /// `segment.ms`: batches younger than this belong to the active head. Default 7 days.
    pub segment_ms: u64,
    /// `segment.bytes`: the newest this many bytes belong to the active head. Default 1 GiB.
    pub segment_bytes: u64,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        Self {
            delete_retention_ms: DEFAULT_DELETE_RETENTION_MS,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: MAX_MS,
            min_cleanable_dirty_ratio: DirtyRatio::default(),
            segment_ms: DEFAULT_SEGMENT_MS,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}

impl CompactionConfig {
    /// Checks the settings the way Kafka does: every time within `i64`, `max_compaction_lag_ms`,
    /// `segment_ms` and `segment_bytes` at least 1, the minimum lag not above the maximum.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::InvalidConfig(what));
        for (name, value) in [
            ("delete.retention.ms", self.delete_retention_ms),
            ("min.compaction.lag.ms", self.min_compaction_lag_ms),
            ("max.compaction.lag.ms", self.max_compaction_lag_ms),
            ("segment.ms", self.segment_ms),
            ("segment.bytes", self.segment_bytes),
        ] {
            if value > MAX_MS {
                return bad(format!("{name} must be at most {MAX_MS}, got {value}"));
            }
        }
        for (name, value) in [
            ("max.compaction.lag.ms", self.max_compaction_lag_ms),
            ("segment.ms", self.segment_ms),
            ("segment.bytes", self.segment_bytes),
        ] {
            if value == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        if self.min_compaction_lag_ms > self.max_compaction_lag_ms {
            return bad(format!(
                "min.compaction.lag.ms ({}) must not exceed max.compaction.lag.ms ({})",
                self.min_compaction_lag_ms, self.max_compaction_lag_ms
            ));
        }
        Ok(())
    }
}

/// A change to a hub's compaction settings; `None` fields stay as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionUpdate {
    /// New `delete.retention.ms`.
    pub delete_retention_ms: Option<u64>,
    /// New `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: Option<u64>,
    /// New `max.compaction.lag.ms`.
    pub max_compaction_lag_ms: Option<u64>,
    /// New `min.cleanable.dirty.ratio`.
    pub min_cleanable_dirty_ratio: Option<DirtyRatio>,
    /// New `segment.ms`.
    pub segment_ms: Option<u64>,
    /// New `segment.bytes`.
    pub segment_bytes: Option<u64>,
}

impl CompactionUpdate {
    /// The update that sets every field to `config`'s value.
    pub fn all(config: &CompactionConfig) -> Self {
        Self {
            delete_retention_ms: Some(config.delete_retention_ms),
            min_compaction_lag_ms: Some(config.min_compaction_lag_ms),
            max_compaction_lag_ms: Some(config.max_compaction_lag_ms),
            min_cleanable_dirty_ratio: Some(config.min_cleanable_dirty_ratio),
            segment_ms: Some(config.segment_ms),
            segment_bytes: Some(config.segment_bytes),
        }
    }

    /// `config` with the update's fields set (not validated: the hub's config is, as a whole).
    pub fn apply(&self, config: &CompactionConfig) -> CompactionConfig {
        CompactionConfig {
            delete_retention_ms: self
                .delete_retention_ms
                .unwrap_or(config.delete_retention_ms),
            min_compaction_lag_ms: self
                .min_compaction_lag_ms
                .unwrap_or(config.min_compaction_lag_ms),
            max_compaction_lag_ms: self
                .max_compaction_lag_ms
                .unwrap_or(config.max_compaction_lag_ms),
            min_cleanable_dirty_ratio: self
                .min_cleanable_dirty_ratio
                .unwrap_or(config.min_cleanable_dirty_ratio),
            segment_ms: self.segment_ms.unwrap_or(config.segment_ms),
            segment_bytes: self.segment_bytes.unwrap_or(config.segment_bytes),
        }
    }
}

/// What a cleaner pass did, summed over the partitions it compacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompactionReport {
    /// Partitions compacted.
    pub partitions: u64,
    /// Batches rewritten with fewer records (same base offset and producer metadata).
    pub batches_rewritten: u64,
    /// Batches removed whole.
    pub batches_removed: u64,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes freed.
    pub bytes_removed: u64,
}

impl CompactionReport {
    pub(crate) fn add(&mut self, other: &Self) {
        self.partitions += other.partitions;
        self.batches_rewritten += other.batches_rewritten;
        self.batches_removed += other.batches_removed;
        self.records_removed += other.records_removed;
        self.bytes_removed += other.bytes_removed;
    }
}

/// The cleaner's view of one compacted partition, for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanerStatus {
    /// The partition.
    pub partition: crate::hub::PartitionId,
    /// Dirty share of the cleanable log in `[0, 1]` (0 when nothing is cleanable).
    pub dirty_ratio: f64,
    /// Age in ms of the oldest record written since the last pass (0 when none): how far the
    /// cleaner lags behind.
    pub lag_ms: i64,
    /// Totals removed from this partition since the process started.
    pub removed: CompactionReport,
}

/// Runs [`Log::compact`](crate::Log::compact) every `backoff` (Kafka's
/// `log.cleaner.backoff.ms`) until `shutdown` is cancelled. Failures are logged and retried on
/// the next tick.
pub fn spawn_cleaner(
    log: SharedStorage,
    backoff: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(backoff);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match log.compact(now_ms()).await {
                Ok(report) if report.partitions > 0 => {
                    tracing::info!(
                        partitions = report.partitions,
                        records = report.records_removed,
                        bytes = report.bytes_removed,
                        "cleaner compacted partitions"
                    );
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cleaner pass failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas() {
        let c = CompactionConfig::default();
        assert_eq!(c.delete_retention_ms, 86_400_000);
        assert_eq!(c.min_compaction_lag_ms, 0);
        assert_eq!(c.max_compaction_lag_ms, i64::MAX as u64);
        assert_eq!(c.min_cleanable_dirty_ratio.get(), 0.5);
        assert_eq!(c.segment_ms, 604_800_000);
        assert_eq!(c.segment_bytes, 1 << 30);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validation_follows_kafka() {
        assert!(DirtyRatio::new(1.5).is_err());
        assert!(DirtyRatio::new(-0.1).is_err());
        assert!(DirtyRatio::new(f64::NAN).is_err());
        assert!(DirtyRatio::new(0.0).is_ok());
        let lag = CompactionConfig {
            min_compaction_lag_ms: 10,
            max_compaction_lag_ms: 5,
            ..CompactionConfig::default()
        };
        assert!(
            lag.validate()
                .unwrap_err()
                .to_string()
                .contains("must not exceed")
        );
        for zero in [
            CompactionConfig {
                segment_ms: 0,
                ..CompactionConfig::default()
            },
            CompactionConfig {
                segment_bytes: 0,
                ..CompactionConfig::default()
            },
            CompactionConfig {
                max_compaction_lag_ms: 0,
                ..CompactionConfig::default()
            },
        ] {
            assert!(zero.validate().is_err(), "{zero:?}");
        }
        let long = CompactionConfig {
            delete_retention_ms: u64::MAX,
            ..CompactionConfig::default()
        };
        assert!(long.validate().is_err());
    }

    #[test]
    fn a_ratio_outside_the_range_does_not_deserialize() {
        let ok: CompactionConfig =
            serde_json::from_str(r#"{"min_cleanable_dirty_ratio":0.01,"segment_ms":100}"#).unwrap();
        assert_eq!(ok.min_cleanable_dirty_ratio.get(), 0.01);
        assert_eq!(ok.segment_ms, 100);
        assert!(
            serde_json::from_str::<CompactionConfig>(r#"{"min_cleanable_dirty_ratio":2}"#).is_err()
        );
    }

    #[test]
    fn updates_set_only_their_fields() {
        let base = CompactionConfig::default();
        let update = CompactionUpdate {
            segment_ms: Some(100),
            ..CompactionUpdate::default()
        };
        let next = update.apply(&base);
        assert_eq!(next.segment_ms, 100);
        assert_eq!(next.delete_retention_ms, base.delete_retention_ms);
        assert_eq!(CompactionUpdate::all(&next).apply(&base), next);
    }
}
