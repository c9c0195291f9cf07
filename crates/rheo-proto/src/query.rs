//! The awsQuery protocol (CloudWatch, SQS, SNS...): form-encoded requests, XML answers.
//!
//! A request body is `application/x-www-form-urlencoded`: `Action=PutMetricData&Version=2010-08-01`
//! and one key per leaf value, the path spelled with dots and guided by the input shape:
//! structure members by name (or `locationName`), list elements as `Name.member.N` (`Name.N` when
//! the list is `flattened`; an empty list as a bare `Name=`), map entries as
//! `Name.entry.N.key` / `Name.entry.N.value`, timestamps in ISO 8601, booleans `true`/`false`,
//! blobs in base64. The keys are first gathered into a tree by their dotted segments, then read
//! against the shape into the same [`Node`] a JSON request gives, then validated by the shared
//! validator, so a binding sees no difference between the protocols.
//!
//! Answers are `<{Op}Response xmlns="{xmlNamespace}"><{resultWrapper}>...</{resultWrapper}>
//! <ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></{Op}Response>`; errors are
//! `<ErrorResponse xmlns=".."><Error><Type>Sender|Receiver</Type><Code>..</Code><Message>..
//! </Message></Error><RequestId>..</RequestId></ErrorResponse>` with the status and code of the
//! error shape's `error` trait (`awsQueryError`).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::model::{Shape, ShapeKind};
use crate::{Model, Node, Operation, WireError};

/// The Content-Type of awsQuery requests.
pub const REQUEST_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// The Content-Type of awsQuery answers.
pub const CONTENT_TYPE: &str = "text/xml";

/// The header a JSON/CBOR service that is `awsQueryCompatible` adds to error answers
/// (`Code;Sender`), so clients of the former awsQuery API see the same error codes.
pub const QUERY_ERROR_HEADER: &str = "x-amzn-query-error";

/// The most dotted segments in one key. Shapes nest a few levels; this only bounds the work a
/// hostile body can cause (the tree walk recurses once per segment).
pub const MAX_KEY_SEGMENTS: usize = 32;

/// Whether a Content-Type header value is a form body (parameters and case ignored).
pub fn is_content_type(ct: Option<&str>) -> bool {
    ct.and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(REQUEST_CONTENT_TYPE))
}

/// The keys of a body gathered by dotted segments. Children are sorted by name: order carries no
/// meaning in a form body (list order comes from the indices).
#[derive(Default, Debug)]
struct Tree {
    value: Option<String>,
    children: BTreeMap<String, Tree>,
}

impl Tree {
    fn from_body(body: &[u8]) -> Result<Tree, WireError> {
        let mut root = Tree::default();
        for (key, value) in form_urlencoded::parse(body) {
            let mut node = &mut root;
            for (depth, segment) in key.split('.').enumerate() {
                if depth >= MAX_KEY_SEGMENTS {
                    return Err(ser(format!("Parameter name {key} is nested too deeply")));
                }
                node = node.children.entry(segment.to_string()).or_default();
            }
            // A repeated key: the last one wins.
            node.value = Some(value.into_owned());
        }
        Ok(root)
    }

    fn child(&self, name: &str) -> Option<&Tree> {
        self.children.get(name)
    }

    /// Children named `1`, `2`, ... in index order. Any other name, a zero or a number too large
    /// to be an index is refused: AWS indexes from 1.
    fn indexed(&self, what: &str) -> Result<Vec<&Tree>, WireError> {
        let mut items = Vec::with_capacity(self.children.len());
        for (name, child) in &self.children {
            match name.parse::<u32>() {
                Ok(i) if i >= 1 && !name.starts_with('0') => items.push((i, child)),
                _ => return Err(ser(format!("'{name}' is not a valid {what} index"))),
            }
        }
        items.sort_by_key(|(i, _)| *i);
        Ok(items.into_iter().map(|(_, child)| child).collect())
    }
}

fn ser(msg: impl Into<String>) -> WireError {
    WireError::Serialization(msg.into())
}

/// The operation a form body names in `Action`. A missing or unknown action is
/// [`WireError::UnknownOperation`] (rendered as `InvalidAction` by [`error_response`]).
pub fn parse_action<'m>(model: &'m Model, body: &[u8]) -> Result<&'m Operation, WireError> {
    let action = form_urlencoded::parse(body)
        .filter(|(k, _)| k == "Action")
        .last()
        .map(|(_, v)| v);
    action
        .and_then(|a| model.operation(&a))
        .ok_or(WireError::UnknownOperation)
}

/// Read `Action` and decode the rest of the body for it: the operation and its validated input.
pub fn decode<'m>(model: &'m Model, body: &[u8]) -> Result<(&'m Operation, Node), WireError> {
    let op = parse_action(model, body)?;
    let node = decode_request(model, op, body)?;
    Ok((op, node))
}

