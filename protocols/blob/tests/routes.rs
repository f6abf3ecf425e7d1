//! The Blob routes through `oneshot` over the in-memory engine: status codes, error codes in
//! header and body, conditional semantics, listing and paging, and checkpoint blobs as group
//! offsets.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use hubgate_blob::BlobConfig;
use hubgate_storage::{
    CommittedOffset, HubConfig, HubName, PartitionId, SharedStorage, StorageConfig, StorageUrl,
    open,
};
use tower::ServiceExt;

struct App {
    storage: SharedStorage,
    router: Router,
}

struct Reply {
    head: bool,
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("x-ms-error-code"), code);
        // HEAD has no body: the header is the only carrier of the code.
        if status != StatusCode::NOT_MODIFIED && !self.head {
            assert_eq!(self.header("content-type"), "application/xml");
            assert!(
                self.body.contains(&format!("<Code>{code}</Code>")),
                "{}",
                self.body
            );
        }
    }
}

impl App {
    fn new(config: BlobConfig) -> Self {
        let storage = open(&StorageConfig::new(StorageUrl::Memory)).unwrap();
        let router = hubgate_blob::router(storage.clone(), config);
        Self { storage, router }
    }

    async fn send(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        Reply {
            head: method == "HEAD",
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    async fn container(&self, name: &str) {
        let r = self
            .send(
                "PUT",
                &format!("/devstoreaccount1/{name}?restype=container"),
                &[],
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
}

const BLOCK: (&str, &str) = ("x-ms-blob-type", "BlockBlob");

#[tokio::test]
async fn containers_answer_201_then_409_and_missing_ones_404() {
    let app = App::new(BlobConfig::default());
    let r = app
        .send(
            "PUT",
            "/devstoreaccount1/ckpt?restype=container",
            &[
                ("x-ms-version", "2019-07-07"),
                ("x-ms-client-request-id", "abc"),
            ],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.header("etag").starts_with("\"0x") && r.header("etag").len() >= 19);
    assert!(r.header("last-modified").ends_with(" GMT"));
    assert_eq!(r.header("x-ms-version"), "2019-07-07");
    assert_eq!(r.header("x-ms-client-request-id"), "abc");
    assert!(!r.header("x-ms-request-id").is_empty() && !r.header("date").is_empty());
    let again = app
        .send("PUT", "/devstoreaccount1/ckpt?restype=container", &[], "")
        .await;
    again.assert_error(StatusCode::CONFLICT, "ContainerAlreadyExists");
    assert_ne!(again.header("x-ms-request-id"), r.header("x-ms-request-id"));
    let props = app
        .send("GET", "/devstoreaccount1/ckpt?restype=container", &[], "")
        .await;
    assert_eq!(props.status, StatusCode::OK);
    assert_eq!(props.header("etag"), r.header("etag"));
    for (method, uri) in [
        ("GET", "/devstoreaccount1/nope?restype=container&comp=list"),
        ("PUT", "/devstoreaccount1/nope/b?comp=metadata"),
        ("DELETE", "/devstoreaccount1/nope?restype=container"),
    ] {
        app.send(method, uri, &[], "")
            .await
            .assert_error(StatusCode::NOT_FOUND, "ContainerNotFound");
    }
    let head = app.send("HEAD", "/devstoreaccount1/nope/b", &[], "").await;
    assert_eq!(head.status, StatusCode::NOT_FOUND);
    assert_eq!(
        head.header("x-ms-error-code"),
        "ContainerNotFound",
        "HEAD carries the code in the header"
    );
    let deleted = app
        .send(
            "DELETE",
            "/devstoreaccount1/ckpt?restype=container",
            &[],
            "",
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    app.container("ckpt").await;
}

#[tokio::test]
async fn conditional_writes_follow_blob_semantics() {
    let app = App::new(BlobConfig::default());
    app.container("ckpt").await;
    let blob = "/devstoreaccount1/ckpt/ns/hub/%24default/ownership/0";
    let meta = format!("{blob}?comp=metadata");
    app.send("PUT", &meta, &[("x-ms-meta-ownerid", "A")], "")
        .await
        .assert_error(StatusCode::NOT_FOUND, "BlobNotFound");
    app.send(
        "PUT",
        &meta,
        &[
            ("if-match", "\"0x0000000000000001\""),
            ("x-ms-meta-ownerid", "A"),
        ],
        "",
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "ConditionNotMet");
    let created = app
        .send(
            "PUT",
            blob,
            &[BLOCK, ("if-none-match", "*"), ("x-ms-meta-ownerid", "A")],
            "",
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let first = created.header("etag").to_owned();
    app.send(
        "PUT",
        blob,
        &[BLOCK, ("if-none-match", "*"), ("x-ms-meta-ownerid", "B")],
        "",
    )
    .await
    .assert_error(StatusCode::CONFLICT, "BlobAlreadyExists");
    app.send(
        "PUT",
        &meta,
        &[("if-none-match", "*"), ("x-ms-meta-ownerid", "B")],
        "",
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "ConditionNotMet");
    // Renew with the unquoted ETag a listing shows: a new ETag even with the same metadata.
    let unquoted = first.trim_matches('"');
    let renewed = app
        .send(
            "PUT",
            &meta,
            &[("if-match", unquoted), ("x-ms-meta-ownerid", "A")],
            "",
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK);
    let second = renewed.header("etag").to_owned();
    assert_ne!(second, first);
    // The old ETag, quoted this time, is stale.
    app.send(
        "PUT",
        &meta,
        &[("if-match", &first), ("x-ms-meta-ownerid", "B")],
        "",
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "ConditionNotMet");
    // Release: an empty owner round-trips.
    let released = app
        .send(
            "PUT",
            &meta,
            &[("if-match", &second), ("x-ms-meta-ownerid", "")],
            "",
        )
        .await;
    assert_eq!(released.status, StatusCode::OK);
    let head = app.send("HEAD", blob, &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.header("x-ms-blob-type"), "BlockBlob");
    assert_eq!(head.header("etag"), released.header("etag"));
    assert!(head.headers.contains_key("x-ms-meta-ownerid"));
    assert_eq!(head.header("x-ms-meta-ownerid"), "");
    app.send(
        "HEAD",
        blob,
        &[("if-none-match", released.header("etag"))],
        "",
    )
    .await
    .assert_error(StatusCode::NOT_MODIFIED, "ConditionNotMet");
    app.send("DELETE", blob, &[("if-match", &first)], "")
        .await
        .assert_error(StatusCode::PRECONDITION_FAILED, "ConditionNotMet");
    let gone = app
        .send("DELETE", blob, &[("if-match", released.header("etag"))], "")
        .await;
    assert_eq!(gone.status, StatusCode::ACCEPTED);
    app.send("HEAD", blob, &[], "")
        .await
        .assert_error(StatusCode::NOT_FOUND, "BlobNotFound");
}

#[tokio::test]
async fn listings_are_xml_ordered_and_paged() {
    let app = App::new(BlobConfig::default());
    app.container("ckpt").await;
    for name in ["p/2", "p/0", "p/1", "q/0"] {
        let r = app
            .send(
                "PUT",
                &format!("/devstoreaccount1/ckpt/{name}"),
                &[BLOCK, ("x-ms-meta-ownerid", "")],
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let list = "/devstoreaccount1/ckpt?restype=container&comp=list&include=metadata";
    let r = app
        .send("GET", &format!("{list}&prefix=p%2F&maxresults=2"), &[], "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/xml");
    let names: Vec<&str> = r
        .body
        .split("<Name>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap())
        .collect();
    assert_eq!(names, ["p/0", "p/1"]);
    assert!(r.body.contains("<BlobType>BlockBlob</BlobType>"));
    assert!(r.body.contains("<Metadata><ownerid></ownerid></Metadata>"));
    assert!(
        r.body.contains("<NextMarker>p/2</NextMarker>"),
        "{}",
        r.body
    );
    let r = app
        .send(
            "GET",
            &format!("{list}&prefix=p/&maxresults=2&marker=p%2F2"),
            &[],
            "",
        )
        .await;
    assert!(
        r.body.contains("<Name>p/2</Name>") && r.body.contains("<NextMarker />"),
        "{}",
        r.body
    );
    let r = app
        .send("GET", &format!("{list}&prefix=nothing"), &[], "")
        .await;
    assert!(r.body.contains("<Blobs />"));
    for bad in ["0", "-1", "x"] {
        app.send("GET", &format!("{list}&maxresults={bad}"), &[], "")
            .await
            .assert_error(StatusCode::BAD_REQUEST, "InvalidQueryParameterValue");
    }
}

#[tokio::test]
async fn checkpoint_blobs_are_the_groups_committed_offsets() {
    let app = App::new(BlobConfig::default());
    app.container("ckpt").await;
    let hub = HubName::new("Hub1").unwrap();
    app.storage
        .create_hub(
            &hub,
            HubConfig {
                partitions: 2,
                ..HubConfig::default()
            },
        )
        .await
        .unwrap();
    // The stores lower-case the hub and group; `$default` is the Kafka group `$Default`.
    let blob = "/devstoreaccount1/ckpt/127.0.0.1%3A5672/hub1/%24default/checkpoint/0";
    let cp = [("x-ms-meta-offset", "7"), ("x-ms-meta-sequencenumber", "7")];
    app.send("PUT", &format!("{blob}?comp=metadata"), &cp, "")
        .await
        .assert_error(StatusCode::NOT_FOUND, "BlobNotFound");
    let created = app.send("PUT", blob, &[BLOCK, cp[0], cp[1]], "").await;
    assert_eq!(created.status, StatusCode::CREATED);
    let committed = app.storage.committed_offsets("$Default").await.unwrap();
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].0, PartitionId::new(hub.clone(), 0));
    assert_eq!(
        committed[0].1.offset, 8,
        "sequence number 7 → next offset 8"
    );
    let later = [("x-ms-meta-offset", "9"), ("x-ms-meta-sequencenumber", "9")];
    let updated = app
        .send("PUT", &format!("{blob}?comp=metadata"), &later, "")
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(
        app.storage.committed_offsets("$Default").await.unwrap()[0]
            .1
            .offset,
        10
    );

    // A Kafka commit in partition 1 shows as a checkpoint one before it.
    app.storage
        .commit_offsets(
            "$Default",
            &[(
                PartitionId::new(hub.clone(), 1),
                CommittedOffset {
                    offset: 5,
                    leader_epoch: None,
                    metadata: String::new(),
                    committed_at_ms: 1,
                },
            )],
        )
        .await
        .unwrap();
    let prefix = "127.0.0.1:5672/hub1/$default/checkpoint/";
    let r = app
        .send(
            "GET",
            &format!("/devstoreaccount1/ckpt?restype=container&comp=list&include=metadata&prefix={prefix}"),
            &[],
            "",
        )
        .await;
    assert!(
        r.body.contains(&format!("<Name>{prefix}0</Name>")),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<Metadata><offset>9</offset><sequencenumber>9</sequencenumber></Metadata>")
    );
    assert!(r.body.contains(&format!("<Name>{prefix}1</Name>")));
    assert!(
        r.body
            .contains("<Metadata><offset>4</offset><sequencenumber>4</sequencenumber></Metadata>")
    );
    let head = app
        .send(
            "HEAD",
            "/devstoreaccount1/ckpt/127.0.0.1:5672/hub1/$default/checkpoint/1",
            &[],
            "",
        )
        .await;
    assert_eq!(head.header("x-ms-meta-sequencenumber"), "4");

    // A checkpoint without a sequence number is refused, not stored.
    app.send(
        "PUT",
        &format!("{blob}?comp=metadata"),
        &[("x-ms-meta-offset", "")],
        "",
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "InvalidMetadata");
    // A group that is not `$default` keeps its (lower-cased) name.
    let other = "/devstoreaccount1/ckpt/ns/hub1/billing/checkpoint/1";
    assert_eq!(
        app.send("PUT", other, &[BLOCK, cp[1]], "").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.storage.committed_offsets("billing").await.unwrap()[0]
            .1
            .offset,
        8
    );
    // Deleting a checkpoint forgets the offset.
    assert_eq!(
        app.send("DELETE", other, &[], "").await.status,
        StatusCode::ACCEPTED
    );
    assert!(
        app.storage
            .committed_offsets("billing")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn everything_else_is_a_clear_error_never_a_silent_success() {
    let app = App::new(BlobConfig {
        max_blob_bytes: 16,
        ..BlobConfig::default()
    });
    app.container("ckpt").await;
    let cases = [
        (
            "POST",
            "/devstoreaccount1/ckpt/b",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "UnsupportedHttpVerb",
        ),
        (
            "PUT",
            "/devstoreaccount1/ckpt/b?comp=block&blockid=AA",
            vec![],
            StatusCode::NOT_IMPLEMENTED,
            "FeatureNotSupported",
        ),
        (
            "GET",
            "/devstoreaccount1?comp=list",
            vec![],
            StatusCode::NOT_IMPLEMENTED,
            "FeatureNotSupported",
        ),
        (
            "PUT",
            "/devstoreaccount1/ckpt?restype=container&comp=acl",
            vec![],
            StatusCode::NOT_IMPLEMENTED,
            "FeatureNotSupported",
        ),
        (
            "PUT",
            "/devstoreaccount1/ckpt/b",
            vec![("x-ms-blob-type", "PageBlob")],
            StatusCode::BAD_REQUEST,
            "InvalidBlobType",
        ),
        (
            "PUT",
            "/devstoreaccount1/ckpt/b",
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidHeaderValue",
        ),
        (
            "PUT",
            "/devstoreaccount1/ckpt/b?comp=metadata",
            vec![("x-ms-lease-id", "l")],
            StatusCode::BAD_REQUEST,
            "UnsupportedHeader",
        ),
        (
            "GET",
            "/devstoreaccount1/ckpt/b",
            vec![("range", "bytes=0-1")],
            StatusCode::BAD_REQUEST,
            "UnsupportedHeader",
        ),
        (
            "PUT",
            "/devstoreaccount1/Bad_Name?restype=container",
            vec![],
            StatusCode::BAD_REQUEST,
            "InvalidResourceName",
        ),
        (
            "PUT",
            "/otheraccount/ckpt?restype=container",
            vec![],
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
        ),
        (
            "GET",
            "/devstoreaccount1/ckpt?restype=container&comp=list&delimiter=/",
            vec![],
            StatusCode::NOT_IMPLEMENTED,
            "FeatureNotSupported",
        ),
    ];
    for (method, uri, headers, status, code) in cases {
        let r = app.send(method, uri, &headers, "").await;
        assert_eq!(
            (r.status, r.header("x-ms-error-code")),
            (status, code),
            "{method} {uri}: {}",
            r.body
        );
    }
    app.send("PUT", "/devstoreaccount1/ckpt/b", &[BLOCK], &"x".repeat(17))
        .await
        .assert_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestBodyTooLarge");
    let fits = app
        .send("PUT", "/devstoreaccount1/ckpt/b", &[BLOCK], &"x".repeat(16))
        .await;
    assert_eq!(fits.status, StatusCode::CREATED);
    let read = app.send("GET", "/devstoreaccount1/ckpt/b", &[], "").await;
    assert_eq!(read.body, "x".repeat(16));
}

#[tokio::test]
async fn with_a_signature_required_unsigned_requests_are_refused() {
    let app = App::new(BlobConfig {
        require_signature: true,
        ..BlobConfig::default()
    });
    app.send("PUT", "/devstoreaccount1/ckpt?restype=container", &[], "")
        .await
        .assert_error(StatusCode::FORBIDDEN, "AuthenticationFailed");
    app.send(
        "PUT",
        "/devstoreaccount1/ckpt?restype=container",
        &[
            ("authorization", "SharedKey devstoreaccount1:AAAA"),
            ("x-ms-date", &httpdate_now()),
        ],
        "",
    )
    .await
    .assert_error(StatusCode::FORBIDDEN, "AuthenticationFailed");
}

fn httpdate_now() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}

#[tokio::test(start_paused = true)]
async fn a_body_that_never_arrives_times_out() {
    let app = App::new(BlobConfig {
        header_timeout: std::time::Duration::from_secs(2),
        ..BlobConfig::default()
    });
    app.container("ckpt").await;
    let stalled = futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
    let request = Request::builder()
        .method("PUT")
        .uri("/devstoreaccount1/ckpt/b")
        .header("x-ms-blob-type", "BlockBlob")
        .body(Body::from_stream(stalled))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(response.headers()["x-ms-error-code"], "OperationTimedOut");
}
