//! [`ObjectBackend`] on sled: objects in the default tree under the `OBJECT` key prefix, each
//! change one `compare_and_swap` on the stored bytes.

use bytes::Bytes;

use super::SledBackend;
use super::keys::{OBJECT, ivec_bytes};
use crate::engine::backend::{ObjectBackend, ObjectChange};
use crate::error::{Error, Result};
use crate::objects::StoredObject;

fn object_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + key.len());
    out.push(OBJECT);
    out.extend_from_slice(key);
    out
}

fn encode(object: &StoredObject) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + object.value.len());
    out.extend_from_slice(&object.version.to_be_bytes());
    out.extend_from_slice(&object.value);
    out
}

fn decode(value: sled::IVec) -> Result<StoredObject> {
    let version: [u8; 8] = value
        .get(..8)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| Error::Corrupt("object entry shorter than its version".into()))?;
    Ok(StoredObject {
        version: u64::from_be_bytes(version),
        value: ivec_bytes(value).slice(8..),
    })
}

impl ObjectBackend for SledBackend {
    fn object(&self, key: &[u8]) -> Result<Option<StoredObject>> {
        self.db.get(object_key(key))?.map(decode).transpose()
    }

    fn swap_object(
        &self,
        key: &[u8],
        decide: &mut dyn FnMut(Option<&StoredObject>) -> ObjectChange,
    ) -> Result<bool> {
        let key = object_key(key);
        loop {
            let raw = self.db.get(&key)?;
            let current = raw.clone().map(decode).transpose()?;
            let Some(change) = decide(current.as_ref()) else {
                return Ok(false);
            };
            let new = change.as_ref().map(encode);
            match self.db.compare_and_swap(&key, raw, new)? {
                Ok(()) => return Ok(true),
                // Another writer changed the object between the read and the swap: decide again.
                Err(_) => continue,
            }
        }
    }

    fn list_objects(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<(Bytes, StoredObject)>> {
        let from = object_key(prefix.max(start));
        let prefix = object_key(prefix);
        let mut out = Vec::new();
        for entry in self.db.range(from..) {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            if !key.starts_with(&prefix) {
                break;
            }
            out.push((ivec_bytes(key).slice(1..), decode(value)?));
        }
        Ok(out)
    }

    fn next_object_version(&self) -> Result<u64> {
        // sled persists its id generator and skips ahead after a crash, so versions never
        // repeat; producer ids come from the same generator, which only spaces them out.
        Ok(self.db.generate_id()?)
    }
}
