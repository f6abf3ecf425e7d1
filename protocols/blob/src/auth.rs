//! SharedKey request signing (Azure Storage, versions 2009-09-19 and later), verified over the
//! raw path exactly as the client sent it: clients differ in how they percent-encode blob
//! names (`%24default` or `$default`) and each signs what it sends.

use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, Uri};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use hubgate_protocol::percent;
use sha2::Sha256;

use crate::config::{BlobConfig, StorageAccount};
use crate::error::BlobError;

/// Largest distance between a request's date and the server's clock.
const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The standard headers signed, in order, before the `x-ms-*` ones.
const SIGNED_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// The SharedKey string-to-sign of a request for `account`: the verb, the standard headers
/// (an absent header and `Content-Length: 0` give empty lines), the sorted `x-ms-*` headers,
/// then `/{account}{raw path}` and the sorted, decoded query parameters.
///
/// `None` when a header value is not text or a query parameter does not decode.
pub fn string_to_sign(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    account: &str,
) -> Option<String> {
    let mut out = String::with_capacity(512);
    out.push_str(method.as_str());
    out.push('\n');
    for name in SIGNED_HEADERS {
        let value = match headers.get(name) {
            Some(v) => v.to_str().ok()?,
            None => "",
        };
        if !(name == "content-length" && value == "0") {
            out.push_str(value);
        }
        out.push('\n');
    }
    let mut ms: Vec<(&str, String)> = Vec::new();
    for name in headers.keys() {
        if !name.as_str().starts_with("x-ms-") {
            continue;
        }
        let values: Option<Vec<&str>> = headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().ok().map(str::trim_start))
            .collect();
        ms.push((name.as_str(), values?.join(",")));
    }
    ms.sort();
    for (name, value) in ms {
        out.push_str(name);
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    out.push('/');
    out.push_str(account);
    out.push_str(uri.path());
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent::decode(k.as_bytes())?.to_ascii_lowercase();
        let v = percent::decode(v.as_bytes())?;
        match params.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(v),
            None => params.push((k, vec![v])),
        }
    }
    params.sort();
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    Some(out)
}

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// Signed with a key of this account.
    Signed(String),
    /// Unsigned, allowed in open mode.
    Anonymous,
}

/// Checks a request against the configured accounts: the path's account must be served, a
/// signature must be valid, recent and made for that account; unsigned requests pass only
/// when no signature is required.
pub(crate) fn verify(
    config: &BlobConfig,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    path_account: &str,
    now: SystemTime,
) -> Result<Caller, BlobError> {
    let Some(account) = config.accounts.iter().find(|a| a.name == path_account) else {
        return Err(BlobError::AuthenticationFailed(
            "the path names no storage account served here",
        ));
    };
    let Some(authorization) = headers.get("authorization") else {
        if uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("sig=")))
        {
            return Err(BlobError::AuthenticationFailed(
                "shared access signatures are not supported; sign with the account key",
            ));
        }
        if config.require_signature {
            return Err(BlobError::AuthenticationFailed(
                "the request is not signed and access policies are configured",
            ));
        }
        return Ok(Caller::Anonymous);
    };
    let authorization = authorization
        .to_str()
        .map_err(|_| BlobError::AuthenticationFailed("malformed Authorization header"))?;
    let Some((name, signature)) = authorization
        .strip_prefix("SharedKey ")
        .and_then(|rest| rest.trim().split_once(':'))
    else {
        return Err(BlobError::AuthenticationFailed(
            "only SharedKey authorization is supported",
        ));
    };
    if name != account.name {
        return Err(BlobError::AuthenticationFailed(
            "the signing account is not the account in the path",
        ));
    }
    check_date(headers, now)?;
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return Err(BlobError::AuthenticationFailed(
            "the signature is not base64",
        ));
    };
    let text = string_to_sign(method, uri, headers, &account.name).ok_or(
        BlobError::AuthenticationFailed("the request cannot be canonicalized"),
    )?;
    if signed_by(account, &text, &signature) {
        Ok(Caller::Signed(account.name.clone()))
    } else {
        tracing::debug!(account = %account.name, "blob request with a bad signature");
        Err(BlobError::AuthenticationFailed(
            "the MAC signature does not match the request",
        ))
    }
}

fn signed_by(account: &StorageAccount, text: &str, signature: &[u8]) -> bool {
    account.keys.iter().any(|key| {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
        Hmac::<Sha256>::new_from_slice(key.expose()).is_ok_and(|mut mac| {
            mac.update(text.as_bytes());
            // Constant-time comparison.
            mac.verify_slice(signature).is_ok()
        })
    })
}

