//! Requests and results of the domain operations, in domain terms (no wire encoding).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::hash::HashRange;
pub use crate::meta::RecordDistribution;
use crate::meta::{StreamMode, StreamStatus};
use crate::sequence::SequenceNumber;

/// Who is asking: the region of the request (from its signature) and the account it acts in
/// scope every stream name and ARN. The binding fills it per request from the request context;
/// the account defaults to the configured one ([`Streams::default_account`](crate::Streams::default_account)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ctx {
    pub region: String,
    /// Shared, not owned: filling a context per request must not allocate.
    pub account: std::sync::Arc<str>,
    /// Another account whose resource policy the security layer found granting this request
    /// (AWS's cross-account access). Only then does an ARN of that account resolve in it, and
    /// only for the operations AWS lets a resource policy share; otherwise an ARN of another
    /// account names no stream. `None` when nothing was granted, and always without policies
    /// enforced (`--auth permissive`): no identity, no grant.
    pub granted_account: Option<std::sync::Arc<str>>,
}

impl Ctx {
    pub fn new(region: impl Into<String>, account: std::sync::Arc<str>) -> Ctx {
        Ctx {
            region: region.into(),
            account,
            granted_account: None,
        }
    }

    /// A context in `region` and the default account of [`Config`](crate::Config), for tests
    /// and tools.
    pub fn in_region(region: impl Into<String>) -> Ctx {
        Ctx::new(region, crate::service::DEFAULT_ACCOUNT_ID.into())
    }

    /// This context, with `account`'s resource policy found granting the request.
    pub fn granted_by(&self, account: std::sync::Arc<str>) -> Ctx {
        Ctx {
            granted_account: Some(account),
            ..self.clone()
        }
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// The context a request acts in on a resource of `owner` (`None`: its own account): its
    /// own, or the owner's when the owner's resource policy granted the request, so that
    /// everything the call touches and answers (ARNs, messages, keys, metrics) is the owner's.
    /// `None` for another account that granted nothing.
    pub(crate) fn acting_in(&self, owner: Option<&str>) -> Option<std::borrow::Cow<'_, Ctx>> {
        let Some(owner) = owner.filter(|o| *o != self.account()) else {
            return Some(std::borrow::Cow::Borrowed(self));
        };
        let granted = self.granted_account.as_ref().filter(|g| &***g == owner)?;
        Some(std::borrow::Cow::Owned(Ctx {
            region: self.region.clone(),
            account: granted.clone(),
            granted_account: None,
        }))
    }
}

/// A stream named by `StreamName` or by `StreamARN` (at least one, as the model allows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamTarget {
    pub name: Option<String>,
    pub arn: Option<String>,
}

impl StreamTarget {
    pub fn name(name: impl Into<String>) -> Self {
        StreamTarget {
            name: Some(name.into()),
            arn: None,
        }
    }

    pub fn arn(arn: impl Into<String>) -> Self {
        StreamTarget {
            name: None,
            arn: Some(arn.into()),
        }
    }
}

/// RegisterStreamConsumer.
#[derive(Clone, Debug, Default)]
pub struct RegisterConsumer {
    pub stream_arn: String,
    pub consumer_name: String,
    pub tags: BTreeMap<String, String>,
}

/// A consumer named by its ARN, or by its stream's ARN and its name.
#[derive(Clone, Debug, Default)]
pub struct ConsumerTarget {
    pub consumer_arn: Option<String>,
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
}

impl ConsumerTarget {
    pub fn arn(arn: impl Into<String>) -> Self {
        ConsumerTarget {
            consumer_arn: Some(arn.into()),
            ..Default::default()
        }
    }

    pub fn named(stream_arn: impl Into<String>, name: impl Into<String>) -> Self {
        ConsumerTarget {
            consumer_arn: None,
            stream_arn: Some(stream_arn.into()),
            consumer_name: Some(name.into()),
        }
    }
}

/// A consumer as Register/Describe/ListStreamConsumers answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerInfo {
    pub name: String,
    pub arn: String,
    pub status: crate::meta::ConsumerStatus,
    pub created_ms: i64,
    pub stream_arn: String,
}

