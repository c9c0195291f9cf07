//! High-water marks (issue 12): an offset once acknowledged is never handed out again, whatever recovery drops from
//! the journal's tail; and a segment of a newer format is refused, not truncated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn active(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = fs::read_dir(dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
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
