//! Per-log sparse index (offset -> segment position, plus timestamp) and the per-segment `.idx` file codec.
//!
//! Memory must not grow with retained bytes, so a log does not index every frame: a point is added when the log has
//! written `stride` bytes since its previous point, and when a log's point count exceeds its budget every other point
//! is dropped and the stride doubles (coverage stays uniform). The first frame of a log in each segment is always a
//! ("pinned") point so that reads can jump between segments and garbage collection can drop whole segments' points.
//! Readers scan forward from the nearest point.

use crate::frame::FrameError;

/// Total index points the store aims to hold across all logs; each log's budget is this divided by the number of
/// logs (with a floor), so few big logs get a fine index and many small logs stay cheap (~40 bytes a point).
pub(crate) const GLOBAL_POINT_BUDGET: usize = 1 << 20;
/// Minimum per-log budget of unpinned points.
pub(crate) const MIN_POINTS_PER_LOG: usize = 32;
/// Initial byte stride between points of one log.
pub(crate) const INITIAL_STRIDE: u64 = 64 * 1024;

/// Where a frame of a log starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Point {
    /// Base offset of the frame.
    pub off: u64,
    pub seq: u64,
    pub pos: u64,
    /// Timestamp of the frame's entries.
    pub ts: i64,
    /// First frame of the log in segment `seq`; never thinned.
    pub pinned: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct LogIndex {
    points: Vec<Point>,
    unpinned: usize,
    stride: u64,
    since: u64,
}

impl Default for LogIndex {
    fn default() -> Self {
        LogIndex {
            points: Vec::new(),
            unpinned: 0,
            stride: INITIAL_STRIDE,
            since: 0,
        }
    }
}

impl LogIndex {
    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    /// Records a data frame appended to the journal (frames arrive in offset order).
    pub(crate) fn add_frame(&mut self, p: Point, frame_len: u64, budget: usize) {
        // Points are added in journal order (recovery scans segments in order and each front to back; the writer
        // appends): positions only grow, whatever the frames' bytes say. Offsets are not asserted: a damaged journal
        // may replay them out of order.
        debug_assert!(
            self.points
                .last()
                .is_none_or(|l| (l.seq, l.pos) < (p.seq, p.pos)),
            "invariant: index points arrive in journal order: {:?} after {:?}",
            (p.seq, p.pos),
            self.points.last().map(|l| (l.seq, l.pos))
        );
        let new_segment = self.points.last().is_none_or(|l| l.seq != p.seq);
        if new_segment {
            self.points.push(Point { pinned: true, ..p });
            self.since = frame_len;
            return;
        }
        if self.since >= self.stride {
            self.points.push(Point { pinned: false, ..p });
            self.unpinned += 1;
            self.since = 0;
            if self.unpinned > budget.max(MIN_POINTS_PER_LOG) {
                self.thin();
            }
        }
        self.since += frame_len;
    }

    /// Adds a point loaded from a sealed segment's `.idx` (already sparse).
    pub(crate) fn add_loaded(&mut self, p: Point) {
        if !p.pinned {
            self.unpinned += 1;
        }
        self.points.push(p);
    }

    fn thin(&mut self) {
        let mut k = 0usize;
        self.points.retain(|p| {
            if p.pinned {
                return true;
            }
            k += 1;
            k.is_multiple_of(2)
        });
        self.unpinned = self.points.iter().filter(|p| !p.pinned).count();
        self.stride = self.stride.saturating_mul(2);
    }

    /// Last point at or before offset `off`.
    pub(crate) fn floor(&self, off: u64) -> Option<Point> {
        let i = self.points.partition_point(|p| p.off <= off);
        i.checked_sub(1).and_then(|i| self.points.get(i)).copied()
    }

    /// Last point whose timestamp is < `ts` (every frame before it is then older than `ts`).
    pub(crate) fn floor_ts(&self, ts: i64) -> Option<Point> {
        let i = self.points.partition_point(|p| p.ts < ts);
        i.checked_sub(1).and_then(|i| self.points.get(i)).copied()
    }

