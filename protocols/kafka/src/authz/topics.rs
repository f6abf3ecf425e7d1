//! Per-topic authorization of the topic APIs: the request is split into the topics the access
//! allows and the others; the handler sees only the allowed ones, and the others are answered
//! TOPIC_AUTHORIZATION_FAILED (29) per topic or partition, as Kafka does (config resources of
//! the broker get CLUSTER_AUTHORIZATION_FAILED, 31).

use hubgate_protocol::Right;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteRecordsRequest, DeleteTopicsRequest,
    FetchRequest, ListOffsetsRequest, OffsetForLeaderEpochRequest, ProduceRequest,
};
use kafka_protocol::protocol::StrBytes;

use super::Access;
use crate::error::code::{CLUSTER_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED as DENIED};

/// Config resource types (Kafka's `ConfigResource.Type`).
const TOPIC_RESOURCE: i8 = 2;

/// Moves the items `allowed` refuses out of `items`, keeping the order of both.
pub(super) fn split_off<T>(items: &mut Vec<T>, allowed: impl Fn(&T) -> bool) -> Vec<T> {
    let (keep, denied) = std::mem::take(items).into_iter().partition(allowed);
    *items = keep;
    denied
}

/// Produce needs Send on each topic.
pub(crate) fn produce(access: &Access, request: &mut ProduceRequest) -> Vec<TopicProduceResponse> {
    split_off(&mut request.topic_data, |t| {
        access.allows(&t.name, Right::Send)
    })
    .into_iter()
    .map(|t| {
        let partitions = t
            .partition_data
            .iter()
            .map(|p| {
                PartitionProduceResponse::default()
                    .with_index(p.index)
                    .with_error_code(DENIED)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(-1)
            })
            .collect();
        TopicProduceResponse::default()
            .with_name(t.name)
            .with_partition_responses(partitions)
    })
    .collect()
}

/// Fetch needs Listen on each topic.
pub(crate) fn fetch(access: &Access, request: &mut FetchRequest) -> Vec<FetchableTopicResponse> {
    split_off(&mut request.topics, |t| {
        access.allows(&t.topic, Right::Listen)
    })
    .into_iter()
    .map(|t| {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                PartitionData::default()
                    .with_partition_index(p.partition)
                    .with_error_code(DENIED)
                    .with_high_watermark(-1)
                    .with_last_stable_offset(-1)
                    .with_log_start_offset(-1)
            })
            .collect();
        FetchableTopicResponse::default()
            .with_topic(t.topic)
            .with_topic_id(t.topic_id)
            .with_partitions(partitions)
    })
    .collect()
}

/// ListOffsets needs Listen on each topic.
pub(crate) fn list_offsets(
    access: &Access,
    request: &mut ListOffsetsRequest,
) -> Vec<ListOffsetsTopicResponse> {
    split_off(&mut request.topics, |t| {
        access.allows(&t.name, Right::Listen)
    })
    .into_iter()
    .map(|t| {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                ListOffsetsPartitionResponse::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(DENIED)
                    .with_timestamp(-1)
                    .with_offset(-1)
            })
            .collect();
        ListOffsetsTopicResponse::default()
            .with_name(t.name)
            .with_partitions(partitions)
    })
    .collect()
}

/// OffsetForLeaderEpoch needs Listen on each topic.
pub(crate) fn offset_for_leader_epoch(
    access: &Access,
    request: &mut OffsetForLeaderEpochRequest,
) -> Vec<OffsetForLeaderTopicResult> {
    split_off(&mut request.topics, |t| {
        access.allows(&t.topic, Right::Listen)
    })
    .into_iter()
    .map(|t| {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                EpochEndOffset::default()
                    .with_partition(p.partition)
                    .with_error_code(DENIED)
                    .with_leader_epoch(-1)
                    .with_end_offset(-1)
            })
            .collect();
        OffsetForLeaderTopicResult::default()
            .with_topic(t.topic)
            .with_partitions(partitions)
    })
    .collect()
}

fn denied_message() -> Option<StrBytes> {
    Some(StrBytes::from_static_str("Authorization failed."))
}

/// CreateTopics needs Manage on each name.
pub(crate) fn create_topics(
    access: &Access,
    request: &mut CreateTopicsRequest,
) -> Vec<CreatableTopicResult> {
    split_off(&mut request.topics, |t| {
        access.allows(&t.name, Right::Manage)
    })
    .into_iter()
    .map(|t| {
        CreatableTopicResult::default()
            .with_name(t.name)
            .with_error_code(DENIED)
            .with_error_message(denied_message())
            .with_num_partitions(-1)
            .with_replication_factor(-1)
    })
    .collect()
}

/// DeleteTopics needs Manage on each topic; a topic named only by id is refused unless no
/// policy is configured, since its hub is not known here.
pub(crate) fn delete_topics(
    access: &Access,
    request: &mut DeleteTopicsRequest,
) -> Vec<DeletableTopicResult> {
    let mut denied: Vec<DeletableTopicResult> = split_off(&mut request.topic_names, |t| {
        access.allows(t, Right::Manage)
    })
    .into_iter()
    .map(|name| {
        DeletableTopicResult::default()
            .with_name(Some(name))
            .with_error_code(DENIED)
    })
    .collect();
    denied.extend(
        split_off(&mut request.topics, |t| match &t.name {
            Some(name) => access.allows(name, Right::Manage),
            None => matches!(access, Access::Open),
        })
        .into_iter()
        .map(|t| {
            DeletableTopicResult::default()
                .with_name(t.name)
                .with_topic_id(t.topic_id)
                .with_error_code(DENIED)
                .with_error_message(denied_message())
        }),
    );
    denied
}

