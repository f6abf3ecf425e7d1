//! Shared Access Signature (SAS) tokens and the access policies that check them: one policy set
//! for every front end.
//!
//! A token reads `SharedAccessSignature sr={resource}&sig={signature}&se={expiry}&skn={key name}`.
//! [`SasPolicies::authenticate`] parses it ([`SasToken::parse`]), finds the policy named by
//! `skn`, checks the signature and the expiry, and returns a [`Grant`]; [`Grant::authorize`]
//! then says whether that grant covers a hub and a [`Right`]. [`SasPolicies::verify`] does both.
//!
//! - **Signature**: HMAC-SHA256 keyed with the policy key's UTF-8 bytes as configured (not
//!   base64-decoded), over the `sr` value exactly as it appears in the token, still
//!   percent-encoded (clients differ in the case of their escapes), then `"\n"`, then `se`.
//!   The comparison is constant-time.
//! - **Expiry**: `se` is in Unix seconds; a token is refused once `se < now`.
//! - **Scope**: the decoded resource is compared without its scheme and host, since one gateway
//!   answers to many names and clients write the same hub as `sb://host/hub`,
//!   `amqps://host:5671/hub` or `https://host/hub`. An empty path is namespace-wide; otherwise
//!   the first path segment must be the hub (case-insensitively), and whatever follows it
//!   (`/consumergroups/…`, `/Partitions/0`, `/messages`) does not matter. A policy with a hub
//!   list applies to those hubs only.
//! - **Rights**: [`Right::Manage`] implies [`Right::Send`] and [`Right::Listen`].
//!
//! # Use by front ends
//!
//! The caller decides what an empty [`SasPolicies`] means (hubgate then runs open) and how an
//! error reaches its wire: [`SasError::is_denied`] separates "valid token, not allowed here"
//! (HTTP `403`) from "not a valid token" (HTTP `401`).
//!
//! The HTTPS front end calls [`SasPolicies::verify`] on each request's `Authorization` header.
//! Kafka SASL PLAIN and AMQP SASL PLAIN check a policy name and key with
//! [`SasPolicies::authenticate_key`]; a verified client certificate maps to a policy with
//! [`SasPolicies::authenticate_cert`]. This API is shaped for them: an AMQP `$cbs`
//! put-token can call [`SasPolicies::authenticate`] once and keep the [`Grant`] for the
//! connection, then call [`Grant::authorize`] when a link attaches (`Send` for a sender,
//! `Listen` for a receiver), which also re-checks the expiry.
//! [`sign_token`] makes tokens as the SDKs do, for tests and client tools.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::percent;
use crate::secret::Secret;

/// The text before the token's fields.
const PREFIX: &str = "SharedAccessSignature";

/// Longest token accepted, in bytes. SDK tokens are a few hundred bytes; the cap bounds what a
/// peer can make the parser decode.
pub const MAX_TOKEN_LEN: usize = 4096;

/// What a token's policy lets its holder do on a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Right {
    /// Send events.
    Send,
    /// Receive events and read hub and partition properties.
    Listen,
    /// Create, change and delete hubs; implies `Send` and `Listen`.
    Manage,
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Send => "Send",
            Self::Listen => "Listen",
            Self::Manage => "Manage",
        })
    }
}

/// A right name that is not `send`, `listen` or `manage`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown right `{0}` (send, listen, manage)")]
pub struct UnknownRight(pub String);

impl FromStr for Right {
    type Err = UnknownRight;

    /// Parses `send`, `listen` or `manage`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "send" => Ok(Self::Send),
            "listen" => Ok(Self::Listen),
            "manage" => Ok(Self::Manage),
            _ => Err(UnknownRight(s.to_owned())),
        }
    }
}

/// The rights of a policy. `manage` implies `send` and `listen`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights {
    /// May send events.
    pub send: bool,
    /// May receive events and read hub and partition properties.
    pub listen: bool,
    /// May create, change and delete hubs.
    pub manage: bool,
}

impl Rights {
    /// Whether these rights include `right`.
    pub fn allows(self, right: Right) -> bool {
        self.manage
            || match right {
                Right::Send => self.send,
                Right::Listen => self.listen,
                Right::Manage => false,
            }
    }

    /// Adds `right`.
    pub fn insert(&mut self, right: Right) {
        match right {
            Right::Send => self.send = true,
            Right::Listen => self.listen = true,
            Right::Manage => self.manage = true,
        }
    }

    /// Whether no right is set.
    pub fn is_empty(self) -> bool {
        self == Self::default()
    }
}

impl From<Right> for Rights {
    fn from(right: Right) -> Self {
        let mut rights = Self::default();
        rights.insert(right);
        rights
    }
}

