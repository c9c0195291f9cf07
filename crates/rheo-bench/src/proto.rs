//! Request bodies and response shapes for the handful of Kinesis operations
//! the benchmark speaks (AWS JSON 1.1; blobs are base64 strings).
//!
//! Response structs only name the members the benchmark reads, so that the
//! parse cost per response stays proportional to what we use.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutEntry<'a> {
    data: String,
    partition_key: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordsReq<'a> {
    records: Vec<PutEntry<'a>>,
    stream_name: &'a str,
}

/// Encodes a PutRecords request for `(partition key, data)` pairs.
pub fn put_records_body<K: AsRef<str>, D: AsRef<[u8]>>(stream: &str, records: &[(K, D)]) -> Bytes {
    let req = PutRecordsReq {
        records: records
            .iter()
            .map(|(k, d)| PutEntry {
                data: B64.encode(d.as_ref()),
                partition_key: k.as_ref(),
            })
            .collect(),
        stream_name: stream,
    };
    // Serializing plain strings into a Vec cannot fail.
    Bytes::from(serde_json::to_vec(&req).unwrap_or_default())
}

pub fn create_stream_body(stream: &str, shards: u32) -> Bytes {
    json_bytes(serde_json::json!({"StreamName": stream, "ShardCount": shards}))
}

pub fn start_stream_encryption_body(stream: &str, key_id: &str) -> Bytes {
    json_bytes(serde_json::json!({"StreamName": stream, "EncryptionType": "KMS", "KeyId": key_id}))
}

pub fn stream_only_body(stream: &str) -> Bytes {
    json_bytes(serde_json::json!({"StreamName": stream}))
}

pub fn delete_stream_enforced_body(stream: &str) -> Bytes {
    json_bytes(serde_json::json!({"StreamName": stream, "EnforceConsumerDeletion": true}))
}

pub fn describe_stream_body(stream: &str, exclusive_start: Option<&str>) -> Bytes {
    match exclusive_start {
        Some(s) => {
            json_bytes(serde_json::json!({"StreamName": stream, "ExclusiveStartShardId": s}))
        }
        None => stream_only_body(stream),
    }
}

/// `kind` is `TRIM_HORIZON`, `LATEST` or `AFTER_SEQUENCE_NUMBER` (with `seq`).
pub fn get_shard_iterator_body(stream: &str, shard: &str, kind: &str, seq: Option<&str>) -> Bytes {
    let mut v =
        serde_json::json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": kind});
    if let (Some(s), Some(obj)) = (seq, v.as_object_mut()) {
        obj.insert("StartingSequenceNumber".into(), s.into());
    }
    json_bytes(v)
}

pub fn get_records_body(iterator: &str, limit: u32) -> Bytes {
    json_bytes(serde_json::json!({"ShardIterator": iterator, "Limit": limit}))
}

