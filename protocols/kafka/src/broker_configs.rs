//! The broker configs DescribeConfigs reports for this node (resource type BROKER).
//!
//! Each one states what the gateway actually does: its listeners, its node id, what topic
//! auto-creation does, the frame limit, and the config a new topic starts with (Kafka's
//! `log.*` and `message.max.bytes` broker defaults are the topic defaults). None can be changed
//! over the Kafka protocol, so all are read-only. A value set by the gateway's configuration is
//! `STATIC_BROKER_CONFIG`; a built-in value is `DEFAULT_CONFIG`.

use std::net::SocketAddr;

use hubgate_protocol::{AutoCreate, Limits};
use hubgate_storage::HubConfig;

use crate::configs::{self, Entry, config_type, source};
use crate::{KafkaConfig, NODE_ID};

/// The socket a front end serves, when known (it is when started by [`crate::serve`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bound {
    /// The bound address.
    pub(crate) addr: Option<SocketAddr>,
    /// Whether connections start with TLS.
    pub(crate) tls: bool,
}

impl Bound {
    /// Kafka's name for the listener's security protocol.
    fn protocol(self) -> &'static str {
        if self.tls { "SSL" } else { "PLAINTEXT" }
    }
}

/// Every broker config of this node, sorted by name.
pub(crate) fn describe(config: &KafkaConfig, bound: Bound) -> Vec<Entry> {
    let topic_defaults = HubConfig::default();
    let auto = AutoCreate::default();
    let limits = Limits::default();
    let node_id = NODE_ID.to_string();
    // A host with a colon is an IPv6 address; a listener URL brackets it.
    let host = if config.advertised_host.contains(':') {
        format!("[{}]", config.advertised_host)
    } else {
        config.advertised_host.clone()
    };
    let configured = |is_default: bool| {
        if is_default {
            source::DEFAULT_CONFIG
        } else {
            source::STATIC_BROKER_CONFIG
        }
    };
    let entry = |name, value: String, config_type, source| Entry {
        name,
        value,
        source,
        config_type,
        read_only: true,
    };
    let topic_default = |name, topic_name, config_type| {
        entry(
            name,
            configs::value_of(&topic_defaults, topic_name),
            config_type,
            source::DEFAULT_CONFIG,
        )
    };
    let mut entries = vec![
        entry(
            "advertised.listeners",
            format!("{}://{host}:{}", bound.protocol(), config.advertised_port),
            config_type::LIST,
            source::STATIC_BROKER_CONFIG,
        ),
        entry(
            "auto.create.topics.enable",
            config.auto_create.enabled.to_string(),
            config_type::BOOLEAN,
            configured(config.auto_create.enabled == auto.enabled),
        ),
        entry(
            "broker.id",
            node_id.clone(),
            config_type::INT,
            source::DEFAULT_CONFIG,
        ),
        entry(
            "default.replication.factor",
            "1".to_owned(),
            config_type::INT,
            source::DEFAULT_CONFIG,
        ),
        topic_default(
            "log.cleanup.policy",
            configs::CLEANUP_POLICY,
            config_type::LIST,
        ),
        topic_default(
            "log.message.timestamp.type",
            configs::TIMESTAMP_TYPE,
            config_type::STRING,
        ),
        topic_default(
            "log.retention.bytes",
            configs::RETENTION_BYTES,
            config_type::LONG,
        ),
        topic_default("log.retention.ms", configs::RETENTION_MS, config_type::LONG),
        topic_default(
            "message.max.bytes",
            configs::MAX_MESSAGE_BYTES,
            config_type::INT,
        ),
        entry("node.id", node_id, config_type::INT, source::DEFAULT_CONFIG),
        entry(
            "num.partitions",
            config.auto_create.partitions.to_string(),
            config_type::INT,
            configured(config.auto_create.partitions == auto.partitions),
        ),
        entry(
            "socket.request.max.bytes",
            config.limits.max_frame_bytes.to_string(),
            config_type::INT,
            configured(config.limits.max_frame_bytes == limits.max_frame_bytes),
        ),
    ];
    if let Some(addr) = bound.addr {
        entries.push(entry(
            "listeners",
            format!("{}://{addr}", bound.protocol()),
            config_type::LIST,
            source::STATIC_BROKER_CONFIG,
        ));
    }
    entries.sort_by_key(|e| e.name);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(entries: &'a [Entry], name: &str) -> &'a Entry {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    #[test]
    fn broker_configs_describe_this_node() {
        let mut config = KafkaConfig::new("gw.example", 19092);
        config.auto_create.partitions = 8;
        let bound = Bound {
            addr: Some(SocketAddr::from(([0, 0, 0, 0], 9092))),
            tls: false,
        };
        let entries = describe(&config, bound);
        assert!(entries.windows(2).all(|w| w[0].name < w[1].name));
        assert!(entries.iter().all(|e| e.read_only));

        let advertised = get(&entries, "advertised.listeners");
        assert_eq!(advertised.value, "PLAINTEXT://gw.example:19092");
        assert_eq!(advertised.source, source::STATIC_BROKER_CONFIG);
        assert_eq!(advertised.config_type, config_type::LIST);
        assert_eq!(get(&entries, "listeners").value, "PLAINTEXT://0.0.0.0:9092");
        assert_eq!(get(&entries, "broker.id").value, NODE_ID.to_string());
        assert_eq!(get(&entries, "node.id").value, NODE_ID.to_string());

        let partitions = get(&entries, "num.partitions");
        assert_eq!(partitions.value, "8");
        assert_eq!(partitions.source, source::STATIC_BROKER_CONFIG);
        let auto = get(&entries, "auto.create.topics.enable");
        assert_eq!(auto.value, "true");
        assert_eq!(auto.source, source::DEFAULT_CONFIG);
        assert_eq!(auto.config_type, config_type::BOOLEAN);

        assert_eq!(get(&entries, "log.retention.ms").value, "604800000");
        assert_eq!(get(&entries, "log.retention.bytes").value, "-1");
        assert_eq!(get(&entries, "message.max.bytes").value, "1048588");
        assert_eq!(get(&entries, "log.cleanup.policy").value, "delete");
        assert_eq!(get(&entries, "socket.request.max.bytes").value, "104857600");
    }

    #[test]
    fn tls_and_ipv6_listeners_are_written_as_kafka_urls() {
        let config = KafkaConfig::new("::1", 9093);
        let bound = Bound {
            addr: Some("[::1]:9093".parse().unwrap()),
            tls: true,
        };
        let entries = describe(&config, bound);
        assert_eq!(
            get(&entries, "advertised.listeners").value,
            "SSL://[::1]:9093"
        );
        assert_eq!(get(&entries, "listeners").value, "SSL://[::1]:9093");
        // Without a known socket (a handler not started by `serve`) there is no `listeners`.
        let entries = describe(&config, Bound::default());
        assert!(entries.iter().all(|e| e.name != "listeners"));
    }
}
