//! Corruption shapes (issue 12): each damages a stopped store's journal, then checks that every acknowledged entry
//! outside the damaged range is still served, the damaged range is refused with an error naming it, offsets are
//! not handed out again, the other log is served, fsck reports the damage and repair makes the log readable past it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::rt;
use rheo_log::{fsck, FsyncPolicy, LogId, Offset, ReadError, Store, StoreConfig};

const N: u64 = 60;
const SEG_BYTES: u64 = 20 * 64;

fn cfg(dir: &Path) -> StoreConfig {
    StoreConfig {
        dir: Some(dir.to_path_buf()),
        fsync: FsyncPolicy::Group,
        segment_bytes_max: SEG_BYTES,
        direct_io: true,
        recent_bytes_max: rheo_log::DEFAULT_RECENT_BYTES_MAX,
        relocate_bytes_max: rheo_log::DEFAULT_RELOCATE_BYTES_MAX,
        writer_queue_bytes_max: rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT,
    }
}

fn payload(log: u64, i: u64) -> Bytes {
    Bytes::from(format!("log{log}-entry-{i:06}"))
}

fn seg(dir: &Path, seq: u64) -> PathBuf {
    dir.join("journal").join(format!("{seq:020}.seg"))
}

fn idx(dir: &Path, seq: u64) -> PathBuf {
    dir.join("journal").join(format!("{seq:020}.idx"))
}

/// Logs 1 and 2, `N` single-entry appends each, interleaved (1, 2, 1, 2, ...).
fn fill(dir: &Path) {
    let s = Store::open(cfg(dir)).unwrap();
    let r = rt();
    for i in 0..N {
        for log in [1, 2] {
            let a = r
                .block_on(s.append(LogId(log), 1000 + i as i64, vec![payload(log, i)]))
                .unwrap();
            assert_eq!(a.first, Offset(i));
        }
    }
}

/// Frames of a segment: (position, length, log, base).
fn frames(path: &Path) -> Vec<(usize, usize, u64, u64)> {
    let b = fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 44 <= b.len() {
        let len = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap()) as usize + 12;
        let log = u64::from_le_bytes(b[pos + 16..pos + 24].try_into().unwrap());
        let base = u64::from_le_bytes(b[pos + 24..pos + 32].try_into().unwrap());
        out.push((pos, len, log, base));
        pos += len;
    }
    out
}

