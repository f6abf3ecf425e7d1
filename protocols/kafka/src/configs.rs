//! Topic configs as Kafka names them, mapped onto [`HubConfig`].
//!
//! Served: `retention.ms`, `retention.bytes`, `cleanup.policy`, `max.message.bytes`,
//! `message.timestamp.type`. Any other name is refused with INVALID_CONFIG rather than
//! accepted and ignored. `cleanup.policy=compact` is refused while the storage engine does not
//! compact ([`Capabilities::compaction`](hubgate_storage::Capabilities::compaction)).

use std::time::Duration;

use hubgate_storage::{
    CleanupPolicy, HubConfig, HubUpdate, RetentionError, TimestampPolicy, retention_bytes_from,
    retention_from_ms,
};

/// Kafka `ConfigSource` values.
pub(crate) mod source {
    /// Set on the topic.
    pub(crate) const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    /// Set by the gateway's own configuration when it started.
    pub(crate) const STATIC_BROKER_CONFIG: i8 = 4;
    /// The default.
    pub(crate) const DEFAULT_CONFIG: i8 = 5;
}

/// Kafka `ConfigType` values.
pub(crate) mod config_type {
    pub(crate) const BOOLEAN: i8 = 1;
    pub(crate) const STRING: i8 = 2;
    pub(crate) const INT: i8 = 3;
    pub(crate) const LONG: i8 = 5;
    pub(crate) const LIST: i8 = 7;
}

pub(crate) const RETENTION_MS: &str = "retention.ms";
pub(crate) const RETENTION_BYTES: &str = "retention.bytes";
pub(crate) const CLEANUP_POLICY: &str = "cleanup.policy";
pub(crate) const MAX_MESSAGE_BYTES: &str = "max.message.bytes";
pub(crate) const TIMESTAMP_TYPE: &str = "message.timestamp.type";

/// Every served config name, in the order they are described.
pub(crate) const NAMES: [&str; 5] = [
    CLEANUP_POLICY,
    MAX_MESSAGE_BYTES,
    TIMESTAMP_TYPE,
    RETENTION_BYTES,
    RETENTION_MS,
];

/// One described config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: &'static str,
    pub(crate) value: String,
    pub(crate) source: i8,
    pub(crate) config_type: i8,
    /// Whether clients may change it (topic configs) or not (broker configs).
    pub(crate) read_only: bool,
}

/// A refused config change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ConfigError(pub(crate) String);