impl FromIterator<Right> for Rights {
    fn from_iter<I: IntoIterator<Item = Right>>(iter: I) -> Self {
        let mut rights = Self::default();
        for right in iter {
            rights.insert(right);
        }
        rights
    }
}

/// An access policy: a named key with rights, for every hub or a listed few.
#[derive(Debug, Clone)]
pub struct SasPolicy {
    /// The key name clients put in `skn` (compared exactly).
    pub name: String,
    /// The key, used as given, like the Event Hubs primary key string.
    pub key: Secret,
    /// What tokens signed with this key may do.
    pub rights: Rights,
    /// Hubs the policy is limited to (compared case-insensitively); empty means every hub.
    pub hubs: Vec<String>,
    /// A TLS client certificate subject that authenticates a connection as this policy
    /// (compared exactly); `None` when certificates do not map to it.
    pub cert_subject: Option<String>,
}

impl SasPolicy {
    fn applies_to(&self, hub: &str) -> bool {
        self.hubs.is_empty() || self.hubs.iter().any(|h| h.eq_ignore_ascii_case(hub))
    }
}

/// Why a set of policies was refused by [`SasPolicies::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A policy has an empty name.
    #[error("a policy name must not be empty")]
    EmptyName,
    /// A policy has an empty key.
    #[error("policy `{0}`: `key` must not be empty")]
    EmptyKey(String),
    /// A policy grants nothing.
    #[error("policy `{0}`: `rights` must name at least one right")]
    NoRights(String),
    /// Two policies share a name, so `skn` could not pick one.
    #[error("policy `{0}` is defined twice")]
    Duplicate(String),
}

/// What is wrong with a token's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Longer than [`MAX_TOKEN_LEN`].
    #[error("longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    /// Does not start with `SharedAccessSignature `.
    #[error("not a SharedAccessSignature token")]
    NotSas,
    /// A required field is absent or empty.
    #[error("no `{0}` field")]
    Missing(&'static str),
    /// A field appears twice, so it is unclear which one was signed.
    #[error("`{0}` appears twice")]
    Duplicate(&'static str),
    /// A field is not valid percent-encoded UTF-8.
    #[error("`{0}` is not valid percent-encoded UTF-8")]
    Encoding(&'static str),
    /// `sig` is not standard base64.
    #[error("`sig` is not base64")]
    Signature,
    /// `se` is not a whole number.
    #[error("`se` is not a whole number of seconds")]
    Expiry,
}

/// Why a token was refused. [`is_denied`](Self::is_denied) tells a valid token that is not
/// allowed here from one that is not valid at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SasError {
    /// The token cannot be parsed.
    #[error("malformed token: {0}")]
    Malformed(#[from] Malformed),
    /// No policy has the token's key name.
    #[error("unknown key name `{0}`")]
    UnknownKeyName(String),
    /// The signature does not match the named policy's key.
    #[error("signature does not match")]
    BadSignature,
    /// The token's expiry has passed.
    #[error("token expired at {expiry} (Unix seconds)")]
    Expired {
        /// The token's `se`.
        expiry: i64,
    },
    /// The token's resource names another hub.
    #[error("token for `{resource}` does not cover hub `{hub}`")]
    OtherResource {
        /// The decoded `sr`.
        resource: String,
        /// The hub asked for.
        hub: String,
    },
    /// The token's policy is limited to other hubs.
    #[error("policy `{policy}` does not apply to hub `{hub}`")]
    HubNotAllowed {
        /// The policy name.
        policy: String,
        /// The hub asked for.
        hub: String,
    },
    /// The token's policy lacks the right asked for.
    #[error("policy `{policy}` lacks the {right} right")]
    MissingRight {
        /// The policy name.
        policy: String,
        /// The right asked for.
        right: Right,
    },
}

impl SasError {
    /// Whether the token is valid but does not cover the hub or right asked for (HTTP `403`),
    /// rather than malformed, unknown, wrongly signed or expired (HTTP `401`).
    pub fn is_denied(&self) -> bool {
        matches!(
            self,
            Self::OtherResource { .. } | Self::HubNotAllowed { .. } | Self::MissingRight { .. }
        )
    }
}

/// A parsed token, not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct SasToken<'a> {
    /// `sr` as sent: what the signature covers.
    resource_raw: &'a str,
    /// `sr` percent-decoded.
    resource: String,
    /// `sig` percent- and base64-decoded.
    signature: Vec<u8>,
    /// `se` as sent: what the signature covers.
    expiry_raw: &'a str,
    expiry: i64,
    /// `skn` percent-decoded.
    key_name: String,
}

impl fmt::Debug for SasToken<'_> {
    /// Leaves the signature out: with it the token is a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasToken")
            .field("resource", &self.resource)
            .field("expiry", &self.expiry)
            .field("key_name", &self.key_name)
            .finish_non_exhaustive()
    }
}

