//! Hubs (Kafka topics / Event Hubs), their partitions and configuration.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::Offset;

/// Longest hub name accepted (Kafka's topic name limit).
pub const MAX_HUB_NAME_LEN: usize = 249;
/// Most partitions a hub may have.
pub const MAX_PARTITIONS: u32 = 1024;

/// A validated hub name: 1–249 characters of `[A-Za-z0-9._-]`, not `.` or `..`.
///
/// These are the rules Kafka applies to topic names; every Event Hubs name that Kafka can also
/// address passes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HubName(String);

impl HubName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`Error::InvalidHubName`] naming the broken rule.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_HUB_NAME_LEN {
            Some("it is longer than 249 characters")
        } else if name == "." || name == ".." {
            Some("`.` and `..` are reserved")
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            Some("only ASCII letters, digits, `.`, `_` and `-` are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidHubName { name, reason }),
            None => Ok(Self(name)),
        }
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The empty name, which no hub has: it sorts before every valid name, as a range bound.
    pub(crate) fn lowest() -> Self {
        Self(String::new())
    }
}

impl TryFrom<String> for HubName {
    type Error = Error;
    fn try_from(name: String) -> Result<Self> {
        Self::new(name)
    }
}

impl From<HubName> for String {
    fn from(name: HubName) -> Self {
        name.0
    }
}

impl fmt::Display for HubName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One partition of one hub.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartitionId {
    /// The hub.
    pub hub: HubName,
    /// Zero-based partition index.
    pub index: u32,
}

impl PartitionId {
    /// Partition `index` of `hub`.
    pub fn new(hub: HubName, index: u32) -> Self {
        Self { hub, index }
    }
}

impl fmt::Display for PartitionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.hub, self.index)
    }
}

/// What happens to old records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupPolicy {
    /// Records older or beyond the retention limits are deleted (whole batches).
    #[default]
    Delete,
    /// Only the latest record per key is kept.
    Compact,
    /// Both compaction and deletion.
    CompactDelete,
}

/// Which timestamp records carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampPolicy {
    /// The producer's create time is kept.
    #[default]
    CreateTime,
    /// The log stamps the append time (Event Hubs' enqueued time).
    LogAppendTime,
}

/// Configuration of a hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Number of partitions (1–1024); it can grow, never shrink.
    pub partitions: u32,
    /// Records older than this are deleted; `None` keeps them forever. Default 7 days.
    #[serde(with = "opt_millis")]
    pub retention: Option<Duration>,
    /// A partition larger than this loses its oldest batches; `None` is unbounded (default).
    pub retention_bytes: Option<u64>,
    /// Deletion and/or compaction. Default delete.
    pub cleanup_policy: CleanupPolicy,
    /// Create time or log-append time. Default create time.
    pub timestamp_policy: TimestampPolicy,
    /// Largest batch accepted, in bytes. Default 1,048,588 (Kafka's `max.message.bytes`).
    pub max_message_bytes: u32,
    /// How the cleaner compacts the hub when its policy includes compaction.
    pub compaction: CompactionConfig,
}

/// Default retention: 7 days, as Kafka's `retention.ms`.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default largest batch: Kafka's `max.message.bytes`.
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 1_048_588;
/// Largest `max_message_bytes` a hub may be configured with.
pub const MAX_MAX_MESSAGE_BYTES: u32 = 16 << 20;

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            partitions: 4,
            retention: Some(DEFAULT_RETENTION),
            retention_bytes: None,
            cleanup_policy: CleanupPolicy::Delete,
            timestamp_policy: TimestampPolicy::CreateTime,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            compaction: CompactionConfig::default(),
        }
    }
}

