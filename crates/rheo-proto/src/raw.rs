//! Untyped document trees parsed from request bodies, with hard limits.
//!
//! Both protocols are first parsed into [`Raw`], an untyped tree, which [`crate::decode`] then checks
//! against the model. The parsers here enforce the safety limits: nesting deeper than [`MAX_DEPTH`] is
//! refused, and no allocation is sized from a length prefix that the remaining input cannot back (a
//! 9-byte CBOR header may claim 2^64 elements).
//!
//! The CBOR reader is hand-written for that reason and because the wire format needs little: definite
//! and indefinite strings/arrays/maps, tags (kept, so tag 1 timestamps can be read), and simple values.

use crate::WireError;

/// Deepest container nesting accepted in a request body. Kinesis inputs nest at most four levels.
pub const MAX_DEPTH: usize = 64;

/// An untyped document value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw {
    Null,
    Bool(bool),
    /// JSON integers and CBOR major types 0/1 (which reach -2^64).
    Int(i128),
    Float(f64),
    Str(String),
    /// CBOR byte strings only.
    Bytes(Vec<u8>),
    List(Vec<Raw>),
    /// Objects / maps with text keys, in document order (duplicates kept; the last one wins later).
    Map(Vec<(String, Raw)>),
    /// A CBOR tag and its item.
    Tag(u64, Box<Raw>),
}

fn too_deep() -> WireError {
    WireError::Serialization(format!(
        "Document nesting exceeds the maximum depth of {MAX_DEPTH}"
    ))
}

/// Parse a JSON body. An unparsable body gives a `SerializationException` with no message, as AWS does.
///
/// Objects keep their key order (serde_json's own `Value` would sort them): AWS reports the first type
/// error in document order.
pub(crate) fn parse_json(body: &[u8]) -> Result<Raw, WireError> {
    // serde_json refuses nesting beyond 128 by itself, which bounds the recursion of the visitor below
    // and of `depth`.
    let value: Raw = serde_json::from_slice(body).map_err(|err| {
        tracing::debug!(error = %err, "request body is not JSON");
        WireError::Serialization(String::new())
    })?;
    if depth(&value) > MAX_DEPTH {
        return Err(too_deep());
    }
    Ok(value)
}

