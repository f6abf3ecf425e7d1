//! The TOML config file and the resolved, validated settings `serve` runs with.
//!
//! ```toml
//! data_dir = "/var/lib/hubgate"
//! durability = "strict"          # or "relaxed"
//! kafka_listen = "127.0.0.1:9092"
//! amqp_listen = "off"
//! tls_cert = "/etc/hubgate/server.pem"   # with tls_key: every listener speaks TLS
//! tls_key = "/etc/hubgate/server-key.pem"
//! tls_client_ca = "/etc/hubgate/ca.pem"  # optional: require client certificates
//! metrics_public = false         # true: GET /metrics needs no token
//! http_allowed_hosts = ["gw.internal"]   # Host names a loopback HTTP listener answers
//!
//! [hubs.orders]
//! partitions = 8
//! retention_ms = 86400000        # -1 keeps records forever
//! retention_bytes = 1073741824   # -1 (default) is unbounded
//!
//! [webhooks.github-events]       # POST /webhooks/github-events
//! signature = "github"           # github | stripe | hmac
//! secret = "…"
//! partition_key_header = "X-GitHub-Delivery"   # or partition_key_pointer = "/repository/id"
//!
//! [policies.RootManageSharedAccessKey]   # SAS access policies, checked by every front end
//! key = "…"                      # or key_file = "/run/secrets/root" or key_env = "ROOT_KEY"
//! rights = ["manage"]            # send, listen, manage
//! hubs = ["orders"]              # optional: only these hubs
//! cert_subject = "CN=client-a"   # optional: a TLS client certificate that acts as this policy
//!
//! [storage_accounts.myaccount]   # Blob front end (checkpoint stores); base64 keys
//! key = "…"
//! secondary_key = "…"            # optional
//! ```
//!
//! `[http_policies.NAME]`, the earlier name of `[policies.NAME]`, is still read (with a
//! warning); a name may not appear in both.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use hubgate_http::{KeySource, Secret, Signature, SignatureEncoding, WebhookConfig};
use hubgate_protocol::sas::{Right, Rights, SasPolicies, SasPolicy};
use hubgate_storage::{
    CleanupPolicy, Durability, HubConfig, HubName, StorageConfig, StorageUrl, TimestampPolicy,
};
use serde::Deserialize;

use crate::cli::{DurabilityArg, ServeArgs};

/// A configuration problem, reported in one line before anything is bound or opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// What the config file may hold; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileConfig {
    data_dir: Option<PathBuf>,
    storage: Option<String>,
    durability: Option<DurabilityArg>,
    cache_mb: Option<u64>,
    kafka_listen: Option<String>,
    kafka_advertise: Option<String>,
    amqp_listen: Option<String>,
    amqp_max_message_bytes: Option<u64>,
    kafka_group_initial_rebalance_delay_ms: Option<u64>,
    kafka_group_min_session_timeout_ms: Option<u64>,
    kafka_group_max_session_timeout_ms: Option<u64>,
    kafka_offsets_retention_ms: Option<u64>,
    kafka_strict_replication_factor: Option<bool>,
    http_listen: Option<String>,
    blob_listen: Option<String>,
    default_partitions: Option<u32>,
    auto_create: Option<bool>,
    retention_interval_secs: Option<u64>,
    log_cleaner_backoff_ms: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    insecure: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
    metrics_public: Option<bool>,
    http_allowed_hosts: Option<Vec<String>>,
    http_max_body_bytes: Option<usize>,
    http_request_timeout_secs: Option<u64>,
    http_max_concurrent_requests: Option<usize>,
    hubs: BTreeMap<String, HubSpec>,
    webhooks: BTreeMap<String, WebhookSpec>,
    policies: BTreeMap<String, PolicySpec>,
    /// Deprecated name of `policies`.
    http_policies: BTreeMap<String, PolicySpec>,
    storage_accounts: BTreeMap<String, StorageAccountSpec>,
}

/// A storage account of the Blob front end: `[storage_accounts.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct StorageAccountSpec {
    /// Base64 account key.
    key: String,
    /// An optional second key (key rotation); either signs.
    secondary_key: Option<String>,
}

/// The Blob front end's accounts: the configured ones, plus the development account
/// (`devstoreaccount1` and its published key) when no access policy is configured and it is
/// not configured itself.
fn storage_accounts(
    specs: BTreeMap<String, StorageAccountSpec>,
    open: bool,
) -> Result<Vec<hubgate_blob::StorageAccount>, ConfigError> {
    let mut accounts = Vec::with_capacity(specs.len() + 1);
    for (name, spec) in specs {
        let mut keys = vec![spec.key.as_str()];
        keys.extend(spec.secondary_key.as_deref());
        if keys.iter().any(|k| k.trim().is_empty()) {
            return Err(ConfigError::Invalid(format!(
                "storage account `{name}` has an empty key"
            )));
        }
        accounts
            .push(hubgate_blob::StorageAccount::new(&name, &keys).map_err(ConfigError::Invalid)?);
    }
    if open && !accounts.iter().any(|a| a.name == hubgate_blob::DEV_ACCOUNT) {
        accounts.push(hubgate_blob::StorageAccount::development());
    }
    Ok(accounts)
}

/// An access policy: `[policies.NAME]`. The key comes from exactly one of `key`, `key_file`
/// (the file's first line) and `key_env` (an environment variable).
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PolicySpec {
    key: Option<String>,
    key_file: Option<PathBuf>,
    key_env: Option<String>,
    rights: Vec<String>,
    hubs: Vec<String>,
    cert_subject: Option<String>,
}

