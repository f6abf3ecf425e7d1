//! A Blob request as the operations see it: names from the raw path, decoded query parameters,
//! metadata and conditional headers, each checked and capped before use.

use axum::http::{HeaderMap, Method, Uri};
use hubgate_protocol::percent;
use hubgate_storage::Precondition;

use crate::error::BlobError;

/// Longest blob name, in bytes of its UTF-8 form (Azure's limit is 1,024 characters).
pub(crate) const MAX_BLOB_NAME: usize = 1024;
/// Most bytes of metadata names and values together (Azure's limit).
pub(crate) const MAX_METADATA_BYTES: usize = 8 << 10;
/// Most query parameters read.
const MAX_QUERY_PARAMS: usize = 64;
/// Prefix of the metadata headers.
const META_PREFIX: &str = "x-ms-meta-";

/// The parsed request line and headers.
#[derive(Debug)]
pub(crate) struct BlobRequest {
    pub(crate) method: Method,
    pub(crate) account: String,
    pub(crate) container: Option<String>,
    /// The decoded blob name.
    pub(crate) blob: Option<String>,
    /// Query parameters with lower-cased names and decoded values, in request order.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
}

impl BlobRequest {
    /// Parses the path and query of `uri`.
    pub(crate) fn parse(method: Method, uri: &Uri, headers: HeaderMap) -> Result<Self, BlobError> {
        let query = parse_query(uri.query().unwrap_or(""))?;
        let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
        let mut parts = path.splitn(3, '/');
        let account = parts.next().unwrap_or("").to_owned();
        if account.is_empty() {
            return Err(BlobError::InvalidUri("the path names no storage account"));
        }
        let container = match parts.next().filter(|c| !c.is_empty()) {
            Some(raw) => Some(container_name(raw)?),
            None => None,
        };
        let blob = match parts.next().filter(|b| !b.is_empty()) {
            Some(raw) => {
                let name = percent::decode(raw.as_bytes()).ok_or(BlobError::InvalidUri(
                    "the blob name is not valid percent-encoded UTF-8",
                ))?;
                if name.len() > MAX_BLOB_NAME {
                    return Err(BlobError::InvalidResourceName(
                        "blob names are at most 1024 bytes",
                    ));
                }
                Some(name)
            }
            None => None,
        };
        Ok(Self {
            method,
            account,
            container,
            blob,
            query,
            headers,
        })
    }

    /// The first value of query parameter `name` (lower case).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A header's value as text; `None` when absent.
    pub(crate) fn header(&self, name: &'static str) -> Result<Option<&str>, BlobError> {
        self.headers
            .get(name)
            .map(|v| v.to_str().map_err(|_| BlobError::InvalidHeaderValue(name)))
            .transpose()
    }

    /// The `x-ms-meta-*` headers as (name, value), sorted by name; names are lower case (the
    /// http crate normalises them) and values may be empty.
    pub(crate) fn metadata(&self) -> Result<Vec<(String, String)>, BlobError> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut total = 0usize;
        for (name, value) in &self.headers {
            let Some(key) = name.as_str().strip_prefix(META_PREFIX) else {
                continue;
            };
            if !is_identifier(key) {
                return Err(BlobError::InvalidMetadata(
                    "metadata names must be C# identifiers",
                ));
            }
            let value = value
                .to_str()
                .map_err(|_| BlobError::InvalidMetadata("metadata values must be ASCII"))?;
            total += key.len() + value.len();
            if total > MAX_METADATA_BYTES {
                return Err(BlobError::MetadataTooLarge(MAX_METADATA_BYTES));
            }
            if out.iter().any(|(k, _)| k == key) {
                return Err(BlobError::InvalidMetadata("a metadata name is repeated"));
            }
            out.push((key.to_owned(), value.trim().to_owned()));
        }
        out.sort();
        Ok(out)
    }

    /// `If-Match` / `If-None-Match`, refusing the conditional headers hubgate does not evaluate
    /// (so that a condition is never silently ignored).
    pub(crate) fn conditions(&self) -> Result<Conditions, BlobError> {
        for unsupported in ["if-modified-since", "if-unmodified-since", "x-ms-if-tags"] {
            if self.headers.contains_key(unsupported) {
                return Err(BlobError::UnsupportedHeader(unsupported));
            }
        }
        if self.headers.contains_key("x-ms-lease-id") {
            return Err(BlobError::UnsupportedHeader("x-ms-lease-id"));
        }
        Ok(Conditions {
            if_match: self.header("if-match")?.map(Match::parse),
            if_none_match: self.header("if-none-match")?.map(Match::parse),
        })
    }
}

