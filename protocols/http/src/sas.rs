//! SAS checks on the REST routes: reads `Authorization: SharedAccessSignature …` (or uses the
//! connection's verified client certificate) and maps [`hubgate_protocol::sas`]'s verdict to a
//! status.
//!
//! With no policy configured every route is open. Otherwise a missing, malformed, wrongly
//! signed or expired token, or an unknown key name, is `401`; a valid token whose resource does
//! not cover the hub, whose policy is limited to other hubs, or whose policy lacks the route's
//! right is `403`. A wrong signature and an unknown key name get the same message, so a caller
//! cannot learn which policy names exist. A request without `Authorization` on a connection
//! whose TLS client certificate maps to a policy (`cert_subject`) acts as that policy.

use axum::http::{HeaderMap, header};
use hubgate_protocol::Grant;
use hubgate_protocol::sas::{Right, SasError, SasPolicies};

use crate::error::ApiError;

/// The 401 message for an unknown key name and for a wrong signature alike.
const BAD_CREDENTIAL: &str = "the signature does not match any key";

/// Checks the request's token (or, without one, the client certificate's `cert` grant) against
/// `policies` for `right` on `hub` at `now_secs`.
pub(crate) fn authorize(
    policies: &SasPolicies,
    headers: &HeaderMap,
    cert: Option<&Grant>,
    hub: &str,
    right: Right,
    now_secs: i64,
) -> Result<(), ApiError> {
    if policies.is_empty() {
        return Ok(());
    }
    match token(headers)? {
        Some(token) => policies
            .verify(token, hub, right, now_secs)
            .map(drop)
            .map_err(api_error),
        None => match cert {
            Some(grant) => grant.authorize(hub, right, now_secs).map_err(api_error),
            None => Err(unauthorized("missing Authorization header")),
        },
    }
}

/// Checks that the caller may read the gateway-wide metrics: a valid token (or client
/// certificate) of a policy with the Listen right (Manage implies it) that is not limited to
/// some hubs, since the metrics cover every hub.
pub(crate) fn authorize_metrics(
    policies: &SasPolicies,
    headers: &HeaderMap,
    cert: Option<&Grant>,
    now_secs: i64,
) -> Result<(), ApiError> {
    if policies.is_empty() {
        return Ok(());
    }
    let grant = match token(headers)? {
        Some(token) => policies.authenticate(token, now_secs).map_err(api_error)?,
        None => match cert {
            Some(grant) if grant.expires_at() >= now_secs => grant.clone(),
            _ => return Err(unauthorized("missing Authorization header")),
        },
    };
    let every_hub = policies
        .get(grant.policy())
        .is_some_and(|p| p.hubs.is_empty());
    if !grant.rights().allows(Right::Listen) || !every_hub {
        return Err(ApiError::Forbidden(format!(
            "policy `{}` cannot read the metrics: it needs the listen or manage right on every hub",
            grant.policy()
        )));
    }
    Ok(())
}

/// The `Authorization` header's text, if there is one.
fn token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_err(|_| unauthorized("Authorization header is not ASCII"))
        })
        .transpose()
}

