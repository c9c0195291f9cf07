//! Unit tests of the disk engine: recovery of each corruption shape, index files, retention, tombstones, group
//! commit and sticky poisoning (through injected storage faults).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::storage::Faults;
use crate::{AppendError, FsyncPolicy, LogBounds, LogId, Offset, OpenError, Store, StoreConfig};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn cfg(dir: &Path, seg: u64) -> StoreConfig {
    StoreConfig {
        dir: Some(dir.to_path_buf()),
        fsync: FsyncPolicy::Group,
        segment_bytes_max: seg,
        direct_io: true,
        recent_bytes_max: crate::DEFAULT_RECENT_BYTES_MAX,
        relocate_bytes_max: crate::DEFAULT_RELOCATE_BYTES_MAX,
        writer_queue_bytes_max: crate::WRITER_QUEUE_BYTES_MAX_DEFAULT,
    }
}

fn p(i: u64) -> Bytes {
    Bytes::from(format!("payload-{i:06}"))
}

fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join("journal").join(format!("{seq:020}.seg"))
}

fn idx_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join("journal").join(format!("{seq:020}.idx"))
}

fn all(s: &Store, log: u64) -> Vec<(u64, Bytes)> {
    s.read_blocking(LogId(log), Offset(0), usize::MAX, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| (e.offset.0, e.payload))
        .collect()
}

/// Appends `n` single-entry frames to log 1 (timestamps 1000+i) and returns the store.
fn fill(dir: &Path, seg: u64, n: u64) -> Store {
    let s = Store::open(cfg(dir, seg)).unwrap();
    let r = rt();
    for i in 0..n {
        r.block_on(s.append(LogId(1), 1000 + i as i64, vec![p(i)]))
            .unwrap();
    }
    s
}

fn expect_prefix(dir: &Path, n: u64) {
    expect_prefix_above(dir, n, None);
}

/// Bytes before the first data frame of a fresh store's first segment: the segment header frame and the first
/// append's reservation frame.
fn lead() -> u64 {
    crate::frame::HEADER_LEN as u64 + 60
}

/// Like [`expect_prefix`] after recovery dropped bytes: the next append gets an offset at or above `acked` (every
/// offset handed out before), never one of theirs again.
fn expect_prefix_above(dir: &Path, n: u64, acked: Option<u64>) {
    let s = Store::open(cfg(dir, 1 << 20)).unwrap();
    let got = all(&s, 1);
    assert_eq!(got.len() as u64, n);
    for (i, (off, b)) in got.iter().enumerate() {
        assert_eq!((*off, b.clone()), (i as u64, p(i as u64)));
    }
    // The store keeps working after recovery, appending right after the valid data.
    let a = rt().block_on(s.append(LogId(1), 0, vec![p(999)])).unwrap();
    match acked {
        None => assert_eq!(a.first, Offset(n)),
        Some(acked) => assert!(
            a.first.0 >= acked,
            "{:?} reuses an offset below {acked}",
            a.first
        ),
    }
    assert_eq!(all(&s, 1).last().map(|e| e.1.clone()), Some(p(999)));
}

fn frame_len() -> u64 {
    crate::frame::data_frame_len(&[p(0)])
}

#[test]
fn reopen_preserves_everything() {
    let d = tempfile::tempdir().unwrap();
    drop(fill(d.path(), 1 << 20, 50));
    expect_prefix(d.path(), 50);
}

#[test]
fn recovery_truncated_header() {
    let d = tempfile::tempdir().unwrap();
    drop(fill(d.path(), 1 << 20, 5));
    let f = OpenOptions::new()
        .append(true)
        .open(seg_path(d.path(), 1))
        .unwrap();
    let mut partial = Vec::new();
    crate::frame::encode(&mut partial, crate::frame::Kind::Data, 1, 5, 0, &[p(5)]);
    (&f).write_all(&partial[..20]).unwrap();
    expect_prefix_above(d.path(), 5, Some(5));
    // The append after recovery needed a new reservation (60 bytes): the jump above the old one.
    assert_eq!(
        fs::metadata(seg_path(d.path(), 1)).unwrap().len(),
        lead() + 6 * frame_len() + 60
    );
}

