//! List Blobs: `GET /{account}/{container}?restype=container&comp=list[&prefix][&marker]
//! [&maxresults][&include=metadata]` → `200` with the XML listing, ordered by name, paged with
//! `NextMarker` (at most 5,000 per page, Azure's limit). Checkpoint blobs under the prefix come
//! from the Kafka group's committed offsets and are merged in by name.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hubgate_storage::MAX_OBJECT_LIST;

use crate::checkpoint;
use crate::error::BlobError;
use crate::request::BlobRequest;
use crate::routes::Ctx;
use crate::store::{self, Entry, blobs_prefix, etag, http_date};
use crate::xml::{ListedBlob, Listing, listing};

pub(crate) async fn run(ctx: &Ctx, req: &BlobRequest) -> Result<Response, BlobError> {
    let container = req.container.as_deref().unwrap_or_default();
    if req.param("delimiter").is_some() {
        return Err(BlobError::FeatureNotSupported(
            "hierarchical listing (delimiter)",
        ));
    }
    let prefix = req.param("prefix").unwrap_or("");
    let marker = req.param("marker").unwrap_or("");
    let max_results = match req.param("maxresults") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n > 0 => Some((n as u64).min(MAX_OBJECT_LIST as u64) as usize),
            _ => {
                return Err(BlobError::InvalidQueryParameterValue(
                    "maxresults must be a positive integer",
                ));
            }
        },
    };
    let page = max_results.unwrap_or(MAX_OBJECT_LIST);
    let include_metadata = req
        .param("include")
        .is_some_and(|v| v.split(',').any(|i| i.trim() == "metadata"));
    store::container(&ctx.storage, &req.account, container).await?;

    let key_prefix = blobs_prefix(&req.account, container);
    let mut start = key_prefix.clone();
    start.extend_from_slice(prefix.max(marker).as_bytes());
    let mut full_prefix = key_prefix.clone();
    full_prefix.extend_from_slice(prefix.as_bytes());
    let stored = ctx.storage.list_objects(&full_prefix, &start, page).await?;
    // The first stored blob after this page, if any: the next page starts there.
    let next_stored = match stored.last() {
        Some((last, _)) if stored.len() == page => {
            let mut after = last.to_vec();
            after.push(0);
            ctx.storage
                .list_objects(&full_prefix, &after, 1)
                .await?
                .into_iter()
                .next()
                .map(|(key, _)| String::from_utf8_lossy(&key[key_prefix.len()..]).into_owned())
        }
        _ => None,
    };
    let checkpoints = checkpoint::list(&ctx.storage, prefix).await?;
    let mut blobs: Vec<ListedBlob> = Vec::with_capacity(stored.len() + checkpoints.len());
    for (key, object) in stored {
        let name = String::from_utf8_lossy(&key[key_prefix.len()..]).into_owned();
        if checkpoints.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let entry = Entry::decode(object)?;
        blobs.push(listed(name, &entry));
    }
    for (name, committed) in checkpoints {
        if name.as_str() < marker {
            continue;
        }
        let at = http_date(committed.committed_at_ms);
        blobs.push(ListedBlob {
            name,
            etag: etag(checkpoint::version(&committed)),
            last_modified: at.clone(),
            created: at,
            content_length: 0,
            content_type: "application/octet-stream".to_owned(),
            metadata: checkpoint::metadata(&committed),
        });
    }
    blobs.sort_by(|a, b| a.name.cmp(&b.name));
    // Markers name the first blob of the next page.
    let next_marker = if blobs.len() > page {
        let next = blobs[page].name.clone();
        blobs.truncate(page);
        next
    } else {
        next_stored.unwrap_or_default()
    };
    let host = req.header("host")?.unwrap_or("127.0.0.1:10000").to_owned();
    let endpoint = format!("http://{host}/{}/", req.account);
    let body = listing(&Listing {
        service_endpoint: &endpoint,
        container,
        prefix,
        marker,
        max_results,
        include_metadata,
        blobs: &blobs,
        next_marker: &next_marker,
    });
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    Ok(response)
}

fn listed(name: String, entry: &Entry) -> ListedBlob {
    let p = &entry.properties;
    ListedBlob {
        name,
        etag: entry.etag(),
        last_modified: http_date(p.modified_ms),
        created: http_date(p.created_ms),
        content_length: entry.content.len(),
        content_type: p
            .content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".to_owned()),
        metadata: p.metadata.clone(),
    }
}
