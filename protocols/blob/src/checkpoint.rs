//! Checkpoint blobs are Kafka consumer-group offsets.
//!
//! `{ns}/{hub}/{group}/checkpoint/{partition}` names the committed offset of Kafka group
//! `group` (`$default`, as the stores lower-case it, is group `$Default`) in partition
//! `partition` of `hub` (matched case-insensitively, since the stores lower-case hub names
//! too). Writing one with `sequencenumber` S commits offset S + 1, the next record to read;
//! reading a committed offset O shows `sequencenumber` O − 1 and `offset` "O − 1" (hubgate's
//! Event Hubs offset of a record is its sequence number, and the SDKs resume *after* the
//! checkpointed offset). The namespace part is kept only in the name the client asked for.
//!
//! A name whose hub or partition does not exist is an ordinary blob.

use hubgate_storage::{CommittedOffset, HubInfo, HubName, PartitionId, SharedStorage};

use crate::error::BlobError;
use crate::request::Conditions;
use crate::store::now_ms;

const SEGMENT: &str = "/checkpoint/";

/// A checkpoint blob resolved to its group and partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    pub(crate) group: String,
    pub(crate) partition: PartitionId,
}

/// The Kafka group of an Event Hubs consumer group as the stores write it.
pub(crate) fn group_name(segment: &str) -> String {
    if segment.eq_ignore_ascii_case("$default") {
        "$Default".to_owned()
    } else {
        segment.to_owned()
    }
}

/// Splits `{ns}/{hub}/{group}` into hub and group.
fn hub_and_group(head: &str) -> Option<(&str, &str)> {
    let mut parts = head.rsplitn(3, '/');
    let group = parts.next()?;
    let hub = parts.next()?;
    let ns = parts.next()?;
    (!ns.is_empty() && !hub.is_empty() && !group.is_empty()).then_some((hub, group))
}

/// The hub named `name`, or the one whose name matches it ignoring ASCII case.
async fn resolve_hub(storage: &SharedStorage, name: &str) -> Result<Option<HubInfo>, BlobError> {
    if let Ok(exact) = HubName::new(name) {
        match storage.hub(&exact).await {
            Ok(info) => return Ok(Some(info)),
            Err(hubgate_storage::Error::NoSuchHub(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(storage
        .hubs()
        .await?
        .into_iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name)))
}

/// The checkpoint a blob name stands for, if it is one of an existing hub's partitions.
pub(crate) async fn parse(
    storage: &SharedStorage,
    name: &str,
) -> Result<Option<Checkpoint>, BlobError> {
    let Some(at) = name.rfind(SEGMENT) else {
        return Ok(None);
    };
    let (head, partition) = (&name[..at], &name[at + SEGMENT.len()..]);
    let (Some((hub, group)), Ok(index)) = (hub_and_group(head), partition.parse::<u32>()) else {
        return Ok(None);
    };
    if index.to_string() != partition {
        return Ok(None);
    }
    let Some(info) = resolve_hub(storage, hub).await? else {
        return Ok(None);
    };
    if index >= info.config.partitions {
        return Ok(None);
    }
    Ok(Some(Checkpoint {
        group: group_name(group),
        partition: PartitionId::new(info.name, index),
    }))
}

/// The group's committed offset in the checkpoint's partition.
pub(crate) async fn read(
    storage: &SharedStorage,
    checkpoint: &Checkpoint,
) -> Result<Option<CommittedOffset>, BlobError> {
    Ok(storage
        .committed_offsets(&checkpoint.group)
        .await?
        .into_iter()
        .find(|(p, _)| *p == checkpoint.partition)
        .map(|(_, o)| o))
}

/// The checkpoint's current committed offset, checked against the request's conditions:
/// [`Conditions::missing`] when there is none, `412` when they do not hold.
pub(crate) async fn existing(
    storage: &SharedStorage,
    checkpoint: &Checkpoint,
    conditions: Conditions,
) -> Result<CommittedOffset, BlobError> {
    let current = read(storage, checkpoint)
        .await?
        .ok_or_else(|| conditions.missing())?;
    if !conditions.hold(Some(version(&current))) {
        return Err(BlobError::ConditionNotMet);
    }
    Ok(current)
}

/// Commits the offset after the checkpoint's `sequencenumber` (or, without one, its
/// `offset`), durably.
pub(crate) async fn write(
    storage: &SharedStorage,
    checkpoint: &Checkpoint,
    metadata: &[(String, String)],
) -> Result<CommittedOffset, BlobError> {
    let value = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse::<i64>().ok())
    };
    let last =
        value("sequencenumber")
            .or_else(|| value("offset"))
            .ok_or(BlobError::InvalidMetadata(
                "a checkpoint needs a decimal sequencenumber or offset",
            ))?;
    let next = last
        .checked_add(1)
        .filter(|n| *n >= 0)
        .ok_or(BlobError::InvalidMetadata(
            "the checkpoint's sequence number is out of range",
        ))?;
    let committed = CommittedOffset {
        offset: next,
        leader_epoch: None,
        metadata: String::new(),
        committed_at_ms: now_ms(),
    };
    storage
        .commit_offsets(
            &checkpoint.group,
            &[(checkpoint.partition.clone(), committed.clone())],
        )
        .await?;
    Ok(committed)
}

