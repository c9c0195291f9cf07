//! Data plane through the SDK: PutRecord/PutRecords routing, all five iterator types, GetRecords.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, Record, ShardIteratorType};
use aws_sdk_kinesis::Client;
use aws_smithy_types::DateTime;

use crate::harness::{stream_arn, Server, ACCOUNT};
use crate::util::*;

async fn iterator(
    client: &Client,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
    ts: Option<DateTime>,
) -> String {
    client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind.clone())
        .set_starting_sequence_number(seq.map(str::to_string))
        .set_timestamp(ts)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get_shard_iterator {kind:?}: {e:?}"))
        .shard_iterator()
        .expect("ShardIterator")
        .to_string()
}

/// Reads with GetRecords until a page comes back empty; returns everything read and the last iterator.
async fn drain(client: &Client, mut it: String) -> (Vec<Record>, Option<String>) {
    let mut out = Vec::new();
    for _ in 0..50 {
        let page = client
            .get_records()
            .shard_iterator(&it)
            .send()
            .await
            .unwrap();
        out.extend(page.records().iter().cloned());
        match page.next_shard_iterator() {
            Some(next) => it = next.to_string(),
            None => return (out, None),
        }
        if page.records().is_empty() {
            return (out, Some(it));
        }
    }
    panic!("GetRecords never returned an empty page");
}

fn data_of(r: &Record) -> &[u8] {
    r.data().as_ref()
}

#[tokio::test]
async fn put_record_routes_by_md5_and_round_trips() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "events", 4).await;
    let shards = list_all_shards(&client, "events").await;
    assert_eq!(shards.len(), 4);

    let mut written: HashMap<String, Vec<(String, String, Vec<u8>)>> = HashMap::new();
    let start = DateTime::from(SystemTime::now()).as_secs_f64();
    for i in 0..24 {
        let key = format!("user-{i}");
        let data = format!("payload {i} \u{e9}\0\u{ff}").into_bytes();
        let out = client
            .put_record()
            .stream_name("events")
            .partition_key(&key)
            .data(Blob::new(data.clone()))
            .send()
            .await
            .unwrap();
        let expected = owning_shard(&shards, md5_hash_key(&key));
        assert_eq!(out.shard_id(), expected, "routing of partition key {key}");
        let per_shard = written.entry(expected).or_default();
        if let Some((_, prev, _)) = per_shard.last() {
            assert!(
                seq_lt(prev, out.sequence_number()),
                "sequence numbers must increase within a shard: {prev} then {}",
                out.sequence_number()
            );
        }
        per_shard.push((key, out.sequence_number().to_string(), data));
    }
    let end = DateTime::from(SystemTime::now()).as_secs_f64();
    assert!(
        written.len() > 1,
        "24 keys should hit more than one of 4 shards"
    );

    // ExplicitHashKey overrides the partition key's hash.
    let explicit = client
        .put_record()
        .stream_name("events")
        .partition_key("ignored-for-routing")
        .explicit_hash_key(MAX_HASH.to_string())
        .data(Blob::new(b"last shard".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(explicit.shard_id(), shard_id(3));

    for (shard, records) in &written {
        let it = iterator(
            &client,
            "events",
            shard,
            ShardIteratorType::TrimHorizon,
            None,
            None,
        )
        .await;
        let (read, next) = drain(&client, it).await;
        assert!(next.is_some(), "open shard must keep returning an iterator");
        let read: Vec<&Record> = if shard == &shard_id(3) {
            // Drop the explicit-hash record, checked below.
            read.iter()
                .filter(|r| r.partition_key() != Some("ignored-for-routing"))
                .collect()
        } else {
            read.iter().collect()
        };
        assert_eq!(read.len(), records.len(), "record count in {shard}");
        for (r, (key, seq, data)) in read.iter().zip(records) {
            assert_eq!(r.partition_key(), Some(key.as_str()));
            assert_eq!(r.sequence_number(), seq);
            assert_eq!(data_of(r), data.as_slice());
            let at = r
                .approximate_arrival_timestamp()
                .expect("ApproximateArrivalTimestamp")
                .as_secs_f64();
            assert!(
                at >= start - 1.0 && at <= end + 1.0,
                "arrival {at} outside [{start}, {end}]"
            );
        }
    }
    let it = iterator(
        &client,
        "events",
        &shard_id(3),
        ShardIteratorType::AtSequenceNumber,
        Some(explicit.sequence_number()),
        None,
    )
    .await;
    let page = client
        .get_records()
        .shard_iterator(it)
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.records().len(), 1);
    assert_eq!(
        page.records()[0].sequence_number(),
        explicit.sequence_number()
    );
    assert_eq!(data_of(&page.records()[0]), b"last shard");
}

