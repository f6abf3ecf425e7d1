//! CloudEvents 1.0 in binary, structured and batched mode, stored per the Kafka protocol
//! binding.

mod support;

use std::num::NonZeroU32;

use axum::http::StatusCode;
use hubgate_protocol::partition_for_key;
use hubgate_storage::Record;
use support::{App, header, text};

fn ce(record: &Record, name: &str) -> Option<String> {
    text(header(record, name)).map(str::to_owned)
}

#[tokio::test]
async fn binary_mode() {
    let app = App::default_config();
    let (status, json) = app
        .post(
            "/cloudevents/ce",
            &[
                ("ce-specversion", "1.0"),
                ("ce-id", "b-1"),
                ("ce-source", "/sensors/7"),
                ("ce-type", "com.example.reading"),
                ("ce-subject", "caf%C3%A9%20room"),
                ("ce-partitionkey", "sensor-7"),
                ("content-type", "application/json"),
            ],
            r#"{"t":21.5}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let p = partition_for_key(b"sensor-7", NonZeroU32::new(4).unwrap());
    let records = app.records("ce", p).await;
    let r = &records[0];
    assert_eq!(r.key.as_deref(), Some(&b"sensor-7"[..]));
    assert_eq!(r.value.as_deref(), Some(&br#"{"t":21.5}"#[..]));
    assert_eq!(ce(r, "ce_specversion").as_deref(), Some("1.0"));
    assert_eq!(ce(r, "ce_id").as_deref(), Some("b-1"));
    assert_eq!(ce(r, "ce_source").as_deref(), Some("/sensors/7"));
    assert_eq!(ce(r, "ce_type").as_deref(), Some("com.example.reading"));
    assert_eq!(ce(r, "ce_subject").as_deref(), Some("café room"));
    assert_eq!(ce(r, "content-type").as_deref(), Some("application/json"));
}

#[tokio::test]
async fn structured_and_batched_modes() {
    let app = App::default_config();
    let event = r#"{"specversion":"1.0","id":"s-1","source":"/app","type":"t.created",
        "datacontenttype":"text/plain","time":"2026-01-01T00:00:00Z","data":"hello"}"#;
    let (status, _) = app
        .post(
            "/cloudevents/cs/",
            &[(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )],
            event,
        )
        .await;
    // Trailing slash is not a route.
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, json) = app
        .post(
            "/cloudevents/cs",
            &[(
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            )],
            event,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let all = app.all("cs").await;
    let r = &all[0].1;
    assert_eq!(r.value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(ce(r, "content-type").as_deref(), Some("text/plain"));
    assert_eq!(ce(r, "ce_time").as_deref(), Some("2026-01-01T00:00:00Z"));
    assert_eq!(ce(r, "ce_datacontenttype"), None);

    let batch = r#"[
        {"specversion":"1.0","id":"1","source":"/b","type":"t","partitionkey":"pk","data":{"n":1}},
        {"specversion":"1.0","id":"2","source":"/b","type":"t","partitionkey":"pk","data_base64":"AAEC"}
    ]"#;
    let (status, _) = app
        .post(
            "/cloudevents/cb",
            &[("content-type", "application/cloudevents-batch+json")],
            batch,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let p = partition_for_key(b"pk", NonZeroU32::new(4).unwrap());
    let records = app.records("cb", p).await;
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].value.as_deref(), Some(&br#"{"n":1}"#[..]));
    assert_eq!(
        ce(&records[0], "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(records[1].value.as_deref(), Some(&[0u8, 1, 2][..]));
    assert_eq!(ce(&records[1], "ce_id").as_deref(), Some("2"));
}

#[tokio::test]
async fn invalid_events_name_the_missing_attribute() {
    let app = App::default_config();
    let (status, json) = app
        .post(
            "/cloudevents/bad",
            &[("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-type", "t")],
            "x",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["message"].as_str().unwrap().contains("`source`"),
        "{json}"
    );
    let (status, json) = app
        .post(
            "/cloudevents/bad",
            &[("content-type", "application/cloudevents-batch+json")],
            r#"[{"specversion":"1.0","id":"1","source":"s","type":"t"},{"specversion":"1.0","source":"s","type":"t"}]"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("event 1") && message.contains("`id`"),
        "{message}"
    );
    let (status, _) = app.post("/cloudevents/bad", &[], "plain body").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.all("bad").await.len(), 0, "nothing stored");
}
