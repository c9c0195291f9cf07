//! The AWS wire protocols, for any service: nothing here names a service.
//!
//! A service binding (`rheo-api-<service>`) hands this crate its vendored botocore model
//! ([`Model::from_json`]); this crate turns request bytes into a validated, typed [`Node`] tree,
//! turns response trees back into bytes, renders errors the way AWS does and reads SigV4 data
//! for whatever credential scope the binding expects.
//!
//! Protocols: AWS JSON 1.1 and CBOR ([`Protocol`], [`decode_request`], [`encode_response`]),
//! JSON 1.0 with its `x-amz-crc32` answer header ([`json10`]) and awsQuery requests with XML
//! answers ([`query`]).
//!
//! The order a server should apply, which is AWS's:
//! 1. [`Protocol::from_content_type`] (`None` -> [`unsupported_content_type`]);
//! 2. [`parse_target`] (`UnknownOperationException`);
//! 3. [`parse_auth`] (`MissingAuthenticationToken`, `IncompleteSignature`, `InvalidSignature`);
//! 4. [`decode_request`] (`SerializationException`, then `ValidationException`);
//! 5. handler, then [`encode_response`] or [`encode_error`] / [`WireError::to_response`].
//!
//! JSON 1.0 (DynamoDB) follows the same order with [`json10`]: [`json10::is_content_type`],
//! [`parse_target`], [`json10::decode_request`], then [`json10::encode_response`] or
//! [`json10::encode_error`] / [`json10::error_response`], and on every answer the
//! [`json10::crc32_header`] of the body. awsQuery (CloudWatch): [`query::is_content_type`],
//! [`query::decode`] (`Action` then the members), then [`query::encode_response`] or
//! [`query::modelled_error`] / [`query::error_response`] with [`query::CONTENT_TYPE`].
//!
//! AWS actually checks that the body parses as JSON before it looks at the target or the credentials;
//! a server wanting that exact precedence can call `decode_request` first and hold the error.
//!
//! **Architecture invariant:** depends on no domain, storage or HTTP-server crate; the only
//! service model it sees is test data (`models/`, in unit tests).

mod auth;
pub mod codegen;
mod decode;
mod encode;
mod error;
pub mod eventstream;
pub mod fuzzing;
pub mod json10;
mod model;
mod node;
mod protocol;
pub mod query;
mod raw;
#[cfg(test)]
mod request_tests;
mod validate;
mod vendored;

pub use auth::{parse_auth, AuthInfo};
pub use decode::decode_request;
pub use encode::{encode_error, encode_response, json_bytes, json_str, json_timestamp};
pub use error::{unsupported_content_type, WireError};
pub use model::{Member, Model, ModelError, Operation, Shape, ShapeKind};
pub use node::Node;
pub use protocol::{parse_target, Protocol};
pub use raw::MAX_DEPTH;
pub use validate::{lower_first, MAX_REPORTED};
pub use vendored::{OperationIndex, VendoredModel};

/// The Kinesis model as test data: the codec is tested against a real model, which it does
/// not otherwise know.
#[cfg(test)]
pub(crate) mod test_model {
    use std::sync::LazyLock;

    use crate::Model;

    static KINESIS: LazyLock<Model> = LazyLock::new(|| {
        Model::from_json(include_str!("../../../models/kinesis-2013-12-02.json")).unwrap()
    });

    pub(crate) fn kinesis() -> &'static Model {
        &KINESIS
    }

    static DYNAMODB: LazyLock<Model> = LazyLock::new(|| {
        Model::from_json(include_str!("../../../models/dynamodb-2012-08-10.json")).unwrap()
    });

    static MONITORING: LazyLock<Model> = LazyLock::new(|| {
        Model::from_json(include_str!("../../../models/monitoring-2010-08-01.json")).unwrap()
    });

    pub(crate) fn dynamodb() -> &'static Model {
        &DYNAMODB
    }

    pub(crate) fn monitoring() -> &'static Model {
        &MONITORING
    }
}
