//! Checks shared by the cargo-fuzz targets (`fuzz/`) and property tests, for any model.
//!
//! Each function feeds arbitrary bytes to a public entry point and checks invariants that must hold for
//! any input; a violated invariant panics, which is what a fuzzer reports. Service bindings call these
//! with their own model, so `cargo test` exercises them too, without the nightly-only libFuzzer
//! toolchain.

use http::{HeaderMap, HeaderValue};

use crate::{decode_request, encode_response, parse_auth, Model, Node, Protocol, WireError};

/// Decode `data` as a `protocol` body for every operation of `model`: an accepted body must be a
/// map that survives a re-encode/decode cycle in both protocols; a refused one must be refused
/// with a well-formed serialization or validation error.
pub fn decode_all(model: &Model, protocol: Protocol, data: &[u8]) {
    for op in model.operations() {
        match decode_request(model, op, protocol, data) {
            Ok(node) => {
                assert!(matches!(node, Node::Map(_)), "decoded input must be a map");
                // What was accepted must survive a re-encode/decode cycle in both protocols.
                for p in [Protocol::Json, Protocol::Cbor] {
                    let again = decode_request(model, op, p, &encode_response(p, &node));
                    assert_eq!(
                        again.as_ref(),
                        Ok(&node),
                        "round trip through {p:?} changed {}",
                        op.name
                    );
                }
            }
            Err(err) => assert_error_well_formed(&err),
        }
    }
}

fn assert_error_well_formed(err: &WireError) {
    assert!(
        matches!(err, WireError::Serialization(_) | WireError::Validation(_)),
        "unexpected error {err:?}"
    );
    assert_eq!(err.status(), 400);
    if let WireError::Validation(m) = err {
        assert!(
            m.contains("validation error") && m.contains("failed to satisfy constraint"),
            "{m}"
        );
    }
}

/// Split `data` into an Authorization header, an X-Amz-Date header and a query string (separated by
/// newlines) and parse them, expecting a credential scope for `service`.
pub fn fuzz_auth_header(data: &[u8], service: &str) {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let auth = parts.next().unwrap_or_default();
    let date = parts.next();
    let query = parts.next().map(String::from_utf8_lossy);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(auth) {
        headers.insert(http::header::AUTHORIZATION, v);
    }
    if let Some(Ok(v)) = date.map(HeaderValue::from_bytes) {
        headers.insert("x-amz-date", v);
    }
    // HTTP/2 accepts everything HTTP/1.1 does (and a signed `:authority` besides).
    let h1 = parse_auth(&headers, query.as_deref(), http::Version::HTTP_11, service);
    let h2 = parse_auth(&headers, query.as_deref(), http::Version::HTTP_2, service);
    if h1.is_ok() {
        assert!(h2.is_ok(), "accepted over HTTP/1.1, refused over HTTP/2");
    }
    for parsed in [h1, h2] {
        check_auth(parsed, service);
    }
}

fn check_auth(parsed: Result<crate::AuthInfo, WireError>, service: &str) {
    match parsed {
        Ok(info) => {
            assert_eq!(info.service, service);
            assert!(!info.region.is_empty() && !info.access_key_id.is_empty());
        }
        Err(err) => {
            assert!(matches!(
                err,
                WireError::MissingAuthenticationToken
                    | WireError::IncompleteSignature(_)
                    | WireError::InvalidSignature(_)
            ));
            assert_eq!(err.status(), 400);
        }
    }
}

/// Decode `data` as an awsQuery form body: with its own `Action`, and for every operation of
/// `model`. An accepted body must give a map; a refused one a well-formed error, whose XML
/// rendering must not fail either. The answer encoder must take the decoded tree of any
/// operation (as if it were an answer) without panicking.
pub fn decode_query_all(model: &Model, data: &[u8]) {
    match crate::query::decode(model, data) {
        Ok((_, node)) => assert!(matches!(node, Node::Map(_))),
        Err(err) => {
            let (status, body) = crate::query::error_response(model, &err, "fuzz");
            assert!((400..600).contains(&status));
            assert!(body.starts_with(b"<ErrorResponse"));
        }
    }
    for op in model.operations() {
        match crate::query::decode_request(model, op, data) {
            Ok(node) => {
                assert!(matches!(node, Node::Map(_)), "decoded input must be a map");
                let xml = crate::query::encode_response(model, op, &node, "fuzz");
                assert!(xml.starts_with(b"<"));
            }
            Err(err) => assert_error_well_formed(&err),
        }
    }
}

/// Decode `data` as a JSON 1.0 body for every operation of `model`; the same invariants as
/// [`decode_all`] for JSON, plus a checksum header on every answer.
pub fn decode_json10_all(model: &Model, data: &[u8]) {
    for op in model.operations() {
        match crate::json10::decode_request(model, op, data) {
            Ok(node) => {
                let body = crate::json10::encode_response(&node);
                let again = crate::json10::decode_request(model, op, &body);
                assert_eq!(again.as_ref(), Ok(&node), "round trip changed {}", op.name);
                let (name, value) = crate::json10::crc32_header(&body);
                assert_eq!(name, "x-amz-crc32");
                assert!(value.parse::<u32>().is_ok());
            }
            Err(err) => {
                assert_error_well_formed(&err);
                let (status, body) = crate::json10::error_response(&err);
                assert_eq!(status, 400);
                assert!(body.starts_with(b"{\"__type\":\"com.amazon.coral."));
            }
        }
    }
}
