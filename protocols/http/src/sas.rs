//! SAS checks on the REST routes: reads `Authorization: SharedAccessSignature …` and maps
//! [`hubgate_protocol::sas`]'s verdict to a status.
//!
//! With no policy configured every route is open. Otherwise a missing, malformed, wrongly
//! signed or expired token, or an unknown key name, is `401`; a valid token whose resource does
//! not cover the hub, whose policy is limited to other hubs, or whose policy lacks the route's
//! right is `403`. Webhook routes use their own signatures instead.

use axum::http::{HeaderMap, header};
use hubgate_protocol::sas::{Right, SasError, SasPolicies};

use crate::error::ApiError;

/// Checks the request's token against `policies` for `right` on `hub` at `now_secs`.
pub(crate) fn authorize(
    policies: &SasPolicies,
    headers: &HeaderMap,
    hub: &str,
    right: Right,
    now_secs: i64,
) -> Result<(), ApiError> {
    if policies.is_empty() {
        return Ok(());
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization header"))?
        .to_str()
        .map_err(|_| unauthorized("Authorization header is not ASCII"))?;
    policies
        .verify(token, hub, right, now_secs)
        .map(drop)
        .map_err(api_error)
}

/// `403` for a valid token that does not reach this hub or right, `401` for the rest.
fn api_error(error: SasError) -> ApiError {
    if error.is_denied() {
        ApiError::Forbidden(error.to_string())
    } else {
        unauthorized(&error.to_string())
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
        assert!(authorize(&p, &headers(TOKEN), "orders", Right::Send, 0).is_ok());
        assert!(authorize(&p, &headers(TOKEN), "ORDERS", Right::Send, 0).is_ok());
        let e = authorize(&p, &headers(TOKEN), "orders", Right::Manage, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let e = authorize(&p, &headers(TOKEN), "other", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let limited = policies(send, &["audit"]);
        let e = authorize(&limited, &headers(TOKEN), "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Forbidden(_)), "{e}");
        let manage = policies(Rights::from(Right::Manage), &[]);
        assert!(authorize(&manage, &headers(TOKEN), "orders", Right::Listen, 0).is_ok());
    }

    #[test]
    fn bad_tokens_are_unauthorized() {
        let p = policies(Rights::from(Right::Send), &[]);
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
        let e = authorize(&p, &HeaderMap::new(), "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Unauthorized(_)));
        assert_eq!(
            e.to_string(),
            "SAS token rejected: missing Authorization header"
        );
        let e = authorize(&p, &headers("Bearer abc"), "orders", Right::Send, 0).unwrap_err();
        assert!(matches!(e, ApiError::Unauthorized(_)));
        let mut non_ascii = HeaderMap::new();
        non_ascii.insert(
            header::AUTHORIZATION,
            axum::http::HeaderValue::from_bytes(b"SharedAccessSignature \xff").unwrap(),
        );
        assert!(matches!(
            authorize(&p, &non_ascii, "orders", Right::Send, 0),
            Err(ApiError::Unauthorized(_))
        ));
        let open = SasPolicies::default();
        assert!(authorize(&open, &HeaderMap::new(), "orders", Right::Send, 0).is_ok());
    }
}
