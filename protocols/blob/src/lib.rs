//! hubgate's Blob front end: the subset of the Azure Blob REST API that the Event Hubs SDKs'
//! checkpoint stores (`BlobCheckpointStore`, `EventProcessorClient`) use, served path-style
//! (`http://HOST:PORT/{account}/{container}/{blob}`) on its own listener, like Azurite.
//!
//! # Layout
//!
//! - [`serve`] (`server.rs`): runs the [`router`] on the shared accept loop
//!   (`hubgate_protocol::http::serve_router`).
//! - `routes.rs`: one handler for every request: authentication, dispatch on method +
//!   `restype` + `comp`, and the headers every response carries (`x-ms-request-id`,
//!   `x-ms-version`, `Date`).
//! - `request.rs`: the parsed request: account, container and blob from the raw path, the
//!   query, `x-ms-meta-*` metadata and the conditional headers, every size capped.
//! - `auth.rs`: SharedKey request signing, verified against the configured
//!   [`StorageAccount`]s over the raw path as received.
//! - one file per operation: `create_container.rs`, `container_properties.rs`,
//!   `delete_container.rs`, `list_blobs.rs`, `put_blob.rs`, `set_metadata.rs`,
//!   `blob_properties.rs` (HEAD and GET), `delete_blob.rs`.
//! - `store.rs`: containers and blobs in storage's [`Objects`](hubgate_storage::Objects) map;
//!   an object's version is its ETag, so every conditional write is one compare-and-swap.
//! - `checkpoint.rs`: checkpoint blobs (`{ns}/{hub}/{group}/checkpoint/{partition}`) are not
//!   objects: they read and write the Kafka consumer group's committed offsets.
//! - `xml.rs`: the List Blobs body and XML escaping; `error.rs`: [`BlobError`], mapped once to
//!   a status, `x-ms-error-code` and the XML error body.
//!
//! # Data flow
//!
//! ```text
//! request ─▶ routes: auth::verify ─▶ request::BlobRequest ─▶ operation
//!   operation ─▶ store (Objects: containers, ownership and other blobs)
//!             └▶ checkpoint (GroupOffsets: offset = sequence number + 1)
//! ```
//!
//! `docs/BLOB.md` has the served subset, the auth model and the checkpoint ⇄ offset rule.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

mod auth;
mod blob_properties;
mod checkpoint;
mod config;
mod container_properties;
mod create_container;
mod delete_blob;
mod delete_container;
mod error;
mod list_blobs;
mod put_blob;
mod request;
mod routes;
mod server;
mod set_metadata;
mod store;
mod xml;

pub use auth::string_to_sign;
pub use config::{BlobConfig, DEV_ACCOUNT, DEV_ACCOUNT_KEY, StorageAccount};
pub use error::BlobError;
pub use routes::router;
pub use server::serve;

/// `Result` with this crate's [`BlobError`].
pub type Result<T, E = BlobError> = std::result::Result<T, E>;
