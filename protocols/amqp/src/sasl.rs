//! SASL for AMQP clients: `MSSBCBS` (the .NET SDK), `ANONYMOUS` (pyamqp, rhea; both then
//! authorize with a `$cbs` token) and `PLAIN` (rule name and key as user and password).
//!
//! Credentials are not verified here yet: every well-formed exchange succeeds, and the PLAIN
//! user name is logged. A malformed PLAIN response fails with `auth`.

use fe2o3_amqp::acceptor::SaslAcceptor;
use fe2o3_amqp::acceptor::sasl_acceptor::SaslServerFrame;
use fe2o3_amqp::types::primitives::{Array, Binary, Symbol};
use fe2o3_amqp::types::sasl::{SaslCode, SaslInit, SaslOutcome, SaslResponse};

/// The mechanisms offered, in the order Service Bus lists them.
pub(crate) const MECHANISMS: [&str; 3] = ["MSSBCBS", "ANONYMOUS", "PLAIN"];

/// The gateway's SASL acceptor.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sasl;

fn outcome(code: SaslCode) -> SaslServerFrame {
    // A non-null additional-data keeps the frame's full field list on the wire (pyamqp).
    SaslServerFrame::Outcome(SaslOutcome {
        code,
        additional_data: Some(Binary::from(Vec::new())),
    })
}

/// The user name of a PLAIN initial response `authzid NUL authcid NUL password`.
pub(crate) fn plain_user(response: &[u8]) -> Option<&str> {
    let mut parts = response.split(|b| *b == 0);
    let _authzid = parts.next()?;
    let user = parts.next()?;
    let _password = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    std::str::from_utf8(user).ok()
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
                match response.and_then(plain_user) {
                    Some(user) => {
                        tracing::debug!(mechanism, user, "SASL accepted");
                        outcome(SaslCode::Ok)
                    }
                    None => {
                        tracing::debug!(mechanism, "malformed SASL PLAIN response");
                        outcome(SaslCode::Auth)
                    }
                }
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
        assert_eq!(plain_user(b"\0user\0pass"), Some("user"));
        assert_eq!(plain_user(b"authz\0user\0"), Some("user"));
        assert_eq!(plain_user(b"userpass"), None);
        assert_eq!(plain_user(b"\0user"), None);
        assert_eq!(plain_user(b"\0a\0b\0c"), None);
        assert_eq!(plain_user(b"\0\xff\0p"), None);
    }
}
