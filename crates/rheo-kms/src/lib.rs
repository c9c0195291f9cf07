//! `rheo-kms`: a local AWS KMS domain, the key service Kinesis (and later Firehose) encryption
//! at rest uses.
//!
//! Keys live per account and region: a UUID key id, an ARN
//! `arn:aws:kms:<region>:<account>:key/<id>`, a state (Enabled, Disabled, PendingDeletion),
//! and 32 bytes of key material that never leave the process unwrapped. Aliases (`alias/...`)
//! name keys; `alias/aws/<service>` names are reserved for AWS-managed keys, created on first
//! use as AWS does (`alias/aws/kinesis`). Everything is durable in one `rheo-kv` table (log
//! [`KMS_LOG`] of the store), the material sealed by the [`MasterKey`] (AES-256-GCM).
//! Ciphertext blobs name their key and authenticate the encryption context ([`blob`]).
//!
//! The binding (`rheo-api-kms`) calls the request methods of [`Kms`]; encryption at rest calls
//! the in-process ones ([`Kms::generate_data_key_for`], [`Kms::decrypt_data_key`],
//! [`Kms::key_usable`]: synchronous, in-memory) after [`Kms::ensure_key`] (async: it may
//! create the AWS-managed key, a durable write).
//!
//! **Architecture invariant:** no wire format, no HTTP; every error is a [`KmsError`] with
//! AWS KMS's message text.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod blob;
mod error;
pub mod master;
mod service;
#[cfg(test)]
mod tests;

pub use blob::EncryptionContext;
pub use error::KmsError;
pub use master::{MasterKey, MasterKeyError};
pub use service::{
    AliasInfo, Clock, CreateKey, DataKey, KeyInfo, KeyManager, KeyState, Kms, OpenError, Page,
    Scope, SystemClock, KMS_LOG,
};