impl<'a> SasToken<'a> {
    /// Parses `SharedAccessSignature sr=…&sig=…&se=…&skn=…` (fields in any order, unknown
    /// fields ignored, surrounding whitespace allowed).
    ///
    /// # Errors
    ///
    /// [`SasError::Malformed`] when the text is too long, lacks the prefix or a field, repeats
    /// a field, or a field does not decode.
    pub fn parse(text: &'a str) -> Result<Self, SasError> {
        if text.len() > MAX_TOKEN_LEN {
            return Err(Malformed::TooLong.into());
        }
        let fields = text
            .trim()
            .strip_prefix(PREFIX)
            .filter(|rest| rest.starts_with(' '))
            .ok_or(Malformed::NotSas)?
            .trim_start();
        let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
        for pair in fields.split('&') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (field, slot) = match name {
                "sr" => ("sr", &mut sr),
                "sig" => ("sig", &mut sig),
                "se" => ("se", &mut se),
                "skn" => ("skn", &mut skn),
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(Malformed::Duplicate(field).into());
            }
        }
        let required = |value: Option<&'a str>, field| {
            value
                .filter(|v| !v.is_empty())
                .ok_or(Malformed::Missing(field))
        };
        let resource_raw = required(sr, "sr")?;
        let sig = required(sig, "sig")?;
        let expiry_raw = required(se, "se")?;
        let skn = required(skn, "skn")?;
        let resource =
            percent::decode_form(resource_raw.as_bytes()).ok_or(Malformed::Encoding("sr"))?;
        let key_name = percent::decode_form(skn.as_bytes()).ok_or(Malformed::Encoding("skn"))?;
        // Base64 has no spaces, so a `+` some client left unescaped is still a `+`.
        let signature = percent::decode(sig.as_bytes())
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or(Malformed::Signature)?;
        let expiry = expiry_raw.parse().map_err(|_| Malformed::Expiry)?;
        Ok(Self {
            resource_raw,
            resource,
            signature,
            expiry_raw,
            expiry,
            key_name,
        })
    }

    /// The resource URI (`sr`), decoded.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The expiry (`se`), in Unix seconds.
    pub fn expiry(&self) -> i64 {
        self.expiry
    }

    /// The policy name (`skn`), decoded.
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// Whether the signature was made with `key`, compared in constant time.
    fn signed_with(&self, key: &Secret) -> bool {
        mac(key, self.resource_raw, self.expiry_raw)
            .is_some_and(|mac| mac.verify_slice(&self.signature).is_ok())
    }
}

/// The MAC of a token: HMAC-SHA256 keyed with `key` over `sr` (as sent) + `"\n"` + `se`.
/// `None` only for a key HMAC refuses, which no key length is.
fn mac(key: &Secret, sr: &str, se: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).ok()?;
    mac.update(sr.as_bytes());
    mac.update(b"\n");
    mac.update(se.as_bytes());
    Some(mac)
}

