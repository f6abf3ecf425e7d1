//! What the gateway tells the HTTP front end about itself, for `GET /admin/overview`: its
//! listeners, its storage and when it started. The gateway fills it in after binding.

use hubgate_storage::Durability;

/// The gateway as the admin API describes it.
#[derive(Debug, Clone)]
pub struct GatewayInfo {
    /// Every listener the gateway bound, in start order.
    pub listeners: Vec<ListenerInfo>,
    /// The storage URL (`sled:PATH`, `memory://`); empty when not told.
    pub storage_url: String,
    /// When appends are acknowledged.
    pub durability: Durability,
    /// When the process started, ms since the Unix epoch.
    pub started_at_ms: i64,
}

impl Default for GatewayInfo {
    /// No listeners, unknown storage, started now.
    fn default() -> Self {
        Self {
            listeners: Vec::new(),
            storage_url: String::new(),
            durability: Durability::default(),
            started_at_ms: crate::time::now_ms(),
        }
    }
}

/// One bound listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    /// `kafka`, `amqp` or `http`.
    pub protocol: &'static str,
    /// The bound address (`127.0.0.1:9092`).
    pub address: String,
    /// Whether the listener speaks TLS.
    pub tls: bool,
}
