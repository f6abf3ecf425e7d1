//! Request dispatch: header, version check, routing to one module per API, response encoding.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use hubgate_storage::SharedStorage;
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, ApiVersionsRequest, CreatePartitionsRequest, CreateTopicsRequest,
    DeleteGroupsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeClusterRequest,
    DescribeConfigsRequest, DescribeGroupsRequest, FetchRequest, FindCoordinatorRequest,
    HeartbeatRequest, IncrementalAlterConfigsRequest, InitProducerIdRequest, JoinGroupRequest,
    LeaveGroupRequest, ListGroupsRequest, ListOffsetsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, OffsetForLeaderEpochRequest, ProduceRequest,
    RequestHeader, ResponseHeader, SyncGroupRequest,
};
use kafka_protocol::messages::{
    FetchResponse, HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse, OffsetDeleteResponse,
    SyncGroupResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, decode_request_header_from_buffer};
use tokio::sync::oneshot;
use tracing::{Instrument, debug, debug_span, error};

use crate::authz::producer::ProducerOwners;
use crate::authz::{Access, groups as group_authz, topics as topic_authz};
use crate::group::Coordinator;
use crate::sasl::credentials::Credentials;
use crate::txn::TxnCoordinator;
use crate::{
    KafkaConfig, alter_configs, api_versions, create_partitions, create_topics, delete_groups,
    delete_records, delete_topics, describe_cluster, describe_configs, describe_groups, fetch,
    find_coordinator, heartbeat, init_producer_id, join_group, leave_group, list_groups,
    list_offsets, metadata, offset_commit, offset_delete, offset_fetch, offset_for_leader_epoch,
    produce, produce_legacy, sync_group, versions,
};

/// What to do after handling one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this response frame (size prefix included).
    Respond(Bytes),
    /// Send nothing (a Produce with `acks=0`).
    NoResponse,
    /// The request was malformed or not servable: close the connection.
    Close(&'static str),
}

/// Serves decoded requests against the log. One per front end, shared by all connections.
#[derive(Debug)]
pub struct Handler {
    pub(crate) storage: SharedStorage,
    pub(crate) config: KafkaConfig,
    /// The socket served, for the `listeners` broker config.
    pub(crate) bound: crate::broker_configs::Bound,
    /// The consumer-group coordinator.
    pub(crate) groups: Coordinator,
    /// The transaction coordinator.
    pub(crate) txns: TxnCoordinator,
    /// What SASL checks credentials against.
    pub(crate) credentials: Credentials,
    /// Which policy obtained each producer id.
    pub(crate) producer_owners: ProducerOwners,
}

/// Who sent a request, as DescribeGroups reports group members.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The request header's client id.
    pub(crate) id: String,
    /// The peer's address as Kafka prints it (`/127.0.0.1`).
    pub(crate) host: String,
    /// What the connection's authentication allows.
    pub(crate) access: Access,
}

impl Handler {
    /// The cluster id Metadata and DescribeCluster report: the configured one, else the
    /// storage's (kept with the data).
    pub(crate) fn cluster_id(&self) -> &str {
        self.config
            .cluster_id
            .as_deref()
            .unwrap_or_else(|| self.storage.cluster_id())
    }

    /// A handler over `storage`.
    pub fn new(storage: SharedStorage, config: KafkaConfig) -> Self {
        let groups = Coordinator::new(std::sync::Arc::clone(&storage), config.groups.clone());
        let txns = TxnCoordinator::new(std::sync::Arc::clone(&storage));
        let credentials = Credentials::new(std::sync::Arc::clone(&config.policies));
        config
            .group_directory
            .publish(std::sync::Arc::new(groups.clone()));
        Self {
            storage,
            config,
            bound: crate::broker_configs::Bound::default(),
            groups,
            txns,
            credentials,
            producer_owners: ProducerOwners::default(),
        }
    }

    /// Whether the request in `frame` may run concurrently with the requests before it on its
    /// connection. Only Fetch may: it long-polls and changes nothing.
    pub fn is_concurrent(frame: &[u8]) -> bool {
        frame.len() >= 2 && i16::from_be_bytes([frame[0], frame[1]]) == ApiKey::Fetch as i16
    }

    /// Handles one request frame (without its size prefix) as an unauthenticated client: with
    /// policies configured, only what needs no right is served.
    pub async fn handle(&self, frame: Bytes) -> Outcome {
        let access = Access::unauthenticated(self.credentials.secured());
        self.handle_ordered(frame, None, access, None).await
    }