#[test]
fn recovery_truncated_body() {
    let d = tempfile::tempdir().unwrap();
    drop(fill(d.path(), 1 << 20, 5));
    let f = OpenOptions::new()
        .write(true)
        .open(seg_path(d.path(), 1))
        .unwrap();
    f.set_len(lead() + 5 * frame_len() - 3).unwrap();
    expect_prefix_above(d.path(), 4, Some(5));
}

#[test]
fn recovery_bad_crc() {
    let d = tempfile::tempdir().unwrap();
    drop(fill(d.path(), 1 << 20, 5));
    let path = seg_path(d.path(), 1);
    let mut b = fs::read(&path).unwrap();
    let last = b.len() - 2;
    b[last] ^= 0xff;
    fs::write(&path, b).unwrap();
    expect_prefix_above(d.path(), 4, Some(5));
}

#[test]
fn recovery_garbage_after_valid_frames() {
    let d = tempfile::tempdir().unwrap();
    drop(fill(d.path(), 1 << 20, 5));
    let f = OpenOptions::new()
        .append(true)
        .open(seg_path(d.path(), 1))
        .unwrap();
    (&f).write_all(b"this is not a frame at all, just some junk bytes that follow the data")
        .unwrap();
    expect_prefix_above(d.path(), 5, Some(5));
}

#[test]
fn recovery_zero_filled_tail() {
    let d = tempfile::tempdir().unwrap();
    drop(fill(d.path(), 1 << 20, 5));
    let f = OpenOptions::new()
        .write(true)
        .open(seg_path(d.path(), 1))
        .unwrap();
    f.set_len(lead() + 5 * frame_len() + 4096).unwrap();
    expect_prefix_above(d.path(), 5, Some(5));
}

#[test]
fn sealed_segments_get_idx_files_and_missing_or_corrupt_idx_is_rebuilt() {
    let d = tempfile::tempdir().unwrap();
    let s = fill(d.path(), 10 * frame_len(), 35);
    assert!(s.stats().segments >= 4, "{:?}", s.stats());
    drop(s);
    assert!(idx_path(d.path(), 1).exists());
    assert!(idx_path(d.path(), 2).exists());
    fs::remove_file(idx_path(d.path(), 1)).unwrap();
    let mut b = fs::read(idx_path(d.path(), 2)).unwrap();
    b[10] ^= 1;
    fs::write(idx_path(d.path(), 2), b).unwrap();
    let s = Store::open(cfg(d.path(), 10 * frame_len())).unwrap();
    assert_eq!(all(&s, 1).len(), 35);
    drop(s);
    // Both were rewritten and are valid again.
    for seq in [1, 2] {
        let b = fs::read(idx_path(d.path(), seq)).unwrap();
        assert!(crate::index::decode_idx(&b).is_ok());
    }
    expect_prefix(d.path(), 35);
}

#[test]
fn open_reads_idx_for_sealed_segments() {
    let d = tempfile::tempdir().unwrap();
    drop(fill(d.path(), 10 * frame_len(), 35));
    // Corrupt the *body* of sealed segment 1 after its idx was written: open must trust the idx (not scan), and
    // the damage shows up only when that frame is read.
    let path = seg_path(d.path(), 1);
    let mut b = fs::read(&path).unwrap();
    let at = (lead() + frame_len() * 3 + 50) as usize;
    b[at] ^= 0xff;
    fs::write(&path, b).unwrap();
    let s = Store::open(cfg(d.path(), 10 * frame_len())).unwrap();
    assert_eq!(s.bounds(LogId(1)).unwrap().end, Offset(35));
    assert!(s.read_blocking(LogId(1), Offset(3), 1, usize::MAX).is_err());
    assert_eq!(
        s.read_blocking(LogId(1), Offset(20), 100, usize::MAX)
            .unwrap()
            .len(),
        15
    );
}