    pub(crate) fn first(&self) -> Option<Point> {
        self.points.first().copied()
    }

    /// The first-frame point of each segment after `seq`, in order (for reads that cross segments).
    pub(crate) fn segments_after(&self, seq: u64) -> impl Iterator<Item = Point> + '_ {
        let i = self.points.partition_point(|p| p.seq <= seq);
        self.points
            .get(i..)
            .unwrap_or_default()
            .iter()
            .filter(|p| p.pinned)
            .copied()
    }

    pub(crate) fn in_segment(&self, seq: u64) -> impl Iterator<Item = Point> + '_ {
        let lo = self.points.partition_point(|p| p.seq < seq);
        let hi = self.points.partition_point(|p| p.seq <= seq);
        self.points.get(lo..hi).unwrap_or_default().iter().copied()
    }

    /// Forgets points in segments below `seq` (they were deleted).
    pub(crate) fn drop_segments_below(&mut self, seq: u64) {
        let i = self.points.partition_point(|p| p.seq < seq);
        self.points.drain(..i);
        self.unpinned = self.points.iter().filter(|p| !p.pinned).count();
    }
}

/// Summary of one log inside one sealed segment, as stored in its `.idx`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IdxLog {
    pub log: u64,
    /// A tombstone of the log is in this segment; frames listed here come after the last one.
    pub tomb: bool,
    /// Offsets [first_off, end_off) of the log's frames (after the last tombstone) in this segment. Data and
    /// watermark frames both count, so `first_off == end_off` is possible.
    pub range: Option<(u64, u64)>,
    pub last_ts: i64,
    /// Highest durable offset trim (`Kind::Trim` frame) of the log in this segment, after the last tombstone.
    pub trim: Option<u64>,
    /// Highest reservation (`Kind::Reserve` frame) of the log in this segment, after the last tombstone.
    pub reserve: Option<u64>,
    /// Sparse points (first is the pinned first data frame) of the log's data frames in this segment.
    pub points: Vec<(u64, u64, i64)>,
    /// Bytes of the log's data frames in this segment (after the last tombstone); `None` when unknown (an `.idx`
    /// of version 1 or 2). Reclamation uses it to price a relocation.
    pub bytes: Option<u64>,
    /// The log was relocated into this segment (`Kind::RelocCommit`): its frames in earlier segments are
    /// superseded, and the copies start at this offset (the range's first offset).
    pub reloc: Option<u64>,
}

const IDX_MAGIC: u32 = 0x5849_4852; // "RHIX"
/// Version 2 added flag bit 2 (an offset trim, followed by its `u64` after `last_ts`). Version 3 added the `bytes`
/// field after `last_ts` (always present), flag bit 3 (a relocation, its `u64` after the trim's) and flag bit 4 (a
/// reservation, its `u64` after the relocation's). Versions 1 and 2 are still read.
const IDX_VERSION: u32 = 3;
const IDX_VERSION_V2: u32 = 2;
const IDX_VERSION_V1: u32 = 1;
/// `bytes` value meaning "unknown".
const BYTES_UNKNOWN: u64 = u64::MAX;

