//! Rheo's generic wire layer for the Kinesis API (AWS JSON 1.1 and CBOR).
//!
//! This crate knows the service *model* but nothing of streams or storage: it turns request bytes into a
//! validated, typed [`Node`] tree, turns response trees back into bytes, renders errors the way AWS does
//! and reads SigV4 data. [`ops`] translates those trees to calls of the `rheo-streams` domain and back;
//! everything else here is operation-agnostic.
//!
//! The order a server should apply, which is AWS's:
//! 1. [`Protocol::from_content_type`] (`None` -> [`unsupported_content_type`]);
//! 2. [`parse_target`] (`UnknownOperationException`);
//! 3. [`parse_auth`] (`MissingAuthenticationToken`, `IncompleteSignature`, `InvalidSignature`);
//! 4. [`decode_request`] (`SerializationException`, then `ValidationException`);
//! 5. handler, then [`encode_response`] or [`encode_error`] / [`WireError::to_response`].
//!
//! AWS actually checks that the body parses as JSON before it looks at the target or the credentials;
//! a server wanting that exact precedence can call `decode_request` first and hold the error.

mod auth;
mod decode;
mod encode;
mod error;
pub mod fast;
pub mod fuzzing;
mod model;
mod node;
pub mod ops;
mod protocol;
mod raw;
#[cfg(test)]
mod request_tests;
mod validate;

pub use auth::{parse_auth, AuthInfo};
pub use decode::decode_request;
pub use encode::{encode_error, encode_response};
pub use error::{unsupported_content_type, WireError};
pub use model::{Member, Model, ModelError, Operation, Shape, ShapeKind};
pub use node::Node;
pub use protocol::{parse_target, Protocol};
pub use raw::MAX_DEPTH;
pub use validate::MAX_REPORTED;
