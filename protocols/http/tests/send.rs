//! Event Hubs REST send: every URL form, single and batch bodies, keys, properties and errors,
//! checked against the records stored in the in-memory log.

mod support;

use std::num::NonZeroU32;

use axum::http::StatusCode;
use hubgate_http::HttpConfig;
use hubgate_protocol::{AutoCreate, partition_for_key};
use support::{App, header, text};

/// A request case: URI, headers, body.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);

const BATCH: &str = "application/vnd.microsoft.servicebus.json";

fn four() -> NonZeroU32 {
    NonZeroU32::new(4).unwrap()
}

#[tokio::test]
async fn single_event_with_partition_key_and_user_properties() {
    let app = App::default_config();
    let (status, body) = app
        .post(
            "/orders/messages?timeout=60&api-version=2014-01",
            &[
                (
                    "content-type",
                    "application/atom+xml;type=entry;charset=utf-8",
                ),
                (
                    "brokerproperties",
                    r#"{"PartitionKey":"dev-01","MessageId":"m-1"}"#,
                ),
                ("alert", "Strong Wind"),
                ("user-agent", "curl/8"),
            ],
            r#"{ "DeviceId":"dev-01", "Temperature":"37.0" }"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let partition = partition_for_key(b"dev-01", four());
    let records = app.records("orders", partition).await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.offset, 0);
    assert_eq!(r.key.as_deref(), Some(&b"dev-01"[..]));
    assert_eq!(
        r.value.as_deref(),
        Some(&br#"{ "DeviceId":"dev-01", "Temperature":"37.0" }"#[..])
    );
    assert_eq!(text(header(r, "alert")), Some("Strong Wind"));
    assert_eq!(text(header(r, "message-id")), Some("m-1"));
    // Transport headers and the atom envelope type are not user properties.
    assert_eq!(header(r, "user-agent"), None);
    assert_eq!(header(r, "content-type"), None);
    assert_eq!(header(r, "brokerproperties"), None);
    assert_eq!(app.all("orders").await.len(), 1);
}

#[tokio::test]
async fn payload_content_type_is_kept() {
    let app = App::default_config();
    let (status, _) = app
        .post(
            "/h/partitions/2/messages",
            &[("content-type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let records = app.records("h", 2).await;
    assert_eq!(
        text(header(&records[0], "content-type")),
        Some("application/json")
    );
    assert_eq!(records[0].key, None);
}

#[tokio::test]
async fn batch_items_become_records_in_order() {
    let app = App::default_config();
    let body = r#"[
        {"Body":"Message1"},
        {"Body":"Message2","UserProperties":{"Alert":"Strong Wind","n":3,"ok":true}},
        {"Body":"AAEC/w==","IsBodyBase64":true},
        {"Body":{"nested":[1,2]}}
    ]"#;
    let (status, _) = app
        .post(
            "/b/partitions/1/messages",
            &[("content-type", BATCH), ("ignored", "x")],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let records = app.records("b", 1).await;
    assert_eq!(records.len(), 4);
    let values: Vec<&[u8]> = records
        .iter()
        .map(|r| r.value.as_deref().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            &b"Message1"[..],
            b"Message2",
            &[0, 1, 2, 255],
            br#"{"nested":[1,2]}"#
        ]
    );
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert_eq!(text(header(&records[1], "Alert")), Some("Strong Wind"));
    assert_eq!(text(header(&records[1], "n")), Some("3"));
    assert_eq!(text(header(&records[1], "ok")), Some("true"));
    assert!(records.iter().all(|r| header(r, "ignored").is_none()));
    assert_eq!(app.all("b").await.len(), 4);
}

#[tokio::test]
async fn batch_items_with_keys_go_to_their_partitions() {
    let app = App::default_config();
    let body = r#"[
        {"Body":"a","BrokerProperties":{"PartitionKey":"alpha"}},
        {"Body":"b","BrokerProperties":{"PartitionKey":"beta"}},
        {"Body":"c","BrokerProperties":{"PartitionKey":"alpha"}}
    ]"#;
    let (status, _) = app
        .post("/k/messages", &[("content-type", BATCH)], body)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let alpha = app.records("k", partition_for_key(b"alpha", four())).await;
    let alpha: Vec<_> = alpha
        .iter()
        .filter(|r| r.key.as_deref() == Some(b"alpha"))
        .map(|r| r.value.clone().unwrap())
        .collect();
    assert_eq!(alpha, ["a", "c"]);
    let beta = app.records("k", partition_for_key(b"beta", four())).await;
    assert!(
        beta.iter()
            .any(|r| r.value.as_deref() == Some(b"b") && r.key.as_deref() == Some(b"beta"))
    );
    assert_eq!(app.all("k").await.len(), 3);
}

#[tokio::test]
async fn publisher_forms_use_the_publisher_as_key() {
    let app = App::default_config();
    for path in [
        "/p/publishers/dev-7/messages",
        "/p/publisher/dev-7/messages",
    ] {
        let (status, _) = app.post(path, &[], "x").await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let records = app.records("p", partition_for_key(b"dev-7", four())).await;
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.key.as_deref() == Some(b"dev-7")));
    // A different PartitionKey contradicts the publisher.
    let (status, body) = app
        .post(
            "/p/publishers/dev-7/messages",
            &[("brokerproperties", r#"{"PartitionKey":"other"}"#)],
            "x",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "BadRequest");
}

#[tokio::test]
async fn keyless_sends_round_robin() {
    let app = App::default_config();
    for i in 0..8 {
        let (status, _) = app.post("/rr/messages", &[], format!("e{i}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    for p in 0..4 {
        assert_eq!(app.records("rr", p).await.len(), 2, "partition {p}");
    }
}

#[tokio::test]
async fn errors_have_status_and_json_body() {
    let app = App::new(HttpConfig {
        auto_create: AutoCreate::OFF,
        max_body_bytes: 16,
        ..HttpConfig::default()
    });
    let cases: Vec<(Case, StatusCode)> = vec![
        (("/missing/messages", vec![], "x"), StatusCode::NOT_FOUND),
        (
            ("/bad%20name/messages", vec![], "x"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for ((uri, headers, body), expected) in cases {
        let (status, json) = app.post(uri, &headers, body).await;
        assert_eq!(status, expected, "{uri}: {json}");
        assert!(json["message"].is_string(), "{json}");
    }
    let app = App::new(HttpConfig {
        max_body_bytes: 16,
        ..HttpConfig::default()
    });
    let too_big = "x".repeat(17);
    let (status, json) = app.post("/e/messages", &[], too_big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["code"], "PayloadTooLarge");
    let (status, _) = app.post("/e/messages", &[], "x".repeat(16)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "exactly at the limit is accepted"
    );
    let bad: Vec<Case> = vec![
        ("/e/messages", vec![("content-type", BATCH)], "[{"),
        ("/e/messages", vec![("content-type", BATCH)], "[]"),
        ("/e/messages", vec![("content-type", BATCH)], r#"[{"X":1}]"#),
        ("/e/messages", vec![("brokerproperties", "{nope")], "x"),
        ("/e/partitions/zero/messages", vec![], "x"),
        (
            "/e/partitions/1/messages",
            vec![("brokerproperties", r#"{"PartitionKey":"k"}"#)],
            "x",
        ),
        ("/e/messages?timeout=soon", vec![], "x"),
    ];
    for (uri, headers, body) in bad {
        let (status, json) = app.post(uri, &headers, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body}: {json}");
        assert_eq!(json["code"], "BadRequest");
    }
    let (status, json) = app.post("/e/partitions/4/messages", &[], "x").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    let long_key = format!(r#"{{"PartitionKey":"{}"}}"#, "k".repeat(129));
    let (status, _) = app
        .post(
            "/e/messages",
            &[("brokerproperties", long_key.as_str())],
            "x",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing from the refused requests was stored: only the one accepted event.
    assert_eq!(app.all("e").await.len(), 1);
}
