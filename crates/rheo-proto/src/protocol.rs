//! Which body encoding a request uses, and the `X-Amz-Target` header.
//!
//! Kinesis speaks AWS JSON 1.1 (boto3, CLI, JS and Rust SDKs) and, for the Java SDK v2 / KCL, the same
//! document model in CBOR. The decision is taken from the Content-Type alone, as AWS does.

use crate::{Model, Operation, WireError};

/// Body encoding of a request and its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `application/x-amz-json-1.1` (also 1.0 and plain `application/json`).
    Json,
    /// `application/x-amz-cbor-1.1`.
    Cbor,
}

impl Protocol {
    /// Protocol for a Content-Type header value; parameters (`; charset=...`) and case are ignored.
    /// `None` means the request is not an AWS JSON/CBOR call (see [`crate::unsupported_content_type`]).
    ///
    /// AWS itself answers `application/json` with a legacy JSON 1.0 envelope; accepting it as JSON 1.1 is
    /// a deliberate convenience for curl-style testing.
    pub fn from_content_type(ct: Option<&str>) -> Option<Protocol> {
        let mime = ct?.split(';').next()?.trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/x-amz-json-1.1" | "application/x-amz-json-1.0" | "application/json" => {
                Some(Protocol::Json)
            }
            "application/x-amz-cbor-1.1" => Some(Protocol::Cbor),
            _ => None,
        }
    }

    /// Content-Type to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Json => "application/x-amz-json-1.1",
            Protocol::Cbor => "application/x-amz-cbor-1.1",
        }
    }
}

/// Resolve `X-Amz-Target` (`Kinesis_20131202.PutRecord`) to an operation of `model`.
///
/// Missing header, wrong service prefix or unknown operation all give `UnknownOperationException`
/// (400, no message), as AWS does. Matching is case-sensitive.
pub fn parse_target<'m>(
    model: &'m Model,
    target: Option<&str>,
) -> Result<&'m Operation, WireError> {
    let (service, operation) = target
        .and_then(|t| t.trim().split_once('.'))
        .ok_or(WireError::UnknownOperation)?;
    if service != model.target_prefix || model.target_prefix.is_empty() {
        return Err(WireError::UnknownOperation);
    }
    model
        .operation(operation)
        .ok_or(WireError::UnknownOperation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let table = [
            (Some("application/x-amz-json-1.1"), Some(Protocol::Json)),
            (Some("application/x-amz-json-1.0"), Some(Protocol::Json)),
            (Some("application/json"), Some(Protocol::Json)),
            (
                Some("Application/X-Amz-Json-1.1; charset=utf-8"),
                Some(Protocol::Json),
            ),
            (Some("application/x-amz-cbor-1.1"), Some(Protocol::Cbor)),
            (Some("text/plain"), None),
            (Some(""), None),
            (None, None),
        ];
        for (ct, want) in table {
            assert_eq!(Protocol::from_content_type(ct), want, "{ct:?}");
        }
        assert_eq!(Protocol::Json.content_type(), "application/x-amz-json-1.1");
        assert_eq!(Protocol::Cbor.content_type(), "application/x-amz-cbor-1.1");
    }

    #[test]
    fn targets() {
        let m = crate::test_model::kinesis();
        assert_eq!(
            parse_target(m, Some("Kinesis_20131202.PutRecord")).map(|o| o.name.as_str()),
            Ok("PutRecord")
        );
        for bad in [
            None,
            Some(""),
            Some("Kinesis_20131202"),
            Some("Kinesis_20131202.ListStream"),
            Some("Kinesis_20131203.ListStreams"),
            Some("kinesis_20131202.ListStreams"),
            Some(".ListStreams"),
            Some("Kinesis_20131202.putRecord"),
        ] {
            assert_eq!(
                parse_target(m, bad),
                Err(WireError::UnknownOperation),
                "{bad:?}"
            );
        }
    }
}
