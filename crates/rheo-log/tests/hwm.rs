//! High-water marks (issue 12): an offset once acknowledged is never handed out again, whatever recovery drops from
//! the journal's tail; and a segment of a newer format is refused, not truncated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::rt;
use rheo_log::{FsyncPolicy, LogId, Offset, OpenError, Store, StoreConfig};

fn cfg(dir: &Path, seg: u64) -> StoreConfig {
    StoreConfig {
        dir: Some(dir.to_path_buf()),
        fsync: FsyncPolicy::Group,
        segment_bytes_max: seg,
        direct_io: true,
        recent_bytes_max: rheo_log::DEFAULT_RECENT_BYTES_MAX,
        relocate_bytes_max: rheo_log::DEFAULT_RELOCATE_BYTES_MAX,
        writer_queue_bytes_max: rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT,
    }
}

fn active(dir: &Path) -> PathBuf {
    common::segment_paths(dir).pop().unwrap()
}

/// Appends `n` entries to log 1, returns the highest acknowledged offset.
fn append(s: &Store, n: u64) -> u64 {
    let r = rt();
    let mut last = 0;
    for i in 0..n {
        let a = r
            .block_on(s.append(LogId(1), 1000, vec![Bytes::from(format!("e{i}"))]))
            .unwrap();
        last = a.first.0;
    }
    last
}

fn all(s: &Store) -> Vec<(u64, Bytes)> {
    s.read_blocking(LogId(1), Offset(0), usize::MAX, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| (e.offset.0, e.payload))
        .collect()
}

/// Damages the stopped store's active segment with `f`, reopens, and checks that the entries before the damage are
/// intact and the next append gets an offset above every acknowledged one.
fn damage_then_check(seg: u64, rounds: u64, f: impl Fn(&mut Vec<u8>)) {
    let d = tempfile::tempdir().unwrap();
    let mut acked = 0u64;
    let mut kept = Vec::new();
    for round in 0..rounds {
        let s = Store::open(cfg(d.path(), seg)).unwrap();
        let before = all(&s);
        assert!(
            kept.iter().all(|e| before.contains(e)),
            "round {round}: entries lost"
        );
        let last = append(&s, 5);
        assert!(
            round == 0 || last > acked,
            "round {round}: {last} <= {acked}"
        );
        acked = acked.max(last);
        // Trim most of it so gc deletes segments (the reservation must survive that).
        let end = s.bounds(LogId(1)).unwrap().end.0;
        rt().block_on(s.trim_to_offset(LogId(1), Offset(end.saturating_sub(2))))
            .unwrap();
        kept = all(&s);
        kept.pop();
        drop(s);
        let path = active(d.path());
        let mut b = fs::read(&path).unwrap();
        f(&mut b);
        fs::write(&path, b).unwrap();
    }
    let s = Store::open(cfg(d.path(), seg)).unwrap();
    let got = all(&s);
    assert!(
        kept.iter().all(|e| got.contains(e)),
        "entries before the damage lost"
    );
    let a = rt()
        .block_on(s.append(LogId(1), 0, vec![Bytes::from_static(b"new")]))
        .unwrap();
    assert!(
        a.first.0 > acked,
        "{} handed out again (acked up to {acked})",
        a.first.0
    );
}

#[test]
fn flipped_last_frame_offsets_are_not_reused() {
    damage_then_check(1 << 20, 1, |b| {
        let at = b.len() - 2;
        b[at] ^= 0xff;
    });
}

#[test]
fn truncated_tail_offsets_are_not_reused() {
    for cut in 1..12 {
        damage_then_check(1 << 20, 1, |b| b.truncate(b.len() - cut));
    }
}

#[test]
fn many_restarts_with_gc_never_reuse() {
    damage_then_check(512, 12, |b| {
        let at = b.len() - 3;
        b[at] ^= 0x5a;
    });
}

