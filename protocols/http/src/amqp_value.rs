//! Decodes the AMQP-encoded header values the AMQP front end stores (`docs/MAPPING.md`) into
//! typed JSON, `{"type": "int", "value": 7}`, for the events browser.
//!
//! Stored bytes may come from any producer (a Kafka client can write the marker header), so
//! only **scalar** values are decoded: the constructor is checked and the value's length is
//! taken from the bytes before serde_amqp sees them, and lists, maps, arrays and described
//! values are never handed to its recursive decoder. The properties section is walked here,
//! field by field, for the same reason.

use base64::Engine as _;
use serde_amqp::Value as Amqp;
use serde_json::{Value, json};

/// The length of the one scalar value at the start of `buf` (constructor included), or `None`
/// when it is not a complete scalar.
fn scalar_len(buf: &[u8]) -> Option<usize> {
    let code = *buf.first()?;
    let fixed = |width: usize| Some(1 + width);
    let len = match code {
        0x40..=0x44 => fixed(0),
        0x50..=0x56 => fixed(1),
        0x60 | 0x61 => fixed(2),
        0x70..=0x74 => fixed(4),
        0x80..=0x84 => fixed(8),
        0x94 | 0x98 => fixed(16),
        0xa0 | 0xa1 | 0xa3 => Some(2 + usize::from(*buf.get(1)?)),
        0xb0 | 0xb1 | 0xb3 => {
            let n = u32::from_be_bytes(buf.get(1..5)?.try_into().ok()?);
            5usize.checked_add(usize::try_from(n).ok()?)
        }
        _ => None,
    }?;
    (len <= buf.len()).then_some(len)
}

/// `bytes` as one typed scalar, when they are exactly one.
pub(crate) fn scalar(bytes: &[u8]) -> Option<Value> {
    if scalar_len(bytes)? != bytes.len() {
        return None;
    }
    let value: Amqp = serde_amqp::from_slice(bytes).ok()?;
    Some(typed(&value))
}

fn typed(value: &Amqp) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let (kind, v) = match value {
        Amqp::Null => ("null", Value::Null),
        Amqp::Bool(b) => ("boolean", json!(b)),
        Amqp::Ubyte(n) => ("ubyte", json!(n)),
        Amqp::Ushort(n) => ("ushort", json!(n)),
        Amqp::Uint(n) => ("uint", json!(n)),
        Amqp::Ulong(n) => ("ulong", json!(n)),
        Amqp::Byte(n) => ("byte", json!(n)),
        Amqp::Short(n) => ("short", json!(n)),
        Amqp::Int(n) => ("int", json!(n)),
        Amqp::Long(n) => ("long", json!(n)),
        Amqp::Float(f) => ("float", json!(f.into_inner())),
        Amqp::Double(f) => ("double", json!(f.into_inner())),
        Amqp::Char(c) => ("char", json!(c.to_string())),
        Amqp::Timestamp(t) => ("timestamp", json!(crate::time::rfc3339(t.milliseconds()))),
        Amqp::Uuid(u) => ("uuid", json!(uuid_text(u.as_inner()))),
        Amqp::Binary(b) => ("binary", json!(b64(b))),
        Amqp::String(s) => ("string", json!(s)),
        Amqp::Symbol(s) => ("symbol", json!(s.as_str())),
        Amqp::Decimal32(d) => ("decimal32", json!(b64(d.as_inner()))),
        Amqp::Decimal64(d) => ("decimal64", json!(b64(d.as_inner()))),
        Amqp::Decimal128(d) => ("decimal128", json!(b64(d.as_inner()))),
        // Never reached: `scalar` refuses compound constructors before decoding.
        _ => ("unsupported", Value::Null),
    };
    json!({ "type": kind, "value": v })
}

