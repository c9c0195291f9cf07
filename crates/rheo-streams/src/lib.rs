//! The Kinesis Data Streams domain: streams, shards, hash ranges, sequence numbers, iterators
//! and shard lineage.
//!
//! Architecture invariant: this crate knows nothing of HTTP, JSON, CBOR or signatures. It takes
//! typed requests ([`types`]) and answers typed results or a [`KinesisError`] carrying AWS's
//! wording; the wire layer does the translating. It stores records and metadata only through
//! `rheo_log::Store`, so it knows nothing of files either.

pub mod account;
mod admin;
pub mod autoscale;
pub mod catalog;
pub mod clock;
mod consumers;
mod data;
pub mod error;
pub mod fuzzing;
pub mod hash;
pub mod iterator;
pub mod limits;
mod messages;
pub mod meta;
pub mod metrics;
mod policy;
mod repair;
mod reshard;
pub mod seal;
pub mod sequence;
mod service;
mod subscribe;
mod throttle;
mod token;
pub mod types;

pub use account::{Commitment, CommitmentStatus};
pub use admin::{list_shards_token_stream, SHARD_LEVEL_METRICS};
pub use autoscale::ScaleConfig;
pub use catalog::{check_catalog, DamagedMeta, MetaCheck};
pub use data::java_date;
pub use error::KinesisError;
pub use meta::{ConsumerStatus, RecordDistribution, StreamMode, StreamStatus};
pub use policy::PolicyCheck;
pub use repair::{repair_metadata, MetaRepair, RepairError, RepairOptions};
pub use seal::{DataKey, KeyError, KeyVault, PrepareFuture};
pub use service::{Config, Streams};
pub use subscribe::{ShardEvent, SubscribeToShard, Subscription};
pub use zeroize::Zeroizing;

#[cfg(test)]
mod encryption_tests;
#[cfg(test)]
mod tests;
