//! DescribeTopicPartitions (key 75, KIP-966): topics and their partitions, a page at a time.
//!
//! Topics are described in name order: the requested ones, or every topic when none is named.
//! A page holds at most `response_partition_limit` partitions (and never more than
//! [`MAX_PARTITIONS_PER_PAGE`]); when a page ends before the last partition, `next_cursor`
//! names the topic and partition the next page starts at. A topic that does not exist gets an
//! error code when it was named and is skipped otherwise; it uses none of the page's budget.
//! A limit below 1, a negative cursor partition, or a cursor naming a topic outside the named
//! ones is INVALID_REQUEST for every named topic.

use hubgate_storage::{HubInfo, HubName};
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::NODE_ID;
use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::topic_id::topic_id;

/// Most partitions one response carries, whatever the request asks (Kafka's default
/// `max.request.partition.size.limit`).
pub(crate) const MAX_PARTITIONS_PER_PAGE: i32 = 2000;

/// A topic looked up for a page: found, or the error code it is reported with.
type Lookup = (TopicName, Result<HubInfo, i16>);

/// Answers a DescribeTopicPartitions request.
pub(crate) async fn handle(
    h: &Handler,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let every_topic = request.topics.is_empty();
    let cursor = request.cursor.as_ref();
    let mut names: Vec<&TopicName> = request.topics.iter().map(|t| &t.name).collect();
    names.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    if let Some(c) = cursor {
        if c.partition_index < 0 {
            return refused(&request);
        }
        if !every_topic && !names.contains(&&c.topic_name) {
            return refused(&request);
        }
    }
    if request.response_partition_limit < 1 {
        return refused(&request);
    }
    let from = cursor.map_or("", |c| c.topic_name.as_str());
    let mut topics: Vec<Lookup> = Vec::new();
    if every_topic {
        match h.storage.hubs().await {
            Ok(hubs) => topics.extend(
                hubs.into_iter()
                    .filter(|hub| hub.name.as_str() >= from)
                    .map(|hub| {
                        (
                            TopicName(StrBytes::from_string(hub.name.as_str().into())),
                            Ok(hub),
                        )
                    }),
            ),
            Err(e) => {
                storage_code(&e);
            }
        }
        topics.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    } else {
        for name in names.into_iter().filter(|n| n.as_str() >= from) {
            let found = match HubName::new(name.as_str()) {
                Err(_) => Err(code::INVALID_TOPIC_EXCEPTION),
                Ok(hub_name) => h.storage.hub(&hub_name).await.map_err(|e| storage_code(&e)),
            };
            topics.push((name.clone(), found));
        }
    }
    let limit = request
        .response_partition_limit
        .min(MAX_PARTITIONS_PER_PAGE);
    let start = cursor.map(|c| (&c.topic_name, c.partition_index));
    page(topics, start, limit)
}

/// One page over `topics` (in name order), starting at partition `start.1` of topic `start.0`
/// (topics before it are skipped) and holding at most `limit` partitions.
fn page(
    topics: Vec<Lookup>,
    start: Option<(&TopicName, i32)>,
    limit: i32,
) -> DescribeTopicPartitionsResponse {
    let mut response = DescribeTopicPartitionsResponse::default();
    let mut room = limit;
    for (name, found) in topics {
        if start.is_some_and(|(topic, _)| name.as_str() < topic.as_str()) {
            continue;
        }
        if room == 0 {
            response.next_cursor = Some(Cursor::default().with_topic_name(name));
            break;
        }
        let hub = match found {
            Ok(hub) => hub,
            Err(error_code) => {
                response.topics.push(
                    DescribeTopicPartitionsResponseTopic::default()
                        .with_name(Some(name))
                        .with_error_code(error_code),
                );
                continue;
            }
        };
        let count = i32::try_from(hub.config.partitions).unwrap_or(i32::MAX);
        let first = match start {
            Some((topic, index)) if *topic == name => index,
            _ => 0,
        };
        let end = count.min(first.saturating_add(room));
        let partitions: Vec<_> = (first..end).map(partition).collect();
        room -= partitions.len() as i32;
        response.topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(name.clone()))
                .with_topic_id(topic_id(&hub))
                .with_partitions(partitions),
        );
        if end < count {
            response.next_cursor = Some(
                Cursor::default()
                    .with_topic_name(name)
                    .with_partition_index(end),
            );
            break;
        }
    }
    response
}

