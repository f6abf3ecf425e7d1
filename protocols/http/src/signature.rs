//! Webhook signature checks: HMAC-SHA256 over the raw body, compared in constant time.

use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{Secret, Signature, SignatureEncoding};
use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Checks `body` against the signature `scheme` expects in `headers`; `now_secs` is the
/// current Unix time (for Stripe's timestamp tolerance).
///
/// # Errors
/// [`ApiError::Unauthorized`] naming what is missing or wrong (never the expected value).
pub(crate) fn verify(
    scheme: &Signature,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<(), ApiError> {
    match scheme {
        Signature::GitHub { secret } => {
            let sent = header(headers, "x-hub-signature-256")?;
            let hex = sent
                .strip_prefix("sha256=")
                .ok_or_else(|| unauthorized("X-Hub-Signature-256 does not start with `sha256=`"))?;
            let mac =
                hex::decode(hex).map_err(|_| unauthorized("X-Hub-Signature-256 is not hex"))?;
            check(secret, &[body], &mac, "X-Hub-Signature-256")
        }
        Signature::Stripe { secret, tolerance } => {
            let sent = header(headers, "stripe-signature")?;
            stripe(secret, *tolerance, sent, body, now_secs)
        }
        Signature::Hmac {
            secret,
            header: name,
            prefix,
            encoding,
        } => {
            let sent = header(headers, name.as_str())?;
            let encoded = sent
                .strip_prefix(prefix.as_str())
                .ok_or_else(|| unauthorized(&format!("{name} does not start with `{prefix}`")))?;
            let mac = match encoding {
                SignatureEncoding::Hex => hex::decode(encoded).ok(),
                SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok(),
            }
            .ok_or_else(|| unauthorized(&format!("{name} is not valid {encoding:?}")))?;
            check(secret, &[body], &mac, name.as_str())
        }
    }
}

fn stripe(
    secret: &Secret,
    tolerance: Duration,
    sent: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), ApiError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in sent.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t),
            Some(("v1", sig)) => candidates.push(sig),
            _ => {}
        }
    }
    let t = timestamp.ok_or_else(|| unauthorized("Stripe-Signature has no timestamp `t=`"))?;
    let t_secs: i64 = t
        .parse()
        .map_err(|_| unauthorized("Stripe-Signature timestamp is not a number"))?;
    if now_secs.abs_diff(t_secs) > tolerance.as_secs() {
        return Err(unauthorized(
            "Stripe-Signature timestamp is outside the tolerance",
        ));
    }
    if candidates.is_empty() {
        return Err(unauthorized("Stripe-Signature has no `v1=` signature"));
    }
    for candidate in candidates {
        if let Ok(mac) = hex::decode(candidate)
            && check(
                secret,
                &[t.as_bytes(), b".", body],
                &mac,
                "Stripe-Signature",
            )
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(unauthorized("Stripe-Signature does not match"))
}

/// Constant-time comparison through `Mac::verify_slice`.
fn check(secret: &Secret, parts: &[&[u8]], sent: &[u8], what: &str) -> Result<(), ApiError> {
    // HMAC accepts keys of any length, so this cannot fail; map it anyway rather than panic.
    let mut mac = HmacSha256::new_from_slice(secret.expose())
        .map_err(|_| unauthorized("webhook secret is unusable"))?;
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(sent)
        .map_err(|_| unauthorized(&format!("{what} does not match")))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or_else(|| unauthorized(&format!("missing signature header {name}")))?
        .to_str()
        .map_err(|_| unauthorized(&format!("{name} is not ASCII")))
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(format!("webhook signature rejected: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], data: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    /// GitHub's documented example: secret "It's a Secret to Everybody", payload
    /// "Hello, World!".
    #[test]
    fn github_documented_vector() {
        let scheme = Signature::GitHub {
            secret: Secret::new("It's a Secret to Everybody"),
        };
        let h = headers(&[(
            "x-hub-signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )]);
        assert!(verify(&scheme, &h, b"Hello, World!", 0).is_ok());
        assert!(verify(&scheme, &h, b"Hello, World?", 0).is_err());
        assert!(verify(&scheme, &HeaderMap::new(), b"Hello, World!", 0).is_err());
    }

    #[test]
    fn stripe_checks_signature_and_tolerance() {
        let secret = b"whsec_test";
        let scheme = Signature::Stripe {
            secret: Secret::new(secret.to_vec()),
            tolerance: Duration::from_secs(300),
        };
        let body = br#"{"id":"evt_1"}"#;
        let t = 1_700_000_000i64;
        let sig = sign(
            secret,
            format!("{t}.{}", std::str::from_utf8(body).unwrap()).as_bytes(),
        );
        let good = headers(&[(
            "stripe-signature",
            &format!("t={t},v1=deadbeef,v1={sig},v0=00"),
        )]);
        assert!(verify(&scheme, &good, body, t + 10).is_ok());
        assert!(verify(&scheme, &good, body, t + 301).is_err(), "stale");
        assert!(verify(&scheme, &good, b"{}", t).is_err(), "tampered");
        let wrong = headers(&[("stripe-signature", &format!("t={},v1={sig}", t + 1))]);
        assert!(
            verify(&scheme, &wrong, body, t).is_err(),
            "timestamp is signed"
        );
    }

    #[test]
    fn generic_hmac_with_prefix_and_base64() {
        let secret = b"s3";
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(b"payload");
        let b64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let scheme = Signature::Hmac {
            secret: Secret::new(secret.to_vec()),
            header: axum::http::HeaderName::from_static("x-signature"),
            prefix: "v1:".into(),
            encoding: SignatureEncoding::Base64,
        };
        let h = headers(&[("x-signature", &format!("v1:{b64}"))]);
        assert!(verify(&scheme, &h, b"payload", 0).is_ok());
        let no_prefix = headers(&[("x-signature", &b64)]);
        assert!(verify(&scheme, &no_prefix, b"payload", 0).is_err());
    }
}
