//! `rheo fsck --repair` of stream metadata (issue 12), on the disk engine: a flipped catalog entry is set aside and
//! its stream rebuilt under its own name from its logs; a deleted entry's logs become `recovered-<first log id>`.
//! Every record put before is read back with its partition key and arrival time, the other stream is untouched,
//! and new records get sequence numbers never used before.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use rheo_streams::clock::{Clock as _, ManualClock};
use rheo_streams::types::*;
use rheo_streams::{repair_metadata, MetaRepair, RepairOptions, Streams};

mod common;
use common::{catalog_file, ctx, open, read_all, store};

const N: usize = 10;
const T0: i64 = 1_700_000_000_000;
const MAX_HASH: &str = "340282366920938463463374607431768211455";

/// (data, partition key, arrival) of every record of the stream, from TRIM_HORIZON, sorted; and their sequence
/// numbers.
async fn read(s: &Streams, name: &str) -> (Vec<(Bytes, String, i64)>, BTreeSet<String>) {
    let records = read_all(s, name, 4).await;
    let seqs = records.iter().map(|r| r.sequence_number.clone()).collect();
    let mut got: Vec<_> = records
        .into_iter()
        .map(|r| (r.data, r.partition_key, r.arrival_ms))
        .collect();
    got.sort();
    (got, seqs)
}

/// A fresh directory with [`two_streams`] in it, and the clock they were written with.
async fn setup() -> (
    tempfile::TempDir,
    ManualClock,
    [Vec<(Bytes, String, i64)>; 2],
) {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let want = two_streams(d.path(), &clock).await;
    (d, clock, want)
}

/// "a" (1 shard) and "b" (2 shards, records in both), N records each at distinct times; returns what each holds.
async fn two_streams(dir: &Path, clock: &ManualClock) -> [Vec<(Bytes, String, i64)>; 2] {
    let s = open(dir, clock);
    for (name, shards) in [("a", 1), ("b", 2)] {
        s.create_stream(&ctx(), CreateStream::provisioned(name, shards))
            .await
            .unwrap();
        clock.advance_ms(101);
        s.tick().await;
        for i in 0..N {
            clock.advance_ms(7);
            s.put_record(
                &ctx(),
                &StreamTarget::name(name),
                PutEntry {
                    data: Bytes::from(format!("{name}-{i}")),
                    partition_key: format!("pk-{i}"),
                    explicit_hash_key: Some(if i % 2 == 0 { "0" } else { MAX_HASH }.into()),
                },
            )
            .await
            .unwrap();
        }
    }
    s.store().sync().await.unwrap();
    let a = read(&s, "a").await.0;
    let b = read(&s, "b").await.0;
    assert_eq!(a.len(), N);
    assert_eq!(b.len(), N);
    assert_eq!(s.store().log_ids().len(), 3);
    [a, b]
}

/// The journal repair, then the metadata repair, as `rheo fsck --repair` runs them.
fn fsck_repair(dir: &Path, clock: &ManualClock) -> Vec<String> {
    let done = run_repair(dir, clock);
    assert!(done.left.is_empty(), "{done:?}");
    done.actions
}

/// Both repairs, and what the metadata repair did and left.
fn run_repair(dir: &Path, clock: &ManualClock) -> MetaRepair {
    rheo_log::fsck::repair(dir).unwrap();
    repair_metadata(
        &store(dir),
        &RepairOptions {
            region: "us-east-1".into(),
            now_ms: clock.now_ms(),
        },
    )
    .unwrap()
}

/// After the repair fsck finds nothing: no damaged entry, no orphan log.
fn assert_clean(dir: &Path) {
    let r = rheo_log::fsck::check(dir).unwrap();
    assert!(r.is_clean(), "{r:?}");
    let logs: Vec<u64> = r.logs.iter().map(|l| l.log).collect();
    let meta = rheo_streams::check_catalog(&r.catalog_entries, &r.catalog, &logs);
    assert!(
        meta.damaged.is_empty() && meta.orphan_logs.is_empty(),
        "{meta:?}"
    );
}

