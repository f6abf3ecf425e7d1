//! `hubgate serve`: opens storage, declares hubs, starts the front ends and background tasks,
//! reloads the TLS certificate on SIGHUP, and shuts everything down in order on
//! SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use hubgate_protocol::{AutoCreate, Listener, ReloadableCert, TlsError};
use hubgate_storage::{HubUpdate, SharedStorage, spawn_retention};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Listen, Settings, TlsFiles};

/// Why `serve` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    #[error("cannot open storage {url}: {source}")]
    Storage {
        url: String,
        source: hubgate_storage::Error,
    },
    #[error("cannot declare hub `{hub}`: {source}")]
    Hub {
        hub: String,
        source: hubgate_storage::Error,
    },
    #[error("cannot listen for {protocol} on {addr}: {source}")]
    Bind {
        protocol: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS for {protocol}: {source:#}")]
    Tls {
        protocol: &'static str,
        source: TlsError,
    },
    #[error("loading the TLS files failed: {0}")]
    TlsTask(tokio::task::JoinError),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("final flush failed: {0}")]
    Flush(hubgate_storage::Error),
}

/// Runs the gateway until a shutdown signal, then drains and flushes.
pub(crate) async fn run(settings: Settings) -> Result<(), ServeError> {
    let started_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut listeners = Vec::new();
    let url = settings.storage.url.to_string();
    let config = settings.storage.clone();
    let storage = tokio::task::spawn_blocking(move || hubgate_storage::open(&config))
        .await
        .map_err(|e| ServeError::Storage {
            url: url.clone(),
            source: hubgate_storage::Error::Io(std::io::Error::other(e)),
        })?
        .map_err(|source| ServeError::Storage {
            url: url.clone(),
            source,
        })?;
    declare_hubs(&storage, &settings).await?;

    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    tasks.spawn(spawn_retention(
        storage.clone(),
        settings.retention_interval,
        shutdown.child_token(),
    ));
    tasks.spawn(hubgate_storage::spawn_cleaner(
        storage.clone(),
        settings.log_cleaner_backoff,
        shutdown.child_token(),
    ));
    let tls = match &settings.tls {
        None => None,
        Some(files) => Some(load_tls(files).await?),
    };
    let tls = tls.as_ref();
    // The Kafka coordinator publishes its live groups here; the HTTP admin API reads them.
    let groups = hubgate_protocol::GroupDirectorySlot::default();
    let auto_create = AutoCreate {
        enabled: settings.auto_create,
        partitions: settings.default_partitions,
    };
    // Each front end: bind its listener (TLS when configured), then spawn its `serve` with a
    // child token. Listeners are bound before "hubgate ready" so clients can connect at once.
    if let Some(listener) = bind("kafka", settings.kafka, tls, &[]).await? {
        listeners.push(describe("kafka", &listener));
        let (host, port) = match &settings.kafka_advertise {
            Some((host, port)) => (host.clone(), *port),
            None => {
                let local = listener.local_addr().map_err(|source| ServeError::Bind {
                    protocol: "kafka",
                    addr: local_or_unspecified(settings.kafka),
                    source,
                })?;
                (local.ip().to_string(), local.port())
            }
        };
        let mut config = hubgate_kafka::KafkaConfig::new(host, port);
        config.auto_create = auto_create;
        config.groups = settings.kafka_groups.clone();
        config.strict_replication_factor = settings.kafka_strict_replication_factor;
        if config.strict_replication_factor {
            tracing::info!(
                "kafka: data is kept once, on this node; CreateTopics refuses replication factors above 1"
            );
        } else {
            tracing::info!(
                "kafka: data is kept once, on this node; CreateTopics accepts any replication factor and Metadata reports the one real replica"
            );
        }
        config.policies = Arc::clone(&settings.policies);
        config.group_directory = groups.clone();
        let storage = storage.clone();
        let token = shutdown.child_token();
        tasks.spawn(async move {
            if let Err(e) = hubgate_kafka::serve(listener, storage, config, token).await {
                tracing::error!(error = %e, "kafka front end stopped");
            }
        });
    }
    // AMQP over WebSocket on the HTTP listener is served by the AMQP front end, when it runs.
    let mut amqp_websocket = None;
    if let Some(listener) = bind("amqp", settings.amqp, tls, &[]).await? {
        listeners.push(describe("amqp", &listener));
        let config = hubgate_amqp::AmqpConfig {
            auto_create,
            max_message_bytes: settings.amqp_max_message_bytes,
            policies: Arc::clone(&settings.policies),
            ..hubgate_amqp::AmqpConfig::default()
        };
        let front_end = hubgate_amqp::AmqpFrontEnd::new(storage.clone(), config);
        amqp_websocket = Some(front_end.stream_handler(shutdown.child_token()));
        let token = shutdown.child_token();
        tasks.spawn(async move {
            if let Err(error) = front_end.serve(listener, token).await {
                tracing::error!(%error, "the amqp front end stopped");
            }
        });
    }
    if let Some(listener) = bind("http", settings.http, tls, &[b"h2", b"http/1.1"]).await? {
        listeners.push(describe("http", &listener));
        let http = &settings.http_settings;
        let config = hubgate_http::HttpConfig {
            auto_create,
            max_body_bytes: http.max_body_bytes,
            request_timeout: http.request_timeout,
            max_concurrent_requests: http.max_concurrent_requests,
            webhooks: http.webhooks.clone(),
            policies: Arc::clone(&settings.policies),
            amqp_websocket,
            metrics_public: http.metrics_public,
            allowed_hosts: http.allowed_hosts.clone(),
            gateway: hubgate_http::GatewayInfo {
                listeners,
                storage_url: url.clone(),
                durability: settings.storage.durability,
                started_at_ms,
            },
            groups,
            ..hubgate_http::HttpConfig::default()
        };
        tasks.spawn(log_exit(
            "http",
            hubgate_http::serve(listener, storage.clone(), config, shutdown.child_token()),
        ));
    }
    if let Some(listener) = bind("blob", settings.blob, tls, &[b"h2", b"http/1.1"]).await? {
        let config = hubgate_blob::BlobConfig {
            accounts: settings.blob_accounts.clone(),
            require_signature: !settings.policies.is_empty(),
            ..hubgate_blob::BlobConfig::default()
        };
        tasks.spawn(log_exit(
            "blob",
            hubgate_blob::serve(listener, storage.clone(), config, shutdown.child_token()),
        ));
    }
    let signals = Signals::install().map_err(ServeError::Signals)?;
    tasks.spawn(reload_on_hangup(
        tls.map(|(cert, _)| Arc::clone(cert)),
        signals.hangup,
        shutdown.child_token(),
    ));
    tasks.close();
    let signals = signals.stop;
    tracing::info!(
        storage = %url,
        durability = ?settings.storage.durability,
        auto_create = settings.auto_create,
        tls = settings.tls.is_some(),
        default_partitions = settings.default_partitions,
        access_policies = settings.policies.len(),
        "hubgate ready"
    );
    if settings.policies.is_empty() {
        tracing::info!("no access policy is configured: every client is accepted (open mode)");
    }

    let signal = signals.recv().await;
    tracing::info!(
        signal,
        "shutting down: no new connections, draining in-flight requests"
    );
    shutdown.cancel();
    if tokio::time::timeout(settings.shutdown_grace, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?settings.shutdown_grace, "tasks still running after the grace period; stopping them");
    }
    storage.flush().await.map_err(ServeError::Flush)?;
    drop(storage);
    tracing::info!("storage flushed; bye");
    Ok(())
}

