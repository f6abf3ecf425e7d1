//! The credentials SASL checks against: the gateway's SAS policies, and the SCRAM credentials
//! derived from their keys once, at start.

use std::collections::HashMap;
use std::sync::Arc;

use hubgate_protocol::connection_string::{self, ConnectionStringError, Credential};
use hubgate_protocol::{Grant, Right, SasError, SasPolicies};

use super::plain::{self, PlainError};
use super::scram::{self, ScramCredential, ScramError, ScramHash};

/// The user name under which PLAIN takes an Event Hubs connection string as password.
pub(crate) const CONNECTION_STRING_USER: &str = "$ConnectionString";

/// A SASL mechanism this front end offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// PLAIN.
    Plain,
    /// SCRAM-SHA-256 or SCRAM-SHA-512.
    Scram(ScramHash),
}

impl Mechanism {
    /// The mechanism called `name` (case-insensitive).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [
            Self::Plain,
            Self::Scram(ScramHash::Sha256),
            Self::Scram(ScramHash::Sha512),
        ]
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The mechanism's SASL name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Scram(ScramHash::Sha256) => "SCRAM-SHA-256",
            Self::Scram(ScramHash::Sha512) => "SCRAM-SHA-512",
        }
    }
}

/// Why an authentication failed. For the log (at debug level) only: the client always gets the
/// same generic message. Holds no key, password or token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    /// A malformed PLAIN message.
    #[error(transparent)]
    Plain(#[from] PlainError),
    /// A malformed SCRAM message or a wrong proof.
    #[error(transparent)]
    Scram(#[from] ScramError),
    /// A `$ConnectionString` password that does not parse.
    #[error(transparent)]
    ConnectionString(#[from] ConnectionStringError),
    /// A key or token that does not verify.
    #[error("credential refused: {0}")]
    Sas(#[from] SasError),
    /// An `EntityPath` outside the hubs of its policy.
    #[error("the connection string's EntityPath is outside its policy")]
    EntityOutsidePolicy,
    /// A re-authentication as another principal.
    #[error("re-authentication as another principal")]
    PrincipalChanged,
    /// The mechanism is not offered in this mode.
    #[error("mechanism {0} is not offered")]
    MechanismNotOffered(&'static str),
}

/// Checks SASL credentials against the policies. Shared by every connection.
pub(crate) struct Credentials {
    policies: Arc<SasPolicies>,
    scram: HashMap<(ScramHash, String), ScramCredential>,
    /// Key of the salts made up for unknown SCRAM users.
    unknown_salt_key: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("policies", &self.policies.len())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Derives the SCRAM credentials of every policy (two PBKDF2 runs of
    /// [`scram::ITERATIONS`] each per policy).
    pub(crate) fn new(policies: Arc<SasPolicies>) -> Self {
        let mut scram = HashMap::new();
        for policy in policies.iter() {
            for hash in [ScramHash::Sha256, ScramHash::Sha512] {
                let credential = ScramCredential::random_salt(hash, policy.key.expose());
                scram.insert((hash, policy.name.clone()), credential);
            }
        }
        Self {
            policies,
            scram,
            unknown_salt_key: scram::random_bytes(32),
        }
    }

    /// Whether credentials are checked (at least one policy is configured).
    pub(crate) fn secured(&self) -> bool {
        !self.policies.is_empty()
    }

    /// The mechanisms offered: PLAIN alone in open mode (SCRAM needs a known password), else
    /// PLAIN and both SCRAMs.
    pub(crate) fn mechanisms(&self) -> &'static [&'static str] {
        if self.secured() {
            &["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
        } else {
            &["PLAIN"]
        }
    }

    /// Whether `mechanism` is offered.
    pub(crate) fn offers(&self, mechanism: Mechanism) -> bool {
        self.mechanisms().contains(&mechanism.name())
    }

    /// Checks a PLAIN message. `Ok(None)` in open mode, where any well-formed credentials pass.
    pub(crate) fn plain(&self, message: &[u8], now_secs: i64) -> Result<Option<Grant>, AuthError> {
        let given = plain::parse(message)?;
        if !self.secured() {
            return Ok(None);
        }
        if given.user != CONNECTION_STRING_USER {
            return Ok(Some(
                self.policies
                    .authenticate_key(&given.user, given.password.expose())?,
            ));
        }
        let text =
            std::str::from_utf8(given.password.expose()).map_err(|_| PlainError::Malformed)?;
        let parsed = connection_string::parse(text)?;
        let grant = match &parsed.credential {
            Credential::Key { name, key } => self.policies.authenticate_key(name, key.expose())?,
            Credential::Token(token) => {
                let token =
                    std::str::from_utf8(token.expose()).map_err(|_| PlainError::Malformed)?;
                self.policies.authenticate(token, now_secs)?
            }
        };
        match parsed.entity_path {
            None => Ok(Some(grant)),
            Some(hub) => {
                let grant = grant.narrowed_to(&hub);
                let any = [Right::Send, Right::Listen, Right::Manage]
                    .into_iter()
                    .any(|right| grant.authorize(&hub, right, now_secs).is_ok());
                if any {
                    Ok(Some(grant))
                } else {
                    Err(AuthError::EntityOutsidePolicy)
                }
            }
        }
    }

    /// The stored SCRAM credential of `user`, or a made-up one that matches nothing.
    pub(crate) fn scram_credential(&self, hash: ScramHash, user: &str) -> ScramCredential {
        self.scram
            .get(&(hash, user.to_owned()))
            .cloned()
            .unwrap_or_else(|| ScramCredential::unknown(hash, &self.unknown_salt_key, user))
    }

    /// The grant of the policy `user`, once its SCRAM proof has been checked.
    pub(crate) fn scram_grant(&self, user: &str) -> Result<Grant, AuthError> {
        let policy = self
            .policies
            .get(user)
            .ok_or_else(|| SasError::UnknownKeyName(user.to_owned()))?;
        Ok(self.policies.authenticate_key(user, policy.key.expose())?)
    }
}

#[cfg(test)]
mod tests {
    use hubgate_protocol::{Rights, SasPolicy, Secret, sas::sign_token};

    use super::*;

    fn credentials() -> Credentials {
        let policy = |name: &str, right, hubs: &[&str]| SasPolicy {
            name: name.into(),
            key: Secret::new(format!("{name}-key")),
            rights: Rights::from(right),
            hubs: hubs.iter().map(ToString::to_string).collect(),
            cert_subject: None,
        };
        Credentials::new(Arc::new(
            SasPolicies::new([
                policy("sender", Right::Send, &[]),
                policy("orders", Right::Listen, &["orders"]),
            ])
            .unwrap(),
        ))
    }

    fn plain(user: &str, password: &str) -> Vec<u8> {
        format!("\0{user}\0{password}").into_bytes()
    }

    #[test]
    fn open_mode_takes_anything_well_formed() {
        let open = Credentials::new(Arc::new(SasPolicies::default()));
        assert!(!open.secured());
        assert_eq!(open.mechanisms(), ["PLAIN"]);
        let emulator = "Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true";
        assert!(
            open.plain(&plain("$ConnectionString", emulator), 0)
                .unwrap()
                .is_none()
        );
        assert!(open.plain(b"\0\0", 0).is_err());
    }

    #[test]
    fn policy_name_and_key_or_a_connection_string() {
        let c = credentials();
        let grant = c.plain(&plain("sender", "sender-key"), 0).unwrap().unwrap();
        assert_eq!(grant.policy(), "sender");
        assert!(c.plain(&plain("sender", "wrong"), 0).is_err());
        assert!(c.plain(&plain("nobody", "sender-key"), 0).is_err());
        let cs = "Endpoint=sb://h/;sharedaccesskeyname=sender;SharedAccessKey=sender-key";
        let grant = c
            .plain(&plain("$ConnectionString", cs), 0)
            .unwrap()
            .unwrap();
        assert!(grant.authorize("any", Right::Send, 0).is_ok());
        let narrowed = format!("{cs};EntityPath=orders");
        let grant = c
            .plain(&plain("$ConnectionString", &narrowed), 0)
            .unwrap()
            .unwrap();
        assert!(grant.authorize("orders", Right::Send, 0).is_ok());
        assert!(grant.authorize("other", Right::Send, 0).is_err());
    }

    #[test]
    fn an_entity_path_outside_the_policy_fails() {
        let c = credentials();
        let cs = "SharedAccessKeyName=orders;SharedAccessKey=orders-key;EntityPath=payments";
        assert!(matches!(
            c.plain(&plain("$ConnectionString", cs), 0),
            Err(AuthError::EntityOutsidePolicy)
        ));
    }

    #[test]
    fn a_token_credential_carries_its_expiry() {
        let c = credentials();
        let token = sign_token("sender", &Secret::new("sender-key"), "sb://h/orders", 1_000);
        let cs = format!("Endpoint=sb://h/;SharedAccessSignature={token}");
        let grant = c
            .plain(&plain("$ConnectionString", &cs), 900)
            .unwrap()
            .unwrap();
        assert_eq!(grant.expires_at(), 1_000);
        assert!(c.plain(&plain("$ConnectionString", &cs), 1_001).is_err());
    }

    #[test]
    fn scram_credentials_exist_for_policies_and_are_made_up_for_others() {
        let c = credentials();
        let known = format!("{:?}", c.scram_credential(ScramHash::Sha512, "sender"));
        assert!(!known.contains("sender-key"));
        assert!(c.scram_grant("sender").is_ok());
        assert!(c.scram_grant("nobody").is_err());
        assert_eq!(
            Mechanism::parse("scram-sha-512"),
            Some(Mechanism::Scram(ScramHash::Sha512))
        );
        assert_eq!(Mechanism::parse("GSSAPI"), None);
    }
}
