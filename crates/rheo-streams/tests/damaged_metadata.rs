//! One stream's damaged metadata does not stop the others (issue 12), on the disk engine: a flipped byte in one
//! catalog file, an unknown metadata version, a deleted entry, damaged or foreign file names. The damaged stream is
//! refused by name and never overwritten, every other stream is served, and new streams get log ids nobody used.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rheo_log::LogId;
use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::{KinesisError, Streams};

mod common;
use common::{catalog_file, ctx, key, open, read_all, store};

const N: usize = 12;

fn data(name: &str, i: usize) -> Bytes {
    Bytes::from(format!("{name}-record-{i:04}"))
}

async fn create(s: &Streams, clock: &ManualClock, name: &str, shards: u32) {
    s.create_stream(
        &ctx(),
        CreateStream {
            name: name.into(),
            shard_count: Some(shards),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    clock.advance_ms(101);
    s.tick().await;
}

async fn put(s: &Streams, name: &str, i: usize) -> Result<(), KinesisError> {
    s.put_record(
        &ctx(),
        &StreamTarget::name(name),
        PutEntry {
            data: data(name, i),
            partition_key: "pk".into(),
            // b's records all go to its first shard: its second keeps a reserved log that holds nothing.
            explicit_hash_key: (name == "b").then(|| "0".to_string()),
        },
    )
    .await
    .map(|_| ())
}

/// Every record of every shard of the stream, from TRIM_HORIZON.
async fn read(s: &Streams, name: &str) -> Vec<Bytes> {
    read_all(s, name, 5)
        .await
        .into_iter()
        .map(|r| r.data)
        .collect()
}

async fn listed(s: &Streams) -> Vec<String> {
    s.list_streams(&ctx(), ListStreams::default())
        .await
        .unwrap()
        .names
}

/// Streams "a", "c" and "b" (2 shards, records in the first) with N records each, then closed. Log ids: a 1,
/// c 2, b 3 and 4 (4 reserved but holding nothing, so in no log list).
async fn three_streams(dir: &Path, clock: &ManualClock) -> Vec<LogId> {
    let s = open(dir, clock);
    for (name, shards) in [("a", 1), ("c", 1), ("b", 2)] {
        create(&s, clock, name, shards).await;
        for i in 0..N {
            put(&s, name, i).await.unwrap();
        }
    }
    s.store().sync().await.unwrap();
    let logs = s.store().log_ids();
    assert_eq!(logs, vec![LogId(1), LogId(2), LogId(3)]);
    logs
}

fn want(name: &str) -> Vec<Bytes> {
    (0..N).map(|i| data(name, i)).collect()
}

/// The refusal every operation naming an isolated stream answers.
fn assert_damaged(e: KinesisError, name: &str) {
    match e {
        KinesisError::ResourceInUse(m) => {
            assert!(m.contains(&format!("Stream {name} ")), "{m}");
            assert!(
                m.contains("metadata is damaged") && m.contains("rheo fsck"),
                "{m}"
            );
        }
        other => panic!("expected ResourceInUse for {name}, got {other:?}"),
    }
}

/// Every operation naming `name` is refused with the damage, and CreateStream does not overwrite its entry.
async fn assert_refused(s: &Streams, dir: &Path, name: &str) {
    let before = std::fs::read(catalog_file(dir, name)).unwrap();
    let t = StreamTarget::name(name);
    assert_damaged(
        s.describe_stream_summary(&ctx(), &t).await.unwrap_err(),
        name,
    );
    assert_damaged(
        s.describe_stream(&ctx(), &t, None, None).await.unwrap_err(),
        name,
    );
    assert_damaged(put(s, name, 99).await.unwrap_err(), name);
    assert_damaged(
        s.get_shard_iterator(
            &ctx(),
            GetShardIterator {
                target: t.clone(),
                shard_id: "shardId-000000000000".into(),
                kind: IteratorType::TrimHorizon,
                starting_sequence_number: None,
                timestamp_ms: None,
            },
        )
        .await
        .unwrap_err(),
        name,
    );
    assert_damaged(s.delete_stream(&ctx(), &t).await.unwrap_err(), name);
    let arn = s.stream_arn("us-east-1", "000000000000", name);
    assert_damaged(
        s.describe_stream_summary(
            &ctx(),
            &StreamTarget {
                name: None,
                arn: Some(arn),
            },
        )
        .await
        .unwrap_err(),
        name,
    );
    assert_damaged(
        s.create_stream(
            &ctx(),
            CreateStream {
                name: name.into(),
                shard_count: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
        name,
    );
    assert_eq!(
        std::fs::read(catalog_file(dir, name)).unwrap(),
        before,
        "nothing is written over a damaged entry"
    );
}

/// "a" and "c" are served normally: described ACTIVE, their records read back, new records taken.
async fn assert_others_fine(s: &Streams) {
    for name in ["a", "c"] {
        let d = s
            .describe_stream_summary(&ctx(), &StreamTarget::name(name))
            .await
            .unwrap();
        assert_eq!(d.status, rheo_streams::StreamStatus::Active);
        assert_eq!(read(s, name).await, want(name));
        put(s, name, N).await.unwrap();
        let mut w = want(name);
        w.push(data(name, N));
        assert_eq!(read(s, name).await, w);
    }
}

/// A new stream "d" gets log ids above every one used before, and sees only its own records.
async fn assert_new_stream_isolated(s: &Streams, clock: &ManualClock, floor: u64) {
    let before: BTreeSet<LogId> = s.store().log_ids().into_iter().collect();
    create(s, clock, "d", 2).await;
    assert!(read(s, "d").await.is_empty(), "a new stream sees no record");
    for i in 0..N {
        put(s, "d", i).await.unwrap();
    }
    assert_eq!(read(s, "d").await, want("d"));
    let fresh: Vec<LogId> = s
        .store()
        .log_ids()
        .into_iter()
        .filter(|l| !before.contains(l))
        .collect();
    assert_eq!(fresh.len(), 1, "d's records went to one new log");
    let max_before = before.iter().map(|l| l.0).max().unwrap_or(0);
    assert!(
        fresh[0].0 > max_before && fresh[0].0 >= floor,
        "{fresh:?} vs {max_before}/{floor}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_byte_in_one_catalog_file_isolates_that_stream_only() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let logs = three_streams(d.path(), &clock).await;
    let f = catalog_file(d.path(), "b");
    let mut b = std::fs::read(&f).unwrap();
    b[20] ^= 0x04;
    std::fs::write(&f, &b).unwrap();

    let s = open(d.path(), &clock);
    assert_eq!(listed(&s).await, vec!["a", "c"]);
    let damaged = s.damaged_metadata();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0].name.as_deref(), Some("b"));
    assert_eq!(damaged[0].key.as_deref(), Some(key("b").as_str()));
    assert!(damaged[0].reason.contains("crc mismatch"), "{damaged:?}");
    // b's log with records is data no readable metadata names.
    assert_eq!(s.orphan_logs(), &[LogId(3)]);
    assert!(logs.contains(&s.orphan_logs()[0]));
    assert_refused(&s, d.path(), "b").await;
    assert_others_fine(&s).await;
    // The counter is intact: above b's reserved but empty log 4 too, though no log list shows that one.
    assert_new_stream_isolated(&s, &clock, 5).await;
    drop(s);

    // Still isolated after another restart; what was created meanwhile persists.
    let s = open(d.path(), &clock);
    assert_eq!(listed(&s).await, vec!["a", "c", "d"]);
    assert_eq!(s.damaged_metadata().len(), 1);
    assert_refused(&s, d.path(), "b").await;
    assert_eq!(read(&s, "d").await, want("d"));
    assert_eq!(std::fs::read(&f).unwrap(), b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_counter_and_metadata_make_new_log_ids_skip_far_ahead() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    three_streams(d.path(), &clock).await;
    for f in [
        catalog_file(d.path(), "b"),
        d.path().join("catalog").join(format!(
            "k{}",
            "counter/next-log-id"
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )),
    ] {
        let mut b = std::fs::read(&f).unwrap();
        b[4] ^= 0x01;
        std::fs::write(&f, &b).unwrap();
    }
    let s = open(d.path(), &clock);
    assert_eq!(listed(&s).await, vec!["a", "c"]);
    assert_refused(&s, d.path(), "b").await;
    assert_others_fine(&s).await;
    // b may name reserved logs that hold nothing and the counter cannot say how far ids went.
    assert_new_stream_isolated(&s, &clock, 1 << 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_metadata_version_is_isolated_and_missing_version_reads_as_1() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    three_streams(d.path(), &clock).await;
    {
        let st = store(d.path());
        let mut doc: serde_json::Value =
            serde_json::from_slice(&st.catalog_get(&key("b")).unwrap().unwrap()).unwrap();
        doc["v"] = serde_json::json!(2);
        st.catalog_put(&key("b"), &serde_json::to_vec(&doc).unwrap())
            .unwrap();
        // Data from before the version was checked may lack it: version 1.
        let mut doc: serde_json::Value =
            serde_json::from_slice(&st.catalog_get(&key("c")).unwrap().unwrap()).unwrap();
        doc.as_object_mut().unwrap().remove("v");
        st.catalog_put(&key("c"), &serde_json::to_vec(&doc).unwrap())
            .unwrap();
    }
    let s = open(d.path(), &clock);
    assert_eq!(listed(&s).await, vec!["a", "c"]);
    let damaged = s.damaged_metadata();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0].name.as_deref(), Some("b"));
    assert!(
        damaged[0].reason.contains("unknown metadata version 2"),
        "{damaged:?}"
    );
    assert_refused(&s, d.path(), "b").await;
    assert_others_fine(&s).await;
    assert_new_stream_isolated(&s, &clock, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_entry_leaves_its_logs_orphaned_and_the_others_fine() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let before = three_streams(d.path(), &clock).await;
    let b_logs = {
        let s = open(d.path(), &clock);
        let all = s.store().log_ids();
        assert_eq!(all, before);
        drop(s);
        std::fs::remove_file(catalog_file(d.path(), "b")).unwrap();
        let s = open(d.path(), &clock);
        s.orphan_logs().to_vec()
    };
    assert_eq!(b_logs.len(), 1, "b's log with records: {b_logs:?}");
    let s = open(d.path(), &clock);
    assert_eq!(s.orphan_logs(), &b_logs[..]);
    assert!(s.damaged_metadata().is_empty());
    assert_eq!(listed(&s).await, vec!["a", "c"]);
    // Nothing says b existed: it is unknown, and may be made anew, on fresh logs that hold none of its records.
    assert!(matches!(
        s.describe_stream_summary(&ctx(), &StreamTarget::name("b"))
            .await
            .unwrap_err(),
        KinesisError::ResourceNotFound(_)
    ));
    assert_others_fine(&s).await;
    create(&s, &clock, "b", 1).await;
    assert!(read(&s, "b").await.is_empty());
    put(&s, "b", 0).await.unwrap();
    assert_eq!(read(&s, "b").await, vec![data("b", 0)]);
    // The orphan is kept, untouched.
    assert_eq!(
        s.store().bounds(b_logs[0]).unwrap().end.0,
        N as u64,
        "orphaned records are kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_garbage_file_names_are_reported_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    three_streams(d.path(), &clock).await;
    let f = catalog_file(d.path(), "b");
    let name = f.file_name().unwrap().to_str().unwrap().to_string();
    let truncated = name[..name.len() - 1].to_string();
    std::fs::rename(&f, d.path().join("catalog").join(&truncated)).unwrap();
    std::fs::write(d.path().join("catalog").join("garbage"), b"???").unwrap();

    let s = open(d.path(), &clock);
    assert_eq!(listed(&s).await, vec!["a", "c"]);
    let mut files: Vec<String> = s
        .damaged_metadata()
        .iter()
        .map(|m| {
            assert_eq!(m.name, None, "{m:?}");
            assert!(m.reason.contains("undecodable file name"), "{m:?}");
            m.file.clone().unwrap()
        })
        .collect();
    files.sort();
    assert_eq!(files, vec!["garbage".to_string(), truncated.clone()]);
    assert_others_fine(&s).await;
    // An unknown entry may name logs that hold nothing yet; the counter is intact, so ids continue from it.
    assert_new_stream_isolated(&s, &clock, 5).await;
    // Neither file is touched.
    assert!(d.path().join("catalog").join(&truncated).exists());
    assert_eq!(
        std::fs::read(d.path().join("catalog").join("garbage")).unwrap(),
        b"???"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_hashed_entry_is_not_overwritten_by_create() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    // Long enough that its catalog file is named by a hash of the key (the name is inside the file).
    let long = "l".repeat(100);
    {
        let s = open(d.path(), &clock);
        for name in ["a", long.as_str(), "c"] {
            create(&s, &clock, name, 1).await;
            for i in 0..N {
                put(&s, name, i).await.unwrap();
            }
        }
        s.store().sync().await.unwrap();
    }
    let hashed: Vec<PathBuf> = std::fs::read_dir(d.path().join("catalog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with('h'))
        .collect();
    assert_eq!(hashed.len(), 1);
    let mut b = std::fs::read(&hashed[0]).unwrap();
    b[9] ^= 0x40;
    std::fs::write(&hashed[0], &b).unwrap();

    let s = open(d.path(), &clock);
    assert_eq!(listed(&s).await, vec!["a", "c"]);
    assert_eq!(s.damaged_metadata().len(), 1);
    assert_eq!(
        s.damaged_metadata()[0].name,
        None,
        "a hashed name hides its key"
    );
    assert_others_fine(&s).await;
    let err = s
        .create_stream(
            &ctx(),
            CreateStream {
                name: long.clone(),
                shard_count: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_damaged(err, &long);
    assert_eq!(std::fs::read(&hashed[0]).unwrap(), b);
}
