//! Request decoding: body bytes -> untyped tree -> typed [`Node`] checked against the model.
//!
//! Type mismatches are `SerializationException`s and stop at the first one (AWS's deserializer fails
//! fast, in document order). Constraint checks run afterwards over the whole typed tree and are all
//! reported together as one `ValidationException` (see [`crate::validate`]).
//!
//! The SerializationException texts are the ones the AWS JSON deserializer (Coral) produces for Kinesis,
//! Java class names included, because SDK users see them verbatim. Where no AWS wording is known
//! (timestamps, CBOR-only situations such as byte strings where text is expected) the message follows
//! the same pattern.

use base64::Engine as _;
use bytes::Bytes;
use rheo_stdx::calendar;

use crate::model::{Shape, ShapeKind};
use crate::raw::{self, Raw};
use crate::{Model, Node, Operation, Protocol, WireError};

/// Decode, type-check and validate a request body for `op`.
///
/// The result is a [`Node::Map`] with the operation's input members in model order: blobs as
/// [`Node::Bytes`] (base64-decoded for JSON), timestamps as [`Node::Timestamp`] (epoch ms), integers as
/// [`Node::Int`]. Unknown members are ignored and JSON/CBOR nulls count as absent, as on AWS.
/// An empty (or, in JSON, all-whitespace) body is a SerializationException with no message, as
/// AWS answers it: clients always send at least `{}`.
pub fn decode_request(
    model: &Model,
    op: &Operation,
    protocol: Protocol,
    body: &[u8],
) -> Result<Node, WireError> {
    if body.is_empty() || (protocol == Protocol::Json && body.iter().all(u8::is_ascii_whitespace)) {
        return Err(WireError::Serialization(String::new()));
    }
    let raw = match protocol {
        Protocol::Json => raw::parse_json(body)?,
        Protocol::Cbor => raw::parse_cbor(body)?,
    };
    let input = match op.input.as_deref().and_then(|name| model.shape(name)) {
        Some(shape) => shape,
        // No input shape: anything that parses is accepted and ignored.
        None => return Ok(Node::map()),
    };
    let node = match raw {
        Raw::Map(_) => typed(model, input, raw, protocol)?,
        // A top-level scalar is not a document at all: AWS answers with a bare SerializationException.
        Raw::List(_) => return Err(ser("Start of list found where not expected")),
        _ => return Err(WireError::Serialization(String::new())),
    };
    crate::validate::validate_input(model, input, &node)?;
    Ok(node)
}

fn ser(msg: impl Into<String>) -> WireError {
    WireError::Serialization(msg.into())
}

/// The Java class AWS names when a value of the wrong kind appears.
fn java_class(raw: &Raw) -> &'static str {
    match raw {
        Raw::Bool(_) => "class java.lang.Boolean",
        Raw::Int(_) | Raw::Float(_) => {
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
        }
        Raw::Str(_) => "class java.lang.String",
        Raw::Bytes(_) => "class java.nio.HeapByteBuffer",
        Raw::Null | Raw::List(_) | Raw::Map(_) | Raw::Tag(..) => "class java.lang.Object",
    }
}

/// Errors shared by every scalar shape when a container shows up instead.
fn container_error(raw: &Raw) -> Option<WireError> {
    match raw {
        Raw::List(_) => Some(ser("Start of list found where not expected")),
        Raw::Map(_) => Some(ser("Start of structure or map found where not expected.")),
        _ => None,
    }
}

/// Strip CBOR tags that carry no meaning for the target type (self-describe 55799 and the like).
fn untag(raw: Raw) -> Raw {
    match raw {
        Raw::Tag(_, inner) => untag(*inner),
        other => other,
    }
}