fn json_bytes(v: serde_json::Value) -> Bytes {
    Bytes::from(v.to_string())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsResponse {
    pub records: Vec<PutRecordsResultEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsResultEntry {
    pub sequence_number: Option<String>,
    pub shard_id: Option<String>,
    pub error_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamResponse {
    pub stream_description: StreamDescription,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamDescription {
    pub stream_status: String,
    #[serde(default, rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(default)]
    pub shards: Vec<Shard>,
    #[serde(default)]
    pub has_more_shards: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    pub shard_id: String,
    #[serde(default)]
    pub sequence_number_range: Option<SeqRange>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeqRange {
    pub ending_sequence_number: Option<String>,
}

impl Shard {
    /// An open shard has no ending sequence number.
    pub fn is_open(&self) -> bool {
        self.sequence_number_range
            .as_ref()
            .is_none_or(|r| r.ending_sequence_number.is_none())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorResponse {
    pub shard_iterator: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsResponse {
    pub records: Vec<ReadRecord>,
    pub next_shard_iterator: Option<String>,
    #[serde(default)]
    pub millis_behind_latest: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReadRecord {
    pub sequence_number: String,
    pub data: String,
}

/// Payload size of a base64 blob without decoding it (the catch-up reader
/// only needs byte counts, and decoding 10 000 records per call would cost
/// client CPU that belongs to the server on a shared machine).
pub fn b64_decoded_len(s: &str) -> usize {
    let full = s.len() / 4 * 3;
    match s.len() % 4 {
        0 => {
            let pad = s.bytes().rev().take_while(|&b| b == b'=').count().min(2);
            full.saturating_sub(pad)
        }
        2 => full + 1,
        3 => full + 2,
        _ => full,
    }
}

pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn put_records_body_shape() {
        let body = put_records_body("s1", &[("k1", b"hi".to_vec()), ("k2", vec![0u8, 255])]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["StreamName"], "s1");
        assert_eq!(v["Records"][0]["PartitionKey"], "k1");
        assert_eq!(v["Records"][0]["Data"], "aGk=");
        assert_eq!(v["Records"][1]["Data"], "AP8=");
        assert_eq!(v["Records"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn iterator_body_includes_sequence_only_when_given() {
        let v: serde_json::Value = serde_json::from_slice(&get_shard_iterator_body(
            "s",
            "shardId-000000000000",
            "LATEST",
            None,
        ))
        .unwrap();
        assert_eq!(v["ShardIteratorType"], "LATEST");
        assert!(v.get("StartingSequenceNumber").is_none());
        let v: serde_json::Value = serde_json::from_slice(&get_shard_iterator_body(
            "s",
            "shardId-000000000001",
            "AFTER_SEQUENCE_NUMBER",
            Some("123"),
        ))
        .unwrap();
        assert_eq!(v["StartingSequenceNumber"], "123");
        assert_eq!(v["ShardId"], "shardId-000000000001");
    }

    #[test]
    fn parses_put_records_response_with_failures() {
        let r: PutRecordsResponse = serde_json::from_str(
            r#"{"FailedRecordCount":1,"Records":[
                {"SequenceNumber":"4959","ShardId":"shardId-000000000000"},
                {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"}]}"#,
        )
        .unwrap();
        assert_eq!(r.records[0].sequence_number.as_deref(), Some("4959"));
        assert_eq!(
            r.records[1].error_code.as_deref(),
            Some("ProvisionedThroughputExceededException")
        );
    }

    #[test]
    fn shard_openness() {
        let d: DescribeStreamResponse = serde_json::from_str(
            r#"{"StreamDescription":{"StreamStatus":"ACTIVE","HasMoreShards":false,"Shards":[
              {"ShardId":"a","SequenceNumberRange":{"StartingSequenceNumber":"1"}},
              {"ShardId":"b","SequenceNumberRange":{"StartingSequenceNumber":"1","EndingSequenceNumber":"9"}}]}}"#,
        )
        .unwrap();
        assert!(d.stream_description.shards[0].is_open());
        assert!(!d.stream_description.shards[1].is_open());
    }

    proptest! {
        #[test]
        fn decoded_len_matches_real_decode(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let s = B64.encode(&data);
            prop_assert_eq!(b64_decoded_len(&s), data.len());
            prop_assert_eq!(b64_decode(&s).unwrap(), data);
        }
    }
}

pub fn register_consumer_body(stream_arn: &str, name: &str) -> Bytes {
    Bytes::from(serde_json::json!({"StreamARN": stream_arn, "ConsumerName": name}).to_string())
}

pub fn describe_consumer_body(stream_arn: &str, name: &str) -> Bytes {
    register_consumer_body(stream_arn, name)
}

pub fn subscribe_body(consumer_arn: &str, shard: &str) -> Bytes {
    subscribe_body_at(consumer_arn, shard, "LATEST", None)
}

/// SubscribeToShard from `kind` (LATEST, TRIM_HORIZON, AFTER_SEQUENCE_NUMBER with `seq`).
pub fn subscribe_body_at(consumer_arn: &str, shard: &str, kind: &str, seq: Option<&str>) -> Bytes {
    let mut position = serde_json::json!({"Type": kind});
    if let Some(seq) = seq {
        position["SequenceNumber"] = serde_json::Value::from(seq);
    }
    Bytes::from(
        serde_json::json!({
            "ConsumerARN": consumer_arn,
            "ShardId": shard,
            "StartingPosition": position,
        })
        .to_string(),
    )
}

#[derive(Debug, Deserialize)]
pub struct DescribeConsumerResponse {
    #[serde(rename = "ConsumerDescription")]
    pub consumer: ConsumerDescription,
}

#[derive(Debug, Deserialize)]
pub struct ConsumerDescription {
    #[serde(rename = "ConsumerARN")]
    pub arn: String,
    #[serde(rename = "ConsumerStatus")]
    pub status: String,
}

/// The payload of a SubscribeToShardEvent (JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeEvent {
    #[serde(default)]
    pub records: Vec<ReadRecord>,
    /// Where a new subscription resumes (AFTER_SEQUENCE_NUMBER) to miss nothing.
    #[serde(default)]
    pub continuation_sequence_number: Option<String>,
}