/// One conditional header's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// `*`.
    Any,
    /// An ETag, as the version it names; `None` for one hubgate never issued.
    Etag(Option<u64>),
}

impl Match {
    fn parse(value: &str) -> Self {
        let value = value.trim();
        if value == "*" {
            return Self::Any;
        }
        let tag = value.trim_start_matches("W/").trim_matches('"');
        let hex = tag
            .strip_prefix("0x")
            .or_else(|| tag.strip_prefix("0X"))
            .unwrap_or("");
        Self::Etag(
            u64::from_str_radix(hex, 16)
                .ok()
                .filter(|_| !hex.is_empty()),
        )
    }
}

/// The conditional headers of a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Conditions {
    pub(crate) if_match: Option<Match>,
    pub(crate) if_none_match: Option<Match>,
}

impl Conditions {
    /// The error for a blob that does not exist: `412 ConditionNotMet` when `If-Match` was
    /// given (as Azurite answers), else `404 BlobNotFound`.
    pub(crate) fn missing(self) -> BlobError {
        if self.if_match.is_some() {
            BlobError::ConditionNotMet
        } else {
            BlobError::BlobNotFound
        }
    }

    /// Whether they hold for an object whose version is `current`.
    pub(crate) fn hold(self, current: Option<u64>) -> bool {
        self.atomic().holds(current) && self.none_match().holds(current)
    }

    /// The condition a write checks atomically: `If-Match` when given, else `If-None-Match`.
    pub(crate) fn atomic(self) -> Precondition {
        match (self.if_match, self.if_none_match) {
            (Some(m), _) => match m {
                Match::Any => Precondition::Present,
                Match::Etag(Some(v)) => Precondition::Version(v),
                // An ETag hubgate never issued matches nothing.
                Match::Etag(None) => Precondition::Version(u64::MAX),
            },
            (None, Some(_)) => self.none_match(),
            (None, None) => Precondition::Any,
        }
    }

    fn none_match(self) -> Precondition {
        match self.if_none_match {
            Some(Match::Any) => Precondition::Absent,
            Some(Match::Etag(Some(v))) => Precondition::NotVersion(v),
            Some(Match::Etag(None)) | None => Precondition::Any,
        }
    }

    /// The write condition that also requires the object to exist (Set Metadata never creates).
    pub(crate) fn existing(self) -> Precondition {
        match self.atomic() {
            Precondition::Any | Precondition::NotVersion(_) => Precondition::Present,
            other => other,
        }
    }
}

fn parse_query(raw: &str) -> Result<Vec<(String, String)>, BlobError> {
    let mut out = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_QUERY_PARAMS {
            return Err(BlobError::InvalidQueryParameterValue(
                "more than 64 query parameters",
            ));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = BlobError::InvalidQueryParameterValue("not valid percent-encoded UTF-8");
        let k = percent::decode(k.as_bytes()).ok_or(bad)?;
        let v = percent::decode(v.as_bytes()).ok_or(BlobError::InvalidQueryParameterValue(
            "not valid percent-encoded UTF-8",
        ))?;
        out.push((k.to_ascii_lowercase(), v));
    }
    Ok(out)
}