/// The value of `name` in `config`, as Kafka writes it.
pub(crate) fn value_of(config: &HubConfig, name: &str) -> String {
    match name {
        RETENTION_MS => config
            .retention
            .map_or(-1, |r| r.as_millis() as i64)
            .to_string(),
        RETENTION_BYTES => config.retention_bytes.map_or(-1, |b| b as i64).to_string(),
        CLEANUP_POLICY => match config.cleanup_policy {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
        .to_owned(),
        MAX_MESSAGE_BYTES => config.max_message_bytes.to_string(),
        _ => match config.timestamp_policy {
            TimestampPolicy::CreateTime => "CreateTime",
            TimestampPolicy::LogAppendTime => "LogAppendTime",
        }
        .to_owned(),
    }
}

/// Every served config of a hub, with where its value comes from. A value equal to the
/// default is reported as the default.
pub(crate) fn describe(config: &HubConfig) -> Vec<Entry> {
    let defaults = HubConfig::default();
    NAMES
        .iter()
        .map(|&name| {
            let value = value_of(config, name);
            let source = if value == value_of(&defaults, name) {
                source::DEFAULT_CONFIG
            } else {
                source::DYNAMIC_TOPIC_CONFIG
            };
            let config_type = match name {
                RETENTION_MS | RETENTION_BYTES => config_type::LONG,
                MAX_MESSAGE_BYTES => config_type::INT,
                CLEANUP_POLICY => config_type::LIST,
                _ => config_type::STRING,
            };
            Entry {
                name,
                value,
                source,
                config_type,
                read_only: false,
            }
        })
        .collect()
}

/// Adds `name = value` to `update`; `None` resets the config to its default.
///
/// # Errors
/// [`ConfigError`] for an unknown name, a malformed value, or compaction when the storage
/// does not compact.
pub(crate) fn set(
    update: &mut HubUpdate,
    name: &str,
    value: Option<&str>,
    compaction: bool,
) -> Result<(), ConfigError> {
    let defaults = HubConfig::default();
    let bad = |what: &str| ConfigError(format!("invalid value {value:?} for {name}: {what}"));
    let number = |v: &str| v.trim().parse::<i64>().map_err(|_| bad("not a number"));
    match name {
        // Kafka also accepts 0 (delete at once), which the hub rule refuses: it is let
        // through here as a zero limit.
        RETENTION_MS => {
            update.retention = Some(match value {
                None => defaults.retention,
                Some(v) => match retention_from_ms(number(v)?) {
                    Ok(retention) => retention,
                    Err(RetentionError::Zero) => Some(Duration::ZERO),
                    Err(RetentionError::Negative(_)) => {
                        return Err(bad("must be -1 or at least 0"));
                    }
                },
            });
        }
        RETENTION_BYTES => {
            update.retention_bytes = Some(match value {
                None => defaults.retention_bytes,
                Some(v) => match retention_bytes_from(number(v)?) {
                    Ok(bytes) => bytes,
                    Err(RetentionError::Zero) => Some(0),
                    Err(RetentionError::Negative(_)) => {
                        return Err(bad("must be -1 or at least 0"));
                    }
                },
            });
        }
        CLEANUP_POLICY => {
            let policy = match value {
                None => defaults.cleanup_policy,
                Some(v) => {
                    let mut parts: Vec<&str> = v.split(',').map(str::trim).collect();
                    parts.sort_unstable();
                    parts.dedup();
                    match parts[..] {
                        ["delete"] => CleanupPolicy::Delete,
                        ["compact"] => CleanupPolicy::Compact,
                        ["compact", "delete"] => CleanupPolicy::CompactDelete,
                        _ => return Err(bad("expected delete, compact or compact,delete")),
                    }
                }
            };
            if policy != CleanupPolicy::Delete && !compaction {
                return Err(ConfigError(
                    "cleanup.policy=compact is not supported: this storage does not compact".into(),
                ));
            }
            update.cleanup_policy = Some(policy);
        }
        MAX_MESSAGE_BYTES => {
            update.max_message_bytes = Some(match value {
                None => defaults.max_message_bytes,
                Some(v) => v.trim().parse::<u32>().map_err(|_| bad("not a number"))?,
            });
        }
        TIMESTAMP_TYPE => {
            update.timestamp_policy = Some(match value.map(str::trim) {
                None => defaults.timestamp_policy,
                Some("CreateTime") => TimestampPolicy::CreateTime,
                Some("LogAppendTime") => TimestampPolicy::LogAppendTime,
                Some(_) => return Err(bad("expected CreateTime or LogAppendTime")),
            });
        }
        other => return Err(ConfigError(format!("unsupported topic config {other}"))),
    }
    Ok(())
}

/// The update that sets every served config to its default (AlterConfigs replaces the whole
/// set: what it does not name goes back to the default).
pub(crate) fn reset_all() -> HubUpdate {
    let defaults = HubConfig::default();
    HubUpdate {
        partitions: None,
        retention: Some(defaults.retention),
        retention_bytes: Some(defaults.retention_bytes),
        cleanup_policy: Some(defaults.cleanup_policy),
        timestamp_policy: Some(defaults.timestamp_policy),
        max_message_bytes: Some(defaults.max_message_bytes),
        compaction: hubgate_storage::CompactionUpdate::all(&defaults.compaction),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_described_as_defaults() {
        let entries = describe(&HubConfig::default());
        assert_eq!(entries.len(), NAMES.len());
        assert!(entries.iter().all(|e| e.source == source::DEFAULT_CONFIG));
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().value.clone();
        assert_eq!(get(RETENTION_MS), "604800000");
        assert_eq!(get(RETENTION_BYTES), "-1");
        assert_eq!(get(CLEANUP_POLICY), "delete");
        assert_eq!(get(MAX_MESSAGE_BYTES), "1048588");
        assert_eq!(get(TIMESTAMP_TYPE), "CreateTime");
    }

    #[test]
    fn set_values_round_trip_and_bad_ones_are_refused() {
        let mut update = HubUpdate::default();
        set(&mut update, RETENTION_MS, Some("-1"), false).unwrap();
        set(&mut update, RETENTION_BYTES, Some("1000"), false).unwrap();
        set(&mut update, TIMESTAMP_TYPE, Some("LogAppendTime"), false).unwrap();
        let config = update.apply(&HubConfig::default()).unwrap();
        let entries = describe(&config);
        let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap().clone();
        assert_eq!(get(RETENTION_MS).value, "-1");
        assert_eq!(get(RETENTION_MS).source, source::DYNAMIC_TOPIC_CONFIG);
        assert_eq!(get(RETENTION_BYTES).value, "1000");
        assert_eq!(get(TIMESTAMP_TYPE).value, "LogAppendTime");
        for (name, value) in [
            (RETENTION_MS, "x"),
            (RETENTION_MS, "-2"),
            (TIMESTAMP_TYPE, "Never"),
            (CLEANUP_POLICY, "shred"),
            ("segment.bytes", "1"),
        ] {
            assert!(set(&mut update, name, Some(value), true).is_err(), "{name}");
        }
        // Kafka accepts 0 (delete at once) where the hub rule asks for a positive limit.
        let mut zero = HubUpdate::default();
        set(&mut zero, RETENTION_MS, Some("0"), false).unwrap();
        set(&mut zero, RETENTION_BYTES, Some("0"), false).unwrap();
        assert_eq!(zero.retention, Some(Some(Duration::ZERO)));
        assert_eq!(zero.retention_bytes, Some(Some(0)));
        for name in [RETENTION_MS, RETENTION_BYTES] {
            let refused = set(&mut zero, name, Some("-2"), false).unwrap_err();
            assert_eq!(
                refused.0,
                format!("invalid value Some(\"-2\") for {name}: must be -1 or at least 0")
            );
        }
        assert!(set(&mut update, CLEANUP_POLICY, Some("compact"), false).is_err());
        set(&mut update, CLEANUP_POLICY, Some("delete,compact"), true).unwrap();
        assert_eq!(update.cleanup_policy, Some(CleanupPolicy::CompactDelete));
    }
}