fn segments(dir: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = fs::read_dir(dir.join("journal"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.strip_suffix(".seg").map(|s| s.parse().unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Flips a byte in the body of the frame at `pos` (the header stays readable).
fn flip_body(path: &Path, pos: usize) {
    let mut b = fs::read(path).unwrap();
    b[pos + 50] ^= 0x5a;
    fs::write(path, b).unwrap();
}

/// Reads `log` front to back like a consumer: entries served (checked against what was written) and the damaged
/// ranges refused, each named by its error.
fn read_all(s: &Store, log: u64) -> (Vec<u64>, Vec<(u64, u64)>) {
    let end = s.bounds(LogId(log)).unwrap().end.0;
    let (mut ok, mut damaged) = (Vec::new(), Vec::new());
    let mut from = 0;
    while from < end {
        match s.read_blocking(LogId(log), Offset(from), 7, usize::MAX) {
            Ok(es) => {
                let Some(last) = es.last() else {
                    break;
                };
                from = last.offset.0 + 1;
                for e in es {
                    assert_eq!(e.payload, payload(log, e.offset.0), "log {log}");
                    ok.push(e.offset.0);
                }
            }
            Err(ReadError::Damaged {
                log: l,
                from: a,
                to: b,
                ..
            }) => {
                assert_eq!(l, log);
                assert!(a <= from && from < b, "{a}..{b} names {from}");
                damaged.push((a, b));
                from = b;
            }
            Err(e) => panic!("log {log} at {from}: {e}"),
        }
    }
    (ok, damaged)
}

fn expect_all_but(s: &Store, log: u64, lost: &[u64]) -> Vec<(u64, u64)> {
    let (ok, damaged) = read_all(s, log);
    let want: Vec<u64> = (0..N).filter(|o| !lost.contains(o)).collect();
    assert_eq!(
        ok, want,
        "log {log}: every entry outside the damage is served"
    );
    for (a, b) in &damaged {
        assert!(
            (*a..*b).all(|o| lost.contains(&o)),
            "damage {a}..{b} wider than {lost:?}"
        );
    }
    damaged
}

/// After the damage: no offset handed out again, fsck reports, repair makes the log readable past the damage.
fn after_damage(dir: &Path, log: u64, lost: &[u64]) {
    {
        let s = Store::open(cfg(dir)).expect("a damaged store still opens");
        let damaged = expect_all_but(&s, log, lost);
        assert!(
            !damaged.is_empty(),
            "the damaged range is refused with a named error"
        );
        expect_all_but(&s, 3 - log, &[]);
        assert!(s.corruption_events() >= 1);
        for l in [1, 2] {
            let a = rt()
                .block_on(s.append(LogId(l), 5000, vec![payload(l, N)]))
                .unwrap();
            assert_eq!(a.first, Offset(N), "log {l}: no offset reused");
        }
    }
    let report = fsck::check(dir).unwrap();
    assert!(!report.is_clean(), "{report}");
    assert!(
        report
            .ranges
            .iter()
            .any(|r| r.log == log && lost.contains(&r.from) && !r.lost),
        "{report}"
    );
    let repaired = fsck::repair(dir).unwrap();
    assert!(!repaired.repaired.is_empty(), "{repaired}");
    assert!(fsck::check(dir).unwrap().is_clean());
    let s = Store::open(cfg(dir)).unwrap();
    let (ok, damaged) = read_all(&s, log);
    assert!(
        damaged.is_empty(),
        "after repair readers move past: {damaged:?}"
    );
    let want: Vec<u64> = (0..=N).filter(|o| !lost.contains(o)).collect();
    assert_eq!(ok.iter().filter(|o| **o < N).count(), want.len() - 1);
    assert_eq!(s.bounds(LogId(log)).unwrap().end, Offset(N + 1));
}

#[test]
fn flipped_byte_mid_active_segment() {
    let d = tempfile::tempdir().unwrap();
    fill(d.path());
    let active = *segments(d.path()).last().unwrap();
    let fs_ = frames(&seg(d.path(), active));
    // Log 1's last frame, followed by log 2's: without the header, log 1's end would fall back.
    let &(pos, _, log, base) = fs_.iter().rev().find(|f| f.2 == 1).unwrap();
    assert_eq!((log, base), (1, N - 1));
    flip_body(&seg(d.path(), active), pos);
    after_damage(d.path(), 1, &[base]);
}

#[test]
fn flipped_byte_in_the_tail_frame_is_a_torn_tail() {
    let d = tempfile::tempdir().unwrap();
    fill(d.path());
    let active = *segments(d.path()).last().unwrap();
    let fs_ = frames(&seg(d.path(), active));
    let &(pos, len, log, base) = fs_.last().unwrap();
    assert_eq!((log, base), (2, N - 1));
    let before = fs::metadata(seg(d.path(), active)).unwrap().len();
    flip_body(&seg(d.path(), active), pos);
    let report = fsck::check(d.path()).unwrap();
    assert!(
        report.damage.is_empty(),
        "a torn tail is not damage: {report}"
    );
    let s = Store::open(cfg(d.path())).unwrap();
    // Indistinguishable from the write kill -9 interrupted: truncated, nothing else touched.
    assert_eq!(
        fs::metadata(seg(d.path(), active)).unwrap().len(),
        before - len as u64
    );
    assert_eq!(s.corruption_events(), 0);
    expect_all_but(&s, 1, &[]);
    let (ok, damaged) = read_all(&s, 2);
    assert_eq!(ok, (0..N - 1).collect::<Vec<_>>());
    assert!(damaged.is_empty());
}

#[test]
fn flipped_byte_in_a_sealed_segment_with_its_index() {
    let d = tempfile::tempdir().unwrap();
    fill(d.path());
    assert!(idx(d.path(), 2).exists());
    let &(pos, _, log, base) = frames(&seg(d.path(), 2))[3..]
        .iter()
        .find(|f| f.2 == 2)
        .unwrap();
    flip_body(&seg(d.path(), 2), pos);
    after_damage(d.path(), log, &[base]);
}

#[test]
fn flipped_byte_in_a_sealed_segment_without_its_index() {
    let d = tempfile::tempdir().unwrap();
    fill(d.path());
    let &(pos, _, log, base) = frames(&seg(d.path(), 2))[3..]
        .iter()
        .find(|f| f.2 == 1)
        .unwrap();
    flip_body(&seg(d.path(), 2), pos);
    fs::remove_file(idx(d.path(), 2)).unwrap();
    after_damage(d.path(), log, &[base]);
}

#[test]
fn truncated_sealed_segment() {
    let d = tempfile::tempdir().unwrap();
    fill(d.path());
    let path = seg(d.path(), 2);
    let fs_ = frames(&path);
    let cut = fs_.len() / 2;
    // Cut inside a frame of log 1, so both logs lose entries.
    let at = fs_[cut].0 + 10;
    let lost1: Vec<u64> = fs_[cut..]
        .iter()
        .filter(|f| f.2 == 1)
        .map(|f| f.3)
        .collect();
    let lost2: Vec<u64> = fs_[cut..]
        .iter()
        .filter(|f| f.2 == 2)
        .map(|f| f.3)
        .collect();
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(at as u64)
        .unwrap();
    {
        let s = Store::open(cfg(d.path())).unwrap();
        let d1 = expect_all_but(&s, 1, &lost1);
        let d2 = expect_all_but(&s, 2, &lost2);
        assert!(!d1.is_empty() && !d2.is_empty());
    }
    let repaired = fsck::repair(d.path()).unwrap();
    assert!(repaired.repaired.len() >= 2, "{repaired}");
    let s = Store::open(cfg(d.path())).unwrap();
    for (log, lost) in [(1, &lost1), (2, &lost2)] {
        let (ok, damaged) = read_all(&s, log);
        assert!(damaged.is_empty());
        assert_eq!(ok, (0..N).filter(|o| !lost.contains(o)).collect::<Vec<_>>());
        let a = rt()
            .block_on(s.append(LogId(log), 5000, vec![payload(log, N)]))
            .unwrap();
        assert_eq!(a.first, Offset(N), "log {log}: no offset reused");
    }
}

#[test]
fn fsck_reports_a_catalog_entry_failing_its_crc() {
    let d = tempfile::tempdir().unwrap();
    fill(d.path());
    {
        let s = Store::open(cfg(d.path())).unwrap();
        s.catalog_put("stream/a", b"meta of a").unwrap();
        s.catalog_put("stream/b", b"meta of b").unwrap();
    }
    assert!(fsck::check(d.path()).unwrap().is_clean());
    let cat = d.path().join("catalog");
    let victim = fs::read_dir(&cat)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| fs::read(p).unwrap().ends_with(b"meta of b"))
        .unwrap();
    let mut b = fs::read(&victim).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    fs::write(&victim, b).unwrap();
    let report = fsck::check(d.path()).unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.catalog.len(), 1, "{report}");
    assert!(victim.ends_with(&report.catalog[0].file), "{report}");
    assert!(report.damage.is_empty(), "the journal is intact: {report}");
}
