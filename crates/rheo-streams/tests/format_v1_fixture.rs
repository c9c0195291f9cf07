//! The data directory format of the first release must keep opening with every record intact.
//!
//! `tests/fixtures/format-v1/` is a data directory written by the code at the time the on-disk
//! format got its first version (journal segments without a file header, `.idx` version 1, the
//! file-per-key catalog). It was made by [`write_fixture`] below, with
//! `RHEO_WRITE_FIXTURE=crates/rheo-streams/tests/fixtures/format-v1 cargo test -p rheo-streams
//! --test format_v1_fixture`, and is never regenerated: newer code must open (or migrate) it. Its
//! `manifest.json` records what was acknowledged while it was written: every stream, shard,
//! parent, record (partition key, data, arrival time) in shard order.
//!
//! Sequence numbers are not compared as strings: they are derived from (shard, offset) and their
//! text form may change (AWS's are 56 digits); what must hold is the order within a shard and
//! that new records get numbers above every old one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use rheo_log::{FsyncPolicy, Store, StoreConfig};
use rheo_streams::clock::{Clock, ManualClock};
use rheo_streams::sequence::SequenceNumber;
use rheo_streams::types::*;
use rheo_streams::{Config, KinesisError, Streams};
use serde::{Deserialize, Serialize};

/// When the fixture's first record was written.
const T0: i64 = 1_700_000_000_000;
/// Small segments, so the fixture has many sealed segments with their `.idx` files.
const FIXTURE_SEGMENT_BYTES_MAX: u64 = 16 * 1024;

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct Manifest {
    /// The manual clock's time when the directory was closed.
    closed_at_ms: i64,
    streams: BTreeMap<String, StreamManifest>,
    /// Streams that existed and were deleted: they must stay gone.
    deleted: Vec<String>,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct StreamManifest {
    retention_hours: u32,
    tags: BTreeMap<String, String>,
    shards: BTreeMap<String, ShardManifest>,
}

#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct ShardManifest {
    parent: Option<String>,
    closed: bool,
    /// (partition key, data, arrival ms) in shard order.
    records: Vec<(String, String, i64)>,
}

fn ctx() -> Ctx {
    Ctx::in_region("us-east-1")
}

fn config() -> Config {
    Config {
        create_stream_ms: 100,
        delete_stream_ms: 100,
        update_stream_ms: 100,
        ..Config::default()
    }
}

fn open(dir: &Path, clock: &ManualClock, segment_bytes_max: u64) -> Streams {
    let store = Store::open(StoreConfig {
        dir: Some(dir.to_path_buf()),
        fsync: FsyncPolicy::Group,
        segment_bytes_max,
        ..StoreConfig::default()
    })
    .unwrap();
    Streams::open(config(), store, Arc::new(clock.clone())).unwrap()
}

async fn settle(s: &Streams, clock: &ManualClock) {
    clock.advance_ms(101);
    s.tick().await;
}

async fn create(s: &Streams, clock: &ManualClock, name: &str, shards: u32) {
    s.create_stream(&ctx(), CreateStream::provisioned(name, shards))
        .await
        .unwrap();
    settle(s, clock).await;
}

/// Puts `count` records in batches of 10 and notes each acknowledged one in `m`.
async fn put(
    s: &Streams,
    clock: &ManualClock,
    m: &mut StreamManifest,
    stream: &str,
    from: usize,
    count: usize,
) {
    let mut i = from;
    while i < from + count {
        let n = 10.min(from + count - i);
        let entries: Vec<PutEntry> = (i..i + n)
            .map(|k| PutEntry {
                // Lengths vary so frames do not all line up with block boundaries.
                data: Bytes::from(format!("{stream}-{k}-{}", "x".repeat(k % 97))),
                partition_key: format!("pk-{k}"),
                explicit_hash_key: None,
            })
            .collect();
        let now = clock.now_ms();
        let out = s
            .put_records(&ctx(), &StreamTarget::name(stream), entries.clone())
            .await
            .unwrap();
        assert_eq!(out.failed_count, 0);
        for (e, r) in entries.iter().zip(out.records) {
            let PutRecordsEntry::Ok(r) = r else {
                panic!("record refused while writing the fixture");
            };
            m.shards.entry(r.shard_id()).or_default().records.push((
                e.partition_key.clone(),
                String::from_utf8(e.data.to_vec()).unwrap(),
                now,
            ));
        }
        clock.advance_ms(7);
        i += n;
    }
}

