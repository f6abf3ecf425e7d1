//! Command-line interface. Every `serve` option can also come from an environment variable
//! (`HUBGATE_…`) or the TOML config file; flags win over the environment, which wins over the
//! file. Options are `Option`s here so that the file can fill in what neither set.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// hubgate: an Event Hubs-like gateway speaking Kafka, AMQP 1.0 and HTTPS over one
/// partitioned log.
#[derive(Debug, Parser)]
#[command(name = "hubgate", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Log output format.
    #[arg(
        long,
        value_enum,
        env = "HUBGATE_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the gateway until SIGINT or SIGTERM.
    Serve(ServeArgs),
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// When appends are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DurabilityArg {
    /// After the data is fsynced (group commit).
    Strict,
    /// Before the fsync; sled flushes every 500 ms. A crash can lose acknowledged records.
    Relaxed,
}

/// Options of `hubgate serve`.
#[derive(Debug, Args, Default)]
pub(crate) struct ServeArgs {
    /// TOML config file (options, hubs, TLS). Flags and environment variables override it.
    #[arg(long, env = "HUBGATE_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Data directory of the embedded sled storage [default: ./hubgate-data].
    #[arg(long, env = "HUBGATE_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// Storage URL: `sled:PATH` or `memory://`; overrides --data-dir.
    #[arg(long, env = "HUBGATE_STORAGE", value_name = "URL")]
    pub(crate) storage: Option<String>,

    /// When produce/send requests are acknowledged [default: strict].
    #[arg(long, value_enum, env = "HUBGATE_DURABILITY")]
    pub(crate) durability: Option<DurabilityArg>,

    /// sled page cache in MiB [default: 128].
    #[arg(long, env = "HUBGATE_CACHE_MB", value_name = "MIB")]
    pub(crate) cache_mb: Option<u64>,

    /// Kafka listener address, or `off` [default: 127.0.0.1:9092].
    #[arg(long, env = "HUBGATE_KAFKA_LISTEN", value_name = "ADDR")]
    pub(crate) kafka_listen: Option<String>,

    /// HOST:PORT Kafka clients are told to connect to [default: the bound Kafka address].
    #[arg(long, env = "HUBGATE_KAFKA_ADVERTISE", value_name = "HOST:PORT")]
    pub(crate) kafka_advertise: Option<String>,

