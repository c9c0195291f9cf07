//! Property: the GetRecords JSON fast path writes exactly the bytes of the generic path. Two
//! fresh servers get the same history (random binary records, partition keys that need JSON
//! escapes, 1..4 shards, sometimes encryption, sometimes a split or merge), then every shard is
//! read from its trim horizon to its end, each read through `ops::execute` (the fast path) on
//! one server and through decode + `ops::dispatch` + `encode_response` (the generic path) on
//! the other, with the same limits; every answer must be byte-identical.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{ctx, runtime};
use proptest::prelude::*;
use rheo_api_kinesis::fast;
use rheo_api_kinesis::ops::{self, Route};
use rheo_api_kinesis::Operation;
use rheo_proto::{decode_request, encode_error, encode_response, Protocol};
use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::{Config, DataKey, KeyError, KeyVault, Streams, Zeroizing};

/// A vault with one fixed data key, so that both servers of a case seal alike and the
/// records encrypted streams hold are really sealed (the reads open them on both paths).
struct FixedVault;

impl KeyVault for FixedVault {
    fn generate_data_key(&self, _: &str, _: &str, _: &str) -> Result<DataKey, KeyError> {
        Ok(DataKey {
            plaintext: Zeroizing::new([7; 32]),
            wrapped: b"fixed".to_vec(),
            key_arn: "arn:aws:kms:us-east-1:000000000000:key/fixed".into(),
        })
    }
    fn decrypt_data_key(
        &self,
        _: &str,
        _: &str,
        _: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        Ok(Zeroizing::new([7; 32]))
    }
    fn key_usable(&self, _: &str, _: &str, _: &str) -> Result<(), KeyError> {
        Ok(())
    }
}

fn stream() -> StreamTarget {
    StreamTarget {
        name: Some("s".into()),
        arn: None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reshard {
    None,
    Split,
    /// Merges shards 0 and 1 (a split when the stream has a single shard).
    Merge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encryption {
    Off,
    /// Started before any record is put.
    Before,
    /// Started between the records put before and after the reshard.
    Midway,
}

/// Records put together after advancing the clock by `.0` ms.
type Batch = (u32, Vec<(Vec<u8>, String)>);

#[derive(Clone, Debug)]
struct Script {
    shards: u32,
    encryption: Encryption,
    reshard: Reshard,
    before: Vec<Batch>,
    after: Vec<Batch>,
    /// Limits of successive reads, cycled.
    limits: Vec<u32>,
}

fn partition_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9]{1,16}",
        // Quotes, backslashes, control characters (DEL too), non-ASCII up to 4-byte UTF-8.
        2 => "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é€\u{1F600}/ ]{1,20}",
    ]
}

fn batch() -> impl Strategy<Value = Batch> {
    (
        0u32..2_500,
        proptest::collection::vec(
            (
                prop_oneof![
                    1 => proptest::collection::vec(any::<u8>(), 0..4),
                    3 => proptest::collection::vec(any::<u8>(), 0..3000),
                ],
                partition_key(),
            ),
            0..12,
        ),
    )
}

fn script() -> impl Strategy<Value = Script> {
    (
        1u32..=4,
        prop_oneof![
            Just(Encryption::Off),
            Just(Encryption::Before),
            Just(Encryption::Midway)
        ],
        prop_oneof![
            Just(Reshard::None),
            Just(Reshard::Split),
            Just(Reshard::Merge)
        ],
        proptest::collection::vec(batch(), 0..4),
        proptest::collection::vec(batch(), 0..3),
        proptest::collection::vec(prop_oneof![1u32..4, 4u32..20, Just(10_000u32)], 1..4),
    )
        .prop_map(
            |(shards, encryption, reshard, before, after, limits)| Script {
                shards,
                encryption,
                reshard,
                before,
                after,
                limits,
            },
        )
}

async fn put(streams: &Streams, clock: &ManualClock, batches: &[Batch]) {
    for (advance, records) in batches {
        clock.advance_ms(i64::from(*advance));
        if records.is_empty() {
            continue;
        }
        let entries = records
            .iter()
            .map(|(data, key)| PutEntry {
                data: Bytes::from(data.clone()),
                partition_key: key.clone(),
                explicit_hash_key: None,
            })
            .collect();
        let out = streams
            .put_records(&ctx(), &stream(), entries)
            .await
            .unwrap();
        assert_eq!(out.failed_count, 0);
    }
}

async fn encrypt(streams: &Streams) {
    streams
        .set_encryption(&ctx(), &stream(), Some("alias/aws/kinesis".into()))
        .await
        .unwrap();
}