#[tokio::test]
async fn put_records_reports_per_record_results() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "batch", 3).await;
    let shards = list_all_shards(&client, "batch").await;

    let keys: Vec<String> = (0..30).map(|i| format!("k{i:03}")).collect();
    let mut entries: Vec<PutRecordsRequestEntry> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            PutRecordsRequestEntry::builder()
                .partition_key(k)
                .data(Blob::new(vec![i as u8; i + 1]))
                .build()
                .unwrap()
        })
        .collect();
    // One record routed by an explicit hash key into the first shard.
    entries.push(
        PutRecordsRequestEntry::builder()
            .partition_key("explicit")
            .explicit_hash_key("0")
            .data(Blob::new(b"to shard 0".to_vec()))
            .build()
            .unwrap(),
    );
    let out = client
        .put_records()
        .stream_name("batch")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    assert_eq!(out.failed_record_count(), Some(0));
    assert_eq!(
        out.records().len(),
        31,
        "one result per request entry, in order"
    );
    let mut last_seq: HashMap<&str, &str> = HashMap::new();
    for (i, res) in out.records().iter().enumerate() {
        assert!(res.error_code().is_none() && res.error_message().is_none());
        let shard = res.shard_id().expect("ShardId on a successful entry");
        let seq = res
            .sequence_number()
            .expect("SequenceNumber on a successful entry");
        let expected = if i < 30 {
            owning_shard(&shards, md5_hash_key(&keys[i]))
        } else {
            shard_id(0)
        };
        assert_eq!(shard, expected, "routing of entry {i}");
        if let Some(prev) = last_seq.insert(shard, seq) {
            assert!(
                seq_lt(prev, seq),
                "entries in one shard are ordered as sent"
            );
        }
    }

    // Read one shard back and match it to the per-record results.
    let target = out.records()[0].shard_id().unwrap().to_string();
    let it = iterator(
        &client,
        "batch",
        &target,
        ShardIteratorType::TrimHorizon,
        None,
        None,
    )
    .await;
    let (read, _) = drain(&client, it).await;
    let expected: Vec<(usize, &str)> = out
        .records()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.shard_id() == Some(target.as_str()))
        .map(|(i, r)| (i, r.sequence_number().unwrap()))
        .collect();
    assert_eq!(read.len(), expected.len());
    for (r, (i, seq)) in read.iter().zip(expected) {
        assert_eq!(r.sequence_number(), seq);
        if i < 30 {
            assert_eq!(r.partition_key(), Some(keys[i].as_str()));
            assert_eq!(data_of(r), vec![i as u8; i + 1].as_slice());
        } else {
            assert_eq!(r.partition_key(), Some("explicit"));
        }
    }
}

