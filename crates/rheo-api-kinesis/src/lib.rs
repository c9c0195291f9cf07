//! The Kinesis Data Streams binding: the operations of the vendored model, run against the
//! `rheo-streams` domain.
//!
//! [`ops`] translates validated request trees to domain calls and domain results back to
//! trees, and maps every domain error to `__type` and status; [`fast`] holds the JSON
//! PutRecords/GetRecords fast paths. The protocol work (decode, validate, encode, errors, SigV4)
//! is `rheo-proto`'s.
//!
//! **Architecture invariant:** knows its domain (`rheo-streams`) and the protocol
//! (`rheo-proto`), never the storage engine or the HTTP server.

pub mod fast;
pub mod fuzzing;
pub mod ops;

use std::sync::LazyLock;

pub(crate) use rheo_proto::{decode_request, encode_response, Model, Node, Operation, Protocol};

/// The SigV4 signing name requests to Kinesis carry in their credential scope.
pub const SIGNING_NAME: &str = "kinesis";

/// The vendored botocore model, compiled in so the binary needs no files at run time.
const MODEL_JSON: &str = include_str!("../../../models/kinesis-2013-12-02.json");

static MODEL: LazyLock<Model> = LazyLock::new(|| match Model::from_json(MODEL_JSON) {
    Ok(model) => model,
    Err(err) => {
        // The file is compiled in and covered by a unit test, so this is unreachable in a tested
        // build; an empty model makes every target unknown instead of aborting the server.
        tracing::error!(error = %err, "vendored Kinesis model failed to parse");
        Model::default()
    }
});

/// The Kinesis 2013-12-02 model, parsed once.
pub fn model() -> &'static Model {
    &MODEL
}

#[cfg(test)]
mod tests {
    #[test]
    fn vendored_model_loads_with_its_service_names() {
        let m = super::model();
        assert_eq!(m.target_prefix, "Kinesis_20131202");
        assert_eq!(m.signing_name, super::SIGNING_NAME);
        assert!(m.operation("PutRecords").is_some());
    }
}
