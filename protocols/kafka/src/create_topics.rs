//! CreateTopics (key 19): creates hubs, with the served configs applied.

use hubgate_storage::{HubConfig, HubName, HubUpdate};
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::NODE_ID;
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

/// The partition count a topic is created with, after Kafka's checks of the replication
/// factor and the manual replica assignments. The data is kept once, on this node, whatever
/// factor is asked for; `strict_replication_factor` refuses factors above 1 as a one-broker
/// Kafka does.
fn partitions(
    h: &Handler,
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<u32, Failure> {
    if !topic.assignments.is_empty() {
        return assigned_partitions(topic);
    }
    match topic.replication_factor {
        -1 | 1 => {}
        n if n > 1 && !h.config.strict_replication_factor => {}
        n if n > 1 => {
            return Err((
                code::INVALID_REPLICATION_FACTOR,
                Some(format!(
                    "replication factor {n} is larger than the one broker of this cluster"
                )),
            ));
        }
        _ => {
            return Err((
                code::INVALID_REPLICATION_FACTOR,
                Some("the replication factor must be at least 1 (or -1 for the default)".into()),
            ));
        }
    }
    match topic.num_partitions {
        -1 => Ok(h.config.auto_create.partitions),
        n if n > 0 => Ok(n as u32),
        _ => Err((
            code::INVALID_PARTITIONS,
            Some("the partition count must be at least 1".into()),
        )),
    }
}

/// The partition count of a topic created with manual replica assignments: one partition per
/// assignment, numbered 0..n, each naming this node once; anything else is Kafka's
/// INVALID_REPLICA_ASSIGNMENT.
fn assigned_partitions(
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
) -> Result<u32, Failure> {
    if topic.num_partitions != -1 || topic.replication_factor != -1 {
        return Err((
            code::INVALID_REQUEST,
            Some(
                "both numPartitions or replicationFactor and replicasAssignments were set; \
                 both cannot be used at the same time"
                    .into(),
            ),
        ));
    }
    let count = topic.assignments.len();
    let mut seen = vec![false; count];
    for assignment in &topic.assignments {
        let index = usize::try_from(assignment.partition_index)
            .ok()
            .filter(|&i| i < count)
            .ok_or_else(|| {
                (
                    code::INVALID_REPLICA_ASSIGNMENT,
                    Some(format!(
                        "partitions must be numbered 0 to {}; got partition {}",
                        count - 1,
                        assignment.partition_index
                    )),
                )
            })?;
        if std::mem::replace(&mut seen[index], true) {
            return Err((
                code::INVALID_REPLICA_ASSIGNMENT,
                Some(format!(
                    "partition {} is assigned more than once",
                    assignment.partition_index
                )),
            ));
        }
        if assignment.broker_ids.is_empty() {
            return Err((
                code::INVALID_REPLICA_ASSIGNMENT,
                Some(format!(
                    "partition {} has an empty replica list",
                    assignment.partition_index
                )),
            ));
        }
        let mut ids = assignment.broker_ids.iter().map(|id| id.0);
        if let Some(other) = ids.find(|&id| id != NODE_ID) {
            return Err((
                code::INVALID_REPLICA_ASSIGNMENT,
                Some(format!(
                    "partition {} names broker {other}; this cluster has only broker {NODE_ID}",
                    assignment.partition_index
                )),
            ));
        }
        if assignment.broker_ids.len() > 1 {
            return Err((
                code::INVALID_REPLICA_ASSIGNMENT,
                Some(format!(
                    "partition {} names broker {NODE_ID} more than once",
                    assignment.partition_index
                )),
            ));
        }
    }
    u32::try_from(count).map_err(|_| (code::INVALID_PARTITIONS, Some("too many partitions".into())))
}

async fn create(
    h: &Handler,
    topic: &kafka_protocol::messages::create_topics_request::CreatableTopic,
    validate_only: bool,
) -> Result<hubgate_storage::HubInfo, Failure> {
    let name = HubName::new(topic.name.as_str())
        .map_err(|e| (code::INVALID_TOPIC_EXCEPTION, Some(e.to_string())))?;
    let partitions = partitions(h, topic)?;
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
