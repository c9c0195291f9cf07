//! The Kinesis Data Streams domain: streams, shards, hash ranges, sequence numbers, iterators
//! and shard lineage.
//!
//! Architecture invariant: this crate knows nothing of HTTP, JSON, CBOR or signatures. It takes
//! typed requests ([`types`]) and answers typed results or a [`KinesisError`] carrying AWS's
//! wording; the wire layer does the translating. It stores records and metadata only through
//! `rheo_log::Store`, so it knows nothing of files either.

mod admin;
pub mod catalog;
pub mod clock;
mod data;
pub mod error;
pub mod fuzzing;
pub mod hash;
pub mod iterator;
mod messages;
pub mod meta;
mod reshard;
pub mod sequence;
mod service;
pub mod types;

pub use admin::{
    DEFAULT_MAX_RECORD_SIZE_KIB, NEXT_TOKEN_TTL_MS, ON_DEMAND_SHARDS, RETENTION_HOURS_MAX,
    RETENTION_HOURS_MIN, SHARD_LEVEL_METRICS, TAGS_PER_STREAM_MAX,
};
pub use catalog::{check_catalog, DamagedMeta, MetaCheck};
pub use data::{java_date, GET_RECORDS_BYTES_MAX, GET_RECORDS_LIMIT_MAX, PUT_RECORDS_BYTES_MAX};
pub use error::KinesisError;
pub use meta::{StreamMode, StreamStatus};
pub use service::{Config, Streams};

#[cfg(test)]
mod tests;
