//! Encoding response trees and error documents.
//!
//! Hand-written encoders rather than serde: the tree is already typed, the output rules are
//! protocol-specific (timestamps as fractional epoch seconds in JSON but tagged integer milliseconds in CBOR,
//! blobs as base64 vs byte strings), and GetRecords responses are the hot path of the server.

use std::io::Write as _;

use crate::{Node, Protocol};

/// Encode a response tree (normally a [`Node::Map`]).
///
/// JSON: blobs as base64 strings, timestamps as epoch seconds with a millisecond fraction
/// (`1700000000.123`). CBOR: blobs as byte strings, timestamps as CBOR tag 1 around integer epoch
/// milliseconds (what AWS sends and the Java SDK v2 reads for Kinesis). Non-finite floats become
/// null in both.
pub fn encode_response(protocol: Protocol, output: &Node) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    match protocol {
        Protocol::Json => json_node(&mut out, output),
        Protocol::Cbor => cbor_node(&mut out, output),
    }
    out
}

/// An error document: JSON `{"__type": ..., "message": ...}`, CBOR a map with the same keys.
///
/// Two AWS conventions are kept: an empty message is omitted entirely (AWS sends a bare
/// `{"__type":"SerializationException"}` for an unparsable body and never a message for
/// `UnknownOperationException`), and `SerializationException` spells the key `Message` (its replies come
/// from a different layer of the AWS stack than the modelled errors). SDKs read either spelling.
pub fn encode_error(protocol: Protocol, error_type: &str, message: &str) -> Vec<u8> {
    let mut doc = Node::map().with("__type", error_type);
    if !message.is_empty() {
        let key = if error_type == "SerializationException" {
            "Message"
        } else {
            "message"
        };
        doc.insert(key, message);
    }
    encode_response(protocol, &doc)
}

fn json_node(out: &mut Vec<u8>, node: &Node) {
    match node {
        Node::Null => out.extend_from_slice(b"null"),
        Node::Bool(true) => out.extend_from_slice(b"true"),
        Node::Bool(false) => out.extend_from_slice(b"false"),
        Node::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Node::Float(f) => json_float(out, *f),
        Node::Str(s) => json_str(out, s),
        Node::Bytes(b) => json_bytes(out, b),
        Node::Timestamp(ms) => json_timestamp(out, *ms),
        Node::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_node(out, item);
            }
            out.push(b']');
        }
        Node::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(out, k);
                out.push(b':');
                json_node(out, v);
            }
            out.push(b'}');
        }
    }
}

fn json_float(out: &mut Vec<u8>, f: f64) {
    if !f.is_finite() {
        out.extend_from_slice(b"null");
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        // Keep a ".0" so the value stays a float for strict readers.
        let _ = write!(out, "{f:.1}");
    } else {
        let _ = write!(out, "{f}");
    }
}

/// A blob as a quoted base64 string. The base64 alphabet never needs JSON escaping, so the
/// text goes in as is (no escape scan), encoded by the SIMD engine: base64 was the largest
/// user-space cost of a GetRecords answer.
pub fn json_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.reserve(base64_simd::STANDARD.encoded_length(b.len()) + 2);
    out.push(b'"');
    base64_simd::STANDARD.encode_append(b, out);
    out.push(b'"');
}

/// A timestamp as epoch seconds with a three-digit millisecond fraction (`1700000000.123`,
/// `-0.001`).
pub fn json_timestamp(out: &mut Vec<u8>, ms: i64) {
    if ms < 0 {
        out.push(b'-');
    }
    let abs = ms.unsigned_abs();
    out.extend_from_slice(itoa::Buffer::new().format(abs / 1000).as_bytes());
    let frac = abs % 1000;
    out.extend_from_slice(&[
        b'.',
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ]);
}

/// Whether a byte must be escaped inside a JSON string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