/// Azure's container name rule: 3–63 lower-case letters, digits and single hyphens, starting
/// and ending with a letter or digit.
fn container_name(raw: &str) -> Result<String, BlobError> {
    let bytes = raw.as_bytes();
    let valid = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
        && !raw.contains("--");
    if !valid {
        return Err(BlobError::InvalidResourceName(
            "container names are 3-63 lower-case letters, digits and single hyphens",
        ));
    }
    Ok(raw.to_owned())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&'static str, &str)]) -> Result<BlobRequest, BlobError> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, v.parse().unwrap());
        }
        BlobRequest::parse(Method::PUT, &uri.parse().unwrap(), map)
    }

    #[test]
    fn names_come_decoded_from_the_raw_path() {
        let r = req(
            "/devstoreaccount1/ckpt/127.0.0.1%3A5672/hub1/%24default/ownership/0?comp=metadata",
            &[],
        )
        .unwrap();
        assert_eq!(r.account, "devstoreaccount1");
        assert_eq!(r.container.as_deref(), Some("ckpt"));
        assert_eq!(
            r.blob.as_deref(),
            Some("127.0.0.1:5672/hub1/$default/ownership/0")
        );
        assert_eq!(r.param("comp"), Some("metadata"));
        let bare = req(
            "/devstoreaccount1/ckpt/127.0.0.1:5672/hub1/$default/ownership/0",
            &[],
        )
        .unwrap();
        assert_eq!(bare.blob, r.blob);
        assert!(matches!(
            req("/a/Bad_Name", &[]),
            Err(BlobError::InvalidResourceName(_))
        ));
        let long = format!("/a/ckpt/{}", "n".repeat(MAX_BLOB_NAME + 1));
        assert!(matches!(
            req(&long, &[]),
            Err(BlobError::InvalidResourceName(_))
        ));
        assert!(req(&format!("/a/ckpt/{}", "n".repeat(MAX_BLOB_NAME)), &[]).is_ok());
        assert!(matches!(
            req("/a/ckpt/%zz", &[]),
            Err(BlobError::InvalidUri(_))
        ));
    }

    #[test]
    fn metadata_keeps_empty_values_and_is_capped() {
        let r = req(
            "/a/ckpt/b",
            &[("x-ms-meta-ownerid", ""), ("x-ms-meta-offset", "12")],
        )
        .unwrap();
        assert_eq!(
            r.metadata().unwrap(),
            [
                ("offset".to_owned(), "12".to_owned()),
                ("ownerid".to_owned(), String::new())
            ]
        );
        let big = "v".repeat(MAX_METADATA_BYTES);
        let r = req("/a/ckpt/b", &[("x-ms-meta-k", &big)]).unwrap();
        assert!(matches!(r.metadata(), Err(BlobError::MetadataTooLarge(_))));
        let ok = "v".repeat(MAX_METADATA_BYTES - 1);
        assert!(
            req("/a/ckpt/b", &[("x-ms-meta-k", &ok)])
                .unwrap()
                .metadata()
                .is_ok()
        );
        let r = req("/a/ckpt/b", &[("x-ms-meta-1x", "v")]).unwrap();
        assert!(matches!(r.metadata(), Err(BlobError::InvalidMetadata(_))));
    }

    #[test]
    fn quoted_and_unquoted_etags_name_the_same_version() {
        for etag in [
            "\"0x000000000000000A\"",
            "0x000000000000000A",
            "0x0000000000000000A",
        ] {
            let r = req("/a/ckpt/b", &[("if-match", etag)]).unwrap();
            assert_eq!(
                r.conditions().unwrap().atomic(),
                Precondition::Version(10),
                "{etag}"
            );
        }
        let r = req("/a/ckpt/b", &[("if-match", "\"bogus\"")]).unwrap();
        assert!(!r.conditions().unwrap().hold(Some(10)));
        let r = req("/a/ckpt/b", &[("if-none-match", "*")]).unwrap();
        let c = r.conditions().unwrap();
        assert_eq!(c.atomic(), Precondition::Absent);
        assert!(c.hold(None) && !c.hold(Some(1)));
        assert_eq!(c.existing(), Precondition::Absent);
        assert_eq!(Conditions::default().existing(), Precondition::Present);
        let r = req(
            "/a/ckpt/b",
            &[("if-unmodified-since", "Wed, 02 Dec 2026 07:33:39 GMT")],
        )
        .unwrap();
        assert!(matches!(
            r.conditions(),
            Err(BlobError::UnsupportedHeader(_))
        ));
    }
}
