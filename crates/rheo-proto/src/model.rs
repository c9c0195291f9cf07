//! The parsed AWS service model (botocore `service-2.json`).
//!
//! Only what the wire layer needs is kept: operations (input/output/error shape names) and shapes with
//! their type and constraints (`min`, `max`, `pattern`, `enum`, `required`). The model is data, so the
//! decoder and validator stay operation-agnostic: adding an operation to the JSON file is enough for it to
//! be decoded and validated.
//!
//! Patterns in the model are Java regexes evaluated with `String.matches` (whole-string match). They are
//! compiled lazily (first use) into anchored `regex` crate expressions and cached per shape. `\d` is
//! translated to `[0-9]` because Java's `\d` is ASCII-only while the `regex` crate's is Unicode. A pattern
//! the `regex` crate still cannot compile is skipped (logged once) rather than rejecting every request;
//! every pattern of the vendored Kinesis model compiles (see the unit test).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use regex::Regex;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Errors while loading a service model.
#[derive(thiserror::Error, Debug)]
pub enum ModelError {
    /// The text is not JSON.
    #[error("model is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON does not have the expected structure.
    #[error("malformed model: {0}")]
    Malformed(String),
}

/// The type of a shape, with the references that the type needs.
#[derive(Debug, Clone, PartialEq)]
pub enum ShapeKind {
    /// A structure: members in model order.
    Structure {
        /// Members in the order the model lists them (AWS reports validation errors in this order).
        members: Vec<Member>,
    },
    /// A list of `member` shapes.
    List {
        /// Shape name of the elements.
        member: String,
    },
    /// A map from `key` shapes to `value` shapes.
    Map {
        /// Shape name of the keys (always a string shape).
        key: String,
        /// Shape name of the values.
        value: String,
    },
    /// A UTF-8 string.
    String,
    /// A 32-bit integer (Java `Integer`).
    Integer,
    /// A 64-bit integer (Java `Long`).
    Long,
    /// A double or float.
    Double,
    /// A boolean.
    Boolean,
    /// Binary data (base64 in JSON, byte string in CBOR).
    Blob,
    /// A point in time.
    Timestamp,
}

/// A structure member.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Member name as on the wire (PascalCase, e.g. `StreamName`).
    pub name: String,
    /// Name of the member's shape.
    pub shape: String,
    /// Whether the structure lists this member as required.
    pub required: bool,
    /// `locationName`: the member's name in awsQuery keys and XML elements, when not `name`.
    pub location_name: Option<String>,
    /// `flattened` on the member reference (awsQuery/XML lists and maps without a wrapper).
    pub flattened: bool,
}

impl Member {
    /// The name in awsQuery keys and XML: `locationName` if the model gives one.
    pub fn wire_name(&self) -> &str {
        self.location_name.as_deref().unwrap_or(&self.name)
    }
}

/// A shape with its constraints.
#[derive(Debug)]
pub struct Shape {
    /// Shape name.
    pub name: String,
    /// Type and references.
    pub kind: ShapeKind,
    /// `min` constraint (length for strings/blobs/lists/maps, value for numbers).
    pub min: Option<i64>,
    /// `max` constraint (length for strings/blobs/lists/maps, value for numbers).
    pub max: Option<i64>,
    /// The Java regex the value must match entirely.
    pub pattern: Option<String>,
    /// Allowed values, in model order.
    pub enum_values: Option<Vec<String>>,
    /// Whether this shape is an error shape.
    pub exception: bool,
    /// Whether this structure is an event stream (e.g. `SubscribeToShardEventStream`).
    pub eventstream: bool,
    /// `flattened` on the shape (awsQuery/XML lists and maps without a `member`/`entry` wrapper).
    pub flattened: bool,
    /// `locationName` of a list's `member` (awsQuery/XML element name; default `member`).
    pub member_location_name: Option<String>,
    /// `locationName`s of a map's `key` and `value` (default `key` and `value`).
    pub map_location_names: (Option<String>, Option<String>),
    /// `timestampFormat` (`iso8601`, `unixTimestamp`, `rfc822`) if the model sets one.
    pub timestamp_format: Option<String>,
    /// An error shape's awsQuery error code (`error.code`, e.g. `ResourceNotFound`).
    pub error_code: Option<String>,
    /// An error shape's HTTP status (`error.httpStatusCode`).
    pub error_status: Option<u16>,
    /// Whether the error is the caller's fault (`error.senderFault`: `Sender`, else `Receiver`).
    pub sender_fault: bool,
    /// Whether an error shape is a server fault (`fault`).
    pub fault: bool,
    regex: OnceLock<Option<Regex>>,
}