pub fn json_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings (member names, sequence numbers, iterators, most keys) need no escape:
    // one tight scan, then a single copy.
    let Some(first) = bytes.iter().position(|&b| needs_escape(b)) else {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
    out.push(b'"');
    if let Some(run) = bytes.get(..first) {
        out.extend_from_slice(run);
    }
    let mut run_start = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        if let Some(run) = bytes.get(run_start..i) {
            out.extend_from_slice(run);
        }
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                let _ = write!(out, "\\u{:04x}", b);
            }
        }
        run_start = i + 1;
    }
    if let Some(run) = bytes.get(run_start..) {
        out.extend_from_slice(run);
    }
    out.push(b'"');
}

/// CBOR head: major type in the top 3 bits, argument in the shortest form.
fn cbor_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= u64::from(u8::MAX) {
        out.push(m | 24);
        out.push(arg as u8);
    } else if arg <= u64::from(u16::MAX) {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= u64::from(u32::MAX) {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

fn cbor_int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        cbor_head(out, 0, i as u64);
    } else {
        // -1 - n encodes n; for i64::MIN this is i64::MAX, no overflow.
        cbor_head(out, 1, (-1 - i) as u64);
    }
}

fn cbor_text(out: &mut Vec<u8>, s: &str) {
    cbor_head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn cbor_node(out: &mut Vec<u8>, node: &Node) {
    match node {
        Node::Null => out.push(0xf6),
        Node::Bool(false) => out.push(0xf4),
        Node::Bool(true) => out.push(0xf5),
        Node::Int(i) => cbor_int(out, *i),
        Node::Timestamp(ms) => {
            // Tag 1 around integer epoch milliseconds, as AWS writes it (`c1 1b ...`): RFC 8949
            // says seconds, but the Java SDKs read the tagged integer as milliseconds and expect
            // the tag there.
            out.push(0xc1);
            cbor_int(out, *ms);
        }
        Node::Float(f) => {
            if f.is_finite() {
                out.push(0xfb);
                out.extend_from_slice(&f.to_be_bytes());
            } else {
                out.push(0xf6);
            }
        }
        Node::Str(s) => cbor_text(out, s),
        Node::Bytes(b) => {
            cbor_head(out, 2, b.len() as u64);
            out.extend_from_slice(b);
        }
        Node::List(items) => {
            cbor_head(out, 4, items.len() as u64);
            for item in items {
                cbor_node(out, item);
            }
        }
        Node::Map(entries) => {
            cbor_head(out, 5, entries.len() as u64);
            for (k, v) in entries {
                cbor_text(out, k);
                cbor_node(out, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn json_output_format() {
        let n = Node::map()
            .with("S", "a\"b\\c\n\u{1}é")
            .with("I", -5i64)
            .with("F", 1.5f64)
            .with("W", 2.0f64)
            .with("N", f64::NAN)
            .with("B", Bytes::from_static(b"hello"))
            .with("T", Node::Timestamp(1_700_000_000_123))
            .with("T0", Node::Timestamp(1_700_000_000_000))
            .with("Neg", Node::Timestamp(-1))
            .with("L", vec![Node::Bool(true), Node::Null, Node::Bool(false)])
            .with("E", Node::map());
        let s = String::from_utf8(encode_response(Protocol::Json, &n)).unwrap();
        assert_eq!(
            s,
            r#"{"S":"a\"b\\c\n\u0001é","I":-5,"F":1.5,"W":2.0,"N":null,"B":"aGVsbG8=","T":1700000000.123,"T0":1700000000.000,"Neg":-0.001,"L":[true,null,false],"E":{}}"#
        );
        // The output is valid JSON that a standard parser reads back.
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["S"], "a\"b\\c\n\u{1}é");
        assert_eq!(v["T"].as_f64(), Some(1_700_000_000.123));
    }

    #[test]
    fn timestamps_match_the_formatted_reference() {
        for ms in [
            0,
            5,
            999,
            1000,
            1_700_000_000_050,
            -1,
            -999,
            -1000,
            -1501,
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = Vec::new();
            json_timestamp(&mut out, ms);
            let sign = if ms < 0 { "-" } else { "" };
            let abs = ms.unsigned_abs();
            let reference = format!("{sign}{}.{:03}", abs / 1000, abs % 1000);
            assert_eq!(String::from_utf8(out).unwrap(), reference, "{ms}");
        }
    }

    proptest::proptest! {
        #[test]
        fn json_str_round_trips_through_serde(s in "(?s).{0,40}") {
            let mut out = Vec::new();
            json_str(&mut out, &s);
            let back: String = serde_json::from_slice(&out).unwrap();
            proptest::prop_assert_eq!(back, s);
        }

        #[test]
        fn json_bytes_is_standard_padded_base64(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            use base64::Engine as _;
            let mut out = Vec::new();
            json_bytes(&mut out, &b);
            let expected = format!("\"{}\"", base64::engine::general_purpose::STANDARD.encode(&b));
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }

    #[test]
    fn cbor_output_matches_independent_decoder() {
        let n = Node::map()
            .with("S", "x")
            .with("I", -300i64)
            .with("Big", i64::MAX)
            .with("Min", i64::MIN)
            .with("F", 0.25f64)
            .with("B", Bytes::from_static(&[0, 1, 2]))
            .with("T", Node::Timestamp(1_700_000_000_123))
            .with("L", vec![Node::Null, Node::Bool(true)]);
        let bytes = encode_response(Protocol::Cbor, &n);
        let v: ciborium::Value = ciborium::from_reader(&bytes[..]).unwrap();
        let map = v.as_map().unwrap();
        let get = |k: &str| {
            map.iter()
                .find(|(key, _)| key.as_text() == Some(k))
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("S").as_text(), Some("x"));
        assert_eq!(i128::from(get("I").as_integer().unwrap()), -300);
        assert_eq!(
            i128::from(get("Big").as_integer().unwrap()),
            i128::from(i64::MAX)
        );
        assert_eq!(
            i128::from(get("Min").as_integer().unwrap()),
            i128::from(i64::MIN)
        );
        assert_eq!(get("F").as_float(), Some(0.25));
        assert_eq!(
            get("B").as_bytes().map(Vec::as_slice),
            Some(&[0u8, 1, 2][..])
        );
        let ciborium::Value::Tag(1, t) = get("T") else {
            panic!("timestamp not under tag 1: {:?}", get("T"));
        };
        assert_eq!(i128::from(t.as_integer().unwrap()), 1_700_000_000_123);
        assert_eq!(get("L").as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn cbor_timestamps_are_tag_1_around_integer_millis() {
        let bytes = encode_response(
            Protocol::Cbor,
            &Node::map().with("T", Node::Timestamp(1_700_000_000_123)),
        );
        let mut want = vec![0xa1, 0x61, b'T', 0xc1, 0x1b];
        want.extend_from_slice(&1_700_000_000_123u64.to_be_bytes());
        assert_eq!(bytes, want);
        // Small and negative values keep the shortest integer form under the tag.
        let small = encode_response(Protocol::Cbor, &Node::Timestamp(5));
        assert_eq!(small, [0xc1, 0x05]);
        let neg = encode_response(Protocol::Cbor, &Node::Timestamp(-1));
        assert_eq!(neg, [0xc1, 0x20]);
    }

    #[test]
    fn error_documents() {
        let j = |t, m| String::from_utf8(encode_error(Protocol::Json, t, m)).unwrap();
        assert_eq!(
            j("ResourceNotFoundException", "Stream x not found."),
            r#"{"__type":"ResourceNotFoundException","message":"Stream x not found."}"#
        );
        assert_eq!(
            j("SerializationException", ""),
            r#"{"__type":"SerializationException"}"#
        );
        assert_eq!(
            j(
                "SerializationException",
                "Start of list found where not expected"
            ),
            r#"{"__type":"SerializationException","Message":"Start of list found where not expected"}"#
        );
        let c = encode_error(Protocol::Cbor, "UnknownOperationException", "");
        let v: ciborium::Value = ciborium::from_reader(&c[..]).unwrap();
        let map = v.as_map().unwrap();
        assert_eq!(map.len(), 1);
        assert_eq!(map[0].0.as_text(), Some("__type"));
        assert_eq!(map[0].1.as_text(), Some("UnknownOperationException"));
    }
}