impl fmt::Debug for PolicySpec {
    /// Says where the key comes from, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicySpec")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("key_file", &self.key_file)
            .field("key_env", &self.key_env)
            .field("rights", &self.rights)
            .field("hubs", &self.hubs)
            .field("cert_subject", &self.cert_subject)
            .finish()
    }
}

/// The policy's key from `key`, `key_file` or `key_env`; errors name the source, never the key.
fn policy_key(name: &str, spec: &PolicySpec) -> Result<Secret, ConfigError> {
    let invalid = |what: String| ConfigError::Invalid(format!("policy `{name}`: {what}"));
    let key = match (&spec.key, &spec.key_file, &spec.key_env) {
        (Some(key), None, None) => key.clone(),
        (None, Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid(format!("cannot read key_file {}: {e}", path.display())))?;
            let line = text.lines().next().unwrap_or_default().trim().to_owned();
            if line.is_empty() {
                return Err(invalid(format!(
                    "key_file {} has an empty first line",
                    path.display()
                )));
            }
            line
        }
        (None, None, Some(var)) => match std::env::var(var) {
            Ok(value) if !value.is_empty() => value,
            Ok(_) => return Err(invalid(format!("key_env variable `{var}` is empty"))),
            Err(_) => return Err(invalid(format!("key_env variable `{var}` is not set"))),
        },
        (None, None, None) => {
            return Err(invalid(
                "give the key as `key`, `key_file` or `key_env`".into(),
            ));
        }
        _ => {
            return Err(invalid(
                "give only one of `key`, `key_file` and `key_env`".into(),
            ));
        }
    };
    Ok(Secret::new(key))
}

fn sas_policy(name: String, spec: PolicySpec) -> Result<SasPolicy, ConfigError> {
    let key = policy_key(&name, &spec)?;
    if spec.cert_subject.as_deref().is_some_and(str::is_empty) {
        return Err(ConfigError::Invalid(format!(
            "policy `{name}`: `cert_subject` must not be empty"
        )));
    }
    let rights = spec
        .rights
        .iter()
        .map(|r| r.parse::<Right>())
        .collect::<Result<Rights, _>>()
        .map_err(|e| ConfigError::Invalid(format!("policy `{name}`: {e}")))?;
    for hub in &spec.hubs {
        HubName::new(hub.clone())
            .map_err(|e| ConfigError::Invalid(format!("policy `{name}`: {e}")))?;
    }
    Ok(SasPolicy {
        name,
        key,
        rights,
        hubs: spec.hubs,
        cert_subject: spec.cert_subject,
    })
}

/// The one policy set of every front end, from `[policies.*]` and the deprecated
/// `[http_policies.*]`; empty and missing keys, missing rights and repeated names are refused.
fn sas_policies(
    policies: BTreeMap<String, PolicySpec>,
    deprecated: BTreeMap<String, PolicySpec>,
) -> Result<SasPolicies, ConfigError> {
    if !deprecated.is_empty() {
        tracing::warn!("[http_policies.NAME] tables are deprecated; name them [policies.NAME]");
    }
    let policies = policies
        .into_iter()
        .chain(deprecated)
        .map(|(name, spec)| sas_policy(name, spec))
        .collect::<Result<Vec<_>, _>>()?;
    SasPolicies::new(policies).map_err(|e| ConfigError::Invalid(e.to_string()))
}

/// Webhook settings of one hub: `[webhooks.HUB]`.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct WebhookSpec {
    /// `github`, `stripe` or `hmac`; absent accepts unsigned requests.
    signature: Option<String>,
    secret: Option<String>,
    /// `hmac` only: the signature header, its prefix, and `hex` (default) or `base64`.
    header: Option<String>,
    prefix: Option<String>,
    encoding: Option<String>,
    /// `stripe` only: largest clock distance accepted [default: 300].
    tolerance_secs: Option<u64>,
    partition_key_header: Option<String>,
    partition_key_pointer: Option<String>,
    /// Extra request headers stored on each record.
    headers: Vec<String>,
}

impl fmt::Debug for WebhookSpec {
    /// Everything but the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSpec")
            .field("signature", &self.signature)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("header", &self.header)
            .field("prefix", &self.prefix)
            .field("encoding", &self.encoding)
            .field("tolerance_secs", &self.tolerance_secs)
            .field("partition_key_header", &self.partition_key_header)
            .field("partition_key_pointer", &self.partition_key_pointer)
            .field("headers", &self.headers)
            .finish()
    }
}