/// CreatePartitions needs Manage on each topic.
pub(crate) fn create_partitions(
    access: &Access,
    request: &mut CreatePartitionsRequest,
) -> Vec<CreatePartitionsTopicResult> {
    split_off(&mut request.topics, |t| {
        access.allows(&t.name, Right::Manage)
    })
    .into_iter()
    .map(|t| {
        CreatePartitionsTopicResult::default()
            .with_name(t.name)
            .with_error_code(DENIED)
            .with_error_message(denied_message())
    })
    .collect()
}

/// DeleteRecords needs Manage on each topic.
pub(crate) fn delete_records(
    access: &Access,
    request: &mut DeleteRecordsRequest,
) -> Vec<DeleteRecordsTopicResult> {
    split_off(&mut request.topics, |t| {
        access.allows(&t.name, Right::Manage)
    })
    .into_iter()
    .map(|t| {
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                DeleteRecordsPartitionResult::default()
                    .with_partition_index(p.partition_index)
                    .with_low_watermark(-1)
                    .with_error_code(DENIED)
            })
            .collect();
        DeleteRecordsTopicResult::default()
            .with_name(t.name)
            .with_partitions(partitions)
    })
    .collect()
}

/// The error for a config resource the access may not alter (`right` = Manage) or describe
/// (`right` = `None`: any right): `None` when allowed.
fn config_resource_denied(
    access: &Access,
    resource_type: i8,
    name: &str,
    right: Option<Right>,
) -> Option<i16> {
    let allowed = if resource_type == TOPIC_RESOURCE {
        match right {
            Some(right) => access.allows(name, right),
            None => access.sees(name),
        }
    } else {
        match right {
            Some(right) => access.holds(right),
            None => access.authenticated(),
        }
    };
    match (allowed, resource_type == TOPIC_RESOURCE) {
        (true, _) => None,
        (false, true) => Some(DENIED),
        (false, false) => Some(CLUSTER_AUTHORIZATION_FAILED),
    }
}

/// Moves the config resources the access may not use (`right`: Manage to alter, `None` to
/// describe) out of `resources`, answering each with `answer(resource, code)`.
fn split_resources<R, A>(
    access: &Access,
    resources: &mut Vec<R>,
    right: Option<Right>,
    key: impl Fn(&R) -> (i8, &StrBytes),
    answer: impl Fn(&R, i16) -> A,
) -> Vec<A> {
    let mut denied = Vec::new();
    resources.retain(|r| {
        let (resource_type, name) = key(r);
        match config_resource_denied(access, resource_type, name, right) {
            None => true,
            Some(code) => {
                denied.push(answer(r, code));
                false
            }
        }
    });
    denied
}

/// DescribeConfigs: a topic needs any right on it (else 29), a broker an authenticated client.
pub(crate) fn describe_configs(
    access: &Access,
    request: &mut kafka_protocol::messages::DescribeConfigsRequest,
) -> Vec<kafka_protocol::messages::describe_configs_response::DescribeConfigsResult> {
    use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;
    split_resources(
        access,
        &mut request.resources,
        None,
        |r| (r.resource_type, &r.resource_name),
        |r, code| {
            DescribeConfigsResult::default()
                .with_error_code(code)
                .with_error_message(denied_message())
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
        },
    )
}

/// AlterConfigs: Manage on the topic (else 29) or for the broker (else 31).
pub(crate) fn alter_configs(
    access: &Access,
    request: &mut kafka_protocol::messages::AlterConfigsRequest,
) -> Vec<kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse> {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    split_resources(
        access,
        &mut request.resources,
        Some(Right::Manage),
        |r| (r.resource_type, &r.resource_name),
        |r, code| {
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(denied_message())
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
        },
    )
}

/// IncrementalAlterConfigs: as [`alter_configs`].
pub(crate) fn incremental_alter_configs(
    access: &Access,
    request: &mut kafka_protocol::messages::IncrementalAlterConfigsRequest,
) -> Vec<kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse>
{
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    split_resources(
        access,
        &mut request.resources,
        Some(Right::Manage),
        |r| (r.resource_type, &r.resource_name),
        |r, code| {
            AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_error_message(denied_message())
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone())
        },
    )
}

/// DescribeTopicPartitions: as Metadata, a listing of every topic drops the hubs the access
/// does not cover, and a named one it does not cover gets 29 without partitions.
pub(crate) fn describe_topic_partitions(
    access: &Access,
    listed_all: bool,
    response: &mut kafka_protocol::messages::DescribeTopicPartitionsResponse,
) {
    let visible = |t: &kafka_protocol::messages::describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic| {
        t.name.as_ref().is_some_and(|name| access.sees(name))
    };
    if listed_all {
        response.topics.retain(visible);
        return;
    }
    for topic in &mut response.topics {
        if !visible(topic) {
            topic.error_code = DENIED;
            topic.topic_id = uuid::Uuid::nil();
            topic.partitions.clear();
        }
    }
}
