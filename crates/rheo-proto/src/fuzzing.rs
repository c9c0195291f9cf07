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
    match parse_auth(&headers, query.as_deref(), service) {
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
