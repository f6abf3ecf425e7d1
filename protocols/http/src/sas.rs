//! Shared Access Signature checks for the REST routes: `Authorization: SharedAccessSignature
//! sr={resource}&sig={signature}&se={expiry}&skn={policy}`.
//!
//! With no policy configured every route is open. Otherwise:
//! - a missing, malformed, wrongly signed or expired token is `401`;
//! - a valid token whose resource does not cover the hub, whose policy is limited to other
//!   hubs, or whose policy lacks the right the route needs is `403`.
//!
//! The signature is HMAC-SHA256, keyed with the policy key's UTF-8 bytes as configured (not
//! base64-decoded), over the `sr` value exactly as it appears in the token (still
//! percent-encoded, since clients differ in the case of their escapes) + `"\n"` + `se`. The
//! decoded resource is matched without its scheme and host (a gateway answers to many names):
//! an empty path covers every hub, otherwise its first segment must be the hub
//! (case-insensitively). Webhook routes use their own signatures instead.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;
use crate::error::ApiError;

/// An access policy: a named key with rights, for every hub or a listed few.
#[derive(Debug, Clone)]
pub struct SasPolicy {
    /// The key name clients put in `skn`.
    pub name: String,
    /// The key (used as given, like Event Hubs' primary key string).
    pub key: Secret,
    /// What tokens signed with this key may do.
    pub rights: Rights,
    /// Hubs the policy is limited to; empty means every hub.
    pub hubs: Vec<String>,
}

/// Event Hubs rights. `manage` implies `send` and `listen`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rights {
    /// May send events.
    pub send: bool,
    /// May read hub and partition properties.
    pub listen: bool,
    /// May create, change and delete hubs.
    pub manage: bool,
}

/// The right a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Right {
    Send,
    Listen,
    Manage,
}

impl Rights {
    fn allows(self, right: Right) -> bool {
        self.manage
            || match right {
                Right::Send => self.send,
                Right::Listen => self.listen,
                Right::Manage => false,
            }
    }
}

