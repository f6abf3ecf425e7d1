//! ApiVersions (key 18): the advertised version ranges, and the KIP-511 fallback for clients
//! asking with a newer ApiVersions version than this broker knows.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::ApiVersionsRequest;
use kafka_protocol::messages::ApiVersionsResponse;
use kafka_protocol::messages::api_versions_response::ApiVersion;

use crate::error::code;
use crate::versions::{ADVERTISED, advertised};

/// Answers an ApiVersions request of a served version.
pub(crate) fn handle(request: &ApiVersionsRequest, version: i16) -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default().with_api_keys(
        ADVERTISED
            .iter()
            .map(|a| {
                ApiVersion::default()
                    .with_api_key(a.key as i16)
                    .with_min_version(a.min)
                    .with_max_version(a.max)
            })
            .collect(),
    );
    if version >= 3 {
        let name = request.client_software_name.as_str();
        let client_version = request.client_software_version.as_str();
        tracing::debug!(client = name, client_version, "client software");
        if !valid_software_field(name) || !valid_software_field(client_version) {
            response.error_code = code::INVALID_REQUEST;
        }
    }
    response
}

/// The v0-format answer to an ApiVersions request of an unknown version: error 35 and the
/// ApiVersions range only, so the client retries with a version it shares with us.
pub(crate) fn unsupported_version() -> ApiVersionsResponse {
    let max = advertised(ApiKey::ApiVersions).map_or(0, |a| a.max);
    ApiVersionsResponse::default()
        .with_error_code(code::UNSUPPORTED_VERSION)
        .with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(ApiKey::ApiVersions as i16)
                .with_min_version(0)
                .with_max_version(max),
        ])
}

/// Kafka's rule for `client_software_name`/`version`: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn valid_software_field(value: &str) -> bool {
    let bytes = value.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn software_fields_follow_kafkas_pattern() {
        for good in ["librdkafka", "2.16.0", "a", "kafka-python"] {
            assert!(valid_software_field(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a b", "a_b"] {
            assert!(!valid_software_field(bad), "{bad}");
        }
    }

    #[test]
    fn lists_every_advertised_api_and_rejects_bad_software_names() {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("x y"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        let response = handle(&request, 3);
        assert_eq!(response.error_code, code::INVALID_REQUEST);
        assert_eq!(response.api_keys.len(), ADVERTISED.len());
        assert_eq!(handle(&request, 2).error_code, code::NONE);
    }
}