fn webhook_config(hub: &str, spec: WebhookSpec) -> Result<WebhookConfig, ConfigError> {
    let invalid = |what: &str| ConfigError::Invalid(format!("webhook `{hub}`: {what}"));
    let header_name = |name: &str| {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(&format!("`{name}` is not a valid header name")))
    };
    let secret = || {
        spec.secret
            .clone()
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .ok_or_else(|| invalid("a signature needs a non-empty `secret`"))
    };
    let signature = match spec.signature.as_deref() {
        None => None,
        Some("github") => Some(Signature::GitHub { secret: secret()? }),
        Some("stripe") => Some(Signature::Stripe {
            secret: secret()?,
            tolerance: Duration::from_secs(spec.tolerance_secs.unwrap_or(300)),
        }),
        Some("hmac") => Some(Signature::Hmac {
            secret: secret()?,
            header: header_name(
                spec.header
                    .as_deref()
                    .ok_or_else(|| invalid("`hmac` needs `header`"))?,
            )?,
            prefix: spec.prefix.clone().unwrap_or_default(),
            encoding: match spec.encoding.as_deref() {
                None | Some("hex") => SignatureEncoding::Hex,
                Some("base64") => SignatureEncoding::Base64,
                Some(other) => return Err(invalid(&format!("unknown encoding `{other}`"))),
            },
        }),
        Some(other) => {
            return Err(invalid(&format!(
                "unknown signature `{other}` (github, stripe or hmac)"
            )));
        }
    };
    let partition_key = match (spec.partition_key_header, spec.partition_key_pointer) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "give partition_key_header or partition_key_pointer, not both",
            ));
        }
        (Some(name), None) => Some(KeySource::Header(header_name(&name)?)),
        (None, Some(pointer)) if pointer.is_empty() || pointer.starts_with('/') => {
            Some(KeySource::JsonPointer(pointer))
        }
        (None, Some(pointer)) => {
            return Err(invalid(&format!(
                "partition_key_pointer `{pointer}` must start with `/`"
            )));
        }
        (None, None) => None,
    };
    let keep_headers = spec
        .headers
        .iter()
        .map(|h| header_name(h))
        .collect::<Result<_, _>>()?;
    Ok(WebhookConfig {
        signature,
        partition_key,
        keep_headers,
    })
}

/// HTTP front-end limits and webhook settings.
#[derive(Debug)]
pub(crate) struct HttpSettings {
    pub(crate) max_body_bytes: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) max_concurrent_requests: usize,
    pub(crate) webhooks: HashMap<String, WebhookConfig>,
    /// `/metrics` needs no token.
    pub(crate) metrics_public: bool,
    /// Host names a loopback listener answers besides loopback names.
    pub(crate) allowed_hosts: Vec<String>,
}

/// A hub declared in the config file. Names follow Kafka's topic configs.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct HubSpec {
    partitions: Option<u32>,
    retention_ms: Option<i64>,
    retention_bytes: Option<i64>,
    cleanup_policy: Option<CleanupPolicy>,
    timestamp_policy: Option<TimestampPolicy>,
    max_message_bytes: Option<u32>,
    /// `[hubs.NAME.compaction]`: the cleaner's settings (storage's `CompactionConfig`).
    compaction: Option<hubgate_storage::CompactionConfig>,
}

/// A listener: an address, or turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listen {
    Off,
    On(SocketAddr),
}

/// The PEM files every listener serves TLS with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    /// CA certificates every client certificate must chain to; `None` asks for none.
    pub(crate) client_ca: Option<PathBuf>,
}

/// Everything `serve` needs, validated.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) storage: StorageConfig,
    pub(crate) kafka: Listen,
    /// Host and port Kafka clients are sent to; `None` advertises the bound address.
    pub(crate) kafka_advertise: Option<(String, u16)>,
    /// The consumer-group coordinator's settings.
    pub(crate) kafka_groups: hubgate_kafka::GroupConfig,
    /// Whether CreateTopics refuses replication factors above 1.
    pub(crate) kafka_strict_replication_factor: bool,
    pub(crate) amqp: Listen,
    pub(crate) amqp_max_message_bytes: u64,
    pub(crate) http: Listen,
    pub(crate) blob: Listen,
    /// The Blob front end's storage accounts.
    pub(crate) blob_accounts: Vec<hubgate_blob::StorageAccount>,
    pub(crate) tls: Option<TlsFiles>,
    pub(crate) default_partitions: u32,
    pub(crate) auto_create: bool,
    pub(crate) retention_interval: Duration,
    /// Pause between log cleaner rounds.
    pub(crate) log_cleaner_backoff: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) hubs: Vec<(HubName, HubConfig)>,
    pub(crate) http_settings: HttpSettings,
    /// The access policies every front end checks.
    pub(crate) policies: Arc<SasPolicies>,
}

impl FileConfig {
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })
    }
}

/// The group coordinator's settings: flags over the file over Kafka's defaults.
fn kafka_groups(
    args: &ServeArgs,
    file: &FileConfig,
) -> Result<hubgate_kafka::GroupConfig, ConfigError> {
    let defaults = hubgate_kafka::GroupConfig::default();
    let ms = |flag: Option<u64>, file: Option<u64>, default: Duration| {
        flag.or(file).map_or(default, Duration::from_millis)
    };
    let config = hubgate_kafka::GroupConfig {
        initial_rebalance_delay: ms(
            args.kafka_group_initial_rebalance_delay_ms,
            file.kafka_group_initial_rebalance_delay_ms,
            defaults.initial_rebalance_delay,
        ),
        min_session_timeout: ms(
            args.kafka_group_min_session_timeout_ms,
            file.kafka_group_min_session_timeout_ms,
            defaults.min_session_timeout,
        ),
        max_session_timeout: ms(
            args.kafka_group_max_session_timeout_ms,
            file.kafka_group_max_session_timeout_ms,
            defaults.max_session_timeout,
        ),
        offsets_retention: ms(
            args.kafka_offsets_retention_ms,
            file.kafka_offsets_retention_ms,
            defaults.offsets_retention,
        ),
        ..defaults
    };
    if config.min_session_timeout.is_zero()
        || config.min_session_timeout > config.max_session_timeout
    {
        return Err(ConfigError::Invalid(
            "kafka_group_min_session_timeout_ms must be at least 1 and at most kafka_group_max_session_timeout_ms".into(),
        ));
    }
    if config.offsets_retention.is_zero() {
        return Err(ConfigError::Invalid(
            "kafka_offsets_retention_ms must be at least 1".into(),
        ));
    }
    Ok(config)
}

