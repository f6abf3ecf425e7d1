//! Metadata (key 3): this broker, and the requested topics (hubs), auto-creating them when the
//! client and the gateway both allow it. With policies, only the hubs the client's grant covers
//! are listed, a named hub it does not cover gets TOPIC_AUTHORIZATION_FAILED (29) whether it
//! exists or not, and auto-creation needs Manage on the name (else 29 as well).

use hubgate_protocol::{AutoCreate, Right, hub_or_create};
use hubgate_storage::{HubInfo, HubName};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::NODE_ID;
use crate::authz::Access;
use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::topic_id::topic_id;

/// Answers a Metadata request.
pub(crate) async fn handle(
    h: &Handler,
    request: MetadataRequest,
    version: i16,
    access: &Access,
) -> MetadataResponse {
    // v0 has no null topic list: an empty one means every topic.
    let requested = match request.topics {
        Some(topics) if !(version == 0 && topics.is_empty()) => Some(topics),
        _ => None,
    };
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let auto = AutoCreate {
        enabled: h.config.auto_create.enabled && allow_create,
        ..h.config.auto_create
    };
    let mut topics = Vec::new();
    match requested {
        None => match h.storage.hubs().await {
            Ok(hubs) => topics.extend(
                hubs.iter()
                    .filter(|hub| access.sees(hub.name.as_str()))
                    .map(|hub| describe(hub, version)),
            ),
            Err(e) => {
                storage_code(&e);
            }
        },
        Some(list) => {
            for t in list {
                let topic = match t.name {
                    Some(name) if !access.sees(name.as_str()) => denied(name),
                    Some(name) => {
                        let may_create = access.allows(name.as_str(), Right::Manage);
                        let own = AutoCreate {
                            enabled: auto.enabled && may_create,
                            ..auto
                        };
                        let topic = lookup(h, &name, own, version).await;
                        if auto.enabled
                            && !may_create
                            && topic.error_code == code::UNKNOWN_TOPIC_OR_PARTITION
                        {
                            denied(name)
                        } else {
                            topic
                        }
                    }
                    None => match by_id(h, t.topic_id, version).await {
                        topic if topic.name.as_ref().is_some_and(|n| !access.sees(n)) => {
                            MetadataResponseTopic::default()
                                .with_topic_id(t.topic_id)
                                .with_error_code(code::TOPIC_AUTHORIZATION_FAILED)
                        }
                        topic => topic,
                    },
                };
                topics.push(topic);
            }
        }
    }
    let mut response = MetadataResponse::default()
        .with_brokers(vec![broker(h)])
        .with_topics(topics);
    if version >= 1 {
        response.controller_id = BrokerId(NODE_ID);
    }
    if version >= 2 {
        response.cluster_id = Some(StrBytes::from_string(h.cluster_id().to_owned()));
    }
    response
}

/// A topic the client may not see (or create): 29, no partitions, no id.
fn denied(name: TopicName) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(Some(name))
        .with_error_code(code::TOPIC_AUTHORIZATION_FAILED)
}

/// This broker as Metadata, DescribeCluster and friends describe it.
pub(crate) fn broker(h: &Handler) -> MetadataResponseBroker {
    MetadataResponseBroker::default()
        .with_node_id(BrokerId(NODE_ID))
        .with_host(StrBytes::from_string(h.config.advertised_host.clone()))
        .with_port(i32::from(h.config.advertised_port))
}

async fn lookup(
    h: &Handler,
    name: &TopicName,
    auto: AutoCreate,
    version: i16,
) -> MetadataResponseTopic {
    let failed = |error_code| {
        MetadataResponseTopic::default()
            .with_name(Some(name.clone()))
            .with_error_code(error_code)
    };
    let Ok(hub_name) = HubName::new(name.as_str()) else {
        return failed(code::INVALID_TOPIC_EXCEPTION);
    };
    match hub_or_create(h.storage.as_ref(), &hub_name, auto).await {
        Ok(hub) => describe(&hub, version),
        Err(e) => failed(storage_code(&e)),
    }
}

async fn by_id(h: &Handler, id: uuid::Uuid, version: i16) -> MetadataResponseTopic {
    if let Ok(hubs) = h.storage.hubs().await
        && let Some(hub) = hubs.iter().find(|hub| topic_id(hub) == id)
    {
        return describe(hub, version);
    }
    MetadataResponseTopic::default()
        .with_topic_id(id)
        .with_error_code(code::UNKNOWN_TOPIC_ID)
}

fn describe(hub: &HubInfo, version: i16) -> MetadataResponseTopic {
    let partitions = (0..hub.config.partitions)
        .map(|index| {
            let mut p = MetadataResponsePartition::default()
                .with_partition_index(index as i32)
                .with_leader_id(BrokerId(NODE_ID))
                .with_replica_nodes(vec![BrokerId(NODE_ID)])
                .with_isr_nodes(vec![BrokerId(NODE_ID)]);
            if version >= 7 {
                p.leader_epoch = 0;
            }
            p
        })
        .collect();
    let mut topic = MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(
            hub.name.as_str().to_owned(),
        ))))
        .with_partitions(partitions);
    if version >= 10 {
        topic.topic_id = topic_id(hub);
    }
    topic
}
