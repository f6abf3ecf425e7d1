//! State shared by every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hubgate_protocol::RoundRobin;
use hubgate_protocol::metrics::Metrics;
use hubgate_storage::SharedStorage;
use tokio::sync::Semaphore;

use crate::config::HttpConfig;
use crate::peer::Peer;

/// What handlers share: storage, config, per-hub round robins, the request-slot semaphore.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) storage: SharedStorage,
    pub(crate) config: Arc<HttpConfig>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) metrics: &'static Metrics,
    round_robin: Arc<Mutex<HashMap<String, Arc<RoundRobin>>>>,
}

impl AppState {
    pub(crate) fn new(storage: SharedStorage, config: HttpConfig) -> Self {
        let slots = Arc::new(Semaphore::new(
            config
                .max_concurrent_requests
                .clamp(1, Semaphore::MAX_PERMITS),
        ));
        Self {
            storage,
            config: Arc::new(config),
            slots,
            metrics: hubgate_protocol::metrics::global(),
            round_robin: Arc::default(),
        }
    }

    /// Checks the request's SAS token (or the connection's client certificate) for `right` on
    /// `hub` (open when no policy is set).
    pub(crate) fn authorize(
        &self,
        headers: &axum::http::HeaderMap,
        peer: &Peer,
        hub: &str,
        right: hubgate_protocol::Right,
    ) -> Result<(), crate::error::ApiError> {
        crate::sas::authorize(
            &self.config.policies,
            headers,
            peer.cert_grant(),
            hub,
            right,
            crate::time::now_ms() / 1000,
        )
    }

    /// The round robin of `hub` (created on first use). The std lock is held only for the map
    /// lookup, never across `.await`.
    pub(crate) fn round_robin(&self, hub: &str) -> Arc<RoundRobin> {
        let mut map = self
            .round_robin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(hub.to_owned()).or_default().clone()
    }
}
