//! hubgate's AMQP 1.0 front end, with Event Hubs semantics, on fe2o3-amqp's acceptor.
//!
//! # Layout
//!
//! - [`serve`] runs the shared accept loop ([`hubgate_protocol::serve`]) with
//!   [`connection::handle`] per client.
//! - `connection`: reads the protocol header and dispatches to a SASL (`ANONYMOUS`, `PLAIN`,
//!   `MSSBCBS`) or a plain acceptor, then accepts sessions; `sasl`: the mechanisms.
//! - `session`: accepts each link and routes it by address ([`address`]).
//! - `publish`: links clients send events on (single messages and `0x80013700` batches).
//! - `consume`: links clients read a partition on (selector [`filter`]s, owner levels through
//!   [`owners`], credit-driven delivery woken by appends).
//! - `nodes`: the `$cbs` and `$management` request/response nodes; `cbs`: put-token.
//! - `access`: a connection's credentials (SASL PLAIN grant, `$cbs` tokens per audience),
//!   the right each link needs, and the expiry that detaches links.
//! - [`mapping`]: AMQP message ⇄ stored record (see `docs/MAPPING.md`).
//! - `pad`: what keeps azure-eventhub 5.15.1's positional decoder working.
//! - [`error`]: typed errors and their one mapping to AMQP conditions.
//!
//! # Data flow
//!
//! ```text
//! client ─▶ Listener (TCP_NODELAY, TLS) ─▶ header peek ─▶ ConnectionAcceptor ─▶ sessions
//!   send link:    transfer ─▶ mapping ─▶ RecordBatch ─▶ Log::append ─▶ accepted disposition
//!   receive link: Log::read / Log::wait_for ─▶ mapping ─▶ transfer (as link credit allows)
//!   $cbs, $management: request ─▶ reply on the client's receiving link
//!   access:       SASL PLAIN / $cbs put-token ─▶ grants ─▶ checked on attach, on expiry
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

mod access;
pub mod address;
mod cbs;
mod connection;
mod consume;
pub mod error;
pub mod filter;
pub mod mapping;
mod nodes;
pub mod owners;
mod pad;
mod publish;
mod sasl;
mod session;

use std::sync::Arc;
use std::time::Duration;

use hubgate_protocol::{
    AutoCreate, CancellationToken, Listener, ListenerConfig, RoundRobin, SasPolicies,
};
use hubgate_storage::SharedStorage;

pub use error::{Error, Result};

/// Largest message accepted on a send link by default (Event Hubs standard tier: 1 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 1024 * 1024;

/// How long a connection may stay without a valid credential when policies exist (Event Hubs
/// documents 20 s; hubgate is more lenient).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of the AMQP front end.
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// Whether unknown hubs are created on first use, and with how many partitions.
    pub auto_create: AutoCreate,
    /// Largest message (or `0x80013700` batch) accepted on a send link, offered as the link's
    /// `max-message-size`.
    pub max_message_bytes: u64,
    /// Largest frame, offered in Open (Event Hubs uses 256 KiB).
    pub max_frame_size: u32,
    /// Most connections served at once.
    pub max_connections: usize,
    /// How long a client has to send its protocol header and finish SASL and Open.
    pub handshake_timeout: Duration,
    /// A connection with no frame for this long is closed (advertised as half of it).
    pub idle_timeout: Duration,
    /// The access policies clients authenticate against (SASL PLAIN, `$cbs` tokens). Empty:
    /// the front end is open, and credentials are accepted unchecked.
    pub policies: Arc<SasPolicies>,
    /// With policies, how long a connection may stay open without a valid credential (a
    /// verified SASL PLAIN exchange or a `$cbs` token) before it is closed.
    pub auth_timeout: Duration,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            auto_create: AutoCreate::default(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_frame_size: 256 * 1024,
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(600),
            policies: Arc::default(),
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
        }
    }
}

/// What every connection of one front end shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) storage: SharedStorage,
    pub(crate) config: AmqpConfig,
    pub(crate) owners: Arc<dyn owners::ReaderRegistry>,
    pub(crate) round_robin: RoundRobin,
    pub(crate) acceptors: connection::Acceptors,
}

/// Serves AMQP 1.0 clients on `listener` until `shutdown` is cancelled.
///
/// # Errors
/// Only if the accept loop cannot start (see [`hubgate_protocol::serve`]).
pub async fn serve(
    listener: Listener,
    storage: SharedStorage,
    config: AmqpConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener_config = ListenerConfig {
        max_connections: config.max_connections,
        ..ListenerConfig::new("amqp")
    };
    let shared = Arc::new(Shared {
        acceptors: connection::Acceptors::new(&config),
        storage,
        config,
        owners: Arc::new(owners::Owners::default()),
        round_robin: RoundRobin::new(),
    });
    hubgate_protocol::serve(listener, listener_config, shutdown, move |conn, token| {
        connection::handle(Arc::clone(&shared), conn, token)
    })
    .await
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
