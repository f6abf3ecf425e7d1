//! Containers and blobs as [`Objects`](hubgate_storage::Objects): one object per container
//! (`blob/c/{account}/{container}`) and per blob (`blob/b/{account}/{container}/{name}`). An
//! object's version is its ETag (`"0x…"`, 16 hex digits), so it changes on every write and a
//! conditional write is one compare-and-swap.
//!
//! Value layout: a 4-byte big-endian length, that many bytes of JSON [`Properties`], then the
//! blob's content.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use hubgate_storage::{SharedStorage, StoredObject};
use serde::{Deserialize, Serialize};

use crate::error::BlobError;

/// Key of a container's object.
pub(crate) fn container_key(account: &str, container: &str) -> Vec<u8> {
    format!("blob/c/{account}/{container}").into_bytes()
}

/// Key prefix of a container's blobs; a blob's key is this plus its name.
pub(crate) fn blobs_prefix(account: &str, container: &str) -> Vec<u8> {
    format!("blob/b/{account}/{container}/").into_bytes()
}

/// Key of a blob's object.
pub(crate) fn blob_key(account: &str, container: &str, name: &str) -> Vec<u8> {
    let mut key = blobs_prefix(account, container);
    key.extend_from_slice(name.as_bytes());
    key
}

/// What is stored about a container or blob besides its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Properties {
    /// `x-ms-meta-*` pairs, sorted by name.
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) created_ms: i64,
    pub(crate) modified_ms: i64,
    #[serde(default)]
    pub(crate) content_type: Option<String>,
}

/// A container or blob as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) properties: Properties,
    pub(crate) content: Bytes,
    pub(crate) version: u64,
}

impl Entry {
    pub(crate) fn decode(object: StoredObject) -> Result<Self, BlobError> {
        let corrupt = || {
            BlobError::Storage(hubgate_storage::Error::Corrupt(
                "blob object without its properties".into(),
            ))
        };
        let len: [u8; 4] = object
            .value
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(corrupt)?;
        let len = u32::from_be_bytes(len) as usize;
        let json = object.value.get(4..4 + len).ok_or_else(corrupt)?;
        let properties = serde_json::from_slice(json).map_err(|_| corrupt())?;
        Ok(Self {
            properties,
            content: object.value.slice(4 + len..),
            version: object.version,
        })
    }

    pub(crate) fn etag(&self) -> String {
        etag(self.version)
    }
}

/// Encodes properties and content into one object value.
pub(crate) fn encode(properties: &Properties, content: &[u8]) -> Bytes {
    // Serialising a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(properties).unwrap_or_default();
    let mut out = BytesMut::with_capacity(4 + json.len() + content.len());
    out.put_u32(json.len() as u32);
    out.put_slice(&json);
    out.put_slice(content);
    out.freeze()
}

/// The quoted ETag of a version.
pub(crate) fn etag(version: u64) -> String {
    format!("\"0x{version:016X}\"")
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// RFC 1123 (`Wed, 02 Dec 2026 07:33:39 GMT`).
pub(crate) fn http_date(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(time)
}

/// The container's entry, or `ContainerNotFound`.
pub(crate) async fn container(
    storage: &SharedStorage,
    account: &str,
    container: &str,
) -> Result<Entry, BlobError> {
    match storage.object(&container_key(account, container)).await? {
        Some(object) => Entry::decode(object),
        None => Err(BlobError::ContainerNotFound),
    }
}

/// The blob's entry, if stored.
pub(crate) async fn blob(
    storage: &SharedStorage,
    account: &str,
    container: &str,
    name: &str,
) -> Result<Option<Entry>, BlobError> {
    storage
        .object(&blob_key(account, container, name))
        .await?
        .map(Entry::decode)
        .transpose()
}
