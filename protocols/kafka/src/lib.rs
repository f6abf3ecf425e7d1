//! hubgate's Kafka front end: the Kafka wire protocol over the shared partitioned log.
//!
//! A Kafka topic **is** a hub: same name, same partitions, same records. Record batches are
//! stored exactly as producers send them (CRC checked, base offset patched) and served to
//! consumers without re-encoding.
//!
//! # Layout
//! - [`frame`]: the size-prefixed framing, with the size checked before anything is allocated.
//! - `connection`: one task reads frames, each request runs as its own task, and a writer sends
//!   the responses back in request order. Fetches (long-polls) run concurrently; every other
//!   request runs after the previous non-fetch one, so produce order is kept.
//! - `precheck`: walks each request frame by its (API, version) field layout, without
//!   allocating, and refuses counts and lengths beyond the bytes left before the frame reaches
//!   the `kafka-protocol` decoder (whose arrays preallocate the wire count).
//! - `dispatch`: header decoding, version checks, routing to one module per API, response
//!   encoding. [`versions`] lists the advertised version ranges.
//! - one module per API: `api_versions`, `metadata`, `produce`, `fetch`, `list_offsets`,
//!   `find_coordinator`, `init_producer_id`, `offset_for_leader_epoch`, and the admin APIs
//!   `create_topics`, `delete_topics`, `create_partitions`, `describe_configs`,
//!   `alter_configs` (also incremental), `delete_records`, `describe_cluster`,
//!   `describe_topic_partitions`; `configs` maps Kafka topic configs onto hub configs and
//!   `broker_configs` lists this node's (read-only) broker configs.
//! - `group`: the classic consumer-group coordinator (one actor task per group over a state
//!   machine without I/O), served by `join_group`, `sync_group`, `heartbeat`, `leave_group`,
//!   `offset_commit`, `offset_fetch`, `offset_delete`, `list_groups`, `describe_groups` and
//!   `delete_groups`. Committed offsets are stored through storage's `GroupOffsets`.
//! - `txn`: the transaction coordinator (one actor task per transactional id over a state
//!   machine without I/O), served by `init_producer_id`, `add_partitions_to_txn`,
//!   `add_offsets_to_txn`, `txn_offset_commit` and `end_txn`; markers, the last stable offset
//!   and read-committed reads are storage's (`hubgate_storage::Transactions`). Operators see
//!   them through `describe_transactions`, `list_transactions` and `describe_producers`.
//! - `sasl`: SASL authentication (SaslHandshake, SaslAuthenticate, PLAIN with Event Hubs
//!   connection strings, SCRAM-SHA-256/512, KIP-368 session lifetimes), one `Session` per
//!   connection, gated in the reader before a frame is decoded.
//! - `authz`: the right each API needs (Send, Listen, Manage) and where Kafka puts the denial.
//! - `error`: storage errors mapped to Kafka error codes, once.
//!
//! # Data flow
//! ```text
//! socket ─▶ frame::decode ─▶ dispatch::handle ─▶ precheck ─▶ produce/fetch/… ─▶ Log ─▶ response bytes
//!                                 (in a task)                                       ─▶ writer (in order)
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod alter_configs;
mod api_versions;
mod authz;
mod broker_configs;
mod configs;
mod connection;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod describe_producers;
mod describe_topic_partitions;
mod describe_transactions;
mod dispatch;
mod end_txn;
mod error;
mod fetch;
mod find_coordinator;
pub mod frame;
mod group;
mod heartbeat;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod list_transactions;
mod lookup;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod precheck;
mod produce;
mod produce_legacy;
mod sasl;
mod sync_group;
mod topic_id;
mod txn;
mod txn_offset_commit;
pub mod versions;

use std::sync::Arc;

use hubgate_protocol::{AutoCreate, Limits, Listener, ListenerConfig, SasPolicies};
use hubgate_storage::SharedStorage;
use tokio_util::sync::CancellationToken;

pub use authz::Access;
pub use dispatch::{Client, Handler, Outcome};
pub use group::GroupConfig;

/// How the Kafka front end runs.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// Host name clients are told to connect to (Metadata, DescribeCluster).
    pub advertised_host: String,
    /// Port clients are told to connect to.
    pub advertised_port: u16,
    /// Cluster id reported to clients instead of the storage's; `None` (the default) reports
    /// the id the storage keeps with its data (one per data directory, stable across restarts).
    pub cluster_id: Option<String>,
    /// Whether unknown topics are created on first use, and with how many partitions.
    pub auto_create: AutoCreate,
    /// Size limits for peer input (frame size).
    pub limits: Limits,
    /// Accept-loop options.
    pub listener: ListenerConfig,
    /// Consumer-group coordinator settings.
    pub groups: GroupConfig,
    /// Whether CreateTopics refuses replication factors above 1 (as a one-broker Kafka does).
    /// Off: any factor ≥ 1 is accepted and the data is still kept once, on this node.
    pub strict_replication_factor: bool,
    /// The gateway's access policies. Empty: open mode (SASL PLAIN accepts anything, clients
    /// without SASL are served); otherwise every connection authenticates with SASL first.
    pub policies: Arc<SasPolicies>,
    /// Where the coordinator publishes its live groups for other front ends (the HTTP admin
    /// API); the default slot is read by no one.
    pub group_directory: hubgate_protocol::GroupDirectorySlot,
}

impl KafkaConfig {
    /// A config advertising `host:port`, with the gateway's defaults for the rest.
    pub fn new(advertised_host: impl Into<String>, advertised_port: u16) -> Self {
        Self {
            advertised_host: advertised_host.into(),
            advertised_port,
            cluster_id: None,
            auto_create: AutoCreate::default(),
            limits: Limits::default(),
            listener: ListenerConfig::new("kafka"),
            groups: GroupConfig::default(),
            strict_replication_factor: false,
            policies: Arc::default(),
            group_directory: hubgate_protocol::GroupDirectorySlot::default(),
        }
    }
}

/// The node id of this (single) broker.
pub const NODE_ID: i32 = 0;

/// Serves Kafka clients on `listener` over `storage` until `shutdown` is cancelled.
///
/// # Errors
/// As [`hubgate_protocol::serve`]: only an invalid listener configuration.
pub async fn serve(
    listener: Listener,
    storage: SharedStorage,
    config: KafkaConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener_config = config.listener.clone();
    let mut handler = Handler::new(storage, config);
    handler.bound = broker_configs::Bound {
        addr: listener.local_addr().ok(),
        tls: listener.is_tls(),
    };
    handler.groups.load().await;
    handler.txns.load().await;
    let handler = Arc::new(handler);
    hubgate_protocol::serve(listener, listener_config, shutdown, move |conn, token| {
        let handler = Arc::clone(&handler);
        let certificate = conn
            .client_cert_subject()
            .and_then(|subject| handler.config.policies.authenticate_cert(subject));
        let session = sasl::Session::from_certificate(certificate);
        async move { connection::run(conn.stream, conn.peer, handler, session, token).await }
    })
    .await
}
