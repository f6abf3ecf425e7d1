//! The sled backend (`sled:PATH`, the default): one sled database in the data directory.
//!
//! Durability: sled 0.34's `Db::flush` ends in `sync_file_range`, which is not a durability
//! barrier, so [`SledBackend::sync`] follows it with `fsync` of the database file, and of any
//! blob file sled wrote since the previous sync (sled writes values and nodes larger than a
//! quarter segment as separate files and never fsyncs them). Batches are stored in small
//! pieces (see [`keys::CHUNK_BYTES`]) so that no node reaches that size in the first place.

mod compact;
mod keys;
mod objects;
mod partition;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use crate::engine::backend::{Backend, Loaded, LoadedHub, PartitionMeta};
use crate::error::{Error, Result};
use crate::hub::{HubInfo, HubName, PartitionId};
use crate::log::CommittedOffset;
use crate::txn::TxnRecord;
use keys::{CLUSTER_ID, PARTITION_TREE_PREFIX, parse_partition_tree, partition_tree};
pub(crate) use partition::SledPartition;

/// Name of the lock file in the data directory.
const LOCK_FILE: &str = "hubgate.lock";
/// Folder of the sled database inside the data directory.
const SLED_DIR: &str = "sled";
/// sled segment size: values and nodes up to a quarter of it stay in the main log file.
/// Measured with 1 MiB batches over 8 partitions: 1 MiB segments with 8 KiB pieces gave the
/// best throughput and the lowest memory of the sizes tried (512 KiB to 8 MiB).
const SEGMENT_SIZE: usize = 1 << 20;

/// Options for the sled backend.
#[derive(Debug, Clone)]
pub(crate) struct SledOptions {
    /// sled's page cache size in bytes.
    pub(crate) cache_capacity: u64,
}

/// The sled database plus the handles needed to make it durable.
#[derive(Debug)]
pub(crate) struct SledBackend {
    db: sled::Db,
    hubs: sled::Tree,
    offsets: sled::Tree,
    txns: sled::Tree,
    db_file: File,
    blob_dir: PathBuf,
    /// Highest blob id already fsynced (blob files are named by a growing log sequence number).
    synced_blob: Mutex<u64>,
    /// Held for the backend's lifetime: an exclusive lock on the data directory.
    _lock: File,
}