/// `403` for a valid token that does not reach this hub or right, `401` for the rest.
fn api_error(error: SasError) -> ApiError {
    match error {
        e if e.is_denied() => ApiError::Forbidden(e.to_string()),
        SasError::UnknownKeyName(_) | SasError::BadSignature => unauthorized(BAD_CREDENTIAL),
        e => unauthorized(&e.to_string()),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(format!("SAS token rejected: {message}"))
}

#[cfg(test)]
mod tests {
    use hubgate_protocol::Secret;
    use hubgate_protocol::sas::{Rights, SasPolicy};

    use super::*;

    fn policies(rights: Rights, hubs: &[&str]) -> SasPolicies {
        SasPolicies::new([SasPolicy {
            name: "RootManageSharedAccessKey".into(),
            key: Secret::new("s3cr3t"),
            rights,
            hubs: hubs.iter().map(|h| (*h).to_owned()).collect(),
            cert_subject: None,
        }])
        .unwrap()
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
        let send = Rights::from(Right::Send);
        let p = policies(send, &[]);
        assert!(authorize(&p, &headers(TOKEN), None, "orders", Right::Send, 0).is_ok());
        assert!(authorize(&p, &headers(TOKEN), None, "ORDERS", Right::Send, 0).is_ok());
        let e = authorize(&p, &headers(TOKEN), None, "orders", Right::Manage, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let e = authorize(&p, &headers(TOKEN), None, "other", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let limited = policies(send, &["audit"]);
        let e = authorize(&limited, &headers(TOKEN), None, "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let manage = policies(Rights::from(Right::Manage), &[]);
        assert!(authorize(&manage, &headers(TOKEN), None, "orders", Right::Listen, 0).is_ok());
    }

    #[test]
    fn bad_tokens_are_unauthorized() {
        let p = policies(Rights::from(Right::Send), &[]);
        let expired = authorize(
            &p,
            &headers(TOKEN),
            None,
            "orders",
            Right::Send,
            4_102_444_801,
        );
        assert!(matches!(expired, Err(ApiError::Unauthorized(_))));
        let tampered = TOKEN.replace("se=4102444800", "se=4102444801");
        assert!(matches!(
            authorize(&p, &headers(&tampered), None, "orders", Right::Send, 0),
            Err(ApiError::Unauthorized(_))
        ));
        let other_key = TOKEN.replace("skn=RootManageSharedAccessKey", "skn=Other");
        let unknown = authorize(&p, &headers(&other_key), None, "orders", Right::Send, 0);
        let unknown = unknown.unwrap_err().to_string();
        assert!(!unknown.contains("Other"), "names no key: {unknown}");
        let wrong_sig = TOKEN.replace("sig=axel", "sig=bxel");
        let wrong_sig = authorize(&p, &headers(&wrong_sig), None, "orders", Right::Send, 0);
        assert_eq!(
            wrong_sig.unwrap_err().to_string(),
            unknown,
            "an unknown key name and a bad signature read the same"
        );
        let e = authorize(&p, &HeaderMap::new(), None, "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Unauthorized(_)));
        assert_eq!(
            e.to_string(),
            "SAS token rejected: missing Authorization header"
        );
        let e = authorize(&p, &headers("Bearer abc"), None, "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Unauthorized(_)));
        let mut non_ascii = HeaderMap::new();
        non_ascii.insert(
            header::AUTHORIZATION,
            axum::http::HeaderValue::from_bytes(b"SharedAccessSignature \xff").unwrap(),
        );
        assert!(matches!(
            authorize(&p, &non_ascii, None, "orders", Right::Send, 0),
            Err(ApiError::Unauthorized(_))
        ));
        let open = SasPolicies::default();
        assert!(authorize_metrics(&open, &HeaderMap::new(), None, 0).is_ok());
        assert!(authorize(&open, &HeaderMap::new(), None, "orders", Right::Send, 0).is_ok());
    }
}

#[cfg(test)]
mod cert_and_metrics {
    use hubgate_protocol::Secret;
    use hubgate_protocol::sas::{Rights, SasPolicy, sign_token};

    use super::*;

    fn policies() -> SasPolicies {
        let policy = |name: &str, right, hubs: &[&str], subject: Option<&str>| SasPolicy {
            name: name.into(),
            key: Secret::new(format!("{name}-key")),
            rights: Rights::from(right),
            hubs: hubs.iter().map(|h| (*h).to_owned()).collect(),
            cert_subject: subject.map(str::to_owned),
        };
        SasPolicies::new([
            policy("sender", Right::Send, &[], Some("CN=client-a")),
            policy("listener", Right::Listen, &[], None),
            policy("orders-reader", Right::Listen, &["orders"], None),
        ])
        .unwrap()
    }

    fn headers(name: &str) -> HeaderMap {
        let token = sign_token(
            name,
            &Secret::new(format!("{name}-key")),
            "sb://ns/",
            4_102_444_800,
        );
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, token.parse().unwrap());
        h
    }

    #[test]
    fn a_client_certificate_acts_as_its_policy() {
        let p = policies();
        let grant = p.authenticate_cert("CN=client-a").unwrap();
        let none = HeaderMap::new();
        assert!(authorize(&p, &none, Some(&grant), "orders", Right::Send, 0).is_ok());
        let e = authorize(&p, &none, Some(&grant), "orders", Right::Listen, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        // A token given beside the certificate is what counts.
        let e = authorize(
            &p,
            &headers("listener"),
            Some(&grant),
            "orders",
            Right::Send,
            0,
        );
        assert!(matches!(e, Err(ApiError::Forbidden(_))));
    }

    #[test]
    fn metrics_need_listen_on_every_hub() {
        let p = policies();
        let none = HeaderMap::new();
        assert!(matches!(
            authorize_metrics(&p, &none, None, 0),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(authorize_metrics(&p, &headers("listener"), None, 0).is_ok());
        for name in ["sender", "orders-reader"] {
            let e = authorize_metrics(&p, &headers(name), None, 0).unwrap_err();
            assert!(matches!(e, ApiError::Forbidden(_)), "{name}: {e}");
        }
        let cert = p.authenticate_cert("CN=client-a").unwrap();
        assert!(matches!(
            authorize_metrics(&p, &none, Some(&cert), 0),
            Err(ApiError::Forbidden(_))
        ));
    }
}