#[test]
fn retention_deletes_whole_segments_and_survives_restart() {
    let d = tempfile::tempdir().unwrap();
    let seg = 10 * frame_len();
    // The prefix rule alone, as this test is about it: with reclamation on, the GC round after log 1's trim may
    // (depending on when it runs) copy log 2's entry forward before log 2's own trim, and a time trim is not
    // durable, so after the restart that entry would be visible again (start 0). Reclamation: tests/reclaim.rs.
    let cfg = |d: &Path, seg: u64| StoreConfig {
        relocate_bytes_max: 0,
        ..cfg(d, seg)
    };
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    // Log 2 has a single old entry in segment 1: once it is trimmed too, the segment can go.
    rt().block_on(s.append(LogId(2), 500, vec![p(7)])).unwrap();
    for i in 0..45u64 {
        rt().block_on(s.append(LogId(1), 1000 + i as i64, vec![p(i)]))
            .unwrap();
    }
    let before = s.stats().segments;
    s.trim_blocking(LogId(1), 1000 + 25).unwrap();
    assert_eq!(s.bounds(LogId(1)).unwrap().start, Offset(25));
    assert_eq!(
        s.read_blocking(LogId(1), Offset(0), 1, usize::MAX).unwrap()[0].offset,
        Offset(25)
    );
    s.trim_blocking(LogId(2), 501).unwrap();
    rt().block_on(s.sync()).unwrap();
    // GC runs on the writer thread; wait for it.
    for _ in 0..200 {
        if s.stats().segments < before {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(s.stats().segments < before, "{:?}", s.stats());
    assert!(!seg_path(d.path(), 1).exists());
    assert_eq!(
        s.read_blocking(LogId(1), Offset(25), usize::MAX, usize::MAX)
            .unwrap()
            .len(),
        20
    );
    drop(s);
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    let b = s.bounds(LogId(1)).unwrap();
    assert!(b.start.0 <= 25 && b.end == Offset(45), "{b:?}");
    // Log 2 lost all its data but keeps its offsets (watermark): the next append continues at 1.
    assert_eq!(
        s.bounds(LogId(2)).unwrap(),
        LogBounds {
            start: Offset(1),
            end: Offset(1),
            last_timestamp_ms: Some(500)
        }
    );
    assert_eq!(
        rt().block_on(s.append(LogId(2), 0, vec![p(8)]))
            .unwrap()
            .first,
        Offset(1)
    );
}

#[test]
fn tombstone_deletes_durably() {
    let d = tempfile::tempdir().unwrap();
    let s = fill(d.path(), 10 * frame_len(), 25);
    let r = rt();
    r.block_on(s.append(LogId(2), 5, vec![p(1)])).unwrap();
    r.block_on(s.delete_log(LogId(1))).unwrap();
    assert_eq!(
        s.bounds(LogId(1)).unwrap(),
        LogBounds {
            start: Offset(0),
            end: Offset(0),
            last_timestamp_ms: None
        }
    );
    assert!(all(&s, 1).is_empty());
    // Re-created log starts fresh.
    assert_eq!(
        r.block_on(s.append(LogId(1), 1, vec![p(42)]))
            .unwrap()
            .first,
        Offset(0)
    );
    drop(s);
    let s = Store::open(cfg(d.path(), 10 * frame_len())).unwrap();
    assert_eq!(all(&s, 1), vec![(0, p(42))]);
    assert_eq!(all(&s, 2), vec![(0, p(1))]);
    assert_eq!(s.log_ids(), vec![LogId(1), LogId(2)]);
}

#[test]
fn sticky_poisoning_after_failed_sync() {
    let d = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let s = Store::open_with_faults(cfg(d.path(), 1 << 20), faults.clone()).unwrap();
    let r = rt();
    r.block_on(s.append(LogId(1), 1, vec![p(0)])).unwrap();
    faults.fail_sync_at.store(1, Ordering::SeqCst);
    assert!(matches!(
        r.block_on(s.append(LogId(1), 1, vec![p(1)])),
        Err(AppendError::Io(_))
    ));
    // The fault is cleared but the store must not pretend: every later append is refused.
    faults.fail_sync_at.store(0, Ordering::SeqCst);
    assert_eq!(
        r.block_on(s.append(LogId(1), 1, vec![p(2)])),
        Err(AppendError::Poisoned)
    );
    assert_eq!(
        r.block_on(s.delete_log(LogId(1))),
        Err(AppendError::Poisoned)
    );
    // Reads still serve what was acknowledged.
    assert_eq!(all(&s, 1), vec![(0, p(0))]);
    drop(s);
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    assert_eq!(
        r.block_on(s.append(LogId(1), 1, vec![p(3)]))
            .map(|a| a.count),
        Ok(1)
    );
}

#[test]
fn sticky_poisoning_after_failed_write() {
    let d = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let s = Store::open_with_faults(cfg(d.path(), 1 << 20), faults.clone()).unwrap();
    let r = rt();
    faults.fail_write_at.store(2, Ordering::SeqCst);
    r.block_on(s.append(LogId(1), 1, vec![p(0)])).unwrap();
    assert!(matches!(
        r.block_on(s.append(LogId(1), 1, vec![p(1)])),
        Err(AppendError::Io(_))
    ));
    let many =
        r.block_on(s.append_many(vec![(LogId(1), 1, vec![p(2)]), (LogId(2), 1, vec![p(3)])]));
    assert_eq!(
        many,
        vec![Err(AppendError::Poisoned), Err(AppendError::Poisoned)]
    );
    assert_eq!(s.bounds(LogId(1)).unwrap().end, Offset(1));
}

#[test]
fn group_commit_groups_concurrent_appends() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(d.path(), 1 << 30)).unwrap();
    let r = rt();
    let logs = 8u64;
    let per_task = 50u64;
    r.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..64u64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let mut acks = Vec::new();
                for i in 0..per_task {
                    let log = LogId(t % logs);
                    acks.push((log, s.append(log, 0, vec![p(i), p(i + 1)]).await.unwrap()));
                }
                acks
            }));
        }
        let mut per_log: std::collections::HashMap<LogId, Vec<u64>> = Default::default();
        for t in tasks {
            for (log, a) in t.await.unwrap() {
                per_log
                    .entry(log)
                    .or_default()
                    .extend([a.first.0, a.first.0 + 1]);
            }
        }
        for (log, mut offs) in per_log {
            offs.sort_unstable();
            let n = offs.len() as u64;
            assert_eq!(
                offs,
                (0..n).collect::<Vec<_>>(),
                "log {log:?} offsets not dense/unique"
            );
            assert_eq!(s.bounds(log).unwrap().end, Offset(n));
        }
    });
    let st = s.stats();
    assert_eq!(st.appends, 64 * per_task);
    assert!(st.fsyncs < st.appends, "no grouping: {st:?}");
}

