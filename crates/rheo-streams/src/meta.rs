//! Stream and shard metadata: what the catalog persists, one JSON document per stream.
//!
//! The document is versioned (`v`) so later formats can still read it. Everything needed to
//! serve a stream after a restart is here: its shards with their logs, hash ranges and lineage,
//! its tags, resource policy, retention, mode, and any status transition still pending.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hash::HashRange;

pub const META_VERSION: u32 = 1;

fn first_version() -> u32 {
    1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamStatus {
    #[serde(rename = "CREATING")]
    Creating,
    #[serde(rename = "DELETING")]
    Deleting,
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "UPDATING")]
    Updating,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Creating => "CREATING",
            StreamStatus::Deleting => "DELETING",
            StreamStatus::Active => "ACTIVE",
            StreamStatus::Updating => "UPDATING",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamMode {
    #[serde(rename = "PROVISIONED")]
    Provisioned,
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

impl StreamMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PROVISIONED" => Some(StreamMode::Provisioned),
            "ON_DEMAND" => Some(StreamMode::OnDemand),
            _ => None,
        }
    }
}

/// How records are placed on shards (the model's `RecordDistributionStrategy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordDistribution {
    /// By the hash of the partition key, or the explicit hash key (AWS's default).
    #[default]
    #[serde(rename = "USER_PARTITION_KEY")]
    UserPartitionKey,
    /// Evenly across the open shards, whatever the keys (on-demand streams only).
    #[serde(rename = "AUTO")]
    Auto,
}

impl RecordDistribution {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordDistribution::UserPartitionKey => "USER_PARTITION_KEY",
            RecordDistribution::Auto => "AUTO",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "USER_PARTITION_KEY" => Some(RecordDistribution::UserPartitionKey),
            "AUTO" => Some(RecordDistribution::Auto),
            _ => None,
        }
    }
    fn is_default(&self) -> bool {
        *self == RecordDistribution::UserPartitionKey
    }
}

