//! XML output: escaping and the List Blobs body.

use std::fmt::Write as _;

/// Escapes `& < > " '` for element text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedBlob {
    pub(crate) name: String,
    pub(crate) etag: String,
    pub(crate) last_modified: String,
    pub(crate) created: String,
    pub(crate) content_length: usize,
    pub(crate) content_type: String,
    pub(crate) metadata: Vec<(String, String)>,
}

/// What a List Blobs response says.
#[derive(Debug)]
pub(crate) struct Listing<'a> {
    pub(crate) service_endpoint: &'a str,
    pub(crate) container: &'a str,
    pub(crate) prefix: &'a str,
    pub(crate) marker: &'a str,
    pub(crate) max_results: Option<usize>,
    pub(crate) include_metadata: bool,
    pub(crate) blobs: &'a [ListedBlob],
    pub(crate) next_marker: &'a str,
}

/// The `EnumerationResults` body. ETags are unquoted, as Azure lists them; `<Blobs>` is
/// always present; metadata values are kept even when empty.
pub(crate) fn listing(l: &Listing<'_>) -> String {
    let mut out = String::with_capacity(256 + l.blobs.len() * 400);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EnumerationResults ServiceEndpoint=\"{}\" ContainerName=\"{}\">",
        escape(l.service_endpoint),
        escape(l.container)
    );
    let _ = write!(out, "<Prefix>{}</Prefix>", escape(l.prefix));
    if !l.marker.is_empty() {
        let _ = write!(out, "<Marker>{}</Marker>", escape(l.marker));
    }
    if let Some(max) = l.max_results {
        let _ = write!(out, "<MaxResults>{max}</MaxResults>");
    }
    if l.blobs.is_empty() {
        out.push_str("<Blobs />");
    } else {
        out.push_str("<Blobs>");
        for b in l.blobs {
            let _ = write!(
                out,
                "<Blob><Name>{}</Name><Properties><Creation-Time>{}</Creation-Time><Last-Modified>{}</Last-Modified><Etag>{}</Etag><Content-Length>{}</Content-Length><Content-Type>{}</Content-Type><BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState></Properties>",
                escape(&b.name),
                b.created,
                b.last_modified,
                b.etag.trim_matches('"'),
                b.content_length,
                escape(&b.content_type),
            );
            if l.include_metadata {
                out.push_str("<Metadata>");
                for (k, v) in &b.metadata {
                    let _ = write!(out, "<{k}>{}</{k}>", escape(v));
                }
                out.push_str("</Metadata>");
            }
            out.push_str("</Blob>");
        }
        out.push_str("</Blobs>");
    }
    if l.next_marker.is_empty() {
        out.push_str("<NextMarker />");
    } else {
        let _ = write!(out, "<NextMarker>{}</NextMarker>", escape(l.next_marker));
    }
    out.push_str("</EnumerationResults>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_has_blob_type_unquoted_etags_and_empty_metadata_values() {
        let blobs = [ListedBlob {
            name: "ns/h/$default/ownership/0&<".into(),
            etag: "\"0x0000000000000005\"".into(),
            last_modified: "Wed, 02 Dec 2026 07:33:39 GMT".into(),
            created: "Wed, 02 Dec 2026 07:33:39 GMT".into(),
            content_length: 0,
            content_type: "application/octet-stream".into(),
            metadata: vec![("ownerid".into(), String::new())],
        }];
        let xml = listing(&Listing {
            service_endpoint: "http://127.0.0.1:10000/devstoreaccount1/",
            container: "ckpt",
            prefix: "ns/",
            marker: "",
            max_results: None,
            include_metadata: true,
            blobs: &blobs,
            next_marker: "",
        });
        assert!(
            xml.contains("<Name>ns/h/$default/ownership/0&amp;&lt;</Name>"),
            "{xml}"
        );
        assert!(xml.contains("<Etag>0x0000000000000005</Etag>"), "{xml}");
        assert!(xml.contains("<BlobType>BlockBlob</BlobType>"));
        assert!(xml.contains("<Metadata><ownerid></ownerid></Metadata>"));
        assert!(xml.ends_with("<NextMarker /></EnumerationResults>"));
        let empty = listing(&Listing {
            blobs: &[],
            next_marker: "x",
            include_metadata: false,
            ..Listing {
                service_endpoint: "e",
                container: "c",
                prefix: "",
                marker: "",
                max_results: Some(2),
                include_metadata: false,
                blobs: &[],
                next_marker: "",
            }
        });
        assert!(empty.contains("<Blobs />") && empty.contains("<NextMarker>x</NextMarker>"));
        assert!(empty.contains("<MaxResults>2</MaxResults>"));
    }
}
