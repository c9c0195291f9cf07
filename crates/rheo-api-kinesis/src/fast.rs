//! The JSON 1.1 fast paths: PutRecords requests and GetRecords answers.
//!
//! PutRecords is the one request whose cost grows with its size, and the generic path builds a
//! [`Node`](crate::Node) tree for it: a map, two strings and a buffer per record, then a
//! response tree of two strings per record. Profiles put that at a fifth of the server's CPU.
//! Here the body is parsed into borrowed slices, every record's data is base64-decoded into one
//! buffer, and the answer is written straight to bytes.
//!
//! The fast path only *accepts*: any request it is not sure the generic path would accept
//! unchanged (an escape in a string, an unknown or repeated member, a null, a value outside the
//! model's constraints, bad base64) makes it decline, and the generic path then decodes the same
//! bytes and produces AWS's exact error. So errors have one implementation, and the property
//! test beside this module checks the two paths agree on what they both accept.
//!
//! GetRecords is the mirror image: its request is tiny (decoded the generic way) and its answer
//! is up to 10,000 records, where the tree (five maps and strings per record, built and dropped)
//! and member-name escaping cost more than the data copy. [`get_records_json`] writes the same
//! bytes as the generic encoder into one buffer sized up front; `tests/fast_get.rs` checks the
//! two agree byte for byte.

use rheo_streams::types::{
    Ctx, GetRecordsOutput, PutRecordRef, PutRecordsEntry, PutRecordsOutput, StreamTarget,
};
use rheo_streams::{KinesisError, Streams};
use serde::Deserialize;

use crate::Node;
use rheo_proto::{json_bytes, json_str, json_timestamp};

// Model limits the fast path checks (it declines outside them; the generic path words errors).
// A partition key is checked in bytes, which are never fewer than its characters: a longer
// key of multi-byte characters is declined here and judged by the generic path.
use rheo_streams::limits::{
    EXPLICIT_HASH_KEY_DIGITS_MAX, PARTITION_KEY_CHARS_MAX, PUT_RECORDS_COUNT_MAX,
    RECORD_DATA_BYTES_MAX, STREAM_NAME_BYTES_MAX,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(rename = "StreamName", borrow)]
    stream_name: &'a str,
    #[serde(rename = "Records", borrow)]
    records: Vec<Rec<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rec<'a> {
    #[serde(rename = "Data", borrow)]
    data: &'a str,
    #[serde(rename = "PartitionKey", borrow)]
    partition_key: &'a str,
    #[serde(rename = "ExplicitHashKey", borrow, default)]
    explicit_hash_key: Option<&'a str>,
}

/// A PutRecords request the generic path would accept as is, parsed without copies (except
/// for the decoded data, which has to exist somewhere).
#[derive(Debug)]
pub struct PutRecordsRequest<'a> {
    pub stream_name: &'a str,
    records: Vec<(&'a str, Option<&'a str>, usize, usize)>,
    data: Vec<u8>,
}

impl<'a> PutRecordsRequest<'a> {
    /// `None` when the fast path declines (see the module documentation).
    pub fn parse(body: &'a [u8]) -> Option<Self> {
        let b: Body<'a> = serde_json::from_slice(body).ok()?;
        let name_ok = (1..=STREAM_NAME_BYTES_MAX).contains(&b.stream_name.len())
            && b.stream_name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if !name_ok || b.records.is_empty() || b.records.len() > PUT_RECORDS_COUNT_MAX {
            return None;
        }
        let decoded_max: usize = b.records.iter().map(|r| r.data.len() / 4 * 3).sum();
        let mut data = Vec::with_capacity(decoded_max);
        let mut records = Vec::with_capacity(b.records.len());
        for r in &b.records {
            if !(1..=PARTITION_KEY_CHARS_MAX).contains(&r.partition_key.len())
                || !r.data.len().is_multiple_of(4)
                || !r.explicit_hash_key.is_none_or(hash_key_ok)
            {
                return None;
            }
            let start = data.len();
            // SIMD decoding: the scalar engine was the largest user-space cost of a put.
            if !canonical_tail(r.data.as_bytes()) {
                return None;
            }
            base64_simd::STANDARD
                .decode_append(r.data.as_bytes(), &mut data)
                .ok()?;
            if data.len() - start > RECORD_DATA_BYTES_MAX {
                return None;
            }
            records.push((r.partition_key, r.explicit_hash_key, start, data.len()));
        }
        Some(PutRecordsRequest {
            stream_name: b.stream_name,
            records,
            data,
        })
    }

    /// The records, borrowing from the body and the decode buffer.
    pub fn records(&self) -> Vec<PutRecordRef<'_>> {
        self.records
            .iter()
            .map(|&(partition_key, explicit_hash_key, s, e)| PutRecordRef {
                data: self.data.get(s..e).unwrap_or_default(),
                partition_key,
                explicit_hash_key,
            })
            .collect()
    }
}

