//! Stable topic ids (Metadata v10+, DeleteTopics v6+).
//!
//! A topic id is derived from the hub's name and creation time, both persisted by storage, so
//! it survives restarts and changes when a hub is deleted and created again, as Kafka's does.

use hubgate_storage::HubInfo;
use uuid::Uuid;

/// The topic id of `hub`; never the nil UUID.
pub(crate) fn topic_id(hub: &HubInfo) -> Uuid {
    let mut input = Vec::with_capacity(hub.name.as_str().len() + 9);
    input.extend_from_slice(hub.name.as_str().as_bytes());
    input.push(0);
    input.extend_from_slice(&hub.created_at_ms.to_be_bytes());
    let high = fnv1a(0xcbf2_9ce4_8422_2325, &input);
    let low = fnv1a(0x6c62_272e_07bb_0142, &input) | 1;
    Uuid::from_u64_pair(high, low)
}

fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubgate_storage::{HubConfig, HubName};

    fn hub(name: &str, created_at_ms: i64) -> HubInfo {
        HubInfo {
            name: HubName::new(name).unwrap(),
            config: HubConfig::default(),
            created_at_ms,
        }
    }

    #[test]
    fn stable_distinct_and_never_nil() {
        assert_eq!(topic_id(&hub("a", 1)), topic_id(&hub("a", 1)));
        assert_ne!(topic_id(&hub("a", 1)), topic_id(&hub("a", 2)));
        assert_ne!(topic_id(&hub("a", 1)), topic_id(&hub("b", 1)));
        assert!(!topic_id(&hub("a", 0)).is_nil());
    }
}