#[test]
fn policies_all_persist_after_sync() {
    for pol in [
        FsyncPolicy::Always,
        FsyncPolicy::Never,
        FsyncPolicy::Interval(std::time::Duration::from_millis(5)),
    ] {
        let d = tempfile::tempdir().unwrap();
        let c = StoreConfig {
            dir: Some(d.path().to_path_buf()),
            fsync: pol,
            segment_bytes_max: 1 << 20,
            direct_io: true,
            recent_bytes_max: 0,
            relocate_bytes_max: crate::DEFAULT_RELOCATE_BYTES_MAX,
            writer_queue_bytes_max: crate::WRITER_QUEUE_BYTES_MAX_DEFAULT,
        };
        let s = Store::open(c.clone()).unwrap();
        let r = rt();
        for i in 0..10 {
            r.block_on(s.append(LogId(3), 1, vec![p(i)])).unwrap();
        }
        r.block_on(s.sync()).unwrap();
        if pol == FsyncPolicy::Always {
            assert!(s.stats().fsyncs >= 10);
        }
        drop(s);
        let s = Store::open(c).unwrap();
        assert_eq!(all(&s, 3).len(), 10, "{pol}");
    }
}

#[test]
fn reads_across_segments_with_interleaved_logs_and_seek() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(d.path(), 4096)).unwrap();
    let r = rt();
    for i in 0..300u64 {
        r.block_on(s.append(LogId(i % 3), i as i64, vec![p(i)]))
            .unwrap();
    }
    for log in 0..3u64 {
        let got = all(&s, log);
        assert_eq!(got.len(), 100);
        assert!(got
            .iter()
            .enumerate()
            .all(|(k, (off, b))| *off == k as u64 && *b == p(k as u64 * 3 + log)));
        // Consecutive small reads (uses the read hint).
        let mut at = 0;
        while at < 100 {
            let e = s
                .read_blocking(LogId(log), Offset(at), 7, usize::MAX)
                .unwrap();
            assert_eq!(e[0].offset, Offset(at));
            at += e.len() as u64;
        }
    }
    assert_eq!(
        s.seek_timestamp_blocking(LogId(1), 150).unwrap(),
        Offset(50)
    ); // i = 151 is the first >= 150 of log 1
    assert_eq!(s.seek_timestamp_blocking(LogId(1), -5).unwrap(), Offset(0));
    assert_eq!(
        s.seek_timestamp_blocking(LogId(1), 10_000).unwrap(),
        Offset(100)
    );
    drop(s);
    let s = Store::open(cfg(d.path(), 4096)).unwrap();
    assert_eq!(
        s.seek_timestamp_blocking(LogId(2), 150).unwrap(),
        Offset(50)
    ); // i = 152
    assert_eq!(all(&s, 0).len(), 100);
}