#[derive(Clone, Debug, Default)]
pub struct ListConsumers {
    pub stream_arn: String,
    pub next_token: Option<String>,
    pub max_results: Option<u32>,
    pub stream_creation_ms: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct ListConsumersOutput {
    pub consumers: Vec<ConsumerInfo>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct CreateStream {
    pub name: String,
    pub shard_count: Option<u32>,
    pub mode: Option<StreamMode>,
    pub tags: BTreeMap<String, String>,
    pub warm_throughput_mibps: Option<u32>,
    pub max_record_size_kib: Option<u32>,
    pub record_distribution: Option<RecordDistribution>,
}

impl CreateStream {
    /// A provisioned stream of `shards` shards and nothing else set (what most callers and tests want).
    pub fn provisioned(name: impl Into<String>, shards: u32) -> CreateStream {
        CreateStream {
            name: name.into(),
            shard_count: Some(shards),
            ..CreateStream::default()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    pub range: HashRange,
    pub starting_sequence_number: String,
    pub ending_sequence_number: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StreamDescription {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub mode: StreamMode,
    pub shards: Vec<ShardInfo>,
    pub has_more_shards: bool,
    pub retention_hours: u32,
    pub created_ms: i64,
    pub enhanced_metrics: Vec<String>,
    pub encryption_key: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StreamSummary {
    pub name: String,
    pub arn: String,
    pub status: StreamStatus,
    pub mode: StreamMode,
    pub retention_hours: u32,
    pub created_ms: i64,
    pub enhanced_metrics: Vec<String>,
    pub encryption_key: Option<String>,
    pub open_shard_count: u32,
    pub consumer_count: u32,
    pub max_record_size_kib: u32,
    /// `(target, current)` MiB/s of an on-demand stream's warm throughput, when one is set.
    pub warm_throughput: Option<WarmThroughput>,
    pub record_distribution: RecordDistribution,
}

/// The model's `WarmThroughputObject`: the target, and what the stream is scaled to now
/// (absent while a first target is being reached).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarmThroughput {
    pub target_mibps: u32,
    pub current_mibps: Option<u32>,
}

/// What UpdateStreamWarmThroughput answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarmThroughputChange {
    pub name: String,
    pub arn: String,
    pub warm_throughput: WarmThroughput,
}

#[derive(Clone, Debug, Default)]
pub struct ListStreams {
    pub limit: Option<u32>,
    pub exclusive_start_stream_name: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ListStreamsOutput {
    pub names: Vec<String>,
    pub summaries: Vec<(String, String, StreamStatus, StreamMode, i64)>,
    pub has_more: bool,
    pub next_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardFilterType {
    AfterShardId,
    AtTrimHorizon,
    FromTrimHorizon,
    AtLatest,
    AtTimestamp,
    FromTimestamp,
}

impl ShardFilterType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "AFTER_SHARD_ID" => Self::AfterShardId,
            "AT_TRIM_HORIZON" => Self::AtTrimHorizon,
            "FROM_TRIM_HORIZON" => Self::FromTrimHorizon,
            "AT_LATEST" => Self::AtLatest,
            "AT_TIMESTAMP" => Self::AtTimestamp,
            "FROM_TIMESTAMP" => Self::FromTimestamp,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct ShardFilter {
    pub kind: ShardFilterType,
    pub shard_id: Option<String>,
    pub timestamp_ms: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct ListShards {
    pub target: StreamTarget,
    pub next_token: Option<String>,
    pub exclusive_start_shard_id: Option<String>,
    pub max_results: Option<u32>,
    pub stream_creation_ms: Option<i64>,
    pub filter: Option<ShardFilter>,
}

#[derive(Clone, Debug)]
pub struct ListShardsOutput {
    pub shards: Vec<ShardInfo>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug)]
pub struct PutEntry {
    pub data: Bytes,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
}

impl PutEntry {
    pub fn as_record(&self) -> PutRecordRef<'_> {
        PutRecordRef {
            data: &self.data,
            partition_key: &self.partition_key,
            explicit_hash_key: self.explicit_hash_key.as_deref(),
        }
    }
}

/// A record to put, borrowing its parts from wherever the request was parsed (the wire layer's
/// fast path points straight into the request body and one decode buffer).
#[derive(Clone, Copy, Debug)]
pub struct PutRecordRef<'a> {
    pub data: &'a [u8],
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<&'a str>,
}

/// Where a put record landed. Kept as numbers: the answer of a 500-record PutRecords is
/// written straight from these, without a string per record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutResult {
    pub sequence: SequenceNumber,
    pub encrypted: bool,
}

impl PutResult {
    pub fn shard_index(&self) -> u64 {
        self.sequence.shard_index
    }

    /// `shardId-000000000003`.
    pub fn shard_id(&self) -> String {
        crate::meta::shard_id(self.sequence.shard_index)
    }

    /// The 56-digit decimal sequence number.
    pub fn sequence_number(&self) -> String {
        self.sequence.to_string()
    }
}

/// One entry of a PutRecords answer: a result or a per-record failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutRecordsEntry {
    Ok(PutResult),
    Failed { code: String, message: String },
}

#[derive(Clone, Debug)]
pub struct PutRecordsOutput {
    pub failed_count: u32,
    pub records: Vec<PutRecordsEntry>,
    pub encrypted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IteratorType {
    AtSequenceNumber,
    AfterSequenceNumber,
    TrimHorizon,
    Latest,
    AtTimestamp,
}

impl IteratorType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "AT_SEQUENCE_NUMBER" => Self::AtSequenceNumber,
            "AFTER_SEQUENCE_NUMBER" => Self::AfterSequenceNumber,
            "TRIM_HORIZON" => Self::TrimHorizon,
            "LATEST" => Self::Latest,
            "AT_TIMESTAMP" => Self::AtTimestamp,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AtSequenceNumber => "AT_SEQUENCE_NUMBER",
            Self::AfterSequenceNumber => "AFTER_SEQUENCE_NUMBER",
            Self::TrimHorizon => "TRIM_HORIZON",
            Self::Latest => "LATEST",
            Self::AtTimestamp => "AT_TIMESTAMP",
        }
    }
}