/// Writes the fixture's history into `dir` and returns what was acknowledged.
async fn write_fixture(dir: &Path) -> Manifest {
    let clock = ManualClock::new(T0);
    let s = open(dir, &clock, FIXTURE_SEGMENT_BYTES_MAX);
    let mut manifest = Manifest::default();

    // Two shards, records interleaved with other streams' frames across many segments.
    create(&s, &clock, "alpha", 2).await;
    create(&s, &clock, "beta", 1).await;
    create(&s, &clock, "gamma", 1).await;
    let mut alpha = StreamManifest::default();
    let mut beta = StreamManifest::default();
    let mut gamma = StreamManifest::default();
    for round in 0..6 {
        put(&s, &clock, &mut alpha, "alpha", round * 100, 100).await;
        put(&s, &clock, &mut beta, "beta", round * 50, 50).await;
        put(&s, &clock, &mut gamma, "gamma", round * 10, 10).await;
    }

    // beta is split: its parent closes, two children take the rest.
    s.split_shard(
        &ctx(),
        &StreamTarget::name("beta"),
        "shardId-000000000000",
        "170141183460469231731687303715884105728",
    )
    .await
    .unwrap();
    settle(&s, &clock).await;
    put(&s, &clock, &mut beta, "beta", 300, 200).await;

    // gamma is deleted: a tombstone in the journal, its catalog entry gone.
    s.delete_stream(&ctx(), &StreamTarget::name("gamma"))
        .await
        .unwrap();
    settle(&s, &clock).await;
    manifest.deleted.push("gamma".into());
    drop(gamma);

    // delta carries the rest of the metadata: tags and a longer retention.
    create(&s, &clock, "delta", 1).await;
    s.add_tags(
        &ctx(),
        &StreamTarget::name("delta"),
        vec![
            ("team".into(), "storage".into()),
            ("env".into(), "ci".into()),
        ],
    )
    .await
    .unwrap();
    s.increase_retention(&ctx(), &StreamTarget::name("delta"), 48)
        .await
        .unwrap();
    settle(&s, &clock).await;
    let mut delta = StreamManifest::default();
    put(&s, &clock, &mut delta, "delta", 0, 40).await;

    for (name, mut m) in [("alpha", alpha), ("beta", beta), ("delta", delta)] {
        fill_metadata(&s, name, &mut m).await;
        manifest.streams.insert(name.into(), m);
    }
    s.store().sync().await.unwrap();
    manifest.closed_at_ms = clock.now_ms();
    manifest
}

/// Shard lineage, retention and tags as the domain reports them.
async fn fill_metadata(s: &Streams, name: &str, m: &mut StreamManifest) {
    let d = s
        .describe_stream(&ctx(), &StreamTarget::name(name), None, None)
        .await
        .unwrap();
    m.retention_hours = d.retention_hours;
    for sh in d.shards {
        let e = m.shards.entry(sh.shard_id.clone()).or_default();
        e.parent = sh.parent_shard_id.clone();
        e.closed = sh.ending_sequence_number.is_some();
    }
    let tags = s
        .list_tags(&ctx(), &StreamTarget::name(name), None, None)
        .await
        .unwrap();
    m.tags = tags.tags.into_iter().collect();
}

/// Everything in `shard` from its start, in order.
async fn read_shard(s: &Streams, stream: &str, shard: &str) -> Vec<Record> {
    let mut it = Some(
        s.get_shard_iterator(
            &ctx(),
            GetShardIterator::trim_horizon(StreamTarget::name(stream), shard),
        )
        .await
        .unwrap(),
    );
    let mut out = Vec::new();
    while let Some(token) = it {
        let r = s
            .get_records(&ctx(), &token, Some(100), None)
            .await
            .unwrap();
        if r.records.is_empty() && r.next_shard_iterator.is_some() {
            break;
        }
        out.extend(r.records);
        it = r.next_shard_iterator;
    }
    out
}

fn seq(r: &Record) -> SequenceNumber {
    SequenceNumber::parse(&r.sequence_number).unwrap()
}

