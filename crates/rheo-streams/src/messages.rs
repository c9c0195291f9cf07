//! AWS's wording for domain errors, in one place so it can be checked against AWS.

use crate::error::KinesisError;

pub(crate) fn stream_not_found(name: &str, account: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!("Stream {name} under account {account} not found."))
}

pub(crate) fn stream_exists(name: &str, account: &str) -> KinesisError {
    KinesisError::ResourceInUse(format!(
        "Stream {name} under account {account} already exists."
    ))
}

/// A stream whose metadata failed its checks at open: refused, not reported missing, so that nobody recreates it
/// over the damaged entry.
pub(crate) fn stream_damaged(name: &str, account: &str, reason: &str) -> KinesisError {
    KinesisError::ResourceInUse(format!(
        "Stream {name} under account {account} is unavailable: its metadata is damaged ({reason}); run rheo fsck."
    ))
}

pub(crate) fn stream_not_active(name: &str, account: &str, status: &str) -> KinesisError {
    KinesisError::ResourceInUse(format!(
        "Stream {name} under account {account} not ACTIVE, instead in state {status}"
    ))
}

pub(crate) fn shard_not_found(shard: &str, name: &str, account: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!(
        "Shard {shard} in stream {name} under account {account} does not exist"
    ))
}

pub(crate) fn could_not_find_shard(raw: &str, name: &str, account: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!(
        "Could not find shard {raw} in stream {name} under account {account}."
    ))
}

pub(crate) fn shard_limit(
    account: &str,
    region: &str,
    current: u64,
    limit: u32,
    additional: u64,
) -> KinesisError {
    KinesisError::LimitExceeded(format!(
        "This request would exceed the shard limit for the account {account} in {region}. \
         Current shard count for the account: {current}. Limit: {limit}. Number of additional \
         shards that would have resulted from this request: {additional}. Refer to the AWS \
         Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) \
         for current limits and how to request higher limits."
    ))
}

pub(crate) fn invalid_shard_iterator() -> KinesisError {
    KinesisError::InvalidArgument("Invalid ShardIterator.".into())
}

/// AT_TIMESTAMP later than the server's clock (seen in AWS answers, e.g. `timestampInMillis:
/// 1610448760259000, currentTimestampInMillis: 1610448760774`).
pub(crate) fn future_timestamp(timestamp_ms: i64, now_ms: i64) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. \
         timestampInMillis: {timestamp_ms}, currentTimestampInMillis: {now_ms}"
    ))
}

/// An operation AWS allows on provisioned streams only, called on an on-demand one: the model's
/// ValidationException ("you tried to invoke this API for a data stream with the on-demand capacity
/// mode"). AWS's exact text was not found in public material; this follows the model's gloss.
pub(crate) fn provisioned_only(operation: &str, name: &str, account: &str) -> KinesisError {
    KinesisError::Validation(format!(
        "{operation} is not supported for stream {name} under account {account} in ON_DEMAND \
         capacity mode. This API is only supported for data streams with the provisioned \
         capacity mode."
    ))
}

pub(crate) fn invalid_explicit_hash_key(value: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. \
         Specified value was {value}"
    ))
}

/// A consumer ARN whose stream exists but which names no registered consumer.
pub(crate) fn consumer_not_found(arn: &str, account: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!("Consumer {arn} under account {account} not found."))
}

pub(crate) fn policy_too_large(arn: &str, size: usize, max: usize) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Policy for resource {arn} is {size} bytes long, which exceeds the maximum policy size of \
         {max} bytes."
    ))
}

pub(crate) fn policy_not_json(arn: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Policy for resource {arn} is not a valid JSON policy document: it must be a JSON object."
    ))
}

/// A document the policy language refuses; AWS documents no text for it, so the reason is the
/// language checker's (IAM's wording where it has one).
pub(crate) fn policy_invalid(arn: &str, reason: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Policy for resource {arn} is not a valid policy document: {reason}"
    ))
}

pub(crate) fn either_name_or_arn() -> KinesisError {
    KinesisError::InvalidArgument("Either StreamName or StreamARN should be provided.".into())
}

// Consumer wording. The DeleteStream refusal is AWS's (quoted in public reports); the others follow
// the shape of AWS's stream messages and are not confirmed against AWS.

/// A consumer (by name) that its stream does not have.
pub(crate) fn consumer_name_not_found(consumer: &str, stream: &str, account: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!(
        "Consumer {consumer} under stream {stream} and account {account} not found."
    ))
}

pub(crate) fn consumer_exists(consumer: &str, stream: &str, account: &str) -> KinesisError {
    KinesisError::ResourceInUse(format!(
        "Consumer {consumer} under stream {stream} and account {account} already exists."
    ))
}

pub(crate) fn consumer_limit(stream: &str, account: &str) -> KinesisError {
    KinesisError::LimitExceeded(format!(
        "Stream {stream} under account {account} already has {} registered consumers, the \
         most a stream can have.",
        crate::limits::CONSUMERS_PER_STREAM_MAX
    ))
}

pub(crate) fn consumers_creating_limit(stream: &str, account: &str) -> KinesisError {
    KinesisError::LimitExceeded(format!(
        "Stream {stream} under account {account} already has {} consumers in CREATING status; \
         register more once they are ACTIVE.",
        crate::limits::CONSUMERS_CREATING_MAX
    ))
}