/// Makes a token for `resource` that expires at `expiry` (Unix seconds), signed with the
/// policy `key_name` and its `key`, the way the Azure SDKs make one: `sr` is the resource
/// encoded like Python's `quote_plus`. For tests and tools that act as clients.
pub fn sign_token(key_name: &str, key: &Secret, resource: &str, expiry: i64) -> String {
    let sr = percent::encode_form(resource);
    let se = expiry.to_string();
    let sig = mac(key, &sr, &se)
        .map(|mac| base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!(
        "{PREFIX} sr={sr}&sig={}&se={se}&skn={}",
        percent::encode_form(&sig),
        percent::encode_form(key_name)
    )
}

/// What a verified token allows: its policy's rights, on its resource, until its expiry.
#[derive(Debug, Clone)]
pub struct Grant {
    policy: Arc<SasPolicy>,
    resource: String,
    expires_at: i64,
}

impl Grant {
    /// The name of the policy that signed the token.
    pub fn policy(&self) -> &str {
        &self.policy.name
    }

    /// The policy's rights.
    pub fn rights(&self) -> Rights {
        self.policy.rights
    }

    /// The token's resource URI, decoded.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The token's expiry, in Unix seconds.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The same grant limited to `resource` (an `EntityPath` given beside a key); a grant that
    /// already names a resource keeps it.
    pub fn narrowed_to(mut self, resource: &str) -> Self {
        if self.resource.is_empty() {
            self.resource = format!("sb://hubgate/{resource}");
        }
        self
    }

    /// Checks that the grant, at `now_secs`, allows `right` on `hub`.
    ///
    /// # Errors
    ///
    /// [`SasError::Expired`] once the token has expired; [`SasError::OtherResource`],
    /// [`SasError::HubNotAllowed`] or [`SasError::MissingRight`] when it does not cover the
    /// request.
    pub fn authorize(&self, hub: &str, right: Right, now_secs: i64) -> Result<(), SasError> {
        if self.expires_at < now_secs {
            return Err(SasError::Expired {
                expiry: self.expires_at,
            });
        }
        if !resource_covers(&self.resource, hub) {
            return Err(SasError::OtherResource {
                resource: self.resource.clone(),
                hub: hub.to_owned(),
            });
        }
        if !self.policy.applies_to(hub) {
            return Err(SasError::HubNotAllowed {
                policy: self.policy.name.clone(),
                hub: hub.to_owned(),
            });
        }
        if !self.policy.rights.allows(right) {
            return Err(SasError::MissingRight {
                policy: self.policy.name.clone(),
                right,
            });
        }
        Ok(())
    }
}

/// The gateway's access policies, shared by every front end.
///
/// ```
/// use hubgate_protocol::sas::{Right, Rights, SasError, SasPolicies, SasPolicy};
/// use hubgate_protocol::Secret;
///
/// let policies = SasPolicies::new([SasPolicy {
///     name: "RootManageSharedAccessKey".into(),
///     key: Secret::new("s3cr3t"),
///     rights: Rights::from(Right::Send),
///     hubs: vec![],
///     cert_subject: None,
/// }])?;
/// // sr = quote_plus("https://ns.example/orders"), se = 4102444800 (year 2100).
/// let token = "SharedAccessSignature sr=https%3A%2F%2Fns.example%2Forders\
///     &sig=axelTjAWegqZ%2BTCxVSgxPMQqYpqxrZJIuuZoAFERHZ0%3D&se=4102444800\
///     &skn=RootManageSharedAccessKey";
/// let now = 1_800_000_000;
/// let grant = policies.verify(token, "orders", Right::Send, now)?;
/// assert_eq!(grant.policy(), "RootManageSharedAccessKey");
/// let refused = policies.verify(token, "orders", Right::Manage, now).unwrap_err();
/// assert!(matches!(refused, SasError::MissingRight { .. }) && refused.is_denied());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct SasPolicies {
    policies: Vec<Arc<SasPolicy>>,
}

impl SasPolicies {
    /// Checks and collects `policies`.
    ///
    /// # Errors
    ///
    /// [`PolicyError`] for an empty name or key, a policy without rights, or a name used twice.
    pub fn new(policies: impl IntoIterator<Item = SasPolicy>) -> Result<Self, PolicyError> {
        let mut checked: Vec<Arc<SasPolicy>> = Vec::new();
        for policy in policies {
            if policy.name.is_empty() {
                return Err(PolicyError::EmptyName);
            }
            if policy.key.is_empty() {
                return Err(PolicyError::EmptyKey(policy.name));
            }
            if policy.rights.is_empty() {
                return Err(PolicyError::NoRights(policy.name));
            }
            if checked.iter().any(|p| p.name == policy.name) {
                return Err(PolicyError::Duplicate(policy.name));
            }
            checked.push(Arc::new(policy));
        }
        Ok(Self { policies: checked })
    }

    /// Whether no policy is configured.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// How many policies there are.
    pub fn len(&self) -> usize {
        self.policies.len()
    }

    /// The policy called `name`.
    pub fn get(&self, name: &str) -> Option<&SasPolicy> {
        self.policies
            .iter()
            .find(|p| p.name == name)
            .map(AsRef::as_ref)
    }