/// The configured address of a listener, for error messages.
fn local_or_unspecified(listen: Listen) -> SocketAddr {
    match listen {
        Listen::On(addr) => addr,
        Listen::Off => SocketAddr::from(([0, 0, 0, 0], 0)),
    }
}

/// A bound listener as the admin overview shows it.
fn describe(protocol: &'static str, listener: &Listener) -> hubgate_http::ListenerInfo {
    hubgate_http::ListenerInfo {
        protocol,
        address: listener
            .local_addr()
            .map_or_else(|_| "unknown".to_owned(), |a| a.to_string()),
        tls: listener.is_tls(),
    }
}

/// Runs a front end's `serve` and logs how it ended.
async fn log_exit(
    protocol: &'static str,
    served: impl std::future::Future<Output = std::io::Result<()>>,
) {
    match served.await {
        Ok(()) => tracing::info!(%protocol, "front end stopped"),
        Err(error) => tracing::error!(%protocol, %error, "front end failed"),
    }
}

/// The certificate every listener serves, and the client CA file if client certificates are
/// required.
type Tls = (Arc<ReloadableCert>, Option<std::path::PathBuf>);

/// Loads the certificate and key (blocking file reads, off the runtime threads).
async fn load_tls(files: &TlsFiles) -> Result<Tls, ServeError> {
    let (cert, key) = (files.cert.clone(), files.key.clone());
    let loaded = tokio::task::spawn_blocking(move || ReloadableCert::load(&cert, &key))
        .await
        .map_err(ServeError::TlsTask)?
        .map_err(|source| ServeError::Tls {
            protocol: "every listener",
            source,
        })?;
    Ok((loaded, files.client_ca.clone()))
}