/// Whether the bits a padded final quantum leaves over are zero. The generic path's decoder
/// refuses a non-canonical ending (AWS's "Invalid last non-pad Base64 character"). The SIMD
/// decoder in use refuses it too (the differential fuzz tests pass with this check removed),
/// but that is not a documented promise of the crate, so the fast path checks it itself.
fn canonical_tail(text: &[u8]) -> bool {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => 0xff,
    };
    match text {
        [.., c, b'=', b'='] => value(*c) & 0x0f == 0,
        [.., c, b'='] => value(*c) & 0x03 == 0,
        _ => true,
    }
}

/// The model's pattern `0|([1-9]\d{0,38})`.
fn hash_key_ok(k: &str) -> bool {
    let b = k.as_bytes();
    match b {
        [b'0'] => true,
        [first, rest @ ..] => {
            (b'1'..=b'9').contains(first)
                && rest.len() < EXPLICIT_HASH_KEY_DIGITS_MAX
                && rest.iter().all(u8::is_ascii_digit)
        }
        [] => false,
    }
}

/// Runs a fast-path PutRecords and writes its JSON answer.
pub async fn put_records(
    streams: &Streams,
    ctx: &Ctx,
    req: &PutRecordsRequest<'_>,
) -> Result<Vec<u8>, KinesisError> {
    let target = StreamTarget {
        name: Some(req.stream_name.to_string()),
        arn: None,
    };
    let out = streams
        .put_record_refs(ctx, &target, &req.records())
        .await?;
    Ok(put_records_json(&out))
}

/// The same bytes the generic encoder writes for this output (member order included).
pub fn put_records_json(out: &PutRecordsOutput) -> Vec<u8> {
    // A result is about 108 bytes: {"SequenceNumber":"<56>","ShardId":"shardId-<12>"},
    let mut j = Vec::with_capacity(64 + out.records.len() * 112);
    j.extend_from_slice(b"{\"FailedRecordCount\":");
    j.extend_from_slice(itoa::Buffer::new().format(out.failed_count).as_bytes());
    j.extend_from_slice(b",\"Records\":[");
    let mut digits = itoa::Buffer::new();
    for (i, r) in out.records.iter().enumerate() {
        if i > 0 {
            j.push(b',');
        }
        match r {
            PutRecordsEntry::Ok(r) => {
                j.extend_from_slice(b"{\"SequenceNumber\":\"");
                j.extend_from_slice(&r.sequence.digits());
                j.extend_from_slice(b"\",\"ShardId\":\"shardId-");
                let index = digits.format(r.shard_index());
                let pad = 12usize.saturating_sub(index.len());
                j.extend_from_slice(b"000000000000".get(..pad).unwrap_or_default());
                j.extend_from_slice(index.as_bytes());
                j.extend_from_slice(b"\"}");
            }
            PutRecordsEntry::Failed { code, message } => {
                j.extend_from_slice(b"{\"ErrorCode\":");
                json_str(&mut j, code);
                j.extend_from_slice(b",\"ErrorMessage\":");
                json_str(&mut j, message);
                j.push(b'}');
            }
        }
    }
    j.extend_from_slice(b"],\"EncryptionType\":\"");
    j.extend_from_slice(if out.encrypted { b"KMS" } else { b"NONE" });
    j.extend_from_slice(b"\"}");
    j
}

/// Runs a GetRecords (its validated input tree) and writes the JSON answer straight to bytes.
pub async fn get_records(
    streams: &Streams,
    ctx: &Ctx,
    input: &Node,
) -> Result<Vec<u8>, KinesisError> {
    let out = crate::ops::fetch_records(streams, ctx, input).await?;
    Ok(get_records_json(&out))
}

/// Fixed text around one record, `EncryptionType` included, plus room for a timestamp.
const RECORD_OVERHEAD: usize = 128;

