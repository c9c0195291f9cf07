//! Every limit of the Kinesis Data Streams domain, in one place, named with the unit last.
//!
//! Values are AWS's documented ones ("Quotas and limits" in the Kinesis Data Streams developer
//! guide, and the API reference of each operation); the model's length and range constraints
//! that rheo-proto checks are not repeated here, except where this crate or a binding's fast
//! path needs the number itself. A relation between two limits that the code relies on is
//! checked at compile time at the bottom.

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Longest stream name (API reference, `StreamName`: length 1 to 128, `[a-zA-Z0-9_.-]+`).
pub const STREAM_NAME_BYTES_MAX: usize = 128;

/// Longest partition key (API reference, `PartitionKey`: "maximum length of 256 characters for
/// each key", Unicode).
pub const PARTITION_KEY_CHARS_MAX: usize = 256;

/// Most decimal digits of an `ExplicitHashKey` (a value of `[0, 2^128 - 1]`; 2^128 - 1 has 39).
pub const EXPLICIT_HASH_KEY_DIGITS_MAX: usize = 39;

/// A stream's record size limit when CreateStream names none (quotas: "The maximum size of
/// the data payload of a record before base64-encoding is up to 1 MiB").
pub const RECORD_SIZE_KIB_DEFAULT: u32 = 1024;

/// Largest record size limit a stream may be given (`MaxRecordSizeInKiB`: 1024 to 10240).
pub const RECORD_SIZE_KIB_MAX: u32 = 10_240;

/// The largest record (data and partition key) any stream may accept: 10 MiB.
pub const RECORD_DATA_BYTES_MAX: usize = RECORD_SIZE_KIB_MAX as usize * KIB;

/// Most records in one PutRecords (API reference: "Each PutRecords request can support up to
/// 500 records").
pub const PUT_RECORDS_COUNT_MAX: usize = 500;

/// Most data and partition-key bytes in one PutRecords to a stream of the default record size
/// (API reference before larger records: "up to a limit of 5 MiB for the entire request,
/// including partition keys").
pub const PUT_RECORDS_BYTES_MAX: usize = 5 * MIB;

/// Most data and partition-key bytes in one PutRecords to a stream whose record size was raised
/// above the default (API reference since UpdateMaxRecordSize: "Each record in the request can
/// be as large as 10 MiB, up to a limit of 10 MiB for the entire request").
pub const PUT_RECORDS_LARGE_BYTES_MAX: usize = 10 * MIB;

/// Most records one GetRecords returns (API reference, `Limit`: "The maximum value is 10,000").
pub const GET_RECORDS_LIMIT_MAX: u32 = 10_000;

/// Most bytes one GetRecords returns (API reference: "can return up to 10 MiB of data").
pub const GET_RECORDS_BYTES_MAX: usize = 10 * MIB;

/// Shortest retention period (quotas: "default ... 24 hours", also its minimum).
pub const RETENTION_HOURS_MIN: u32 = 24;

/// Longest retention period (quotas: "up to 8760 hours (365 days)").
pub const RETENTION_HOURS_MAX: u32 = 8760;

/// Largest resource policy document (PutResourcePolicy), in bytes of its JSON text: 20 KiB,
/// the size AWS allows resource-based policies of its other services (not stated for Kinesis
/// in the API reference).
pub const RESOURCE_POLICY_BYTES_MAX: usize = 20 * KIB;

/// Most tags on one stream (AddTagsToStream / CreateStream: "up to 50 tags").
pub const TAGS_PER_STREAM_MAX: usize = 50;
/// Registered enhanced fan-out consumers per stream (AWS's default quota).
pub const CONSUMERS_PER_STREAM_MAX: usize = 20;
/// Consumers of one stream in CREATING at once: AWS refuses a sixth registration while five are.
pub const CONSUMERS_CREATING_MAX: usize = 5;
/// ListStreamConsumers' MaxResults when absent, and the most it returns whatever is asked.
pub const LIST_CONSUMERS_RESULTS_DEFAULT: u32 = 100;
pub const LIST_CONSUMERS_RESULTS_MAX: u32 = 100;
/// Per-shard throughput (AWS's provisioned limits), enforced when `Config::throughput_limits`
/// is on: writes, partition keys counted, and shared reads (GetRecords).
pub const SHARD_WRITE_BYTES_PER_SEC: u64 = 1024 * 1024;
pub const SHARD_WRITE_RECORDS_PER_SEC: u64 = 1000;
pub const SHARD_READ_CALLS_PER_SEC: u64 = 5;
pub const SHARD_READ_BYTES_PER_SEC: u64 = 2 * 1024 * 1024;
/// What one SubscribeToShard subscription may be sent per second (AWS: 2 MiB/s per consumer
/// and shard, whatever the other consumers do).
pub const SUBSCRIPTION_BYTES_PER_SEC_MAX: u64 = 2 * 1024 * 1024;
/// Record bytes and records in one SubscribeToShardEvent, so that events stay well inside the
/// per-second budget and a slow client holds little.
pub const SUBSCRIPTION_EVENT_BYTES_MAX: usize = 1024 * 1024;
pub const SUBSCRIPTION_EVENT_RECORDS_MAX: u32 = 10_000;
/// A second SubscribeToShard for the same consumer and shard sooner than this after the first
/// is refused; later, it takes over.
pub const SUBSCRIPTION_TAKEOVER_MS: i64 = 5_000;
/// How long a subscription lasts (AWS: 5 minutes), unless `Config::subscription_ms` says less.
pub const SUBSCRIPTION_MS_DEFAULT: i64 = 300_000;