fn typed(model: &Model, shape: &Shape, raw: Raw, proto: Protocol) -> Result<Node, WireError> {
    // Timestamps are the only type for which a tag means something (tag 0/1).
    let raw = if shape.kind == ShapeKind::Timestamp {
        raw
    } else {
        untag(raw)
    };
    match &shape.kind {
        ShapeKind::Structure { members } => {
            let entries = match raw {
                Raw::Map(entries) => entries,
                Raw::List(_) => return Err(ser("Start of list found where not expected")),
                _ => return Err(ser("Expected null")),
            };
            // Convert in document order (so the first type error is the one AWS would report), then emit
            // in model order. A repeated key: the last occurrence wins, as in most JSON readers.
            let mut slots: Vec<Option<Node>> = members.iter().map(|_| None).collect();
            for (key, value) in entries {
                let Some(idx) = members.iter().position(|m| m.name == key) else {
                    continue;
                };
                let (Some(member), Some(slot)) = (members.get(idx), slots.get_mut(idx)) else {
                    continue;
                };
                if matches!(untag_ref(&value), Raw::Null) {
                    *slot = None;
                    continue;
                }
                let member_shape = model
                    .shape(&member.shape)
                    .ok_or_else(|| ser(format!("model has no shape {}", member.shape)))?;
                *slot = Some(typed(model, member_shape, value, proto)?);
            }
            Ok(Node::Map(
                members
                    .iter()
                    .zip(slots)
                    .filter_map(|(m, slot)| slot.map(|node| (m.name.clone(), node)))
                    .collect(),
            ))
        }
        ShapeKind::List { member } => {
            let items = match raw {
                Raw::List(items) => items,
                Raw::Map(_) => {
                    return Err(ser("Start of structure or map found where not expected."))
                }
                _ => return Err(ser("Expected list or null")),
            };
            let member_shape = model
                .shape(member)
                .ok_or_else(|| ser(format!("model has no shape {member}")))?;
            items
                .into_iter()
                .map(|item| match untag_ref(&item) {
                    // Kept as a null element so validation can report it at its index.
                    Raw::Null => Ok(Node::Null),
                    _ => typed(model, member_shape, item, proto),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Node::List)
        }
        ShapeKind::Map { key: _, value } => {
            let entries = match raw {
                Raw::Map(entries) => entries,
                Raw::List(_) => return Err(ser("Start of list found where not expected")),
                _ => return Err(ser("Expected map or null")),
            };
            let value_shape = model
                .shape(value)
                .ok_or_else(|| ser(format!("model has no shape {value}")))?;
            let mut out: Vec<(String, Node)> = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                if matches!(untag_ref(&v), Raw::Null) {
                    continue;
                }
                let node = typed(model, value_shape, v, proto)?;
                match out.iter_mut().find(|(existing, _)| *existing == k) {
                    Some(slot) => slot.1 = node,
                    None => out.push((k, node)),
                }
            }
            // Map order carries no meaning on AWS; sorting makes both protocols decode alike.
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Node::Map(out))
        }
        ShapeKind::String => match raw {
            Raw::Str(s) => Ok(Node::Str(s)),
            other => Err(container_error(&other).unwrap_or_else(|| {
                ser(format!(
                    "{} can not be converted to an String",
                    java_class(&other)
                ))
            })),
        },
        ShapeKind::Boolean => match raw {
            Raw::Bool(b) => Ok(Node::Bool(b)),
            Raw::Str(s) => Err(ser(format!(
                "'{}' can not be converted to an Boolean",
                s.to_uppercase()
            ))),
            other => Err(container_error(&other).unwrap_or_else(|| {
                ser(format!(
                    "{} can not be converted to an Boolean",
                    java_class(&other)
                ))
            })),
        },
        ShapeKind::Integer => integer(raw, "Integer", i64::from(i32::MIN), i64::from(i32::MAX)),
        ShapeKind::Long => integer(raw, "Long", i64::MIN, i64::MAX),
        ShapeKind::Double => match raw {
            Raw::Int(i) => Ok(Node::Float(i as f64)),
            Raw::Float(f) => Ok(Node::Float(f)),
            other => Err(container_error(&other).unwrap_or_else(|| {
                ser(format!(
                    "{} can not be converted to an Double",
                    java_class(&other)
                ))
            })),
        },
        ShapeKind::Blob => match raw {
            Raw::Bytes(b) => Ok(Node::Bytes(Bytes::from(b))),
            Raw::Str(s) => decode_base64(&s).map(|b| Node::Bytes(Bytes::from(b))),
            other => Err(container_error(&other).unwrap_or_else(|| {
                ser(format!(
                    "{} can not be converted to a Blob",
                    java_class(&other)
                ))
            })),
        },
        ShapeKind::Timestamp => {
            let what = timestamp_description(&raw);
            let ms = timestamp(raw, proto == Protocol::Json)?;
            if (MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&ms) {
                Ok(Node::Timestamp(ms))
            } else {
                Err(ser(format!("{what} can not be converted to a Timestamp")))
            }
        }
    }
}

