//! Small durable objects: a protocol-neutral key → (bytes, version) map beside the log.
//!
//! Front ends that need a little state of their own that must survive a crash (the Blob
//! front end's containers and ownership blobs) keep it here instead of in a side file. Every
//! write gets a version never handed out before by this storage, even across restarts and
//! after a delete, so a version seen once identifies one write for good; conditional writes
//! compare it atomically. Sizes are capped ([`MAX_OBJECT_KEY_BYTES`],
//! [`MAX_OBJECT_VALUE_BYTES`], [`MAX_OBJECT_LIST`]): this is for small metadata, not payloads.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;

/// Longest object key.
pub const MAX_OBJECT_KEY_BYTES: usize = 2048;
/// Largest object value.
pub const MAX_OBJECT_VALUE_BYTES: usize = 64 << 10;
/// Most objects one [`Objects::list_objects`] call returns.
pub const MAX_OBJECT_LIST: usize = 5000;

/// An object as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// The bytes written.
    pub value: Bytes,
    /// The version the write got.
    pub version: u64,
}

/// When a conditional write or delete takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Always.
    Any,
    /// Only if no object has the key.
    Absent,
    /// Only if an object has the key.
    Present,
    /// Only if the object exists with this version.
    Version(u64),
    /// Only if there is no object, or it has another version.
    NotVersion(u64),
}

impl Precondition {
    /// Whether the condition holds for an object whose current version is `current`.
    pub fn holds(self, current: Option<u64>) -> bool {
        match self {
            Self::Any => true,
            Self::Absent => current.is_none(),
            Self::Present => current.is_some(),
            Self::Version(v) => current == Some(v),
            Self::NotVersion(v) => current != Some(v),
        }
    }
}

/// A durable map of small objects with compare-and-swap on their versions.
///
/// Writes are durable under the log's [`Durability`](crate::Durability) when they return, like
/// appends.
#[async_trait]
pub trait Objects: Send + Sync + fmt::Debug + 'static {
    /// The object stored under `key`, if any.
    async fn object(&self, key: &[u8]) -> Result<Option<StoredObject>>;

    /// Stores `value` under `key` if `when` holds for the current object, atomically; returns
    /// the new version, or `None` (nothing written) when the condition does not hold.
    ///
    /// # Errors
    /// [`Error::ObjectTooLarge`](crate::Error::ObjectTooLarge) for a key or value over its cap.
    async fn put_object(&self, key: &[u8], value: Bytes, when: Precondition)
    -> Result<Option<u64>>;

    /// Deletes the object under `key` if it exists and `when` holds, atomically; returns
    /// whether an object was deleted.
    async fn delete_object(&self, key: &[u8], when: Precondition) -> Result<bool>;

    /// Up to `limit` (at most [`MAX_OBJECT_LIST`]) objects whose keys start with `prefix` and
    /// are at or after `start`, in byte order of their keys.
    async fn list_objects(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
    ) -> Result<Vec<(Bytes, StoredObject)>>;
}