    /// As [`Handler::handle`], dropping `started` as soon as the next request on the connection
    /// may start: for a Produce once its appends are issued (offsets assigned), otherwise when
    /// the request is done.
    /// `peer` is the client's address, when known; `access` what the connection's
    /// authentication allows.
    pub async fn handle_ordered(
        &self,
        frame: Bytes,
        peer: Option<SocketAddr>,
        access: Access,
        started: Option<oneshot::Sender<()>>,
    ) -> Outcome {
        if frame.len() < crate::frame::MIN_REQUEST_LEN {
            return Outcome::Close("request shorter than its header");
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let Ok(api) = ApiKey::try_from(key) else {
            debug!(key, "unknown API key; closing");
            return Outcome::Close("unknown API key");
        };
        let span = debug_span!("request", api = ?api, version, correlation_id);
        async move {
            let Some(range) = versions::advertised(api) else {
                debug!("API not served; closing");
                return Outcome::Close("API not served");
            };
            if api == ApiKey::ApiVersions && version > range.max {
                return encode(api, 0, correlation_id, &api_versions::unsupported_version());
            }
            if (range.min..=range.max).contains(&version)
                && let Err(e) = crate::precheck::check(&frame)
            {
                debug!(error = %e, "request fails the pre-decode check; closing");
                return Outcome::Close("malformed request");
            }
            if api == ApiKey::Produce && (range.min..range.min_served).contains(&version) {
                let mut body = frame;
                return match decode_request_header_from_buffer(&mut body) {
                    Ok(_) => produce_legacy::handle(version, correlation_id, body),
                    Err(_) => Outcome::Close("malformed request header"),
                };
            }
            if version < range.min_served || version > range.max {
                debug!("version not served; closing");
                return Outcome::Close("API version not served");
            }
            let mut body = frame;
            let header = match decode_request_header_from_buffer(&mut body) {
                Ok(header) => header,
                Err(e) => {
                    debug!(error = %e, "malformed request header; closing");
                    return Outcome::Close("malformed request header");
                }
            };
            let client = Client {
                id: header
                    .client_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                host: peer.map(|p| format!("/{}", p.ip())).unwrap_or_default(),
                access,
            };
            self.route(api, version, header, body, &client, started)
                .await
        }
        .instrument(span)
        .await
    }

    async fn route(
        &self,
        api: ApiKey,
        version: i16,
        header: RequestHeader,
        mut body: Bytes,
        client: &Client,
        started: Option<oneshot::Sender<()>>,
    ) -> Outcome {
        let id = header.correlation_id;
        let access = &client.access;
        macro_rules! decode {
            ($ty:ty) => {
                match <$ty>::decode(&mut body, version) {
                    Ok(request) => request,
                    Err(e) => {
                        debug!(error = %e, "malformed request body; closing");
                        return Outcome::Close("malformed request body");
                    }
                }
            };
        }
        match api {
            ApiKey::ApiVersions => {
                let request = decode!(ApiVersionsRequest);
                encode(api, version, id, &api_versions::handle(&request, version))
            }
            ApiKey::Metadata => {
                let request = decode!(MetadataRequest);
                let response = metadata::handle(self, request, version, access).await;
                encode(api, version, id, &response)
            }
            ApiKey::Produce => {
                let mut request = decode!(ProduceRequest);
                let denied = topic_authz::produce(access, &mut request);
                match produce::handle(self, request, version, started).await {
                    Some(mut response) => {
                        response.responses.extend(denied);
                        encode(api, version, id, &response)
                    }
                    None => Outcome::NoResponse,
                }
            }
            ApiKey::Fetch => {
                let mut request = decode!(FetchRequest);
                let denied = topic_authz::fetch(access, &mut request);
                let mut response = if request.topics.is_empty() && !denied.is_empty() {
                    FetchResponse::default()
                } else {
                    fetch::handle(self, request, version).await
                };
                response.responses.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::ListOffsets => {
                let mut request = decode!(ListOffsetsRequest);
                let denied = topic_authz::list_offsets(access, &mut request);
                let mut response = list_offsets::handle(self, request, version).await;
                response.topics.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::FindCoordinator => {
                let request = decode!(FindCoordinatorRequest);
                if let Some(denied) =
                    group_authz::find_coordinator_denied(access, &request, version)
                {
                    return encode(api, version, id, &denied);
                }
                encode(
                    api,
                    version,
                    id,
                    &find_coordinator::handle(self, request, version),
                )
            }
            ApiKey::InitProducerId => {
                let mut request = decode!(InitProducerIdRequest);
                if let Err(denied) = self.producer_owners.check(access, &mut request) {
                    return encode(api, version, id, &denied);
                }
                let response = init_producer_id::handle(self, request, version).await;
                self.producer_owners.record(access, &response);
                encode(api, version, id, &response)
            }
            ApiKey::CreateTopics => {
                let mut request = decode!(CreateTopicsRequest);
                let denied = topic_authz::create_topics(access, &mut request);
                let mut response = create_topics::handle(self, request, version).await;
                response.topics.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::DeleteTopics => {
                let mut request = decode!(DeleteTopicsRequest);
                let denied = topic_authz::delete_topics(access, &mut request);
                let mut response = delete_topics::handle(self, request, version).await;
                response.responses.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::CreatePartitions => {
                let mut request = decode!(CreatePartitionsRequest);
                let denied = topic_authz::create_partitions(access, &mut request);
                let mut response = create_partitions::handle(self, request).await;
                response.results.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::DescribeConfigs => {
                let mut request = decode!(DescribeConfigsRequest);
                let denied = topic_authz::describe_configs(access, &mut request);
                let mut response = describe_configs::handle(self, request, version).await;
                response.results.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::AlterConfigs => {
                let mut request = decode!(AlterConfigsRequest);
                let denied = topic_authz::alter_configs(access, &mut request);
                let mut response = alter_configs::alter(self, request).await;
                response.responses.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::IncrementalAlterConfigs => {
                let mut request = decode!(IncrementalAlterConfigsRequest);
                let denied = topic_authz::incremental_alter_configs(access, &mut request);
                let mut response = alter_configs::incremental(self, request).await;
                response.responses.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::DeleteRecords => {
                let mut request = decode!(DeleteRecordsRequest);
                let denied = topic_authz::delete_records(access, &mut request);
                let mut response = delete_records::handle(self, request).await;
                response.topics.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::DescribeCluster => {
                let request = decode!(DescribeClusterRequest);
                encode(
                    api,
                    version,
                    id,
                    &describe_cluster::handle(self, request, version),
                )
            }
            ApiKey::OffsetForLeaderEpoch => {
                let mut request = decode!(OffsetForLeaderEpochRequest);
                let denied = topic_authz::offset_for_leader_epoch(access, &mut request);
                let mut response = offset_for_leader_epoch::handle(self, request).await;
                response.topics.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::DescribeTopicPartitions => {
                let request = decode!(kafka_protocol::messages::DescribeTopicPartitionsRequest);
                let listed_all = request.topics.is_empty();
                let mut response = crate::describe_topic_partitions::handle(self, request).await;
                topic_authz::describe_topic_partitions(access, listed_all, &mut response);
                encode(api, version, id, &response)
            }
            ApiKey::JoinGroup => {
                let request = decode!(JoinGroupRequest);
                if let Some(code) = group_authz::group_denied(access) {
                    let denied = JoinGroupResponse::default()
                        .with_error_code(code)
                        .with_generation_id(-1);
                    return encode(api, version, id, &denied);
                }
                let response = join_group::handle(self, request, version, client).await;
                encode(api, version, id, &response)
            }
            ApiKey::SyncGroup => {
                let request = decode!(SyncGroupRequest);
                if let Some(code) = group_authz::group_denied(access) {
                    let denied = SyncGroupResponse::default().with_error_code(code);
                    return encode(api, version, id, &denied);
                }
                let response = sync_group::handle(self, request, version).await;
                encode(api, version, id, &response)
            }
            ApiKey::Heartbeat => {
                let request = decode!(HeartbeatRequest);
                if let Some(code) = group_authz::group_denied(access) {
                    let denied = HeartbeatResponse::default().with_error_code(code);
                    return encode(api, version, id, &denied);
                }
                encode(api, version, id, &heartbeat::handle(self, request).await)
            }
            ApiKey::LeaveGroup => {
                let request = decode!(LeaveGroupRequest);
                if let Some(code) = group_authz::group_denied(access) {
                    let denied = LeaveGroupResponse::default().with_error_code(code);
                    return encode(api, version, id, &denied);
                }
                let response = leave_group::handle(self, request, version).await;
                encode(api, version, id, &response)
            }
            ApiKey::OffsetCommit => {
                let mut request = decode!(OffsetCommitRequest);
                let denied = match group_authz::offset_commit(access, &mut request) {
                    Ok(denied) => denied,
                    Err(refused) => return encode(api, version, id, &refused),
                };
                let mut response = offset_commit::handle(self, request, version).await;
                response.topics.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::OffsetFetch => {
                let request = decode!(OffsetFetchRequest);
                if let Some(denied) = group_authz::offset_fetch_denied(access, &request, version) {
                    return encode(api, version, id, &denied);
                }
                let asked = request.clone();
                let mut response = offset_fetch::handle(self, request, version).await;
                group_authz::offset_fetch_topics(access, &asked, &mut response);
                encode(api, version, id, &response)
            }
            ApiKey::ListGroups => {
                let request = decode!(ListGroupsRequest);
                let mut response = list_groups::handle(self, request, version).await;
                if !group_authz::may_join(access) {
                    response.groups.clear();
                }
                encode(api, version, id, &response)
            }
            ApiKey::DescribeGroups => {
                let mut request = decode!(DescribeGroupsRequest);
                let denied = group_authz::describe_groups(access, &mut request.groups);
                let mut response = describe_groups::handle(self, request, version).await;
                response.groups.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::OffsetDelete => {
                let request = decode!(OffsetDeleteRequest);
                if !access.holds(hubgate_protocol::Right::Manage) {
                    let denied = OffsetDeleteResponse::default()
                        .with_error_code(crate::error::code::GROUP_AUTHORIZATION_FAILED);
                    return encode(api, version, id, &denied);
                }
                encode(
                    api,
                    version,
                    id,
                    &offset_delete::handle(self, request).await,
                )
            }
            ApiKey::DeleteGroups => {
                let mut request = decode!(DeleteGroupsRequest);
                let denied = group_authz::delete_groups(access, &mut request.groups_names);
                let mut response = delete_groups::handle(self, request).await;
                response.results.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::AddPartitionsToTxn => {
                let request = decode!(kafka_protocol::messages::AddPartitionsToTxnRequest);
                if let Some(denied) = crate::authz::txn::add_partitions(access, &request) {
                    return encode(api, version, id, &denied);
                }
                let response = crate::add_partitions_to_txn::handle(self, request, version).await;
                encode(api, version, id, &response)
            }
            ApiKey::AddOffsetsToTxn => {
                let request = decode!(kafka_protocol::messages::AddOffsetsToTxnRequest);
                if let Some(code) = crate::authz::txn::add_offsets_denied(access) {
                    let denied = kafka_protocol::messages::AddOffsetsToTxnResponse::default()
                        .with_error_code(code);
                    return encode(api, version, id, &denied);
                }
                let response = crate::add_offsets_to_txn::handle(self, request, version).await;
                encode(api, version, id, &response)
            }
            ApiKey::EndTxn => {
                let request = decode!(kafka_protocol::messages::EndTxnRequest);
                if let Some(code) = crate::authz::txn::txn_denied(access) {
                    let denied =
                        kafka_protocol::messages::EndTxnResponse::default().with_error_code(code);
                    return encode(api, version, id, &denied);
                }
                let response = crate::end_txn::handle(self, request, version).await;
                encode(api, version, id, &response)
            }
            ApiKey::TxnOffsetCommit => {
                let mut request = decode!(kafka_protocol::messages::TxnOffsetCommitRequest);
                let denied = match crate::authz::txn::txn_offset_commit(access, &mut request) {
                    Err(all) => {
                        let response = kafka_protocol::messages::TxnOffsetCommitResponse::default()
                            .with_topics(all);
                        return encode(api, version, id, &response);
                    }
                    Ok(denied) => denied,
                };
                let mut response = crate::txn_offset_commit::handle(self, request, version).await;
                response.topics.extend(denied);
                encode(api, version, id, &response)
            }
            ApiKey::DescribeTransactions => {
                let request = decode!(kafka_protocol::messages::DescribeTransactionsRequest);
                if let Some(denied) = crate::authz::txn::describe_transactions(access, &request) {
                    return encode(api, version, id, &denied);
                }
                let response = crate::describe_transactions::handle(self, request);
                encode(api, version, id, &response)
            }
            ApiKey::ListTransactions => {
                let request = decode!(kafka_protocol::messages::ListTransactionsRequest);
                if !crate::authz::txn::may_list_transactions(access) {
                    let empty = kafka_protocol::messages::ListTransactionsResponse::default();
                    return encode(api, version, id, &empty);
                }
                let response = crate::list_transactions::handle(self, request, version);
                encode(api, version, id, &response)
            }
            ApiKey::DescribeProducers => {
                let mut request = decode!(kafka_protocol::messages::DescribeProducersRequest);
                let denied = crate::authz::txn::describe_producers(access, &mut request);
                let mut response = crate::describe_producers::handle(self, request).await;
                response.topics.extend(denied);
                encode(api, version, id, &response)
            }
            _ => Outcome::Close("API not served"),
        }
    }
}

/// Encodes a response frame: size, header (version chosen by the API), body.
pub(crate) fn encode<R: Encodable>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &R,
) -> Outcome {
    let header_version = api.response_header_version(version);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut out = BytesMut::new();
    out.put_i32(0);
    let encoded = header
        .encode(&mut out, header_version)
        .and_then(|()| body.encode(&mut out, version));
    if let Err(e) = encoded {
        // Our bug, not the peer's: a field set that the version does not have.
        error!(error = %e, ?api, version, "cannot encode response; closing");
        return Outcome::Close("response encoding failed");
    }
    let Ok(len) = i32::try_from(out.len() - 4) else {
        error!(?api, "response larger than 2 GiB; closing");
        return Outcome::Close("response too large");
    };
    out[0..4].copy_from_slice(&len.to_be_bytes());
    Outcome::Respond(out.freeze())
}
