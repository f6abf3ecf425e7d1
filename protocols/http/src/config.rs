//! Configuration of the HTTPS front end, built by the gateway from flags and TOML.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
pub use hubgate_protocol::Secret;
use hubgate_protocol::{AutoCreate, ListenerConfig, SasPolicies, StreamHandler};

/// Everything [`serve`](crate::serve) and [`router`](crate::router) need.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Accept-loop options (connection cap, TLS handshake timeout, drain).
    pub listener: ListenerConfig,
    /// Whether unknown hubs are created on first send.
    pub auto_create: AutoCreate,
    /// Largest request body accepted; larger ones get `413`. Default 1 MiB, Event Hubs' limit
    /// for one event or batch.
    pub max_body_bytes: usize,
    /// Longest a request may take, body upload included; then `408`. A smaller `?timeout=`
    /// (seconds) on the request wins.
    pub request_timeout: Duration,
    /// Most requests handled at once across all connections; further ones get `503`.
    pub max_concurrent_requests: usize,
    /// Webhook settings per hub name; hubs not listed accept unsigned webhooks when no access
    /// policy is configured, and need a Send token otherwise.
    pub webhooks: HashMap<String, WebhookConfig>,
    /// The gateway's access policies: REST sends, CloudEvents and webhooks to hubs without a
    /// signature need Send, reads Listen, admin routes Manage, `/metrics` Listen on every hub
    /// (see [`metrics_public`](Self::metrics_public)); health routes stay open. Empty leaves
    /// every route open.
    pub policies: Arc<SasPolicies>,
    /// Serves the AMQP byte stream of `GET /$servicebus/websocket` (AMQP over WebSocket);
    /// `None` leaves that route answering `404`.
    pub amqp_websocket: Option<StreamHandler>,
    /// Serve `/metrics` without a token even when policies are configured.
    pub metrics_public: bool,
    /// Host names (besides loopback names) that requests on a loopback listener may name in
    /// `Host`/`:authority`; others get `421` (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// Listeners, storage and start time, as `GET /admin/overview` shows them.
    pub gateway: crate::gateway_info::GatewayInfo,
    /// Live consumer groups, published by the Kafka front end; empty without one.
    pub groups: hubgate_protocol::GroupDirectorySlot,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listener: ListenerConfig::new("http"),
            auto_create: AutoCreate::default(),
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(60),
            max_concurrent_requests: 1024,
            webhooks: HashMap::new(),
            policies: Arc::default(),
            amqp_websocket: None,
            metrics_public: false,
            allowed_hosts: Vec::new(),
            gateway: crate::gateway_info::GatewayInfo::default(),
            groups: hubgate_protocol::GroupDirectorySlot::default(),
        }
    }
}

/// How webhooks to one hub are verified and routed.
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    /// Signature check; `None` accepts unsigned requests.
    pub signature: Option<Signature>,
    /// Where the partition key comes from; `None` spreads requests round robin.
    pub partition_key: Option<KeySource>,
    /// Request headers stored as record headers, besides `content-type` and the defaults
    /// listed in `docs/HTTP.md`.
    pub keep_headers: Vec<HeaderName>,
}

/// A webhook signature scheme; all are HMAC-SHA256 over the raw request body.
#[derive(Debug, Clone)]
pub enum Signature {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`.
    GitHub {
        /// The webhook secret.
        secret: Secret,
    },
    /// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `"{t}.{body}"`.
    Stripe {
        /// The endpoint signing secret (`whsec_…`, used as given).
        secret: Secret,
        /// Largest accepted distance between `t` and now.
        tolerance: Duration,
    },
    /// Any sender that puts `prefix + encode(hmac)` in one header.
    Hmac {
        /// The shared secret.
        secret: Secret,
        /// The header carrying the signature.
        header: HeaderName,
        /// Text before the signature, e.g. `sha256=`; may be empty.
        prefix: String,
        /// How the MAC is written.
        encoding: SignatureEncoding,
    },
}

/// How a generic HMAC signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureEncoding {
    /// Lower- or upper-case hex.
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// Where a webhook's partition key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The value of this request header.
    Header(HeaderName),
    /// The string (or number) at this JSON pointer (RFC 6901) in a JSON body.
    JsonPointer(String),
}