impl SledBackend {
    /// Opens (creating if needed) the database in `dir`, taking an exclusive lock on it.
    pub(crate) fn open(dir: &Path, options: &SledOptions) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: dir.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let path = dir.join(SLED_DIR);
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(options.cache_capacity)
            .segment_size(SEGMENT_SIZE)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        let db_file = File::open(path.join("db"))?;
        // Make the directory entries of a new database durable too.
        File::open(&path)?.sync_all()?;
        File::open(dir)?.sync_all()?;
        Ok(Self {
            hubs: db.open_tree("hubs")?,
            offsets: db.open_tree("offsets")?,
            txns: db.open_tree("txns")?,
            db,
            db_file,
            blob_dir: path.join("blobs"),
            synced_blob: Mutex::new(0),
            _lock: lock,
        })
    }

    fn sync_new_blobs(&self) -> Result<()> {
        let mut synced = self
            .synced_blob
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entries = match std::fs::read_dir(&self.blob_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut newest = *synced;
        let mut any = false;
        for entry in entries {
            let entry = entry?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if id <= *synced {
                continue;
            }
            match File::open(entry.path()) {
                Ok(f) => f.sync_all()?,
                // Collected by sled in the meantime.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
            newest = newest.max(id);
            any = true;
        }
        if any {
            File::open(&self.blob_dir)?.sync_all()?;
            *synced = newest;
        }
        Ok(())
    }
}

impl Backend for SledBackend {
    type Partition = SledPartition;

    fn durable(&self) -> bool {
        true
    }

    fn load(&self) -> Result<Loaded<SledPartition>> {
        let mut hubs = Vec::new();
        for entry in self.hubs.iter() {
            let (_, value) = entry?;
            let info: HubInfo = serde_json::from_slice(&value)
                .map_err(|e| Error::Corrupt(format!("hub description: {e}")))?;
            let mut partitions = Vec::with_capacity(info.config.partitions as usize);
            for index in 0..info.config.partitions {
                let tree = self.db.open_tree(partition_tree(&info.name, index))?;
                let partition = SledPartition::new(tree);
                let meta = partition.recover(&PartitionId::new(info.name.clone(), index))?;
                partitions.push((partition, meta));
            }
            hubs.push(LoadedHub { info, partitions });
        }
        // Partitions left behind by a hub creation or deletion that a crash interrupted.
        for name in self.db.tree_names() {
            if !name.starts_with(PARTITION_TREE_PREFIX.as_bytes()) {
                continue;
            }
            let known = parse_partition_tree(&name).is_some_and(|(hub, index)| {
                hubs.iter()
                    .any(|h| h.info.name.as_str() == hub && index < h.info.config.partitions)
            });
            if !known {
                tracing::info!(tree = %String::from_utf8_lossy(&name), "dropping orphaned partition");
                self.db.drop_tree(&name)?;
            }
        }
        let mut offsets = Vec::new();
        for entry in self.offsets.iter() {
            let (key, value) = entry?;
            let parsed = keys::parse_group_offset_key(&key).zip(keys::decode_offset(&value));
            let Some(((group, partition), offset)) = parsed else {
                return Err(Error::Corrupt("committed offset entry".into()));
            };
            offsets.push((group, partition, offset));
        }
        Ok((hubs, offsets))
    }

    fn create_partitions(&self, hub: &HubName, from: u32, to: u32) -> Result<Vec<SledPartition>> {
        (from..to)
            .map(|index| {
                let name = partition_tree(hub, index);
                // A leftover from an interrupted creation must not leak old records.
                self.db.drop_tree(&name)?;
                let tree = self.db.open_tree(&name)?;
                tree.insert(keys::META, &PartitionMeta::default().encode()[..])?;
                Ok(SledPartition::new(tree))
            })
            .collect()
    }

    fn save_hub(&self, info: &HubInfo) -> Result<()> {
        let value = serde_json::to_vec(info)
            .map_err(|e| Error::Corrupt(format!("hub description: {e}")))?;
        self.hubs.insert(info.name.as_str(), value)?;
        Ok(())
    }

    fn remove_hub(&self, info: &HubInfo) -> Result<()> {
        self.hubs.remove(info.name.as_str())?;
        for index in 0..info.config.partitions {
            self.db.drop_tree(partition_tree(&info.name, index))?;
        }
        Ok(())
    }

    fn save_offsets(&self, group: &str, offsets: &[(PartitionId, CommittedOffset)]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (partition, offset) in offsets {
            batch.insert(
                keys::group_offset_key(group, partition),
                keys::encode_offset(offset),
            );
        }
        self.offsets.apply_batch(batch)?;
        Ok(())
    }

    fn remove_offsets(&self, keys: &[(String, PartitionId)]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (group, partition) in keys {
            batch.remove(keys::group_offset_key(group, partition));
        }
        self.offsets.apply_batch(batch)?;
        Ok(())
    }

    fn next_producer_id(&self) -> Result<i64> {
        // sled persists its id generator and skips ahead after a crash, so ids never repeat.
        let id = self.db.generate_id()?;
        i64::try_from(id).map_err(|_| Error::Corrupt("producer ids exhausted".into()))
    }

    fn cluster_id(&self) -> Result<String> {
        let stored = match self.db.get(CLUSTER_ID)? {
            Some(stored) => stored,
            None => {
                let fresh = crate::engine::backend::new_cluster_id();
                // Only the first writer's id is kept, should two ever race.
                let stored = match self.db.compare_and_swap(
                    CLUSTER_ID,
                    None as Option<&[u8]>,
                    Some(fresh.as_bytes()),
                )? {
                    Ok(()) => sled::IVec::from(fresh.as_bytes()),
                    Err(raced) => raced
                        .current
                        .ok_or_else(|| Error::Corrupt("cluster id vanished".into()))?,
                };
                self.db.flush()?;
                stored
            }
        };
        String::from_utf8(stored.to_vec()).map_err(|_| Error::Corrupt("cluster id".into()))
    }

    fn load_txns(&self) -> Result<Vec<(String, TxnRecord)>> {
        self.txns
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                let id = String::from_utf8(key.to_vec())
                    .map_err(|_| Error::Corrupt("transactional id".into()))?;
                let record = serde_json::from_slice(&value)
                    .map_err(|e| Error::Corrupt(format!("transaction state: {e}")))?;
                Ok((id, record))
            })
            .collect()
    }

    fn save_txn(&self, id: &str, record: Option<&TxnRecord>) -> Result<()> {
        match record {
            Some(record) => {
                let value = serde_json::to_vec(record)
                    .map_err(|e| Error::Corrupt(format!("transaction state: {e}")))?;
                self.txns.insert(id.as_bytes(), value)?;
            }
            None => {
                self.txns.remove(id.as_bytes())?;
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.db.flush()?;
        self.db_file.sync_all()?;
        self.sync_new_blobs()
    }
}
