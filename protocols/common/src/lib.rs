//! Connection plumbing, access control and small shared helpers for hubgate's front ends
//! (Kafka, AMQP 1.0, HTTPS).
//!
//! # Layout
//!
//! - [`listener`]: the one accept loop every front end runs: connection cap, `TCP_NODELAY`, TLS
//!   handshake with a timeout, one tracing span per connection, and graceful shutdown with a
//!   drain deadline. Front ends supply only a per-connection handler.
//! - [`http`]: [`http::serve_router`], an axum router on that accept loop (hyper-util
//!   HTTP/1.1 + HTTP/2), shared by the HTTPS and Blob front ends.
//! - [`tls`]: loads a PEM certificate chain and private key into a rustls `ServerConfig` (ring
//!   provider, optional ALPN, optional client-certificate CA) through a [`ReloadableCert`] that
//!   SIGHUP can swap, and wraps it in a [`TlsAcceptor`].
//! - [`limits`]: checks for lengths and counts the peer controls, and the gateway-wide defaults.
//! - [`hubs`]: hub lookup with auto-creation ([`hub_or_create`]), the same on every protocol.
//! - [`partition_key`]: the Event Hubs partition-key hash (Jenkins lookup3 `hashlittle2`) and the
//!   round-robin choice for keyless sends.
//! - [`groups`]: [`GroupDirectory`], the live view of consumer groups the Kafka coordinator
//!   publishes (through a [`GroupDirectorySlot`]) and the HTTP admin API reads.
//! - [`metrics`]: the process-wide counters (records and bytes in/out, requests by status)
//!   that every front end reports into and `GET /metrics` renders.
//! - [`sas`]: Shared Access Signature tokens and the one [`SasPolicies`] set that guards every
//!   protocol: parsing, signature and expiry checks, hub and right scoping, typed errors.
//!   Every front end calls the same API; a verified TLS client certificate maps to a policy
//!   through [`Connection::client_cert_subject`] and [`SasPolicies::authenticate_cert`].
//! - [`connection_string`]: Event Hubs connection strings (`SharedAccessKeyName`/`SharedAccessKey`,
//!   `SharedAccessSignature`, `EntityPath`), parsed in one place for every front end.
//! - [`secret`]: [`Secret`], a key that never shows in logs.
//! - [`percent`]: `%XX` decoding and `quote_plus`-style encoding (SAS tokens, CloudEvents
//!   headers).
//! - [`tunnel`]: byte streams carried inside another protocol (AMQP over WebSocket) and the
//!   [`StreamHandler`] hook through which the gateway hands them from one front end to another.
//! - [`error`]: the crate-wide [`Error`] and [`Result`].
//!
//! # Data flow
//!
//! ```text
//! gateway: bind TcpListener ──┐
//!          tls::load_server_config → tls::acceptor ──┴─▶ Listener::{plain, tls}
//! front end: serve(listener, ..) ──▶ listener::serve(listener, ListenerConfig, shutdown, handler)
//!     per connection: semaphore permit → accept → TCP_NODELAY → [TLS handshake ≤ timeout]
//!                     → span "conn" {proto, peer, tls} → handler(Connection, shutdown.child_token())
//! ```
//!
//! The caller binds the socket, so tests pass a listener bound to `127.0.0.1:0`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod connection_string;
pub mod error;
pub mod groups;
pub mod http;
pub mod hubs;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod partition_key;
pub mod percent;
pub mod sas;
pub mod secret;
pub mod tls;
pub mod tunnel;

pub use error::{Error, Result};
pub use groups::{
    GroupDeleted, GroupDescription, GroupDirectory, GroupDirectorySlot, GroupMember, GroupSummary,
};
pub use hubs::{AutoCreate, hub_or_create};
pub use limits::{LimitError, Limits, checked_len, checked_len_u64};
pub use listener::{Connection, Listener, ListenerConfig, Stream, serve};
pub use partition_key::{RoundRobin, partition_for_hash, partition_for_key, partition_hash};
pub use sas::{Grant, Right, Rights, SasError, SasPolicies, SasPolicy};
pub use secret::Secret;
pub use tls::{
    ReloadableCert, TlsError, acceptor, certificate_subject, load_server_config, server_config,
};
pub use tunnel::{DuplexStream, StreamHandler, Tunneled};

/// Re-exported so front ends and the gateway name the same token type as [`serve`].
pub use tokio_util::sync::CancellationToken;

/// Re-exported so callers of [`Listener::tls`] need not match the tokio-rustls version.
pub use tokio_rustls::TlsAcceptor;
