//! CreatePartitions (key 37): grows a hub's partition count (it never shrinks).
//!
//! Explicit replica assignments are accepted when they place each new partition on this node
//! alone, which is where every partition lives anyway; any other placement is refused with
//! INVALID_REPLICA_ASSIGNMENT.

use hubgate_storage::{HubName, HubUpdate};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsAssignment;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::NODE_ID;
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
    if let Some(assignments) = topic.assignments.as_deref().filter(|a| !a.is_empty()) {
        check_assignments(assignments, topic.count - current)?;
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

/// Checks explicit assignments for `added` new partitions: one per new partition, each naming
/// exactly this node (a single node holds one replica of every partition).
fn check_assignments(
    assignments: &[CreatePartitionsAssignment],
    added: i32,
) -> Result<(), (i16, String)> {
    let refuse = |message: String| Err((code::INVALID_REPLICA_ASSIGNMENT, message));
    if i32::try_from(assignments.len()).ok() != Some(added) {
        return refuse(format!(
            "{} assignments given for {added} new partitions",
            assignments.len()
        ));
    }
    for assignment in assignments {
        match assignment.broker_ids.as_slice() {
            [only] if only.0 == NODE_ID => {}
            [] => return refuse("an assignment names no broker".into()),
            ids if ids.iter().all(|id| id.0 == NODE_ID) => {
                return refuse(format!(
                    "replication factor {} requested, but this cluster has one node ({NODE_ID})",
                    ids.len()
                ));
            }
            ids => {
                let unknown: Vec<String> = ids
                    .iter()
                    .filter(|id| id.0 != NODE_ID)
                    .map(|id| id.0.to_string())
                    .collect();
                return refuse(format!(
                    "unknown broker(s) {} in the assignment; the only node is {NODE_ID}",
                    unknown.join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::BrokerId;

    fn on(ids: &[i32]) -> CreatePartitionsAssignment {
        CreatePartitionsAssignment::default()
            .with_broker_ids(ids.iter().copied().map(BrokerId).collect())
    }

    #[test]
    fn assignments_to_this_node_only_are_accepted() {
        assert!(check_assignments(&[on(&[NODE_ID]), on(&[NODE_ID])], 2).is_ok());
        for (assignments, added) in [
            (vec![on(&[NODE_ID])], 2),
            (vec![on(&[NODE_ID]), on(&[NODE_ID])], 1),
            (vec![on(&[])], 1),
            (vec![on(&[NODE_ID, NODE_ID])], 1),
            (vec![on(&[NODE_ID + 1])], 1),
            (vec![on(&[NODE_ID, NODE_ID + 7])], 1),
        ] {
            let refused = check_assignments(&assignments, added).unwrap_err();
            assert_eq!(refused.0, code::INVALID_REPLICA_ASSIGNMENT, "{refused:?}");
        }
    }
}
