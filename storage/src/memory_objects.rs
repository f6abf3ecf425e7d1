//! [`ObjectBackend`] in memory: a locked ordered map.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use crate::engine::backend::{ObjectBackend, ObjectChange};
use crate::error::Result;
use crate::memory::MemoryBackend;
use crate::objects::StoredObject;

/// The objects of a [`MemoryBackend`].
#[derive(Debug, Default)]
pub(crate) struct MemoryObjects {
    /// std Mutex: held only for one synchronous map operation.
    map: Mutex<BTreeMap<Vec<u8>, StoredObject>>,
    versions: AtomicU64,
}

impl ObjectBackend for MemoryBackend {
    fn object(&self, key: &[u8]) -> Result<Option<StoredObject>> {
        let map = self
            .objects()
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(map.get(key).cloned())
    }

    fn swap_object(
        &self,
        key: &[u8],
        decide: &mut dyn FnMut(Option<&StoredObject>) -> ObjectChange,
    ) -> Result<bool> {
        let mut map = self
            .objects()
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(match decide(map.get(key)) {
            None => false,
            Some(None) => map.remove(key).is_some(),
            Some(Some(object)) => {
                map.insert(key.to_vec(), object);
                true
            }
        })
    }

    fn list_objects(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<(Bytes, StoredObject)>> {
        let map = self
            .objects()
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(map
            .range(prefix.max(start).to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (Bytes::copy_from_slice(k), v.clone()))
            .collect())
    }

    fn next_object_version(&self) -> Result<u64> {
        Ok(self.objects().versions.fetch_add(1, Ordering::Relaxed) + 1)
    }
}
