//! ListOffsets (key 2): earliest (-2, and -4 "earliest local"), latest (-1), max timestamp
//! (-3) and the first offset at or after a timestamp. Latest is the last stable offset for a
//! read-committed request (v2+), the high watermark otherwise.

use hubgate_storage::{PartitionId, TimeQuery};
use kafka_protocol::messages::ListOffsetsRequest;
use kafka_protocol::messages::ListOffsetsResponse;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};

use crate::dispatch::Handler;
use crate::error::{code, storage_code};
use crate::lookup;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;

/// Answers a ListOffsets request.
pub(crate) async fn handle(
    h: &Handler,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    let read_committed = version >= 2 && request.isolation_level == 1;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let hub = lookup::topic(h, topic.name.as_str()).await;
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let mut out = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1);
            let id = lookup::partition(&hub, p.partition_index);
            match id {
                Ok(id) => match lookup(h, &id, p.timestamp, version, read_committed).await {
                    Ok((offset, timestamp)) => {
                        out.offset = offset;
                        out.timestamp = timestamp;
                        if version >= 4 {
                            out.leader_epoch = 0;
                        }
                    }
                    Err(error_code) => out.error_code = error_code,
                },
                Err(error_code) => out.error_code = error_code,
            }
            partitions.push(out);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// The (offset, timestamp) answer for one partition.
async fn lookup(
    h: &Handler,
    id: &PartitionId,
    query: i64,
    version: i16,
    read_committed: bool,
) -> Result<(i64, i64), i16> {
    let failed = |e: hubgate_storage::Error| storage_code(&e);
    match query {
        LATEST => {
            let state = h.storage.partition(id).await.map_err(failed)?;
            let latest = if read_committed {
                state.last_stable
            } else {
                state.high_watermark
            };
            Ok((latest, -1))
        }
        EARLIEST => Ok((h.storage.partition(id).await.map_err(failed)?.log_start, -1)),
        EARLIEST_LOCAL if version >= 8 => {
            Ok((h.storage.partition(id).await.map_err(failed)?.log_start, -1))
        }
        MAX_TIMESTAMP if version >= 7 => {
            let found = h
                .storage
                .offset_for_timestamp(id, TimeQuery::Max)
                .await
                .map_err(failed)?;
            Ok(found.map_or((-1, -1), |f| (f.offset, f.timestamp)))
        }
        t if t >= 0 => {
            let found = h
                .storage
                .offset_for_timestamp(id, TimeQuery::AtOrAfter(t))
                .await
                .map_err(failed)?;
            Ok(found.map_or((-1, -1), |f| (f.offset, f.timestamp)))
        }
        _ => Err(code::INVALID_REQUEST),
    }
}