/// The same bytes the generic encoder writes for the tree `ops` builds from this output:
/// `Records` (`SequenceNumber`, `ApproximateArrivalTimestamp`, `Data`, `PartitionKey`,
/// `EncryptionType` when encrypted), `NextShardIterator` when present, `MillisBehindLatest`,
/// `ChildShards` when present.
pub fn get_records_json(out: &GetRecordsOutput) -> Vec<u8> {
    let records: usize = out
        .records
        .iter()
        .map(|r| {
            RECORD_OVERHEAD
                + r.sequence_number.len()
                + r.partition_key.len()
                + base64_simd::STANDARD.encoded_length(r.data.len())
        })
        .sum();
    let iterator = out.next_shard_iterator.as_ref().map_or(0, String::len);
    let children = out.child_shards.as_ref().map_or(0, |c| c.len() * 256);
    // An escaped partition key can outgrow its estimate; the Vec then grows as usual.
    let mut j = Vec::with_capacity(128 + records + iterator + children);
    j.extend_from_slice(b"{\"Records\":[");
    for (i, r) in out.records.iter().enumerate() {
        if i > 0 {
            j.push(b',');
        }
        j.extend_from_slice(b"{\"SequenceNumber\":");
        json_str(&mut j, &r.sequence_number);
        j.extend_from_slice(b",\"ApproximateArrivalTimestamp\":");
        json_timestamp(&mut j, r.arrival_ms);
        j.extend_from_slice(b",\"Data\":");
        json_bytes(&mut j, &r.data);
        j.extend_from_slice(b",\"PartitionKey\":");
        json_str(&mut j, &r.partition_key);
        if r.encrypted {
            j.extend_from_slice(b",\"EncryptionType\":\"KMS\"");
        }
        j.push(b'}');
    }
    j.push(b']');
    if let Some(it) = &out.next_shard_iterator {
        j.extend_from_slice(b",\"NextShardIterator\":");
        json_str(&mut j, it);
    }
    j.extend_from_slice(b",\"MillisBehindLatest\":");
    j.extend_from_slice(
        itoa::Buffer::new()
            .format(out.millis_behind_latest)
            .as_bytes(),
    );
    if let Some(children) = &out.child_shards {
        j.extend_from_slice(b",\"ChildShards\":[");
        let mut digits = itoa::Buffer::new();
        for (i, c) in children.iter().enumerate() {
            if i > 0 {
                j.push(b',');
            }
            j.extend_from_slice(b"{\"ShardId\":");
            json_str(&mut j, &c.shard_id);
            j.extend_from_slice(b",\"ParentShards\":[");
            for (k, p) in c.parent_shards.iter().enumerate() {
                if k > 0 {
                    j.push(b',');
                }
                json_str(&mut j, p);
            }
            j.extend_from_slice(b"],\"HashKeyRange\":{\"StartingHashKey\":\"");
            j.extend_from_slice(digits.format(c.range.start).as_bytes());
            j.extend_from_slice(b"\",\"EndingHashKey\":\"");
            j.extend_from_slice(digits.format(c.range.end).as_bytes());
            j.extend_from_slice(b"\"}}");
        }
        j.push(b']');
    }
    j.push(b'}');
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_plain_request() {
        let body = br#"{"StreamName":"s-1.x_y","Records":[{"Data":"aGk=","PartitionKey":"a"},{"PartitionKey":"b","Data":"","ExplicitHashKey":"12"}]}"#;
        let r = PutRecordsRequest::parse(body).unwrap();
        assert_eq!(r.stream_name, "s-1.x_y");
        let recs = r.records();
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].data, recs[0].partition_key), (&b"hi"[..], "a"));
        assert_eq!(recs[1].explicit_hash_key, Some("12"));
        assert_eq!(recs[1].data, b"");
    }

    #[test]
    fn declines_what_it_cannot_vouch_for() {
        let declined = [
            r#"{"StreamName":"s","Records":[]}"#,
            r#"{"StreamName":"","Records":[{"Data":"","PartitionKey":"a"}]}"#,
            r#"{"StreamName":"s s","Records":[{"Data":"","PartitionKey":"a"}]}"#,
            r#"{"StreamName":"s","Records":[{"Data":"aGk","PartitionKey":"a"}]}"#,
            r#"{"StreamName":"s","Records":[{"Data":"a=Gk","PartitionKey":"a"}]}"#,
            r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":""}]}"#,
            r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"\u0041"}]}"#,
            r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"a","ExplicitHashKey":"01"}]}"#,
            r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"a","Extra":1}]}"#,
            r#"{"StreamName":"s","StreamARN":"arn:x","Records":[{"Data":"","PartitionKey":"a"}]}"#,
            r#"{"StreamName":"s","StreamName":"t","Records":[{"Data":"","PartitionKey":"a"}]}"#,
            r#"{"StreamName":null,"Records":[{"Data":"","PartitionKey":"a"}]}"#,
            r#"{"Records":[{"Data":"","PartitionKey":"a"}]}"#,
            r#"[]"#,
            r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":"a"}]} x"#,
        ];
        for body in declined {
            assert!(
                PutRecordsRequest::parse(body.as_bytes()).is_none(),
                "accepted {body}"
            );
        }
        let long_key = format!(
            r#"{{"StreamName":"s","Records":[{{"Data":"","PartitionKey":"{}"}}]}}"#,
            "k".repeat(257)
        );
        assert!(PutRecordsRequest::parse(long_key.as_bytes()).is_none());
        let many = format!(
            r#"{{"StreamName":"s","Records":[{}]}}"#,
            vec![r#"{"Data":"","PartitionKey":"a"}"#; 501].join(",")
        );
        assert!(PutRecordsRequest::parse(many.as_bytes()).is_none());
    }

    #[test]
    fn non_canonical_endings_are_declined() {
        for bad in ["aGl=", "aB==", "aGk=aGk=", "aGk==", "====", "a==="] {
            let body = format!(
                r#"{{"StreamName":"s","Records":[{{"Data":"{bad}","PartitionKey":"a"}}]}}"#
            );
            assert!(PutRecordsRequest::parse(body.as_bytes()).is_none(), "{bad}");
        }
        for good in ["aGk=", "aA==", "aGlq", ""] {
            let body = format!(
                r#"{{"StreamName":"s","Records":[{{"Data":"{good}","PartitionKey":"a"}}]}}"#
            );
            assert!(
                PutRecordsRequest::parse(body.as_bytes()).is_some(),
                "{good}"
            );
        }
    }

    fn output(encrypted: bool, children: bool) -> GetRecordsOutput {
        use rheo_streams::hash::HashRange;
        use rheo_streams::types::{ChildShard, Record};
        let record = |seq: &str, ms: i64, data: &'static [u8], key: &str| Record {
            sequence_number: seq.into(),
            arrival_ms: ms,
            data: bytes::Bytes::from_static(data),
            partition_key: key.into(),
            encrypted,
        };
        GetRecordsOutput {
            records: vec![
                record(
                    "49650000000000000000000000000000000000000000000000000000",
                    1_790_000_000_007,
                    b"",
                    "plain",
                ),
                record(
                    "49650000000000000000000000000000000000000000000000000001",
                    1_790_000_000_120,
                    b"\x00\xff\xfe{",
                    "q\"b\\s\n\t\r\u{1}\u{1f}\u{7f}\u{e9}\u{1F600}",
                ),
                record("1", -1, b"hello!", "k"),
            ],
            next_shard_iterator: (!children).then(|| "AAAA+/x=".to_string()),
            millis_behind_latest: 1234,
            child_shards: children.then(|| {
                vec![
                    ChildShard {
                        shard_id: "shardId-000000000003".into(),
                        parent_shards: vec![
                            "shardId-000000000000".into(),
                            "shardId-000000000001".into(),
                        ],
                        range: HashRange {
                            start: 0,
                            end: u128::MAX,
                        },
                    },
                    ChildShard {
                        shard_id: "shardId-000000000004".into(),
                        parent_shards: vec!["shardId-000000000002".into()],
                        range: HashRange { start: 17, end: 99 },
                    },
                ]
            }),
            encrypted,
        }
    }

    #[test]
    fn get_records_json_matches_the_generic_encoder() {
        for (encrypted, children) in [(false, false), (true, false), (false, true), (true, true)] {
            let out = output(encrypted, children);
            let fast = get_records_json(&out);
            let generic =
                crate::encode_response(crate::Protocol::Json, &crate::ops::get_records_node(out));
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                String::from_utf8(generic).unwrap()
            );
        }
        let empty = GetRecordsOutput {
            records: Vec::new(),
            next_shard_iterator: None,
            millis_behind_latest: 0,
            child_shards: Some(Vec::new()),
            encrypted: false,
        };
        assert_eq!(
            get_records_json(&empty),
            br#"{"Records":[],"MillisBehindLatest":0,"ChildShards":[]}"#
        );
    }

    #[test]
    fn get_records_json_is_valid_json_with_the_data() {
        let v: serde_json::Value =
            serde_json::from_slice(&get_records_json(&output(true, true))).unwrap();
        assert_eq!(v["Records"][1]["Data"], "AP/+ew==");
        assert_eq!(
            v["Records"][1]["PartitionKey"],
            "q\"b\\s\n\t\r\u{1}\u{1f}\u{7f}\u{e9}\u{1F600}"
        );
        assert_eq!(
            v["Records"][2]["ApproximateArrivalTimestamp"].as_f64(),
            Some(-0.001)
        );
        assert_eq!(
            v["ChildShards"][0]["HashKeyRange"]["EndingHashKey"],
            u128::MAX.to_string()
        );
        assert_eq!(v["Records"][0]["EncryptionType"], "KMS");
    }

    #[test]
    fn hash_key_pattern() {
        for ok in ["0", "1", "9", "340282366920938463463374607431768211455"] {
            assert!(hash_key_ok(ok), "{ok}");
        }
        for bad in ["", "00", "01", "-1", "1a", &"1".repeat(40)] {
            assert!(!hash_key_ok(bad), "{bad}");
        }
    }
}