#[test]
fn catalog_on_disk_survives_reopen() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    s.catalog_put("stream/a", b"{}").unwrap();
    drop(s);
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    assert_eq!(s.catalog_get("stream/a").unwrap(), Some(b"{}".to_vec()));
    assert_eq!(s.catalog_list("stream/").unwrap().len(), 1);
}

#[test]
fn fuzz_recover_handles_hostile_inputs() {
    crate::fuzz_recover(&[]);
    crate::fuzz_recover(&[0xff; 100]);
    let mut f = Vec::new();
    crate::frame::encode(
        &mut f,
        crate::frame::Kind::Data,
        1,
        u64::MAX - 1,
        0,
        &[p(1), p(2)],
    );
    crate::fuzz_recover(&f);
    let mut g = Vec::new();
    crate::frame::encode(&mut g, crate::frame::Kind::Tombstone, 1, 0, 0, &[]);
    g.extend_from_slice(&f);
    crate::fuzz_recover(&g);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        dir: Some(dir.path().to_path_buf()),
        ..StoreConfig::default()
    };
    let first = Store::open(config.clone()).unwrap();
    assert!(matches!(
        Store::open(config.clone()),
        Err(OpenError::Locked(_))
    ));
    drop(first);
    Store::open(config).unwrap();
}

/// In the durable policies an idle writer zeroes blocks ahead of the end (direct mode); a clean
/// shutdown cuts them off again, and everything written reads back before and after.
#[test]
fn idle_writer_prezeroes_a_runway_that_clean_shutdown_removes() {
    let d = tempfile::tempdir().unwrap();
    let s = fill(d.path(), 1 << 30, 10);
    let logical = 10 * frame_len();
    let path = seg_path(d.path(), 1);
    let mut waited = 0;
    while fs::metadata(&path).unwrap().len() < logical + 256 * 1024 && waited < 100 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        waited += 1;
    }
    let on_disk = fs::metadata(&path).unwrap().len();
    // Where the file system refuses O_DIRECT there is no runway and nothing else changes.
    if on_disk != logical {
        assert!(on_disk >= logical + 256 * 1024, "runway only {on_disk}");
        assert_eq!(on_disk % 4096, 0);
    }
    let r = rt();
    r.block_on(s.append(LogId(1), 2000, vec![p(10)])).unwrap();
    assert_eq!(all(&s, 1).len(), 11);
    drop(s);
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        lead() + 11 * frame_len()
    );
    expect_prefix(d.path(), 11);
}

/// `wait_in_flight` returns at once unless entries at `from` are appended but unpublished; then
/// it waits for the writer's publish, or its deadline, or poisoning. The in-flight state is set
/// up by hand so the test does not depend on how fast the disk is.
#[test]
fn readers_wait_for_entries_in_flight_until_published() {
    use super::DiskStore;
    let d = tempfile::tempdir().unwrap();
    let s = Arc::new(DiskStore::open(&cfg(d.path(), 1 << 20), d.path(), None).unwrap());
    let r = rt();
    r.block_on(s.append(LogId(1), 1, crate::Batch::from_payloads(&[p(0)])))
        .unwrap();
    let wait = |from: u64, max_ms: u64| {
        let s = s.clone();
        r.spawn(async move {
            s.wait_in_flight(
                LogId(1),
                Offset(from),
                std::time::Duration::from_millis(max_ms),
            )
            .await
        })
    };
    let done_soon = |h: tokio::task::JoinHandle<()>| {
        r.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(10), h).await })
            .expect("wait_in_flight did not return")
            .unwrap();
    };
    // Nothing in flight: visible offsets, the tip, beyond the tip.
    for from in [0, 1, 7] {
        done_soon(wait(from, 600_000));
    }
    // Offset 1 appended, its group not yet published.
    s.shared.state.lock().logs.get_mut(&1).unwrap().next = 2;
    assert_eq!(s.shared.waiting_readers.load(Ordering::SeqCst), 0);
    let waiting = wait(1, 600_000);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        !waiting.is_finished(),
        "returned while its entry was in flight"
    );
    // Counted while it waits, so a leading appender knows to let it answer first.
    assert_eq!(s.shared.waiting_readers.load(Ordering::SeqCst), 1);
    // A publish that does not cover it (another log's group) keeps it waiting.
    s.shared.published.notify_waiters();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        !waiting.is_finished(),
        "woke for another group and returned"
    );
    s.shared.state.lock().logs.get_mut(&1).unwrap().end = 2;
    s.shared.published.notify_waiters();
    done_soon(waiting);
    assert_eq!(s.shared.waiting_readers.load(Ordering::SeqCst), 0);
    // Still in flight when the deadline passes: returns anyway.
    s.shared.state.lock().logs.get_mut(&1).unwrap().next = 3;
    done_soon(wait(2, 20));
    assert_eq!(
        s.shared.waiting_readers.load(Ordering::SeqCst),
        0,
        "a timed-out reader stays counted"
    );
    // A poisoned store will never publish: no waiting.
    s.shared.poisoned.store(true, Ordering::SeqCst);
    done_soon(wait(2, 600_000));
}

