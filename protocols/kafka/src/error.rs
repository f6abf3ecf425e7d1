//! Kafka error codes, and the one place storage errors become them.

use hubgate_storage::Error as StorageError;
use hubgate_storage::batch::CodecError;

/// Kafka error codes used by this front end (Kafka's `Errors` enum).
#[allow(dead_code)] // the table is complete for the APIs served; not every code is used by each
pub(crate) mod code {
    pub(crate) const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub(crate) const NONE: i16 = 0;
    pub(crate) const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub(crate) const CORRUPT_MESSAGE: i16 = 2;
    pub(crate) const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub(crate) const MESSAGE_TOO_LARGE: i16 = 10;
    pub(crate) const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub(crate) const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub(crate) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub(crate) const NOT_COORDINATOR: i16 = 16;
    pub(crate) const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub(crate) const INVALID_REQUIRED_ACKS: i16 = 21;
    pub(crate) const ILLEGAL_GENERATION: i16 = 22;
    pub(crate) const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub(crate) const INVALID_GROUP_ID: i16 = 24;
    pub(crate) const UNKNOWN_MEMBER_ID: i16 = 25;
    pub(crate) const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub(crate) const REBALANCE_IN_PROGRESS: i16 = 27;
    pub(crate) const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
    pub(crate) const GROUP_AUTHORIZATION_FAILED: i16 = 30;
    pub(crate) const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
    pub(crate) const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
    pub(crate) const ILLEGAL_SASL_STATE: i16 = 34;
    pub(crate) const UNSUPPORTED_VERSION: i16 = 35;
    pub(crate) const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub(crate) const INVALID_PARTITIONS: i16 = 37;
    pub(crate) const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub(crate) const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub(crate) const INVALID_CONFIG: i16 = 40;
    pub(crate) const INVALID_REQUEST: i16 = 42;
    pub(crate) const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
    pub(crate) const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub(crate) const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
    pub(crate) const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub(crate) const INVALID_TXN_STATE: i16 = 48;
    pub(crate) const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub(crate) const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub(crate) const CONCURRENT_TRANSACTIONS: i16 = 51;
    pub(crate) const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub(crate) const OPERATION_NOT_ATTEMPTED: i16 = 55;
    pub(crate) const KAFKA_STORAGE_ERROR: i16 = 56;
    pub(crate) const SASL_AUTHENTICATION_FAILED: i16 = 58;
    pub(crate) const UNKNOWN_PRODUCER_ID: i16 = 59;
    pub(crate) const NON_EMPTY_GROUP: i16 = 68;
    pub(crate) const GROUP_ID_NOT_FOUND: i16 = 69;
    pub(crate) const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
    pub(crate) const UNKNOWN_LEADER_EPOCH: i16 = 74;
    pub(crate) const MEMBER_ID_REQUIRED: i16 = 79;
    pub(crate) const GROUP_MAX_SIZE_REACHED: i16 = 81;
    pub(crate) const FENCED_INSTANCE_ID: i16 = 82;
    pub(crate) const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
    pub(crate) const INVALID_RECORD: i16 = 87;
    pub(crate) const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    pub(crate) const PRODUCER_FENCED: i16 = 90;
    pub(crate) const UNKNOWN_TOPIC_ID: i16 = 100;
    pub(crate) const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    pub(crate) const UNSUPPORTED_ENDPOINT_TYPE: i16 = 115;
}

/// The Kafka error code for a storage error. Unexpected failures are logged here, once, and
/// become UNKNOWN_SERVER_ERROR; their details are not sent to the client.
pub(crate) fn storage_code(error: &StorageError) -> i16 {
    match error {
        StorageError::NoSuchHub(_) | StorageError::NoSuchPartition { .. } => {
            code::UNKNOWN_TOPIC_OR_PARTITION
        }
        StorageError::HubExists(_) => code::TOPIC_ALREADY_EXISTS,
        StorageError::InvalidHubName { .. } => code::INVALID_TOPIC_EXCEPTION,
        StorageError::OffsetOutOfRange { .. } => code::OFFSET_OUT_OF_RANGE,
        StorageError::InvalidConfig(_) => code::INVALID_CONFIG,
        StorageError::MessageTooLarge { .. } => code::MESSAGE_TOO_LARGE,
        StorageError::Codec(e) => codec_code(e),
        StorageError::InvalidProducerEpoch { .. } => code::INVALID_PRODUCER_EPOCH,
        StorageError::OutOfOrderSequence { .. } => code::OUT_OF_ORDER_SEQUENCE_NUMBER,
        StorageError::DuplicateSequence { .. } => code::DUPLICATE_SEQUENCE_NUMBER,
        StorageError::InvalidTxnState { .. } => code::INVALID_TXN_STATE,
        StorageError::ControlBatch => code::INVALID_RECORD,
        StorageError::StorageFailed(_) | StorageError::Io(_) | StorageError::Sled(_) => {
            tracing::error!(error = %error, "storage failure");
            code::KAFKA_STORAGE_ERROR
        }
        other => {
            tracing::error!(error = %other, "storage failure");
            code::UNKNOWN_SERVER_ERROR
        }
    }
}

/// PRODUCER_FENCED (KIP-588) exists in an API from version `since`; older versions get
/// INVALID_PRODUCER_EPOCH for it, as Kafka answers them.
pub(crate) fn fenced_for(error_code: i16, version: i16, since: i16) -> i16 {
    if error_code == code::PRODUCER_FENCED && version < since {
        code::INVALID_PRODUCER_EPOCH
    } else {
        error_code
    }
}

/// The Kafka error code for a batch that failed validation.
pub(crate) fn codec_code(error: &CodecError) -> i16 {
    match error {
        CodecError::UnsupportedMagic(_) => code::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        CodecError::TooLarge {
            field: "batch length",
            ..
        } => code::MESSAGE_TOO_LARGE,
        _ => code::CORRUPT_MESSAGE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_their_kafka_codes() {
        assert_eq!(storage_code(&StorageError::NoSuchHub("x".into())), 3);
        assert_eq!(
            storage_code(&StorageError::OffsetOutOfRange {
                requested: 9,
                log_start: 0,
                high_watermark: 1
            }),
            1
        );
        assert_eq!(
            storage_code(&StorageError::MessageTooLarge { size: 2, limit: 1 }),
            10
        );
        assert_eq!(
            storage_code(&StorageError::Codec(CodecError::CrcMismatch {
                stored: 1,
                computed: 2
            })),
            2
        );
        assert_eq!(
            storage_code(&StorageError::Codec(CodecError::UnsupportedMagic(1))),
            43
        );
        assert_eq!(storage_code(&StorageError::Closed), -1);
    }
}