/// Decode and validate a form body for `op`. `Action`, `Version` and unknown keys are ignored,
/// as members the shape does not have are in JSON.
pub fn decode_request(model: &Model, op: &Operation, body: &[u8]) -> Result<Node, WireError> {
    let tree = Tree::from_body(body)?;
    let Some(input) = op.input.as_deref().and_then(|name| model.shape(name)) else {
        return Ok(Node::map());
    };
    let node = structure(model, input, &tree)?;
    crate::validate::validate_input(model, input, &node)?;
    Ok(node)
}

fn shape<'m>(model: &'m Model, name: &str) -> Result<&'m Shape, WireError> {
    model
        .shape(name)
        .ok_or_else(|| ser(format!("model has no shape {name}")))
}

fn structure(model: &Model, shape: &Shape, tree: &Tree) -> Result<Node, WireError> {
    let mut entries = Vec::new();
    for member in shape.members() {
        let Some(child) = tree.child(member.wire_name()) else {
            continue;
        };
        let member_shape = self::shape(model, &member.shape)?;
        let node = typed(model, member_shape, child, member.flattened)?;
        entries.push((member.name.clone(), node));
    }
    Ok(Node::Map(entries))
}

fn typed(model: &Model, shape: &Shape, tree: &Tree, flattened: bool) -> Result<Node, WireError> {
    let flattened = flattened || shape.flattened;
    match &shape.kind {
        ShapeKind::Structure { .. } => structure(model, shape, tree),
        ShapeKind::List { member } => {
            let member_shape = self::shape(model, member)?;
            let items = if flattened {
                Some(tree)
            } else {
                tree.child(shape.member_location_name.as_deref().unwrap_or("member"))
            };
            // `Name=` with no elements is how an empty list is sent.
            let Some(items) = items else {
                return Ok(Node::List(Vec::new()));
            };
            items
                .indexed("list")?
                .into_iter()
                .map(|item| typed(model, member_shape, item, false))
                .collect::<Result<Vec<_>, _>>()
                .map(Node::List)
        }
        ShapeKind::Map { key, value } => {
            let key_shape = self::shape(model, key)?;
            let value_shape = self::shape(model, value)?;
            let (key_name, value_name) = (
                shape.map_location_names.0.as_deref().unwrap_or("key"),
                shape.map_location_names.1.as_deref().unwrap_or("value"),
            );
            let entries = if flattened {
                Some(tree)
            } else {
                tree.child("entry")
            };
            let Some(entries) = entries else {
                return Ok(Node::Map(Vec::new()));
            };
            let mut out: Vec<(String, Node)> = Vec::new();
            for entry in entries.indexed("map entry")? {
                let k = match entry
                    .child(key_name)
                    .map(|k| typed(model, key_shape, k, false))
                {
                    Some(Ok(Node::Str(k))) => k,
                    Some(Err(e)) => return Err(e),
                    _ => return Err(ser(format!("map entry without a {key_name}"))),
                };
                let Some(v) = entry.child(value_name) else {
                    continue;
                };
                let v = typed(model, value_shape, v, false)?;
                match out.iter_mut().find(|(existing, _)| *existing == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
            // As in JSON decoding: map order carries no meaning, sorted so both protocols agree.
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Node::Map(out))
        }
        _ => scalar(shape, tree),
    }
}

fn scalar(shape: &Shape, tree: &Tree) -> Result<Node, WireError> {
    let Some(text) = tree.value.as_deref() else {
        return Err(ser(format!("A value is expected for a {}", shape.name)));
    };
    let bad = |java: &str| ser(format!("'{text}' can not be converted to an {java}"));
    match &shape.kind {
        ShapeKind::String => Ok(Node::Str(text.to_string())),
        ShapeKind::Integer => text
            .trim()
            .parse::<i32>()
            .map(|i| Node::Int(i64::from(i)))
            .map_err(|_| bad("Integer")),
        ShapeKind::Long => text
            .trim()
            .parse::<i64>()
            .map(Node::Int)
            .map_err(|_| bad("Long")),
        ShapeKind::Double => text
            .trim()
            .parse::<f64>()
            .map(Node::Float)
            .map_err(|_| bad("Double")),
        ShapeKind::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Node::Bool(true)),
            "false" => Ok(Node::Bool(false)),
            _ => Err(bad("Boolean")),
        },
        ShapeKind::Blob => crate::decode::decode_base64(text).map(|b| Node::Bytes(Bytes::from(b))),
        ShapeKind::Timestamp => crate::decode::parse_timestamp_str(text)
            .filter(|ms| {
                (crate::decode::MIN_TIMESTAMP_MS..=crate::decode::MAX_TIMESTAMP_MS).contains(ms)
            })
            .map(Node::Timestamp)
            .ok_or_else(|| ser(format!("'{text}' can not be converted to a Timestamp"))),
        ShapeKind::Structure { .. } | ShapeKind::List { .. } | ShapeKind::Map { .. } => {
            Err(ser(format!("A value is not expected for a {}", shape.name)))
        }
    }
}