/// Waits for the writer thread's GC to bring the segment count below `before`.
fn wait_segments_below(s: &Store, before: u64) {
    for _ in 0..300 {
        if s.stats().segments < before {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn offset_trim_is_durable_through_scan_and_idx() {
    let d = tempfile::tempdir().unwrap();
    let seg = 10 * frame_len();
    let r = rt();
    // Log 2 keeps segment 1 alive, so log 1's trimmed data stays on disk and only the trim frame hides it.
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    r.block_on(s.append(LogId(2), 1, vec![p(0)])).unwrap();
    for i in 0..25u64 {
        r.block_on(s.append(LogId(1), 1000 + i as i64, vec![p(i)]))
            .unwrap();
    }
    r.block_on(s.trim_to_offset(LogId(1), Offset(7))).unwrap();
    assert_eq!(s.bounds(LogId(1)).unwrap().start, Offset(7));
    assert_eq!(all(&s, 1).first().map(|e| e.0), Some(7));
    // Backwards and unknown logs: no-ops. Past the end: clamped.
    r.block_on(s.trim_to_offset(LogId(1), Offset(3))).unwrap();
    r.block_on(s.trim_to_offset(LogId(9), Offset(3))).unwrap();
    assert_eq!(s.bounds(LogId(1)).unwrap().start, Offset(7));
    assert!(!s.log_ids().contains(&LogId(9)));
    drop(s);
    // The trim frame is in the active segment (scanned at open).
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    assert_eq!(s.bounds(LogId(1)).unwrap().start, Offset(7));
    assert_eq!(all(&s, 1).len(), 18);
    // Seal it: the trim now lives in an `.idx` (version 2, flag bit 2).
    for i in 25..45u64 {
        r.block_on(s.append(LogId(1), 1000 + i as i64, vec![p(i)]))
            .unwrap();
    }
    r.block_on(s.trim_to_offset(LogId(1), Offset(30))).unwrap();
    for i in 45..60u64 {
        r.block_on(s.append(LogId(1), 1000 + i as i64, vec![p(i)]))
            .unwrap();
    }
    drop(s);
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    let b = s.bounds(LogId(1)).unwrap();
    assert_eq!((b.start, b.end), (Offset(30), Offset(60)));
    assert_eq!(all(&s, 1).first().map(|e| e.0), Some(30));
    assert_eq!(all(&s, 2), vec![(0, p(0))]);
    drop(s);
    // Without the `.idx` files the segments are scanned: the same.
    for e in fs::read_dir(d.path().join("journal")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "idx") {
            fs::remove_file(e.path()).unwrap();
        }
    }
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    assert_eq!(s.bounds(LogId(1)).unwrap().start, Offset(30));
    assert_eq!(
        r.block_on(s.append(LogId(1), 0, vec![p(60)]))
            .unwrap()
            .first,
        Offset(60)
    );
}

#[test]
fn offset_trim_to_the_end_reclaims_and_keeps_offsets() {
    let d = tempfile::tempdir().unwrap();
    let seg = 10 * frame_len();
    let r = rt();
    let s = fill(d.path(), seg, 45);
    let before = s.stats().segments;
    r.block_on(s.trim_to_offset(LogId(1), Offset(u64::MAX)))
        .unwrap();
    assert_eq!(s.bounds(LogId(1)).unwrap().start, Offset(45));
    assert!(all(&s, 1).is_empty());
    wait_segments_below(&s, before);
    assert!(s.stats().segments < before, "{:?}", s.stats());
    assert!(!seg_path(d.path(), 1).exists());
    drop(s);
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    let b = s.bounds(LogId(1)).unwrap();
    assert_eq!((b.start, b.end), (Offset(45), Offset(45)));
    assert_eq!(b.last_timestamp_ms, Some(1044));
    assert_eq!(
        r.block_on(s.append(LogId(1), 0, vec![p(45)]))
            .unwrap()
            .first,
        Offset(45)
    );
}

#[test]
fn delete_after_offset_trim_forgets_the_trim() {
    let d = tempfile::tempdir().unwrap();
    let r = rt();
    let s = fill(d.path(), 1 << 20, 10);
    r.block_on(s.trim_to_offset(LogId(1), Offset(5))).unwrap();
    r.block_on(s.delete_log(LogId(1))).unwrap();
    r.block_on(s.append(LogId(1), 1, vec![p(0), p(1)])).unwrap();
    drop(s);
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    assert_eq!(all(&s, 1), vec![(0, p(0)), (1, p(1))]);
    // A repeated trim at an offset already trimmed is only a sync.
    r.block_on(s.trim_to_offset(LogId(1), Offset(1))).unwrap();
    r.block_on(s.trim_to_offset(LogId(1), Offset(1))).unwrap();
    drop(s);
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    assert_eq!(all(&s, 1), vec![(1, p(1))]);
}

#[test]
fn offset_trim_fails_on_a_poisoned_store() {
    let d = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let s = Store::open_with_faults(cfg(d.path(), 1 << 20), faults.clone()).unwrap();
    let r = rt();
    r.block_on(s.append(LogId(1), 1, vec![p(0), p(1)])).unwrap();
    faults.fail_write_at.store(1, Ordering::SeqCst);
    faults.fail_sync_at.store(1, Ordering::SeqCst);
    assert!(matches!(
        r.block_on(s.trim_to_offset(LogId(1), Offset(1))),
        Err(AppendError::Io(_))
    ));
    assert_eq!(
        r.block_on(s.trim_to_offset(LogId(1), Offset(2))),
        Err(AppendError::Poisoned)
    );
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn cold_reads_run_on_the_blocking_pool_and_match_the_synchronous_path() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    let r = current_thread();
    for i in 0..50u64 {
        r.block_on(s.append(LogId(1), 1000 + i as i64, vec![p(i), p(1000 + i)]))
            .unwrap();
    }
    // Tip read: answered from the recent cache, no hop.
    let before = s.stats().blocking_reads;
    let tip = r
        .block_on(s.read(LogId(1), Offset(90), 100, usize::MAX))
        .unwrap();
    assert_eq!(tip.len(), 10);
    assert_eq!(s.stats().blocking_reads, before);
    drop(s);
    // Reopened: the recent cache is empty, so every read goes to the files.
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    let want = s
        .read_blocking(LogId(1), Offset(3), 40, usize::MAX)
        .unwrap();
    assert_eq!(want.len(), 40);
    let before = s.stats().blocking_reads;
    let got = r
        .block_on(s.read(LogId(1), Offset(3), 40, usize::MAX))
        .unwrap();
    assert_eq!(got, want);
    assert_eq!(got[0].offset, Offset(3));
    assert_eq!(got[0].payload, p(1001));
    assert_eq!(s.stats().blocking_reads, before + 1);
    let at = r.block_on(s.seek_timestamp(LogId(1), 1010)).unwrap();
    assert_eq!(at, Offset(20));
    assert_eq!(s.stats().blocking_reads, before + 2);
    let all_async = r
        .block_on(s.read(LogId(1), Offset(0), usize::MAX, usize::MAX))
        .unwrap();
    let all_sync: Vec<(u64, Bytes)> = all_async
        .into_iter()
        .map(|e| (e.offset.0, e.payload))
        .collect();
    assert_eq!(all_sync, all(&s, 1));
}

// Holding the gate across awaits is the point: it stands for a disk that does not answer, and the
// runtime's only thread must keep serving other tasks meanwhile.
#[allow(clippy::await_holding_lock)]
#[test]
fn a_stalled_cold_read_does_not_stop_other_tasks_on_a_current_thread_runtime() {
    let d = tempfile::tempdir().unwrap();
    {
        let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
        for i in 0..10u64 {
            rt().block_on(s.append(LogId(1), 1000 + i as i64, vec![p(i)]))
                .unwrap();
        }
    }
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    let r = current_thread();
    r.block_on(async {
        // The "disk" is stuck until the gate opens.
        let gate = s.read_gate().unwrap().lock();
        let reader = {
            let s = s.clone();
            tokio::spawn(async move { s.read(LogId(1), Offset(0), 100, usize::MAX).await })
        };
        // Other tasks (here: an append and a tip read of another log) still run to completion
        // on the only runtime thread while the cold read is stalled.
        let ack = s.append(LogId(2), 5, vec![p(77)]).await.unwrap();
        let tip = s.read(LogId(2), ack.first, 10, usize::MAX).await.unwrap();
        assert_eq!(tip[0].payload, p(77));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!reader.is_finished());
        drop(gate);
        let got = reader.await.unwrap().unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(got[9].payload, p(9));
    });
}

/// A store whose writer queue holds at most `bound` bytes.
fn bounded_queue_store(dir: &Path, bound: u64) -> Store {
    Store::open(StoreConfig {
        writer_queue_bytes_max: bound,
        ..cfg(dir, 1 << 20)
    })
    .unwrap()
}

#[test]
fn a_tiny_writer_queue_bound_admits_every_append_in_order_and_is_kept() {
    const BOUND: u64 = 4096;
    const TASKS: u64 = 16;
    const PER_TASK: u64 = 40;
    let d = tempfile::tempdir().unwrap();
    let s = bounded_queue_store(d.path(), BOUND);
    let body = |t: u64, i: u64| Bytes::from(format!("{t:03}-{i:06}-{}", "x".repeat(700)));
    let r = rt();
    let largest = r.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    s.append(LogId(t % 4), 0, vec![body(t, i)]).await.unwrap();
                }
            }));
        }
        // One request larger than the whole bound is admitted too (once the queue is empty).
        let big = s
            .append(
                LogId(9),
                0,
                vec![Bytes::from(vec![7u8; 3 * BOUND as usize])],
            )
            .await
            .unwrap();
        assert_eq!(big.count, 1);
        for t in tasks {
            t.await.unwrap();
        }
        // Frame header and entry length prefixes included, generously.
        3 * BOUND + 256
    });
    let stats = s.stats();
    assert!(stats.writer_queue_bytes_peak > 0);
    assert!(
        stats.writer_queue_bytes_peak <= BOUND + largest,
        "peak {} over bound {BOUND} + one request {largest}",
        stats.writer_queue_bytes_peak
    );
    for log in 0..4u64 {
        let mut next = vec![0u64; TASKS as usize];
        for (_, payload) in all(&s, log) {
            let text = std::str::from_utf8(&payload).unwrap();
            let t: u64 = text[0..3].parse().unwrap();
            let i: u64 = text[4..10].parse().unwrap();
            assert_eq!(t % 4, log);
            assert_eq!(i, next[t as usize], "task {t} out of order in log {log}");
            next[t as usize] += 1;
        }
        for t in (0..TASKS).filter(|t| t % 4 == log) {
            assert_eq!(next[t as usize], PER_TASK, "task {t} lost appends");
        }
    }
    assert_eq!(all(&s, 9).len(), 1);
}

#[test]
fn the_writer_queue_peak_stays_within_the_bound_for_small_requests() {
    // Requests all below the bound: the queue never holds more than the bound itself.
    const BOUND: u64 = 8192;
    let d = tempfile::tempdir().unwrap();
    let s = bounded_queue_store(d.path(), BOUND);
    let r = rt();
    r.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..50u64 {
                    let batch = vec![Bytes::from(vec![t as u8; 1000]), p(i)];
                    s.append_many(vec![(LogId(t), 0, batch)]).await[0]
                        .as_ref()
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let peak = s.stats().writer_queue_bytes_peak;
    assert!(peak > 0 && peak <= BOUND, "peak {peak}");
    for t in 0..8u64 {
        assert_eq!(all(&s, t).len(), 100);
    }
}
