//! Shared helpers: the router over an in-memory log, requests through `oneshot`, and reading
//! stored records back.
#![allow(dead_code, unreachable_pub)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use hubgate_http::HttpConfig;
use hubgate_storage::{
    HubName, Limits, PartitionId, Record, SharedStorage, StorageConfig, StorageUrl, open,
};
use tower::ServiceExt;

pub fn memory() -> SharedStorage {
    let url: StorageUrl = "memory://".parse().unwrap();
    open(&StorageConfig::new(url)).unwrap()
}

pub struct App {
    pub storage: SharedStorage,
    pub router: Router,
}

impl App {
    pub fn new(config: HttpConfig) -> Self {
        let storage = memory();
        let router = hubgate_http::router(storage.clone(), config);
        Self { storage, router }
    }

    pub fn default_config() -> Self {
        Self::new(HttpConfig::default())
    }

    /// Sends a request; returns the status, the headers and the body bytes.
    pub async fn send(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    pub async fn post(
        &self,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, serde_json::Value) {
        let mut builder = Request::post(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (status, _, body) = self.send(builder.body(body.into()).unwrap()).await;
        (status, json(&body))
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        let (status, _, body) = self
            .send(Request::get(uri).body(Body::empty()).unwrap())
            .await;
        (status, json(&body))
    }

    /// Every record of one partition, in offset order.
    pub async fn records(&self, hub: &str, partition: u32) -> Vec<Record> {
        let id = PartitionId::new(HubName::new(hub).unwrap(), partition);
        let state = self.storage.partition(&id).await.unwrap();
        let mut out = Vec::new();
        let mut next = state.log_start;
        while next < state.high_watermark {
            let read = self.storage.read(&id, next, 1 << 20).await.unwrap();
            for batch in read.batches {
                for record in batch.records(&Limits::default()).unwrap() {
                    if record.offset >= next {
                        next = record.offset + 1;
                        out.push(record);
                    }
                }
            }
        }
        out
    }

    /// Every record of the hub as (partition, record).
    pub async fn all(&self, hub: &str) -> Vec<(u32, Record)> {
        let info = self.storage.hub(&HubName::new(hub).unwrap()).await.unwrap();
        let mut out = Vec::new();
        for p in 0..info.config.partitions {
            for r in self.records(hub, p).await {
                out.push((p, r));
            }
        }
        out
    }
}

pub fn json(body: &[u8]) -> serde_json::Value {
    if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        })
    }
}

pub fn header<'a>(record: &'a Record, name: &str) -> Option<&'a [u8]> {
    record
        .headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value.as_deref())
}

pub fn text(bytes: Option<&[u8]>) -> Option<&str> {
    bytes.map(|b| std::str::from_utf8(b).unwrap())
}
