//! Authorization: which Event Hubs right each Kafka API needs, and the denials Kafka clients
//! expect.
//!
//! A request runs with the [`Access`] of its connection: [`Access::Open`] when no policy is
//! configured (everything allowed), [`Access::Granted`] after SASL authentication, and
//! [`Access::Anonymous`] for the few requests served before it (ApiVersions). Rights are
//! checked per hub with [`Grant::authorize`] (policy scope ∩ `EntityPath`, expiry):
//!
//! | right | APIs |
//! |---|---|
//! | Send | Produce, InitProducerId, the transaction APIs (`txn`) |
//! | Listen | Fetch, ListOffsets, OffsetForLeaderEpoch, the consumer-group APIs, committed offsets |
//! | Manage | CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs, DeleteRecords, DeleteGroups, OffsetDelete, auto-creation |
//! | any | Metadata, DescribeConfigs, DescribeTopicPartitions (only the hubs the grant covers) |
//!
//! Denials are error codes, never disconnects: TOPIC_AUTHORIZATION_FAILED (29) per topic or
//! partition, GROUP_AUTHORIZATION_FAILED (30) for group requests,
//! CLUSTER_AUTHORIZATION_FAILED (31) for cluster-level ones, as Kafka's `KafkaApis` places them.

pub(crate) mod groups;
pub(crate) mod producer;
#[cfg(test)]
mod tests;
pub(crate) mod topics;
pub(crate) mod txn;

use std::time::{SystemTime, UNIX_EPOCH};

use hubgate_protocol::{Grant, Right};

/// What a request may do.
#[derive(Debug, Clone, Default)]
pub enum Access {
    /// No policy is configured: everything is allowed.
    Open,
    /// Not authenticated (policies are configured): nothing is allowed.
    #[default]
    Anonymous,
    /// Authenticated: what this grant allows.
    Granted(Grant),
}

/// The current time in Unix seconds.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Access {
    /// Whether `right` is allowed on `hub`.
    pub(crate) fn allows(&self, hub: &str, right: Right) -> bool {
        match self {
            Self::Open => true,
            Self::Anonymous => false,
            Self::Granted(grant) => grant.authorize(hub, right, now_secs()).is_ok(),
        }
    }

    /// Whether `hub` is visible: any right on it.
    pub(crate) fn sees(&self, hub: &str) -> bool {
        [Right::Send, Right::Listen]
            .into_iter()
            .any(|right| self.allows(hub, right))
    }

    /// Whether the grant holds `right` at all (on some hub): for requests that name no hub.
    pub(crate) fn holds(&self, right: Right) -> bool {
        match self {
            Self::Open => true,
            Self::Anonymous => false,
            Self::Granted(grant) => {
                grant.rights().allows(right) && grant.expires_at() >= now_secs()
            }
        }
    }

    /// Whether the request comes from an authenticated client (or open mode).
    pub(crate) fn authenticated(&self) -> bool {
        !matches!(self, Self::Anonymous)
    }

    /// The policy a granted request authenticated with.
    pub(crate) fn policy(&self) -> Option<&str> {
        match self {
            Self::Granted(grant) => Some(grant.policy()),
            Self::Open | Self::Anonymous => None,
        }
    }

    /// The access of a request decoded without a connection ([`crate::Handler::handle`]):
    /// open without policies, anonymous with them.
    pub(crate) fn unauthenticated(secured: bool) -> Self {
        if secured { Self::Anonymous } else { Self::Open }
    }
}
