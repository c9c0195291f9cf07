//! A stream deletion interrupted by a crash leaves nothing behind: the next open finishes it.
//!
//! The crash points are made by closing the store at each step of the deletion and doing the
//! steps that would have completed by hand (the engine's own crash tests cover torn writes):
//! DeleteStream persisted but nothing deleted; logs deleted but the metadata still there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use bytes::Bytes;
use rheo_log::LogId;
use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::KinesisError;

mod common;
use common::{ctx, open, store};

const T0: i64 = 1_700_000_000_000;

/// A stream "doomed" of 3 shards with records, and a stream "kept" beside it; then
/// DeleteStream("doomed") persisted (DELETING) and the store closed before it is due.
async fn delete_then_crash(dir: &Path, clock: &ManualClock) -> Vec<LogId> {
    let s = open(dir, clock);
    for (name, shards) in [("doomed", 3), ("kept", 1)] {
        s.create_stream(&ctx(), CreateStream::provisioned(name, shards))
            .await
            .unwrap();
    }
    clock.advance_ms(101);
    s.tick().await;
    for name in ["doomed", "kept"] {
        s.put_records(
            &ctx(),
            &StreamTarget::name(name),
            (0..50)
                .map(|i| PutEntry {
                    data: Bytes::from(format!("{name}-{i}")),
                    partition_key: format!("pk-{i}"),
                    explicit_hash_key: None,
                })
                .collect(),
        )
        .await
        .unwrap();
    }
    let all = s.store().log_ids();
    assert_eq!(all.len(), 4);
    s.delete_stream(&ctx(), &StreamTarget::name("doomed"))
        .await
        .unwrap();
    s.store().sync().await.unwrap();
    let doomed: Vec<LogId> = all.into_iter().take(3).collect();
    drop(s);
    doomed
}

async fn reopen_and_check(dir: &Path, clock: &ManualClock, doomed: &[LogId]) {
    let s = open(dir, clock);
    assert!(s.orphan_logs().is_empty(), "{:?}", s.orphan_logs());
    clock.advance_ms(101);
    s.tick().await;
    let err = s
        .describe_stream_summary(&ctx(), &StreamTarget::name("doomed"))
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::ResourceNotFound(_)), "{err:?}");
    let left = s.store().log_ids();
    for log in doomed {
        assert!(
            !left.contains(log),
            "log {log:?} of the deleted stream remains"
        );
    }
    assert_eq!(left.len(), 1, "the other stream's log stays: {left:?}");
    drop(s);
    // And the deletion stays complete: nothing reappears, nothing is orphaned.
    let s = open(dir, clock);
    assert!(s.orphan_logs().is_empty(), "{:?}", s.orphan_logs());
    assert_eq!(s.store().log_ids().len(), 1);
    let list = s
        .list_streams(&ctx(), ListStreams::default())
        .await
        .unwrap();
    assert_eq!(list.names, vec!["kept".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_delete_stream_before_any_step() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let doomed = delete_then_crash(dir.path(), &clock).await;
    reopen_and_check(dir.path(), &clock, &doomed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_logs_deleted_before_metadata_removed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let doomed = delete_then_crash(dir.path(), &clock).await;
    // The deletion's first step completed before the crash.
    let st = store(dir.path());
    for log in &doomed {
        st.delete_log(*log).await.unwrap();
    }
    drop(st);
    reopen_and_check(dir.path(), &clock, &doomed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_no_stream_names_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let st = store(dir.path());
    st.append(LogId(4242), T0, vec![Bytes::from_static(b"unaccounted")])
        .await
        .unwrap();
    drop(st);
    let s = open(dir.path(), &clock);
    assert_eq!(s.orphan_logs(), &[LogId(4242)]);
    clock.advance_ms(10_000);
    s.tick().await;
    assert_eq!(s.store().bounds(LogId(4242)).unwrap().end.0, 1);
}