/// A fresh server with the script's history.
async fn fixture(s: &Script) -> (Streams, Arc<ManualClock>) {
    let config = Config {
        create_stream_ms: 0,
        update_stream_ms: 0,
        // Off: the property cases put and read in bulk with the clock standing still.
        throughput_limits: false,
        ..Config::default()
    };
    let clock = Arc::new(ManualClock::new(1_790_000_000_000));
    let streams = Streams::open_in_memory(config, clock.clone()).unwrap();
    assert!(streams.set_key_vault(Arc::new(FixedVault)));
    streams
        .create_stream(&ctx(), CreateStream::provisioned("s", s.shards))
        .await
        .unwrap();
    if s.encryption == Encryption::Before {
        encrypt(&streams).await;
    }
    put(&streams, &clock, &s.before).await;
    if s.encryption == Encryption::Midway {
        encrypt(&streams).await;
    }
    match s.reshard {
        Reshard::None => {}
        Reshard::Merge if s.shards >= 2 => streams
            .merge_shards(
                &ctx(),
                &stream(),
                "shardId-000000000000",
                "shardId-000000000001",
            )
            .await
            .unwrap(),
        Reshard::Split | Reshard::Merge => {
            let d = streams
                .describe_stream(&ctx(), &stream(), None, None)
                .await
                .unwrap();
            let r = d.shards[0].range;
            let key = (r.start + (r.end - r.start) / 2 + 1).to_string();
            streams
                .split_shard(&ctx(), &stream(), "shardId-000000000000", &key)
                .await
                .unwrap();
        }
    }
    clock.advance_ms(1);
    put(&streams, &clock, &s.after).await;
    (streams, clock)
}

fn get_records_body(iterator: &str, limit: u32) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "ShardIterator": iterator, "Limit": limit })).unwrap()
}

/// The generic path's answer (or its error document).
async fn generic(streams: &Streams, body: &[u8]) -> Vec<u8> {
    let model = rheo_api_kinesis::model();
    let op = model.operation("GetRecords").unwrap();
    let input = decode_request(model, op, Protocol::Json, body).unwrap();
    match ops::dispatch(streams, &ctx(), Operation::GetRecords, &input).await {
        Ok(out) => encode_response(Protocol::Json, &out),
        Err(ops::Failure::Domain(e)) => {
            encode_error(Protocol::Json, ops::error_parts(&e).0, &e.to_string())
        }
        Err(other) => panic!("{other:?}"),
    }
}

/// The server's entry point, which routes JSON GetRecords to the fast path.
async fn executed(streams: &Streams, body: &[u8]) -> Vec<u8> {
    match ops::execute(streams, &ctx(), Operation::GetRecords, Protocol::Json, body).await {
        Ok(bytes) => bytes,
        Err(ops::Failure::Domain(e)) => {
            encode_error(Protocol::Json, ops::error_parts(&e).0, &e.to_string())
        }
        Err(other) => panic!("{other:?}"),
    }
}

/// What the reads saw, so the property can check it covered what the script set up.
#[derive(Default)]
struct Seen {
    records: usize,
    child_shards: usize,
    encrypted: usize,
}

async fn read_everything(s: &Script) -> Result<Seen, TestCaseError> {
    let (a, clock_a) = fixture(s).await;
    let (b, clock_b) = fixture(s).await;
    let shards = a
        .describe_stream(&ctx(), &stream(), None, None)
        .await
        .unwrap()
        .shards;
    let mut seen = Seen::default();
    let mut step = 0usize;
    for shard in shards {
        let request = GetShardIterator::trim_horizon(stream(), shard.shard_id.clone());
        let mut iterator = a.get_shard_iterator(&ctx(), request.clone()).await.unwrap();
        let other = b.get_shard_iterator(&ctx(), request).await.unwrap();
        prop_assert_eq!(&iterator, &other);
        // Bounded: at most 80 records per shard and limits of at least 1.
        for _ in 0..100 {
            let limit = s.limits[step % s.limits.len()];
            step += 1;
            let body = get_records_body(&iterator, limit);
            let g = generic(&a, &body).await;
            let f = executed(&b, &body).await;
            prop_assert_eq!(
                String::from_utf8_lossy(&g),
                String::from_utf8_lossy(&f),
                "shard {} limit {}",
                shard.shard_id,
                limit
            );
            let v: serde_json::Value = serde_json::from_slice(&f).unwrap();
            let n = v["Records"].as_array().map_or(0, Vec::len);
            seen.records += n;
            if v.get("ChildShards").is_some() {
                seen.child_shards += 1;
            }
            if v["Records"][0].get("EncryptionType").is_some() {
                seen.encrypted += 1;
            }
            // Differently behind on the next read.
            clock_a.advance_ms(7);
            clock_b.advance_ms(7);
            match v.get("NextShardIterator").and_then(|i| i.as_str()) {
                Some(next) if n > 0 || v["MillisBehindLatest"] != 0 => {
                    iterator = next.to_string();
                }
                _ => break,
            }
        }
    }
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn fast_and_generic_get_records_agree(s in script()) {
        let seen = runtime().block_on(read_everything(&s))?;
        let put: usize = s.before.iter().chain(&s.after).map(|b| b.1.len()).sum();
        // Every record put was read (through both paths), so nothing was skipped.
        prop_assert_eq!(seen.records, put);
        // A resharded stream has a closed parent, read to its end: it names its children.
        prop_assert_eq!(seen.child_shards > 0, s.reshard != Reshard::None);
        if s.encryption == Encryption::Before && put > 0 {
            prop_assert!(seen.encrypted > 0);
        }
    }
}