/// Partition `index`: led by this node, its only replica.
fn partition(index: i32) -> DescribeTopicPartitionsResponsePartition {
    DescribeTopicPartitionsResponsePartition::default()
        .with_partition_index(index)
        .with_leader_id(BrokerId(NODE_ID))
        .with_leader_epoch(0)
        .with_replica_nodes(vec![BrokerId(NODE_ID)])
        .with_isr_nodes(vec![BrokerId(NODE_ID)])
        .with_eligible_leader_replicas(Some(Vec::new()))
        .with_last_known_elr(Some(Vec::new()))
}

/// INVALID_REQUEST for every named topic.
fn refused(request: &DescribeTopicPartitionsRequest) -> DescribeTopicPartitionsResponse {
    let topics = request
        .topics
        .iter()
        .map(|t| {
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(t.name.clone()))
                .with_error_code(code::INVALID_REQUEST)
        })
        .collect();
    DescribeTopicPartitionsResponse::default().with_topics(topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubgate_storage::HubConfig;

    fn name(s: &str) -> TopicName {
        TopicName(StrBytes::from_string(s.to_owned()))
    }

    fn hub(s: &str, partitions: u32) -> Lookup {
        let info = HubInfo {
            name: HubName::new(s).unwrap(),
            config: HubConfig {
                partitions,
                ..HubConfig::default()
            },
            created_at_ms: 1,
        };
        (name(s), Ok(info))
    }

    /// (topic, partition indexes) of each topic of a page, and the page's cursor.
    type Shape = (Vec<(String, Vec<i32>)>, Option<(String, i32)>);

    fn shape(r: &DescribeTopicPartitionsResponse) -> Shape {
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let n = t.name.as_ref().unwrap().as_str().to_owned();
                (n, t.partitions.iter().map(|p| p.partition_index).collect())
            })
            .collect();
        let cursor = r
            .next_cursor
            .as_ref()
            .map(|c| (c.topic_name.as_str().to_owned(), c.partition_index));
        (topics, cursor)
    }

    fn owned(v: &[(&str, &[i32])]) -> Vec<(String, Vec<i32>)> {
        v.iter()
            .map(|(n, p)| ((*n).to_owned(), p.to_vec()))
            .collect()
    }

    #[test]
    fn a_page_ends_inside_a_topic_and_the_cursor_resumes_there() {
        let topics = || vec![hub("a", 3), hub("b", 2)];
        let first = page(topics(), None, 2);
        assert_eq!(
            shape(&first),
            (owned(&[("a", &[0, 1])]), Some(("a".into(), 2)))
        );
        let a = name("a");
        let second = page(topics(), Some((&a, 2)), 2);
        assert_eq!(
            shape(&second),
            (owned(&[("a", &[2]), ("b", &[0])]), Some(("b".into(), 1)))
        );
        let b = name("b");
        let last = page(topics(), Some((&b, 1)), 2);
        assert_eq!(shape(&last), (owned(&[("b", &[1])]), None));
    }

    #[test]
    fn a_page_ending_at_a_topic_boundary_points_at_the_next_topic() {
        let r = page(vec![hub("a", 2), hub("b", 2)], None, 2);
        assert_eq!(shape(&r), (owned(&[("a", &[0, 1])]), Some(("b".into(), 0))));
        let r = page(vec![hub("a", 2), hub("b", 2)], None, 10);
        assert_eq!(shape(&r), (owned(&[("a", &[0, 1]), ("b", &[0, 1])]), None));
    }

    #[test]
    fn missing_topics_are_reported_and_cost_nothing() {
        let topics = || {
            vec![
                (name("a"), Err(code::UNKNOWN_TOPIC_OR_PARTITION)),
                hub("c", 1),
                (name("d"), Err(code::INVALID_TOPIC_EXCEPTION)),
            ]
        };
        // The page is full after c: d is left for the next page.
        let r = page(topics(), None, 1);
        assert_eq!(
            shape(&r),
            (owned(&[("a", &[]), ("c", &[0])]), Some(("d".into(), 0)))
        );
        assert_eq!(r.topics[0].error_code, code::UNKNOWN_TOPIC_OR_PARTITION);
        assert_eq!(r.topics[1].error_code, 0);
        let p = &r.topics[1].partitions[0];
        assert_eq!(p.leader_id, BrokerId(NODE_ID));
        assert_eq!(p.replica_nodes, vec![BrokerId(NODE_ID)]);
        assert_eq!(p.isr_nodes, vec![BrokerId(NODE_ID)]);
        let r = page(topics(), None, 2);
        assert_eq!(shape(&r).1, None);
        assert_eq!(r.topics[2].error_code, code::INVALID_TOPIC_EXCEPTION);
    }
}
