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

pub mod audit;
pub mod fast;
pub mod faults;
pub mod fuzzing;
mod operation;
pub mod ops;
pub mod subscribe;

/// The JSON body of the largest valid requests, so that the server's default body limit is
/// known, at compile time, to admit them.
pub mod request_size {
    use rheo_http::limits::BODY_BYTES_MAX_DEFAULT;
    use rheo_streams::limits::{
        EXPLICIT_HASH_KEY_DIGITS_MAX, PARTITION_KEY_CHARS_MAX, PUT_RECORDS_COUNT_MAX,
        PUT_RECORDS_LARGE_BYTES_MAX, RECORD_DATA_BYTES_MAX,
    };

    /// Base64 of `n` bytes, padded.
    pub const fn base64_bytes(n: usize) -> usize {
        n.div_ceil(3) * 4
    }

    /// Worst case JSON of a partition key: each character escaped as a surrogate pair
    /// (`\uXXXX\uXXXX`, 12 bytes).
    const PARTITION_KEY_JSON_BYTES_MAX: usize = PARTITION_KEY_CHARS_MAX * 12;

    /// One record's JSON besides its data: field names, quotes, separators, the escaped key
    /// and an explicit hash key.
    pub const RECORD_JSON_OVERHEAD_BYTES_MAX: usize =
        64 + PARTITION_KEY_JSON_BYTES_MAX + EXPLICIT_HASH_KEY_DIGITS_MAX;

    /// The request besides its records: `StreamName` or a `StreamARN` (at most 2,048
    /// characters in the model), field names and braces.
    pub const REQUEST_JSON_OVERHEAD_BYTES_MAX: usize = 4096;

    /// Largest valid PutRecords body: 10 MiB of data (a stream with raised record size; keys
    /// counted as data, a conservative over-estimate) in base64, plus each record's JSON.
    pub const PUT_RECORDS_BODY_BYTES_MAX: usize = base64_bytes(PUT_RECORDS_LARGE_BYTES_MAX)
        + PUT_RECORDS_COUNT_MAX * RECORD_JSON_OVERHEAD_BYTES_MAX
        + REQUEST_JSON_OVERHEAD_BYTES_MAX;

    /// Largest valid PutRecord body: one record of the largest size a stream may allow.
    pub const PUT_RECORD_BODY_BYTES_MAX: usize = base64_bytes(RECORD_DATA_BYTES_MAX)
        + RECORD_JSON_OVERHEAD_BYTES_MAX
        + REQUEST_JSON_OVERHEAD_BYTES_MAX;

    const _: () = assert!(BODY_BYTES_MAX_DEFAULT >= PUT_RECORDS_BODY_BYTES_MAX);
    const _: () = assert!(BODY_BYTES_MAX_DEFAULT >= PUT_RECORD_BODY_BYTES_MAX);
}

use std::sync::LazyLock;

pub use operation::Operation;
use rheo_proto::WireError;
pub(crate) use rheo_proto::{decode_request, encode_response, Model, Node, Protocol};

/// The `X-Amz-Target` prefix of Kinesis requests (the model's `targetPrefix`; a unit test
/// checks they agree), for routing before the model is consulted.
pub const TARGET_PREFIX: &str = "Kinesis_20131202";

/// The SigV4 signing name requests to Kinesis carry in their credential scope.
pub const SIGNING_NAME: &str = "kinesis";

/// The vendored botocore model, compiled in so the binary needs no files at run time.
const MODEL_JSON: &str = include_str!("../../../models/kinesis-2013-12-02.json");

static MODEL: rheo_proto::VendoredModel = rheo_proto::VendoredModel::new("Kinesis", MODEL_JSON);

/// The Kinesis model, parsed once.
pub fn model() -> &'static Model {
    MODEL.model()
}

/// Each [`Operation`]'s definition in the model and whether it answers an empty body.
static INDEX: LazyLock<rheo_proto::OperationIndex> = LazyLock::new(|| {
    rheo_proto::OperationIndex::new(model(), Operation::ALL.iter().map(|op| op.name()))
});

/// The model's definition of `op` (its input and output shapes). `None` only if the generated
/// ids and the model disagree, which `tests/operations.rs` rules out.
pub fn shape(op: Operation) -> Option<&'static rheo_proto::Operation> {
    INDEX.shape(op as usize)
}

/// Whether `op`'s answer has no members in the model, so its success body is empty (AWS sends
/// `Content-Length: 0`, not `{}`).
pub fn has_empty_output(op: Operation) -> bool {
    INDEX.has_empty_output(op as usize)
}

/// Resolves `X-Amz-Target` (`Kinesis_20131202.PutRecord`) to an operation id.
///
/// Missing header, wrong service prefix or an operation the model does not have all give
/// `UnknownOperationException` (400, no message), as AWS does. Matching is case-sensitive.
pub fn resolve(target: Option<&str>) -> Result<Operation, WireError> {
    MODEL.resolve(target, Operation::from_name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn vendored_model_loads_with_its_service_names() {
        let m = super::model();
        assert_eq!(m.target_prefix, super::TARGET_PREFIX);
        assert_eq!(m.signing_name, super::SIGNING_NAME);
        assert!(m.operation("PutRecords").is_some());
    }

    #[test]
    fn targets_resolve_to_ids_case_sensitively() {
        use super::{resolve, shape, Operation};
        assert_eq!(
            resolve(Some("Kinesis_20131202.PutRecords")).ok(),
            Some(Operation::PutRecords)
        );
        assert!(resolve(Some("Kinesis_20131202.putrecords")).is_err());
        assert!(resolve(Some("DynamoDB_20120810.PutRecords")).is_err());
        assert!(resolve(Some("Kinesis_20131202.NoSuchOperation")).is_err());
        assert!(resolve(Some("PutRecords")).is_err());
        assert!(resolve(None).is_err());
        for op in Operation::ALL {
            assert_eq!(shape(op).map(|s| s.name.as_str()), Some(op.name()));
        }
    }

    #[test]
    fn empty_outputs_come_from_the_model() {
        use super::{has_empty_output, Operation};
        for op in [
            Operation::CreateStream,
            Operation::DeleteStream,
            Operation::AddTagsToStream,
            Operation::MergeShards,
            Operation::SplitShard,
            Operation::IncreaseStreamRetentionPeriod,
            Operation::StartStreamEncryption,
        ] {
            assert!(has_empty_output(op), "{op:?}");
        }
        for op in [
            Operation::PutRecord,
            Operation::DescribeLimits,
            Operation::UpdateShardCount,
            Operation::ListTagsForResource,
        ] {
            assert!(!has_empty_output(op), "{op:?}");
        }
    }
}
