//! Request headers that carry credentials, which are never stored on records.

/// Header names (lower case) that carry credentials.
const NAMES: &[&str] = &[
    "authorization",
    "servicebusauthorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

/// Name endings (lower case) that mark a header as a credential.
const SUFFIXES: &[&str] = &["-key", "-token", "-secret"];

/// Whether a request header named `name` may carry a credential: `Authorization`,
/// `ServiceBusAuthorization`, `Proxy-Authorization`, `Cookie`, `X-Api-Key`, or a name ending in
/// `-key`, `-token` or `-secret`, all compared case-insensitively.
pub(crate) fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    NAMES.contains(&name.as_str()) || SUFFIXES.iter().any(|s| name.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers() {
        for name in [
            "Authorization",
            "ServiceBusAuthorization",
            "proxy-authorization",
            "Cookie",
            "X-API-Key",
            "x-partner-key",
            "X-Session-Token",
            "x-webhook-secret",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in [
            "x-trace-id",
            "x-keyboard",
            "token",
            "x-secretive",
            "user-agent",
        ] {
            assert!(!is_credential(name), "{name}");
        }
    }
}