/// Checks that the streams in `dir` hold exactly what `manifest` says, then that new records
/// get sequence numbers above every old one.
async fn verify(dir: &Path, manifest: &Manifest) {
    let clock = ManualClock::new(manifest.closed_at_ms + 60_000);
    let s = open(dir, &clock, rheo_log::DEFAULT_SEGMENT_BYTES_MAX);
    let mut found = Manifest {
        closed_at_ms: manifest.closed_at_ms,
        deleted: manifest.deleted.clone(),
        ..Manifest::default()
    };
    let mut last_seq = BTreeMap::new();
    for name in manifest.streams.keys() {
        let mut m = StreamManifest::default();
        fill_metadata(&s, name, &mut m).await;
        for (shard_id, sh) in m.shards.iter_mut() {
            let records = read_shard(&s, name, shard_id).await;
            let seqs: Vec<SequenceNumber> = records.iter().map(seq).collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "{name}/{shard_id}: sequence numbers out of order"
            );
            if let Some(last) = seqs.last() {
                last_seq.insert((name.clone(), shard_id.clone()), *last);
            }
            sh.records = records
                .into_iter()
                .map(|r| {
                    (
                        r.partition_key,
                        String::from_utf8(r.data.to_vec()).unwrap(),
                        r.arrival_ms,
                    )
                })
                .collect();
        }
        found.streams.insert(name.clone(), m);
    }
    assert_eq!(
        &found, manifest,
        "the data directory lost or changed records"
    );
    for name in &manifest.deleted {
        let err = s
            .describe_stream(&ctx(), &StreamTarget::name(name.as_str()), None, None)
            .await
            .unwrap_err();
        assert!(matches!(err, KinesisError::ResourceNotFound(_)), "{err:?}");
    }
    // New records land after the old ones in every open shard.
    for (name, m) in &manifest.streams {
        for (shard_id, sh) in &m.shards {
            if sh.closed {
                continue;
            }
            let Some(old) = last_seq.get(&(name.clone(), shard_id.clone())) else {
                continue;
            };
            let out = s
                .put_records(
                    &ctx(),
                    &StreamTarget::name(name.as_str()),
                    (0..200)
                        .map(|k| PutEntry {
                            data: Bytes::from_static(b"after"),
                            partition_key: format!("new-{k}"),
                            explicit_hash_key: None,
                        })
                        .collect(),
                )
                .await
                .unwrap();
            let mut saw_shard = false;
            for r in out.records {
                let PutRecordsEntry::Ok(r) = r else {
                    panic!("put after reopen refused");
                };
                if r.shard_id() == *shard_id {
                    saw_shard = true;
                    assert!(
                        r.sequence > *old,
                        "{name}/{shard_id}: a sequence number was handed out again"
                    );
                }
            }
            assert!(saw_shard, "200 keys never reached {name}/{shard_id}");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn format_v1_data_directory_opens_with_every_record() {
    let fixture = fixture_dir();
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(fixture.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.streams.len(), 3);
    assert!(
        std::fs::read_dir(fixture.join("data/journal"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".idx"))
            })
            .count()
            >= 5,
        "the fixture should hold several sealed segments"
    );
    // The checked-in copy stays untouched: opening may migrate, repair or write.
    let work = tempfile::tempdir().unwrap();
    copy_dir(&fixture.join("data"), work.path());
    verify(work.path(), &manifest).await;
}

/// Writing the fixture's history today and reading it back must give what was acknowledged.
/// With `RHEO_WRITE_FIXTURE=<dir>` the written directory and manifest are kept there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_history_written_today_reads_back() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let manifest = write_fixture(&data).await;
    let total: usize = manifest
        .streams
        .values()
        .flat_map(|m| m.shards.values())
        .map(|s| s.records.len())
        .sum();
    assert_eq!(total, 600 + 500 + 40);
    if let Ok(out) = std::env::var("RHEO_WRITE_FIXTURE") {
        let out = Path::new(&out);
        copy_dir(&data, &out.join("data"));
        let _ = std::fs::remove_file(out.join("data/LOCK"));
        std::fs::write(
            out.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest).unwrap(),
        )
        .unwrap();
    }
    let reopened = work.path().join("reopened");
    copy_dir(&data, &reopened);
    verify(&reopened, &manifest).await;
}
