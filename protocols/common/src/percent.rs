//! Percent-encoding (`%XX`) of URI parts, form fields and header values.

/// Decodes `%XX` escapes into UTF-8; `+` stays a `+`.
///
/// Returns `None` for an incomplete or non-hex escape, or when the bytes are not UTF-8.
pub fn decode(raw: &[u8]) -> Option<String> {
    decode_with(raw, false)
}

/// Decodes an `application/x-www-form-urlencoded` value: like [`decode`], and `+` is a space
/// (Python's `quote_plus` writes spaces that way).
pub fn decode_form(raw: &[u8]) -> Option<String> {
    decode_with(raw, true)
}

fn decode_with(raw: &[u8], plus_is_space: bool) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'%' => {
                let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Encodes `text` as Python's `quote_plus` does: ASCII letters, digits and `-._~` stay, a
/// space becomes `+`, every other byte `%XX` with upper-case hex.
pub fn encode_form(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode(b"a%20b%22%C3%A9").as_deref(), Some("a b\"é"));
        assert_eq!(decode(b"a+b").as_deref(), Some("a+b"));
        assert_eq!(decode_form(b"a%2Fb+c").as_deref(), Some("a/b c"));
        assert_eq!(decode(b"%2f%2F").as_deref(), Some("//"));
        for bad in [&b"%2"[..], b"%", b"%zz", b"%C3"] {
            assert_eq!(decode(bad), None, "{bad:?}");
            assert_eq!(decode_form(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encoding_matches_quote_plus() {
        // Python: urllib.parse.quote_plus("sb://127.0.0.1:5672/hub 1/$default~x")
        assert_eq!(
            encode_form("sb://127.0.0.1:5672/hub 1/$default~x"),
            "sb%3A%2F%2F127.0.0.1%3A5672%2Fhub+1%2F%24default~x"
        );
        assert_eq!(encode_form("é"), "%C3%A9");
        let text = "a b/c+d%e";
        assert_eq!(
            decode_form(encode_form(text).as_bytes()).as_deref(),
            Some(text)
        );
    }
}
