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

pub(crate) fn either_name_or_arn() -> KinesisError {
    KinesisError::InvalidArgument("Either StreamName or StreamARN should be provided.".into())
}
