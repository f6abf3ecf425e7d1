//! Choosing and opening a storage engine by URL.

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::log::{Durability, SharedStorage};
use crate::memory::MemoryBackend;
use crate::sled::{SledBackend, SledOptions};

/// Where the log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// `sled:PATH`: a sled database in the directory `PATH` (the default).
    Sled(PathBuf),
    /// `memory://`: nothing persists.
    Memory,
}

impl std::str::FromStr for StorageUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        if url == "memory://" || url == "memory:" {
            return Ok(Self::Memory);
        }
        let path = url
            .strip_prefix("sled://")
            .or_else(|| url.strip_prefix("sled:"))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| Error::UnsupportedUrl(url.to_owned()))?;
        Ok(Self::Sled(PathBuf::from(path)))
    }
}

impl std::fmt::Display for StorageUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sled(path) => write!(f, "sled:{}", path.display()),
            Self::Memory => f.write_str("memory://"),
        }
    }
}

/// How to open storage.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Which engine, and where.
    pub url: StorageUrl,
    /// When appends are acknowledged.
    pub durability: Durability,
    /// sled page cache size in bytes (sled's own default is 1 GiB; hubgate's is 128 MiB, which keeps the whole process near 300 MB under sustained writes).
    pub cache_capacity: u64,
}

impl StorageConfig {
    /// Defaults for `url`: strict durability, 128 MiB cache.
    pub fn new(url: StorageUrl) -> Self {
        Self {
            url,
            durability: Durability::Strict,
            cache_capacity: 128 << 20,
        }
    }
}

/// Opens the engine `config.url` names.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> hubgate_storage::Result<()> {
/// use hubgate_storage::{open, HubConfig, HubName, StorageConfig, StorageUrl};
///
/// let log = open(&StorageConfig::new("memory://".parse()?))?;
/// let hub = HubName::new("orders")?;
/// log.create_hub(&hub, HubConfig::default()).await?;
/// assert_eq!(log.hub(&hub).await?.config.partitions, 4);
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::Locked`] if another process holds the data directory; sled and I/O errors; and
/// [`Error::Corrupt`] if recovery finds stored data inconsistent.
pub fn open(config: &StorageConfig) -> Result<SharedStorage> {
    Ok(match &config.url {
        StorageUrl::Memory => Arc::new(Engine::open(MemoryBackend::default(), config.durability)?),
        StorageUrl::Sled(path) => {
            let backend = SledBackend::open(
                path,
                &SledOptions {
                    cache_capacity: config.cache_capacity,
                },
            )?;
            Arc::new(Engine::open(backend, config.durability)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(
            "memory://".parse::<StorageUrl>().unwrap(),
            StorageUrl::Memory
        );
        assert_eq!(
            "sled:./data".parse::<StorageUrl>().unwrap(),
            StorageUrl::Sled("./data".into())
        );
        assert_eq!(
            "sled:///var/lib/hubgate".parse::<StorageUrl>().unwrap(),
            StorageUrl::Sled("/var/lib/hubgate".into())
        );
        for bad in ["", "sled:", "kafka://localhost:9092", "/tmp/x"] {
            assert!(
                matches!(bad.parse::<StorageUrl>(), Err(Error::UnsupportedUrl(_))),
                "{bad}"
            );
        }
    }
}