    /// Every policy, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = &SasPolicy> {
        self.policies.iter().map(AsRef::as_ref)
    }

    /// Parses `token`, checks its signature against the policy its `skn` names and its expiry
    /// against `now_secs` (Unix seconds), and returns what it grants.
    ///
    /// # Errors
    ///
    /// [`SasError::Malformed`], [`SasError::UnknownKeyName`], [`SasError::BadSignature`] or
    /// [`SasError::Expired`].
    pub fn authenticate(&self, token: &str, now_secs: i64) -> Result<Grant, SasError> {
        let token = SasToken::parse(token)?;
        let policy = self
            .policies
            .iter()
            .find(|p| p.name == token.key_name)
            .ok_or_else(|| SasError::UnknownKeyName(token.key_name.clone()))?;
        // The signature first: nothing else in the token is trusted before it matches.
        if !token.signed_with(&policy.key) {
            return Err(SasError::BadSignature);
        }
        if token.expiry < now_secs {
            return Err(SasError::Expired {
                expiry: token.expiry,
            });
        }
        Ok(Grant {
            policy: Arc::clone(policy),
            resource: token.resource,
            expires_at: token.expiry,
        })
    }

    /// [`authenticate`](Self::authenticate), then [`Grant::authorize`] for `right` on `hub`.
    ///
    /// # Errors
    ///
    /// Any [`SasError`]; [`SasError::is_denied`] tells "valid but not allowed here" apart.
    pub fn verify(
        &self,
        token: &str,
        hub: &str,
        right: Right,
        now_secs: i64,
    ) -> Result<Grant, SasError> {
        let grant = self.authenticate(token, now_secs)?;
        grant.authorize(hub, right, now_secs)?;
        Ok(grant)
    }

    /// Checks a policy name and key given directly (Kafka SASL PLAIN, AMQP SASL PLAIN) and
    /// returns a namespace-wide grant that does not expire. The key is compared in constant
    /// time.
    ///
    /// # Errors
    ///
    /// [`SasError::UnknownKeyName`] or [`SasError::BadSignature`]. Both must reach a client as
    /// the same "authentication failed", so it cannot learn which policy names exist.
    pub fn authenticate_key(&self, name: &str, key: &[u8]) -> Result<Grant, SasError> {
        let policy = self
            .policies
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| SasError::UnknownKeyName(name.to_owned()))?;
        if !constant_time_eq(policy.key.expose(), key) {
            return Err(SasError::BadSignature);
        }
        Ok(Grant {
            policy: Arc::clone(policy),
            resource: String::new(),
            expires_at: i64::MAX,
        })
    }

    /// The namespace-wide, non-expiring grant of the policy whose `cert_subject` is `subject`
    /// (a TLS client certificate already verified against the configured CA), if any.
    pub fn authenticate_cert(&self, subject: &str) -> Option<Grant> {
        let policy = self
            .policies
            .iter()
            .find(|p| p.cert_subject.as_deref() == Some(subject))?;
        Some(Grant {
            policy: Arc::clone(policy),
            resource: String::new(),
            expires_at: i64::MAX,
        })
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a decoded token resource covers `hub`: scheme and host are ignored; an empty path
/// is namespace-wide, else the first path segment must name the hub.
fn resource_covers(resource: &str, hub: &str) -> bool {
    let rest = resource
        .split_once("://")
        .map_or(resource, |(_, rest)| rest);
    let path = rest.split_once('/').map_or("", |(_, path)| path);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match path.split('/').find(|s| !s.is_empty()) {
        None => true,
        Some(first) => first.eq_ignore_ascii_case(hub),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "RootManageSharedAccessKey";
    const KEY: &str = "s3cr3t";
    /// 2100-01-01, the expiry of both vectors.
    const EXPIRY: i64 = 4_102_444_800;

    /// Made with Python: `sr = quote_plus("https://ns.example/orders")`, `se = 4102444800`,
    /// `sig = quote_plus(b64(hmac(b"s3cr3t", sr + "\n" + se, sha256)))`.
    const TOKEN: &str = "SharedAccessSignature sr=https%3A%2F%2Fns.example%2Forders&sig=axelTjAWegqZ%2BTCxVSgxPMQqYpqxrZJIuuZoAFERHZ0%3D&se=4102444800&skn=RootManageSharedAccessKey";

    /// The same recipe for a consumer's CBS audience,
    /// `sb://127.0.0.1:5672/hub1/consumergroups/$default`.
    const AMQP_TOKEN: &str = "SharedAccessSignature sr=sb%3A%2F%2F127.0.0.1%3A5672%2Fhub1%2Fconsumergroups%2F%24default&sig=4%2FWwTCNF0kfNCec5%2BcKZqcAemVeCIg6ktoDo%2BJ7WzIw%3D&se=4102444800&skn=RootManageSharedAccessKey";

    /// The first vector with lower-case escapes in `sr`, as C#'s `HttpUtility.UrlEncode`
    /// writes them, signed over that text.
    const LOWER_CASE_TOKEN: &str = "SharedAccessSignature sr=https%3a%2f%2fns.example%2forders&sig=HD1XjX6tSSe1Ja7rHdWpKTdsi%2BzSFhdLI5lSTYZIrKY%3D&se=4102444800&skn=RootManageSharedAccessKey";

    fn policy(rights: impl Into<Rights>, hubs: &[&str]) -> SasPolicy {
        SasPolicy {
            name: NAME.into(),
            key: Secret::new(KEY),
            rights: rights.into(),
            hubs: hubs.iter().map(|h| (*h).to_owned()).collect(),
            cert_subject: None,
        }
    }

    fn policies(rights: impl Into<Rights>, hubs: &[&str]) -> SasPolicies {
        SasPolicies::new([policy(rights, hubs)]).unwrap()
    }

    #[test]
    fn valid_token_and_rights() {
        let p = policies(Right::Send, &[]);
        let grant = p.verify(TOKEN, "orders", Right::Send, 0).unwrap();
        assert_eq!(grant.policy(), NAME);
        assert_eq!(grant.resource(), "https://ns.example/orders");
        assert_eq!(grant.expires_at(), EXPIRY);
        assert_eq!(grant.rights(), Rights::from(Right::Send));
        assert!(p.verify(TOKEN, "ORDERS", Right::Send, 0).is_ok());
        let e = p.verify(TOKEN, "orders", Right::Manage, 0).unwrap_err();
        assert_eq!(
            e,
            SasError::MissingRight {
                policy: NAME.into(),
                right: Right::Manage
            }
        );
        assert!(e.is_denied());
        let e = p.verify(TOKEN, "other", Right::Send, 0).unwrap_err();
        assert!(matches!(e, SasError::OtherResource { .. }), "{e}");
        assert!(e.is_denied());
        let limited = policies(Right::Send, &["audit"]);
        let e = limited.verify(TOKEN, "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, SasError::HubNotAllowed { .. }), "{e}");
        assert!(e.is_denied());
        let manage = policies(Right::Manage, &[]);
        assert!(manage.verify(TOKEN, "orders", Right::Listen, 0).is_ok());
        assert!(manage.verify(TOKEN, "orders", Right::Send, 0).is_ok());
    }

    #[test]
    fn bad_tokens_are_not_authenticated() {
        let p = policies(Right::Send, &[]);
        let expired = p.verify(TOKEN, "orders", Right::Send, EXPIRY + 1);
        assert_eq!(expired.unwrap_err(), SasError::Expired { expiry: EXPIRY });
        assert!(p.verify(TOKEN, "orders", Right::Send, EXPIRY).is_ok());
        let tampered = TOKEN.replace("se=4102444800", "se=4102444801");
        assert_eq!(
            p.authenticate(&tampered, 0).unwrap_err(),
            SasError::BadSignature
        );
        let other_hub = TOKEN.replace("orders", "audit");
        assert_eq!(
            p.authenticate(&other_hub, 0).unwrap_err(),
            SasError::BadSignature
        );
        let other_key = TOKEN.replace("skn=RootManageSharedAccessKey", "skn=Other");
        assert_eq!(
            p.authenticate(&other_key, 0).unwrap_err(),
            SasError::UnknownKeyName("Other".into())
        );
        let wrong_key = SasPolicies::new([SasPolicy {
            key: Secret::new("not-it"),
            ..policy(Right::Send, &[])
        }])
        .unwrap();
        assert_eq!(
            wrong_key.authenticate(TOKEN, 0).unwrap_err(),
            SasError::BadSignature
        );
        for e in [
            SasError::BadSignature,
            SasError::Expired { expiry: 0 },
            SasError::UnknownKeyName("x".into()),
            SasError::Malformed(Malformed::NotSas),
        ] {
            assert!(!e.is_denied(), "{e}");
        }
        assert!(
            SasPolicies::default()
                .authenticate(TOKEN, 0)
                .unwrap_err()
                .to_string()
                .contains("unknown key name")
        );
    }

    #[test]
    fn signature_is_over_sr_as_sent() {
        let p = policies(Right::Listen, &[]);
        let grant = p
            .verify(LOWER_CASE_TOKEN, "orders", Right::Listen, 0)
            .unwrap();
        assert_eq!(grant.resource(), "https://ns.example/orders");
        // Re-encoding the same resource with upper-case escapes breaks the signature.
        let recased = LOWER_CASE_TOKEN.replace("%3a%2f%2f", "%3A%2F%2F");
        assert_eq!(
            p.authenticate(&recased, 0).unwrap_err(),
            SasError::BadSignature
        );
    }

    #[test]
    fn amqp_audience_vector() {
        let p = policies(Right::Listen, &["hub1"]);
        let grant = p.authenticate(AMQP_TOKEN, 0).unwrap();
        assert_eq!(
            grant.resource(),
            "sb://127.0.0.1:5672/hub1/consumergroups/$default"
        );
        assert!(grant.authorize("hub1", Right::Listen, 0).is_ok());
        assert!(matches!(
            grant.authorize("hub1", Right::Send, 0),
            Err(SasError::MissingRight { .. })
        ));
        assert!(matches!(
            grant.authorize("hub2", Right::Listen, 0),
            Err(SasError::OtherResource { .. })
        ));
        // A grant kept for a connection expires on its own.
        assert_eq!(
            grant.authorize("hub1", Right::Listen, EXPIRY + 1),
            Err(SasError::Expired { expiry: EXPIRY })
        );
    }

    #[test]
    fn resource_forms_the_sdks_send() {
        for covered in [
            "sb://ns.example/h",
            "sb://ns.example/h/",
            "sb://127.0.0.1:5672/h",
            "sb://ns.example/H/consumergroups/$default",
            "sb://ns.example/h/ConsumerGroups/cg/Partitions/0",
            "sb://ns.example/h/$management",
            "amqps://ns.example:5671/h",
            "amqp://localhost/h/Partitions/3",
            "https://ns.example/H/publishers/x",
            "http://127.0.0.1:8080/h/messages",
            "https://ns.example/h?api-version=2014-01",
            "ns.example/h",
            // Namespace-wide.
            "sb://ns.example/",
            "sb://ns.example",
            "https://ns.example:443",
        ] {
            assert!(resource_covers(covered, "h"), "{covered}");
        }
        for other in [
            "https://ns.example/hx",
            "sb://ns.example/x/h",
            "amqps://h/other",
            "sb://ns.example/hub?h",
        ] {
            assert!(!resource_covers(other, "h"), "{other}");
        }
    }

    #[test]
    fn every_resource_form_verifies_end_to_end() {
        let p = policies(Right::Send, &[]);
        let key = Secret::new(KEY);
        for resource in [
            "sb://ns.example/orders",
            "amqps://ns.example:5671/orders/Partitions/1",
            "https://ns.example/orders/messages",
            "http://127.0.0.1:8080/orders",
            "sb://ns.example/",
        ] {
            let token = sign_token(NAME, &key, resource, EXPIRY);
            assert!(
                p.verify(&token, "orders", Right::Send, 0).is_ok(),
                "{resource}"
            );
        }
        let token = sign_token(NAME, &key, "sb://ns.example/audit", EXPIRY);
        assert!(matches!(
            p.verify(&token, "orders", Right::Send, 0),
            Err(SasError::OtherResource { .. })
        ));
    }

    #[test]
    fn malformed_tokens() {
        let missing_sig = "SharedAccessSignature sr=x&se=1&skn=k";
        let cases: [(&str, Malformed); 9] = [
            ("Bearer abc", Malformed::NotSas),
            (
                "SharedAccessSignaturesr=x&sig=YQ%3D%3D&se=1&skn=k",
                Malformed::NotSas,
            ),
            (missing_sig, Malformed::Missing("sig")),
            (
                "SharedAccessSignature sr=&sig=YQ%3D%3D&se=1&skn=k",
                Malformed::Missing("sr"),
            ),
            (
                "SharedAccessSignature sr=x&sr=y&sig=YQ%3D%3D&se=1&skn=k",
                Malformed::Duplicate("sr"),
            ),
            (
                "SharedAccessSignature sr=%zz&sig=YQ%3D%3D&se=1&skn=k",
                Malformed::Encoding("sr"),
            ),
            (
                "SharedAccessSignature sr=x&sig=%FF&se=1&skn=k",
                Malformed::Signature,
            ),
            (
                "SharedAccessSignature sr=x&sig=not*base64&se=1&skn=k",
                Malformed::Signature,
            ),
            (
                "SharedAccessSignature sr=x&sig=YQ%3D%3D&se=soon&skn=k",
                Malformed::Expiry,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                SasToken::parse(text).unwrap_err(),
                SasError::Malformed(expected),
                "{text}"
            );
        }
        let long = format!(
            "{TOKEN}&pad={}",
            "a".repeat(MAX_TOKEN_LEN - TOKEN.len() - 5)
        );
        assert_eq!(long.len(), MAX_TOKEN_LEN);
        assert!(policies(Right::Send, &[]).authenticate(&long, 0).is_ok());
        let too_long = format!("{long}a");
        assert_eq!(
            SasToken::parse(&too_long).unwrap_err(),
            SasError::Malformed(Malformed::TooLong)
        );
    }

    #[test]
    fn parsing_is_lenient_where_clients_differ() {
        // Field order, surrounding whitespace, unknown fields, an unescaped `+` in `sig`.
        let reordered = format!(
            "  SharedAccessSignature  skn={NAME}&se={EXPIRY}&extra=1&sig=axelTjAWegqZ+TCxVSgxPMQqYpqxrZJIuuZoAFERHZ0%3D&sr=https%3A%2F%2Fns.example%2Forders \n"
        );
        let token = SasToken::parse(&reordered).unwrap();
        assert_eq!(token.key_name(), NAME);
        assert_eq!(token.expiry(), EXPIRY);
        assert_eq!(token.resource(), "https://ns.example/orders");
        assert!(!format!("{token:?}").contains("sig"));
        let p = policies(Right::Send, &[]);
        assert!(p.verify(&reordered, "orders", Right::Send, 0).is_ok());
    }

    #[test]
    fn policy_sets_are_checked() {
        let ok = policies(Right::Send, &[]);
        assert_eq!(ok.len(), 1);
        assert!(!ok.is_empty());
        assert_eq!(
            ok.get(NAME).map(|p| p.rights),
            Some(Rights::from(Right::Send))
        );
        assert!(ok.get("other").is_none());
        assert_eq!(ok.iter().count(), 1);
        assert!(SasPolicies::default().is_empty());
        let twice = SasPolicies::new([policy(Right::Send, &[]), policy(Right::Listen, &[])]);
        assert_eq!(twice.unwrap_err(), PolicyError::Duplicate(NAME.into()));
        let no_key = SasPolicy {
            key: Secret::new(""),
            ..policy(Right::Send, &[])
        };
        assert_eq!(
            SasPolicies::new([no_key]).unwrap_err(),
            PolicyError::EmptyKey(NAME.into())
        );
        assert_eq!(
            SasPolicies::new([policy(Rights::default(), &[])]).unwrap_err(),
            PolicyError::NoRights(NAME.into())
        );
        let unnamed = SasPolicy {
            name: String::new(),
            ..policy(Right::Send, &[])
        };
        assert_eq!(
            SasPolicies::new([unnamed]).unwrap_err(),
            PolicyError::EmptyName
        );
    }

    #[test]
    fn rights_parse_and_imply() {
        assert_eq!("Send".parse::<Right>(), Ok(Right::Send));
        assert_eq!("LISTEN".parse::<Right>(), Ok(Right::Listen));
        assert_eq!("manage".parse::<Right>(), Ok(Right::Manage));
        assert_eq!("write".parse::<Right>(), Err(UnknownRight("write".into())));
        let rights: Rights = [Right::Send, Right::Listen].into_iter().collect();
        assert!(rights.allows(Right::Send) && rights.allows(Right::Listen));
        assert!(!rights.allows(Right::Manage));
        let manage = Rights::from(Right::Manage);
        assert!(
            [Right::Send, Right::Listen, Right::Manage]
                .into_iter()
                .all(|r| manage.allows(r))
        );
        assert!(Rights::default().is_empty());
        assert_eq!(Right::Listen.to_string(), "Listen");
    }

    #[test]
    fn tokens_are_signed_like_the_sdks_sign_them() {
        let key = Secret::new(KEY);
        assert_eq!(
            sign_token(NAME, &key, "https://ns.example/orders", EXPIRY),
            TOKEN
        );
        assert_eq!(
            sign_token(
                NAME,
                &key,
                "sb://127.0.0.1:5672/hub1/consumergroups/$default",
                EXPIRY
            ),
            AMQP_TOKEN
        );
    }

    #[test]
    fn a_key_given_directly_is_checked_without_revealing_which_part_is_wrong() {
        let p = policies(Right::Send, &["orders"]);
        let grant = p.authenticate_key(NAME, KEY.as_bytes()).unwrap();
        assert_eq!(grant.policy(), NAME);
        assert_eq!(grant.resource(), "");
        grant
            .authorize("orders", Right::Send, i64::MAX - 1)
            .unwrap();
        assert!(
            grant
                .authorize("other", Right::Send, 0)
                .unwrap_err()
                .is_denied()
        );
        assert_eq!(
            p.authenticate_key(NAME, b"s3cr3T").unwrap_err(),
            SasError::BadSignature
        );
        assert_eq!(
            p.authenticate_key(NAME, b"s3cr3").unwrap_err(),
            SasError::BadSignature
        );
        assert_eq!(
            p.authenticate_key("Other", KEY.as_bytes()).unwrap_err(),
            SasError::UnknownKeyName("Other".into())
        );
    }

    #[test]
    fn an_entity_path_narrows_a_namespace_grant() {
        let p = policies(Right::Manage, &[]);
        let grant = p
            .authenticate_key(NAME, KEY.as_bytes())
            .unwrap()
            .narrowed_to("orders");
        grant.authorize("orders", Right::Send, 0).unwrap();
        assert!(matches!(
            grant.authorize("other", Right::Send, 0).unwrap_err(),
            SasError::OtherResource { .. }
        ));
    }

    #[test]
    fn a_certificate_subject_maps_to_its_policy_only() {
        let p = SasPolicies::new([SasPolicy {
            cert_subject: Some("CN=client-a".into()),
            ..policy(Right::Listen, &[])
        }])
        .unwrap();
        let grant = p.authenticate_cert("CN=client-a").unwrap();
        assert_eq!(grant.policy(), NAME);
        assert!(p.authenticate_cert("CN=client-b").is_none());
        assert!(
            policies(Right::Listen, &[])
                .authenticate_cert("CN=client-a")
                .is_none()
        );
    }
}