fn uuid_text(b: &[u8; 16]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Field names of the properties section, in list order (AMQP 1.0 part 3, §3.2.4).
const PROPERTY_FIELDS: [&str; 13] = [
    "message-id",
    "user-id",
    "to",
    "subject",
    "reply-to",
    "correlation-id",
    "content-type",
    "content-encoding",
    "absolute-expiry-time",
    "creation-time",
    "group-id",
    "group-sequence",
    "reply-to-group-id",
];

/// The `x-amqp-properties` section (`00 53 73` + list) as `{field: typed value}`, leaving out
/// null fields; `None` when the bytes are not such a section of scalars.
pub(crate) fn properties(bytes: &[u8]) -> Option<Value> {
    let rest = match bytes {
        [0x00, 0x53, 0x73, rest @ ..] => rest,
        [0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x73, rest @ ..] => rest,
        _ => return None,
    };
    let (count, mut items) = match rest {
        [0x45] => (0, &rest[1..]),
        [0xc0, size, count, items @ ..] if usize::from(*size) == items.len() + 1 => {
            (usize::from(*count), items)
        }
        [0xd0, s0, s1, s2, s3, c0, c1, c2, c3, items @ ..] => {
            let size = u32::from_be_bytes([*s0, *s1, *s2, *s3]);
            if usize::try_from(size).ok()? != items.len() + 4 {
                return None;
            }
            let count = u32::from_be_bytes([*c0, *c1, *c2, *c3]);
            (usize::try_from(count).ok()?, items)
        }
        _ => return None,
    };
    if count > PROPERTY_FIELDS.len() {
        return None;
    }
    let mut out = serde_json::Map::new();
    for field in PROPERTY_FIELDS.iter().take(count) {
        let len = scalar_len(items)?;
        let (value, tail) = items.split_at(len);
        items = tail;
        if value != [0x40] {
            out.insert((*field).to_owned(), scalar(value)?);
        }
    }
    items.is_empty().then_some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_by_constructor() {
        assert_eq!(
            scalar(&[0x54, 0x07]).unwrap(),
            json!({"type":"int","value":7})
        );
        assert_eq!(
            scalar(&[0x81, 0, 0, 1, 0, 0, 0, 0, 0]).unwrap(),
            json!({"type":"long","value":1u64 << 40})
        );
        assert_eq!(
            scalar(&[0x41]).unwrap(),
            json!({"type":"boolean","value":true})
        );
        assert_eq!(
            scalar(&[0x82, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]).unwrap(),
            json!({"type":"double","value":1.5})
        );
        assert_eq!(
            scalar(&[0xa1, 5, b'h', b'e', b'l', b'l', b'o']).unwrap(),
            json!({"type":"string","value":"hello"})
        );
        assert_eq!(
            scalar(&[0xa3, 3, b's', b'y', b'm']).unwrap(),
            json!({"type":"symbol","value":"sym"})
        );
        assert_eq!(
            scalar(&[0xa0, 3, 0, 1, 2]).unwrap(),
            json!({"type":"binary","value":"AAEC"})
        );
        let ts = 1_700_000_000_123i64.to_be_bytes();
        let mut bytes = vec![0x83];
        bytes.extend_from_slice(&ts);
        assert_eq!(
            scalar(&bytes).unwrap(),
            json!({"type":"timestamp","value":"2023-11-14T22:13:20.123Z"})
        );
        let mut uuid = vec![0x98];
        uuid.extend(0u8..16);
        assert_eq!(
            scalar(&uuid).unwrap()["value"],
            "00010203-0405-0607-0809-0a0b0c0d0e0f"
        );
    }

    #[test]
    fn refuses_compounds_truncation_and_trailing_bytes() {
        assert_eq!(scalar(&[0xc0, 1, 0]), None, "list");
        assert_eq!(scalar(&[0x00, 0x53, 0x73, 0x45]), None, "described");
        assert_eq!(scalar(&[0xa1, 9, b'x']), None, "truncated");
        assert_eq!(scalar(&[0xb1, 0xff, 0xff, 0xff, 0xff]), None, "huge length");
        assert_eq!(scalar(&[0x54, 7, 7]), None, "trailing");
        assert_eq!(scalar(b"plain text"), None, "not AMQP");
        // Deep nesting never reaches the recursive decoder.
        let deep: Vec<u8> = std::iter::repeat_n([0xc0u8, 0x02, 0x01], 10_000)
            .flatten()
            .collect();
        assert_eq!(scalar(&deep), None);
        assert_eq!(properties(&deep), None);
    }

    #[test]
    fn properties_section() {
        // message-id "m1", user-id null, to null, subject "s", then content-type at index 6.
        let mut list = vec![0xa1, 2, b'm', b'1', 0x40, 0x40, 0xa1, 1, b's', 0x40, 0x40];
        list.extend([0xa3, 4, b'j', b's', b'o', b'n']);
        let mut bytes = vec![0x00, 0x53, 0x73, 0xc0, (list.len() + 1) as u8, 7];
        bytes.extend(&list);
        assert_eq!(
            properties(&bytes).unwrap(),
            json!({
                "message-id": {"type":"string","value":"m1"},
                "subject": {"type":"string","value":"s"},
                "content-type": {"type":"symbol","value":"json"},
            })
        );
        assert_eq!(properties(&[0x00, 0x53, 0x73, 0x45]).unwrap(), json!({}));
        let mut wrong_count = bytes.clone();
        wrong_count[5] = 8;
        assert_eq!(properties(&wrong_count), None);
    }
}