#[test]
fn json_get_records_takes_the_fast_path() {
    assert_eq!(
        ops::route(Protocol::Json, Operation::GetRecords),
        Route::GetRecordsFast
    );
    assert_eq!(
        ops::route(Protocol::Cbor, Operation::GetRecords),
        Route::Generic
    );
    assert_eq!(
        ops::route(Protocol::Json, Operation::ListShards),
        Route::Generic
    );

    let rt = runtime();
    let s = Script {
        shards: 2,
        encryption: Encryption::Before,
        reshard: Reshard::Split,
        before: vec![(3, vec![(vec![0, 255, 34, 92], "k\"\\\u{1}é".into())])],
        after: vec![(5, vec![(b"later".to_vec(), "x".into())])],
        limits: vec![10_000],
    };
    rt.block_on(async {
        let (streams, _clock) = fixture(&s).await;
        let request = |shard: &str| GetShardIterator::trim_horizon(stream(), shard);
        let mut texts = Vec::new();
        for shard in ["shardId-000000000000", "shardId-000000000001"] {
            let it = streams
                .get_shard_iterator(&ctx(), request(shard))
                .await
                .unwrap();
            let body = get_records_body(&it, 10_000);
            // The fast path on its own, called directly, against the server's entry point.
            let model = rheo_api_kinesis::model();
            let input =
                decode_request(model, model.operation("GetRecords").unwrap(), Protocol::Json, &body)
                    .unwrap();
            let direct = fast::get_records(&streams, &ctx(), &input).await.unwrap();
            let via_execute = executed(&streams, &body).await;
            assert_eq!(direct, via_execute);
            texts.push(String::from_utf8(direct).unwrap());
        }
        // The closed parent's one record and its children; the key's escapes as the encoder
        // writes them; the data as standard base64.
        let all = texts.concat();
        assert!(
            all.contains(r#""Data":"AP8iXA==","PartitionKey":"k\"\\\u0001é","EncryptionType":"KMS"}"#),
            "{all}"
        );
        assert!(
            texts[0].contains(r#""ChildShards":[{"ShardId":"shardId-000000000002","ParentShards":["shardId-000000000000"],"HashKeyRange":{"StartingHashKey":"0","EndingHashKey":""#),
            "{}",
            texts[0]
        );
    });
}

#[test]
fn cbor_get_records_still_uses_the_generic_encoder() {
    let rt = runtime();
    let s = Script {
        shards: 1,
        encryption: Encryption::Off,
        reshard: Reshard::None,
        before: vec![(1, vec![(b"cbor".to_vec(), "k".into())])],
        after: Vec::new(),
        limits: vec![10_000],
    };
    rt.block_on(async {
        let (streams, _clock) = fixture(&s).await;
        let it = streams
            .get_shard_iterator(
                &ctx(),
                GetShardIterator::trim_horizon(stream(), "shardId-000000000000"),
            )
            .await
            .unwrap();
        let mut body = Vec::new();
        ciborium::into_writer(
            &ciborium::Value::Map(vec![(
                ciborium::Value::Text("ShardIterator".into()),
                ciborium::Value::Text(it),
            )]),
            &mut body,
        )
        .unwrap();
        let answer = ops::execute(
            &streams,
            &ctx(),
            Operation::GetRecords,
            Protocol::Cbor,
            &body,
        )
        .await
        .unwrap();
        let v: ciborium::Value = ciborium::from_reader(&answer[..]).unwrap();
        let records = v
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_text() == Some("Records"))
            .unwrap()
            .1
            .as_array()
            .unwrap()
            .clone();
        let data = records[0]
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_text() == Some("Data"))
            .unwrap()
            .1
            .clone();
        // A CBOR byte string, not base64 text.
        assert_eq!(data.as_bytes().map(Vec::as_slice), Some(&b"cbor"[..]));
    });
}