fn listen(name: &str, value: Option<String>, default: &str) -> Result<Listen, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_owned());
    if value.eq_ignore_ascii_case("off") {
        return Ok(Listen::Off);
    }
    value
        .parse()
        .map(Listen::On)
        .map_err(|_| ConfigError::Invalid(format!("{name}: `{value}` is not HOST:PORT or `off`")))
}

/// Parses `HOST:PORT` (an IPv6 host may be bracketed).
fn host_port(name: &str, value: &str) -> Result<(String, u16), ConfigError> {
    let invalid = || ConfigError::Invalid(format!("{name}: `{value}` is not HOST:PORT"));
    let (host, port) = value.rsplit_once(':').ok_or_else(invalid)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port.parse().map_err(|_| invalid())?;
    if host.is_empty() || port == 0 {
        return Err(invalid());
    }
    Ok((host.to_owned(), port))
}

fn hub_config(
    name: &str,
    spec: HubSpec,
    default_partitions: u32,
) -> Result<HubConfig, ConfigError> {
    let defaults = HubConfig::default();
    let invalid = |what: &str| ConfigError::Invalid(format!("hub `{name}`: {what}"));
    let retention = spec
        .retention_ms
        .map(hubgate_storage::retention_from_ms)
        .transpose()
        .map_err(|_| invalid("retention_ms must be positive or -1"))?
        .unwrap_or(defaults.retention);
    let retention_bytes = spec
        .retention_bytes
        .map(hubgate_storage::retention_bytes_from)
        .transpose()
        .map_err(|_| invalid("retention_bytes must be positive or -1"))?
        .unwrap_or(defaults.retention_bytes);
    let config = HubConfig {
        partitions: spec.partitions.unwrap_or(default_partitions),
        retention,
        retention_bytes,
        cleanup_policy: spec.cleanup_policy.unwrap_or(defaults.cleanup_policy),
        timestamp_policy: spec.timestamp_policy.unwrap_or(defaults.timestamp_policy),
        max_message_bytes: spec.max_message_bytes.unwrap_or(defaults.max_message_bytes),
        compaction: spec.compaction.unwrap_or(defaults.compaction),
    };
    config.validate().map_err(|e| invalid(&e.to_string()))?;
    Ok(config)
}