    /// How long the first rebalance of an empty consumer group waits for more members, in ms
    /// (Kafka's `group.initial.rebalance.delay.ms`) [default: 3000].
    #[arg(
        long,
        env = "HUBGATE_KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS",
        value_name = "MS"
    )]
    pub(crate) kafka_group_initial_rebalance_delay_ms: Option<u64>,

    /// Shortest session timeout a consumer-group member may ask for, in ms [default: 6000].
    #[arg(
        long,
        env = "HUBGATE_KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS",
        value_name = "MS"
    )]
    pub(crate) kafka_group_min_session_timeout_ms: Option<u64>,

    /// Longest session timeout a consumer-group member may ask for, in ms [default: 1800000].
    #[arg(
        long,
        env = "HUBGATE_KAFKA_GROUP_MAX_SESSION_TIMEOUT_MS",
        value_name = "MS"
    )]
    pub(crate) kafka_group_max_session_timeout_ms: Option<u64>,

    /// How long an empty consumer group's committed offsets are kept, in ms (Kafka's
    /// `offsets.retention.minutes`) [default: 604800000, 7 days].
    #[arg(long, env = "HUBGATE_KAFKA_OFFSETS_RETENTION_MS", value_name = "MS")]
    pub(crate) kafka_offsets_retention_ms: Option<u64>,

    /// Refuse CreateTopics replication factors above 1 (INVALID_REPLICATION_FACTOR); by
    /// default any factor is accepted and the data is kept once, on this node.
    #[arg(long, env = "HUBGATE_KAFKA_STRICT_REPLICATION_FACTOR")]
    pub(crate) kafka_strict_replication_factor: bool,

    /// AMQP 1.0 listener address, or `off` [default: 127.0.0.1:5672].
    #[arg(long, env = "HUBGATE_AMQP_LISTEN", value_name = "ADDR")]
    pub(crate) amqp_listen: Option<String>,

    /// Largest AMQP message or batch accepted on a send link, in bytes [default: 1048576].
    #[arg(long, env = "HUBGATE_AMQP_MAX_MESSAGE_BYTES", value_name = "BYTES")]
    pub(crate) amqp_max_message_bytes: Option<u64>,

    /// HTTP(S) listener address, or `off` [default: 127.0.0.1:8080].
    #[arg(long, env = "HUBGATE_HTTP_LISTEN", value_name = "ADDR")]
    pub(crate) http_listen: Option<String>,

    /// Largest HTTP request body in bytes; larger requests get 413 [default: 1048576].
    #[arg(long, env = "HUBGATE_HTTP_MAX_BODY_BYTES", value_name = "BYTES")]
    pub(crate) http_max_body_bytes: Option<usize>,

    /// Seconds an HTTP request may take, upload included, before 408 [default: 60].
    #[arg(long, env = "HUBGATE_HTTP_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub(crate) http_request_timeout_secs: Option<u64>,

    /// HTTP requests handled at once; further ones get 503 [default: 1024].
    #[arg(long, env = "HUBGATE_HTTP_MAX_CONCURRENT_REQUESTS", value_name = "N")]
    pub(crate) http_max_concurrent_requests: Option<usize>,

    /// Azure Blob (Event Hubs checkpoint store) listener address, or `off`
    /// [default: 127.0.0.1:10000].
    #[arg(long, env = "HUBGATE_BLOB_LISTEN", value_name = "ADDR")]
    pub(crate) blob_listen: Option<String>,

    /// PEM certificate chain: serves every listener over TLS (Kafka SSL, AMQPS, HTTPS).
    #[arg(
        long,
        env = "HUBGATE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,

    /// PEM private key matching --tls-cert.
    #[arg(
        long,
        env = "HUBGATE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub(crate) tls_key: Option<PathBuf>,

    /// PEM file of CA certificates: every TLS client must present a certificate they signed;
    /// a policy's `cert_subject` maps a certificate subject to that policy.
    #[arg(long, env = "HUBGATE_TLS_CLIENT_CA", value_name = "FILE")]
    pub(crate) tls_client_ca: Option<PathBuf>,

    /// Serve GET /metrics without a token even when access policies are configured.
    #[arg(long, env = "HUBGATE_METRICS_PUBLIC")]
    pub(crate) metrics_public: bool,

    /// Host names HTTP requests on a loopback listener may name besides localhost, 127.x and
    /// [::1] (others get 421); comma-separated.
    #[arg(
        long,
        env = "HUBGATE_HTTP_ALLOWED_HOSTS",
        value_name = "HOST,...",
        value_delimiter = ','
    )]
    pub(crate) http_allowed_hosts: Vec<String>,

    /// Partitions of auto-created hubs [default: 4].
    #[arg(long, env = "HUBGATE_DEFAULT_PARTITIONS", value_name = "N")]
    pub(crate) default_partitions: Option<u32>,

    /// Do not create hubs on first use; unknown hubs are refused.
    #[arg(long, env = "HUBGATE_NO_AUTO_CREATE")]
    pub(crate) no_auto_create: bool,

    /// Seconds between retention passes [default: 60].
    #[arg(long, env = "HUBGATE_RETENTION_INTERVAL_SECS", value_name = "SECS")]
    pub(crate) retention_interval_secs: Option<u64>,

    /// Milliseconds between log cleaner rounds over compacted hubs [default: 15000].
    #[arg(long, env = "HUBGATE_LOG_CLEANER_BACKOFF_MS", value_name = "MS")]
    pub(crate) log_cleaner_backoff_ms: Option<u64>,

    /// Seconds in-flight requests get to finish on shutdown [default: 5].
    #[arg(long, env = "HUBGATE_SHUTDOWN_GRACE_SECS", value_name = "SECS")]
    pub(crate) shutdown_grace_secs: Option<u64>,

    /// Allow non-loopback listeners without an access policy, or with policies but no TLS.
    #[arg(long, env = "HUBGATE_INSECURE")]
    pub(crate) insecure: bool,
}
