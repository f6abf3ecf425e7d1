//! The admin routes behind the web console: overview, history, hub list and detail with group
//! lag, events with AMQP-typed properties, group offsets (list, detail, reset, delete), and who
//! may see and change them when policies exist.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use hubgate_http::{GatewayInfo, HttpConfig, ListenerInfo};
use hubgate_protocol::sas::sign_token;
use hubgate_protocol::{Right, Rights, SasPolicies, SasPolicy, Secret};
use hubgate_storage::{
    CommittedOffset, EncodeOptions, Header, HubName, PartitionId, Record, RecordBatch,
};
use serde_json::json;
use support::App;

async fn put_hub(app: &App, hub: &str, partitions: u32) {
    let body = format!(r#"{{"partitions":{partitions}}}"#);
    let (status, _, _) = app
        .send(
            Request::put(format!("/admin/hubs/{hub}"))
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn send(app: &App, hub: &str, partition: u32, body: &'static str) {
    let (status, _) = app
        .post(
            &format!("/{hub}/partitions/{partition}/messages"),
            &[],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn commit(app: &App, group: &str, hub: &str, partition: u32, offset: i64) {
    let id = PartitionId::new(HubName::new(hub).unwrap(), partition);
    let committed = CommittedOffset {
        offset,
        leader_epoch: None,
        metadata: "m".into(),
        committed_at_ms: 1_700_000_000_000,
    };
    app.storage
        .commit_offsets(group, &[(id, committed)])
        .await
        .unwrap();
}

#[tokio::test]
async fn overview_lists_listeners_storage_and_counts() {
    let app = App::new(HttpConfig {
        gateway: GatewayInfo {
            listeners: vec![ListenerInfo {
                protocol: "kafka",
                address: "127.0.0.1:9092".into(),
                tls: true,
            }],
            storage_url: "memory://".into(),
            ..GatewayInfo::default()
        },
        ..HttpConfig::default()
    });
    put_hub(&app, "ov", 1).await;
    commit(&app, "g", "ov", 0, 0).await;
    let (status, o) = app.get("/admin/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        o["listeners"],
        json!([{"protocol": "kafka", "address": "127.0.0.1:9092", "tls": true}])
    );
    assert_eq!(o["storage"]["url"], "memory://");
    assert_eq!(o["storage"]["durability"], "strict");
    assert_eq!(o["hubs"], 1);
    assert_eq!(o["groups"], 1);
    assert!(o["uptime_secs"].as_i64().unwrap() >= 0);
    let (status, h) = app.get("/admin/history").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["interval_secs"], 5);
    assert_eq!(h["capacity"], 120);
    assert!(!h["samples"].as_array().unwrap().is_empty());
    let (_, access) = app.get("/admin/access").await;
    assert_eq!(access, json!({"required": false}));
}

#[tokio::test]
async fn hub_detail_shows_partitions_and_group_lag() {
    let app = App::default_config();
    put_hub(&app, "lagged", 2).await;
    for body in ["a", "b", "c", "d", "e"] {
        send(&app, "lagged", 0, body).await;
    }
    send(&app, "lagged", 1, "x").await;
    commit(&app, "readers", "lagged", 0, 2).await;
    commit(&app, "readers", "lagged", 1, 1).await;
    put_hub(&app, "elsewhere", 1).await;
    commit(&app, "other-hub-only", "elsewhere", 0, 0).await;

    let (status, hub) = app.get("/admin/hubs/lagged").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hub["partition_count"], 2);
    let p0 = &hub["partitions"][0];
    assert_eq!(p0["high_watermark"], 5);
    assert_eq!(p0["log_start"], 0);
    assert_eq!(p0["records"], 5);
    // No transaction is open, so every stored record is stable.
    assert_eq!(p0["last_stable_offset"], p0["high_watermark"]);
    assert!(p0["last_enqueued_time"].is_string());
    assert_eq!(hub["groups"].as_array().unwrap().len(), 1);
    let group = &hub["groups"][0];
    assert_eq!(group["group"], "readers");
    assert_eq!(group["lag"], 3);
    assert_eq!(group["partitions"][0]["committed"], 2);
    assert_eq!(group["partitions"][0]["lag"], 3);
    assert_eq!(group["partitions"][1]["lag"], 0);

    let (_, list) = app.get("/admin/hubs").await;
    let listed = &list["hubs"][1]; // sorted by name: elsewhere, lagged
    assert_eq!(listed["name"], "lagged");
    assert_eq!(listed["records"], 6);
    assert!(listed["stored_bytes"].as_u64().unwrap() > 0);
    assert!(listed["traffic"]["records_in"].as_u64().unwrap() >= 6);
    assert_eq!(
        app.get("/admin/hubs/missing").await.0,
        StatusCode::NOT_FOUND
    );
}

/// A record as the AMQP front end stores one (docs/MAPPING.md): typed application properties
/// behind the marker header, and the properties section.
async fn append_amqp_record(app: &App, hub: &str) {
    let properties = [
        0x00, 0x53, 0x73, 0xc0, 0x07, 0x03, 0xa1, 0x02, b'i', b'd', 0x40, 0x40,
    ];
    let header = |k: &str, v: &[u8]| Header {
        key: k.into(),
        value: Some(Bytes::copy_from_slice(v)),
    };
    let record = Record {
        offset: 0,
        timestamp: 1_700_000_000_000,
        key: Some(Bytes::from_static(b"pk")),
        value: Some(Bytes::from_static(b"{\"a\":1}")),
        headers: vec![
            header("x-amqp-properties", &properties),
            header("x-amqp-application-properties", b"amqp"),
            header("count", &[0x54, 0x07]),
            header("flag", &[0x41]),
            header("nested", &[0xc0, 0x01, 0x00]),
        ],
    };
    let batch = RecordBatch::encode(&[record], &EncodeOptions::default()).unwrap();
    let id = PartitionId::new(HubName::new(hub).unwrap(), 0);
    app.storage.append(&id, batch).await.unwrap();
}

#[tokio::test]
async fn events_newest_from_offset_and_time_with_typed_properties() {
    let app = App::default_config();
    put_hub(&app, "ev", 1).await;
    append_amqp_record(&app, "ev").await;
    for body in ["one", "two", "three"] {
        send(&app, "ev", 0, body).await;
    }
    let (status, r) = app.get("/admin/hubs/ev/partitions/0/events?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let offsets: Vec<_> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["offset"].as_i64().unwrap())
        .collect();
    assert_eq!(offsets, [2, 3], "the newest two, oldest first");
    assert_eq!(r["events"][1]["value"]["text"], "three");

    let (_, r) = app
        .get("/admin/hubs/ev/partitions/0/events?offset=0&limit=1")
        .await;
    let event = &r["events"][0];
    assert_eq!(event["offset"], 0);
    assert_eq!(event["key"]["text"], "pk");
    assert_eq!(event["value"]["base64"], "eyJhIjoxfQ==");
    assert_eq!(
        event["amqp"]["properties"],
        json!({"message-id": {"type": "string", "value": "id"}})
    );
    let headers = event["headers"].as_array().unwrap();
    let find = |name: &str| headers.iter().find(|h| h["name"] == name).unwrap();
    assert_eq!(find("count")["amqp"], json!({"type": "int", "value": 7}));
    assert_eq!(
        find("flag")["amqp"],
        json!({"type": "boolean", "value": true})
    );
    assert!(
        find("nested").get("amqp").is_none(),
        "compound values stay undecoded"
    );
    assert_eq!(find("nested")["value"]["base64"], "wAEA");

    let (_, r) = app
        .get("/admin/hubs/ev/partitions/0/events?time_ms=1700000000001")
        .await;
    assert_eq!(
        r["events"][0]["offset"], 1,
        "the first record at or after the time"
    );
    let (_, r) = app
        .get("/admin/hubs/ev/partitions/0/events?limit=100000")
        .await;
    assert_eq!(r["events"].as_array().unwrap().len(), 4);
    // Many headers: the first 64 are shown, and the answer says so.
    let props: serde_json::Map<String, serde_json::Value> =
        (0..70).map(|i| (format!("p{i}"), json!("v"))).collect();
    let batch = json!([{"Body": "many", "UserProperties": props}]).to_string();
    let (status, _) = app
        .post(
            "/ev/partitions/0/messages",
            &[("content-type", "application/vnd.microsoft.servicebus.json")],
            batch,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, r) = app.get("/admin/hubs/ev/partitions/0/events?limit=1").await;
    assert_eq!(r["events"][0]["headers"].as_array().unwrap().len(), 64);
    assert_eq!(r["events"][0]["headers_truncated"], true);
    assert_eq!(
        app.get("/admin/hubs/ev/partitions/0/events?offset=1&time_ms=1")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/admin/hubs/ev/partitions/1/events").await.0,
        StatusCode::NOT_FOUND
    );
}

async fn reset(app: &App, group: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    app.post(
        &format!("/admin/groups/{group}/offsets"),
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn groups_list_detail_reset_and_delete() {
    let app = App::default_config();
    put_hub(&app, "gr", 2).await;
    for body in ["a", "b", "c"] {
        send(&app, "gr", 0, body).await;
    }
    commit(&app, "g1", "gr", 0, 1).await;
    let (_, list) = app.get("/admin/groups").await;
    assert_eq!(list["groups"][0]["group"], "g1");
    assert_eq!(list["groups"][0]["lag"], 2);
    assert_eq!(list["groups"][0]["hubs"], json!(["gr"]));
    assert!(
        list["groups"][0]["state"].is_null(),
        "no coordinator in this router"
    );
    let (status, g) = app.get("/admin/groups/g1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(g["members"].is_null());
    assert_eq!(g["offsets"][0]["metadata"], "m");

    let (status, r) = reset(&app, "g1", json!({"hub": "gr", "to": "latest"})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        r["offsets"],
        json!([{"partition": 0, "offset": 3}, {"partition": 1, "offset": 0}])
    );
    assert_eq!(app.get("/admin/groups/g1").await.1["lag"], 0);
    let (_, r) = reset(
        &app,
        "g1",
        json!({"hub": "gr", "to": "earliest", "partitions": [0]}),
    )
    .await;
    assert_eq!(r["offsets"], json!([{"partition": 0, "offset": 0}]));
    assert_eq!(app.get("/admin/groups/g1").await.1["lag"], 3);
    let (_, r) = reset(
        &app,
        "g1",
        json!({"hub": "gr", "to": "time", "time_ms": i64::MAX}),
    )
    .await;
    assert_eq!(
        r["offsets"][0]["offset"], 3,
        "after the newest record: the high watermark"
    );
    for bad in [
        json!({"hub": "gr", "to": "time"}),
        json!({"hub": "gr", "to": "latest", "time_ms": 1}),
        json!({"hub": "gr", "to": "sideways"}),
    ] {
        assert_eq!(reset(&app, "g1", bad).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        reset(
            &app,
            "g1",
            json!({"hub": "gr", "to": "latest", "partitions": [2]})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    let delete = |group: &str| {
        Request::delete(format!("/admin/groups/{group}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(delete("g1")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.send(delete("g1")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/admin/groups/g1").await.0, StatusCode::NOT_FOUND);
}

const FUTURE: i64 = 4_102_444_800;

#[tokio::test]
async fn listen_looks_manage_changes_and_hub_tokens_see_their_hub() {
    let policy = |name: &str, right, hubs: &[&str]| SasPolicy {
        name: name.into(),
        key: Secret::new(format!("{name}-key")),
        rights: Rights::from(right),
        hubs: hubs.iter().map(|h| (*h).to_owned()).collect(),
        cert_subject: None,
    };
    let policies = SasPolicies::new([
        policy("listener", Right::Listen, &[]),
        policy("admin", Right::Manage, &[]),
        policy("one-hub", Right::Listen, &["seen"]),
    ])
    .unwrap();
    let app = App::new(HttpConfig {
        policies: Arc::new(policies),
        ..HttpConfig::default()
    });
    let token = |name: &str, resource: &str| {
        sign_token(name, &Secret::new(format!("{name}-key")), resource, FUTURE)
    };
    let admin = token("admin", "http://gw/");
    let listener = token("listener", "http://gw/");
    let one_hub = token("one-hub", "http://gw/");
    let get = |uri: &str, auth: &str| {
        Request::get(uri)
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    for hub in ["seen", "unseen"] {
        let put = Request::put(format!("/admin/hubs/{hub}"))
            .header("authorization", &admin)
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(put).await.0, StatusCode::CREATED);
    }
    assert_eq!(app.get("/admin/overview").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/admin/access").await.1, json!({"required": true}));
    assert_eq!(
        app.send(get("/admin/overview", &listener)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.send(get("/admin/history", &listener)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.send(get("/admin/groups", &listener)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.send(get("/admin/hubs/seen/partitions/0/events", &listener))
            .await
            .0,
        StatusCode::OK
    );
    // A policy limited to one hub sees that hub only, and no gateway-wide page.
    let (status, _, body) = app.send(get("/admin/hubs", &one_hub)).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = support::json(&body)["hubs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["seen"]);
    assert_eq!(
        app.send(get("/admin/hubs/unseen", &one_hub)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send(get("/admin/overview", &one_hub)).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, _, body) = app.send(get("/admin/hubs", &listener)).await;
    assert_eq!(support::json(&body)["hubs"].as_array().unwrap().len(), 2);
    // A hub-scoped token (sr names a hub) is not namespace-wide either.
    let scoped = token("listener", "http://gw/seen");
    assert_eq!(
        app.send(get("/admin/overview", &scoped)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send(get("/admin/hubs/seen", &scoped)).await.0,
        StatusCode::OK
    );

    // Listen cannot change; Manage can.
    let reset_with = |auth: &str| {
        Request::post("/admin/groups/g/offsets")
            .header("authorization", auth)
            .body(Body::from(r#"{"hub":"seen","to":"earliest"}"#))
            .unwrap()
    };
    assert_eq!(
        app.send(reset_with(&listener)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.send(reset_with(&admin)).await.0, StatusCode::OK);
    let delete_with = |auth: &str| {
        Request::delete("/admin/groups/g")
            .header("authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        app.send(delete_with(&listener)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send(delete_with(&admin)).await.0,
        StatusCode::NO_CONTENT
    );
}

/// A coordinator stand-in with one live group of one member.
#[derive(Debug)]
struct OneLiveGroup;

impl hubgate_protocol::GroupDirectory for OneLiveGroup {
    fn delete<'a>(&'a self, group: &'a str) -> hubgate_protocol::groups::Deleting<'a> {
        Box::pin(async move {
            if group == "live" {
                hubgate_protocol::GroupDeleted::NotEmpty
            } else {
                hubgate_protocol::GroupDeleted::NotFound
            }
        })
    }

    fn list(&self) -> Vec<hubgate_protocol::GroupSummary> {
        vec![hubgate_protocol::GroupSummary {
            group: "live".into(),
            state: "Stable".into(),
            protocol_type: "consumer".into(),
        }]
    }

    fn describe<'a>(&'a self, group: &'a str) -> hubgate_protocol::groups::Described<'a> {
        Box::pin(async move {
            (group == "live").then(|| hubgate_protocol::GroupDescription {
                state: "Stable".into(),
                protocol_type: "consumer".into(),
                protocol: "range".into(),
                members: vec![hubgate_protocol::GroupMember {
                    member_id: "m-1".into(),
                    instance_id: None,
                    client_id: "app".into(),
                    client_host: "/127.0.0.1".into(),
                    assignment: vec![("gl".into(), vec![0, 1])],
                }],
            })
        })
    }
}

#[tokio::test]
async fn live_groups_show_members_and_refuse_changes() {
    let groups = hubgate_protocol::GroupDirectorySlot::default();
    groups.publish(Arc::new(OneLiveGroup));
    let app = App::new(HttpConfig {
        groups,
        ..HttpConfig::default()
    });
    put_hub(&app, "gl", 2).await;
    commit(&app, "live", "gl", 0, 0).await;
    commit(&app, "idle", "gl", 0, 0).await;
    let (_, list) = app.get("/admin/groups").await;
    let states: Vec<_> = list["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].clone(), g["state"].clone()))
        .collect();
    assert_eq!(
        states,
        [
            (json!("idle"), json!(null)),
            (json!("live"), json!("Stable"))
        ]
    );
    let (status, g) = app.get("/admin/groups/live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(g["protocol"], "range");
    assert_eq!(g["members"][0]["client_id"], "app");
    assert_eq!(
        g["members"][0]["assignment"],
        json!([{"hub": "gl", "partitions": [0, 1]}])
    );
    let (status, r) = reset(&app, "live", json!({"hub": "gl", "to": "latest"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{r}");
    assert_eq!(r["code"], "Conflict");
    let delete = |group: &str| {
        Request::delete(format!("/admin/groups/{group}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(app.send(delete("live")).await.0, StatusCode::CONFLICT);
    assert_eq!(app.send(delete("idle")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        reset(&app, "idle", json!({"hub": "gl", "to": "latest"}))
            .await
            .0,
        StatusCode::OK
    );
}