impl Settings {
    /// Layers flags/environment over the file over the defaults, and validates the result.
    pub(crate) fn resolve(args: ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let kafka_groups = kafka_groups(&args, &file)?;
        let url = match args.storage.or(file.storage) {
            Some(url) => url
                .parse::<StorageUrl>()
                .map_err(|e| ConfigError::Invalid(e.to_string()))?,
            None => StorageUrl::Sled(
                args.data_dir
                    .or(file.data_dir)
                    .unwrap_or_else(|| PathBuf::from("./hubgate-data")),
            ),
        };
        let durability = match args.durability.or(file.durability) {
            Some(DurabilityArg::Relaxed) => Durability::Relaxed,
            Some(DurabilityArg::Strict) | None => Durability::Strict,
        };
        let cache_mb = args.cache_mb.or(file.cache_mb).unwrap_or(128);
        if cache_mb == 0 {
            return Err(ConfigError::Invalid("cache_mb must be at least 1".into()));
        }
        let mut storage = StorageConfig::new(url);
        storage.durability = durability;
        storage.cache_capacity = cache_mb.saturating_mul(1 << 20);

        let default_partitions = args
            .default_partitions
            .or(file.default_partitions)
            .unwrap_or(4);
        if default_partitions == 0 || default_partitions > hubgate_storage::hub::MAX_PARTITIONS {
            return Err(ConfigError::Invalid(format!(
                "default_partitions must be between 1 and {}",
                hubgate_storage::hub::MAX_PARTITIONS
            )));
        }
        let retention_interval = args
            .retention_interval_secs
            .or(file.retention_interval_secs)
            .unwrap_or(60);
        if retention_interval == 0 {
            return Err(ConfigError::Invalid(
                "retention_interval_secs must be at least 1".into(),
            ));
        }
        let log_cleaner_backoff = args
            .log_cleaner_backoff_ms
            .or(file.log_cleaner_backoff_ms)
            .unwrap_or(15_000);
        if log_cleaner_backoff == 0 {
            return Err(ConfigError::Invalid(
                "log_cleaner_backoff_ms must be at least 1".into(),
            ));
        }
        let mut hubs = Vec::with_capacity(file.hubs.len());
        for (name, spec) in file.hubs {
            let hub =
                HubName::new(name.clone()).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            hubs.push((hub, hub_config(&name, spec, default_partitions)?));
        }
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                client_ca: args.tls_client_ca.clone().or(file.tls_client_ca.clone()),
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "tls_cert and tls_key must be given together".into(),
                ));
            }
        };
        if tls.is_none() && (args.tls_client_ca.is_some() || file.tls_client_ca.is_some()) {
            return Err(ConfigError::Invalid(
                "tls_client_ca needs tls_cert and tls_key: client certificates are checked in the TLS handshake".into(),
            ));
        }
        let amqp_max_message_bytes = args
            .amqp_max_message_bytes
            .or(file.amqp_max_message_bytes)
            .unwrap_or(1 << 20);
        if !(1024..=16 << 20).contains(&amqp_max_message_bytes) {
            return Err(ConfigError::Invalid(
                "amqp_max_message_bytes must be between 1024 and 16777216".into(),
            ));
        }
        let max_body_bytes = args
            .http_max_body_bytes
            .or(file.http_max_body_bytes)
            .unwrap_or(1 << 20);
        let request_timeout = args
            .http_request_timeout_secs
            .or(file.http_request_timeout_secs)
            .unwrap_or(60);
        let max_concurrent_requests = args
            .http_max_concurrent_requests
            .or(file.http_max_concurrent_requests)
            .unwrap_or(1024);
        if max_body_bytes == 0 || request_timeout == 0 || max_concurrent_requests == 0 {
            return Err(ConfigError::Invalid(
                "http_max_body_bytes, http_request_timeout_secs and http_max_concurrent_requests must be at least 1".into(),
            ));
        }
        let mut webhooks = HashMap::with_capacity(file.webhooks.len());
        for (hub, spec) in file.webhooks {
            HubName::new(hub.clone()).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            let config = webhook_config(&hub, spec)?;
            webhooks.insert(hub, config);
        }
        let policies = Arc::new(sas_policies(file.policies, file.http_policies)?);
        let mut allowed_hosts = if args.http_allowed_hosts.is_empty() {
            file.http_allowed_hosts.clone().unwrap_or_default()
        } else {
            args.http_allowed_hosts.clone()
        };
        let kafka_advertise = args
            .kafka_advertise
            .clone()
            .or(file.kafka_advertise.clone())
            .map(|v| host_port("kafka_advertise", &v))
            .transpose()?;
        if let Some((host, _)) = &kafka_advertise {
            allowed_hosts.push(host.clone());
        }
        let blob_accounts = storage_accounts(file.storage_accounts, policies.is_empty())?;
        let http_settings = HttpSettings {
            max_body_bytes,
            request_timeout: Duration::from_secs(request_timeout),
            max_concurrent_requests,
            webhooks,
            metrics_public: args.metrics_public || file.metrics_public == Some(true),
            allowed_hosts,
        };
        let settings = Self {
            kafka_groups,
            kafka_strict_replication_factor: args.kafka_strict_replication_factor
                || file.kafka_strict_replication_factor == Some(true),
            http_settings,
            policies,
            amqp_max_message_bytes,
            storage,
            tls,
            kafka: listen(
                "kafka_listen",
                args.kafka_listen.or(file.kafka_listen),
                "127.0.0.1:9092",
            )?,
            kafka_advertise,
            amqp: listen(
                "amqp_listen",
                args.amqp_listen.or(file.amqp_listen),
                "127.0.0.1:5672",
            )?,
            http: listen(
                "http_listen",
                args.http_listen.or(file.http_listen),
                "127.0.0.1:8080",
            )?,
            blob: listen(
                "blob_listen",
                args.blob_listen.or(file.blob_listen),
                "127.0.0.1:10000",
            )?,
            blob_accounts,
            default_partitions,
            auto_create: !(args.no_auto_create || file.auto_create == Some(false)),
            retention_interval: Duration::from_secs(retention_interval),
            log_cleaner_backoff: Duration::from_millis(log_cleaner_backoff),
            shutdown_grace: Duration::from_secs(
                args.shutdown_grace_secs
                    .or(file.shutdown_grace_secs)
                    .unwrap_or(5),
            ),
            hubs,
        };
        let insecure = args.insecure || file.insecure == Some(true);
        check_exposure(&settings, insecure)?;
        Ok(settings)
    }
}