impl HubConfig {
    /// Checks every value is in range.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the bad value.
    pub fn validate(&self) -> Result<()> {
        if self.partitions == 0 || self.partitions > MAX_PARTITIONS {
            return Err(Error::InvalidConfig(format!(
                "partitions must be between 1 and {MAX_PARTITIONS}, got {}",
                self.partitions
            )));
        }
        if self.max_message_bytes == 0 || self.max_message_bytes > MAX_MAX_MESSAGE_BYTES {
            return Err(Error::InvalidConfig(format!(
                "max_message_bytes must be between 1 and {MAX_MAX_MESSAGE_BYTES}, got {}",
                self.max_message_bytes
            )));
        }
        if self
            .retention
            .is_some_and(|r| r.as_millis() > i64::MAX as u128)
        {
            return Err(Error::InvalidConfig("retention is too long".into()));
        }
        self.compaction.validate()
    }

    /// Whether the cleaner compacts this hub (`compact` or `compact,delete`).
    pub fn compacted(&self) -> bool {
        self.cleanup_policy != CleanupPolicy::Delete
    }
}

use crate::compaction::{CompactionConfig, CompactionUpdate};

/// A retention limit no hub accepts: see [`retention_from_ms`] and [`retention_bytes_from`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    /// Zero, a limit that would delete every record as soon as it is written.
    #[error("a retention limit of 0 is not accepted: use a positive value, or -1 for unlimited")]
    Zero,
    /// A negative value other than -1.
    #[error("a retention limit of {0} is not accepted: use a positive value, or -1 for unlimited")]
    Negative(i64),
}

/// The retention time a configured `retention_ms` (Kafka's `retention.ms`) asks for: `-1`
/// keeps records forever (`None`), a positive value keeps them that many milliseconds.
///
/// # Errors
/// [`RetentionError::Zero`] for `0`, [`RetentionError::Negative`] below `-1`.
pub fn retention_from_ms(ms: i64) -> Result<Option<Duration>, RetentionError> {
    Ok(limit(ms)?.map(Duration::from_millis))
}

/// The size limit a configured `retention_bytes` (Kafka's `retention.bytes`) asks for: `-1`
/// leaves a partition unbounded (`None`), a positive value is its limit in bytes.
///
/// # Errors
/// [`RetentionError::Zero`] for `0`, [`RetentionError::Negative`] below `-1`.
pub fn retention_bytes_from(bytes: i64) -> Result<Option<u64>, RetentionError> {
    limit(bytes)
}

/// The one rule behind both retention limits: `-1` is unlimited, otherwise positive.
fn limit(value: i64) -> Result<Option<u64>, RetentionError> {
    match u64::try_from(value) {
        Ok(0) => Err(RetentionError::Zero),
        Ok(positive) => Ok(Some(positive)),
        Err(_) if value == -1 => Ok(None),
        Err(_) => Err(RetentionError::Negative(value)),
    }
}

/// A change to a hub's configuration; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubUpdate {
    /// New partition count (must not be lower than the current one).
    pub partitions: Option<u32>,
    /// New retention (`Some(None)` = keep forever).
    pub retention: Option<Option<Duration>>,
    /// New size limit (`Some(None)` = unbounded).
    pub retention_bytes: Option<Option<u64>>,
    /// New cleanup policy.
    pub cleanup_policy: Option<CleanupPolicy>,
    /// New timestamp policy.
    pub timestamp_policy: Option<TimestampPolicy>,
    /// New batch size limit.
    pub max_message_bytes: Option<u32>,
    /// New compaction settings, field by field.
    pub compaction: CompactionUpdate,
}

impl HubUpdate {
    /// Applies the update to `config`, checking the result.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the partition count would shrink or a value is out of range.
    pub fn apply(&self, config: &HubConfig) -> Result<HubConfig> {
        let mut next = config.clone();
        if let Some(partitions) = self.partitions {
            if partitions < config.partitions {
                return Err(Error::InvalidConfig(format!(
                    "partition count can only grow: {} to {partitions}",
                    config.partitions
                )));
            }
            next.partitions = partitions;
        }
        if let Some(retention) = self.retention {
            next.retention = retention;
        }
        if let Some(bytes) = self.retention_bytes {
            next.retention_bytes = bytes;
        }
        if let Some(policy) = self.cleanup_policy {
            next.cleanup_policy = policy;
        }
        if let Some(policy) = self.timestamp_policy {
            next.timestamp_policy = policy;
        }
        if let Some(max) = self.max_message_bytes {
            next.max_message_bytes = max;
        }
        next.compaction = self.compaction.apply(&next.compaction);
        next.validate()?;
        Ok(next)
    }
}

