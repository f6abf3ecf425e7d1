//! hubgate's storage: the record model and a partitioned, append-only log.
//!
//! # Layout
//! - [`record`]: [`Record`] and [`Header`], what every front end converts its messages into.
//! - [`batch`]: Kafka v2 record batches, the one stored format ([`RecordBatch`]).
//! - [`hub`]: hubs (topics), partitions and their configuration.
//! - [`log`]: the [`Log`] and [`GroupOffsets`] traits front ends program against.
//! - [`objects`]: [`Objects`], a small durable key → (bytes, version) map with
//!   compare-and-swap, for front-end state such as Blob containers.
//! - `engine`: the one implementation of those traits, over a backend: sled (`sled:PATH`)
//!   or memory (`memory://`); pick one with [`open()`].
//! - [`spawn_retention`]: the background retention task.
//! - [`compaction`]: per-hub compaction settings and the background cleaner
//!   ([`spawn_cleaner`]); the pass itself is the engine's.
//! - `producer`: idempotent-producer state (epoch, recent sequences, open transaction) kept
//!   per partition.
//! - [`txn`]: transactions: markers, last stable offset, aborted index, read-committed reads
//!   ([`committed_records`] for front ends that deliver records one by one) and the
//!   coordinator's durable state ([`Transactions`]).
//!
//! Data flow: a front end builds or receives a [`RecordBatch`], calls [`Log::append`] (offsets
//! assigned, one atomic write, group-commit fsync under [`Durability::Strict`]), and readers
//! call [`Log::read`] / [`Log::wait_for`], which return the stored batches without re-encoding.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod batch;
pub mod compaction;
mod engine;
mod error;
pub mod hub;
pub mod log;
mod memory;
mod memory_objects;
pub mod objects;
mod open;
mod producer;
pub mod record;
mod retention;
mod sled;
pub mod txn;

pub use batch::{Compression, EncodeOptions, Limits, RecordBatch, TimestampType};
pub use compaction::{
    CleanerStatus, CompactionConfig, CompactionReport, CompactionUpdate, DirtyRatio, spawn_cleaner,
};
pub use error::{Error, Result};
pub use hub::{
    CleanupPolicy, HubConfig, HubInfo, HubName, HubUpdate, PartitionId, PartitionState,
    RetentionError, TimestampPolicy, retention_bytes_from, retention_from_ms,
};
pub use log::{
    Appended, Capabilities, CommittedOffset, Durability, GroupOffsets, Log, ReadBatches,
    RetentionReport, SharedStorage, Storage, TimeQuery, TimestampOffset,
};
pub use objects::{
    MAX_OBJECT_KEY_BYTES, MAX_OBJECT_LIST, MAX_OBJECT_VALUE_BYTES, Objects, Precondition,
    StoredObject,
};
pub use open::{StorageConfig, StorageUrl, open};
pub use producer::RETAINED_BATCHES;
pub use record::{Header, Offset, Record};
pub use retention::spawn_retention;
pub use txn::{
    AbortedTxn, CommittedRead, MarkerKind, PendingOffset, ProducerInfo, Transactions, TxnMarker,
    TxnRecord, TxnStatus, committed_records,
};
