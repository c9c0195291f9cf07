//! Segment reclamation: one rarely written, long-retention log must not keep every later segment on disk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;

use bytes::Bytes;
use common::rt;
use rheo_log::{FsyncPolicy, LogId, Offset, Store, StoreConfig};

const A: LogId = LogId(1);
const B: LogId = LogId(2);
const HOUR: i64 = 3_600_000;
const A_WRITES: u64 = 400;
const B_EVERY: u64 = 50;

fn cfg(dir: &Path, relocate: u64) -> StoreConfig {
    StoreConfig {
        dir: Some(dir.to_path_buf()),
        fsync: FsyncPolicy::Group,
        segment_bytes_max: 4096,
        direct_io: true,
        recent_bytes_max: 0,
        relocate_bytes_max: relocate,
        writer_queue_bytes_max: rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT,
    }
}

fn pa(i: u64) -> Bytes {
    Bytes::from(format!("A-{i:06}-{}", "a".repeat(180)))
}

fn pb(i: u64) -> Bytes {
    Bytes::from(format!("B-{i:06}-{}", "b".repeat(40)))
}

/// Bytes of all `.seg` files (the store is closed: a clean shutdown leaves no padding).
fn seg_bytes(dir: &Path) -> (u64, u64) {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    files.sort();
    let total = files.iter().map(|f| f.1).sum();
    (total, files.last().map_or(0, |f| f.1))
}

/// A written every 3.6 min for 24 h (400 entries), B once every 50 of A's writes (8 entries).
/// Returns (bytes written, B's live frame bytes: one frame per append, 44 B header + 4 B length + payload).
fn write(s: &Store) -> (u64, u64) {
    let r = rt();
    let (mut all, mut b_bytes) = (0u64, 0u64);
    let mut nb = 0;
    for i in 0..A_WRITES {
        let ts = i as i64 * (24 * HOUR / A_WRITES as i64);
        r.block_on(s.append(A, ts, vec![pa(i)])).unwrap();
        all += 48 + pa(i).len() as u64;
        if i % B_EVERY == 0 {
            r.block_on(s.append(B, ts, vec![pb(nb)])).unwrap();
            all += 48 + pb(nb).len() as u64;
            b_bytes += 48 + pb(nb).len() as u64;
            nb += 1;
        }
    }
    (all, b_bytes)
}

enum Expire {
    ByTime,
    ByOffset,
}

fn expire(s: &Store, how: &Expire) {
    let now = 48 * HOUR;
    match how {
        Expire::ByTime => s.trim_blocking(A, now - 24 * HOUR).unwrap(),
        Expire::ByOffset => rt()
            .block_on(s.trim_to_offset(A, Offset(A_WRITES)))
            .unwrap(),
    }
    s.trim_blocking(B, now - 8760 * HOUR).unwrap();
}

/// Checks B's entries and that new appends continue at each log's end; answers the ends.
fn check_after_reopen(dir: &Path) -> (Offset, Offset) {
    let s = Store::open(cfg(dir, 1 << 20)).unwrap();
    let nb = A_WRITES.div_ceil(B_EVERY);
    let got = s
        .read_blocking(B, Offset(0), usize::MAX, usize::MAX)
        .unwrap();
    assert_eq!(got.len() as u64, nb);
    for (i, e) in got.iter().enumerate() {
        assert_eq!(e.offset, Offset(i as u64));
        assert_eq!(e.payload, pb(i as u64));
    }
    // After a clean close the logs continue where they end; after a dropped tail (a cut inside the relocation
    // write) they continue above their durable reservation, so that no acknowledged offset is handed out again.
    let (a_end, b_end) = (s.bounds(A).unwrap().end, s.bounds(B).unwrap().end);
    assert!(a_end >= Offset(A_WRITES), "A's end {a_end:?}");
    assert!(b_end >= Offset(nb), "B's end {b_end:?}");
    let r = rt();
    assert_eq!(
        r.block_on(s.append(A, 49 * HOUR, vec![pa(0)]))
            .unwrap()
            .first,
        a_end
    );
    assert_eq!(
        r.block_on(s.append(B, 49 * HOUR, vec![pb(99)]))
            .unwrap()
            .first,
        b_end
    );
    (a_end, b_end)
}

