//! AWS JSON 1.0 (DynamoDB): the JSON 1.1 document model with another content type, a
//! `x-amz-crc32` answer header and namespaced error types.
//!
//! Requests are decoded and validated by the same shape-driven machinery as JSON 1.1
//! ([`crate::decode_request`]); answers are the same JSON. What differs is around the body:
//! * the Content-Type is `application/x-amz-json-1.0`;
//! * every answer carries `x-amz-crc32`, the IEEE CRC32 of the body bytes in decimal, which
//!   botocore and the AWS SDKs check for DynamoDB (a mismatch makes them retry);
//! * error `__type`s are qualified the way Coral writes them: modelled errors with the
//!   service namespace (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`),
//!   protocol errors with Coral's (`com.amazon.coral.validate#ValidationException`,
//!   `com.amazon.coral.service#SerializationException`). Clients keep the part after `#`.

use crate::{Model, Node, Operation, Protocol, WireError};

/// The Content-Type of JSON 1.0 requests and answers.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// The name of the checksum header on every JSON 1.0 answer.
pub const CRC32_HEADER: &str = "x-amz-crc32";

/// Whether a Content-Type header value is JSON 1.0 (parameters and case ignored).
pub fn is_content_type(ct: Option<&str>) -> bool {
    ct.and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(CONTENT_TYPE))
}

/// Decode and validate a JSON 1.0 request body for `op` (see [`crate::decode_request`]).
pub fn decode_request(model: &Model, op: &Operation, body: &[u8]) -> Result<Node, WireError> {
    crate::decode_request(model, op, Protocol::Json, body)
}

/// Encode an answer tree as JSON 1.0.
pub fn encode_response(output: &Node) -> Vec<u8> {
    crate::encode_response(Protocol::Json, output)
}

/// The `x-amz-crc32` header for an answer body: `(name, decimal CRC32 of the bytes)`.
pub fn crc32_header(body: &[u8]) -> (&'static str, String) {
    (CRC32_HEADER, crc32fast::hash(body).to_string())
}

/// Coral's namespace for a service's modelled errors: `com.amazonaws.<endpointPrefix>.v<apiVersion
/// without dashes>`, e.g. `com.amazonaws.dynamodb.v20120810`.
pub fn error_namespace(model: &Model) -> String {
    let prefix = if model.endpoint_prefix.is_empty() {
        &model.signing_name
    } else {
        &model.endpoint_prefix
    };
    format!(
        "com.amazonaws.{prefix}.v{}",
        model.api_version.replace('-', "")
    )
}

/// A modelled error document: `{"__type":"<namespace>#<error_type>","message":...}`.
/// An empty message is left out, as AWS does.
pub fn encode_error(namespace: &str, error_type: &str, message: &str) -> Vec<u8> {
    let mut doc = Node::map().with("__type", format!("{namespace}#{error_type}"));
    if !message.is_empty() {
        doc.insert("message", message);
    }
    encode_response(&doc)
}

/// The Coral namespace of a protocol-level error: validation has its own, the rest are the
/// service framework's.
fn wire_error_namespace(err: &WireError) -> &'static str {
    if matches!(err, WireError::Validation(_)) {
        "com.amazon.coral.validate"
    } else {
        "com.amazon.coral.service"
    }
}

/// Render a protocol error as a JSON 1.0 answer: `(status, body)`; add [`CONTENT_TYPE`] and
/// [`crc32_header`] of the body.
pub fn error_response(err: &WireError) -> (u16, Vec<u8>) {
    let body = encode_error(wire_error_namespace(err), err.error_type(), &err.message());
    (err.status(), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_ieee_decimal() {
        // The CRC32 (IEEE) check value of "123456789" is 0xCBF43926.
        assert_eq!(
            crc32_header(b"123456789"),
            ("x-amz-crc32", 3_421_780_262u32.to_string())
        );
        // An empty DynamoDB answer `{}`.
        assert_eq!(crc32_header(b"{}").1, "2745614147");
    }

    #[test]
    fn content_type_detection() {
        assert!(is_content_type(Some("application/x-amz-json-1.0")));
        assert!(is_content_type(Some(
            "Application/X-Amz-Json-1.0; charset=utf-8"
        )));
        assert!(!is_content_type(Some("application/x-amz-json-1.1")));
        assert!(!is_content_type(None));
    }

    #[test]
    fn error_documents_are_namespaced() {
        let m = crate::test_model::dynamodb();
        assert_eq!(m.json_version, "1.0");
        let ns = error_namespace(m);
        assert_eq!(ns, "com.amazonaws.dynamodb.v20120810");
        assert_eq!(
            String::from_utf8(encode_error(
                &ns,
                "ResourceNotFoundException",
                "Requested resource not found"
            ))
            .unwrap(),
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#
        );
        let (status, body) = error_response(&WireError::Validation("1 validation error".into()));
        assert_eq!(status, 400);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"1 validation error"}"#
        );
        let (_, body) = error_response(&WireError::UnknownOperation);
        assert_eq!(
            body,
            br#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#
        );
    }
}
