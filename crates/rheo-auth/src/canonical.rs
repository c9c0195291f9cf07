//! The pieces of a SigV4 canonical request, built from what arrived on the wire.
//!
//! Written by hand rather than with a signing library: a signer chooses which headers to sign
//! and how to encode them, while a verifier must rebuild exactly what *the client* chose (its
//! `SignedHeaders`, its query), so it has to own every step.

use http::HeaderMap;

/// SigV4's percent-encoding: the unreserved characters stay, every other byte becomes `%XX`
/// (uppercase); `/` stays too where a path is encoded.
pub fn uri_encode(out: &mut String, bytes: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// The canonical URI of a non-S3 service: the path as sent, with `.` and `..` segments resolved
/// and empty segments (repeated slashes) dropped, as RFC 3986 and AWS's SDKs normalise it, then
/// percent-encoded once more (the path on the wire is already encoded once: AWS's "encode each
/// segment twice").
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalized = String::with_capacity(path.len() + 1);
    normalized.push('/');
    normalized.push_str(&segments.join("/"));
    if path.len() > 1 && path.ends_with('/') && !segments.is_empty() {
        normalized.push('/');
    }
    let mut out = String::with_capacity(normalized.len());
    uri_encode(&mut out, normalized.as_bytes(), true);
    out
}

/// The canonical query string: every parameter decoded, re-encoded strictly, sorted by name
/// then value. A presigned request's own `X-Amz-Signature` is not part of what it signed.
pub fn canonical_query(raw: Option<&str>, presigned: bool) -> String {
    let Some(raw) = raw.filter(|q| !q.is_empty()) else {
        return String::new();
    };
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(k);
            if presigned && key == b"X-Amz-Signature" {
                return None;
            }
            let mut ek = String::with_capacity(k.len());
            uri_encode(&mut ek, &key, false);
            let mut ev = String::with_capacity(v.len());
            uri_encode(&mut ev, &percent_decode(v), false);
            Some((ek, ev))
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(raw.len());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `%XX` decoded; a `+` stays a `+` (SigV4 clients encode a space as `%20`).
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = (b == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Append the canonical headers block (`name:value\n` per signed header, in the order the
/// client listed them) to `out`. Several values of one header are joined with `,`; each value
/// is trimmed and its inner runs of spaces collapsed. `authority` is the request's authority
/// (HTTP/2's `:authority`), which stands for a `host` header the request does not carry.
pub fn canonical_headers(
    out: &mut String,
    headers: &HeaderMap,
    signed: &[String],
    authority: Option<&str>,
) {
    for name in signed {
        out.push_str(name);
        out.push(':');
        let mut first = true;
        let mut push_value = |out: &mut String, value: &[u8]| {
            if !first {
                out.push(',');
            }
            first = false;
            push_trimmed(out, value);
        };
        if name == ":authority" {
            push_value(out, authority.unwrap_or_default().as_bytes());
        } else {
            let mut any = false;
            for v in headers.get_all(name.as_str()) {
                any = true;
                push_value(out, v.as_bytes());
            }
            if !any && name == "host" {
                if let Some(a) = authority {
                    push_value(out, a.as_bytes());
                }
            }
        }
        out.push('\n');
    }
}

fn push_trimmed(out: &mut String, value: &[u8]) {
    let text = String::from_utf8_lossy(value);
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    if let Some(w) = words.next() {
        out.push_str(w.trim_matches(|c: char| c.is_ascii_whitespace()));
    }
    for w in words {
        out.push(' ');
        out.push_str(w.trim_matches(|c: char| c.is_ascii_whitespace()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn paths_are_normalised_then_encoded_again() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/"), "/");
        // The AWS SigV4 test suite's normalisation cases.
        assert_eq!(canonical_uri("/example/.."), "/");
        assert_eq!(canonical_uri("/example1/example2/../.."), "/");
        assert_eq!(canonical_uri("/example/../example/"), "/example/");
        assert_eq!(canonical_uri("/./"), "/");
        assert_eq!(canonical_uri("/./example"), "/example");
        assert_eq!(canonical_uri("//"), "/");
        assert_eq!(canonical_uri("//example//"), "/example/");
        assert_eq!(canonical_uri("/example space/"), "/example%20space/");
        // Already encoded once on the wire: the `%` is encoded again.
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
        assert_eq!(canonical_uri("/-._~"), "/-._~");
    }

    #[test]
    fn query_is_sorted_and_strictly_encoded() {
        assert_eq!(canonical_query(None, false), "");
        assert_eq!(
            canonical_query(Some("Param2=value2&Param1=value1"), false),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query(Some("Param1=value2&Param1=Value1"), false),
            "Param1=Value1&Param1=value2"
        );
        assert_eq!(canonical_query(Some("-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), false),
            "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
        assert_eq!(
            canonical_query(Some("%E1%88%B4=x&a=%2f&b"), false),
            "%E1%88%B4=x&a=%2F&b="
        );
        assert_eq!(canonical_query(Some("a=1+2"), false), "a=1%2B2");
        assert_eq!(
            canonical_query(Some("X-Amz-Signature=abc&X-Amz-Date=1"), true),
            "X-Amz-Date=1"
        );
        assert_eq!(
            canonical_query(Some("X-Amz-Signature=abc"), false),
            "X-Amz-Signature=abc"
        );
    }

    #[test]
    fn header_values_are_trimmed_joined_and_collapsed() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        h.append("my-header1", HeaderValue::from_static("  value1  "));
        h.append("my-header1", HeaderValue::from_static("value2"));
        h.insert("my-header2", HeaderValue::from_static("a   b    c"));
        let signed: Vec<String> = ["host", "my-header1", "my-header2", "absent"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut out = String::new();
        canonical_headers(&mut out, &h, &signed, None);
        assert_eq!(
            out,
            "host:example.amazonaws.com\nmy-header1:value1,value2\nmy-header2:a b c\nabsent:\n"
        );
    }

    #[test]
    fn the_authority_stands_for_host_and_for_the_pseudo_header() {
        let h = HeaderMap::new();
        let signed: Vec<String> = vec![":authority".into(), "host".into()];
        let mut out = String::new();
        canonical_headers(&mut out, &h, &signed, Some("localhost:4567"));
        assert_eq!(out, ":authority:localhost:4567\nhost:localhost:4567\n");
    }
}
