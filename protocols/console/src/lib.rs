//! hubgate's web console: a single-page app served by the gateway itself at `/console`.
//!
//! # Layout
//!
//! - [`router`]: `GET /` (redirect to `/console`), `GET /console` (the page) and
//!   `GET /console/assets/{file}` (scripts, styles, icon), every response with its content
//!   type, `Cache-Control: no-cache` plus a strong `ETag` (a `304` when it matches), and a
//!   strict `Content-Security-Policy` (`default-src 'self'`, no inline script or style, no
//!   framing).
//! - `assets/`: plain HTML, CSS and ES modules written for hubgate, embedded with
//!   `include_bytes!` — no build step, no third-party front-end code, nothing fetched from
//!   another host. `app.js` routes between the pages in `views/`; `api.js` is the one place
//!   that calls the JSON admin API of the HTTP front end (`docs/HTTP.md`); `auth.js` signs
//!   short-lived SAS tokens in the browser with WebCrypto.
//!
//! The crate knows nothing about storage: every number the console shows comes from the admin
//! API, so everything it shows is also scriptable.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// The policy on every console response: only this origin, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
#[derive(Debug)]
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the console serves; `index.html` is the page at `/console`.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("auth.js", JS),
    asset!("chart.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("views/overview.js", JS),
    asset!("views/hubs.js", JS),
    asset!("views/hub.js", JS),
    asset!("views/events.js", JS),
    asset!("views/groups.js", JS),
    asset!("views/signin.js", JS),
];

/// The console's routes, to merge into the HTTP front end's router (any state type).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(page))
        .route("/console/", get(page))
        .route("/console/assets/{*file}", get(file))
}

async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

/// A strong validator per asset, computed once.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..32]))
            .collect()
    })
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return secured(
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "no such console file",
            )
                .into_response(),
        );
    };
    let asset = &ASSETS[index];
    let etag = etags()[index].as_str();
    let matches = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, value);
    }
    // Revalidate every time: the files change with the binary, and a 304 costs one round trip.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secured(response)
}

/// The security headers every console response carries.
fn secured(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(uri: &str, etag: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::get(uri);
        if let Some(tag) = etag {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        let response = router::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body.to_vec())
    }

    #[tokio::test]
    async fn root_redirects_to_the_console() {
        let (status, headers, _) = get("/", None).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/console");
    }

    #[tokio::test]
    async fn page_and_assets_with_types_caching_and_policy() {
        let (status, headers, body) = get("/console", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains(r#"<script type="module" src="/console/assets/app.js">"#));
        for (uri, kind) in [
            ("/console/assets/app.js", JS),
            ("/console/assets/views/hub.js", JS),
            ("/console/assets/console.css", "text/css; charset=utf-8"),
            ("/console/assets/icon.svg", "image/svg+xml"),
        ] {
            let (status, headers, body) = get(uri, None).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            assert_eq!(headers[header::CONTENT_TYPE], kind, "{uri}");
            assert!(!body.is_empty());
            let etag = headers[header::ETAG].to_str().unwrap().to_owned();
            let (status, headers, body) = get(uri, Some(&etag)).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
            assert!(body.is_empty());
            assert_eq!(headers[header::ETAG], etag.as_str());
            let (status, _, _) = get(uri, Some("\"other\"")).await;
            assert_eq!(status, StatusCode::OK);
        }
        let (status, headers, _) = get("/console/assets/../Cargo.toml", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
    }

    /// Every asset is referenced by a module path the browser can load, and no asset pulls
    /// anything from another origin or runs inline code.
    #[test]
    fn assets_stay_on_this_origin() {
        for asset in ASSETS {
            // The SVG namespace is a name, not a request.
            let text = std::str::from_utf8(asset.body)
                .unwrap()
                .replace("http://www.w3.org/2000/svg", "");
            for bad in [
                "http://",
                "https://",
                "<script>",
                " onclick=",
                "style=",
                "@import",
            ] {
                assert!(!text.contains(bad), "{} contains `{bad}`", asset.name);
            }
        }
    }
}
