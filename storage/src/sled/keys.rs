//! Key layout inside the sled database.
//!
//! - tree `hubs`: hub name → JSON [`HubInfo`](crate::HubInfo).
//! - tree `offsets`: [`offset_key`] → [`encode_offset`].
//! - one tree per partition, named [`partition_tree`], holding:
//!   - `META` → [`PartitionMeta`](crate::engine::backend::PartitionMeta) (40 bytes);
//!   - `BATCH` + base offset (u64 BE) + chunk index (u32 BE) → one [`CHUNK_BYTES`] piece of
//!     the stored batch;
//!   - `SUMMARY` + base offset → last offset, max timestamp, length (24 bytes);
//!   - `TIME` + running max timestamp (order-preserving) → base offset;
//!   - `PRODUCER` + producer id (i64 BE) → that idempotent producer's state in the partition;
//!   - `ABORTED` + ABORT marker offset → producer id, first offset, marker offset (24 bytes).
//! - tree `txns`: transactional id → JSON [`TxnRecord`](crate::TxnRecord).
//!
//! - the default tree holds [`Objects`](crate::Objects) under `OBJECT` + key → version (u64 BE)
//!   + value, and [`CLUSTER_ID`] → the cluster id (UTF-8), written once.
//!
//! Every append writes one batch, its summary, the meta and maybe a time entry in a single
//! atomic `sled::Batch` on the partition's tree.

use bytes::Bytes;

use crate::engine::backend::BatchSummary;
use crate::hub::{HubName, PartitionId};
use crate::log::CommittedOffset;
use crate::record::Offset;

pub(crate) const META: &[u8] = &[0x00];
/// Key of the cluster id in the default tree.
pub(crate) const CLUSTER_ID: &[u8] = b"cluster_id";
pub(crate) const BATCH: u8 = 0x01;
pub(crate) const SUMMARY: u8 = 0x02;
pub(crate) const TIME: u8 = 0x03;
pub(crate) const PRODUCER: u8 = 0x04;
pub(crate) const ABORTED: u8 = 0x05;
/// Prefix of every object key in the default tree.
pub(crate) const OBJECT: u8 = 0x10;

/// `PRODUCER` + producer id.
pub(crate) fn producer_key(producer_id: i64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = PRODUCER;
    key[1..].copy_from_slice(&producer_id.to_be_bytes());
    key
}

/// Largest piece of a batch stored under one key.
///
/// sled 0.34 keeps up to 17 items in a leaf and writes a leaf larger than a quarter segment as
/// a separate blob file; pages backed by blobs escape its cache limit, so a log of 1 MiB values
/// grew the process by about the amount written (1.3 GB RSS after 1 GiB). With 8 KiB pieces a
/// full leaf stays near 140 KiB, below the 256 KiB threshold of hubgate's 1 MiB segments, and
/// memory stays bounded (~350 MB RSS while writing 2 GiB).
pub(crate) const CHUNK_BYTES: usize = 8 << 10;

/// Prefix of every partition tree's name.
pub(crate) const PARTITION_TREE_PREFIX: &str = "p/";

/// Name of a partition's tree; `/` cannot occur in hub names, so names never collide.
pub(crate) fn partition_tree(hub: &HubName, index: u32) -> String {
    format!("{PARTITION_TREE_PREFIX}{hub}/{index}")
}

/// Parses a partition tree name back into hub name and index.
pub(crate) fn parse_partition_tree(name: &[u8]) -> Option<(String, u32)> {
    let name = std::str::from_utf8(name).ok()?;
    let rest = name.strip_prefix(PARTITION_TREE_PREFIX)?;
    let (hub, index) = rest.rsplit_once('/')?;
    Some((hub.to_owned(), index.parse().ok()?))
}

/// `kind` + offset, ordered by offset (offsets are never negative).
pub(crate) fn offset_key(kind: u8, offset: Offset) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = kind;
    key[1..].copy_from_slice(&(offset.max(0) as u64).to_be_bytes());
    key
}

/// `BATCH` + base offset + chunk index: the key of one piece of a stored batch.
pub(crate) fn chunk_key(base: Offset, chunk: u32) -> [u8; 13] {
    let mut key = [0u8; 13];
    key[..9].copy_from_slice(&offset_key(BATCH, base));
    key[9..].copy_from_slice(&chunk.to_be_bytes());
    key
}

/// How many pieces a batch of `len` bytes is stored in.
pub(crate) fn chunk_count(len: u64) -> u32 {
    len.div_ceil(CHUNK_BYTES as u64).max(1) as u32
}

/// The offset in a key built by [`offset_key`].
pub(crate) fn key_offset(key: &[u8]) -> Option<Offset> {
    let bytes: [u8; 8] = key.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes) as Offset)
}

/// `TIME` + timestamp with the sign bit flipped, so byte order is numeric order.
pub(crate) fn time_key(timestamp: i64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = TIME;
    key[1..].copy_from_slice(&((timestamp as u64) ^ (1 << 63)).to_be_bytes());
    key
}