impl Shape {
    /// The compiled pattern, if the shape has one that compiles. Compiled on first use.
    pub fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                self.pattern
                    .as_deref()
                    .and_then(|p| compile_java_pattern(&self.name, p))
            })
            .as_ref()
    }

    /// Structure members, empty for other kinds.
    pub fn members(&self) -> &[Member] {
        match &self.kind {
            ShapeKind::Structure { members } => members,
            _ => &[],
        }
    }
}

/// Translate a Java regex from the model into an anchored `regex` crate expression and compile it.
fn compile_java_pattern(shape: &str, pattern: &str) -> Option<Regex> {
    let translated = translate_java_regex(pattern);
    match Regex::new(&format!("^(?:{translated})$")) {
        Ok(re) => Some(re),
        Err(err) => {
            tracing::warn!(shape, pattern, error = %err, "model pattern not supported; not enforced");
            None
        }
    }
}

/// Java-isms the `regex` crate reads differently: `\d` (ASCII in Java), `\/` and `\_` (no-op
/// escapes), `\p{Print}` (a POSIX class, ASCII in Java) and `\uHHHH` escapes, which in Java are
/// UTF-16 code units: a surrogate pair (`\uD800\uDC00`) names one supplementary character.
fn translate_java_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(next) = rest.chars().next() else {
            out.push_str("\\\\");
            break;
        };
        rest = &rest[next.len_utf8()..];
        match next {
            'd' => out.push_str("[0-9]"),
            '/' | '_' => out.push(next),
            'p' if rest.starts_with("{Print}") => {
                rest = &rest["{Print}".len()..];
                out.push_str("[\\x20-\\x7E]");
            }
            'u' => match java_utf16_escape(&mut rest) {
                Some(code) => out.push_str(&format!("\\x{{{code:X}}}")),
                None => out.push_str("\\u"),
            },
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// The code point of a `\uHHHH` escape whose `\u` is already consumed, combining a surrogate
/// pair written as two escapes. A lone surrogate maps to U+FFFD (the `regex` crate has no
/// surrogates; a lone one cannot occur in a valid string anyway).
fn java_utf16_escape(rest: &mut &str) -> Option<u32> {
    let unit = |s: &str| s.get(..4).and_then(|h| u32::from_str_radix(h, 16).ok());
    let high = unit(rest)?;
    *rest = &rest[4..];
    if (0xD800..0xDC00).contains(&high) {
        if let Some(low) = rest.strip_prefix("\\u").and_then(unit) {
            if (0xDC00..0xE000).contains(&low) {
                *rest = &rest[6..];
                return Some(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
            }
        }
        return Some(0xFFFD);
    }
    if (0xDC00..0xE000).contains(&high) {
        return Some(0xFFFD);
    }
    Some(high)
}

/// An operation of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Operation name, e.g. `PutRecord`.
    pub name: String,
    /// Input structure shape name, if any.
    pub input: Option<String>,
    /// Output structure shape name, if any.
    pub output: Option<String>,
    /// Documented error shape names.
    pub errors: Vec<String>,
}

/// The parsed service model.
#[derive(Debug, Default)]
pub struct Model {
    /// `X-Amz-Target` prefix, e.g. `Kinesis_20131202`.
    pub target_prefix: String,
    /// Service API version, e.g. `2013-12-02`.
    pub api_version: String,
    /// SigV4 signing name / endpoint prefix, e.g. `kinesis`.
    pub signing_name: String,
    /// `endpointPrefix`, e.g. `dynamodb`, `monitoring`.
    pub endpoint_prefix: String,
    /// The model's main `protocol` (`json`, `query`, `smithy-rpc-v2-cbor`...).
    pub protocol: String,
    /// Every protocol the model declares (`protocols`, else just `protocol`).
    pub protocols: Vec<String>,
    /// `jsonVersion` (`1.0` for DynamoDB, `1.1` for Kinesis), empty if absent.
    pub json_version: String,
    /// `xmlNamespace` for awsQuery/XML answers, empty if absent.
    pub xml_namespace: String,
    /// Whether the model is `awsQueryCompatible` (a JSON/CBOR service that was awsQuery once).
    pub aws_query_compatible: bool,
    result_wrappers: HashMap<String, String>,
    operations: BTreeMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

impl Model {
    /// Parse a botocore `service-2.json` document.
    pub fn from_json(text: &str) -> Result<Model, ModelError> {
        let doc: ModelDoc = serde_json::from_str(text)?;
        let meta = doc.metadata.unwrap_or_default();
        let endpoint_prefix = meta.endpoint_prefix.clone().unwrap_or_default();
        let signing_name = meta
            .signing_name
            .or(meta.endpoint_prefix)
            .unwrap_or_default();
        let result_wrappers = doc
            .operations
            .0
            .iter()
            .filter_map(|(name, op)| {
                let wrapper = op.output.as_ref()?.result_wrapper.clone()?;
                Some((name.clone(), wrapper))
            })
            .collect();
        let protocol = meta.protocol.unwrap_or_default();
        let protocols = match meta.protocols {
            Some(list) if !list.is_empty() => list,
            _ if protocol.is_empty() => Vec::new(),
            _ => vec![protocol.clone()],
        };
        let operations = doc
            .operations
            .0
            .into_iter()
            .map(|(name, op)| {
                let op = Operation {
                    name: name.clone(),
                    input: op.input.map(|r| r.shape),
                    output: op.output.map(|r| r.shape),
                    errors: op.errors.into_iter().map(|r| r.shape).collect(),
                };
                (name, op)
            })
            .collect();
        let mut shapes = HashMap::with_capacity(doc.shapes.0.len());
        for (name, shape) in doc.shapes.0 {
            let parsed = parse_shape(&name, shape)?;
            shapes.insert(name, parsed);
        }
        let model = Model {
            target_prefix: meta.target_prefix.unwrap_or_default(),
            api_version: meta.api_version.unwrap_or_default(),
            signing_name,
            endpoint_prefix,
            protocol,
            protocols,
            json_version: meta.json_version.unwrap_or_default(),
            xml_namespace: meta.xml_namespace.unwrap_or_default(),
            aws_query_compatible: meta.aws_query_compatible.is_some(),
            result_wrappers,
            operations,
            shapes,
        };
        model.check_references()?;
        Ok(model)
    }

    /// Refuse models with dangling shape references so the decoder never has to handle them.
    fn check_references(&self) -> Result<(), ModelError> {
        let missing = |name: &str| -> Result<(), ModelError> {
            if self.shapes.contains_key(name) {
                Ok(())
            } else {
                Err(ModelError::Malformed(format!(
                    "reference to unknown shape '{name}'"
                )))
            }
        };
        for op in self.operations.values() {
            for name in op
                .input
                .iter()
                .chain(op.output.iter())
                .chain(op.errors.iter())
            {
                missing(name)?;
            }
        }
        for shape in self.shapes.values() {
            match &shape.kind {
                ShapeKind::Structure { members } => {
                    for m in members {
                        missing(&m.shape)?;
                    }
                }
                ShapeKind::List { member } => missing(member)?,
                ShapeKind::Map { key, value } => {
                    missing(key)?;
                    missing(value)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Look up an operation by name (`PutRecord`).
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// All operations, sorted by name.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.values()
    }

    /// Look up a shape by name.
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// The awsQuery `resultWrapper` of an operation's output (`GetMetricDataResult`), if any.
    pub fn result_wrapper(&self, operation: &str) -> Option<&str> {
        self.result_wrappers.get(operation).map(String::as_str)
    }

    /// Whether the model declares `protocol` (`json`, `query`...) among its protocols.
    pub fn speaks(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p == protocol)
    }
}

/// A JSON object read with its key order kept (serde_json's own map sorts keys unless a crate-wide
/// feature is enabled, and member order is meaningful: AWS reports validation errors in it).
#[derive(Debug)]
struct Ordered<T>(Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Visit<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    entries.push((k, v));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Visit(PhantomData))
    }
}

#[derive(Deserialize)]
struct ModelDoc {
    metadata: Option<MetaDoc>,
    operations: Ordered<OperationDoc>,
    shapes: Ordered<ShapeDoc>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct MetaDoc {
    target_prefix: Option<String>,
    api_version: Option<String>,
    signing_name: Option<String>,
    endpoint_prefix: Option<String>,
    protocol: Option<String>,
    protocols: Option<Vec<String>>,
    json_version: Option<String>,
    xml_namespace: Option<String>,
    aws_query_compatible: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShapeRef {
    shape: String,
    location_name: Option<String>,
    #[serde(default)]
    flattened: bool,
    result_wrapper: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDoc {
    code: Option<String>,
    http_status_code: Option<u16>,
    #[serde(default)]
    sender_fault: bool,
}

#[derive(Deserialize)]
struct OperationDoc {
    input: Option<ShapeRef>,
    output: Option<ShapeRef>,
    #[serde(default)]
    errors: Vec<ShapeRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShapeDoc {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    members: Ordered<ShapeRef>,
    #[serde(default)]
    required: Vec<String>,
    member: Option<ShapeRef>,
    key: Option<ShapeRef>,
    value: Option<ShapeRef>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
    #[serde(default)]
    exception: bool,
    #[serde(default)]
    eventstream: bool,
    #[serde(default)]
    flattened: bool,
    timestamp_format: Option<String>,
    error: Option<ErrorDoc>,
    #[serde(default)]
    fault: bool,
}

fn parse_shape(name: &str, doc: ShapeDoc) -> Result<Shape, ModelError> {
    let malformed = |what: &str| ModelError::Malformed(format!("shape '{name}': {what}"));
    let target = |r: &Option<ShapeRef>, key: &str| {
        r.as_ref()
            .map(|r| r.shape.clone())
            .ok_or_else(|| malformed(&format!("missing '{key}'")))
    };
    let location = |r: &Option<ShapeRef>| r.as_ref().and_then(|r| r.location_name.clone());
    let kind = match doc.ty.as_str() {
        "structure" => ShapeKind::Structure {
            members: doc
                .members
                .0
                .into_iter()
                .map(|(mname, r)| Member {
                    required: doc.required.contains(&mname),
                    name: mname,
                    shape: r.shape,
                    location_name: r.location_name,
                    flattened: r.flattened,
                })
                .collect(),
        },
        "list" => ShapeKind::List {
            member: target(&doc.member, "member")?,
        },
        "map" => ShapeKind::Map {
            key: target(&doc.key, "key")?,
            value: target(&doc.value, "value")?,
        },
        "string" => ShapeKind::String,
        "integer" | "short" | "byte" => ShapeKind::Integer,
        "long" => ShapeKind::Long,
        "double" | "float" => ShapeKind::Double,
        "boolean" => ShapeKind::Boolean,
        "blob" => ShapeKind::Blob,
        "timestamp" => ShapeKind::Timestamp,
        other => return Err(malformed(&format!("unsupported type '{other}'"))),
    };
    Ok(Shape {
        name: name.to_string(),
        kind,
        min: doc.min.map(|v| v as i64),
        max: doc.max.map(|v| v as i64),
        pattern: doc.pattern,
        enum_values: doc.enum_values,
        exception: doc.exception,
        eventstream: doc.eventstream,
        flattened: doc.flattened,
        member_location_name: location(&doc.member),
        map_location_names: (location(&doc.key), location(&doc.value)),
        timestamp_format: doc.timestamp_format,
        error_code: doc.error.as_ref().and_then(|e| e.code.clone()),
        error_status: doc.error.as_ref().and_then(|e| e.http_status_code),
        sender_fault: doc.error.as_ref().is_some_and(|e| e.sender_fault),
        fault: doc.fault,
        regex: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinesis_model_loads_with_all_operations() {
        let m = crate::test_model::kinesis();
        assert_eq!(m.target_prefix, "Kinesis_20131202");
        assert_eq!(m.signing_name, "kinesis");
        assert!(
            m.operations().count() >= 39,
            "got {}",
            m.operations().count()
        );
        let put = m.operation("PutRecord").unwrap();
        assert_eq!(put.input.as_deref(), Some("PutRecordInput"));
        assert_eq!(put.output.as_deref(), Some("PutRecordOutput"));
        assert!(put.errors.iter().any(|e| e == "ResourceNotFoundException"));
        let input = m.shape("PutRecordInput").unwrap();
        let names: Vec<_> = input.members().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names[..3], ["StreamName", "Data", "PartitionKey"]);
        assert!(input.members()[1].required && !input.members()[0].required);
    }

    #[test]
    fn every_pattern_in_the_kinesis_model_compiles() {
        let m = crate::test_model::kinesis();
        let mut n = 0;
        for shape in m.shapes.values() {
            if shape.pattern.is_some() {
                n += 1;
                assert!(
                    shape.regex().is_some(),
                    "pattern of {} did not compile",
                    shape.name
                );
            }
        }
        assert!(n >= 9);
    }

    #[test]
    fn every_pattern_in_the_dynamodb_and_cloudwatch_models_compiles() {
        for m in [
            crate::test_model::dynamodb(),
            crate::test_model::monitoring(),
        ] {
            let mut n = 0;
            for shape in m.shapes.values().filter(|s| s.pattern.is_some()) {
                n += 1;
                assert!(
                    shape.regex().is_some(),
                    "pattern of {} did not compile",
                    shape.name
                );
            }
            assert!(n >= 10, "{n}");
        }
        let ddb = crate::test_model::dynamodb();
        let role = ddb.shape("AutoScalingRoleArn").unwrap().regex().unwrap();
        assert!(role.is_match("arn:aws:iam::1:role/r\u{1F600}\t"));
        assert!(!role.is_match("\u{1}"));
        let print = ddb.shape("AutoScalingPolicyName").unwrap().regex().unwrap();
        assert!(print.is_match("policy 1~") && !print.is_match("tab\there"));
        let rule = ddb
            .shape("ContributorInsightsRule")
            .unwrap()
            .regex()
            .unwrap();
        assert!(rule.is_match("a_b-c.d") && !rule.is_match("a b"));
    }

    #[test]
    fn patterns_match_whole_string_like_java() {
        let m = crate::test_model::kinesis();
        let name = m.shape("StreamName").unwrap().regex().unwrap();
        assert!(name.is_match("my-stream_1.x"));
        assert!(!name.is_match("bad name"));
        assert!(!name.is_match(""));
        let hk = m.shape("HashKey").unwrap().regex().unwrap();
        assert!(hk.is_match("0"));
        assert!(hk.is_match("340282366920938463463374607431768211455"));
        assert!(!hk.is_match("01"));
        // Java's \d is ASCII only: an Arabic-Indic digit must not pass.
        assert!(!hk.is_match("1\u{0661}"));
        let arn = m.shape("ConsumerARN").unwrap().regex().unwrap();
        assert!(
            arn.is_match("arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1700000000")
        );
        assert!(!arn.is_match("arn:aws:kinesis:us-east-1:123:stream/s/consumer/c:1"));
    }

    #[test]
    fn malformed_models_are_rejected() {
        assert!(Model::from_json("not json").is_err());
        assert!(Model::from_json("{}").is_err());
        let dangling =
            r#"{"metadata":{},"operations":{"A":{"input":{"shape":"Nope"}}},"shapes":{}}"#;
        assert!(matches!(
            Model::from_json(dangling),
            Err(ModelError::Malformed(_))
        ));
        let bad_type = r#"{"operations":{},"shapes":{"X":{"type":"union"}}}"#;
        assert!(Model::from_json(bad_type).is_err());
    }
}