/// The metadata a committed offset shows as a checkpoint blob.
pub(crate) fn metadata(committed: &CommittedOffset) -> Vec<(String, String)> {
    let last = committed.offset - 1;
    vec![
        ("offset".to_owned(), last.to_string()),
        ("sequencenumber".to_owned(), last.to_string()),
    ]
}

/// A version standing for one commit (the ETag of the checkpoint blob): FNV-1a over the
/// offset and commit time, so a new commit shows a new ETag.
pub(crate) fn version(committed: &CommittedOffset) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in committed
        .offset
        .to_be_bytes()
        .into_iter()
        .chain(committed.committed_at_ms.to_be_bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash >> 1
}

/// The checkpoint blobs a listing with `prefix` shows: when the prefix reaches
/// `{ns}/{hub}/{group}/checkpoint/`, every offset the group committed in the hub, named with
/// the prefix's own `{ns}/{hub}/{group}`, sorted by name.
pub(crate) async fn list(
    storage: &SharedStorage,
    prefix: &str,
) -> Result<Vec<(String, CommittedOffset)>, BlobError> {
    let Some(at) = prefix.rfind(SEGMENT) else {
        return Ok(Vec::new());
    };
    let head = &prefix[..at];
    let Some((hub, group)) = hub_and_group(head) else {
        return Ok(Vec::new());
    };
    let Some(info) = resolve_hub(storage, hub).await? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, CommittedOffset)> = storage
        .committed_offsets(&group_name(group))
        .await?
        .into_iter()
        .filter(|(p, _)| p.hub == info.name)
        .map(|(p, o)| (format!("{head}{SEGMENT}{}", p.index), o))
        .filter(|(name, _)| name.starts_with(prefix))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_hub_and_group() {
        assert_eq!(
            hub_and_group("127.0.0.1:5672/hub1/$default"),
            Some(("hub1", "$default"))
        );
        assert_eq!(hub_and_group("hub1/$default"), None);
        assert_eq!(group_name("$default"), "$Default");
        assert_eq!(group_name("billing"), "billing");
    }

    #[test]
    fn a_commit_reads_back_as_the_sequence_number_before_it() {
        let committed = CommittedOffset {
            offset: 8,
            leader_epoch: None,
            metadata: String::new(),
            committed_at_ms: 1,
        };
        assert_eq!(
            metadata(&committed),
            [
                ("offset".to_owned(), "7".to_owned()),
                ("sequencenumber".to_owned(), "7".to_owned())
            ]
        );
        let later = CommittedOffset {
            committed_at_ms: 2,
            ..committed.clone()
        };
        assert_ne!(version(&committed), version(&later));
    }
}
