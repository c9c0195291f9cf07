//! Constraint validation of a typed input tree, reported the way AWS reports it.
//!
//! Every violation is collected (members in model order, recursing into structures, lists and maps) and
//! reported as one `ValidationException`:
//! `2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must ...; Value ...`.
//!
//! Conventions reproduced from AWS:
//! * paths use lowerCamelCase member names; list elements of structure type are `records.1.member.x`;
//! * a missing required member prints as `Value null at 'x'`;
//! * for a single value, the pattern check is reported before the length checks;
//! * constraints of list elements that are not structures, and of map keys/values, are reported once at
//!   the collection's path as `Member must satisfy constraint: [...]`, `Map keys must satisfy
//!   constraint: [...]` or `Map value must satisfy constraint: [...]`, listing all the element shape's
//!   constraints (length max, length min, pattern or enum);
//! * lengths of strings count UTF-16 code units (Java `String.length`); blobs count decoded bytes and
//!   print as `java.nio.HeapByteBuffer[pos=0 lim=N cap=N]`; lists print `[a, b]`, maps `{k=v}`.
//!
//! Known approximations: AWS lists enum values in its own (hash-set) order; we use model order. AWS caps
//! how many violations it lists; we list at most [`MAX_REPORTED`].

use crate::model::{Shape, ShapeKind};
use crate::{Model, Node, WireError};

/// The most violations listed in one message.
pub const MAX_REPORTED: usize = 10;

/// Validate a decoded input structure; `Ok` when it satisfies every constraint.
pub(crate) fn validate_input(model: &Model, shape: &Shape, node: &Node) -> Result<(), WireError> {
    let mut errors = Vec::new();
    validate_structure(model, shape, node, "", &mut errors);
    if errors.is_empty() {
        return Ok(());
    }
    errors.truncate(MAX_REPORTED);
    let n = errors.len();
    Err(WireError::Validation(format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        errors.join("; ")
    )))
}

/// `StreamName` -> `streamName`, `StreamARN` -> `streamARN`.
pub fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn push(errors: &mut Vec<String>, value: Option<String>, path: &str, constraint: &str) {
    // Once the list is full nothing else will be shown; skip the formatting work.
    if errors.len() >= MAX_REPORTED {
        return;
    }
    let value = match value {
        Some(v) => format!("'{v}'"),
        None => "null".to_string(),
    };
    errors.push(format!(
        "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
    ));
}

fn validate_structure(
    model: &Model,
    shape: &Shape,
    node: &Node,
    prefix: &str,
    errors: &mut Vec<String>,
) {
    for member in shape.members() {
        let path = if prefix.is_empty() {
            lower_first(&member.name)
        } else {
            format!("{prefix}.{}", lower_first(&member.name))
        };
        match node.get(&member.name) {
            None | Some(Node::Null) => {
                if member.required {
                    push(errors, None, &path, "Member must not be null");
                }
            }
            Some(value) => {
                if let Some(member_shape) = model.shape(&member.shape) {
                    validate_value(model, member_shape, value, &path, errors);
                }
            }
        }
    }
}

fn validate_value(model: &Model, shape: &Shape, node: &Node, path: &str, errors: &mut Vec<String>) {
    if errors.len() >= MAX_REPORTED {
        return;
    }
    for constraint in scalar_violations(shape, node) {
        push(
            errors,
            Some(value_str(model, shape, node)),
            path,
            &constraint,
        );
    }
    match (&shape.kind, node) {
        (ShapeKind::Structure { .. }, Node::Map(_)) => {
            validate_structure(model, shape, node, path, errors)
        }
        (ShapeKind::List { member }, Node::List(items)) => {
            let Some(member_shape) = model.shape(member) else {
                return;
            };
            if matches!(member_shape.kind, ShapeKind::Structure { .. }) {
                for (i, item) in items.iter().enumerate() {
                    let item_path = format!("{path}.{}.member", i + 1);
                    if item.is_null() {
                        push(errors, None, &item_path, "Member must not be null");
                    } else {
                        validate_structure(model, member_shape, item, &item_path, errors);
                    }
                }
            } else if items
                .iter()
                .any(|item| item.is_null() || !scalar_violations(member_shape, item).is_empty())
            {
                let constraint = format!(
                    "Member must satisfy constraint: [{}]",
                    describe(member_shape).join(", ")
                );
                push(
                    errors,
                    Some(value_str(model, shape, node)),
                    path,
                    &constraint,
                );
            }
        }
        (ShapeKind::Map { key, value }, Node::Map(entries)) => {
            let (Some(key_shape), Some(value_shape)) = (model.shape(key), model.shape(value))
            else {
                return;
            };
            let key_bad = entries
                .iter()
                .any(|(k, _)| !scalar_violations(key_shape, &Node::Str(k.clone())).is_empty());
            if key_bad {
                let constraint = format!(
                    "Map keys must satisfy constraint: [{}]",
                    describe(key_shape).join(", ")
                );
                push(
                    errors,
                    Some(value_str(model, shape, node)),
                    path,
                    &constraint,
                );
            }
            if matches!(value_shape.kind, ShapeKind::Structure { .. }) {
                for (k, v) in entries {
                    validate_structure(
                        model,
                        value_shape,
                        v,
                        &format!("{path}.{k}.member"),
                        errors,
                    );
                }
            } else if entries
                .iter()
                .any(|(_, v)| !scalar_violations(value_shape, v).is_empty())
            {
                let constraint = format!(
                    "Map value must satisfy constraint: [{}]",
                    describe(value_shape).join(", ")
                );
                push(
                    errors,
                    Some(value_str(model, shape, node)),
                    path,
                    &constraint,
                );
            }
        }
        _ => {}
    }
}

