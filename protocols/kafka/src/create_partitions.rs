//! CreatePartitions (key 37): grows a hub's partition count (it never shrinks).

use hubgate_storage::{HubName, HubUpdate};
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::error::{code, storage_code};

/// Answers a CreatePartitions request; every topic gets a result.
pub(crate) async fn handle(
    h: &Handler,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let outcome = grow(h, &topic, request.validate_only).await;
        let mut result = CreatePartitionsTopicResult::default().with_name(topic.name);
        if let Err((error_code, message)) = outcome {
            result.error_code = error_code;
            result.error_message = Some(StrBytes::from_string(message));
        }
        results.push(result);
    }
    CreatePartitionsResponse::default().with_results(results)
}

async fn grow(
    h: &Handler,
    topic: &kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    let name = HubName::new(topic.name.as_str())
        .map_err(|e| (code::UNKNOWN_TOPIC_OR_PARTITION, e.to_string()))?;
    let hub = h
        .storage
        .hub(&name)
        .await
        .map_err(|e| (storage_code(&e), e.to_string()))?;
    let current = hub.config.partitions as i32;
    if topic.count <= current {
        return Err((
            code::INVALID_PARTITIONS,
            format!("topic has {current} partitions; the new count must be larger"),
        ));
    }
    if topic.assignments.as_ref().is_some_and(|a| !a.is_empty()) {
        return Err((
            code::INVALID_REQUEST,
            "manual replica assignment is not supported".into(),
        ));
    }
    let update = HubUpdate {
        partitions: Some(topic.count as u32),
        ..HubUpdate::default()
    };
    if validate_only {
        return update
            .apply(&hub.config)
            .map(|_| ())
            .map_err(|e| (code::INVALID_PARTITIONS, e.to_string()));
    }
    h.storage
        .update_hub(&name, update)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            hubgate_storage::Error::InvalidConfig(m) => (code::INVALID_PARTITIONS, m),
            e => (storage_code(&e), e.to_string()),
        })
}