fn check_date(headers: &HeaderMap, now: SystemTime) -> Result<(), BlobError> {
    let date = headers
        .get("x-ms-date")
        .or_else(|| headers.get("date"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .ok_or(BlobError::AuthenticationFailed(
            "a signed request needs an x-ms-date or Date header",
        ))?;
    let skew = now
        .duration_since(date)
        .or_else(|_| date.duration_since(now))
        .unwrap_or_default();
    if skew > MAX_CLOCK_SKEW {
        return Err(BlobError::AuthenticationFailed(
            "the request date is more than 15 minutes from the server's clock",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEV_ACCOUNT;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    fn sign(text: &str) -> String {
        let key = &StorageAccount::development().keys[0];
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).unwrap();
        mac.update(text.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    const DATE: &str = "Wed, 02 Dec 2026 07:33:39 GMT";

    fn vector_one() -> (Method, Uri, HeaderMap) {
        let uri: Uri =
            "/devstoreaccount1/ckpt/127.0.0.1%3A5672/hub1/%24default/ownership/0?comp=metadata"
                .parse()
                .unwrap();
        let h = headers(&[
            ("if-none-match", "*"),
            ("x-ms-meta-ownerid", "A"),
            ("x-ms-version", "2019-07-07"),
            ("content-length", "0"),
            ("x-ms-date", DATE),
            (
                "x-ms-client-request-id",
                "b13e2474-ee22-11f1-bfc1-02fc00000001",
            ),
        ]);
        (Method::PUT, uri, h)
    }

    #[test]
    fn the_reference_put_metadata_vector() {
        let (m, uri, h) = vector_one();
        let text = string_to_sign(&m, &uri, &h, DEV_ACCOUNT).unwrap();
        assert_eq!(
            text,
            "PUT\n\n\n\n\n\n\n\n\n*\n\n\nx-ms-client-request-id:b13e2474-ee22-11f1-bfc1-02fc00000001\nx-ms-date:Wed, 02 Dec 2026 07:33:39 GMT\nx-ms-meta-ownerid:A\nx-ms-version:2019-07-07\n/devstoreaccount1/devstoreaccount1/ckpt/127.0.0.1%3A5672/hub1/%24default/ownership/0\ncomp:metadata"
        );
        assert_eq!(sign(&text), "ZKIJ1akrWiFxp1Bxveihyb1KmZaWtmPHzXMJe5OWYbk=");
    }

    #[test]
    fn the_reference_list_vector() {
        let uri: Uri = "/devstoreaccount1/ckpt?restype=container&comp=list&prefix=127.0.0.1%3A5672%2Fhub1%2F%24default%2Fownership%2F&include=metadata"
            .parse()
            .unwrap();
        let h = headers(&[
            ("x-ms-version", "2019-07-07"),
            ("x-ms-date", DATE),
            (
                "x-ms-client-request-id",
                "b13d5a94-ee22-11f1-bfc1-02fc00000001",
            ),
        ]);
        let text = string_to_sign(&Method::GET, &uri, &h, DEV_ACCOUNT).unwrap();
        assert!(text.ends_with("\n/devstoreaccount1/devstoreaccount1/ckpt\ncomp:list\ninclude:metadata\nprefix:127.0.0.1:5672/hub1/$default/ownership/\nrestype:container"), "{text}");
        assert_eq!(sign(&text), "Mrs1Km3LEfej9a+jYantAFwP2SWuqmBBReTrO6+SuE4=");
    }

    fn at_date() -> SystemTime {
        httpdate::parse_http_date(DATE).unwrap() + Duration::from_secs(60)
    }

    #[test]
    fn verify_accepts_the_vector_and_refuses_any_change() {
        let config = BlobConfig::default();
        let (m, uri, mut h) = vector_one();
        h.insert(
            "authorization",
            "SharedKey devstoreaccount1:ZKIJ1akrWiFxp1Bxveihyb1KmZaWtmPHzXMJe5OWYbk="
                .parse()
                .unwrap(),
        );
        assert_eq!(
            verify(&config, &m, &uri, &h, DEV_ACCOUNT, at_date()).unwrap(),
            Caller::Signed(DEV_ACCOUNT.into())
        );
        // The same name spelled `$default` is another path: the signature no longer fits.
        let bare: Uri =
            "/devstoreaccount1/ckpt/127.0.0.1:5672/hub1/$default/ownership/0?comp=metadata"
                .parse()
                .unwrap();
        assert!(verify(&config, &m, &bare, &h, DEV_ACCOUNT, at_date()).is_err());
        let mut tampered = h.clone();
        tampered.insert("x-ms-meta-ownerid", "B".parse().unwrap());
        assert!(verify(&config, &m, &uri, &tampered, DEV_ACCOUNT, at_date()).is_err());
        let late = at_date() + Duration::from_secs(20 * 60);
        assert!(
            verify(&config, &m, &uri, &h, DEV_ACCOUNT, late).is_err(),
            "stale date"
        );
        assert!(verify(&config, &m, &uri, &h, "otheraccount", at_date()).is_err());
    }

    #[test]
    fn unsigned_requests_pass_only_in_open_mode() {
        let (m, uri, h) = vector_one();
        let mut config = BlobConfig::default();
        assert_eq!(
            verify(&config, &m, &uri, &h, DEV_ACCOUNT, at_date()).unwrap(),
            Caller::Anonymous
        );
        config.require_signature = true;
        assert!(matches!(
            verify(&config, &m, &uri, &h, DEV_ACCOUNT, at_date()),
            Err(BlobError::AuthenticationFailed(_))
        ));
        config.require_signature = false;
        let sas: Uri = "/devstoreaccount1/ckpt?sv=2020-12-06&sig=abc"
            .parse()
            .unwrap();
        assert!(verify(&config, &m, &sas, &h, DEV_ACCOUNT, at_date()).is_err());
    }

    #[test]
    fn account_keys_never_show_in_debug_output() {
        let shown = format!("{:?}", BlobConfig::default());
        assert!(!shown.contains("Eby8"), "{shown}");
    }
}