fn untag_ref(raw: &Raw) -> &Raw {
    match raw {
        Raw::Tag(_, inner) => untag_ref(inner),
        other => other,
    }
}

fn integer(raw: Raw, java: &str, min: i64, max: i64) -> Result<Node, WireError> {
    let out_of_range = || {
        ser(format!("class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an {java}"))
    };
    match raw {
        Raw::Int(i) => i64::try_from(i)
            .ok()
            .filter(|v| (min..=max).contains(v))
            .map(Node::Int)
            .ok_or_else(out_of_range),
        // A float is accepted only when it is an exact integer in range (1.0 yes, 1.5 no).
        Raw::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f >= min as f64 && f <= max as f64 {
                Ok(Node::Int(f as i64))
            } else {
                Err(out_of_range())
            }
        }
        other => Err(container_error(&other).unwrap_or_else(|| {
            ser(format!(
                "{} can not be converted to an {java}",
                java_class(&other)
            ))
        })),
    }
}

/// Base64 (standard alphabet, padded) with AWS's three distinct complaints, checked in AWS's order.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, WireError> {
    let fail = |why: String| ser(format!("'{s}' can not be converted to a Blob: {why}"));
    if !s.len().is_multiple_of(4) {
        return Err(fail(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            s.len()
        )));
    }
    // The engine decides validity in one fast pass; the byte-by-byte diagnosis below only runs
    // to word AWS's message once decoding has failed (it cost a quarter of the put path).
    let engine = base64::engine::general_purpose::STANDARD;
    if let Ok(decoded) = engine.decode(s.as_bytes()) {
        return Ok(decoded);
    }
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let valid = b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
        // Padding may only be followed by more padding.
        let bad_pad = b == b'=' && bytes.get(i + 1).is_some_and(|&next| next != b'=');
        if !valid || bad_pad {
            let c = s
                .get(i..)
                .and_then(|rest| rest.chars().next())
                .unwrap_or('?');
            return Err(fail(format!("Invalid Base64 character: '{c}'")));
        }
    }
    // AWS's own spelling, typo included.
    Err(fail(
        "Invalid last non-pad Base64 character dectected".to_string(),
    ))
}

/// Epoch milliseconds from a timestamp value.
///
/// JSON numbers are epoch seconds (fractions allowed). CBOR numbers are epoch milliseconds (what the Java
/// SDK v2 sends for Kinesis). CBOR tag 1 is epoch seconds in the CBOR standard, but the AWS Java SDKs
/// write tag 1 around epoch *milliseconds*; an integer under tag 1 is therefore read as milliseconds
/// when its magnitude is at least 10^11 (as seconds that would be after the year 5000) and as seconds
/// otherwise, and a float under tag 1 as seconds. Tag 0 wraps an RFC 3339 string. Strings in either
/// protocol may be ISO-8601 / RFC 3339 or a plain number of epoch seconds.
fn timestamp(raw: Raw, in_seconds: bool) -> Result<i64, WireError> {
    let bad = |what: &str| ser(format!("{what} can not be converted to a Timestamp"));
    match raw {
        Raw::Tag(1, inner) => match *inner {
            Raw::Int(i) if i.unsigned_abs() >= 100_000_000_000 => timestamp(Raw::Int(i), false),
            other => timestamp(other, true),
        },
        Raw::Tag(_, inner) => timestamp(*inner, in_seconds),
        Raw::Int(i) => {
            let ms = if in_seconds {
                i.checked_mul(1000)
            } else {
                Some(i)
            };
            ms.and_then(|ms| i64::try_from(ms).ok())
                .ok_or_else(|| bad("NUMBER_VALUE"))
        }
        Raw::Float(f) => {
            let ms = if in_seconds { f * 1000.0 } else { f };
            float_ms(ms).ok_or_else(|| bad("DECIMAL_VALUE"))
        }
        Raw::Str(s) => parse_timestamp_str(&s).ok_or_else(|| bad(&format!("'{s}'"))),
        Raw::Bool(_) => Err(bad("class java.lang.Boolean")),
        other => Err(container_error(&other).unwrap_or_else(|| bad(java_class(&other)))),
    }
}

