//! SAS tokens on the REST routes: 401 for bad tokens, 403 for the wrong hub or right, and
//! nothing stored for refused sends.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hubgate_http::HttpConfig;
use hubgate_protocol::sas::sign_token;
use hubgate_protocol::{Right, Rights, SasPolicies, SasPolicy, Secret};
use support::App;

/// A token made as the Azure SDKs make one.
fn token(resource: &str, key: &str, name: &str, expiry: i64) -> String {
    sign_token(name, &Secret::new(key), resource, expiry)
}

fn app() -> App {
    let policy = |name: &str, key: &str, right| SasPolicy {
        name: name.into(),
        key: Secret::new(key),
        rights: Rights::from(right),
        hubs: vec![],
        cert_subject: None,
    };
    let policies = SasPolicies::new([
        policy("sender", "send-key", Right::Send),
        policy("admin", "admin-key", Right::Manage),
    ])
    .unwrap();
    App::new(HttpConfig {
        policies: Arc::new(policies),
        ..HttpConfig::default()
    })
}

const FUTURE: i64 = 4_102_444_800;

#[tokio::test]
async fn send_needs_a_valid_token_for_the_hub() {
    let app = app();
    let good = token("https://ns.example/orders", "send-key", "sender", FUTURE);
    let (status, _) = app
        .post(
            "/orders/messages",
            &[("authorization", good.as_str())],
            "ok",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let unauthorized = [
        String::new(),
        token("https://ns.example/orders", "wrong-key", "sender", FUTURE),
        token("https://ns.example/orders", "send-key", "nobody", FUTURE),
        token("https://ns.example/orders", "send-key", "sender", 1_000),
        "Bearer abc".to_owned(),
    ];
    for auth in &unauthorized {
        let headers: Vec<(&str, &str)> = if auth.is_empty() {
            vec![]
        } else {
            vec![("authorization", auth.as_str())]
        };
        let (status, json) = app.post("/orders/messages", &headers, "refused").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth}: {json}");
        assert_eq!(json["code"], "Unauthorized");
    }
    let other_hub = token("https://ns.example/audit", "send-key", "sender", FUTURE);
    let (status, json) = app
        .post(
            "/orders/messages",
            &[("authorization", other_hub.as_str())],
            "refused",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    assert_eq!(json["code"], "Forbidden");
    // Namespace-wide token.
    let namespace = token("sb://ns.example/", "send-key", "sender", FUTURE);
    let (status, _) = app
        .post(
            "/orders/partitions/0/messages",
            &[("authorization", namespace.as_str())],
            "ok2",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        app.all("orders").await.len(),
        2,
        "refused sends stored nothing"
    );
    // A send-only policy cannot manage hubs; the manage policy can.
    let request = |auth: &str| {
        Request::put("/admin/hubs/new-hub")
            .header("authorization", auth)
            .body(Body::from(r#"{"partitions":1}"#))
            .unwrap()
    };
    let send_only = token("sb://ns.example/new-hub", "send-key", "sender", FUTURE);
    assert_eq!(app.send(request(&send_only)).await.0, StatusCode::FORBIDDEN);
    let admin = token("sb://ns.example/new-hub", "admin-key", "admin", FUTURE);
    assert_eq!(app.send(request(&admin)).await.0, StatusCode::CREATED);
    // Health stays open.
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn webhooks_need_a_send_token_and_refusals_create_no_hub() {
    let app = app();
    let (status, _) = app.post("/webhooks/hooks", &[], "{}").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        app.storage
            .hub(&hubgate_storage::HubName::new("hooks").unwrap())
            .await
            .is_err(),
        "a refused webhook created its hub"
    );
    let good = token("sb://ns.example/hooks", "send-key", "sender", FUTURE);
    let (status, _) = app
        .post("/webhooks/hooks", &[("authorization", good.as_str())], "{}")
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn metrics_need_listen_or_manage() {
    let app = app();
    assert_eq!(app.get("/metrics").await.0, StatusCode::UNAUTHORIZED);
    let metrics = |auth: &str| {
        Request::get("/metrics")
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    let send = token("sb://ns.example/", "send-key", "sender", FUTURE);
    assert_eq!(app.send(metrics(&send)).await.0, StatusCode::FORBIDDEN);
    let admin = token("sb://ns.example/", "admin-key", "admin", FUTURE);
    assert_eq!(app.send(metrics(&admin)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn credential_headers_are_never_stored() {
    let app = App::default_config();
    let headers = [
        ("x-api-key", "k1"),
        ("servicebusauthorization", "k2"),
        ("x-partner-token", "k3"),
        ("x-hook-secret", "k4"),
        ("cookie", "k5"),
        ("x-trace", "kept"),
    ];
    let (status, _) = app
        .post("/creds/partitions/0/messages", &headers, "v")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let records = app.records("creds", 0).await;
    let names: Vec<&str> = records[0].headers.iter().map(|h| h.key.as_str()).collect();
    assert_eq!(
        names,
        ["x-trace"],
        "only the non-credential header is stored"
    );
}