/// On each SIGHUP, reads the certificate and key files again; new TLS handshakes on every
/// listener use them, established connections keep theirs. Files that fail to load leave the
/// certificate in use and are logged. Without TLS the signal is logged and ignored.
async fn reload_on_hangup(
    cert: Option<Arc<ReloadableCert>>,
    mut hangup: tokio::signal::unix::Signal,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            received = hangup.recv() => if received.is_none() { return },
        }
        let Some(cert) = &cert else {
            tracing::info!("SIGHUP: no TLS certificate is configured; nothing to reload");
            continue;
        };
        let reloading = Arc::clone(cert);
        match tokio::task::spawn_blocking(move || reloading.reload()).await {
            Ok(Ok(())) => tracing::info!("SIGHUP: TLS certificate and key reloaded"),
            Ok(Err(error)) => tracing::error!(
                error = %error,
                "SIGHUP: cannot reload the TLS certificate; keeping the one in use"
            ),
            Err(error) => tracing::error!(%error, "SIGHUP: TLS reload task failed"),
        }
    }
}

/// Binds one front end's listener, with TLS when `tls` is set; `None` when it is turned off.
///
/// Logs `listening protocol=… addr=…` with the bound address, so `127.0.0.1:0` can be used
/// and the port read from the log.
async fn bind(
    protocol: &'static str,
    listen: Listen,
    tls: Option<&Tls>,
    alpn: &[&[u8]],
) -> Result<Option<Listener>, ServeError> {
    let Listen::On(addr) = listen else {
        tracing::info!(%protocol, "listener turned off");
        return Ok(None);
    };
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            protocol,
            addr,
            source,
        })?;
    let listener = match tls {
        None => Listener::plain(tcp),
        Some((cert, client_ca)) => {
            let config =
                hubgate_protocol::server_config(Arc::clone(cert), client_ca.as_deref(), alpn)
                    .map_err(|source| ServeError::Tls { protocol, source })?;
            Listener::tls(tcp, hubgate_protocol::acceptor(config))
        }
    };
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        protocol,
        addr,
        source,
    })?;
    tracing::info!(%protocol, addr = %local, tls = listener.is_tls(), "listening");
    Ok(Some(listener))
}

/// Creates the hubs the config declares, and brings existing ones to the declared settings.
async fn declare_hubs(storage: &SharedStorage, settings: &Settings) -> Result<(), ServeError> {
    for (name, config) in &settings.hubs {
        let failed = |source| ServeError::Hub {
            hub: name.to_string(),
            source,
        };
        match storage.hub(name).await {
            Ok(existing) => {
                let partitions = if config.partitions < existing.config.partitions {
                    tracing::warn!(hub = %name, configured = config.partitions,
                        existing = existing.config.partitions,
                        "partition count cannot shrink; keeping the existing partitions");
                    None
                } else {
                    Some(config.partitions)
                };
                let update = HubUpdate {
                    partitions,
                    retention: Some(config.retention),
                    retention_bytes: Some(config.retention_bytes),
                    cleanup_policy: Some(config.cleanup_policy),
                    timestamp_policy: Some(config.timestamp_policy),
                    max_message_bytes: Some(config.max_message_bytes),
                    compaction: hubgate_storage::CompactionUpdate::all(&config.compaction),
                };
                storage.update_hub(name, update).await.map_err(failed)?;
            }
            Err(hubgate_storage::Error::NoSuchHub(_)) => {
                storage
                    .create_hub(name, config.clone())
                    .await
                    .map_err(failed)?;
                tracing::info!(hub = %name, partitions = config.partitions, "created hub");
            }
            Err(e) => return Err(failed(e)),
        }
    }
    Ok(())
}

/// The signals the gateway handles, installed before it says it is ready.
struct Signals {
    /// SIGINT and SIGTERM.
    stop: StopSignals,
    /// SIGHUP: reload the TLS certificate.
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            stop: StopSignals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            },
            hangup: signal(SignalKind::hangup())?,
        })
    }
}

/// SIGINT and SIGTERM.
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
