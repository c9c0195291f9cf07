//! The KMS binding: the operations of the vendored `kms-2014-11-01` model (JSON 1.1,
//! `X-Amz-Target: TrentService.<Operation>`), run against the `rheo-kms` domain.
//!
//! [`ops`] decodes and validates a request against the model, shows it to the middleware
//! chain, runs it and encodes the answer; every domain error is mapped to `__type` and status
//! in one match ([`ops::error_parts`]). Operations of the model this server does not run are
//! validated, then answered `UnknownOperationException` naming them, as the Kinesis binding
//! does.
//!
//! **Architecture invariant:** knows its domain (`rheo-kms`) and the protocol (`rheo-proto`),
//! never the storage engine or the HTTP server.

mod operation;
pub mod ops;

use std::sync::LazyLock;

pub use operation::Operation;
use rheo_proto::{Model, WireError};

/// The `X-Amz-Target` prefix of KMS requests (the model's `targetPrefix`; a unit test checks
/// they agree).
pub const TARGET_PREFIX: &str = "TrentService";

/// The SigV4 signing name of KMS requests.
pub const SIGNING_NAME: &str = "kms";

const MODEL_JSON: &str = include_str!("../../../models/kms-2014-11-01.json");

static MODEL: rheo_proto::VendoredModel = rheo_proto::VendoredModel::new("KMS", MODEL_JSON);

/// The KMS model, parsed once.
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

/// Resolves `X-Amz-Target` (`TrentService.Encrypt`) to an operation id; anything else is
/// `UnknownOperationException`, as AWS answers.
pub fn resolve(target: Option<&str>) -> Result<Operation, WireError> {
    MODEL.resolve(target, Operation::from_name)
}

/// CloudTrail's class of a KMS call: every one is a management event; the ones that change no
/// key (Describe*, List*, Get*, and the cryptographic operations, which only use a key:
/// Encrypt, Decrypt, ReEncrypt, Generate*, Sign, Verify*) are read-only, as CloudTrail marks them.
pub fn event_kind(op: Operation) -> rheo_http::middleware::EventKind {
    let name = op.name();
    let read_only = [
        "Describe",
        "List",
        "Get",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "Generate",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
    ]
    .iter()
    .any(|p| name.starts_with(p));
    rheo_http::middleware::EventKind {
        read_only,
        data: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_are_write_events_and_key_uses_read_only() {
        for (name, read_only) in [
            ("CreateKey", false),
            ("DisableKey", false),
            ("ScheduleKeyDeletion", false),
            ("CreateAlias", false),
            ("DescribeKey", true),
            ("ListAliases", true),
            ("Encrypt", true),
            ("GenerateDataKey", true),
        ] {
            let op = Operation::from_name(name);
            let kind = op.map(event_kind);
            assert_eq!(kind.map(|k| k.read_only), Some(read_only), "{name}");
            assert_eq!(kind.map(|k| k.data), Some(false), "{name}");
        }
    }

    #[test]
    fn vendored_model_loads_with_its_service_names() {
        let m = model();
        assert_eq!(m.target_prefix, TARGET_PREFIX);
        assert_eq!(m.signing_name, SIGNING_NAME);
        for op in Operation::ALL {
            assert_eq!(shape(op).map(|s| s.name.as_str()), Some(op.name()));
        }
    }

    #[test]
    fn targets_resolve_case_sensitively() {
        assert_eq!(
            resolve(Some("TrentService.Encrypt")).ok(),
            Some(Operation::Encrypt)
        );
        assert!(resolve(Some("TrentService.encrypt")).is_err());
        assert!(resolve(Some("Kinesis_20131202.Encrypt")).is_err());
        assert!(resolve(Some("TrentService.Nope")).is_err());
        assert!(resolve(None).is_err());
    }
}
