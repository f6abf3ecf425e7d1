//! The API version ranges this front end advertises in ApiVersions.
//!
//! Only what is implemented is listed. Produce is advertised from v0 (old librdkafka enables
//! gzip/snappy/lz4 only when the range contains v0) but v0–2 (message sets v0/v1) are answered
//! with UNSUPPORTED_VERSION;
//! Fetch stops at v12 (v13+ addresses topics by id). The classic consumer-group APIs are
//! advertised; the KIP-848 ones (ConsumerGroupHeartbeat) are not. Transactions are the
//! classic protocol (KIP-98, "transactions v1"): the client forms of AddPartitionsToTxn
//! (v0–3) and the versions before KIP-890's TRANSACTION_ABORTABLE and implicit partition
//! registration (EndTxn, AddOffsetsToTxn, TxnOffsetCommit v0–3); no `transaction.version`
//! feature is advertised, so no client uses transactions v2.
//! SaslHandshake and SaslAuthenticate are always advertised, with or without policies, so a
//! client configured for SASL connects either way.

use kafka_protocol::messages::ApiKey;

/// One advertised API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertised {
    /// The API.
    pub key: ApiKey,
    /// Lowest advertised version.
    pub min: i16,
    /// Highest advertised version.
    pub max: i16,
    /// Lowest version actually served (above `min` only for Produce).
    pub min_served: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> Advertised {
    Advertised {
        key,
        min,
        max,
        min_served: min,
    }
}

/// Every advertised API, in key order.
pub const ADVERTISED: &[Advertised] = &[
    Advertised {
        key: ApiKey::Produce,
        min: 0,
        max: 11,
        min_served: 3,
    },
    api(ApiKey::Fetch, 4, 12),
    api(ApiKey::ListOffsets, 1, 8),
    api(ApiKey::Metadata, 0, 12),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::FindCoordinator, 0, 4),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::DescribeGroups, 0, 5),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::SaslHandshake, 0, 1),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::InitProducerId, 0, 4),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::AddPartitionsToTxn, 0, 3),
    api(ApiKey::AddOffsetsToTxn, 0, 3),
    api(ApiKey::EndTxn, 0, 3),
    api(ApiKey::TxnOffsetCommit, 0, 3),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::SaslAuthenticate, 0, 2),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::DescribeCluster, 0, 1),
    api(ApiKey::DescribeProducers, 0, 0),
    api(ApiKey::DescribeTransactions, 0, 0),
    api(ApiKey::ListTransactions, 0, 1),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
];

/// The advertised range of `key`, if it is served at all.
pub fn advertised(key: ApiKey) -> Option<&'static Advertised> {
    ADVERTISED.iter().find(|a| a.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_v1_only() {
        // KIP-890 versions answer TRANSACTION_ABORTABLE or add partitions implicitly.
        for (key, max) in [
            (ApiKey::AddPartitionsToTxn, 3),
            (ApiKey::EndTxn, 3),
            (ApiKey::TxnOffsetCommit, 3),
            (ApiKey::InitProducerId, 4),
        ] {
            assert_eq!(advertised(key).map(|a| a.max), Some(max), "{key:?}");
        }
    }

    #[test]
    fn ranges_stay_within_what_the_codec_knows() {
        for a in ADVERTISED {
            let valid = a.key.valid_versions();
            assert!(
                a.min <= a.min_served && a.min_served <= a.max,
                "{:?}",
                a.key
            );
            assert!(
                a.min_served >= valid.min && a.max <= valid.max,
                "{:?}",
                a.key
            );
        }
    }

    #[test]
    fn no_next_generation_group_or_broker_only_transaction_api_is_advertised() {
        for key in [
            ApiKey::ConsumerGroupHeartbeat,
            ApiKey::ConsumerGroupDescribe,
            ApiKey::WriteTxnMarkers,
        ] {
            assert!(advertised(key).is_none(), "{key:?}");
        }
    }
}
