//! Who reads each (hub, consumer group, partition): owner levels (epochs) and the cap on
//! readers without one, as Event Hubs applies them.
//!
//! - A reader with owner level `e` replaces every current reader when `e` is at least the
//!   highest current owner level: those readers are told to close with `amqp:link:stolen`.
//! - A reader with a lower owner level, or without one while an owner-level reader is
//!   attached, is refused with `amqp:link:stolen`.
//! - At most [`MAX_PLAIN_READERS`] readers without an owner level share a partition and group;
//!   the next is refused with `amqp:resource-limit-exceeded`.
//!
//! The rules sit behind [`ReaderRegistry`] so that a storage engine shared by several gateways
//! can arbitrate them across processes; [`Owners`] keeps them in memory in this process (std
//! mutex, never held across `.await`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// Most readers without an owner level per partition and consumer group (Event Hubs' quota).
pub const MAX_PLAIN_READERS: usize = 5;

type Key = (String, String, u32);

#[derive(Debug)]
struct Reader {
    id: u64,
    epoch: Option<i64>,
    stolen: CancellationToken,
}

/// Decides which readers may read a partition through a consumer group.
pub trait ReaderRegistry: Send + Sync + fmt::Debug + 'static {
    /// Registers a reader of `partition` of `hub` through `group`, with an owner level or
    /// none. Readers it replaces see their [`Ownership::stolen`] token cancelled.
    ///
    /// # Errors
    /// [`Error::Stolen`] when an owner level excludes it, [`Error::ResourceLimit`] when the
    /// partition already has [`MAX_PLAIN_READERS`] readers without an owner level.
    fn register(
        &self,
        hub: &str,
        group: &str,
        partition: u32,
        epoch: Option<i64>,
    ) -> Result<Ownership, Error>;
}

/// The in-memory registry of attached readers; one per gateway.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    readers: Mutex<HashMap<Key, Vec<Reader>>>,
    next_id: AtomicU64,
}

/// A registered reader; dropping it unregisters it.
pub struct Ownership {
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
    /// Cancelled when a reader with a higher or equal owner level takes over.
    pub stolen: CancellationToken,
}

impl fmt::Debug for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ownership")
            .field("stolen", &self.stolen.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Drop for Ownership {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl ReaderRegistry for Owners {
    fn register(
        &self,
        hub: &str,
        group: &str,
        partition: u32,
        epoch: Option<i64>,
    ) -> Result<Ownership, Error> {
        let key = (hub.to_owned(), group.to_ascii_lowercase(), partition);
        let mut map = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let readers = map.entry(key.clone()).or_default();
        let top = readers.iter().filter_map(|r| r.epoch).max();
        match (epoch, top) {
            (Some(e), Some(t)) if e < t => {
                return Err(Error::Stolen(format!(
                    "a receiver with owner level {t} already exists on partition {partition} of \
                     consumer group {group}; owner level {e} is refused"
                )));
            }
            (Some(_), _) => {
                for old in readers.drain(..) {
                    old.stolen.cancel();
                }
            }
            (None, Some(t)) => {
                return Err(Error::Stolen(format!(
                    "a receiver with owner level {t} is attached to partition {partition} of \
                     consumer group {group}, so a receiver without owner level is not allowed"
                )));
            }
            (None, None) => {
                if readers.len() >= MAX_PLAIN_READERS {
                    return Err(Error::ResourceLimit(format!(
                        "Exceeded the maximum number of allowed receivers per partition in a \
                         consumer group which is {MAX_PLAIN_READERS}"
                    )));
                }
            }
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let stolen = CancellationToken::new();
        readers.push(Reader {
            id,
            epoch,
            stolen: stolen.clone(),
        });
        let inner = Arc::clone(&self.inner);
        Ok(Ownership {
            release: Some(Box::new(move || inner.unregister(&key, id))),
            stolen,
        })
    }
}

impl Owners {
    /// How many readers are registered on `partition` of `hub` through `group`.
    pub fn count(&self, hub: &str, group: &str, partition: u32) -> usize {
        let key = (hub.to_owned(), group.to_ascii_lowercase(), partition);
        let map = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(&key).map_or(0, Vec::len)
    }
}

impl Inner {
    fn unregister(&self, key: &Key, id: u64) {
        let mut map = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(readers) = map.get_mut(key) {
            readers.retain(|r| r.id != id);
            if readers.is_empty() {
                map.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_or_equal_epoch_steals_lower_is_refused() {
        let owners = Owners::default();
        let a = owners.register("h", "$Default", 0, Some(1)).unwrap();
        let b = owners.register("h", "$default", 0, Some(1)).unwrap();
        assert!(a.stolen.is_cancelled());
        assert!(!b.stolen.is_cancelled());
        let c = owners.register("h", "$Default", 0, Some(5)).unwrap();
        assert!(b.stolen.is_cancelled());
        assert!(matches!(
            owners.register("h", "$Default", 0, Some(4)),
            Err(Error::Stolen(_))
        ));
        assert!(matches!(
            owners.register("h", "$Default", 0, None),
            Err(Error::Stolen(_))
        ));
        // Other partitions and groups are independent.
        assert!(owners.register("h", "$Default", 1, None).is_ok());
        assert!(owners.register("h", "other", 0, None).is_ok());
        drop((a, b, c));
        assert_eq!(owners.count("h", "$Default", 0), 0);
    }

    #[test]
    fn epoch_reader_steals_plain_readers() {
        let owners = Owners::default();
        let plain = owners.register("h", "g", 0, None).unwrap();
        let owner = owners.register("h", "g", 0, Some(0)).unwrap();
        assert!(plain.stolen.is_cancelled());
        assert!(!owner.stolen.is_cancelled());
    }

    #[test]
    fn five_plain_readers_then_refused_until_one_leaves() {
        let owners = Owners::default();
        let mut held: Vec<_> = (0..MAX_PLAIN_READERS)
            .map(|_| owners.register("h", "g", 0, None).unwrap())
            .collect();
        assert!(matches!(
            owners.register("h", "g", 0, None),
            Err(Error::ResourceLimit(_))
        ));
        held.pop();
        assert_eq!(owners.count("h", "g", 0), MAX_PLAIN_READERS - 1);
        assert!(owners.register("h", "g", 0, None).is_ok());
    }
}