pub(crate) fn stream_has_consumers(arn: &str, name: &str) -> KinesisError {
    KinesisError::ResourceInUse(format!(
        "DeleteStream can't delete {arn} because there are consumers associated with this data \
         stream. To delete {name} anyway, set the EnforceConsumerDeletion parameter to true to \
         force the deletion of all the consumers that are associated with it."
    ))
}

/// PutRecord's error and PutRecords' per-record ErrorMessage when a shard's write limit is spent
/// (AWS's wording, as in its PutRecords reference).
pub(crate) fn write_rate_exceeded(shard: &str, stream: &str, account: &str) -> String {
    format!("Rate exceeded for shard {shard} in stream {stream} under account {account}.")
}

/// GetRecords' error when a shard's shared read limit is spent (AWS's wording).
pub(crate) fn read_rate_exceeded(shard: &str, stream: &str, account: &str) -> String {
    format!("Rate exceeded for Shard - {shard} in stream {stream} under account {account}.")
}

/// A control-plane call over its documented rate (LimitExceededException). The stream form is
/// what AWS answers DescribeStream; the account form is not confirmed against AWS.
pub(crate) fn control_rate_exceeded(stream: Option<&str>, account: &str) -> KinesisError {
    KinesisError::LimitExceeded(match stream {
        Some(name) => format!("Rate exceeded for stream {name} under account {account}."),
        None => format!("Rate exceeded for account {account}."),
    })
}

// Warm throughput wording: AWS's texts were not found in public material; these follow the
// documentation's conditions ("only supported for data streams with the on-demand capacity mode
// in accounts that have MinimumThroughputBillingCommitment enabled", "cannot ... scale to more
// than 10 GiBps").

pub(crate) fn on_demand_only(operation: &str, name: &str, account: &str) -> KinesisError {
    KinesisError::Validation(format!(
        "{operation} is not supported for stream {name} under account {account} in PROVISIONED \
         capacity mode. This API is only supported for data streams with the on-demand capacity \
         mode."
    ))
}

pub(crate) fn commitment_required(operation: &str, account: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "{operation} requires MinimumThroughputBillingCommitment to be enabled for account \
         {account}."
    ))
}

pub(crate) fn warm_throughput_limit(requested: u32, name: &str, account: &str) -> KinesisError {
    KinesisError::LimitExceeded(format!(
        "Warm throughput {requested} MiBps for stream {name} under account {account} exceeds \
         the limit of {} MiBps for an on-demand stream.",
        crate::limits::WARM_THROUGHPUT_MIBPS_MAX
    ))
}

// Record distribution wording. AWS documents the exception types (InvalidArgumentException for
// AUTO on a provisioned stream and for SequenceNumberForOrdering on an AUTO stream), not the
// texts; these follow its stream messages.

pub(crate) fn auto_needs_on_demand(name: &str, account: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "RecordDistributionStrategy AUTO is not supported for stream {name} under account \
         {account} in PROVISIONED capacity mode. It is only supported for data streams with the \
         on-demand capacity mode."
    ))
}

pub(crate) fn ordering_with_auto(name: &str, account: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "SequenceNumberForOrdering cannot be used in PutRecord on stream {name} under account \
         {account}, whose RecordDistributionStrategy is AUTO."
    ))
}

/// An eleventh UpdateShardCount scaling within 24 hours. AWS's text was not found in public
/// material; this states the documented rule.
pub(crate) fn scaling_limit(name: &str, account: &str) -> KinesisError {
    KinesisError::LimitExceeded(format!(
        "UpdateShardCount cannot scale stream {name} under account {account} more than {} \
         times in a rolling 24-hour period.",
        crate::limits::SCALINGS_PER_WINDOW_MAX
    ))
}

/// A third capacity-mode switch within 24 hours. AWS's text was not found in public material;
/// this states the documented rule.
pub(crate) fn mode_switch_limit(name: &str, account: &str) -> KinesisError {
    KinesisError::LimitExceeded(format!(
        "Stream {name} under account {account} has already switched its capacity mode {} times \
         in the last 24 hours, the most allowed.",
        crate::limits::MODE_SWITCHES_PER_WINDOW_MAX
    ))
}

/// StartStreamEncryption's `KeyId` in none of the forms AWS accepts.
pub(crate) fn invalid_kms_key_id(key_id: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "KeyId {key_id} is invalid. It must be a key id, a key ARN, an alias name prefixed by \
         \"alias/\" or an alias ARN."
    ))
}

/// A key the KMS does not know, in the KMS's wording (which Kinesis passes on): keys are named
/// by their ARN, aliases by theirs.
pub(crate) fn kms_key_not_found(key_id: &str, region: &str, account: &str) -> KinesisError {
    let arn = |resource: &str| format!("arn:aws:kms:{region}:{account}:{resource}");
    KinesisError::KmsNotFound(if key_id.starts_with("arn:") {
        if key_id.contains(":alias/") {
            format!("Alias {key_id} is not found.")
        } else {
            format!("Key '{key_id}' does not exist")
        }
    } else if key_id.starts_with("alias/") {
        format!("Alias {} is not found.", arn(key_id))
    } else {
        format!("Key '{}' does not exist", arn(&format!("key/{key_id}")))
    })
}