#[derive(Clone, Debug)]
pub struct GetShardIterator {
    pub target: StreamTarget,
    pub shard_id: String,
    pub kind: IteratorType,
    pub starting_sequence_number: Option<String>,
    pub timestamp_ms: Option<i64>,
}

impl GetShardIterator {
    /// A TRIM_HORIZON iterator request for one shard.
    pub fn trim_horizon(target: StreamTarget, shard_id: impl Into<String>) -> GetShardIterator {
        GetShardIterator {
            target,
            shard_id: shard_id.into(),
            kind: IteratorType::TrimHorizon,
            starting_sequence_number: None,
            timestamp_ms: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub sequence_number: String,
    pub arrival_ms: i64,
    pub data: Bytes,
    pub partition_key: String,
    /// The record was sealed at rest: its EncryptionType is KMS. Per record, not per stream:
    /// records written before StartStreamEncryption or after StopStreamEncryption are plain.
    pub encrypted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
    pub range: HashRange,
}

#[derive(Clone, Debug)]
pub struct GetRecordsOutput {
    pub records: Vec<Record>,
    pub next_shard_iterator: Option<String>,
    pub millis_behind_latest: i64,
    pub child_shards: Option<Vec<ChildShard>>,
    pub encrypted: bool,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub shard_limit: u32,
    pub open_shard_count: u32,
    pub on_demand_stream_count: u32,
    pub on_demand_stream_count_limit: u32,
}

#[derive(Clone, Debug)]
pub struct TagList {
    pub tags: Vec<(String, String)>,
    pub has_more: bool,
}

#[derive(Clone, Debug)]
pub struct ShardCountChange {
    pub name: String,
    pub arn: String,
    pub current: u32,
    pub target: u32,
}
