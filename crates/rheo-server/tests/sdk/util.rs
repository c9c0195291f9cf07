//! Shared helpers: waiting for stream states, hash-key routing, sequence-number ordering and
//! unpacking service errors.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::types::{Shard, StreamDescription, StreamDescriptionSummary, StreamStatus};
use aws_sdk_kinesis::Client;
use md5::{Digest, Md5};

/// Largest hash key, 2^128 - 1.
pub const MAX_HASH: u128 = u128::MAX;

/// Polls DescribeStreamSummary until the stream is ACTIVE (the server runs with 50 ms transitions).
pub async fn wait_active(client: &Client, name: &str) -> StreamDescriptionSummary {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = client
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("describe_stream_summary({name}): {e:?}"));
        let summary = out
            .stream_description_summary()
            .expect("StreamDescriptionSummary")
            .clone();
        if *summary.stream_status() == StreamStatus::Active {
            return summary;
        }
        assert!(
            Instant::now() < deadline,
            "stream {name} still {:?} after 10 s",
            summary.stream_status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until DescribeStream reports ResourceNotFoundException for the stream.
pub async fn wait_gone(client: &Client, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match client.describe_stream().stream_name(name).send().await {
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return
            }
            Err(e) => panic!("describe_stream({name}) while waiting for deletion: {e:?}"),
            Ok(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "stream {name} still exists after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates a provisioned stream and waits until it is ACTIVE.
pub async fn create_active(client: &Client, name: &str, shards: i32) -> StreamDescriptionSummary {
    client
        .create_stream()
        .stream_name(name)
        .shard_count(shards)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create_stream({name}, {shards}): {e:?}"));
    wait_active(client, name).await
}

/// Full DescribeStream output (all shards, following HasMoreShards).
pub async fn describe(client: &Client, name: &str) -> StreamDescription {
    let out = client
        .describe_stream()
        .stream_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describe_stream({name}): {e:?}"));
    out.stream_description().expect("StreamDescription").clone()
}

/// All shards via ListShards.
pub async fn list_all_shards(client: &Client, name: &str) -> Vec<Shard> {
    let out = client
        .list_shards()
        .stream_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("list_shards({name}): {e:?}"));
    assert!(
        out.next_token().is_none(),
        "unexpected NextToken for a small stream"
    );
    out.shards().to_vec()
}

/// The partition key's hash key: MD5 of its UTF-8 bytes read as a big-endian 128-bit integer.
pub fn md5_hash_key(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    u128::from_be_bytes(digest.into())
}

/// Parses a decimal hash key as the service prints it.
pub fn hash(s: &str) -> u128 {
    s.parse()
        .unwrap_or_else(|e| panic!("hash key {s:?} is not a 128-bit decimal: {e}"))
}

/// `(start, end)` of a shard's hash key range.
pub fn range_of(shard: &Shard) -> (u128, u128) {
    let r = shard
        .hash_key_range()
        .unwrap_or_else(|| panic!("shard {} has no HashKeyRange", shard.shard_id()));
    (hash(r.starting_hash_key()), hash(r.ending_hash_key()))
}

/// Whether the shard is still open (no ending sequence number).
pub fn is_open(shard: &Shard) -> bool {
    shard
        .sequence_number_range()
        .unwrap_or_else(|| panic!("shard {} has no SequenceNumberRange", shard.shard_id()))
        .ending_sequence_number()
        .is_none()
}

/// The open shard whose hash key range contains `key`.
pub fn owning_shard(shards: &[Shard], key: u128) -> String {
    let owners: Vec<&Shard> = shards
        .iter()
        .filter(|s| is_open(s))
        .filter(|s| {
            let (lo, hi) = range_of(s);
            lo <= key && key <= hi
        })
        .collect();
    assert_eq!(
        owners.len(),
        1,
        "exactly one open shard must own hash key {key}"
    );
    owners[0].shard_id().to_string()
}

/// Asserts the open shards tile [0, 2^128-1] with no gap or overlap.
pub fn assert_open_shards_cover_keyspace(shards: &[Shard]) {
    let mut ranges: Vec<(u128, u128)> =
        shards.iter().filter(|s| is_open(s)).map(range_of).collect();
    ranges.sort();
    assert!(!ranges.is_empty(), "no open shards");
    assert_eq!(
        ranges[0].0, 0,
        "open shards must start at hash key 0: {ranges:?}"
    );
    for w in ranges.windows(2) {
        assert_eq!(
            w[0].1 + 1,
            w[1].0,
            "open shard ranges must be contiguous: {ranges:?}"
        );
    }
    assert_eq!(
        ranges[ranges.len() - 1].1,
        MAX_HASH,
        "open shards must end at 2^128-1"
    );
}

/// Numeric `a < b` for decimal sequence numbers (which can exceed 128 bits).
pub fn seq_lt(a: &str, b: &str) -> bool {
    assert!(
        a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()),
        "sequence numbers must be decimal: {a:?} {b:?}"
    );
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    (a.len(), a) < (b.len(), b)
}

/// `shardId-` + the index zero-padded to 12 digits.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Expects a service error and returns the modelled error plus the HTTP status.
pub fn service_error<T: Debug, E: Debug, R: Debug + HttpStatus>(
    r: Result<T, SdkError<E, R>>,
) -> (E, u16) {
    match r {
        Ok(v) => panic!("expected a service error, got success: {v:?}"),
        Err(SdkError::ServiceError(se)) => {
            let status = se.raw().status_u16();
            (se.into_err(), status)
        }
        Err(other) => panic!("expected a service error, got {other:?}"),
    }
}

/// Access to the raw response status (the SDK's response type).
pub trait HttpStatus {
    fn status_u16(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_u16(&self) -> u16 {
        self.status().as_u16()
    }
}

/// Asserts an error's code and exact message (the wire `__type` and `message`).
pub fn assert_code_message<E: ProvideErrorMetadata>(err: &E, code: &str, message: &str) {
    assert_eq!(err.code(), Some(code), "error code");
    assert_eq!(err.message(), Some(message), "error message");
}