/// Refuses listeners on non-loopback addresses that would expose the gateway without a
/// credential check (no policy) or with credentials in clear (policies without TLS), unless
/// `insecure`. The message says exactly what is missing.
fn check_exposure(settings: &Settings, insecure: bool) -> Result<(), ConfigError> {
    if insecure {
        return Ok(());
    }
    for (name, listen) in [
        ("kafka", settings.kafka),
        ("amqp", settings.amqp),
        ("http", settings.http),
        ("blob", settings.blob),
    ] {
        let Listen::On(addr) = listen else { continue };
        if addr.ip().is_loopback() {
            continue;
        }
        if settings.policies.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "{name} listener {addr} is not a loopback address and no access policy is configured ([policies.NAME]), so any client could use it; add a policy or pass --insecure"
            )));
        }
        if settings.tls.is_none() {
            return Err(ConfigError::Invalid(format!(
                "{name} listener {addr} is not a loopback address and TLS is not configured (--tls-cert and --tls-key), so keys and tokens would cross the network in clear; configure TLS or pass --insecure"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    /// Resolves `text` as the config file, with no flags.
    fn resolve_file(text: &str) -> Result<Settings, ConfigError> {
        let file = write(text);
        Settings::resolve(ServeArgs {
            config: Some(file.path().to_owned()),
            ..ServeArgs::default()
        })
    }

    /// Each config text is refused with an error that contains the expected words.
    fn assert_refused(cases: &[(&str, &str)]) {
        for (text, expected) in cases {
            let error = resolve_file(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn blob_listener_and_storage_accounts() {
        let s = Settings::resolve(ServeArgs::default()).unwrap();
        assert_eq!(s.blob, Listen::On("127.0.0.1:10000".parse().unwrap()));
        let names: Vec<_> = s.blob_accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [hubgate_blob::DEV_ACCOUNT],
            "open mode serves the dev account"
        );
        let s = resolve_file(
            "blob_listen = \"off\"\n[storage_accounts.prod1]\nkey = \"a2V5\"\nsecondary_key = \"b3RoZXI=\"\n[policies.p]\nkey = \"k\"\nrights = [\"send\"]",
        )
        .unwrap();
        assert_eq!(s.blob, Listen::Off);
        assert_eq!(
            s.blob_accounts.len(),
            1,
            "no dev account once policies are configured"
        );
        assert_eq!(s.blob_accounts[0].keys.len(), 2);
        assert!(!format!("{:?}", s.blob_accounts).contains("a2V5"));
        assert_refused(&[
            (
                "[storage_accounts.prod1]\nkey = \"not base64!\"",
                "not base64",
            ),
            ("[storage_accounts.Bad]\nkey = \"a2V5\"", "lower-case"),
            ("[storage_accounts.prod1]\nkey = \"\"", "empty key"),
            ("blob_listen = \"0.0.0.0:10000\"", "blob listener"),
        ]);
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(ServeArgs::default()).unwrap();
        assert_eq!(s.storage.url, StorageUrl::Sled("./hubgate-data".into()));
        assert_eq!(s.storage.durability, Durability::Strict);
        assert_eq!(s.kafka, Listen::On("127.0.0.1:9092".parse().unwrap()));
        assert_eq!(s.amqp, Listen::On("127.0.0.1:5672".parse().unwrap()));
        assert_eq!(s.amqp_max_message_bytes, 1 << 20);
        assert_eq!(s.http, Listen::On("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(s.default_partitions, 4);
        assert!(s.auto_create);
        assert!(s.hubs.is_empty());
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let file = write(
            r#"
            data_dir = "/srv/from-file"
            durability = "relaxed"
            kafka_listen = "127.0.0.1:1111"
            amqp_listen = "off"
            default_partitions = 2
            auto_create = false

            [hubs.orders]
            partitions = 8
            retention_ms = -1
            retention_bytes = 1000

            [hubs.audit]
            cleanup_policy = "compact"
            "#,
        );
        let args = ServeArgs {
            config: Some(file.path().to_owned()),
            kafka_listen: Some("127.0.0.1:2222".into()),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(args).unwrap();
        assert_eq!(s.storage.url, StorageUrl::Sled("/srv/from-file".into()));
        assert_eq!(s.storage.durability, Durability::Relaxed);
        assert_eq!(s.kafka, Listen::On("127.0.0.1:2222".parse().unwrap()));
        assert_eq!(s.amqp, Listen::Off);
        assert!(!s.auto_create);
        let hubs: BTreeMap<_, _> = s
            .hubs
            .into_iter()
            .map(|(n, c)| (n.to_string(), c))
            .collect();
        assert_eq!(hubs["orders"].partitions, 8);
        assert_eq!(hubs["orders"].retention, None);
        assert_eq!(hubs["orders"].retention_bytes, Some(1000));
        assert_eq!(
            hubs["audit"].partitions, 2,
            "default_partitions applies to declared hubs"
        );
        assert_eq!(hubs["audit"].cleanup_policy, CleanupPolicy::Compact);
    }

    #[test]
    fn invalid_configs_are_refused_with_a_reason() {
        let cases = [
            ("unknown_key = 1", "unknown field"),
            ("kafka_listen = \"nonsense\"", "kafka_listen"),
            ("[hubs.\"bad name\"]", "invalid hub name"),
            ("[hubs.x]\npartitions = 0", "partitions"),
            ("[hubs.x]\nretention_ms = 0", "retention_ms"),
            ("default_partitions = 0", "default_partitions"),
            ("storage = \"ftp://x\"", "unsupported storage URL"),
            ("tls_cert = \"/x.pem\"", "together"),
            ("kafka_listen = \"0.0.0.0:9092\"", "--insecure"),
        ];
        assert_refused(&cases);
        let args = ServeArgs {
            config: Some("/nonexistent/hubgate.toml".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Settings::resolve(args),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn strict_replication_factor_comes_from_the_flag_or_the_file() {
        let off = Settings::resolve(ServeArgs::default()).unwrap();
        assert!(!off.kafka_strict_replication_factor);
        let flag = Settings::resolve(ServeArgs {
            kafka_strict_replication_factor: true,
            ..ServeArgs::default()
        })
        .unwrap();
        assert!(flag.kafka_strict_replication_factor);
        let file = write("kafka_strict_replication_factor = true\n");
        let from_file = Settings::resolve(ServeArgs {
            config: Some(file.path().to_owned()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert!(from_file.kafka_strict_replication_factor);
    }

    #[test]
    fn group_settings_come_from_flags_then_the_file_then_kafka_defaults() {
        let defaults = Settings::resolve(ServeArgs::default())
            .unwrap()
            .kafka_groups;
        assert_eq!(defaults.initial_rebalance_delay, Duration::from_secs(3));
        assert_eq!(defaults.min_session_timeout, Duration::from_secs(6));
        assert_eq!(defaults.max_session_timeout, Duration::from_secs(1800));
        assert_eq!(
            defaults.offsets_retention,
            Duration::from_secs(7 * 24 * 3600)
        );
        let file = write(
            "kafka_group_initial_rebalance_delay_ms = 0\nkafka_offsets_retention_ms = 60000\n",
        );
        let s = Settings::resolve(ServeArgs {
            config: Some(file.path().to_owned()),
            kafka_group_initial_rebalance_delay_ms: Some(250),
            kafka_group_min_session_timeout_ms: Some(1000),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(
            s.kafka_groups.initial_rebalance_delay,
            Duration::from_millis(250)
        );
        assert_eq!(s.kafka_groups.min_session_timeout, Duration::from_secs(1));
        assert_eq!(s.kafka_groups.offsets_retention, Duration::from_secs(60));
        for (min, max, retention) in [(7000, 6000, 1), (0, 6000, 1), (1000, 6000, 0)] {
            let err = Settings::resolve(ServeArgs {
                kafka_group_min_session_timeout_ms: Some(min),
                kafka_group_max_session_timeout_ms: Some(max),
                kafka_offsets_retention_ms: Some(retention),
                ..ServeArgs::default()
            })
            .unwrap_err();
            assert!(err.to_string().contains("kafka_"), "{err}");
        }
    }

    #[test]
    fn kafka_advertise_is_host_and_port() {
        let args = ServeArgs {
            kafka_advertise: Some("broker.example:19092".into()),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(args).unwrap();
        assert_eq!(s.kafka_advertise, Some(("broker.example".into(), 19092)));
        assert_eq!(host_port("x", "[::1]:9092").unwrap(), ("::1".into(), 9092));
        for bad in ["nohost", ":9092", "h:0", "h:x"] {
            assert!(host_port("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_limits_and_webhooks() {
        let file = write(
            r#"
            http_max_body_bytes = 2048
            http_request_timeout_secs = 7

            [webhooks.gh]
            signature = "github"
            secret = "s"
            partition_key_pointer = "/repository/id"

            [webhooks.stripe]
            signature = "stripe"
            secret = "whsec_x"
            tolerance_secs = 60

            [webhooks.generic]
            signature = "hmac"
            secret = "k"
            header = "X-Sig"
            prefix = "v1="
            encoding = "base64"
            partition_key_header = "X-Tenant"
            headers = ["X-Tenant"]
            "#,
        );
        let args = ServeArgs {
            config: Some(file.path().to_owned()),
            http_max_concurrent_requests: Some(3),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(args).unwrap();
        let http = &s.http_settings;
        assert_eq!(http.max_body_bytes, 2048);
        assert_eq!(http.request_timeout, Duration::from_secs(7));
        assert_eq!(http.max_concurrent_requests, 3);
        assert!(matches!(
            http.webhooks["gh"].signature,
            Some(Signature::GitHub { .. })
        ));
        assert!(matches!(
            &http.webhooks["gh"].partition_key,
            Some(KeySource::JsonPointer(p)) if p == "/repository/id"
        ));
        assert!(matches!(
            http.webhooks["stripe"].signature,
            Some(Signature::Stripe { tolerance, .. }) if tolerance == Duration::from_secs(60)
        ));
        let generic = &http.webhooks["generic"];
        assert!(matches!(
            &generic.signature,
            Some(Signature::Hmac { header, prefix, encoding: SignatureEncoding::Base64, .. })
                if header == "x-sig" && prefix == "v1="
        ));
        assert_eq!(generic.keep_headers, [HeaderName::from_static("x-tenant")]);
        assert!(s.policies.is_empty());

        assert_refused(&[
            ("[webhooks.a]\nsignature = \"github\"", "secret"),
            (
                "[webhooks.a]\nsignature = \"md5\"\nsecret = \"s\"",
                "unknown signature",
            ),
            (
                "[webhooks.a]\nsignature = \"hmac\"\nsecret = \"s\"",
                "header",
            ),
            (
                "[webhooks.a]\npartition_key_pointer = \"x\"",
                "must start with",
            ),
            ("http_max_body_bytes = 0", "at least 1"),
        ]);
    }

    #[test]
    fn access_policies() {
        let s = resolve_file(
            r#"
            [policies.sender]
            key = "k"
            rights = ["Send", "listen"]
            hubs = ["orders"]

            [policies.RootManageSharedAccessKey]
            key = "root"
            rights = ["manage"]

            [http_policies.legacy]
            key = "old"
            rights = ["send"]
            "#,
        )
        .unwrap();
        assert_eq!(s.policies.len(), 3, "[http_policies] is still read");
        let sender = s.policies.get("sender").unwrap();
        assert!(sender.rights.send && sender.rights.listen && !sender.rights.manage);
        assert_eq!(sender.hubs, ["orders"]);
        assert!(
            s.policies
                .get("RootManageSharedAccessKey")
                .unwrap()
                .rights
                .manage
        );
        assert!(s.policies.get("legacy").unwrap().rights.send);

        assert_refused(&[
            (
                "[policies.p]\nkey = \"k\"\nrights = [\"write\"]",
                "unknown right `write`",
            ),
            ("[policies.p]\nkey = \"k\"", "at least one right"),
            (
                "[policies.p]\nrights = [\"send\"]",
                "give the key as `key`, `key_file` or `key_env`",
            ),
            (
                "[policies.p]\nkey = \"\"\nrights = [\"send\"]",
                "`key` must not be empty",
            ),
            (
                "[policies.p]\nkey = \"k\"\nrights = [\"send\"]\nhubs = [\"bad name\"]",
                "invalid hub name",
            ),
            (
                "[policies.p]\nkey = \"k\"\nrights = [\"send\"]\n[http_policies.p]\nkey = \"k\"\nrights = [\"send\"]",
                "policy `p` is defined twice",
            ),
            ("[http_policies.p]\nkey = \"k\"", "at least one right"),
            (
                "[policies.p]\nkey = \"k\"\nrights = [\"send\"]\nextra = 1",
                "unknown field",
            ),
        ]);
    }

    #[test]
    fn insecure_allows_non_loopback_listeners() {
        let args = ServeArgs {
            kafka_listen: Some("0.0.0.0:9092".into()),
            insecure: true,
            ..ServeArgs::default()
        };
        assert!(Settings::resolve(args).is_ok());
    }
}

#[cfg(test)]
mod security_tests {
    use super::*;

    fn resolve(text: &str, args: ServeArgs) -> Result<Settings, ConfigError> {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        Settings::resolve(ServeArgs {
            config: Some(file.path().to_owned()),
            ..args
        })
    }

    const POLICY: &str = "[policies.sender]\nkey = \"k3y-value\"\nrights = [\"send\"]\n";

    #[test]
    fn keys_come_from_key_key_file_or_key_env() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "from-file\nsecond line ignored\n").unwrap();
        // Cargo sets CARGO_PKG_NAME in the environment of the tests it runs.
        let text = format!(
            "[policies.a]\nkey = \"inline\"\nrights = [\"send\"]\n\
             [policies.b]\nkey_file = {:?}\nrights = [\"listen\"]\ncert_subject = \"CN=client-b\"\n\
             [policies.c]\nkey_env = \"CARGO_PKG_NAME\"\nrights = [\"manage\"]\n",
            key_file.display().to_string()
        );
        let s = resolve(&text, ServeArgs::default()).unwrap();
        let key = |name: &str| s.policies.get(name).unwrap().key.expose().to_vec();
        assert_eq!(key("a"), b"inline");
        assert_eq!(key("b"), b"from-file");
        assert_eq!(key("c"), env!("CARGO_PKG_NAME").as_bytes());
        assert_eq!(
            s.policies.get("b").unwrap().cert_subject.as_deref(),
            Some("CN=client-b")
        );
        let refused = [
            ("[policies.x]\nrights = [\"send\"]\n", "give the key as"),
            (
                "[policies.x]\nkey = \"a\"\nkey_env = \"HOME\"\nrights = [\"send\"]\n",
                "only one of",
            ),
            (
                "[policies.x]\nkey_env = \"HUBGATE_TEST_UNSET_VARIABLE_91c2\"\nrights = [\"send\"]\n",
                "is not set",
            ),
            (
                "[policies.x]\nkey_file = \"/nonexistent/key\"\nrights = [\"send\"]\n",
                "cannot read key_file /nonexistent/key",
            ),
        ];
        for (text, expected) in refused {
            let error = resolve(text, ServeArgs::default()).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn debug_output_never_shows_keys_or_secrets() {
        let text =
            format!("{POLICY}[webhooks.gh]\nsignature = \"github\"\nsecret = \"wh-s3cret\"\n");
        let file: FileConfig = toml::from_str(&text).unwrap();
        let debug = format!("{file:?}");
        assert!(
            !debug.contains("k3y-value") && !debug.contains("wh-s3cret"),
            "{debug}"
        );
        assert!(debug.contains("<redacted>"), "{debug}");
        let settings = resolve(&text, ServeArgs::default()).unwrap();
        let debug = format!("{settings:?}");
        assert!(
            !debug.contains("k3y-value") && !debug.contains("wh-s3cret"),
            "{debug}"
        );
    }

    #[test]
    fn exposure_rules_name_what_is_missing() {
        let open = ServeArgs {
            http_listen: Some("0.0.0.0:0".into()),
            ..ServeArgs::default()
        };
        let error = Settings::resolve(open).unwrap_err().to_string();
        assert!(error.contains("no access policy is configured"), "{error}");
        assert!(error.contains("--insecure"), "{error}");

        let no_tls = ServeArgs {
            http_listen: Some("0.0.0.0:0".into()),
            ..ServeArgs::default()
        };
        let error = resolve(POLICY, no_tls).unwrap_err().to_string();
        assert!(error.contains("TLS is not configured"), "{error}");
        assert!(!error.contains("no access policy"), "{error}");

        let with_tls = ServeArgs {
            http_listen: Some("0.0.0.0:0".into()),
            tls_cert: Some("/c.pem".into()),
            tls_key: Some("/k.pem".into()),
            ..ServeArgs::default()
        };
        assert!(
            resolve(POLICY, with_tls).is_ok(),
            "policies + TLS need no --insecure"
        );

        let insecure = ServeArgs {
            http_listen: Some("0.0.0.0:0".into()),
            insecure: true,
            ..ServeArgs::default()
        };
        assert!(resolve(POLICY, insecure).is_ok());
        let open_insecure = ServeArgs {
            http_listen: Some("0.0.0.0:0".into()),
            insecure: true,
            ..ServeArgs::default()
        };
        assert!(Settings::resolve(open_insecure).is_ok());
    }

    #[test]
    fn http_security_settings() {
        let s = resolve(
            "metrics_public = true\nhttp_allowed_hosts = [\"gw.internal\"]\nkafka_advertise = \"kafka.internal:9092\"\n",
            ServeArgs::default(),
        )
        .unwrap();
        assert!(s.http_settings.metrics_public);
        assert_eq!(
            s.http_settings.allowed_hosts,
            vec!["gw.internal".to_owned(), "kafka.internal".to_owned()]
        );
        let error = resolve("tls_client_ca = \"/ca.pem\"\n", ServeArgs::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("tls_client_ca needs tls_cert"), "{error}");
    }
}