#[tokio::test]
async fn stream_arn_addressing_and_ordering() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "by-arn", 2).await;
    let arn = stream_arn("by-arn");

    let first = client
        .put_record()
        .stream_arn(&arn)
        .partition_key("same-key")
        .data(Blob::new(b"one".to_vec()))
        .send()
        .await
        .unwrap();
    // SequenceNumberForOrdering: the new record must sort after the given one.
    let second = client
        .put_record()
        .stream_arn(&arn)
        .partition_key("same-key")
        .sequence_number_for_ordering(first.sequence_number())
        .data(Blob::new(b"two".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(first.shard_id(), second.shard_id());
    assert!(seq_lt(first.sequence_number(), second.sequence_number()));
    let batch = client
        .put_records()
        .stream_arn(&arn)
        .records(
            PutRecordsRequestEntry::builder()
                .partition_key("same-key")
                .data(Blob::new(b"three".to_vec()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.failed_record_count(), Some(0));
    assert_eq!(batch.records()[0].shard_id(), Some(first.shard_id()));

    let it = client
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(first.shard_id())
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let page = client
        .get_records()
        .stream_arn(&arn)
        .shard_iterator(it.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    let data: Vec<&[u8]> = page.records().iter().map(data_of).collect();
    assert_eq!(data, [&b"one"[..], b"two", b"three"]);
    let shards = client.list_shards().stream_arn(&arn).send().await.unwrap();
    assert_eq!(shards.shards().len(), 2);
    assert_eq!(
        first.shard_id(),
        owning_shard(shards.shards(), md5_hash_key("same-key"))
    );
}

#[tokio::test]
async fn all_five_iterator_types() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "iters", 1).await;
    let shard = shard_id(0);

    // LATEST taken before anything is written sees only later records.
    let latest_before = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::Latest,
        None,
        None,
    )
    .await;
    let empty = client
        .get_records()
        .shard_iterator(&latest_before)
        .send()
        .await
        .unwrap();
    assert!(empty.records().is_empty());
    assert_eq!(empty.millis_behind_latest(), Some(0));
    assert!(empty.child_shards().is_empty());

    let mut seqs = Vec::new();
    for i in 0..3 {
        let out = client
            .put_record()
            .stream_name("iters")
            .partition_key("pk")
            .data(Blob::new(format!("early-{i}").into_bytes()))
            .send()
            .await
            .unwrap();
        seqs.push(out.sequence_number().to_string());
    }
    // Separate two groups in time so AT_TIMESTAMP has a clean boundary.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let boundary = DateTime::from(SystemTime::now());
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..2 {
        let out = client
            .put_record()
            .stream_name("iters")
            .partition_key("pk")
            .data(Blob::new(format!("late-{i}").into_bytes()))
            .send()
            .await
            .unwrap();
        seqs.push(out.sequence_number().to_string());
    }
    let names = |rs: &[Record]| -> Vec<String> {
        rs.iter()
            .map(|r| String::from_utf8(data_of(r).to_vec()).unwrap())
            .collect()
    };

    // The iterator taken before the writes now yields all five.
    let (read, _) = drain(&client, empty.next_shard_iterator().unwrap().to_string()).await;
    assert_eq!(
        names(&read),
        ["early-0", "early-1", "early-2", "late-0", "late-1"]
    );

    let it = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::TrimHorizon,
        None,
        None,
    )
    .await;
    let (read, _) = drain(&client, it).await;
    assert_eq!(
        names(&read),
        ["early-0", "early-1", "early-2", "late-0", "late-1"]
    );
    let got: Vec<&str> = read.iter().map(|r| r.sequence_number()).collect();
    assert_eq!(got, seqs);

    let it = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::AtSequenceNumber,
        Some(&seqs[1]),
        None,
    )
    .await;
    let (read, _) = drain(&client, it).await;
    assert_eq!(names(&read), ["early-1", "early-2", "late-0", "late-1"]);

    let it = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::AfterSequenceNumber,
        Some(&seqs[1]),
        None,
    )
    .await;
    let (read, _) = drain(&client, it).await;
    assert_eq!(names(&read), ["early-2", "late-0", "late-1"]);

    let it = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::AtTimestamp,
        None,
        Some(boundary),
    )
    .await;
    let (read, _) = drain(&client, it).await;
    assert_eq!(names(&read), ["late-0", "late-1"]);

    let long_ago = DateTime::from_secs(DateTime::from(SystemTime::now()).secs() - 3600);
    let it = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::AtTimestamp,
        None,
        Some(long_ago),
    )
    .await;
    let (read, _) = drain(&client, it).await;
    assert_eq!(read.len(), 5);

    let it = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::Latest,
        None,
        None,
    )
    .await;
    let page = client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .unwrap();
    assert!(page.records().is_empty(), "LATEST skips existing records");

    // Limit caps a page; the next iterator continues right after it.
    let it = iterator(
        &client,
        "iters",
        &shard,
        ShardIteratorType::TrimHorizon,
        None,
        None,
    )
    .await;
    let p1 = client
        .get_records()
        .shard_iterator(it)
        .limit(2)
        .send()
        .await
        .unwrap();
    assert_eq!(names(p1.records()), ["early-0", "early-1"]);
    assert!(p1.millis_behind_latest().is_some());
    let p2 = client
        .get_records()
        .shard_iterator(p1.next_shard_iterator().unwrap())
        .limit(2)
        .send()
        .await
        .unwrap();
    assert_eq!(names(p2.records()), ["early-2", "late-0"]);

    // A shard index past the stream's shards does not exist (no trailing period in AWS's text).
    let (err, _) = service_error(
        client
            .get_shard_iterator()
            .stream_name("iters")
            .shard_id(shard_id(5))
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception());
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!(
            "Shard {} in stream iters under account {ACCOUNT} does not exist",
            shard_id(5)
        ),
    );
}
