//! The operation table: `src/operation.rs` is generated from the vendored KMS model, and every
//! operation of it has a stated implementation state.
//!
//! `UPDATE_GENERATED=1 cargo test -p rheo-api-kms --test operations` rewrites the generated file
//! after the model changes; without it, a stale file fails the test.

#![allow(clippy::unwrap_used)]

use rheo_api_kms::ops::{self, OperationState};
use rheo_api_kms::Operation;
use rheo_proto::codegen::{check_generated, operation_table, TableSource};

const GENERATED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/operation.rs");

const SOURCE: TableSource<'static> = TableSource {
    crate_name: "rheo-api-kms",
    model_file: "kms-2014-11-01.json",
    service: "KMS",
    iam_prefix: "kms",
};

#[test]
fn generated_operation_ids_match_the_vendored_model() {
    let want = operation_table(rheo_api_kms::model(), &SOURCE);
    check_generated(GENERATED_PATH, &want, &SOURCE).unwrap();
    for op in Operation::ALL {
        assert_eq!(Operation::from_name(op.name()), Some(op));
        assert!(rheo_api_kms::model().operation(op.name()).is_some());
    }
    assert_eq!(
        Operation::ALL.len(),
        rheo_api_kms::model().operations().count()
    );
}

/// The operations this server runs; every other operation of the model is answered as not
/// implemented once its input validates.
const IMPLEMENTED: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DescribeKey",
    "DisableKey",
    "EnableKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ListAliases",
    "ListKeys",
    "ScheduleKeyDeletion",
    "UpdateAlias",
];

#[test]
fn every_operation_has_the_stated_state() {
    for op in Operation::ALL {
        let want = if IMPLEMENTED.contains(&op.name()) {
            OperationState::Implemented
        } else {
            OperationState::NotImplemented
        };
        assert_eq!(ops::state(op), want, "{}", op.name());
    }
}
