//! `rheo-kv`: versioned key-value tables with compare-and-set, kept in logs of the storage
//! engine (`rheo-log`), so they share its journal, its group commit and its crash guarantees.
//!
//! A [`KvTable`] keeps one table in one log: every write is a record appended to the log and
//! acknowledged once durable; the table itself is an ordered in-memory map rebuilt at open by
//! replaying the log from its last complete snapshot. Snapshots bound the log. This is the
//! store for state renewed every few seconds by many writers (KCL lease tables) and for
//! metadata that needs compare-and-set; [`MetadataStore`] is the seam a cluster backend (etcd)
//! fills later. Layout, snapshot protocol and crash cases: `docs/design/kv-store.md`.
//!
//! This crate knows nothing of Kinesis, DynamoDB, HTTP or JSON.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod codec;
mod error;
mod meta;
mod table;

pub use error::KvError;
pub use meta::{BoxFuture, MetadataError, MetadataStore};
pub use table::{
    Expected, Item, KvConfig, KvStats, KvTable, Versioned, DEFAULT_SNAPSHOT_FACTOR,
    DEFAULT_SNAPSHOT_MIN_BYTES,
};

/// Largest key (DynamoDB's partition plus sort key bound is 2 KiB + 1 KiB; one bound for both).
pub const KEY_BYTES_MAX: usize = 2048;
/// Largest value (DynamoDB's item size bound, 400 KB).
pub const VALUE_BYTES_MAX: usize = 400 * 1024;
