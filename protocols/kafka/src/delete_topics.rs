//! DeleteTopics (key 20): deletes hubs, by name or (v6) by topic id.

use hubgate_storage::HubName;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::topic_id::topic_id;

/// Answers a DeleteTopics request.
pub(crate) async fn handle(
    h: &Handler,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let wanted: Vec<(Option<TopicName>, uuid::Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), uuid::Uuid::nil()))
            .collect()
    };
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let name = match name {
            Some(name) => Some(name),
            None => h.storage.hubs().await.ok().and_then(|hubs| {
                hubs.iter()
                    .find(|hub| topic_id(hub) == id)
                    .map(|hub| TopicName(StrBytes::from_string(hub.name.as_str().to_owned())))
            }),
        };
        let mut result = DeletableTopicResult::default()
            .with_name(name.clone())
            .with_topic_id(if version >= 6 { id } else { uuid::Uuid::nil() });
        result.error_code = match &name {
            None => code::UNKNOWN_TOPIC_ID,
            Some(name) => match HubName::new(name.as_str()) {
                Err(_) => code::UNKNOWN_TOPIC_OR_PARTITION,
                Ok(hub) => match h.storage.delete_hub(&hub).await {
                    Ok(()) => code::NONE,
                    Err(e) => storage_code(&e),
                },
            },
        };
        responses.push(result);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