/// `name` is served with every record of `want`, takes new records with fresh sequence numbers, and "a" is as it was.
async fn assert_recovered(
    dir: &Path,
    clock: &ManualClock,
    name: &str,
    want: &[Vec<(Bytes, String, i64)>; 2],
) {
    let s = open(dir, clock);
    assert!(s.damaged_metadata().is_empty());
    assert!(s.orphan_logs().is_empty(), "{:?}", s.orphan_logs());
    let names = s
        .list_streams(&ctx(), ListStreams::default())
        .await
        .unwrap()
        .names;
    assert_eq!(names, vec!["a".to_string(), name.to_string()]);
    let d = s
        .describe_stream(&ctx(), &StreamTarget::name(name), None, None)
        .await
        .unwrap();
    assert_eq!(d.status, rheo_streams::StreamStatus::Active);
    assert_eq!(d.mode, rheo_streams::StreamMode::Provisioned);
    assert_eq!(d.shards.len(), 2);
    assert!(d.retention_hours >= 24);
    let (got, seqs) = read(&s, name).await;
    assert_eq!(got, want[1], "every record, with its key and arrival time");
    assert_eq!(
        read(&s, "a").await.0,
        want[0],
        "the other stream is untouched"
    );
    // Retention (applied by tick) keeps them.
    clock.advance_ms(1000);
    s.tick().await;
    assert_eq!(read(&s, name).await.0, want[1]);
    for i in 0..4 {
        let r = s
            .put_record(
                &ctx(),
                &StreamTarget::name(name),
                PutEntry {
                    data: Bytes::from(format!("new-{i}")),
                    partition_key: format!("new-{i}"),
                    explicit_hash_key: None,
                },
            )
            .await
            .unwrap();
        assert!(
            !seqs.contains(&r.sequence.to_string()),
            "sequence number reused"
        );
    }
    let (after, seqs_after) = read(&s, name).await;
    assert_eq!(after.len(), N + 4);
    assert_eq!(seqs_after.len(), N + 4);
    // A new stream gets logs nobody used.
    let before: BTreeSet<_> = s.store().log_ids().into_iter().collect();
    s.create_stream(&ctx(), CreateStream::provisioned("fresh", 1))
        .await
        .unwrap();
    clock.advance_ms(101);
    s.tick().await;
    assert!(read(&s, "fresh").await.0.is_empty());
    s.put_record(
        &ctx(),
        &StreamTarget::name("fresh"),
        PutEntry {
            data: Bytes::from_static(b"fresh"),
            partition_key: "k".into(),
            explicit_hash_key: None,
        },
    )
    .await
    .unwrap();
    let fresh: Vec<_> = s
        .store()
        .log_ids()
        .into_iter()
        .filter(|l| !before.contains(l))
        .collect();
    assert_eq!(fresh.len(), 1);
    assert!(
        before.iter().all(|l| l.0 < fresh[0].0),
        "{fresh:?} {before:?}"
    );
    assert_eq!(read(&s, "fresh").await.0.len(), 1);
    drop(s);
    assert_clean(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_entry_is_quarantined_and_its_stream_rebuilt_under_its_name() {
    let (d, clock, want) = setup().await;
    let f = catalog_file(d.path(), "b");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes[20] ^= 0x04;
    std::fs::write(&f, &bytes).unwrap();
    clock.advance_ms(60_000);

    let text = fsck_repair(d.path(), &clock).join("\n");
    assert!(
        text.contains("quarantined damaged entry stream b (us-east-1)"),
        "{text}"
    );
    assert!(
        text.contains("adopted orphan logs 2,3 into stream b (us-east-1) with 2 shards"),
        "{text}"
    );
    // The damaged bytes are kept, beside the catalog.
    let kept = d
        .path()
        .join(rheo_log::QUARANTINE_DIR)
        .join(f.file_name().unwrap());
    assert_eq!(std::fs::read(kept).unwrap(), bytes);
    assert_recovered(d.path(), &clock, "b", &want).await;
    // A second repair has nothing to do.
    assert!(fsck_repair(d.path(), &clock).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_entry_logs_become_a_recovered_stream() {
    let (d, clock, want) = setup().await;
    std::fs::remove_file(catalog_file(d.path(), "b")).unwrap();
    clock.advance_ms(60_000);

    let text = fsck_repair(d.path(), &clock).join("\n");
    let adopted = "adopted orphan logs 2,3 into stream recovered-2 (us-east-1) with 2 shards";
    assert!(text.contains(adopted), "{text}");
    assert_recovered(d.path(), &clock, "recovered-2", &want).await;
    assert!(fsck_repair(d.path(), &clock).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_of_a_newer_version_stops_the_repair_before_any_write() {
    let (d, clock, _) = setup().await;
    {
        let st = store(d.path());
        let key = "stream/us-east-1/b";
        let mut doc: serde_json::Value =
            serde_json::from_slice(&st.catalog_get(key).unwrap().unwrap()).unwrap();
        doc["v"] = serde_json::json!(2);
        st.catalog_put(key, &serde_json::to_vec(&doc).unwrap())
            .unwrap();
    }
    let before = std::fs::read(catalog_file(d.path(), "b")).unwrap();
    let done = run_repair(d.path(), &clock);
    assert!(done.actions.is_empty(), "{done:?}");
    assert_eq!(done.left.len(), 1);
    assert!(done.left[0].contains("newer build"), "{done:?}");
    assert_eq!(std::fs::read(catalog_file(d.path(), "b")).unwrap(), before);
    assert!(!d.path().join(rheo_log::QUARANTINE_DIR).exists());
}