/// Container nesting of a value (a scalar is 0, `[]` is 1).
fn depth(raw: &Raw) -> usize {
    match raw {
        Raw::List(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Raw::Map(entries) => 1 + entries.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        Raw::Tag(_, inner) => 1 + depth(inner),
        _ => 0,
    }
}

impl<'de> serde::Deserialize<'de> for Raw {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> serde::de::Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i128::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(i128::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Raw>()? {
            items.push(item);
        }
        Ok(Raw::List(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Raw>()? {
            entries.push((k, v));
        }
        Ok(Raw::Map(entries))
    }
}

/// Parse a CBOR body: exactly one data item, nothing after it.
pub(crate) fn parse_cbor(body: &[u8]) -> Result<Raw, WireError> {
    let mut reader = CborReader { buf: body, pos: 0 };
    let value = reader.item(0)?;
    if reader.pos != body.len() {
        return Err(cbor_error("trailing bytes after the CBOR data item"));
    }
    Ok(value)
}

fn cbor_error(what: &str) -> WireError {
    tracing::debug!(what, "request body is not valid CBOR");
    WireError::Serialization(String::new())
}

/// What a head byte announced.
enum Head {
    /// Major type and argument.
    Arg(u8, u64),
    /// Major type with indefinite length (additional info 31).
    Indefinite(u8),
    /// The 0xff break code.
    Break,
    /// A float (major 7, additional info 25/26/27).
    Float(f64),
}

struct CborReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl CborReader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| cbor_error("length overflow"))?;
        let slice = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| cbor_error("unexpected end of input"))?;
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| cbor_error("unexpected end of input"))?;
        self.pos += 1;
        Ok(b)
    }

    fn be_u64(&mut self, n: usize) -> Result<u64, WireError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn head(&mut self) -> Result<Head, WireError> {
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        if major == 7 {
            return match info {
                25 => Ok(Head::Float(f16_to_f64(self.be_u64(2)? as u16))),
                26 => Ok(Head::Float(f64::from(f32::from_bits(
                    self.be_u64(4)? as u32
                )))),
                27 => Ok(Head::Float(f64::from_bits(self.be_u64(8)?))),
                31 => Ok(Head::Break),
                24 => Ok(Head::Arg(7, self.be_u64(1)?)),
                0..=23 => Ok(Head::Arg(7, u64::from(info))),
                _ => Err(cbor_error("reserved additional information")),
            };
        }
        let arg = match info {
            0..=23 => u64::from(info),
            24 => self.be_u64(1)?,
            25 => self.be_u64(2)?,
            26 => self.be_u64(4)?,
            27 => self.be_u64(8)?,
            31 if matches!(major, 2..=5) => return Ok(Head::Indefinite(major)),
            _ => return Err(cbor_error("reserved additional information")),
        };
        Ok(Head::Arg(major, arg))
    }

    /// A length that the rest of the input must be able to hold, at `unit` bytes per element at least.
    fn checked_len(&self, len: u64, unit: usize) -> Result<usize, WireError> {
        let len = usize::try_from(len).map_err(|_| cbor_error("length too large"))?;
        if len.saturating_mul(unit) > self.remaining() {
            return Err(cbor_error("length exceeds input"));
        }
        Ok(len)
    }

    fn item(&mut self, depth: usize) -> Result<Raw, WireError> {
        match self.head()? {
            Head::Break => Err(cbor_error("unexpected break")),
            Head::Float(f) => Ok(Raw::Float(f)),
            Head::Indefinite(major) => self.indefinite(major, depth),
            Head::Arg(major, arg) => match major {
                0 => Ok(Raw::Int(i128::from(arg))),
                1 => Ok(Raw::Int(-1 - i128::from(arg))),
                2 => {
                    let len = self.checked_len(arg, 1)?;
                    Ok(Raw::Bytes(self.take(len)?.to_vec()))
                }
                3 => {
                    let len = self.checked_len(arg, 1)?;
                    let bytes = self.take(len)?;
                    let s = std::str::from_utf8(bytes)
                        .map_err(|_| cbor_error("text string is not UTF-8"))?;
                    Ok(Raw::Str(s.to_string()))
                }
                4 => {
                    if depth >= MAX_DEPTH {
                        return Err(too_deep());
                    }
                    let len = self.checked_len(arg, 1)?;
                    let mut items = Vec::with_capacity(len);
                    for _ in 0..len {
                        items.push(self.item(depth + 1)?);
                    }
                    Ok(Raw::List(items))
                }
                5 => {
                    if depth >= MAX_DEPTH {
                        return Err(too_deep());
                    }
                    let len = self.checked_len(arg, 2)?;
                    let mut entries = Vec::with_capacity(len);
                    for _ in 0..len {
                        let key = self.key(depth)?;
                        entries.push((key, self.item(depth + 1)?));
                    }
                    Ok(Raw::Map(entries))
                }
                6 => {
                    if depth >= MAX_DEPTH {
                        return Err(too_deep());
                    }
                    Ok(Raw::Tag(arg, Box::new(self.item(depth + 1)?)))
                }
                _ => match arg {
                    20 => Ok(Raw::Bool(false)),
                    21 => Ok(Raw::Bool(true)),
                    // null and undefined both mean "absent".
                    22 | 23 => Ok(Raw::Null),
                    _ => Err(cbor_error("unsupported simple value")),
                },
            },
        }
    }

    /// Map keys must be text: Kinesis member names and tag keys are strings.
    fn key(&mut self, depth: usize) -> Result<String, WireError> {
        match self.item(depth + 1)? {
            Raw::Str(s) => Ok(s),
            _ => Err(WireError::Serialization(
                "CBOR map keys must be text strings".to_string(),
            )),
        }
    }

    fn indefinite(&mut self, major: u8, depth: usize) -> Result<Raw, WireError> {
        match major {
            2 | 3 => {
                // Chunks must be definite strings of the same major type.
                let mut data = Vec::new();
                loop {
                    match self.head()? {
                        Head::Break => break,
                        Head::Arg(m, len) if m == major => {
                            let len = self.checked_len(len, 1)?;
                            data.extend_from_slice(self.take(len)?);
                        }
                        _ => return Err(cbor_error("bad chunk in indefinite-length string")),
                    }
                }
                if major == 2 {
                    Ok(Raw::Bytes(data))
                } else {
                    String::from_utf8(data)
                        .map(Raw::Str)
                        .map_err(|_| cbor_error("text string is not UTF-8"))
                }
            }
            4 | 5 => {
                if depth >= MAX_DEPTH {
                    return Err(too_deep());
                }
                let mut items = Vec::new();
                let mut entries = Vec::new();
                loop {
                    if self.buf.get(self.pos) == Some(&0xff) {
                        self.pos += 1;
                        break;
                    }
                    if major == 4 {
                        items.push(self.item(depth + 1)?);
                    } else {
                        let key = self.key(depth)?;
                        entries.push((key, self.item(depth + 1)?));
                    }
                }
                Ok(if major == 4 {
                    Raw::List(items)
                } else {
                    Raw::Map(entries)
                })
            }
            _ => Err(cbor_error("indefinite length on a type that has none")),
        }
    }
}

