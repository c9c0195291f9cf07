//! Protocol-level errors and how AWS renders them.
//!
//! Error types, HTTP statuses and message texts are part of the API: SDKs map `__type` to exception
//! classes and tests compare messages. The texts below are the ones AWS Kinesis returns (as recorded by
//! projects that test against the real service); the wording is reproduced, not the code.
//!
//! Status codes: request-shape problems are 400, and so are the authentication errors of a request with
//! an AWS JSON/CBOR content type: recordings of Kinesis's JSON endpoint show 400 for
//! MissingAuthenticationToken, IncompleteSignature and InvalidSignature. 403 is only for the XML
//! answers to requests whose content type was not understood.

use crate::Protocol;

/// A request rejected by the wire layer, before any operation logic runs.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum WireError {
    /// `X-Amz-Target` missing, malformed, or naming an operation the model does not have.
    #[error("UnknownOperationException")]
    UnknownOperation,
    /// The body is not JSON/CBOR, or a value has the wrong type for its shape. AWS often sends no message
    /// for an unparsable body; the message is then empty.
    #[error("SerializationException: {0}")]
    Serialization(String),
    /// One or more constraint violations, already formatted (`1 validation error detected: ...`).
    #[error("ValidationException: {0}")]
    Validation(String),
    /// No `Authorization` header and no `X-Amz-Algorithm` query parameter.
    #[error("MissingAuthenticationTokenException: Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The SigV4 header or query parameters are incomplete or malformed.
    #[error("IncompleteSignatureException: {0}")]
    IncompleteSignature(String),
    /// Well-formed SigV4 data that cannot be right (wrong scope, both header and query auth...).
    #[error("InvalidSignatureException: {0}")]
    InvalidSignature(String),
    /// The access key id is not known, or the session token does not belong to it.
    #[error("UnrecognizedClientException: The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The Content-Type is not one of the AWS JSON / CBOR types (see [`unsupported_content_type`]).
    #[error("unsupported content type")]
    UnsupportedContentType {
        /// Whether the request had a parsable `X-Amz-Target`; AWS answers differently with and without.
        has_target: bool,
    },
}

impl WireError {
    /// The `__type` value AWS puts in the body.
    pub fn error_type(&self) -> &'static str {
        match self {
            WireError::UnknownOperation => "UnknownOperationException",
            WireError::Serialization(_) => "SerializationException",
            WireError::Validation(_) => "ValidationException",
            WireError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            WireError::IncompleteSignature(_) => "IncompleteSignatureException",
            WireError::InvalidSignature(_) => "InvalidSignatureException",
            WireError::UnrecognizedClient => "UnrecognizedClientException",
            WireError::UnsupportedContentType { has_target: true } => "UnknownOperationException",
            WireError::UnsupportedContentType { has_target: false } => "AccessDeniedException",
        }
    }

    /// HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            WireError::UnknownOperation
            | WireError::Serialization(_)
            | WireError::Validation(_)
            | WireError::MissingAuthenticationToken
            | WireError::IncompleteSignature(_)
            | WireError::InvalidSignature(_)
            | WireError::UnrecognizedClient => 400,
            WireError::UnsupportedContentType { has_target: true } => 404,
            WireError::UnsupportedContentType { has_target: false } => 403,
        }
    }

    /// The human-readable message; empty where AWS sends none.
    pub fn message(&self) -> String {
        match self {
            WireError::UnknownOperation => String::new(),
            WireError::Serialization(m)
            | WireError::Validation(m)
            | WireError::IncompleteSignature(m)
            | WireError::InvalidSignature(m) => m.clone(),
            WireError::MissingAuthenticationToken => "Missing Authentication Token".to_string(),
            WireError::UnrecognizedClient => {
                "The security token included in the request is invalid.".to_string()
            }
            WireError::UnsupportedContentType { has_target: true } => String::new(),
            WireError::UnsupportedContentType { has_target: false } => {
                "Unable to determine service/operation name to be authorized".to_string()
            }
        }
    }

    /// Render this error as a full response: `(status, content type, body)`.
    ///
    /// With a protocol, the body is that protocol's error document ([`crate::encode_error`]). Without one
    /// (the request's Content-Type was not understood), AWS falls back to a small XML document with no
    /// Content-Type header; `None` is returned for the content type in that case.
    pub fn to_response(&self, protocol: Option<Protocol>) -> (u16, Option<&'static str>, Vec<u8>) {
        let status = self.status();
        match protocol {
            Some(p) => (
                status,
                Some(p.content_type()),
                crate::encode_error(p, self.error_type(), &self.message()),
            ),
            None => {
                let ty = self.error_type();
                let msg = self.message();
                let body = if msg.is_empty() {
                    format!("<{ty}/>\n")
                } else {
                    format!(
                        "<{ty}>\n  <Message>{}</Message>\n</{ty}>\n",
                        xml_escape(&msg)
                    )
                };
                (status, None, body.into_bytes())
            }
        }
    }
}

/// The error for a request whose Content-Type is neither AWS JSON nor CBOR.
///
/// AWS (and kinesalite, which mirrors it) answer such a request with 404 `UnknownOperationException`
/// when an `X-Amz-Target` is present and with 403 `AccessDeniedException` ("Unable to determine
/// service/operation name to be authorized") when it is not, both as XML. Pass the raw target header.
pub fn unsupported_content_type(target: Option<&str>) -> WireError {
    let has_target = target.is_some_and(|t| {
        t.split_once('.')
            .is_some_and(|(s, o)| !s.is_empty() && !o.is_empty())
    });
    WireError::UnsupportedContentType { has_target }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_statuses_and_messages() {
        let table: Vec<(WireError, &str, u16, &str)> = vec![
            (
                WireError::UnknownOperation,
                "UnknownOperationException",
                400,
                "",
            ),
            (
                WireError::Serialization("x".into()),
                "SerializationException",
                400,
                "x",
            ),
            (
                WireError::Validation("v".into()),
                "ValidationException",
                400,
                "v",
            ),
            (
                WireError::MissingAuthenticationToken,
                "MissingAuthenticationTokenException",
                400,
                "Missing Authentication Token",
            ),
            (
                WireError::IncompleteSignature("i".into()),
                "IncompleteSignatureException",
                400,
                "i",
            ),
            (
                WireError::InvalidSignature("s".into()),
                "InvalidSignatureException",
                400,
                "s",
            ),
        ];
        for (err, ty, status, msg) in table {
            assert_eq!(err.error_type(), ty);
            assert_eq!(err.status(), status);
            assert_eq!(err.message(), msg);
        }
    }

    #[test]
    fn unsupported_content_type_depends_on_target() {
        let with = unsupported_content_type(Some("Kinesis_20131202.ListStreams"));
        assert_eq!(
            (with.status(), with.error_type()),
            (404, "UnknownOperationException")
        );
        let (status, ct, body) = with.to_response(None);
        assert_eq!((status, ct), (404, None));
        assert_eq!(body, b"<UnknownOperationException/>\n");

        let without = unsupported_content_type(None);
        assert_eq!(
            (without.status(), without.error_type()),
            (403, "AccessDeniedException")
        );
        let (_, _, body) = without.to_response(None);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
        );
        assert_eq!(unsupported_content_type(Some("garbage")).status(), 403);
    }

    #[test]
    fn to_response_with_protocol_uses_protocol_body() {
        let (status, ct, body) = WireError::UnknownOperation.to_response(Some(Protocol::Json));
        assert_eq!((status, ct), (400, Some("application/x-amz-json-1.1")));
        assert_eq!(body, br#"{"__type":"UnknownOperationException"}"#);
    }
}
