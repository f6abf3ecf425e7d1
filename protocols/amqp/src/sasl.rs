//! SASL for AMQP clients: `MSSBCBS` (the .NET SDK), `ANONYMOUS` (pyamqp, rhea; both then
//! authorize with a `$cbs` token) and `PLAIN` (policy name and key as user and password).
//!
//! With access policies configured, PLAIN checks the name and key
//! ([`SasPolicies::authenticate_key`], constant time) and a wrong pair fails with `auth`; the
//! verified grant is left in [`Sasl::grant`] for the connection. With no policy every
//! well-formed exchange succeeds, as before. A malformed PLAIN response always fails with
//! `auth`. ANONYMOUS and MSSBCBS always succeed: such a connection then has to put a token.

use std::sync::{Arc, Mutex, PoisonError};

use fe2o3_amqp::acceptor::SaslAcceptor;
use fe2o3_amqp::acceptor::sasl_acceptor::SaslServerFrame;
use fe2o3_amqp::types::primitives::{Array, Binary, Symbol};
use fe2o3_amqp::types::sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse};
use hubgate_protocol::{Grant, SasPolicies};

/// The mechanisms offered, in the order Service Bus lists them.
pub(crate) const MECHANISMS: [&str; 3] = ["MSSBCBS", "ANONYMOUS", "PLAIN"];

/// The gateway's SASL acceptor, one per connection (fe2o3 clones it for the exchange, so the
/// grant slot is shared with the connection through an `Arc`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sasl {
    policies: Arc<SasPolicies>,
    grant: Arc<Mutex<Option<Grant>>>,
}

impl Sasl {
    /// An acceptor checking PLAIN credentials against `policies` (none: any are accepted).
    pub(crate) fn new(policies: Arc<SasPolicies>) -> Self {
        Self {
            policies,
            grant: Arc::default(),
        }
    }

    /// The grant a verified PLAIN exchange left, if any.
    pub(crate) fn grant(&self) -> Option<Grant> {
        self.grant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn plain(&self, response: Option<&[u8]>) -> SaslCode {
        let Some((user, password)) = response.and_then(plain_credentials) else {
            tracing::debug!("malformed SASL PLAIN response");
            return SaslCode::Auth;
        };
        if self.policies.is_empty() {
            tracing::debug!(user, "SASL PLAIN accepted (no access policy)");
            return SaslCode::Ok;
        }
        match self.policies.authenticate_key(user, password) {
            Ok(grant) => {
                tracing::debug!(policy = grant.policy(), "SASL PLAIN authenticated");
                *self.grant.lock().unwrap_or_else(PoisonError::into_inner) = Some(grant);
                SaslCode::Ok
            }
            Err(_) => {
                // Neither the key nor whether the policy exists is logged or told.
                tracing::debug!("SASL PLAIN authentication failed");
                SaslCode::Auth
            }
        }
    }
}

fn outcome(code: SaslCode) -> SaslServerFrame {
    // A non-null additional-data keeps the frame's full field list on the wire (pyamqp).
    SaslServerFrame::Outcome(SaslOutcome {
        code,
        additional_data: Some(Binary::from(Vec::new())),
    })
}

/// The user name and password of a PLAIN initial response `authzid NUL authcid NUL password`.
pub(crate) fn plain_credentials(response: &[u8]) -> Option<(&str, &[u8])> {
    let mut parts = response.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = parts.next()?;
    let password = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    Some((std::str::from_utf8(user).ok()?, password))
}

impl SaslAcceptor for Sasl {
    fn mechanisms(&self) -> Array<Symbol> {
        Array::from(
            MECHANISMS
                .iter()
                .map(|m| Symbol::from(*m))
                .collect::<Vec<_>>(),
        )
    }

    fn on_init(&mut self, init: SaslInit) -> SaslServerFrame {
        let mechanism = init.mechanism.as_str();
        match mechanism {
            "ANONYMOUS" | "MSSBCBS" => {
                tracing::debug!(mechanism, "SASL accepted");
                outcome(SaslCode::Ok)
            }
            "PLAIN" => {
                let response = init.initial_response.as_ref().map(|r| r.as_slice());
                outcome(self.plain(response))
            }
            other => {
                tracing::debug!(mechanism = other, "SASL mechanism not offered");
                outcome(SaslCode::Auth)
            }
        }
    }

    fn on_response(&mut self, _response: SaslResponse) -> SaslServerFrame {
        // No mechanism offered here sends a challenge, so a response is out of sequence.
        outcome(SaslCode::Sys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_response_parsing() {
        assert_eq!(
            plain_credentials(b"\0user\0pass"),
            Some(("user", &b"pass"[..]))
        );
        assert_eq!(
            plain_credentials(b"authz\0user\0"),
            Some(("user", &b""[..]))
        );
        assert_eq!(plain_credentials(b"userpass"), None);
        assert_eq!(plain_credentials(b"\0user"), None);
        assert_eq!(plain_credentials(b"\0a\0b\0c"), None);
        assert_eq!(plain_credentials(b"\0\xff\0p"), None);
    }

    fn init(mechanism: &str, response: &[u8]) -> SaslInit {
        SaslInit {
            mechanism: Symbol::from(mechanism),
            initial_response: Some(Binary::from(response.to_vec())),
            hostname: None,
        }
    }

    fn code(frame: SaslServerFrame) -> SaslCode {
        match frame {
            SaslServerFrame::Outcome(o) => o.code,
            SaslServerFrame::Challenge(_) => panic!("a challenge"),
        }
    }

    #[test]
    fn plain_is_verified_only_when_policies_exist() {
        use hubgate_protocol::{Right, Rights, SasPolicy, Secret};
        let mut open = Sasl::default();
        assert_eq!(
            code(open.on_init(init("PLAIN", b"\0any\0thing"))),
            SaslCode::Ok
        );
        assert!(open.grant().is_none());
        let policies = SasPolicies::new([SasPolicy {
            name: "sender".into(),
            key: Secret::new("k3y"),
            rights: Rights::from(Right::Send),
            hubs: vec![],
            cert_subject: None,
        }])
        .unwrap();
        let mut secured = Sasl::new(Arc::new(policies));
        for wrong in [
            &b"\0sender\0k3z"[..],
            b"\0other\0k3y",
            b"\0sender\0",
            b"garbage",
        ] {
            assert_eq!(code(secured.on_init(init("PLAIN", wrong))), SaslCode::Auth);
            assert!(secured.grant().is_none());
        }
        // ANONYMOUS and MSSBCBS succeed without a grant: a `$cbs` token has to follow.
        for mechanism in ["ANONYMOUS", "MSSBCBS"] {
            assert_eq!(code(secured.on_init(init(mechanism, b""))), SaslCode::Ok);
            assert!(secured.grant().is_none());
        }
        assert_eq!(code(secured.on_init(init("EXTERNAL", b""))), SaslCode::Auth);
        let connection = secured.clone();
        assert_eq!(
            code(secured.on_init(init("PLAIN", b"\0sender\0k3y"))),
            SaslCode::Ok
        );
        // The connection's handle sees the grant its clone verified.
        assert_eq!(
            connection.grant().map(|g| g.policy().to_owned()),
            Some("sender".into())
        );
    }
}