/// XML text or attribute value, escaped.
fn push_text(out: &mut String, text: &str) {
    out.push_str(&quick_xml::escape::escape(text));
}

fn open(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

fn element(out: &mut String, name: &str, text: &str) {
    open(out, name);
    push_text(out, text);
    close(out, name);
}

fn response_metadata(out: &mut String, request_id: &str) {
    out.push_str("<ResponseMetadata>");
    element(out, "RequestId", request_id);
    out.push_str("</ResponseMetadata>");
}

fn root_open(out: &mut String, name: &str, namespace: &str) {
    out.push('<');
    out.push_str(name);
    if !namespace.is_empty() {
        out.push_str(" xmlns=\"");
        push_text(out, namespace);
        out.push('"');
    }
    out.push('>');
}

/// Encode an answer of `op`: members of `output` as the output shape lays them out, inside the
/// operation's `resultWrapper`. An operation without output answers only `ResponseMetadata`.
pub fn encode_response(model: &Model, op: &Operation, output: &Node, request_id: &str) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    let root = format!("{}Response", op.name);
    root_open(&mut out, &root, &model.xml_namespace);
    if let Some(shape) = op.output.as_deref().and_then(|name| model.shape(name)) {
        let wrapper = model
            .result_wrapper(&op.name)
            .map_or_else(|| format!("{}Result", op.name), str::to_string);
        open(&mut out, &wrapper);
        members(&mut out, model, shape, output);
        close(&mut out, &wrapper);
    }
    response_metadata(&mut out, request_id);
    close(&mut out, &root);
    out.into_bytes()
}

fn members(out: &mut String, model: &Model, shape: &Shape, node: &Node) {
    for member in shape.members() {
        let Some(value) = node.get(&member.name).filter(|v| !v.is_null()) else {
            continue;
        };
        if let Some(member_shape) = model.shape(&member.shape) {
            value_xml(
                out,
                model,
                member_shape,
                value,
                member.wire_name(),
                member.flattened,
            );
        }
    }
}

fn value_xml(
    out: &mut String,
    model: &Model,
    shape: &Shape,
    node: &Node,
    name: &str,
    flattened: bool,
) {
    let flattened = flattened || shape.flattened;
    match (&shape.kind, node) {
        (ShapeKind::Structure { .. }, Node::Map(_)) => {
            open(out, name);
            members(out, model, shape, node);
            close(out, name);
        }
        (ShapeKind::List { member }, Node::List(items)) => {
            let Some(member_shape) = model.shape(member) else {
                return;
            };
            let item_name = shape.member_location_name.as_deref().unwrap_or("member");
            if flattened {
                for item in items.iter().filter(|i| !i.is_null()) {
                    value_xml(out, model, member_shape, item, name, false);
                }
            } else {
                open(out, name);
                for item in items.iter().filter(|i| !i.is_null()) {
                    value_xml(out, model, member_shape, item, item_name, false);
                }
                close(out, name);
            }
        }
        (ShapeKind::Map { value, .. }, Node::Map(entries)) => {
            let Some(value_shape) = model.shape(value) else {
                return;
            };
            let (key_name, value_name) = (
                shape.map_location_names.0.as_deref().unwrap_or("key"),
                shape.map_location_names.1.as_deref().unwrap_or("value"),
            );
            if !flattened {
                open(out, name);
            }
            for (k, v) in entries.iter().filter(|(_, v)| !v.is_null()) {
                let entry = if flattened { name } else { "entry" };
                open(out, entry);
                element(out, key_name, k);
                value_xml(out, model, value_shape, v, value_name, false);
                close(out, entry);
            }
            if !flattened {
                close(out, name);
            }
        }
        // The model may ask for epoch seconds instead of ISO 8601 (`timestampFormat`).
        (ShapeKind::Timestamp, Node::Timestamp(ms))
            if shape.timestamp_format.as_deref() == Some("unixTimestamp") =>
        {
            let mut text = Vec::with_capacity(16);
            crate::json_timestamp(&mut text, *ms);
            element(out, name, &String::from_utf8_lossy(&text));
        }
        (_, scalar) => {
            if let Some(text) = scalar_text(scalar) {
                element(out, name, &text);
            }
        }
    }
}