/// 0000-01-01T00:00:00Z. Timestamps are kept within years 0..=9999: beyond that no client sends them,
/// and the JSON form (fractional seconds in an f64) would stop round-tripping exactly.
pub const MIN_TIMESTAMP_MS: i64 = -62_167_219_200_000;
/// 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

fn timestamp_description(raw: &Raw) -> String {
    match untag_ref(raw) {
        Raw::Int(_) => "NUMBER_VALUE".to_string(),
        Raw::Float(_) => "DECIMAL_VALUE".to_string(),
        Raw::Str(s) => format!("'{s}'"),
        other => java_class(other).to_string(),
    }
}

fn float_ms(ms: f64) -> Option<i64> {
    let r = ms.round();
    (r.is_finite() && r >= i64::MIN as f64 && r < i64::MAX as f64).then_some(r as i64)
}

/// Parse a timestamp string: a number of epoch seconds, or ISO-8601 `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
pub(crate) fn parse_timestamp_str(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return float_ms(secs * 1000.0);
    }
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        (!part.is_empty() && part.bytes().all(|c| c.is_ascii_digit())).then(|| part.parse().ok())?
    };
    let year = num(0..4)?;
    let (month, day) = (num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0i64;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        if end == start {
            return None;
        }
        let frac = s.get(start..end.min(start + 3))?;
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
        pos = end;
    }
    let offset_minutes = match b.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let rest = s.get(pos + 1..)?;
            let (h, m) = match rest.len() {
                5 if rest.as_bytes().get(2) == Some(&b':') => (rest.get(0..2)?, rest.get(3..5)?),
                4 => (rest.get(0..2)?, rest.get(2..4)?),
                2 => (rest, "00"),
                _ => return None,
            };
            let total = h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?;
            if sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > calendar::days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = calendar::days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps() {
        let table = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2023-11-14T22:13:20Z", Some(1_700_000_000_000)),
            ("2023-11-14T22:13:20.123Z", Some(1_700_000_000_123)),
            ("2023-11-14T22:13:20.1Z", Some(1_700_000_000_100)),
            ("2023-11-14T22:13:20.123456Z", Some(1_700_000_000_123)),
            ("2023-11-15T00:13:20+02:00", Some(1_700_000_000_000)),
            ("2023-11-14T20:13:20-0200", Some(1_700_000_000_000)),
            ("2023-11-14T22:13:20", Some(1_700_000_000_000)),
            ("1700000000.5", Some(1_700_000_000_500)),
            ("2023-02-29T00:00:00Z", None),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800_000)),
            ("2023-13-01T00:00:00Z", None),
            ("2023-11-14", None),
            ("yesterday", None),
            ("2023-11-14T22:13:20Zjunk", None),
            ("", None),
        ];
        for (s, want) in table {
            assert_eq!(parse_timestamp_str(s), want, "{s}");
        }
    }

    #[test]
    fn base64_messages() {
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("").unwrap(), b"");
        let msg = |s| match decode_base64(s) {
            Err(WireError::Serialization(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            msg("23456"),
            "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5"
        );
        assert_eq!(
            msg("=+/="),
            "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"
        );
        assert_eq!(
            msg("ab$d"),
            "'ab$d' can not be converted to a Blob: Invalid Base64 character: '$'"
        );
        assert_eq!(msg("+/+="), "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected");
    }
}