/// A status transition that completes when its time comes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pending {
    /// CREATING -> ACTIVE.
    Activate,
    /// DELETING -> gone.
    Delete,
    /// UPDATING -> ACTIVE, replacing `close` shards by `open` ones.
    Reshard(Reshard),
    /// UPDATING -> ACTIVE with the new capacity mode.
    Mode(StreamMode),
    /// UPDATING -> ACTIVE at the new warm throughput (MiB/s) of an on-demand stream.
    WarmThroughput(u32),
    /// UPDATING -> ACTIVE with nothing else to apply (Start/StopStreamEncryption, whose change
    /// took effect when requested).
    Update,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reshard {
    pub close: Vec<u64>,
    pub open: Vec<NewShard>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewShard {
    /// Allocated when the change is requested, so applying it needs no I/O.
    pub log: u64,
    pub range: HashRange,
    pub parent: Option<u64>,
    pub adjacent_parent: Option<u64>,
    /// The shard index, when the plan names it (UpdateShardCount: its intermediate shards are
    /// parents of later ones); otherwise the next free index in plan order.
    #[serde(default)]
    pub index: Option<u64>,
    /// An intermediate shard of UpdateShardCount: created and closed in the same change.
    #[serde(default)]
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMeta {
    pub index: u64,
    /// The storage log holding this shard's records. Never reused.
    pub log: u64,
    pub range: HashRange,
    pub parent: Option<u64>,
    pub adjacent_parent: Option<u64>,
    pub created_ms: i64,
    /// When resharding closed it; a closed shard takes no writes but stays readable.
    pub closed_ms: Option<i64>,
    /// Child shard indexes, filled when the shard is closed.
    #[serde(default)]
    pub children: Vec<u64>,
}

impl ShardMeta {
    pub fn is_open(&self) -> bool {
        self.closed_ms.is_none()
    }
}

pub fn shard_id(index: u64) -> String {
    format!("shardId-{index:012}")
}

/// Parses `shardId-000000000007` (AWS also accepts a bare suffix after the last '-').
pub fn parse_shard_id(id: &str) -> Option<u64> {
    let digits = id.rsplit('-').next()?;
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamMeta {
    /// Checked on read (`catalog::decode`): a document of another version is isolated, never rewritten. Absent
    /// reads as 1, the only version ever written without being checked.
    #[serde(default = "first_version")]
    pub v: u32,
    pub name: String,
    pub region: String,
    /// The owning account when it is not the server's configured one (`--account-id`):
    /// streams are namespaced by account and region, so two accounts may each have a stream of
    /// one name. Absent for the configured account, so those documents keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub created_ms: i64,
    pub status: StreamStatus,
    pub pending: Option<Pending>,
    /// When `pending` completes.
    pub due_ms: i64,
    pub retention_hours: u32,
    pub mode: StreamMode,
    pub shards: Vec<ShardMeta>,
    pub tags: BTreeMap<String, String>,
    /// KMS key id when server-side encryption is on.
    pub encryption_key: Option<String>,
    pub enhanced_metrics: Vec<String>,
    pub max_record_size_kib: u32,
    pub warm_throughput_mibps: Option<u32>,
    /// The resource-based policy attached to the stream (PutResourcePolicy), as its JSON text.
    /// Absent in documents written before policies existed, and left out when none is set, so
    /// those documents keep their bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Enhanced fan-out consumers, in registration order. Left out of the document while there
    /// are none, so streams without consumers keep the exact bytes older builds wrote and read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<ConsumerMeta>,
    /// Left out at the default, so streams that never changed it keep the bytes older builds
    /// wrote and read.
    #[serde(default, skip_serializing_if = "RecordDistribution::is_default")]
    pub record_distribution: RecordDistribution,
    /// When UpdateStreamMode switched the mode within the last 24 hours (older times are
    /// dropped at the next switch), for AWS's limit on switches a day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mode_switches_ms: Vec<i64>,
    /// When UpdateShardCount rescaled the stream within the last 24 hours (at most the newest
    /// ten are kept), for AWS's limit of ten scalings a day; left out when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scalings_ms: Vec<i64>,
    /// The wrapped data key of every encryption epoch the stream ever had, in epoch order
    /// (`seal.rs`): records sealed in an epoch need its key as long as they are retained.
    /// Left out while the stream was never encrypted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_keys: Vec<DataKeyMeta>,
}

/// One encryption epoch's data key, as the KMS wrapped it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataKeyMeta {
    pub epoch: u32,
    /// The KMS key that wrapped it (checked usable before its records are served).
    pub key_arn: String,
    /// The wrapped key, base64.
    pub wrapped: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsumerStatus {
    #[serde(rename = "CREATING")]
    Creating,
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "DELETING")]
    Deleting,
}

impl ConsumerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Creating => "CREATING",
            ConsumerStatus::Active => "ACTIVE",
            ConsumerStatus::Deleting => "DELETING",
        }
    }
}

/// A registered enhanced fan-out consumer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMeta {
    pub name: String,
    /// Registration time; its whole seconds end the consumer's ARN, so a consumer registered
    /// again under the same name has another ARN.
    pub created_ms: i64,
    pub status: ConsumerStatus,
    /// When CREATING becomes ACTIVE, or a DELETING consumer is gone.
    pub due_ms: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Its resource-based policy (PutResourcePolicy on the consumer's ARN), as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl ConsumerMeta {
    pub fn created_secs(&self) -> i64 {
        self.created_ms.div_euclid(1000)
    }
}

impl StreamMeta {
    pub fn shard(&self, index: u64) -> Option<&ShardMeta> {
        // Shards are stored in index order with no gaps, but search defensively.
        self.shards
            .get(index as usize)
            .filter(|s| s.index == index)
            .or_else(|| self.shards.iter().find(|s| s.index == index))
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &ShardMeta> {
        self.shards.iter().filter(|s| s.is_open())
    }

    /// The index the next new shard gets: above every shard the stream ever had.
    pub fn next_shard_index(&self) -> u64 {
        self.shards.iter().map(|s| s.index + 1).max().unwrap_or(0)
    }

    pub fn open_shard_count(&self) -> usize {
        self.open_shards().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ids_round_trip() {
        assert_eq!(shard_id(7), "shardId-000000000007");
        assert_eq!(parse_shard_id("shardId-000000000007"), Some(7));
        assert_eq!(parse_shard_id("7"), Some(7));
        assert_eq!(parse_shard_id("shardId-"), None);
        assert_eq!(parse_shard_id("shardId-x"), None);
    }
}