/// Encodes a sealed segment's index. `seg_len` is the segment length it describes: an `.idx` whose length does not
/// match its segment is ignored and rebuilt.
pub(crate) fn encode_idx(seq: u64, seg_len: u64, logs: &[IdxLog]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + logs.len() * 64);
    out.extend_from_slice(&IDX_MAGIC.to_le_bytes());
    out.extend_from_slice(&IDX_VERSION.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&seg_len.to_le_bytes());
    out.extend_from_slice(&(logs.len() as u32).to_le_bytes());
    for l in logs {
        out.extend_from_slice(&l.log.to_le_bytes());
        let flags = u32::from(l.tomb)
            | (u32::from(l.range.is_some()) << 1)
            | (u32::from(l.trim.is_some()) << 2)
            | (u32::from(l.reloc.is_some()) << 3)
            | (u32::from(l.reserve.is_some()) << 4);
        out.extend_from_slice(&flags.to_le_bytes());
        let (f, e) = l.range.unwrap_or((0, 0));
        out.extend_from_slice(&f.to_le_bytes());
        out.extend_from_slice(&e.to_le_bytes());
        out.extend_from_slice(&l.last_ts.to_le_bytes());
        out.extend_from_slice(&l.bytes.unwrap_or(BYTES_UNKNOWN).to_le_bytes());
        if let Some(t) = l.trim {
            out.extend_from_slice(&t.to_le_bytes());
        }
        if let Some(r) = l.reloc {
            out.extend_from_slice(&r.to_le_bytes());
        }
        if let Some(r) = l.reserve {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out.extend_from_slice(&(l.points.len() as u32).to_le_bytes());
        for (off, pos, ts) in &l.points {
            out.extend_from_slice(&off.to_le_bytes());
            out.extend_from_slice(&pos.to_le_bytes());
            out.extend_from_slice(&ts.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let s = self.b.get(self.at..self.at + N).ok_or(FrameError::Short)?;
        self.at += N;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, FrameError> {
        self.take::<4>().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, FrameError> {
        self.take::<8>().map(u64::from_le_bytes)
    }
}

/// Decodes and validates an `.idx` file; returns `(seq, seg_len, logs)`.
pub(crate) fn decode_idx(b: &[u8]) -> Result<(u64, u64, Vec<IdxLog>), FrameError> {
    let body_len = b.len().checked_sub(4).ok_or(FrameError::Short)?;
    let (body, crc) = b.split_at(body_len);
    let mut crc_bytes = [0u8; 4];
    crc_bytes.copy_from_slice(crc);
    if crc32c::crc32c(body) != u32::from_le_bytes(crc_bytes) {
        return Err(FrameError::BadCrc);
    }
    let mut c = Cursor { b: body, at: 0 };
    if c.u32()? != IDX_MAGIC {
        return Err(FrameError::BadHeader);
    }
    let version = c.u32()?;
    if version != IDX_VERSION && version != IDX_VERSION_V2 && version != IDX_VERSION_V1 {
        return Err(FrameError::BadHeader);
    }
    let seq = c.u64()?;
    let seg_len = c.u64()?;
    let n = c.u32()?;
    let mut logs = Vec::new();
    for _ in 0..n {
        let log = c.u64()?;
        let flags = c.u32()?;
        let f = c.u64()?;
        let e = c.u64()?;
        let last_ts = c.u64()? as i64;
        let known = match version {
            IDX_VERSION_V1 => 3,
            IDX_VERSION_V2 => 7,
            _ => 31,
        };
        if flags & !known != 0 {
            return Err(FrameError::BadHeader);
        }
        let bytes = if version == IDX_VERSION {
            Some(c.u64()?).filter(|b| *b != BYTES_UNKNOWN)
        } else {
            None
        };
        let trim = if flags & 4 != 0 { Some(c.u64()?) } else { None };
        let reloc = if flags & 8 != 0 { Some(c.u64()?) } else { None };
        let reserve = if flags & 16 != 0 {
            Some(c.u64()?)
        } else {
            None
        };
        let np = c.u32()?;
        // Each point is 24 bytes: bound the allocation by what the file can actually hold.
        if np as usize > body.len().saturating_sub(c.at) / 24 {
            return Err(FrameError::BadBody);
        }
        let mut points = Vec::with_capacity(np as usize);
        for _ in 0..np {
            points.push((c.u64()?, c.u64()?, c.u64()? as i64));
        }
        let range = (flags & 2 != 0).then_some((f, e));
        logs.push(IdxLog {
            log,
            tomb: flags & 1 != 0,
            range,
            last_ts,
            trim,
            reserve,
            points,
            bytes,
            reloc,
        });
    }
    if c.at != body.len() {
        return Err(FrameError::BadBody);
    }
    Ok((seq, seg_len, logs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(off: u64, seq: u64, pos: u64) -> Point {
        Point {
            off,
            seq,
            pos,
            ts: off as i64,
            pinned: false,
        }
    }

    #[test]
    fn first_frame_per_segment_is_pinned_and_floor_finds_it() {
        let mut ix = LogIndex::default();
        ix.add_frame(pt(0, 1, 0), 100, 1000);
        ix.add_frame(pt(1, 1, 100), 100, 1000);
        ix.add_frame(pt(2, 2, 0), 100, 1000);
        assert_eq!(ix.len(), 2);
        assert_eq!(ix.floor(1).map(|p| (p.seq, p.pos)), Some((1, 0)));
        assert_eq!(ix.floor(5).map(|p| (p.seq, p.pos)), Some((2, 0)));
        assert!(ix.floor(0).is_some_and(|p| p.pinned));
        assert_eq!(
            ix.segments_after(1).map(|p| p.seq).collect::<Vec<_>>(),
            vec![2]
        );
    }

    #[test]
    fn stride_and_thinning_bound_the_point_count() {
        let mut ix = LogIndex::default();
        // 100k frames of 4 KiB in one segment: without a bound this would be 100k points.
        for i in 0..100_000u64 {
            ix.add_frame(pt(i, 1, i * 4096), 4096, 64);
        }
        assert!(ix.len() <= 64 + 1, "{} points", ix.len());
        // Coverage stays roughly uniform: the largest gap is a small multiple of the average gap.
        let offs: Vec<u64> = ix.points.iter().map(|p| p.off).collect();
        let max_gap = offs.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        assert!(max_gap <= 100_000 / 16, "max gap {max_gap}");
        // floor() is still exact for a point and below-or-equal otherwise.
        for probe in [0u64, 1, 5000, 99_999] {
            let p = ix.floor(probe).unwrap();
            assert!(p.off <= probe);
        }
    }

    #[test]
    fn floor_ts_and_drop_segments() {
        let mut ix = LogIndex::default();
        for s in 1..=3u64 {
            ix.add_frame(
                Point {
                    off: s * 10,
                    seq: s,
                    pos: 0,
                    ts: s as i64 * 100,
                    pinned: false,
                },
                10,
                100,
            );
        }
        assert_eq!(ix.floor_ts(250).map(|p| p.seq), Some(2));
        assert_eq!(ix.floor_ts(100), None);
        ix.drop_segments_below(3);
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.first().map(|p| p.seq), Some(3));
    }

    #[test]
    fn idx_round_trip_and_corruption() {
        let logs = vec![
            IdxLog {
                log: 1,
                tomb: false,
                range: Some((5, 9)),
                last_ts: 77,
                trim: Some(6),
                reserve: Some(70_000),
                points: vec![(5, 0, 70), (7, 300, 75)],
                bytes: Some(400),
                reloc: Some(5),
            },
            IdxLog {
                log: 2,
                tomb: true,
                range: None,
                last_ts: 0,
                trim: None,
                reserve: None,
                points: vec![],
                bytes: None,
                reloc: None,
            },
        ];
        let b = encode_idx(4, 1234, &logs);
        assert_eq!(decode_idx(&b).unwrap(), (4, 1234, logs));
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert!(decode_idx(&c).is_err(), "flip at {i}");
        }
        for cut in 0..b.len() {
            assert!(decode_idx(&b[..cut]).is_err(), "cut {cut}");
        }
    }

    /// An old-format file: the v3 encoding of `logs` (which must have no relocation) with the `bytes` fields
    /// removed and `version` set. Version 1 files (written before offset trims existed) still decode; a v1 file
    /// claiming a trim does not.
    fn as_version(version: u32, seq: u64, seg_len: u64, logs: &[IdxLog]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&IDX_MAGIC.to_le_bytes());
        v.extend_from_slice(&version.to_le_bytes());
        v.extend_from_slice(&seq.to_le_bytes());
        v.extend_from_slice(&seg_len.to_le_bytes());
        v.extend_from_slice(&(logs.len() as u32).to_le_bytes());
        for l in logs {
            v.extend_from_slice(&l.log.to_le_bytes());
            let flags = u32::from(l.tomb)
                | (u32::from(l.range.is_some()) << 1)
                | (u32::from(l.trim.is_some()) << 2);
            v.extend_from_slice(&flags.to_le_bytes());
            let (f, e) = l.range.unwrap_or((0, 0));
            v.extend_from_slice(&f.to_le_bytes());
            v.extend_from_slice(&e.to_le_bytes());
            v.extend_from_slice(&l.last_ts.to_le_bytes());
            if let Some(t) = l.trim {
                v.extend_from_slice(&t.to_le_bytes());
            }
            v.extend_from_slice(&(l.points.len() as u32).to_le_bytes());
            for (off, pos, ts) in &l.points {
                v.extend_from_slice(&off.to_le_bytes());
                v.extend_from_slice(&pos.to_le_bytes());
                v.extend_from_slice(&ts.to_le_bytes());
            }
        }
        let crc = crc32c::crc32c(&v);
        v.extend_from_slice(&crc.to_le_bytes());
        v
    }

    fn as_v1(logs: &[IdxLog]) -> Vec<u8> {
        as_version(1, 2, 99, logs)
    }

    #[test]
    fn idx_version_1_still_read() {
        let logs = vec![IdxLog {
            log: 3,
            tomb: false,
            range: Some((0, 4)),
            last_ts: 9,
            trim: None,
            reserve: None,
            points: vec![(0, 0, 9)],
            bytes: None,
            reloc: None,
        }];
        let b = as_v1(&logs);
        assert_eq!(decode_idx(&b).unwrap(), (2, 99, logs.clone()));
        let mut with_trim = logs;
        with_trim[0].trim = Some(2);
        assert!(decode_idx(&as_v1(&with_trim)).is_err());
        // Version 2 (offset trims, no `bytes`, no relocation) still decodes, trims included.
        let v2 = as_version(2, 2, 99, &with_trim);
        assert_eq!(decode_idx(&v2).unwrap(), (2, 99, with_trim.clone()));
        // Flag bit 3 (relocation) is unknown to version 2.
        let mut v2_reloc = v2[..v2.len() - 4].to_vec();
        let flags_at = 4 + 4 + 8 + 8 + 4 + 8;
        v2_reloc[flags_at..flags_at + 4].copy_from_slice(&(2u32 | 4 | 8).to_le_bytes());
        let crc = crc32c::crc32c(&v2_reloc);
        v2_reloc.extend_from_slice(&crc.to_le_bytes());
        assert!(decode_idx(&v2_reloc).is_err());
    }

    /// A reservation round-trips in the current version; a version-2 file claiming one (flag bit 4), or a file of a
    /// version this code does not know, is refused.
    #[test]
    fn reservations_round_trip_and_unknown_versions_are_refused() {
        let logs = vec![IdxLog {
            log: 3,
            tomb: false,
            range: Some((0, 4)),
            last_ts: 9,
            trim: Some(2),
            reserve: Some(65_540),
            points: vec![(0, 0, 9)],
            bytes: Some(120),
            reloc: None,
        }];
        let v3 = encode_idx(2, 99, &logs);
        assert_eq!(decode_idx(&v3).unwrap(), (2, 99, logs.clone()));
        let mut v2 = as_version(2, 2, 99, &logs);
        v2.truncate(v2.len() - 4);
        let flags_at = 4 + 4 + 8 + 8 + 4 + 8;
        v2[flags_at..flags_at + 4].copy_from_slice(&(2u32 | 4 | 16).to_le_bytes());
        let crc = crc32c::crc32c(&v2);
        v2.extend_from_slice(&crc.to_le_bytes());
        assert!(decode_idx(&v2).is_err());
        let mut v4 = v3[..v3.len() - 4].to_vec();
        v4[4..8].copy_from_slice(&4u32.to_le_bytes());
        let crc = crc32c::crc32c(&v4);
        v4.extend_from_slice(&crc.to_le_bytes());
        assert!(decode_idx(&v4).is_err());
    }
}
