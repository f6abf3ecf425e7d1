//! CreateTopics (key 19): creates hubs, with the served configs applied.

use hubgate_storage::{HubConfig, HubName, HubUpdate};
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::configs;
use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::topic_id::topic_id;

/// Answers a CreateTopics request.
pub(crate) async fn handle(
    h: &Handler,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let mut result = CreatableTopicResult::default().with_name(topic.name.clone());
        match create(h, &topic, request.validate_only).await {
            Ok(info) => {
                if version >= 5 {
                    result.num_partitions = info.config.partitions as i32;
                    result.replication_factor = 1;
                    result.configs = Some(
                        configs::describe(&info.config)
                            .into_iter()
                            .map(|e| {
                                CreatableTopicConfigs::default()
                                    .with_name(StrBytes::from_static_str(e.name))
                                    .with_value(Some(StrBytes::from_string(e.value)))
                                    .with_config_source(e.source)
                            })
                            .collect(),
                    );
                }
                if version >= 7 {
                    result.topic_id = topic_id(&info);
                }
            }
            Err((error_code, message)) => {
                result.error_code = error_code;
                if version >= 1 {
                    result.error_message = message.map(StrBytes::from_string);
                }
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

type Failure = (i16, Option<String>);

async fn create(
    h: &Handler,
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
    validate_only: bool,
) -> Result<hubgate_storage::HubInfo, Failure> {
    let name = HubName::new(topic.name.as_str())
        .map_err(|e| (code::INVALID_TOPIC_EXCEPTION, Some(e.to_string())))?;
    if !matches!(topic.replication_factor, -1 | 1) {
        return Err((
            code::INVALID_REPLICATION_FACTOR,
            Some("this broker keeps one replica".into()),
        ));
    }
    if !topic.assignments.is_empty() {
        return Err((
            code::INVALID_REQUEST,
            Some("manual replica assignment is not supported".into()),
        ));
    }
    let partitions = match topic.num_partitions {
        -1 => h.config.auto_create.partitions,
        n if n > 0 => n as u32,
        _ => {
            return Err((
                code::INVALID_PARTITIONS,
                Some("the partition count must be at least 1".into()),
            ));
        }
    };
    let mut update = HubUpdate::default();
    let compaction = h.storage.capabilities().compaction;
    for config in &topic.configs {
        configs::set(
            &mut update,
            config.name.as_str(),
            config.value.as_deref(),
            compaction,
        )
        .map_err(|e| (code::INVALID_CONFIG, Some(e.0)))?;
    }
    let config = update
        .apply(&HubConfig {
            partitions,
            ..HubConfig::default()
        })
        .map_err(|e| (storage_code(&e), Some(e.to_string())))?;
    if validate_only {
        return match h.storage.hub(&name).await {
            Ok(_) => Err((code::TOPIC_ALREADY_EXISTS, None)),
            Err(_) => Ok(hubgate_storage::HubInfo {
                name,
                config,
                created_at_ms: 0,
            }),
        };
    }
    h.storage
        .create_hub(&name, config)
        .await
        .map_err(|e| (storage_code(&e), Some(e.to_string())))
}
