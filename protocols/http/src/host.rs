//! DNS-rebinding protection: on a loopback listener, a request must name a loopback host.
//!
//! A web page on another site can make a browser send requests to `127.0.0.1` under its own
//! host name (by pointing that name's DNS record at 127.0.0.1). Such requests carry the
//! foreign name in `Host` (HTTP/1.1) or `:authority` (HTTP/2), so on a loopback listener
//! anything but `localhost` (and `*.localhost`), a `127.x.y.z` address, `[::1]` or a host
//! listed in [`HttpConfig::allowed_hosts`](crate::HttpConfig::allowed_hosts) is answered `421
//! Misdirected Request` before any route runs. A request without a host (HTTP/1.0) passes:
//! browsers always send one. Listeners on other addresses are not checked.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::peer::PeerInfo;
use crate::state::AppState;

/// The middleware.
pub(crate) async fn check_host(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let loopback = request
        .extensions()
        .get::<std::sync::Arc<PeerInfo>>()
        .is_some_and(|info| info.loopback_listener);
    if loopback {
        let host = request
            .uri()
            .authority()
            .map(|a| a.host().to_owned())
            .or_else(|| {
                request
                    .headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            });
        if let Some(host) = host
            && !allowed(&host, &state.config.allowed_hosts)
        {
            return ApiError::Misdirected(
                "this listener only answers requests for localhost or its configured host names"
                    .into(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// Whether `authority` (`host`, `host:port`, `[v6]:port`) names a loopback host or one of
/// `extra` (compared case-insensitively).
fn allowed(authority: &str, extra: &[String]) -> bool {
    let host = host_of(authority);
    if host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || extra.iter().any(|h| h.eq_ignore_ascii_case(host))
    {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host part of an authority, without port, brackets or a trailing dot.
fn host_of(authority: &str) -> &str {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.strip_suffix('.').unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass() {
        for host in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.",
            "api.localhost:1",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:8080",
            "[::1]",
        ] {
            assert!(allowed(host, &[]), "{host}");
        }
    }

    #[test]
    fn foreign_names_are_refused_unless_configured() {
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "10.0.0.1",
            "[2001:db8::1]:80",
            "",
        ] {
            assert!(!allowed(host, &[]), "{host}");
        }
        let extra = vec!["gateway.internal".to_owned()];
        assert!(allowed("Gateway.Internal:8080", &extra));
        assert!(!allowed("other.internal", &extra));
    }
}
