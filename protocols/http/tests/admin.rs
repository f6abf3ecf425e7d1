//! Read, admin, health and metrics routes, and the request limits.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hubgate_http::HttpConfig;
use support::App;

#[tokio::test]
async fn create_read_update_delete_a_hub() {
    let app = App::default_config();
    let put = |body: &'static str| {
        Request::put("/admin/hubs/adm")
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, body) = app
        .send(put(r#"{"partitions":2,"retention_ms":3600000}"#))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let json = support::json(&body);
    assert_eq!(json["partition_count"], 2);
    assert_eq!(json["retention_ms"], 3_600_000);
    let (status, json) = app.get("/adm").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["partition_ids"], serde_json::json!(["0", "1"]));
    assert_eq!(json["type"], "com.microsoft:eventhub");
    let (status, json) = app.get("/adm/partitions/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["is_partition_empty"], true);
    assert_eq!(json["last_enqueued_sequence_number"], -1);
    assert_eq!(app.get("/adm/partitions/2").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/adm/partitions/x").await.0,
        StatusCode::BAD_REQUEST
    );

    let (status, _, _) = app.send(put(r#"{"partitions":3,"retention_ms":-1}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.get("/adm").await.1["partition_count"], 3);
    let (status, _, _) = app.send(put(r#"{"partitions":1}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "partitions cannot shrink");
    let (status, _, _) = app.send(put(r#"{"partitionz":1}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (body, message) in [
        (
            r#"{"retention_ms":0}"#,
            "retention_ms must be positive or -1",
        ),
        (
            r#"{"retention_ms":-2}"#,
            "retention_ms must be positive or -1",
        ),
        (
            r#"{"retention_bytes":0}"#,
            "retention_bytes must be positive or -1",
        ),
    ] {
        let (status, _, reply) = app.send(put(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(support::json(&reply)["message"], message, "{body}");
    }
    let (status, _, body) = app.send(put(r#"{"retention_bytes":1000}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(support::json(&body)["retention_bytes"], 1000);
    let (status, _, body) = app.send(put(r#"{"retention_bytes":-1}"#)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        support::json(&body)["retention_bytes"],
        serde_json::Value::Null
    );

    let delete = || {
        Request::delete("/admin/hubs/adm")
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(delete()).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.send(delete()).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/adm").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_and_metrics() {
    let app = App::default_config();
    assert_eq!(app.get("/healthz").await.1["status"], "healthy");
    assert_eq!(app.get("/readyz").await.1["status"], "ready");
    let (status, _) = app
        .post("/metrics-hub/partitions/0/messages", &[], "12345")
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, body) = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("hubgate_records_in_total{protocol=\"http\",hub=\"metrics-hub\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("hubgate_bytes_in_total{protocol=\"http\",hub=\"metrics-hub\"} 5\n"),
        "{text}"
    );
    assert!(
        text.contains("hubgate_requests_total{protocol=\"http\",status=\"201\"}"),
        "{text}"
    );

    // Consumer lag from committed group offsets.
    use hubgate_storage::{CommittedOffset, GroupOffsets, HubName, PartitionId};
    let id = PartitionId::new(HubName::new("metrics-hub").unwrap(), 0);
    let committed = CommittedOffset {
        offset: 0,
        leader_epoch: None,
        metadata: String::new(),
        committed_at_ms: 0,
    };
    GroupOffsets::commit_offsets(app.storage.as_ref(), "g1", &[(id, committed)])
        .await
        .unwrap();
    let (_, _, body) = app
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("hubgate_consumer_lag{group=\"g1\",hub=\"metrics-hub\",partition=\"0\"} 1\n"),
        "{text}"
    );
}

#[tokio::test]
async fn concurrency_limit_and_request_timeout() {
    let app = App::new(HttpConfig {
        max_concurrent_requests: 1,
        request_timeout: Duration::from_millis(300),
        ..HttpConfig::default()
    });
    // A request whose body never finishes holds the only slot.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
    let stream = futures_stream(rx);
    let router = app.router.clone();
    let stalled = tokio::spawn(async move {
        use tower::ServiceExt;
        let request = Request::post("/slow/messages")
            .body(Body::from_stream(stream))
            .unwrap();
        router.oneshot(request).await.unwrap()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, json) = app.post("/slow/messages", &[], "x").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(json["code"], "ServerBusy");
    // Probes are not limited.
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    let response = stalled.await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    drop(tx);
    // The slot is free again.
    let (status, _) = app.post("/slow/messages", &[], "x").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.all("slow").await.len(), 1);
}

/// A body stream fed by a channel (no extra stream crate needed).
fn futures_stream(
    rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    struct S(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);
    impl futures_core::Stream for S {
        type Item = Result<bytes::Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
    S(rx)
}