/// IEEE 754 half precision to f64.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f64::from(h & 0x3ff);
    let magnitude = match exp {
        0 => mant * 2f64.powi(-24),
        31 => {
            if mant == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        _ => (1.0 + mant / 1024.0) * 2f64.powi(exp - 15),
    };
    sign * magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor(v: &ciborium::Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn cbor_reader_agrees_with_ciborium_encoder() {
        use ciborium::Value as V;
        let doc = V::Map(vec![
            (V::Text("a".into()), V::Integer(1.into())),
            (V::Text("neg".into()), V::Integer((-70000).into())),
            (V::Text("big".into()), V::Integer(u64::MAX.into())),
            (V::Text("f".into()), V::Float(1.5)),
            (V::Text("b".into()), V::Bytes(vec![1, 2, 3])),
            (V::Text("l".into()), V::Array(vec![V::Bool(true), V::Null])),
            (
                V::Text("t".into()),
                V::Tag(1, Box::new(V::Integer(5.into()))),
            ),
        ]);
        let raw = parse_cbor(&cbor(&doc)).unwrap();
        assert_eq!(
            raw,
            Raw::Map(vec![
                ("a".into(), Raw::Int(1)),
                ("neg".into(), Raw::Int(-70000)),
                ("big".into(), Raw::Int(i128::from(u64::MAX))),
                ("f".into(), Raw::Float(1.5)),
                ("b".into(), Raw::Bytes(vec![1, 2, 3])),
                ("l".into(), Raw::List(vec![Raw::Bool(true), Raw::Null])),
                ("t".into(), Raw::Tag(1, Box::new(Raw::Int(5)))),
            ])
        );
    }

    #[test]
    fn cbor_indefinite_and_half_floats() {
        // {_ "k": (_ h'01', h'02'), "s": (_ "a", "b"), "l": [_ 1, 2]} and a half float 1.5 (f9 3e00).
        let body = [
            0xbf, 0x61, b'k', 0x5f, 0x41, 0x01, 0x41, 0x02, 0xff, 0x61, b's', 0x7f, 0x61, b'a',
            0x61, b'b', 0xff, 0x61, b'l', 0x9f, 0x01, 0x02, 0xff, 0x61, b'h', 0xf9, 0x3e, 0x00,
            0xff,
        ];
        assert_eq!(
            parse_cbor(&body).unwrap(),
            Raw::Map(vec![
                ("k".into(), Raw::Bytes(vec![1, 2])),
                ("s".into(), Raw::Str("ab".into())),
                ("l".into(), Raw::List(vec![Raw::Int(1), Raw::Int(2)])),
                ("h".into(), Raw::Float(1.5)),
            ])
        );
    }

    #[test]
    fn cbor_rejects_lies_and_garbage_without_allocating() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],                                                     // nothing
            vec![0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // array of 2^64-1
            vec![0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge byte string
            vec![0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00], // map of 2^32
            vec![0xa1, 0x01, 0x01],                                     // integer key
            vec![0x62, 0xff, 0xfe],                                     // invalid UTF-8
            vec![0xff],                                                 // stray break
            vec![0x1c],                                                 // reserved info
            vec![0xa0, 0x00],                                           // trailing data
            vec![0x5f, 0x61, b'a', 0xff],                               // text chunk in byte string
        ];
        for body in cases {
            assert!(parse_cbor(&body).is_err(), "{body:02x?}");
        }
    }

    #[test]
    fn depth_is_bounded_in_both_protocols() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_json(ok.as_bytes()).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(
            matches!(parse_json(deep.as_bytes()), Err(WireError::Serialization(m)) if m.contains("depth"))
        );
        let very_deep = "[".repeat(100_000);
        assert!(parse_json(very_deep.as_bytes()).is_err());

        let mut c = vec![0x81; MAX_DEPTH];
        c.push(0x00);
        assert!(parse_cbor(&c).is_ok());
        let mut c = vec![0x81; MAX_DEPTH + 1];
        c.push(0x00);
        assert!(parse_cbor(&c).is_err());
        // Deep tags and indefinite arrays too, far past any stack limit.
        assert!(parse_cbor(&vec![0xc1; 1_000_000]).is_err());
        assert!(parse_cbor(&vec![0x9f; 1_000_000]).is_err());
    }

    #[test]
    fn json_numbers() {
        assert_eq!(
            parse_json(b"18446744073709551615").unwrap(),
            Raw::Int(i128::from(u64::MAX))
        );
        assert_eq!(parse_json(b"-3").unwrap(), Raw::Int(-3));
        assert_eq!(parse_json(b"1.5").unwrap(), Raw::Float(1.5));
        assert_eq!(parse_json(b"1e400").ok(), None);
        assert_eq!(
            parse_json(b"hello"),
            Err(WireError::Serialization(String::new()))
        );
    }

    #[test]
    fn half_float_special_values() {
        assert_eq!(f16_to_f64(0x0000), 0.0);
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7c00).is_infinite());
        assert!(f16_to_f64(0x7e00).is_nan());
    }
}