/// A leaf as XML text; `None` for containers in a leaf's place (a binding bug, left out rather
/// than guessed at).
fn scalar_text(node: &Node) -> Option<String> {
    use base64::Engine as _;
    Some(match node {
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) if f.is_nan() => "NaN".to_string(),
        Node::Float(f) if f.is_infinite() => {
            if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
        }
        Node::Float(f) => format!("{f:?}"),
        Node::Str(s) => s.clone(),
        Node::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Node::Timestamp(ms) => crate::validate::format_iso(*ms),
        Node::Null | Node::List(_) | Node::Map(_) => return None,
    })
}

/// An error document: `<ErrorResponse>` with `Type` (`Sender` for the caller's faults, else
/// `Receiver`), `Code`, `Message` (left out when empty) and the request id.
pub fn encode_error(
    model: &Model,
    code: &str,
    message: &str,
    sender_fault: bool,
    request_id: &str,
) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    root_open(&mut out, "ErrorResponse", &model.xml_namespace);
    out.push_str("<Error>");
    element(
        &mut out,
        "Type",
        if sender_fault { "Sender" } else { "Receiver" },
    );
    element(&mut out, "Code", code);
    if !message.is_empty() {
        element(&mut out, "Message", message);
    }
    out.push_str("</Error>");
    element(&mut out, "RequestId", request_id);
    close(&mut out, "ErrorResponse");
    out.into_bytes()
}

/// Code, status and sender fault of a modelled error shape (`ResourceNotFound`, 404, sender for
/// CloudWatch's `ResourceNotFound`). Without an `error` trait the shape name is the code and the
/// status is 400 (500 for a `fault`), as botocore assumes.
pub fn error_parts(model: &Model, error_shape: &str) -> (String, u16, bool) {
    match model.shape(error_shape) {
        Some(shape) => {
            let status = shape
                .error_status
                .unwrap_or(if shape.fault { 500 } else { 400 });
            let code = shape
                .error_code
                .clone()
                .unwrap_or_else(|| error_shape.to_string());
            (code, status, shape.sender_fault || status < 500)
        }
        None => (error_shape.to_string(), 400, true),
    }
}

/// A modelled error as an answer: `(status, body)`.
pub fn modelled_error(
    model: &Model,
    error_shape: &str,
    message: &str,
    request_id: &str,
) -> (u16, Vec<u8>) {
    let (code, status, sender) = error_parts(model, error_shape);
    (
        status,
        encode_error(model, &code, message, sender, request_id),
    )
}

/// The `x-amzn-query-error` header (`Code;Sender`) for an error of an `awsQueryCompatible`
/// JSON/CBOR service; `None` for other models.
pub fn query_error_header(model: &Model, error_shape: &str) -> Option<(&'static str, String)> {
    if !model.aws_query_compatible {
        return None;
    }
    let (code, _, sender) = error_parts(model, error_shape);
    let fault = if sender { "Sender" } else { "Receiver" };
    Some((QUERY_ERROR_HEADER, format!("{code};{fault}")))
}

/// A protocol error as an awsQuery answer: `(status, body)`.
///
/// Codes follow awsQuery usage: an unknown or missing `Action` is `InvalidAction`; a value of the
/// wrong type `InvalidParameterValue`; constraint violations use the code of the model's
/// `ValidationException` shape (CloudWatch's `ValidationError`); authentication errors drop the
/// `Exception` suffix (`MissingAuthenticationToken`, 403 as for every awsQuery service).
pub fn error_response(model: &Model, err: &WireError, request_id: &str) -> (u16, Vec<u8>) {
    let (code, status) = match err {
        WireError::UnknownOperation => ("InvalidAction".to_string(), 400),
        WireError::Serialization(_) => ("InvalidParameterValue".to_string(), 400),
        WireError::Validation(_) => {
            let (code, status, _) = error_parts(model, "ValidationException");
            let code = if model.shape("ValidationException").is_some() {
                code
            } else {
                "ValidationError".to_string()
            };
            (code, status)
        }
        WireError::MissingAuthenticationToken
        | WireError::IncompleteSignature(_)
        | WireError::InvalidSignature(_) => (
            err.error_type().trim_end_matches("Exception").to_string(),
            403,
        ),
        // The awsQuery services (CloudWatch, STS) name an unknown key this way.
        WireError::UnrecognizedClient => ("InvalidClientTokenId".to_string(), 403),
        WireError::UnsupportedContentType { .. } => (err.error_type().to_string(), err.status()),
    };
    let message = match err {
        WireError::UnknownOperation => "Could not find operation for this request".to_string(),
        _ => err.message(),
    };
    (
        status,
        encode_error(model, &code, &message, status < 500, request_id),
    )
}

#[cfg(test)]
mod tests;
