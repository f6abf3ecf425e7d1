//! Webhooks with GitHub, Stripe and generic HMAC signatures, and partition keys from a header
//! or a JSON pointer, checked against the stored records.

mod support;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::{HeaderName, StatusCode};
use hmac::{Hmac, Mac};
use hubgate_http::{HttpConfig, KeySource, Secret, Signature, SignatureEncoding, WebhookConfig};
use hubgate_protocol::partition_for_key;
use sha2::Sha256;
use support::{App, header, text};

fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

fn app() -> App {
    let mut webhooks = HashMap::new();
    webhooks.insert(
        "gh".to_owned(),
        WebhookConfig {
            signature: Some(Signature::GitHub {
                secret: Secret::new("gh-secret"),
            }),
            partition_key: Some(KeySource::JsonPointer("/repository/full_name".into())),
            keep_headers: vec![],
        },
    );
    webhooks.insert(
        "stripe".to_owned(),
        WebhookConfig {
            signature: Some(Signature::Stripe {
                secret: Secret::new("whsec_abc"),
                tolerance: Duration::from_secs(300),
            }),
            partition_key: None,
            keep_headers: vec![HeaderName::from_static("stripe-signature")],
        },
    );
    webhooks.insert(
        "generic".to_owned(),
        WebhookConfig {
            signature: Some(Signature::Hmac {
                secret: Secret::new("g"),
                header: HeaderName::from_static("x-sig"),
                prefix: "sha256=".into(),
                encoding: SignatureEncoding::Hex,
            }),
            partition_key: Some(KeySource::Header(HeaderName::from_static("x-tenant"))),
            keep_headers: vec![HeaderName::from_static("x-tenant")],
        },
    );
    App::new(HttpConfig {
        webhooks,
        ..HttpConfig::default()
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn github_signature_valid_wrong_and_tampered() {
    let app = app();
    let body = r#"{"action":"opened","repository":{"full_name":"octo/repo"}}"#;
    let good = format!("sha256={}", hmac_hex(b"gh-secret", &[body.as_bytes()]));
    let wrong = format!("sha256={}", hmac_hex(b"other", &[body.as_bytes()]));
    let headers = |sig: &str| {
        vec![
            ("content-type", "application/json"),
            ("x-github-event", "pull_request"),
            ("x-github-delivery", "d-1"),
            ("x-hub-signature-256", sig),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    for (sig, payload) in [(&wrong, body), (&good, r#"{"action":"closed"}"#)] {
        let h = headers(sig);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, json) = app.post("/webhooks/gh", &h, payload.to_owned()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
        assert_eq!(json["code"], "Unauthorized");
    }
    let (status, _) = app
        .post(
            "/webhooks/gh",
            &[("content-type", "application/json")],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unsigned");
    // Refused requests did not even create the hub.
    assert!(app.get("/gh").await.0 == StatusCode::NOT_FOUND);

    let h = headers(&good);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _) = app.post("/webhooks/gh", &h, body).await;
    assert_eq!(status, StatusCode::CREATED);
    let all = app.all("gh").await;
    assert_eq!(all.len(), 1);
    let (partition, r) = &all[0];
    assert_eq!(
        *partition,
        partition_for_key(b"octo/repo", NonZeroU32::new(4).unwrap())
    );
    assert_eq!(r.key.as_deref(), Some(&b"octo/repo"[..]));
    assert_eq!(r.value.as_deref(), Some(body.as_bytes()));
    assert_eq!(text(header(r, "content-type")), Some("application/json"));
    assert_eq!(text(header(r, "x-github-event")), Some("pull_request"));
    assert_eq!(text(header(r, "x-github-delivery")), Some("d-1"));
    assert_eq!(header(r, "x-hub-signature-256"), None);
}

#[tokio::test]
async fn stripe_signature_and_tolerance() {
    let app = app();
    let body = r#"{"id":"evt_1","type":"charge.succeeded"}"#;
    let sign = |t: i64, secret: &[u8], payload: &str| {
        format!(
            "t={t},v1={}",
            hmac_hex(
                secret,
                &[t.to_string().as_bytes(), b".", payload.as_bytes()]
            )
        )
    };
    let t = now();
    for sig in [
        sign(t - 600, b"whsec_abc", body),
        sign(t, b"whsec_wrong", body),
        sign(t, b"whsec_abc", r#"{"id":"evt_2"}"#),
    ] {
        let (status, _) = app
            .post(
                "/webhooks/stripe",
                &[("stripe-signature", sig.as_str())],
                body,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{sig}");
    }
    let sig = sign(t, b"whsec_abc", body);
    let (status, _) = app
        .post(
            "/webhooks/stripe",
            &[("stripe-signature", sig.as_str())],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let all = app.all("stripe").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1.key, None);
    assert_eq!(all[0].1.value.as_deref(), Some(body.as_bytes()));
    assert_eq!(
        text(header(&all[0].1, "stripe-signature")),
        Some(sig.as_str())
    );
}

#[tokio::test]
async fn generic_hmac_with_header_key_and_unsigned_hubs() {
    let app = app();
    let sig = format!("sha256={}", hmac_hex(b"g", &[b"payload"]));
    let (status, _) = app
        .post(
            "/webhooks/generic",
            &[("x-sig", sig.as_str()), ("x-tenant", "t-9")],
            "payload",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let all = app.all("generic").await;
    assert_eq!(all[0].1.key.as_deref(), Some(&b"t-9"[..]));
    assert_eq!(text(header(&all[0].1, "x-tenant")), Some("t-9"));
    let (status, _) = app
        .post(
            "/webhooks/generic",
            &[("x-sig", "sha256=00"), ("x-tenant", "t-9")],
            "payload",
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A hub without webhook settings takes unsigned requests, round robin.
    for i in 0..4 {
        let (status, _) = app.post("/webhooks/open", &[], format!("e{i}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    for p in 0..4 {
        assert_eq!(app.records("open", p).await.len(), 1);
    }
}
