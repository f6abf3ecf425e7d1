//! Looking up a hub on first use, creating it when the gateway allows auto-creation.
//!
//! Every front end resolves hub names the same way: Kafka Metadata/Produce, AMQP attach and
//! HTTPS sends all call [`hub_or_create`], so `--no-auto-create` and `--default-partitions`
//! mean the same thing on every protocol.

use hubgate_storage::{Error as StorageError, HubConfig, HubInfo, HubName, Log};

/// Whether unknown hubs are created on first use, and with how many partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoCreate {
    /// Create unknown hubs instead of refusing them.
    pub enabled: bool,
    /// Partition count of hubs created this way.
    pub partitions: u32,
}

impl AutoCreate {
    /// Auto-creation turned off: unknown hubs are refused.
    pub const OFF: Self = Self {
        enabled: false,
        partitions: 1,
    };
}

impl Default for AutoCreate {
    /// On, with 4 partitions (the gateway's defaults).
    fn default() -> Self {
        Self {
            enabled: true,
            partitions: 4,
        }
    }
}

/// Describes `name`, creating it with the default hub config and `auto.partitions` partitions
/// when it does not exist and auto-creation is on.
///
/// Two callers racing to create the same hub both succeed: the loser reads the winner's hub.
///
/// # Errors
/// [`StorageError::NoSuchHub`] when the hub is missing and auto-creation is off, and any
/// storage error from the lookup or the creation.
pub async fn hub_or_create(
    log: &dyn Log,
    name: &HubName,
    auto: AutoCreate,
) -> Result<HubInfo, StorageError> {
    match log.hub(name).await {
        Err(StorageError::NoSuchHub(_)) if auto.enabled => {
            let config = HubConfig {
                partitions: auto.partitions,
                ..HubConfig::default()
            };
            match log.create_hub(name, config).await {
                Ok(info) => {
                    tracing::info!(hub = %name, partitions = auto.partitions, "auto-created hub");
                    Ok(info)
                }
                Err(StorageError::HubExists(_)) => log.hub(name).await,
                Err(e) => Err(e),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubgate_storage::{StorageConfig, StorageUrl, open};

    fn memory() -> hubgate_storage::SharedStorage {
        let url: StorageUrl = "memory://".parse().unwrap();
        open(&StorageConfig::new(url)).unwrap()
    }

    #[tokio::test]
    async fn creates_with_default_partitions_when_enabled() {
        let log = memory();
        let name = HubName::new("orders").unwrap();
        let auto = AutoCreate {
            enabled: true,
            partitions: 3,
        };
        let info = hub_or_create(log.as_ref(), &name, auto).await.unwrap();
        assert_eq!(info.config.partitions, 3);
        // A second lookup finds the same hub and does not recreate it.
        let again = hub_or_create(log.as_ref(), &name, auto).await.unwrap();
        assert_eq!(again.config.partitions, 3);
    }

    #[tokio::test]
    async fn refuses_unknown_hub_when_disabled() {
        let log = memory();
        let name = HubName::new("orders").unwrap();
        let err = hub_or_create(log.as_ref(), &name, AutoCreate::OFF)
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::NoSuchHub(_)), "{err:?}");
    }
}