#[test]
fn future_segment_version_is_refused_untouched() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    append(&s, 3);
    drop(s);
    let path = active(d.path());
    let mut b = fs::read(&path).unwrap();
    // The header frame: version in `base` (bytes 24..32), CRC over bytes 12.. of its 44 bytes.
    assert_eq!(u32::from_le_bytes(b[12..16].try_into().unwrap()), 8);
    b[24..32].copy_from_slice(&99u64.to_le_bytes());
    let crc = crc32c::crc32c(&b[12..44]);
    b[8..12].copy_from_slice(&crc.to_le_bytes());
    // Frames after it in a format we cannot know.
    b.extend_from_slice(&[0xee; 100]);
    fs::write(&path, &b).unwrap();
    match Store::open(cfg(d.path(), 1 << 20)) {
        Err(OpenError::UnsupportedVersion {
            path: p, version, ..
        }) => {
            assert_eq!(p, path);
            assert_eq!(version, 99);
        }
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
    assert_eq!(fs::read(&path).unwrap(), b, "the newer segment was changed");
}

/// Highest reservation (kind 7 frame, `reserve` = the body's second `u64`) of `log` in the journal's segments.
fn max_reservation(dir: &Path, log: u64) -> Option<u64> {
    let mut best = None;
    for e in fs::read_dir(dir.join("journal")).unwrap().flatten() {
        if e.path().extension().is_none_or(|x| x != "seg") {
            continue;
        }
        let b = fs::read(e.path()).unwrap();
        let mut at = 0;
        while at + 44 <= b.len() {
            let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize + 12;
            let kind = u32::from_le_bytes(b[at + 12..at + 16].try_into().unwrap());
            let id = u64::from_le_bytes(b[at + 16..at + 24].try_into().unwrap());
            if len < 44 || at + len > b.len() {
                break;
            }
            if kind == 7 && id == log {
                let r = u64::from_le_bytes(b[at + 52..at + 60].try_into().unwrap());
                best = best.max(Some(r));
            }
            at += len;
        }
    }
    best
}

/// GC relocates a small log's live range forward and deletes the segments that held its reservation frame; the
/// log then appends more (covered by that reservation, so no new reservation frame), and the journal's last frame is
/// lost (`damage`). After the reopen the log must continue at or above its old reservation: no offset reused.
fn relocated_reservation_survives(damage: impl Fn(&mut Vec<u8>)) {
    const SMALL: LogId = LogId(2);
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(d.path(), 4096)).unwrap();
    let r = rt();
    for i in 0..3 {
        r.block_on(s.append(SMALL, 1, vec![Bytes::from(format!("s{i}"))]))
            .unwrap();
    }
    // A big log fills segments after it, then is consumed: only SMALL pins the old segments.
    for i in 0..200 {
        r.block_on(s.append(LogId(1), 1, vec![Bytes::from(format!("{i:0100}"))]))
            .unwrap();
    }
    let reserved = max_reservation(d.path(), SMALL.0).expect("SMALL's reservation frame");
    let first_seg = common::segment_paths(d.path())[0].clone();
    let end1 = s.bounds(LogId(1)).unwrap().end;
    r.block_on(s.trim_to_offset(LogId(1), end1)).unwrap();
    r.block_on(s.collect_garbage()).unwrap();
    assert!(
        !first_seg.exists(),
        "gc kept {} (no relocation happened)",
        first_seg.display()
    );
    let mut acked = 0;
    for i in 0..3 {
        acked = r
            .block_on(s.append(SMALL, 2, vec![Bytes::from(format!("t{i}"))]))
            .unwrap()
            .first
            .0;
    }
    assert!(acked < reserved, "the appends stay below the reservation");
    drop(s);
    let path = active(d.path());
    let mut b = fs::read(&path).unwrap();
    damage(&mut b);
    fs::write(&path, b).unwrap();
    let s = Store::open(cfg(d.path(), 4096)).unwrap();
    let got = s
        .read_blocking(SMALL, Offset(0), usize::MAX, usize::MAX)
        .unwrap();
    let offs: Vec<u64> = got.iter().map(|e| e.offset.0).collect();
    assert!(
        offs.starts_with(&[0, 1, 2]),
        "SMALL's relocated entries: {offs:?}"
    );
    let next = r
        .block_on(s.append(SMALL, 3, vec![Bytes::from_static(b"new")]))
        .unwrap()
        .first
        .0;
    assert!(
        next >= reserved,
        "next offset {next} below the reservation {reserved} (acked up to {acked})"
    );
}

#[test]
fn relocated_reservation_survives_a_flipped_last_frame() {
    relocated_reservation_survives(|b| {
        let at = b.len() - 2;
        b[at] ^= 0xff;
    });
}

#[test]
fn relocated_reservation_survives_a_cut_tail() {
    relocated_reservation_survives(|b| b.truncate(b.len() - 3));
}