pub(crate) fn encode_summary(s: &BatchSummary) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[0..8].copy_from_slice(&s.last.to_be_bytes());
    out[8..16].copy_from_slice(&s.max_timestamp.to_be_bytes());
    out[16..24].copy_from_slice(&s.len.to_be_bytes());
    out
}

pub(crate) fn decode_summary(base: Offset, value: &[u8]) -> Option<BatchSummary> {
    let v: &[u8; 24] = value.try_into().ok()?;
    let field = |at: usize| -> [u8; 8] {
        let mut b = [0u8; 8];
        b.copy_from_slice(&v[at..at + 8]);
        b
    };
    Some(BatchSummary {
        base,
        last: i64::from_be_bytes(field(0)),
        max_timestamp: i64::from_be_bytes(field(8)),
        len: u64::from_be_bytes(field(16)),
    })
}

/// Length-prefixed group, hub and partition: unambiguous whatever bytes a group id holds.
pub(crate) fn group_offset_key(group: &str, partition: &PartitionId) -> Vec<u8> {
    let hub = partition.hub.as_str();
    let mut key = Vec::with_capacity(4 + group.len() + hub.len() + 4);
    key.extend_from_slice(&(group.len() as u32).to_be_bytes());
    key.extend_from_slice(group.as_bytes());
    key.extend_from_slice(&(hub.len() as u32).to_be_bytes());
    key.extend_from_slice(hub.as_bytes());
    key.extend_from_slice(&partition.index.to_be_bytes());
    key
}

pub(crate) fn parse_group_offset_key(key: &[u8]) -> Option<(String, PartitionId)> {
    let (group, rest) = take_prefixed(key)?;
    let (hub, rest) = take_prefixed(rest)?;
    let index: [u8; 4] = rest.try_into().ok()?;
    let hub = HubName::new(std::str::from_utf8(hub).ok()?).ok()?;
    Some((
        std::str::from_utf8(group).ok()?.to_owned(),
        PartitionId::new(hub, u32::from_be_bytes(index)),
    ))
}

fn take_prefixed(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len) as usize;
    let body = buf.get(4..4 + len)?;
    Some((body, &buf[4 + len..]))
}

pub(crate) fn encode_offset(o: &CommittedOffset) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + o.metadata.len());
    out.extend_from_slice(&o.offset.to_be_bytes());
    out.extend_from_slice(&o.leader_epoch.unwrap_or(-1).to_be_bytes());
    out.extend_from_slice(&o.committed_at_ms.to_be_bytes());
    out.extend_from_slice(o.metadata.as_bytes());
    out
}

pub(crate) fn decode_offset(value: &[u8]) -> Option<CommittedOffset> {
    let offset: [u8; 8] = value.get(0..8)?.try_into().ok()?;
    let epoch: [u8; 4] = value.get(8..12)?.try_into().ok()?;
    let at: [u8; 8] = value.get(12..20)?.try_into().ok()?;
    let epoch = i32::from_be_bytes(epoch);
    Some(CommittedOffset {
        offset: i64::from_be_bytes(offset),
        leader_epoch: (epoch >= 0).then_some(epoch),
        committed_at_ms: i64::from_be_bytes(at),
        metadata: String::from_utf8(value.get(20..)?.to_vec()).ok()?,
    })
}

/// Shares a sled value as `Bytes` without copying it.
pub(crate) fn ivec_bytes(value: sled::IVec) -> Bytes {
    Bytes::from_owner(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_numerically() {
        let times = [i64::MIN, -5, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(time_key(pair[0]) < time_key(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn group_keys_round_trip_and_do_not_collide() {
        let p = PartitionId::new(HubName::new("a").unwrap(), 7);
        let q = PartitionId::new(HubName::new("ba").unwrap(), 7);
        let k1 = group_offset_key("g\0", &q);
        let k2 = group_offset_key("g", &p);
        assert_ne!(k1, k2);
        assert_eq!(parse_group_offset_key(&k1), Some(("g\0".to_owned(), q)));
        assert_eq!(parse_group_offset_key(&k2), Some(("g".to_owned(), p)));
        assert_eq!(parse_group_offset_key(&k2[..k2.len() - 1]), None);
    }

    #[test]
    fn chunk_keys_sort_by_offset_then_chunk() {
        assert!(chunk_key(1, u32::MAX) < chunk_key(2, 0));
        assert!(chunk_key(2, 0) < chunk_key(2, 1));
        assert_eq!(key_offset(&chunk_key(77, 3)), Some(77));
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64), 1);
        assert_eq!(chunk_count(CHUNK_BYTES as u64 + 1), 2);
    }

    #[test]
    fn partition_tree_names_round_trip() {
        let hub = HubName::new("orders.v1").unwrap();
        let name = partition_tree(&hub, 12);
        assert_eq!(
            parse_partition_tree(name.as_bytes()),
            Some(("orders.v1".into(), 12))
        );
        assert_eq!(parse_partition_tree(b"hubs"), None);
    }
}
