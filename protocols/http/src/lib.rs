//! hubgate's HTTPS front end: the Event Hubs REST send API, webhooks, CloudEvents, and read,
//! admin, health and metrics routes, all storing into the shared partitioned log.
//!
//! # Layout
//!
//! - [`serve`] (`server.rs`): runs the [`router`] through `hubgate_protocol::http::serve_router`
//!   (the shared accept loop and hyper-util's HTTP/1.1 + HTTP/2 builder), so the connection
//!   cap, TLS handshake and shutdown drain are the same as on the other protocols.
//! - `routes.rs`: the route table and the request limits (body cap, timeout, concurrency).
//! - `send.rs`: `POST /{hub}/messages` and its partition and publisher forms, single events and
//!   `application/vnd.microsoft.servicebus.json` batches.
//! - `webhook.rs` + `signature.rs`: `POST /webhooks/{hub}` with per-hub HMAC verification.
//! - `cloudevents.rs`: `POST /cloudevents/{hub}`, binary, structured and batched modes.
//! - `read.rs`: `GET /{hub}`, `GET /{hub}/partitions/{id}`; `admin.rs`: `PUT`/`DELETE
//!   /admin/hubs/{hub}`; `health.rs`: `/healthz`, `/readyz`, `/metrics`.
//! - `admin_console.rs`: the JSON routes behind the web console — `overview.rs`,
//!   `history.rs` (a bounded in-memory history of the counters), `hub_list.rs`,
//!   `hub_detail.rs`, `events.rs` (records decoded for reading, with `amqp_value.rs`),
//!   `groups.rs` and `group_reset.rs` (committed offsets and lag, from `lag.rs`); `access.rs`
//!   checks namespace-wide grants. `gateway_info.rs`: what the gateway tells about itself.
//! - The console's pages and assets come from `hubgate-console`, merged into the router.
//! - `ingest.rs`: the one path to the log: placement (partition id, key hash or round robin),
//!   batch encoding, append, metrics. `201` is answered only after `append` returns, which
//!   under the default durability means the records are on disk.
//! - `sas.rs`: reads the `Authorization` header and maps the shared
//!   [`hubgate_protocol::sas`] verdict to `401` (bad token) or `403` (wrong hub or right), on
//!   every route but health when policies are configured.
//! - `peer.rs`: what the connection tells each request (loopback listener, client-certificate
//!   grant); `host.rs`: `421` for a foreign `Host` on a loopback listener (DNS rebinding);
//!   `linger.rs`: reads what an early error left of the request body, so HTTP/2 and HTTP/1.1
//!   clients see the status instead of a reset; `credentials.rs`: request headers that carry
//!   credentials, never stored on records.
//! - `websocket.rs`: `GET /$servicebus/websocket`, AMQP over WebSocket: the upgraded byte
//!   stream goes to the [`HttpConfig::amqp_websocket`] handler the gateway supplies.
//! - `error.rs`: [`ApiError`], mapped once to a status and a `{"code", "message"}` body.
//!
//! How each request becomes records is documented in `docs/HTTP.md`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

mod access;
mod admin;
mod admin_console;
mod amqp_value;
mod body;
mod cloudevents;
mod config;
mod credentials;
mod error;
mod events;
mod gateway_info;
mod group_reset;
mod groups;
mod health;
mod history;
mod host;
mod hub_detail;
mod hub_list;
mod ingest;
mod lag;
mod linger;
mod overview;
mod peer;
mod read;
mod routes;
mod sas;
mod send;
mod server;
mod signature;
mod state;
mod time;
mod webhook;
mod websocket;

pub use config::{HttpConfig, KeySource, Secret, Signature, SignatureEncoding, WebhookConfig};
pub use error::ApiError;
pub use gateway_info::{GatewayInfo, ListenerInfo};
pub use routes::router;
pub use server::serve;

/// `Result` with this crate's [`ApiError`].
pub type Result<T, E = ApiError> = std::result::Result<T, E>;