fn reclaim(how: Expire) {
    let d = tempfile::tempdir().unwrap();
    // Without reclamation (budget 0): the prefix rule alone keeps everything B's first entry pins.
    let s = Store::open(cfg(d.path(), 0)).unwrap();
    let (written, b_live) = write(&s);
    expire(&s, &how);
    rt().block_on(s.collect_garbage()).unwrap();
    drop(s);
    let (before, _) = seg_bytes(d.path());
    assert!(
        before * 10 >= written * 9,
        "before {before}, written {written}"
    );
    // With it: B's live frames are copied forward and the old segments go.
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    expire(&s, &how);
    for _ in 0..4 {
        rt().block_on(s.collect_garbage()).unwrap();
    }
    drop(s);
    let (after, active) = seg_bytes(d.path());
    // "Live": B's frame bytes plus the whole active segment (which holds the copies, watermarks, and what was
    // appended after them).
    assert!(
        after <= 2 * (b_live + active),
        "after {after}, B live {b_live}, active {active}, before {before}"
    );
    assert!(after * 4 < before, "after {after}, before {before}");
    eprintln!(
        "reclaim: written {written} before {before} after {after} B live {b_live} active {active}"
    );
    // A clean close drops no tail: both logs continue exactly where they end.
    let nb = A_WRITES.div_ceil(B_EVERY);
    assert_eq!(check_after_reopen(d.path()), (Offset(A_WRITES), Offset(nb)));
    // Seal the segment holding the relocation (its `.idx` then records it, flag bit 3) and reopen from the `.idx`.
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    for i in 0..40 {
        rt().block_on(s.append(A, 50 * HOUR, vec![pa(i)])).unwrap();
    }
    drop(s);
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    let nb = A_WRITES.div_ceil(B_EVERY);
    let got = s
        .read_blocking(B, Offset(0), usize::MAX, usize::MAX)
        .unwrap();
    assert_eq!(got.len() as u64, nb + 1);
    for (i, e) in got.iter().take(nb as usize).enumerate() {
        assert_eq!((e.offset, &e.payload), (Offset(i as u64), &pb(i as u64)));
    }
    assert_eq!(s.bounds(A).unwrap().end, Offset(A_WRITES + 41));
    drop(s);
    // fsck understands the new frame kinds: no damage.
    let report = rheo_log::fsck::check(d.path()).unwrap();
    assert!(report.is_clean() && report.damage.is_empty(), "{report}");
}

#[test]
fn reclaim_after_time_retention() {
    reclaim(Expire::ByTime);
}

#[test]
fn reclaim_after_offset_trim() {
    reclaim(Expire::ByOffset);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("journal")).unwrap();
    for sub in ["journal", "catalog"] {
        let Ok(rd) = std::fs::read_dir(from.join(sub)) else {
            continue;
        };
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in rd.flatten() {
            std::fs::copy(e.path(), to.join(sub).join(e.file_name())).unwrap();
        }
    }
}

/// (position, kind, length) of each frame of a segment file.
fn frames(b: &[u8]) -> Vec<(usize, u32, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 44 <= b.len() {
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize + 12;
        let kind = u32::from_le_bytes(b[at + 12..at + 16].try_into().unwrap());
        out.push((at, kind, len));
        at += len;
    }
    out
}

/// A crash inside the relocation write (before its sync returned, so the old segments are all still there): the
/// journal as it was before reclamation plus every prefix of the relocation write (cut at many byte positions).
/// No entry may be lost or duplicated, offsets never reused, whether the relocation then counts or not.
#[test]
fn crash_inside_relocation_write() {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(d.path(), 0)).unwrap();
    write(&s);
    drop(s);
    let pre = tempfile::tempdir().unwrap();
    copy_dir(d.path(), pre.path());
    let s = Store::open(cfg(d.path(), 1 << 20)).unwrap();
    expire(&s, &Expire::ByTime);
    rt().block_on(s.collect_garbage()).unwrap();
    drop(s);
    let segs = common::segment_paths(d.path());
    let last = segs.last().unwrap().clone();
    let bytes = std::fs::read(&last).unwrap();
    let fr = frames(&bytes);
    let p0 = fr.iter().find(|f| f.1 == 5).expect("a relocated copy").0;
    let m = fr.iter().find(|f| f.1 == 6).expect("a relocation commit");
    let p1 = m.0 + m.2;
    let mut cuts: Vec<usize> = (p0..=p1).step_by(7).collect();
    cuts.extend([p0, p0 + 1, p1 - 1, p1]);
    for cut in cuts {
        let img = tempfile::tempdir().unwrap();
        copy_dir(pre.path(), img.path());
        let name = last.file_name().unwrap();
        std::fs::write(img.path().join("journal").join(name), &bytes[..cut]).unwrap();
        // An `.idx` next to the (now again) active segment would be stale; recovery removes it.
        let _ = check_after_reopen(img.path());
        let s = Store::open(cfg(img.path(), 1 << 20)).unwrap();
        let got = s
            .read_blocking(A, Offset(0), usize::MAX, usize::MAX)
            .unwrap();
        // Every entry once, in order: the surviving ones dense, then the one appended after the reopen, which a
        // dropped tail puts above A's reservation instead of right after them.
        let (appended, kept) = got.split_last().unwrap();
        for (i, e) in kept.iter().enumerate() {
            assert_eq!(e.offset.0, kept[0].offset.0 + i as u64, "cut {cut}");
        }
        assert!(appended.offset >= Offset(A_WRITES), "cut {cut}");
        let nb = A_WRITES.div_ceil(B_EVERY) + 1;
        assert_eq!(
            s.read_blocking(B, Offset(0), usize::MAX, usize::MAX)
                .unwrap()
                .len() as u64,
            nb,
            "cut {cut}"
        );
    }
}