/// Checks the request's token against `policies` for `right` on `hub`.
pub(crate) fn authorize(
    policies: &[SasPolicy],
    headers: &HeaderMap,
    hub: &str,
    right: Right,
    now_secs: i64,
) -> Result<(), ApiError> {
    if policies.is_empty() {
        return Ok(());
    }
    let raw = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization header"))?
        .to_str()
        .map_err(|_| unauthorized("Authorization header is not ASCII"))?;
    let token = raw
        .strip_prefix("SharedAccessSignature ")
        .ok_or_else(|| unauthorized("Authorization is not a SharedAccessSignature token"))?;
    let (mut sr, mut sig, mut se, mut skn) = (None, None, None, None);
    for pair in token.trim().split('&') {
        match pair.split_once('=') {
            Some(("sr", v)) => sr = Some(v),
            Some(("sig", v)) => sig = Some(v),
            Some(("se", v)) => se = Some(v),
            Some(("skn", v)) => skn = Some(v),
            _ => {}
        }
    }
    let missing = |field| unauthorized(&format!("token has no `{field}`"));
    let (sr, sig, se, skn) = (
        sr.ok_or_else(|| missing("sr"))?,
        sig.ok_or_else(|| missing("sig"))?,
        se.ok_or_else(|| missing("se"))?,
        skn.ok_or_else(|| missing("skn"))?,
    );
    let name = percent_decode(skn).ok_or_else(|| unauthorized("`skn` is malformed"))?;
    let policy = policies
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| unauthorized(&format!("unknown policy `{name}`")))?;
    let sent = percent_decode(sig)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or_else(|| unauthorized("`sig` is not base64"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(policy.key.bytes())
        .map_err(|_| unauthorized("policy key is unusable"))?;
    mac.update(sr.as_bytes());
    mac.update(b"\n");
    mac.update(se.as_bytes());
    mac.verify_slice(&sent)
        .map_err(|_| unauthorized("signature does not match"))?;
    let expiry: i64 = se
        .parse()
        .map_err(|_| unauthorized("`se` is not a number"))?;
    if expiry < now_secs {
        return Err(unauthorized("token expired"));
    }
    let resource = percent_decode(sr).ok_or_else(|| unauthorized("`sr` is malformed"))?;
    if !covers(&resource, hub) {
        return Err(ApiError::Forbidden(format!(
            "token for `{resource}` does not cover hub `{hub}`"
        )));
    }
    if !policy.hubs.is_empty() && !policy.hubs.iter().any(|h| h.eq_ignore_ascii_case(hub)) {
        return Err(ApiError::Forbidden(format!(
            "policy `{name}` does not apply to hub `{hub}`"
        )));
    }
    if !policy.rights.allows(right) {
        return Err(ApiError::Forbidden(format!(
            "policy `{name}` lacks the {right:?} right"
        )));
    }
    Ok(())
}

/// Whether a decoded token resource covers `hub`: scheme and host are ignored; an empty path
/// is namespace-wide, else the first segment must name the hub.
fn covers(resource: &str, hub: &str) -> bool {
    let rest = resource
        .split_once("://")
        .map_or(resource, |(_, rest)| rest);
    let path = rest.split_once('/').map_or("", |(_, path)| path);
    match path.split('/').find(|s| !s.is_empty()) {
        None => true,
        Some(first) => first.eq_ignore_ascii_case(hub),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(format!("SAS token rejected: {message}"))
}

/// `%XX` and `+` (a space, as Python's `quote_plus` writes it) decoding to UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rights: Rights, hubs: &[&str]) -> SasPolicy {
        SasPolicy {
            name: "RootManageSharedAccessKey".into(),
            key: Secret::new("s3cr3t"),
            rights,
            hubs: hubs.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, token.parse().unwrap());
        h
    }

    /// Made with Python: `sr = quote_plus("https://ns.example/orders")`, `se = 4102444800`,
    /// `sig = quote_plus(b64(hmac(b"s3cr3t", sr + "\n" + se, sha256)))`.
    const TOKEN: &str = "SharedAccessSignature sr=https%3A%2F%2Fns.example%2Forders&sig=axelTjAWegqZ%2BTCxVSgxPMQqYpqxrZJIuuZoAFERHZ0%3D&se=4102444800&skn=RootManageSharedAccessKey";

    #[test]
    fn valid_token_and_rights() {
        let send = Rights {
            send: true,
            ..Rights::default()
        };
        let p = [policy(send, &[])];
        assert!(authorize(&p, &headers(TOKEN), "orders", Right::Send, 0).is_ok());
        assert!(authorize(&p, &headers(TOKEN), "ORDERS", Right::Send, 0).is_ok());
        let e = authorize(&p, &headers(TOKEN), "orders", Right::Manage, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let e = authorize(&p, &headers(TOKEN), "other", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let limited = [policy(send, &["audit"])];
        let e = authorize(&limited, &headers(TOKEN), "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let manage = [policy(
            Rights {
                manage: true,
                ..Rights::default()
            },
            &[],
        )];
        assert!(authorize(&manage, &headers(TOKEN), "orders", Right::Listen, 0).is_ok());
    }

    #[test]
    fn bad_tokens_are_unauthorized() {
        let p = [policy(
            Rights {
                send: true,
                ..Rights::default()
            },
            &[],
        )];
        let expired = authorize(&p, &headers(TOKEN), "orders", Right::Send, 4_102_444_801);
        assert!(matches!(expired, Err(ApiError::Unauthorized(_))));
        let tampered = TOKEN.replace("se=4102444800", "se=4102444801");
        assert!(matches!(
            authorize(&p, &headers(&tampered), "orders", Right::Send, 0),
            Err(ApiError::Unauthorized(_))
        ));
        let other_key = TOKEN.replace("skn=RootManageSharedAccessKey", "skn=Other");
        assert!(matches!(
            authorize(&p, &headers(&other_key), "orders", Right::Send, 0),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            authorize(&p, &HeaderMap::new(), "orders", Right::Send, 0),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(authorize(&[], &HeaderMap::new(), "orders", Right::Send, 0).is_ok());
    }

    #[test]
    fn resource_matching() {
        assert!(covers("sb://ns.example/", "h"));
        assert!(covers("sb://ns.example", "h"));
        assert!(covers("https://ns.example/H/publishers/x", "h"));
        assert!(!covers("https://ns.example/hx", "h"));
        assert!(covers("ns.example/h", "h"));
    }
}
