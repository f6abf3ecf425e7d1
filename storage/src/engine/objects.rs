//! [`Objects`] over a backend: size caps, versions and durability here, the atomic
//! compare-and-swap in the backend.

use async_trait::async_trait;
use bytes::Bytes;

use super::Engine;
use super::backend::{Backend, ObjectBackend};
use crate::error::{Error, Result};
use crate::objects::{
    MAX_OBJECT_KEY_BYTES, MAX_OBJECT_LIST, MAX_OBJECT_VALUE_BYTES, Objects, Precondition,
    StoredObject,
};

fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_OBJECT_KEY_BYTES {
        return Err(Error::ObjectTooLarge {
            what: "key",
            len: key.len(),
            limit: MAX_OBJECT_KEY_BYTES,
        });
    }
    Ok(())
}

#[async_trait]
impl<B: Backend + ObjectBackend> Objects for Engine<B> {
    async fn object(&self, key: &[u8]) -> Result<Option<StoredObject>> {
        check_key(key)?;
        self.backend.object(key)
    }

    async fn put_object(
        &self,
        key: &[u8],
        value: Bytes,
        when: Precondition,
    ) -> Result<Option<u64>> {
        check_key(key)?;
        if value.len() > MAX_OBJECT_VALUE_BYTES {
            return Err(Error::ObjectTooLarge {
                what: "value",
                len: value.len(),
                limit: MAX_OBJECT_VALUE_BYTES,
            });
        }
        let version = self.backend.next_object_version()?;
        let new = StoredObject { value, version };
        let written = self.backend.swap_object(key, &mut |current| {
            when.holds(current.map(|o| o.version))
                .then(|| Some(new.clone()))
        })?;
        if !written {
            return Ok(None);
        }
        self.durable().await?;
        Ok(Some(version))
    }

    async fn delete_object(&self, key: &[u8], when: Precondition) -> Result<bool> {
        check_key(key)?;
        let deleted = self.backend.swap_object(key, &mut |current| {
            (current.is_some() && when.holds(current.map(|o| o.version))).then_some(None)
        })?;
        if deleted {
            self.durable().await?;
        }
        Ok(deleted)
    }

    async fn list_objects(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<(Bytes, StoredObject)>> {
        check_key(prefix)?;
        check_key(start)?;
        self.backend
            .list_objects(prefix, start, limit.min(MAX_OBJECT_LIST))
    }
}