/// A hub as the log describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubInfo {
    /// Name.
    pub name: HubName,
    /// Configuration.
    pub config: HubConfig,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// The state of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionState {
    /// First offset still stored (moves with retention and record deletion).
    pub log_start: Offset,
    /// Offset the next record will get; everything below it is readable.
    pub high_watermark: Offset,
    /// The last stable offset: the first offset of the oldest open transaction, else the
    /// high watermark (never below the log start). Read-committed readers stop here.
    pub last_stable: Offset,
    /// Append time of the newest batch (ms since the epoch), `None` if never appended.
    pub last_append_ms: Option<i64>,
    /// Bytes stored for the partition.
    pub stored_bytes: u64,
}

impl PartitionState {
    /// Whether the partition holds no readable records.
    pub fn is_empty(&self) -> bool {
        self.log_start >= self.high_watermark
    }
}

mod opt_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names_follow_kafka_rules() {
        for good in ["a", "orders", "my.hub_1-x", &"x".repeat(249)] {
            assert!(HubName::new(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a b", "ü", "a/b", &"x".repeat(250)] {
            assert!(
                matches!(HubName::new(bad), Err(Error::InvalidHubName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn updates_never_shrink_partitions() {
        let config = HubConfig::default();
        let shrink = HubUpdate {
            partitions: Some(2),
            ..HubUpdate::default()
        };
        assert!(matches!(
            shrink.apply(&config),
            Err(Error::InvalidConfig(_))
        ));
        let grow = HubUpdate {
            partitions: Some(8),
            retention: Some(None),
            ..HubUpdate::default()
        };
        let next = grow.apply(&config).unwrap();
        assert_eq!(next.partitions, 8);
        assert_eq!(next.retention, None);
        assert_eq!(next.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
    }

    #[test]
    fn config_bounds_are_checked() {
        for partitions in [0, MAX_PARTITIONS + 1] {
            let c = HubConfig {
                partitions,
                ..HubConfig::default()
            };
            assert!(c.validate().is_err());
        }
        let c = HubConfig {
            max_message_bytes: MAX_MAX_MESSAGE_BYTES + 1,
            ..HubConfig::default()
        };
        assert!(c.validate().is_err());
        assert!(HubConfig::default().validate().is_ok());
    }

    #[test]
    fn retention_is_minus_one_for_unlimited_or_positive() {
        assert_eq!(retention_from_ms(-1), Ok(None));
        assert_eq!(retention_from_ms(1), Ok(Some(Duration::from_millis(1))));
        assert_eq!(
            retention_from_ms(86_400_000),
            Ok(Some(Duration::from_secs(86_400)))
        );
        assert_eq!(
            retention_from_ms(i64::MAX),
            Ok(Some(Duration::from_millis(i64::MAX as u64)))
        );
        assert_eq!(retention_from_ms(0), Err(RetentionError::Zero));
        assert_eq!(retention_from_ms(-2), Err(RetentionError::Negative(-2)));
        assert_eq!(
            retention_from_ms(i64::MIN),
            Err(RetentionError::Negative(i64::MIN))
        );
    }

    #[test]
    fn retention_bytes_is_minus_one_for_unbounded_or_positive() {
        assert_eq!(retention_bytes_from(-1), Ok(None));
        assert_eq!(retention_bytes_from(1), Ok(Some(1)));
        assert_eq!(retention_bytes_from(1 << 30), Ok(Some(1 << 30)));
        assert_eq!(retention_bytes_from(i64::MAX), Ok(Some(i64::MAX as u64)));
        assert_eq!(retention_bytes_from(0), Err(RetentionError::Zero));
        assert_eq!(retention_bytes_from(-5), Err(RetentionError::Negative(-5)));
        assert!(
            RetentionError::Negative(-5)
                .to_string()
                .contains("-1 for unlimited")
        );
    }
}