/// The constraints a single value breaks, in AWS's reporting order (pattern, enum, min, max).
fn scalar_violations(shape: &Shape, node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    let length: Option<i64> = match node {
        // Java counts UTF-16 code units.
        Node::Str(s) => Some(s.encode_utf16().count() as i64),
        Node::Bytes(b) => Some(b.len() as i64),
        Node::List(l) => Some(l.len() as i64),
        Node::Map(m) if matches!(shape.kind, ShapeKind::Map { .. }) => Some(m.len() as i64),
        _ => None,
    };
    if let Node::Str(s) = node {
        if let (Some(pattern), Some(re)) = (&shape.pattern, shape.regex()) {
            if !re.is_match(s) {
                out.push(format!(
                    "Member must satisfy regular expression pattern: {pattern}"
                ));
            }
        }
        if let Some(values) = &shape.enum_values {
            if !values.iter().any(|v| v == s) {
                out.push(enum_text(values));
            }
        }
    }
    if let Some(len) = length {
        if let Some(min) = shape.min.filter(|&min| len < min) {
            out.push(format!(
                "Member must have length greater than or equal to {min}"
            ));
        }
        if let Some(max) = shape.max.filter(|&max| len > max) {
            out.push(format!(
                "Member must have length less than or equal to {max}"
            ));
        }
    }
    let number = match node {
        Node::Int(i) => Some(*i as f64),
        Node::Float(f) => Some(*f),
        _ => None,
    };
    if let Some(v) = number {
        if let Some(min) = shape.min.filter(|&min| v < min as f64) {
            out.push(format!(
                "Member must have value greater than or equal to {min}"
            ));
        }
        if let Some(max) = shape.max.filter(|&max| v > max as f64) {
            out.push(format!(
                "Member must have value less than or equal to {max}"
            ));
        }
    }
    out
}

fn enum_text(values: &[String]) -> String {
    format!(
        "Member must satisfy enum value set: [{}]",
        values.join(", ")
    )
}

/// Every constraint of an element shape, for the bracketed collection messages.
fn describe(shape: &Shape) -> Vec<String> {
    let mut out = Vec::new();
    let numeric = matches!(
        shape.kind,
        ShapeKind::Integer | ShapeKind::Long | ShapeKind::Double
    );
    let what = if numeric { "value" } else { "length" };
    if let Some(max) = shape.max {
        out.push(format!(
            "Member must have {what} less than or equal to {max}"
        ));
    }
    if let Some(min) = shape.min {
        out.push(format!(
            "Member must have {what} greater than or equal to {min}"
        ));
    }
    if let Some(pattern) = &shape.pattern {
        out.push(format!(
            "Member must satisfy regular expression pattern: {pattern}"
        ));
    }
    if let Some(values) = &shape.enum_values {
        out.push(enum_text(values));
    }
    out
}

/// How a value is printed in a message (Java `toString` of the deserialized object).
fn value_str(model: &Model, shape: &Shape, node: &Node) -> String {
    match node {
        Node::Null => "null".to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) => format!("{f:?}"),
        Node::Str(s) => s.clone(),
        Node::Bytes(b) => format!("java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]", b.len()),
        Node::Timestamp(ms) => format_iso(*ms),
        Node::List(items) => {
            let member = match &shape.kind {
                ShapeKind::List { member } => model.shape(member),
                _ => None,
            };
            let parts: Vec<String> = items
                .iter()
                .map(|item| member.map_or_else(String::new, |m| value_str(model, m, item)))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Node::Map(entries) => match &shape.kind {
            ShapeKind::Map { value, .. } => {
                let value_shape = model.shape(value);
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            value_shape.map_or_else(String::new, |s| value_str(model, s, v))
                        )
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            // Structures print like the AWS SDK for Java model classes: {Member: value,Other: value}.
            _ => {
                let parts: Vec<String> = shape
                    .members()
                    .iter()
                    .filter_map(|m| {
                        let v = node.get(&m.name)?;
                        let s = model.shape(&m.shape)?;
                        Some(format!("{}: {}", m.name, value_str(model, s, v)))
                    })
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
        },
    }
}

/// `2023-11-14T22:13:20.123Z`.
pub(crate) fn format_iso(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = rheo_stdx::calendar::civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_first_names() {
        assert_eq!(lower_first("StreamName"), "streamName");
        assert_eq!(lower_first("StreamARN"), "streamARN");
        assert_eq!(lower_first(""), "");
    }

    #[test]
    fn iso_formatting_round_trips_with_parser() {
        for ms in [
            0i64,
            1_700_000_000_123,
            -1,
            951_782_400_000,
            253_402_300_799_999,
        ] {
            let s = format_iso(ms);
            assert_eq!(crate::decode::parse_timestamp_str(&s), Some(ms), "{s}");
        }
        assert_eq!(format_iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