/// Shortest minimum throughput billing commitment (API reference,
/// `MinimumThroughputBillingCommitmentInput`: "Commitments have a minimum duration of 24
/// hours that must be honored before they can be disabled").
pub const COMMITMENT_MS_MIN: i64 = 24 * 3_600_000;

/// Highest warm throughput of an on-demand stream (UpdateStreamWarmThroughput: "By default,
/// you cannot ... Scale to more than 10 GiBps for an on-demand stream").
pub const WARM_THROUGHPUT_MIBPS_MAX: u32 = 10 * 1024;

/// Capacity-mode switches a stream may make in a rolling window (Kinesis developer guide,
/// "Update a stream": "you can switch between the on-demand and provisioned modes twice within
/// 24 hours").
pub const MODE_SWITCHES_PER_WINDOW_MAX: usize = 2;
pub const MODE_SWITCH_WINDOW_MS: i64 = 24 * 3_600_000;

/// UpdateShardCount scalings a stream may make in a rolling window (UpdateShardCount: "you
/// cannot ... Scale more than ten times per rolling 24-hour period per stream"), enforced with
/// the throughput limits.
pub const SCALINGS_PER_WINDOW_MAX: usize = 10;
pub const SCALING_WINDOW_MS: i64 = 24 * 3_600_000;

/// How long a shard iterator stays valid (GetShardIterator: "A shard iterator expires 5
/// minutes after it is returned to the requester").
pub const ITERATOR_AGE_MS_MAX: i64 = 5 * 60 * 1000;

/// How long a ListShards `NextToken` stays valid (ListShards: "Tokens expire after 300
/// seconds").
pub const NEXT_TOKEN_AGE_MS_MAX: i64 = 300 * 1000;

/// Shards of a new ON_DEMAND stream (AWS starts an on-demand stream at 4 MiB/s of write
/// capacity: four shards).
pub const ON_DEMAND_SHARD_COUNT: u32 = 4;

/// Most shards UpdateShardCount may target (UpdateShardCount: "You can't scale up to more
/// than 10000 shards in a stream").
pub const TARGET_SHARD_COUNT_MAX: u32 = 10_000;

/// Open shards per account and region by default (quotas: 500 in the largest regions, 200
/// elsewhere; kinesalite uses 10). Configurable.
pub const OPEN_SHARDS_PER_REGION_DEFAULT: u32 = 500;

/// ON_DEMAND streams per account and region (quotas: "50 on-demand ... data streams").
pub const ON_DEMAND_STREAMS_PER_REGION_MAX: u32 = 50;

/// Shards ListShards lists when `MaxResults` is absent (ListShards: "the default behavior is
/// for ListShards to list 1000 shards").
pub const LIST_SHARDS_RESULTS_DEFAULT: u32 = 1000;

/// Most shards ListShards lists (ListShards, `MaxResults`: maximum 10000).
pub const LIST_SHARDS_RESULTS_MAX: u32 = 10_000;

/// Shards DescribeStream and streams ListStreams list when `Limit` is absent (API reference:
/// "The default value is 100").
pub const LIST_LIMIT_DEFAULT: u32 = 100;

// A record of the largest allowed size must fit in one GetRecords answer, or a consumer of a
// stream with 10 MiB records could never pass one.
const _: () = assert!(GET_RECORDS_BYTES_MAX >= RECORD_DATA_BYTES_MAX);
// A single PutRecord of the largest record is not bound by PutRecords' request limit, but a
// PutRecords of one default-size record must fit it.
const _: () = assert!(PUT_RECORDS_BYTES_MAX >= RECORD_SIZE_KIB_DEFAULT as usize * KIB);
const _: () = assert!(RECORD_SIZE_KIB_MAX >= RECORD_SIZE_KIB_DEFAULT);
// A PutRecords of one record of the largest size must fit the larger request limit.
const _: () = assert!(PUT_RECORDS_LARGE_BYTES_MAX >= RECORD_DATA_BYTES_MAX);
const _: () = assert!(PUT_RECORDS_LARGE_BYTES_MAX >= PUT_RECORDS_BYTES_MAX);
// A partition key's length is encoded in 16 bits in a stored entry (4 bytes of UTF-8 a char).
const _: () = assert!(PARTITION_KEY_CHARS_MAX * 4 <= u16::MAX as usize);
const _: () = assert!(LIST_SHARDS_RESULTS_DEFAULT <= LIST_SHARDS_RESULTS_MAX);
const _: () = assert!(LIST_CONSUMERS_RESULTS_DEFAULT <= LIST_CONSUMERS_RESULTS_MAX);
const _: () = assert!(CONSUMERS_CREATING_MAX <= CONSUMERS_PER_STREAM_MAX);
const _: () = assert!(SUBSCRIPTION_EVENT_BYTES_MAX as u64 <= SUBSCRIPTION_BYTES_PER_SEC_MAX);
const _: () = assert!(RETENTION_HOURS_MIN < RETENTION_HOURS_MAX);
// With the default writer-queue bound, a PutRecords of the largest size (data and keys, plus a
// generous 64 bytes of stored framing per entry) and a PutRecord of the largest record are
// ordinary requests, admitted while others are queued, with room for several at once so group
// commit still batches.
const _: () = assert!(
    rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT as usize
        >= 4 * (PUT_RECORDS_LARGE_BYTES_MAX + PUT_RECORDS_COUNT_MAX * 64)
);
const _: () = assert!(
    rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT as usize >= 2 * (RECORD_DATA_BYTES_MAX + 64 + 4096)
);
