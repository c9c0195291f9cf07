//! The disk engine: one shared journal of segment files, a group-commit writer thread, crash recovery, sparse
//! indexes, reads by `pread`, and whole-segment garbage collection. See `docs/design/log-format.md`.
//!
//! Lock order: `state` before `queue`. Offsets are assigned and the frame is queued while holding `state`, so for each
//! log offset order == queue order == journal order. The writer thread is the only code that writes segment files.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

use crate::catalog::Catalog;
use crate::frame::{self, FrameError, Header, Kind, HEADER_LEN, RESERVE_BODY};
use crate::index::{self, IdxLog, LogIndex, Point};
use crate::lost::LostRange;
use crate::recent::{LogRecent, RecentBudget, RecentFrame};
use crate::storage::{Faults, FileKind, JournalDir, SegmentFile, BLOCK};
use crate::{
    effective_timestamp, AppendAck, AppendError, Batch, Damage, DamagedRange, Entry, FsyncPolicy,
    LogBounds, LogId, Offset, OpenError, ReadError, StoreConfig, StoreStats,
};

/// Reads and recovery scan segments through a window of this size rather than one `pread` per frame header.
const READ_WINDOW: usize = 256 * 1024;
/// Read-ahead when following one log's frames (see [`Window::probing`]).
const PROBE_WINDOW: usize = 16 * 1024;
/// Segment format this code writes (in the header frame of every new segment) and the newest it reads. Version 1 is
/// the header-less format (no `Kind::Reserve` frames); version 2 adds the header and reservations.
pub(crate) const SEGMENT_VERSION: u64 = 2;
/// Offsets a reservation frame reserves beyond the append that needs it. Why fixed and this large: a reservation is
/// then written once per 65,536 entries of a log (a compare on the hot path, a 60-byte frame rarely), and what a
/// restart skips (at most this many offsets per log) is nothing to 64-bit offsets.
const RESERVE_STEP: u64 = 1 << 16;

#[derive(Debug)]
struct LogState {
    /// Incarnation: a deleted and re-created log gets a new one, so stale frames of the old one are recognisable.
    gen: u64,
    /// Next offset to assign / timestamp of the last assigned entry (queue side).
    next: u64,
    next_ts: Option<i64>,
    /// Visible (durable per policy) end and its last timestamp.
    end: u64,
    end_ts: Option<i64>,
    start: u64,
    /// Highest offset trim queued for the journal (`Kind::Trim`), for this incarnation.
    trim_off: u64,
    index: LogIndex,
    /// Where the last read stopped: consecutive reads resume there instead of scanning from a sparse point.
    hint: Option<Point>,
    /// The newest durable frames, for readers at the tip (see [`crate::recent`]).
    recent: LogRecent,
    /// Offset ranges recovery found damaged or that fsck marked lost, sorted by `from`. Almost always empty.
    holes: Vec<Hole>,
    /// Highest reservation queued (live) or replayed (recovery): no offset below it is ever handed out again.
    reserved: u64,
    /// Set at open when the reservation was above the replayed end: that end. The log's end jumped to the
    /// reservation in memory; the next reservation frame records the skip (`from..next`) so replay does not take it
    /// for lost entries.
    jump_from: Option<u64>,
    /// Highest reservation among this incarnation's segment records a relocation superseded (their incarnation is
    /// then 0, which gc's reservation check does not count, as it must not for deleted incarnations). The
    /// relocation write carries the reservation itself; this keeps gc honest when it did not (a journal written
    /// before it did, or a torn write that kept the commit but not that frame).
    superseded_reserve: Option<u64>,
}

/// Offsets `from..to` of a log that the journal no longer holds intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hole {
    from: u64,
    to: u64,
    segment: u64,
    position: u64,
    /// Marked lost by `fsck --repair`: readers move past it. Otherwise reads of it are refused.
    lost: bool,
}

impl LogState {
    fn new(gen: u64, at: u64) -> Self {
        LogState {
            gen,
            next: at,
            next_ts: None,
            end: at,
            end_ts: None,
            start: at,
            trim_off: 0,
            index: LogIndex::default(),
            hint: None,
            recent: LogRecent::default(),
            holes: Vec::new(),
            reserved: 0,
            jump_from: None,
            superseded_reserve: None,
        }
    }

    /// Records `from..to` as a hole (merging with holes it touches) and keeps the offsets past it reserved.
    fn add_hole(&mut self, hole: Hole) {
        if hole.from >= hole.to {
            return;
        }
        let mut h = hole;
        self.holes.retain(|o| {
            let overlaps = o.from <= h.to && h.from <= o.to;
            if overlaps {
                // A lost range covering a damaged one settles it; partial overlaps stay refused.
                let covers = |a: &Hole, b: &Hole| a.from <= b.from && b.to <= a.to;
                h.lost = (h.lost && (o.lost || covers(&h, o))) || (o.lost && covers(o, &h));
                h.from = h.from.min(o.from);
                h.to = h.to.max(o.to);
            }
            !overlaps
        });
        self.holes.push(h);
        self.holes.sort_by_key(|o| o.from);
        if h.to > self.end {
            self.end = h.to;
            self.next = self.next.max(h.to);
        }
    }
}

/// What one segment holds of one log.
#[derive(Debug, Clone, Default)]
struct SegLog {
    /// Incarnation the range belongs to (0: none / dead).
    gen: u64,
    tomb: bool,
    range: Option<(u64, u64)>,
    last_ts: i64,
    /// Highest offset trim frame of this incarnation in the segment.
    trim: Option<u64>,
    /// Highest reservation frame of this incarnation in the segment.
    reserve: Option<u64>,
    /// (offset, position, timestamp) of the first data frame, kept even for dead incarnations so an `.idx` is
    /// self-sufficient.
    first_data: Option<(u64, u64, i64)>,
    /// Bytes of this incarnation's data frames here (`None`: unknown, from an old `.idx`). Prices relocations.
    bytes: Option<u64>,
    /// The incarnation was relocated into this segment, its copies starting at this offset: its frames in earlier
    /// segments are superseded (their records are marked dead).
    reloc: Option<u64>,
}

#[derive(Debug)]
struct Seg {
    file: Arc<dyn SegmentFile>,
    len: u64,
    logs: HashMap<u64, SegLog>,
    /// Byte ranges `[pos, end)` that hold no valid frame but are followed by valid ones (corruption found by the
    /// recovery scan): readers jump over them. Empty for an intact segment.
    bad: Vec<(u64, u64)>,
}

#[derive(Debug)]
struct State {
    logs: HashMap<u64, LogState>,
    segs: BTreeMap<u64, Seg>,
    last_gen: u64,
    recent: RecentBudget,
    /// Damage found by recovery, in journal order.
    damage: Vec<Damage>,
    /// Per log, the highest end a sealed segment's `.idx` recorded even though the segment no longer matches it
    /// (truncated or overwritten): offsets below it were acknowledged and must never be handed out again.
    idx_ends: HashMap<u64, (u64, u64)>,
    /// Recovery only: per log, the relocated copies (position, header) seen in the segment being scanned and not
    /// yet committed by their `Kind::RelocCommit` frame. Cleared at each segment's end (a set never spans two).
    pending: HashMap<u64, Vec<(u64, Header)>>,
}

impl State {
    fn new(recent_bytes_max: usize) -> Self {
        State {
            logs: HashMap::new(),
            segs: BTreeMap::new(),
            last_gen: 0,
            recent: RecentBudget::new(recent_bytes_max),
            damage: Vec::new(),
            idx_ends: HashMap::new(),
            pending: HashMap::new(),
        }
    }

    /// Recovery met `pos..end` of segment `seq` holding no valid frame, with valid data after it (or a sealed
    /// segment cut short). If the bad frame's header still reads and continues its log exactly, its offsets are
    /// known: they become a hole (and stay reserved). Otherwise a later frame of the affected log shows the gap.
    fn note_bad(&mut self, seq: u64, pos: u64, end: u64, header: Option<Header>) {
        if let Some(seg) = self.segs.get_mut(&seq) {
            seg.bad.push((pos, end));
        }
        let mut ranges = Vec::new();
        if let Some(h) = header.filter(|h| h.kind == Kind::Data && h.count > 0) {
            if let Some(l) = self.logs.get_mut(&h.log).filter(|l| l.end == h.base) {
                let to = h.base + u64::from(h.count);
                l.add_hole(Hole {
                    from: h.base,
                    to,
                    segment: seq,
                    position: pos,
                    lost: false,
                });
                l.next = l.end;
                ranges.push(DamagedRange {
                    log: h.log,
                    from: h.base,
                    to,
                });
            }
        }
        self.damage.push(Damage {
            segment: seq,
            position: pos,
            bytes: end - pos,
            ranges,
        });
    }

    /// Recovery found `log`'s next frame at `base` above its end: the offsets between were lost to damage.
    fn note_gap(&mut self, seq: u64, pos: u64, log: u64, base: u64) {
        let Some(l) = self.logs.get_mut(&log) else {
            return;
        };
        if base <= l.end {
            return;
        }
        let (segment, position) = self
            .damage
            .last()
            .map_or((seq, pos), |d| (d.segment, d.position));
        let from = l.end;
        l.add_hole(Hole {
            from,
            to: base,
            segment,
            position,
            lost: false,
        });
        let range = DamagedRange {
            log,
            from,
            to: base,
        };
        match self.damage.last_mut() {
            Some(d) => d.ranges.push(range),
            None => self.damage.push(Damage {
                segment: seq,
                position: pos,
                bytes: 0,
                ranges: vec![range],
            }),
        }
    }

    /// Keeps a frame the writer has just made visible as `log`'s newest, if `log` is still
    /// incarnation `gen`. `cost` is the memory the frame's buffer holds.
    fn keep_recent(&mut self, gen: u64, header: Header, frame: Bytes, cost: usize) {
        if !self.recent.enabled() || header.kind != Kind::Data || header.count == 0 {
            return;
        }
        let log = header.log;
        let Some(l) = self.logs.get_mut(&log).filter(|l| l.gen == gen) else {
            return;
        };
        l.recent.keep(RecentFrame { header, frame });
        let logs = &mut self.logs;
        self.recent.charge(log, gen, cost, |l, g| {
            if let Some(s) = logs.get_mut(&l).filter(|s| s.gen == g) {
                s.recent.evict_oldest();
            }
        });
    }

    fn budget(&self) -> usize {
        index::GLOBAL_POINT_BUDGET / self.logs.len().max(1)
    }

    fn new_gen(&mut self) -> u64 {
        self.last_gen += 1;
        self.last_gen
    }

    /// Applies one frame at `seq`/`pos`. `writer_gen` is `Some` on the live path (the frame was queued for that
    /// incarnation) and `None` during recovery (the journal order defines everything).
    fn apply(&mut self, seq: u64, pos: u64, h: &Header, writer_gen: Option<u64>) {
        let budget = self.budget();
        if h.kind == Kind::SegmentHeader {
            // Describes the segment (checked at open), not a log.
            return;
        }
        if h.kind == Kind::Tombstone {
            if writer_gen.is_none() {
                self.logs.remove(&h.log);
                self.idx_ends.remove(&h.log);
                self.pending.remove(&h.log);
            }
            if let Some(seg) = self.segs.get_mut(&seq) {
                let sl = seg.logs.entry(h.log).or_default();
                *sl = SegLog {
                    tomb: true,
                    ..SegLog::default()
                };
            }
            return;
        }
        if matches!(h.kind, Kind::Relocated | Kind::RelocCommit) {
            // The live path publishes relocations itself (see `Writer::write_frames`).
            if writer_gen.is_none() {
                self.replay_relocation(seq, pos, h);
            }
            return;
        }
        let gen = match writer_gen {
            Some(g) => match self.logs.get(&h.log) {
                Some(l) if l.gen == g => g,
                // Written for an incarnation deleted since: garbage, followed by its tombstone.
                _ => return,
            },
            None => match self.logs.get(&h.log) {
                Some(l) => l.gen,
                None => {
                    let g = self.new_gen();
                    self.logs.insert(h.log, LogState::new(g, h.base));
                    g
                }
            },
        };
        let Some(l) = self.logs.get_mut(&h.log) else {
            return;
        };
        if h.kind == Kind::Trim {
            self.apply_trim(seq, gen, h, writer_gen.is_none());
            return;
        }
        if h.kind == Kind::Reserve {
            self.apply_reserve(seq, pos, gen, h, writer_gen.is_none());
            return;
        }
        let new_end = h.base + u64::from(h.count);
        // Live frames are published in queue order, which is offset order, each right after the last: the visible
        // end moves densely (recovery instead meets whatever the disk holds, gaps included).
        debug_assert!(
            writer_gen.is_none() || h.kind != Kind::Data || h.base == l.end,
            "invariant: log {} publishes data at {} right after its visible end {}",
            h.log,
            h.base,
            l.end
        );
        debug_assert!(
            writer_gen.is_none() || h.kind != Kind::Watermark || h.base == l.end,
            "invariant: log {}'s watermark at {} is its visible end {}",
            h.log,
            h.base,
            l.end
        );
        if writer_gen.is_none() && h.kind == Kind::Data && h.base > l.end && l.end_ts.is_some() {
            // Offsets are dense per log: a jump can only be entries lost to damage in between.
            self.note_gap(seq, pos, h.log, h.base);
            return self.apply(seq, pos, h, writer_gen);
        }
        if writer_gen.is_none() && l.index.len() == 0 {
            // Recovery: a log's start is its first offset still on disk, or its durable trim if that is higher (a
            // log first seen through a trim frame has no data yet).
            l.start = l.start.max(h.base);
        }
        if h.kind == Kind::Data && h.count > 0 {
            l.index.add_frame(
                Point {
                    off: h.base,
                    seq,
                    pos,
                    ts: h.timestamp_ms,
                    pinned: false,
                },
                h.frame_len,
                budget,
            );
        }
        if new_end >= l.end {
            l.end = new_end;
            l.end_ts = Some(h.timestamp_ms);
        }
        if writer_gen.is_none() {
            l.next = l.end;
            l.next_ts = l.end_ts;
        }
        if let Some(seg) = self.segs.get_mut(&seq) {
            let sl = seg.logs.entry(h.log).or_default();
            if sl.gen != gen {
                sl.gen = gen;
                sl.range = None;
                sl.trim = None;
                sl.reserve = None;
                sl.first_data = None;
                sl.bytes = Some(0);
                sl.reloc = None;
            }
            sl.range = Some((sl.range.map_or(h.base, |r| r.0), new_end));
            sl.last_ts = h.timestamp_ms;
            if h.kind == Kind::Data && h.count > 0 {
                if sl.first_data.is_none() {
                    sl.first_data = Some((h.base, pos, h.timestamp_ms));
                }
                sl.bytes = Some(sl.bytes.unwrap_or(0) + h.frame_len);
            }
        }
    }

    /// A reservation frame of `h.log` (incarnation `gen`, which exists): offsets below `h.reserve` stay reserved, and
    /// `h.base..h.next` is a skip (a restart jumped over offsets never handed out): the end moves to `h.next` with no
    /// hole. In recovery `h.base` above the end means entries before the frame were lost, as for a data frame.
    fn apply_reserve(&mut self, seq: u64, pos: u64, gen: u64, h: &Header, recovery: bool) {
        if recovery
            && self
                .logs
                .get(&h.log)
                .is_some_and(|l| h.base > l.end && l.end_ts.is_some())
        {
            self.note_gap(seq, pos, h.log, h.base);
        }
        let Some(l) = self.logs.get_mut(&h.log) else {
            return;
        };
        // Live: the reservation was raised when the frame was queued, and a skip it records was made visible at open.
        assert!(
            recovery || (h.reserve <= l.reserved && h.next <= l.end),
            "invariant: log {}'s live reservation frame (next {}, reserve {}) is within its state (end {}, \
             reserved {})",
            h.log,
            h.next,
            h.reserve,
            l.end,
            l.reserved
        );
        l.reserved = l.reserved.max(h.reserve);
        l.end = l.end.max(h.next);
        if recovery {
            l.next = l.end;
            l.next_ts = l.end_ts;
        }
        if let Some(seg) = self.segs.get_mut(&seq) {
            let sl = seg.logs.entry(h.log).or_default();
            if sl.gen != gen {
                *sl = SegLog {
                    gen,
                    tomb: sl.tomb,
                    ..SegLog::default()
                };
            }
            sl.reserve = Some(sl.reserve.map_or(h.reserve, |r| r.max(h.reserve)));
            if h.next > h.base {
                // The skip counts as the log's (empty) range here, so an `.idx` replay sees the log continue at
                // `h.base` rather than a gap.
                match sl.range {
                    Some((first, end)) => sl.range = Some((first, end.max(h.next))),
                    None => {
                        sl.range = Some((h.base, h.next));
                        sl.last_ts = h.timestamp_ms;
                    }
                }
            }
        }
    }

    /// Records a reservation read from an `.idx`.
    fn idx_reserve(&mut self, seq: u64, log: u64, reserve: u64) {
        let gen = match self.logs.get_mut(&log) {
            Some(l) => {
                l.reserved = l.reserved.max(reserve);
                l.gen
            }
            None => {
                // The first trace of the log in the journal: a reservation gc wrote (`0..0`) before deleting the
                // segments that held the log's earlier frames, whose data a relocation copied to a later segment.
                // Known at 0 with its reservation, as a scan replays the same frame; its data comes later (a
                // reservation is not an end: offsets below it may never have been handed out).
                let g = self.new_gen();
                let mut l = LogState::new(g, 0);
                l.reserved = reserve;
                self.logs.insert(log, l);
                g
            }
        };
        if let Some(seg) = self.segs.get_mut(&seq) {
            let sl = seg.logs.entry(log).or_default();
            if sl.gen != gen {
                *sl = SegLog {
                    gen,
                    tomb: sl.tomb,
                    ..SegLog::default()
                };
            }
            sl.reserve = Some(sl.reserve.map_or(reserve, |r| r.max(reserve)));
        }
    }

    /// A durable offset trim of `h.log` (incarnation `gen`, which exists): the start moves up to `h.base`. In
    /// recovery the trim may be the log's only trace left (its data collected), so it also carries the end forward
    /// like a watermark: offsets below it are never handed out again.
    fn apply_trim(&mut self, seq: u64, gen: u64, h: &Header, recovery: bool) {
        let Some(l) = self.logs.get_mut(&h.log) else {
            return;
        };
        // Live: `queue_trim` clamped the trim to the visible end (which only grows) and recorded it.
        assert!(
            recovery || (h.base <= l.end && h.base <= l.trim_off),
            "invariant: log {}'s live trim to {} is within its end {} and queued trim {}",
            h.log,
            h.base,
            l.end,
            l.trim_off
        );
        if h.base > l.end || l.end_ts.is_none() {
            l.end = l.end.max(h.base);
            l.end_ts = Some(h.timestamp_ms);
        }
        l.start = l.start.max(h.base.min(l.end));
        l.trim_off = l.trim_off.max(h.base);
        if recovery {
            l.next = l.end;
            l.next_ts = l.end_ts;
        }
        if let Some(seg) = self.segs.get_mut(&seq) {
            let sl = seg.logs.entry(h.log).or_default();
            if sl.gen != gen {
                *sl = SegLog {
                    gen,
                    tomb: sl.tomb,
                    bytes: Some(0),
                    ..SegLog::default()
                };
            }
            sl.trim = Some(sl.trim.map_or(h.base, |t| t.max(h.base)));
            // The `.idx` replays a trim with the segment's last timestamp of the log: the trim's own one (the log's
            // last timestamp when it was written) is never older than the data before it in the segment.
            sl.last_ts = if sl.range.is_none() {
                h.timestamp_ms
            } else {
                sl.last_ts.max(h.timestamp_ms)
            };
        }
    }

    /// Recovery met a relocated copy or a relocation commit of `h.log`. Copies are held until their commit; a commit
    /// applies the `h.count` copies just before it if they are all there, contiguous, and start at or below the
    /// durable start it names (`h.base`). Otherwise the write was torn (its originals are still on disk, since
    /// reclamation deletes nothing before the write is synced) or damaged since.
    fn replay_relocation(&mut self, seq: u64, pos: u64, h: &Header) {
        if h.kind == Kind::Relocated {
            let held = self.pending.entry(h.log).or_default();
            // One set is one contiguous run of copies: a break means what came before was an earlier torn set.
            if held
                .last()
                .is_some_and(|(_, p)| p.base + u64::from(p.count) != h.base)
            {
                held.clear();
            }
            held.push((pos, *h));
            return;
        }
        let held = self.pending.remove(&h.log).unwrap_or_default();
        let copies = held
            .len()
            .checked_sub(h.count as usize)
            .and_then(|i| held.get(i..))
            .filter(|c| !c.is_empty());
        let covers = |c: &[(u64, Header)]| {
            c.first()
                .is_some_and(|(_, f)| f.base <= h.base && h.base < f.base + u64::from(f.count))
        };
        match copies {
            Some(c) if covers(c) => self.commit_relocation(seq, h.log, None, c, h.base),
            _ => {
                tracing::error!(
                    segment = seq,
                    position = pos,
                    log = h.log,
                    "relocation of log {} in segment {seq} is incomplete (its copies fail their checks); it is                      ignored",
                    h.log
                );
                // If the originals are gone, what the copies reached must still never be handed out again.
                let reached = held.iter().map(|(_, c)| c.base + u64::from(c.count)).max();
                if let Some(e) = reached {
                    self.note_gap(seq, pos, h.log, e);
                }
            }
        }
    }

    /// `copies` (position, header in segment `seq`, offset order) of `log` replace every earlier frame of the log;
    /// `durable_start` becomes a durable trim. `live_gen` is the incarnation on the live path, `None` in recovery.
    fn commit_relocation(
        &mut self,
        seq: u64,
        log: u64,
        live_gen: Option<u64>,
        copies: &[(u64, Header)],
        durable_start: u64,
    ) {
        // Both paths hand over a non-empty set (the live write asserts its count, replay filters empty ones).
        let (Some((first_pos, first)), Some((_, last))) = (copies.first(), copies.last()) else {
            panic!("invariant: a relocation commit of log {log} in segment {seq} has copies");
        };
        assert!(
            copies
                .windows(2)
                .all(|w| matches!(w, [a, b] if a.1.base + u64::from(a.1.count) == b.1.base)),
            "invariant: the copies committed for log {log} in segment {seq} are one dense run"
        );
        let budget = self.budget();
        let gen = match (live_gen, self.logs.get(&log)) {
            (Some(g), Some(l)) if l.gen == g => g,
            (Some(_), _) => return,
            (None, Some(l)) => l.gen,
            (None, None) => {
                let g = self.new_gen();
                self.logs.insert(log, LogState::new(g, durable_start));
                g
            }
        };
        let end = last.base + u64::from(last.count);
        // Live: the committer held its lock from the copy to here, so no frame of the log was published meanwhile.
        assert!(
            live_gen.is_none() || self.logs.get(&log).is_some_and(|l| l.end == end),
            "invariant: log {log}'s live relocation copies reach its visible end ({end} vs {:?})",
            self.logs.get(&log).map(|l| l.end)
        );
        self.supersede(seq, log, gen, live_gen.is_none(), first.base, end);
        let Some(l) = self.logs.get_mut(&log) else {
            return;
        };
        let mut bytes = 0;
        for (pos, c) in copies {
            l.index.add_frame(
                Point {
                    off: c.base,
                    seq,
                    pos: *pos,
                    ts: c.timestamp_ms,
                    pinned: false,
                },
                c.frame_len,
                budget,
            );
            bytes += c.frame_len;
        }
        if end >= l.end {
            l.end = end;
            l.end_ts = Some(last.timestamp_ms);
        }
        l.start = l.start.max(durable_start.min(l.end));
        l.trim_off = l.trim_off.max(durable_start);
        if live_gen.is_none() {
            l.next = l.end;
            l.next_ts = l.end_ts;
        }
        if let Some(seg) = self.segs.get_mut(&seq) {
            let sl = seg.logs.entry(log).or_default();
            *sl = SegLog {
                gen,
                tomb: sl.tomb,
                range: Some((first.base, end)),
                last_ts: last.timestamp_ms,
                trim: Some(durable_start),
                reserve: sl.reserve,
                first_data: Some((first.base, *first_pos, first.timestamp_ms)),
                bytes: Some(bytes),
                reloc: Some(first.base),
            };
        }
    }

    /// The log was relocated into segment `seq` with copies `[from, end)`: its records in earlier segments are dead,
    /// its index and read hint are dropped (the caller adds the copies' points). In recovery the start is what the
    /// relocation made durable (`from`, raised by the trim the caller applies), whatever older segments said, and
    /// holes the copies cover are gone (the copies hold those entries intact).
    fn supersede(&mut self, seq: u64, log: u64, gen: u64, recovery: bool, from: u64, end: u64) {
        let mut res = None;
        for (_, seg) in self.segs.range_mut(..seq) {
            if let Some(sl) = seg.logs.get_mut(&log).filter(|sl| sl.gen == gen) {
                sl.gen = 0;
                res = res.max(sl.reserve);
            }
        }
        if let Some(l) = self.logs.get_mut(&log).filter(|l| l.gen == gen) {
            l.superseded_reserve = l.superseded_reserve.max(res);
        }
        if let Some(l) = self.logs.get_mut(&log) {
            l.index = LogIndex::default();
            l.hint = None;
            if recovery {
                l.start = from;
                l.holes.retain(|h| h.to > end);
            }
        }
    }

    /// Applies a sealed segment's `.idx` during recovery.
    fn apply_idx(&mut self, seq: u64, logs: Vec<IdxLog>) {
        for r in logs {
            if r.tomb {
                self.logs.remove(&r.log);
                self.idx_ends.remove(&r.log);
                if let Some(seg) = self.segs.get_mut(&seq) {
                    seg.logs.insert(
                        r.log,
                        SegLog {
                            tomb: true,
                            ..SegLog::default()
                        },
                    );
                }
            }
            let Some((first, end)) = r.range.or(r.trim.map(|t| (t, t))) else {
                if let Some(res) = r.reserve {
                    self.idx_reserve(seq, r.log, res);
                }
                continue;
            };
            let gen = match self.logs.get(&r.log) {
                Some(l) => l.gen,
                None => {
                    let g = self.new_gen();
                    self.logs.insert(r.log, LogState::new(g, first));
                    g
                }
            };
            if let Some((_, pos, _)) = r.points.first() {
                if self
                    .logs
                    .get(&r.log)
                    .is_some_and(|l| l.end_ts.is_some() && first > l.end)
                {
                    self.note_gap(seq, *pos, r.log, first);
                }
            }
            if let (Some(from), Some((_, end))) = (r.reloc, r.range) {
                self.supersede(seq, r.log, gen, true, from, end);
            }
            if r.range.is_some() {
                if let Some(l) = self.logs.get_mut(&r.log).filter(|l| l.index.len() == 0) {
                    l.start = l.start.max(first);
                }
            }
            if r.range.is_none() {
                // Only an offset trim of the log in this segment.
                if let Some(t) = r.trim {
                    let h = trim_header(r.log, t, r.last_ts);
                    self.apply_trim(seq, gen, &h, true);
                }
                if let Some(res) = r.reserve {
                    self.idx_reserve(seq, r.log, res);
                }
                continue;
            }
            let Some(l) = self.logs.get_mut(&r.log) else {
                continue;
            };
            for (i, (off, pos, ts)) in r.points.iter().enumerate() {
                l.index.add_loaded(Point {
                    off: *off,
                    seq,
                    pos: *pos,
                    ts: *ts,
                    pinned: i == 0,
                });
            }
            if end >= l.end {
                l.end = end;
                l.end_ts = Some(r.last_ts);
            }
            l.next = l.end;
            l.next_ts = l.end_ts;
            if let Some(seg) = self.segs.get_mut(&seq) {
                seg.logs.insert(
                    r.log,
                    SegLog {
                        gen,
                        tomb: r.tomb,
                        range: Some((first, end)),
                        last_ts: r.last_ts,
                        trim: None,
                        reserve: None,
                        first_data: r.points.first().copied(),
                        bytes: r.bytes,
                        reloc: r.reloc,
                    },
                );
            }
            // Data and trims of one incarnation in one segment: the trim came after the data below it.
            if let Some(t) = r.trim {
                let h = trim_header(r.log, t, r.last_ts);
                self.apply_trim(seq, gen, &h, true);
            }
            if let Some(res) = r.reserve {
                self.idx_reserve(seq, r.log, res);
            }
        }
    }

    fn idx_for(&self, seq: u64) -> Vec<IdxLog> {
        let Some(seg) = self.segs.get(&seq) else {
            return Vec::new();
        };
        let mut out: Vec<IdxLog> = seg
            .logs
            .iter()
            .map(|(log, sl)| {
                let points = match self.logs.get(log) {
                    Some(l) if l.gen == sl.gen => l
                        .index
                        .in_segment(seq)
                        .map(|p| (p.off, p.pos, p.ts))
                        .collect(),
                    _ => sl.first_data.into_iter().collect(),
                };
                IdxLog {
                    log: *log,
                    tomb: sl.tomb,
                    range: sl.range,
                    last_ts: sl.last_ts,
                    trim: sl.trim,
                    reserve: sl.reserve,
                    points,
                    bytes: sl.bytes,
                    reloc: sl.reloc,
                }
            })
            .collect();
        out.sort_by_key(|l| l.log);
        out
    }
}

/// The header of an offset trim frame (for replaying one from an `.idx`).
fn trim_header(log: u64, off: u64, ts: i64) -> Header {
    Header {
        kind: Kind::Trim,
        log,
        base: off,
        timestamp_ms: ts,
        count: 0,
        frame_len: HEADER_LEN as u64,
        crc: 0,
        next: 0,
        reserve: 0,
    }
}

#[derive(Debug)]
struct QFrame {
    log: u64,
    gen: u64,
    header: Header,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Req {
    frames: Vec<QFrame>,
    force_sync: bool,
    /// Admission permits (bytes) this request holds until the writer takes it (see [`Admitted`]).
    admitted: u32,
    reply: oneshot::Sender<Result<(), AppendError>>,
}

#[derive(Debug, Default)]
struct Queue {
    reqs: Vec<Req>,
    /// Payload bytes of the queued appends (what admission counts), and the most seen at once.
    queued_bytes: u64,
    queued_bytes_peak: u64,
    shutdown: bool,
    gc: bool,
    /// Callers of [`DiskStore::collect_garbage`], answered after the next GC round.
    gc_waiters: Vec<oneshot::Sender<Result<(), AppendError>>>,
}

#[derive(Debug)]
struct Shared {
    policy: FsyncPolicy,
    seg_max: u64,
    /// Copy budget of one reclamation round (`StoreConfig::relocate_bytes_max`).
    reloc_max: u64,
    dir: JournalDir,
    state: Mutex<State>,
    queue: Mutex<Queue>,
    /// Bounds [`Queue`] in bytes (`StoreConfig::writer_queue_bytes_max`): an append takes one
    /// permit per payload byte before it is queued and the writer gives them back as it takes
    /// the queue. Tokio's semaphore is FIFO, so appenders are admitted in arrival order.
    admission: tokio::sync::Semaphore,
    /// The bound, in permits: a request larger than it takes all of them, so it is admitted
    /// once the queue is empty (never deadlocks).
    admission_max: u32,
    cv: Condvar,
    poisoned: AtomicBool,
    /// Woken after every group the writer publishes (or fails): readers waiting for appends in
    /// flight (see [`DiskStore::wait_in_flight`]) look again.
    published: tokio::sync::Notify,
    /// Readers inside [`DiskStore::wait_in_flight`]; a leading appender that woke some lets them
    /// answer before it does (see [`DiskStore::after_lead`]).
    waiting_readers: AtomicUsize,
    appends: AtomicU64,
    batches: AtomicU64,
    fsyncs: AtomicU64,
    /// Per group write: its write plus sync time, entries and bytes (see [`crate::GroupStats`]).
    groups: crate::GroupStats,
    /// Reads that went to the blocking pool because the recent cache did not cover them.
    pub(crate) blocking_reads: AtomicU64,
    /// Cold reads running on the blocking pool at once (one per core). Unbounded, 8 catch-up
    /// consumers use up to 8 pool threads, each of which may get its own malloc arena keeping
    /// freed read buffers. Measured (rheo-bench `all`, 2 vCPUs): the get phase's peak RSS was
    /// 135-154 MB with reads on the runtime threads, 195-200 MB unbounded, 180-190 MB with this
    /// bound, at the same or better get throughput.
    pub(crate) cold_reads: tokio::sync::Semaphore,
    /// Held by a test to stall the blocking part of [`crate::Store::read`] (a slow disk).
    #[cfg(test)]
    pub(crate) read_gate: Mutex<()>,
    /// Damage events: found at open, plus corrupt frames met by reads (each (segment, position) once).
    corruption_events: AtomicU64,
    /// Corrupt frames reads have met and counted (touched only on that error path).
    reported: Mutex<std::collections::HashSet<(u64, u64)>>,
    /// What recovery found at open.
    damage: Vec<Damage>,
}

/// Admission permits taken by an append that has not reached the queue yet: given back if it
/// never does (an error or an empty append), kept by its [`Req`] once it is queued.
struct Admitted<'a> {
    sem: &'a tokio::sync::Semaphore,
    n: u32,
}

impl Admitted<'_> {
    /// The permits, now owned by the queued request.
    fn into_req(self) -> u32 {
        let n = self.n;
        std::mem::forget(self);
        n
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(self.n as usize);
    }
}

/// Takes every queued request, giving their admission permits back.
fn take_queue(sh: &Shared, q: &mut Queue) -> Vec<Req> {
    let reqs = std::mem::take(&mut q.reqs);
    q.queued_bytes = 0;
    let permits: usize = reqs.iter().map(|r| r.admitted as usize).sum();
    if permits > 0 {
        sh.admission.add_permits(permits);
    }
    reqs
}

/// Counts a reader in [`DiskStore::wait_in_flight`] for as long as it is there, however its
/// future ends (completed or dropped).
struct WaitingReader<'a>(&'a AtomicUsize);

impl<'a> WaitingReader<'a> {
    fn enter(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        WaitingReader(n)
    }
}

impl Drop for WaitingReader<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Largest request an appender commits on its own thread (see [`DiskStore::lead`]). A small
/// group's durable write takes about as long as one `fdatasync`; a large one (a 500-record
/// PutRecords of 1 KiB records is 0.5 MB) keeps the disk busy for milliseconds, during which
/// the appender's runtime thread would serve nobody else. Measured at half the maximum put
/// rate, leading such writes doubled the p99 in some runs.
const LEAD_MAX_BYTES: usize = 64 * 1024;

/// Disk-backed store.
#[derive(Debug)]
pub(crate) struct DiskStore {
    /// Held (locked) for the store's lifetime: two writers on one journal would corrupt it.
    _lock: fs::File,
    shared: Arc<Shared>,
    catalog: Catalog,
    /// The journal's write side. Whoever holds it writes: the writer thread, or an appender
    /// that found the journal idle and commits its own group (see [`DiskStore::lead`]).
    committer: Arc<Mutex<Writer>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// Takes an exclusive advisory lock on `<dir>/LOCK`, released when the file is closed (also by
/// the kernel when the process dies, so a crash never leaves the directory locked).
fn lock_dir(dir: &Path) -> Result<fs::File, OpenError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join("LOCK");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(OpenError::Locked(dir.to_path_buf())),
        Err(fs::TryLockError::Error(e)) => Err(OpenError::Io { path, source: e }),
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a segment through a window so that scanning many small frames costs few syscalls.
struct Window<'a> {
    file: &'a dyn SegmentFile,
    start: u64,
    data: Vec<u8>,
    /// Bytes to read beyond what is asked for.
    ahead: usize,
}

impl<'a> Window<'a> {
    /// For reading a whole segment front to back (recovery): large reads.
    fn new(file: &'a dyn SegmentFile) -> Self {
        Window {
            file,
            start: 0,
            data: Vec::new(),
            ahead: READ_WINDOW,
        }
    }

    /// For following one log through a journal shared with others: frames of other logs are
    /// skipped by their headers, so reading ahead mostly copies data nobody wants (a catch-up
    /// read of one of four busy shards copied four times its own bytes with 256 KiB windows).
    fn probing(file: &'a dyn SegmentFile) -> Self {
        Window {
            ahead: PROBE_WINDOW,
            ..Window::new(file)
        }
    }

    /// Up to `len` bytes at `pos`, never past `limit` (fewer means the file/limit ends first).
    fn get(&mut self, pos: u64, len: usize, limit: u64) -> io::Result<&[u8]> {
        let want_end = (pos + len as u64).min(limit);
        let have_end = self.start + self.data.len() as u64;
        if pos < self.start || want_end > have_end {
            let n = usize::try_from(limit.saturating_sub(pos))
                .unwrap_or(usize::MAX)
                .min(len.max(self.ahead));
            self.data.resize(n, 0);
            let got = self.file.read_at(&mut self.data, pos)?;
            self.data.truncate(got);
            self.start = pos;
        }
        let a = usize::try_from(pos - self.start).unwrap_or(usize::MAX);
        let b = usize::try_from(want_end.saturating_sub(self.start))
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        Ok(self.data.get(a..b.max(a)).unwrap_or_default())
    }

    /// `len` bytes at `pos` as an owned buffer: copied out of the window when it holds them,
    /// otherwise read straight into their own allocation (no second copy of a large frame).
    fn take(&mut self, pos: u64, len: usize, limit: u64) -> io::Result<Bytes> {
        let end = (pos + len as u64).min(limit);
        if pos >= self.start && end <= self.start + self.data.len() as u64 {
            return Ok(Bytes::copy_from_slice(self.get(pos, len, limit)?));
        }
        let n = usize::try_from(end.saturating_sub(pos)).unwrap_or(0);
        let mut buf = vec![0u8; n];
        let got = self.file.read_at(&mut buf, pos)?;
        buf.truncate(got);
        Ok(Bytes::from(buf))
    }
}

/// One item of a segment scan, in file order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scanned {
    /// A valid frame at this position.
    Frame(u64, Header),
    /// `pos..end` holds no valid frame, and a valid frame starts at `end`: corruption, not a torn tail.
    /// `header` is the bad frame's header if it still decodes (its fields may be damaged too).
    Bad {
        pos: u64,
        end: u64,
        header: Option<Header>,
    },
}

/// A whole-segment scan.
#[derive(Debug)]
pub(crate) struct Scan {
    pub(crate) items: Vec<Scanned>,
    /// Where trailing invalid bytes start (nothing valid after them): a torn tail in the active segment, a cut in a
    /// sealed one. `None` when the segment ends on a frame boundary.
    pub(crate) tail: Option<(u64, Option<Header>)>,
}

/// The frame at `pos` if valid, else its header if that still decodes.
fn frame_at(w: &mut Window<'_>, pos: u64, len: u64) -> io::Result<Result<Header, Option<Header>>> {
    // Header first: cheap rejection of torn tails before loading a (possibly bogus) large length.
    let hb = w.get(pos, HEADER_LEN, len)?;
    let Ok(h) = frame::decode_header(hb) else {
        return Ok(Err(None));
    };
    if pos + h.frame_len > len {
        return Ok(Err(Some(h)));
    }
    let n = usize::try_from(h.frame_len).unwrap_or(usize::MAX);
    // `check`'s header: it also holds what a reservation's body says.
    Ok(frame::check(w.get(pos, n, len)?).map_err(|_| Some(h)))
}

/// The format version a segment's header frame declares, if it starts with a valid one (header-less segments are
/// version 1).
fn segment_version(file: &dyn SegmentFile, len: u64) -> io::Result<Option<u64>> {
    // Small reads: this runs for every segment at open.
    let mut w = Window {
        ahead: BLOCK as usize,
        ..Window::new(file)
    };
    Ok(match frame_at(&mut w, 0, len)? {
        Ok(h) if h.kind == Kind::SegmentHeader => Some(h.base),
        _ => None,
    })
}

/// The first valid frame after the bad one at `pos`: where its own length says it ends if a valid frame is there
/// (a flipped byte in a body), else the next position holding the magic and a valid frame.
fn resync(
    w: &mut Window<'_>,
    pos: u64,
    header: Option<Header>,
    len: u64,
) -> io::Result<Option<u64>> {
    if let Some(h) = header {
        let next = pos + h.frame_len;
        if next < len && frame_at(w, next, len)?.is_ok() {
            return Ok(Some(next));
        }
    }
    let magic = frame::MAGIC.to_le_bytes();
    let mut p = pos + 1;
    while p + HEADER_LEN as u64 <= len {
        let found = {
            let chunk = w.get(p, READ_WINDOW, len)?;
            if chunk.len() < magic.len() {
                return Ok(None);
            }
            match chunk.windows(magic.len()).position(|c| c == magic) {
                Some(i) => Ok(i as u64),
                None => Err((chunk.len() - (magic.len() - 1)) as u64),
            }
        };
        match found {
            Ok(i) => {
                let c = p + i;
                if frame_at(w, c, len)?.is_ok() {
                    return Ok(Some(c));
                }
                p = c + 1;
            }
            Err(skip) => p += skip.max(1),
        }
    }
    Ok(None)
}

/// Scans a segment from the start, resynchronising after invalid frames (see [`Scan`]).
pub(crate) fn scan_segment(file: &dyn SegmentFile, len: u64) -> io::Result<Scan> {
    let mut w = Window::new(file);
    let mut items = Vec::new();
    let mut pos = 0u64;
    while pos < len {
        match frame_at(&mut w, pos, len)? {
            Ok(h) => {
                items.push(Scanned::Frame(pos, h));
                pos += h.frame_len;
            }
            Err(header) => match resync(&mut w, pos, header, len)? {
                Some(end) => {
                    items.push(Scanned::Bad { pos, end, header });
                    pos = end;
                }
                None => {
                    return Ok(Scan {
                        items,
                        tail: Some((pos, header)),
                    })
                }
            },
        }
    }
    Ok(Scan { items, tail: None })
}

/// What a bad frame's header says it held, for log messages ("" when the header is unreadable).
fn describe(header: Option<Header>) -> String {
    match header {
        Some(h) if h.kind == Kind::Data && h.count > 0 => format!(
            " (it was a write of log {} entries {}..{})",
            h.log,
            h.base,
            h.base + u64::from(h.count)
        ),
        _ => String::new(),
    }
}

/// How recovery treats the directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecoverMode {
    /// Scan sealed segments even when their `.idx` is valid (fsck: every frame's CRC is checked).
    pub(crate) verify: bool,
    /// Truncate torn tails, rewrite `.idx` files (open); fsck only reads.
    pub(crate) mutate: bool,
}

/// What recovery found, for fsck.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub(crate) damage: Vec<Damage>,
    /// Human-readable notes on `.idx` files (missing, stale) that are not damage.
    pub(crate) notes: Vec<String>,
    /// Segments that hold damage (their `.idx` must not be trusted).
    pub(crate) damaged_segments: Vec<u64>,
    /// Every hole per log (damaged or lost, the flag), sorted.
    pub(crate) holes: Vec<(LostRange, bool)>,
    /// Every log recovered, as (log, start, end), ascending (filled by `fsck_scan` only).
    pub(crate) logs: Vec<(u64, u64, u64)>,
}

/// Replays the journal into `state`: sealed segments from their `.idx` (unless `mode.verify`) or by scanning, the
/// active one by scanning. See "Recovery" and "Corruption" in `docs/design/log-format.md`.
fn recover(
    jdir: &JournalDir,
    state: &mut State,
    seqs: &[u64],
    lost: &[LostRange],
    mode: RecoverMode,
) -> Result<Recovered, OpenError> {
    let jpath = &jdir.path;
    let mut rec = Recovered::default();
    let active = seqs.last().copied().unwrap_or(1);
    // Whether recovery dropped or could not read bytes: only then may acknowledged frames be gone.
    let mut dropped_tail = false;
    // Every segment's version before anything is replayed or written: a segment of a newer format must not be
    // misread (its frames could look torn and be truncated), nor its neighbours' `.idx` rewritten.
    let mut files = Vec::with_capacity(seqs.len());
    for &seq in seqs {
        let path = jdir.file_path(seq, FileKind::Segment);
        let file = jdir.open_segment(seq, false).map_err(io_err(&path))?;
        let len = file.len().map_err(io_err(&path))?;
        if let Some(version) = segment_version(&*file, len).map_err(io_err(&path))? {
            if version > SEGMENT_VERSION {
                return Err(OpenError::UnsupportedVersion {
                    path,
                    version,
                    supported: SEGMENT_VERSION,
                });
            }
        }
        files.push((seq, file));
    }
    for (seq, file) in files {
        let path = jdir.file_path(seq, FileKind::Segment);
        if seq != active {
            file.seal();
        }
        let len = file.len().map_err(io_err(&path))?;
        state.segs.insert(
            seq,
            Seg {
                file: file.clone(),
                len,
                logs: HashMap::new(),
                bad: Vec::new(),
            },
        );
        if seq != active {
            let raw = jdir.read_index(seq).ok().flatten();
            let idx = raw.as_deref().map(index::decode_idx);
            match idx {
                Some(Ok((s, l, logs))) if s == seq && l == len => {
                    if !mode.verify {
                        state.apply_idx(seq, logs);
                        continue;
                    }
                }
                Some(Ok((s, l, logs))) if s == seq => {
                    // The segment is not the length it was sealed at: what the index knew is still the best record
                    // of which offsets were acknowledged.
                    tracing::error!(
                        segment = seq,
                        sealed_bytes = l,
                        bytes = len,
                        "sealed journal segment {} is {len} bytes but was sealed at {l}; rebuilding from its frames",
                        path.display()
                    );
                    rec.notes.push(format!(
                        "segment {seq}: .idx says {l} bytes, file has {len}"
                    ));
                    for r in logs {
                        if let Some((_, end)) = r.range {
                            let e = state.idx_ends.entry(r.log).or_insert((end, seq));
                            if end > e.0 {
                                *e = (end, seq);
                            }
                        }
                    }
                }
                None => {
                    rec.notes.push(format!("segment {seq}: .idx missing"));
                    tracing::info!(
                        segment = seq,
                        "index of sealed journal segment missing; rebuilding it by scanning"
                    );
                }
                _ => {
                    rec.notes.push(format!("segment {seq}: .idx invalid"));
                    tracing::warn!(
                        segment = seq,
                        "index of sealed journal segment invalid; rebuilding it by scanning"
                    );
                }
            }
        }
        let scan = scan_segment(&*file, len).map_err(io_err(&path))?;
        let damage_before = state.damage.len();
        for item in &scan.items {
            match *item {
                Scanned::Frame(pos, ref h) => state.apply(seq, pos, h, None),
                Scanned::Bad { pos, end, header } => state.note_bad(seq, pos, end, header),
            }
        }
        // Copies whose commit frame is not in this segment were a torn relocation: they mean nothing.
        state.pending.clear();
        let mut damaged = state.damage.len() > damage_before;
        if let Some((valid, header)) = scan.tail {
            if seq == active {
                dropped_tail = true;
                tracing::info!(
                    segment = seq,
                    bytes = len - valid,
                    "dropping the last {} bytes of journal segment {}: an unfinished write{} that was never \
                     acknowledged (a write is acknowledged only after its fsync); no acknowledged data is lost",
                    len - valid,
                    path.display(),
                    describe(header)
                );
                if mode.mutate {
                    file.truncate(valid).map_err(io_err(&path))?;
                }
                if let Some(s) = state.segs.get_mut(&seq) {
                    s.len = valid;
                }
            } else {
                // A sealed segment was fsynced before it was sealed: missing bytes at its end are damage.
                state.note_bad(seq, valid, len, header);
                damaged = true;
            }
        }
        if damaged {
            rec.damaged_segments.push(seq);
        }
        if seq == active {
            if mode.mutate {
                // An .idx next to the active segment is stale (its successor's creation was lost).
                jdir.remove(seq, FileKind::Index).map_err(io_err(&path))?;
            }
        } else if mode.mutate {
            if damaged {
                // No `.idx` for a damaged segment: every open rescans it, so the damaged bytes stay known and are
                // skipped by readers.
                jdir.remove(seq, FileKind::Index).map_err(io_err(&path))?;
            } else {
                let b = index::encode_idx(seq, len, &state.idx_for(seq));
                jdir.write_index(seq, &b).map_err(io_err(&path))?;
            }
        }
    }
    // Offsets a mismatched `.idx` says were written but no frame still holds.
    let idx_ends: Vec<(u64, (u64, u64))> = state.idx_ends.drain().collect();
    for (log, (end, seq)) in idx_ends {
        if state.logs.get(&log).is_some_and(|l| end > l.end) {
            state.note_gap(seq, 0, log, end);
            if let Some(l) = state.logs.get_mut(&log) {
                l.next = l.end;
            }
        }
    }
    for r in lost {
        if let Some(l) = state.logs.get_mut(&r.log) {
            l.add_hole(Hole {
                from: r.from,
                to: r.to,
                segment: r.segment,
                position: r.position,
                lost: true,
            });
            l.next = l.next.max(l.end);
        }
    }
    // The high-water mark: offsets up to a log's reservation may have been acknowledged in frames recovery could not
    // keep (a damaged last frame reads as a torn one), so the log continues above it. The jump is visible at once
    // (readers there move on, as past trimmed data); the next reservation frame records it as a skip.
    // Only a dropped tail can hide acknowledged frames of a log's end: damage followed by valid frames keeps its
    // offsets reserved through holes (see `note_bad`/`note_gap`), and a journal ending on a frame boundary lost
    // nothing, so its logs continue where they end.
    let lost_bytes = dropped_tail;
    for l in state.logs.values_mut().filter(|_| lost_bytes) {
        let end = l.end.max(l.next);
        if l.reserved > end {
            l.jump_from = Some(end);
            l.end = l.reserved;
            l.next = l.reserved;
        }
    }
    for d in &state.damage {
        for r in &d.ranges {
            let lost_now = lost
                .iter()
                .any(|x| x.log == r.log && x.from <= r.from && r.to <= x.to);
            if lost_now {
                continue;
            }
            tracing::error!(
                segment = d.segment,
                position = d.position,
                log = r.log,
                from = r.from,
                to = r.to,
                "journal damage: log {} entries {}..{} in segment {} at byte {} fail their checksum; they are \
                 refused to readers until `rheo fsck --repair` marks them lost",
                r.log,
                r.from,
                r.to,
                jpath.join(format!("{:020}.seg", d.segment)).display(),
                d.position
            );
        }
        if d.ranges.is_empty() {
            tracing::error!(
                segment = d.segment,
                position = d.position,
                bytes = d.bytes,
                "journal damage: {} bytes at byte {} of segment {} fail their checksum; no log lost entries to it \
                 that recovery can name",
                d.bytes,
                d.position,
                d.segment
            );
        }
    }
    rec.damage = state.damage.clone();
    for (log, l) in &state.logs {
        for h in &l.holes {
            let r = LostRange {
                log: *log,
                from: h.from,
                to: h.to,
                segment: h.segment,
                position: h.position,
            };
            rec.holes.push((r, h.lost));
        }
    }
    rec.holes.sort_unstable();
    Ok(rec)
}

/// Recovery of `dir` without opening a store: every segment scanned, nothing written (for fsck). Takes the
/// directory's lock, so a running server's directory is refused.
pub(crate) fn fsck_scan(dir: &Path) -> Result<Recovered, OpenError> {
    let _lock = lock_dir(dir)?;
    let jpath = dir.join("journal");
    let jdir = JournalDir {
        path: jpath.clone(),
        faults: None,
        direct_io: false,
        durable_writes: false,
    };
    let mut state = State::new(0);
    let seqs = match fs::metadata(&jpath) {
        Ok(_) => jdir.list_segments().map_err(io_err(&jpath))?,
        Err(_) => Vec::new(),
    };
    let lost = LostRange::load(dir).map_err(io_err(dir))?;
    let mut rec = recover(
        &jdir,
        &mut state,
        &seqs,
        &lost,
        RecoverMode {
            verify: true,
            mutate: false,
        },
    )?;
    rec.logs = state
        .logs
        .iter()
        .map(|(log, l)| (*log, l.start, l.end))
        .collect();
    rec.logs.sort_unstable();
    Ok(rec)
}

impl DiskStore {
    pub(crate) fn open(
        config: &StoreConfig,
        dir: &Path,
        faults: Option<Arc<Faults>>,
    ) -> Result<Self, OpenError> {
        let lock = lock_dir(dir)?;
        let jpath = dir.join("journal");
        fs::create_dir_all(&jpath).map_err(io_err(&jpath))?;
        let cpath = dir.join("catalog");
        let catalog = Catalog::open(&cpath).map_err(io_err(&cpath))?;
        let jdir = JournalDir {
            path: jpath.clone(),
            faults,
            direct_io: config.direct_io,
            durable_writes: matches!(config.fsync, FsyncPolicy::Group | FsyncPolicy::Always),
        };
        let mut state = State::new(config.recent_bytes_max);
        let mut seqs = jdir.list_segments().map_err(io_err(&jpath))?;
        if seqs.is_empty() {
            jdir.open_segment(1, true).map_err(io_err(&jpath))?;
            jdir.sync_dir().map_err(io_err(&jpath))?;
            seqs.push(1);
        }
        let lost = LostRange::load(dir).map_err(io_err(dir))?;
        let rec = recover(
            &jdir,
            &mut state,
            &seqs,
            &lost,
            RecoverMode {
                verify: false,
                mutate: true,
            },
        )?;
        let damage_events = rec.damage.len() as u64;
        // Drop index files whose segment is gone (deleted by GC just before a crash).
        if let Ok(rd) = fs::read_dir(&jpath) {
            for e in rd.flatten() {
                let name = e.file_name();
                let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".idx")) else {
                    continue;
                };
                if stem
                    .parse::<u64>()
                    .is_ok_and(|s| !state.segs.contains_key(&s))
                {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        // Permits are u32 in tokio's API: a bound above 4 GiB is clamped (it bounds nothing then).
        let admission_max = u32::try_from(config.writer_queue_bytes_max)
            .unwrap_or(u32::MAX)
            .max(1);
        let shared = Arc::new(Shared {
            policy: config.fsync,
            seg_max: config.segment_bytes_max.max(1),
            reloc_max: config.relocate_bytes_max,
            dir: jdir,
            state: Mutex::new(state),
            queue: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            poisoned: AtomicBool::new(false),
            admission: tokio::sync::Semaphore::new(admission_max as usize),
            admission_max,
            published: tokio::sync::Notify::new(),
            waiting_readers: AtomicUsize::new(0),
            appends: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            groups: crate::GroupStats::default(),
            blocking_reads: AtomicU64::new(0),
            cold_reads: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            #[cfg(test)]
            read_gate: Mutex::new(()),
            corruption_events: AtomicU64::new(damage_events),
            reported: Mutex::new(std::collections::HashSet::new()),
            damage: rec.damage,
        });
        let committer = Arc::new(Mutex::new(Writer::new(shared.clone())));
        let (sh, w) = (shared.clone(), committer.clone());
        let writer = std::thread::Builder::new()
            .name("rheo-log-writer".into())
            .spawn(move || Writer::run(&w, &sh))
            .map_err(OpenError::Thread)?;
        Ok(DiskStore {
            _lock: lock,
            shared,
            catalog,
            committer,
            writer: Mutex::new(Some(writer)),
        })
    }

    fn push(&self, q: &mut Queue, req: Req) {
        q.reqs.push(req);
        self.shared.cv.notify_one();
    }

    /// Queues an append's request. Returns whether its appender should try to commit it itself:
    /// in the syncing policies, when nothing else is queued and the request is small (see
    /// [`LEAD_MAX_BYTES`]). Then the writer thread is not woken.
    fn push_append(&self, q: &mut Queue, req: Req, admitted_bytes: u64) -> bool {
        let bytes: usize = req.frames.iter().map(|f| f.buf.len()).sum();
        q.queued_bytes = q.queued_bytes.saturating_add(admitted_bytes);
        q.queued_bytes_peak = q.queued_bytes_peak.max(q.queued_bytes);
        let lead = q.reqs.is_empty()
            && bytes <= LEAD_MAX_BYTES
            && matches!(self.shared.policy, FsyncPolicy::Group | FsyncPolicy::Always);
        if lead {
            q.reqs.push(req);
        } else {
            self.push(q, req);
        }
        lead
    }

    /// Commits the queue on the calling thread if the journal is idle; otherwise hands it to
    /// the writer thread.
    ///
    /// Why: at low load every append crossed two thread hops (to the writer thread and back
    /// to the appender's task), each a wake-up of a sleeping thread, 50-80 µs at p50 and up
    /// to 0.2-0.4 ms at p90 on a loaded 2-vCPU VM. An appender that finds the journal idle
    /// and the queue holding only its own request writes the group itself. It blocks its
    /// thread for about one durable write, which only happens when nothing else is queued;
    /// under load the queue is rarely empty and the writer thread commits as before.
    ///
    /// Order: the committer lock is taken before the queue is drained, so groups reach the
    /// journal in queue order whichever thread writes them.
    fn lead(&self) {
        let Some(mut w) = self.committer.try_lock() else {
            // Someone is writing; the writer thread takes the queue when it is free.
            let _q = self.shared.queue.lock();
            self.shared.cv.notify_one();
            return;
        };
        let reqs = take_queue(&self.shared, &mut self.shared.queue.lock());
        w.commit_all(reqs);
        drop(w);
        let q = self.shared.queue.lock();
        if !q.reqs.is_empty() {
            // Requests queued meanwhile (their appenders saw ours and left them to the thread):
            // the writer thread carries on. Runway steps wait for its tick (see RUNWAY_TICK).
            self.shared.cv.notify_one();
        }
    }

    /// After committing its own group, an appender whose commit woke waiting readers yields once
    /// so they answer first.
    ///
    /// Why: the woken readers are queued on this runtime thread, and the appender would otherwise
    /// go on to encode and send its own answer, then its client's thread and this one compete for
    /// the CPU before the readers run. Traced at 1,000 records/s on 2 vCPUs, the four consumers'
    /// answers left 83, 188, 287 and 371 µs after the write at p50; a reader's answer takes about
    /// 25 µs to build. The appender's own answer is delayed by about that much per reader.
    async fn after_lead(&self) {
        if self.shared.waiting_readers.load(Ordering::SeqCst) > 0 {
            tokio::task::yield_now().await;
        }
    }

    /// Waits (FIFO) until the writer's queue has room for `bytes` of payload; a request larger
    /// than the whole bound waits for the queue to be empty.
    async fn admit(&self, bytes: u64) -> Result<Admitted<'_>, AppendError> {
        let n = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .min(self.shared.admission_max);
        if n > 0 {
            self.shared
                .admission
                .acquire_many(n)
                .await
                .map_err(|_| AppendError::Closed)?
                .forget();
        }
        Ok(Admitted {
            sem: &self.shared.admission,
            n,
        })
    }

    async fn wait(rx: oneshot::Receiver<Result<(), AppendError>>) -> Result<(), AppendError> {
        rx.await.unwrap_or(Err(AppendError::Closed))
    }

    /// Assigns offsets and seals one append's frame in place, pushing it on `frames` (after a reservation frame when
    /// the append passes the log's reservation); the caller holds the state lock.
    fn prepare(
        st: &mut State,
        log: LogId,
        ts: i64,
        mut batch: Batch,
        frames: &mut Vec<QFrame>,
    ) -> Result<AppendAck, AppendError> {
        let len = batch.frame_len();
        if len > frame::MAX_FRAME_LEN {
            return Err(AppendError::TooLarge(len));
        }
        if !st.logs.contains_key(&log.0) {
            let g = st.new_gen();
            st.logs.insert(log.0, LogState::new(g, 0));
        }
        let Some(l) = st.logs.get_mut(&log.0) else {
            return Err(AppendError::Closed);
        };
        let ts = effective_timestamp(ts, l.next_ts);
        let count = batch.count;
        let ack = AppendAck {
            first: Offset(l.next),
            count,
            timestamp_ms: ts,
        };
        if count == 0 {
            return Ok(ack);
        }
        frame::seal(&mut batch.buf, Kind::Data, log.0, l.next, ts, count);
        let header = frame::decode_header(&batch.buf)
            .map_err(|e| AppendError::Io(format!("frame encoding: {e:?}")))?;
        let end = l.next.saturating_add(u64::from(count));
        // The common case is this compare: a reservation covers the next 65,536 entries.
        if end > l.reserved {
            let to = end.saturating_add(RESERVE_STEP);
            let skip_from = l.jump_from.unwrap_or(l.next);
            let mut buf = Vec::with_capacity(HEADER_LEN + RESERVE_BODY);
            frame::encode_reserve(&mut buf, log.0, skip_from, l.next, to, ts);
            let rheader = frame::check(&buf)
                .map_err(|e| AppendError::Io(format!("frame encoding: {e:?}")))?;
            // Queued before the data frame, in the same request: durable whenever the data is.
            frames.push(QFrame {
                log: log.0,
                gen: l.gen,
                header: rheader,
                buf,
            });
            l.reserved = to;
            l.jump_from = None;
        }
        l.next = end;
        l.next_ts = Some(ts);
        frames.push(QFrame {
            log: log.0,
            gen: l.gen,
            header,
            buf: batch.buf,
        });
        Ok(ack)
    }

    pub(crate) async fn append_many(
        &self,
        batches: Vec<(LogId, i64, Batch)>,
    ) -> Vec<Result<AppendAck, AppendError>> {
        let n = batches.len();
        let mut results = Vec::with_capacity(n);
        let mut frames = Vec::new();
        let bytes: u64 = batches.iter().map(|(_, _, b)| b.frame_len()).sum();
        let admitted = match self.admit(bytes).await {
            Ok(a) => a,
            Err(e) => return (0..n).map(|_| Err(e.clone())).collect(),
        };
        let (tx, rx) = oneshot::channel();
        let lead = {
            let mut st = self.shared.state.lock();
            if self.shared.poisoned.load(Ordering::SeqCst) {
                return (0..n).map(|_| Err(AppendError::Poisoned)).collect();
            }
            let mut data_frames = 0u64;
            for (log, ts, batch) in batches {
                let before = frames.len();
                match Self::prepare(&mut st, log, ts, batch, &mut frames) {
                    Ok(ack) => {
                        data_frames += u64::from(frames.len() > before);
                        results.push(Ok(ack));
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            if frames.is_empty() {
                return results;
            }
            self.shared
                .appends
                .fetch_add(data_frames, Ordering::Relaxed);
            let mut q = self.shared.queue.lock();
            self.push_append(
                &mut q,
                Req {
                    frames,
                    force_sync: false,
                    admitted: admitted.into_req(),
                    reply: tx,
                },
                bytes,
            )
        };
        if lead {
            self.lead();
            self.after_lead().await;
        }
        match Self::wait(rx).await {
            Ok(()) => results,
            Err(e) => results.into_iter().map(|r| r.and(Err(e.clone()))).collect(),
        }
    }

    pub(crate) async fn append(
        &self,
        log: LogId,
        ts: i64,
        batch: Batch,
    ) -> Result<AppendAck, AppendError> {
        let bytes = batch.frame_len();
        let admitted = self.admit(bytes).await?;
        let (tx, rx) = oneshot::channel();
        let (ack, lead) = {
            let mut st = self.shared.state.lock();
            if self.shared.poisoned.load(Ordering::SeqCst) {
                return Err(AppendError::Poisoned);
            }
            let mut frames = Vec::with_capacity(1);
            let ack = Self::prepare(&mut st, log, ts, batch, &mut frames)?;
            if frames.is_empty() {
                return Ok(ack);
            }
            self.shared.appends.fetch_add(1, Ordering::Relaxed);
            let mut q = self.shared.queue.lock();
            let lead = self.push_append(
                &mut q,
                Req {
                    frames,
                    force_sync: false,
                    admitted: admitted.into_req(),
                    reply: tx,
                },
                bytes,
            );
            (ack, lead)
        };
        if lead {
            self.lead();
            self.after_lead().await;
        }
        Self::wait(rx).await.map(|()| ack)
    }

    pub(crate) async fn delete_log(&self, log: LogId) -> Result<(), AppendError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.state.lock();
            if self.shared.poisoned.load(Ordering::SeqCst) {
                return Err(AppendError::Poisoned);
            }
            st.logs.remove(&log.0);
            let mut buf = Vec::with_capacity(HEADER_LEN);
            frame::encode(&mut buf, Kind::Tombstone, log.0, 0, 0, &[]);
            let header = frame::decode_header(&buf)
                .map_err(|e| AppendError::Io(format!("frame encoding: {e:?}")))?;
            let mut q = self.shared.queue.lock();
            q.gc = true;
            self.push(
                &mut q,
                Req {
                    frames: vec![QFrame {
                        log: log.0,
                        gen: 0,
                        header,
                        buf,
                    }],
                    force_sync: true,
                    admitted: 0,
                    reply: tx,
                },
            );
        }
        Self::wait(rx).await
    }

    /// Durable trim: offsets of `log` below `offset` (clamped to the visible end) become invisible at once and stay
    /// so after a restart once this returns (a `Kind::Trim` frame, synced under every policy).
    pub(crate) async fn trim_to_offset(
        &self,
        log: LogId,
        offset: Offset,
    ) -> Result<(), AppendError> {
        let (tx, rx) = oneshot::channel();
        let queued = {
            let mut st = self.shared.state.lock();
            if self.shared.poisoned.load(Ordering::SeqCst) {
                return Err(AppendError::Poisoned);
            }
            let Some(l) = st.logs.get_mut(&log.0) else {
                return Ok(());
            };
            let to = offset.0.min(l.end);
            // An equal or higher trim already queued is durable once the journal is synced (no I/O when nothing
            // is unsynced).
            if to <= l.trim_off {
                false
            } else {
                self.queue_trim(l, log, to, tx)?;
                true
            }
        };
        if !queued {
            return self.sync().await;
        }
        Self::wait(rx).await
    }

    /// Moves `l`'s start to `to` and queues its trim frame; the caller holds the state lock.
    fn queue_trim(
        &self,
        l: &mut LogState,
        log: LogId,
        to: u64,
        tx: oneshot::Sender<Result<(), AppendError>>,
    ) -> Result<(), AppendError> {
        {
            l.start = l.start.max(to);
            l.trim_off = to;
            let mut buf = Vec::with_capacity(HEADER_LEN);
            frame::encode(&mut buf, Kind::Trim, log.0, to, l.end_ts.unwrap_or(0), &[]);
            let header = frame::decode_header(&buf)
                .map_err(|e| AppendError::Io(format!("frame encoding: {e:?}")))?;
            let gen = l.gen;
            let mut q = self.shared.queue.lock();
            q.gc = true;
            self.push(
                &mut q,
                Req {
                    frames: vec![QFrame {
                        log: log.0,
                        gen,
                        header,
                        buf,
                    }],
                    force_sync: true,
                    admitted: 0,
                    reply: tx,
                },
            );
        }
        Ok(())
    }

    /// Runs one garbage-collection round (with reclamation) on the writer thread and waits for it.
    pub(crate) async fn collect_garbage(&self) -> Result<(), AppendError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.shared.queue.lock();
            q.gc = true;
            q.gc_waiters.push(tx);
            self.shared.cv.notify_one();
        }
        Self::wait(rx).await
    }

    pub(crate) async fn sync(&self) -> Result<(), AppendError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.shared.queue.lock();
            self.push(
                &mut q,
                Req {
                    frames: Vec::new(),
                    force_sync: true,
                    admitted: 0,
                    reply: tx,
                },
            );
        }
        Self::wait(rx).await
    }

    /// Whether entries at `from` of `log` have been appended but are not visible yet (their
    /// group is still being written).
    fn in_flight(&self, log: LogId, from: u64) -> bool {
        if self.shared.poisoned.load(Ordering::SeqCst) {
            return false;
        }
        let st = self.shared.state.lock();
        st.logs
            .get(&log.0)
            .is_some_and(|l| l.end <= from && from < l.next)
    }

    /// Waits, at most `max`, until entries at `from` that are in flight become visible; returns at
    /// once when there are none.
    pub(crate) async fn wait_in_flight(&self, log: LogId, from: Offset, max: Duration) {
        if !self.in_flight(log, from.0) {
            return;
        }
        let _waiting = WaitingReader::enter(&self.shared.waiting_readers);
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let notified = self.shared.published.notified();
            tokio::pin!(notified);
            // Registered before the check, so a publish between the check and the await wakes us.
            notified.as_mut().enable();
            if !self.in_flight(log, from.0) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Woken after every group the writer publishes (see [`Store::wait_for_entries`]).
    pub(crate) fn published(&self) -> &tokio::sync::Notify {
        &self.shared.published
    }

    pub(crate) fn bounds(&self, log: LogId) -> LogBounds {
        let st = self.shared.state.lock();
        match st.logs.get(&log.0) {
            None => LogBounds {
                start: Offset(0),
                end: Offset(0),
                last_timestamp_ms: None,
            },
            Some(l) => LogBounds {
                start: Offset(l.start),
                end: Offset(l.end),
                last_timestamp_ms: l.end_ts,
            },
        }
    }

    /// Everything a reader needs from the state, taken under the lock; the I/O happens without it.
    fn plan(&self, log: LogId, from: Option<u64>, ts: Option<i64>) -> Option<ReadPlan> {
        let st = self.shared.state.lock();
        let l = st.logs.get(&log.0)?;
        let mut from = from.unwrap_or(l.start).max(l.start);
        let mut end = l.end;
        let mut damaged = None;
        for h in &l.holes {
            if from >= h.to {
                continue;
            }
            if from >= h.from {
                if h.lost {
                    // Lost by repair: like trimmed data, readers move past it.
                    from = h.to;
                    continue;
                }
                damaged = Some(ReadError::Damaged {
                    log: log.0,
                    from: h.from,
                    to: h.to,
                    segment: h.segment,
                    position: h.position,
                });
            } else {
                // A read stops before a hole; the next one starting there learns about it.
                end = end.min(h.from);
            }
            break;
        }
        let from = from.min(l.end);
        let mut p = match ts {
            Some(ts) => l.index.floor_ts(ts).or_else(|| l.index.first())?,
            None => l.index.floor(from)?,
        };
        if ts.is_none() {
            if let Some(h) = l.hint {
                if h.off <= from && (h.seq, h.pos) > (p.seq, p.pos) && st.segs.contains_key(&h.seq)
                {
                    p = h;
                }
            }
        }
        let mut segs = Vec::new();
        let seg_of = |seq: u64| {
            st.segs
                .get(&seq)
                .map(|s| (seq, s.file.clone(), s.len, s.bad.clone()))
        };
        if let Some((seq, f, len, bad)) = seg_of(p.seq) {
            segs.push((seq, f, p.pos, len, bad));
        }
        for q in l.index.segments_after(p.seq) {
            if let Some((seq, f, len, bad)) = seg_of(q.seq) {
                segs.push((seq, f, q.pos, len, bad));
            }
        }
        Some(ReadPlan {
            from,
            start: l.start,
            end,
            gen: l.gen,
            segs,
            damaged,
        })
    }

    pub(crate) fn read(
        &self,
        log: LogId,
        from: Offset,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, ReadError> {
        let mut out = Vec::new();
        if max_count == 0 {
            return Ok(out);
        }
        if let Some(out) = self.read_recent(log, from.0, max_count, max_bytes) {
            return Ok(out);
        }
        let Some(plan) = self.plan(log, Some(from.0), None) else {
            return Ok(out);
        };
        if let Some(e) = plan.damaged {
            return Err(e);
        }
        if plan.from >= plan.end {
            return Ok(out);
        }
        let mut bytes = 0usize;
        let mut hint = None;
        // The next offset wanted: frames below it are skipped, so the leftovers of a torn relocation (copies of
        // entries already passed, never committed) are never served twice.
        let mut want = plan.from;
        'segs: for (seq, file, start_pos, len, bad) in &plan.segs {
            let mut w = Window::probing(&**file);
            let mut pos = *start_pos;
            while pos < *len {
                if let Some(next) = skip_bad(bad, pos) {
                    pos = next;
                    continue;
                }
                let hb = w
                    .get(pos, HEADER_LEN, *len)
                    .map_err(|e| ReadError::Io(e.to_string()))?;
                let h = frame::decode_header(hb).map_err(|e| corrupt(*seq, pos, e))?;
                if h.log == log.0 && h.kind.has_entries() {
                    if h.base >= plan.end {
                        break 'segs;
                    }
                    if h.base + u64::from(h.count) > want {
                        let n = usize::try_from(h.frame_len).unwrap_or(usize::MAX);
                        let fb = w
                            .take(pos, n, *len)
                            .map_err(|e| ReadError::Io(e.to_string()))?;
                        let checked =
                            frame::check(&fb).and_then(|h| Ok((h, frame::entries(&fb, &h)?)));
                        let (h, payloads) = match checked {
                            Ok(c) => c,
                            // Serve what comes before the damage; the next read, starting at it, is refused.
                            Err(_) if !out.is_empty() => break 'segs,
                            Err(_) => return Err(self.damaged_read(&h, *seq, pos)),
                        };
                        for (i, p) in payloads.into_iter().enumerate() {
                            let off = h.base + i as u64;
                            if off < want {
                                continue;
                            }
                            if off >= plan.end
                                || out.len() >= max_count
                                || (!out.is_empty() && bytes + p.len() > max_bytes)
                            {
                                hint = Some(Point {
                                    off: h.base,
                                    seq: *seq,
                                    pos,
                                    ts: h.timestamp_ms,
                                    pinned: false,
                                });
                                break 'segs;
                            }
                            bytes += p.len();
                            want = off + 1;
                            out.push(Entry {
                                offset: Offset(off),
                                timestamp_ms: h.timestamp_ms,
                                payload: p,
                            });
                        }
                        hint = Some(Point {
                            off: h.base + u64::from(h.count),
                            seq: *seq,
                            pos: pos + h.frame_len,
                            ts: h.timestamp_ms,
                            pinned: false,
                        });
                    }
                }
                pos += h.frame_len;
            }
        }
        if let Some(h) = hint {
            let mut st = self.shared.state.lock();
            if let Some(l) = st.logs.get_mut(&log.0) {
                if l.gen == plan.gen {
                    l.hint = Some(h);
                }
            }
        }
        // The start may have moved while we read without the lock: never return trimmed entries.
        let start = self.bounds(log).start.0.max(plan.start);
        out.retain(|e| e.offset.0 >= start);
        Ok(out)
    }

    /// [`DiskStore::read`] from the frames kept in memory, when they reach back to `from` (or
    /// nothing is visible there yet); `None` sends the caller to the files. Never does I/O, so
    /// [`crate::Store::read`] calls it on the runtime thread before going to the blocking pool.
    pub(crate) fn read_recent(
        &self,
        log: LogId,
        from: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Option<Vec<Entry>> {
        let (from, end, frames) = {
            let st = self.shared.state.lock();
            let l = st.logs.get(&log.0)?;
            if !l.holes.is_empty() {
                // Damaged or lost ranges are resolved by the file path's plan.
                return None;
            }
            let from = from.max(l.start);
            if from >= l.end {
                return Some(Vec::new());
            }
            // Only the references are taken under the lock; splitting frames happens outside it.
            (from, l.end, l.recent.covering(from, max_count, max_bytes)?)
        };
        let mut out = Vec::new();
        let mut bytes = 0usize;
        'frames: for f in &frames {
            // Kept frames were checked when written and have not left memory since.
            let Ok(payloads) = frame::entries(&f.frame, &f.header) else {
                tracing::error!(log = log.0, base = f.header.base, "kept frame undecodable");
                return None;
            };
            for (i, p) in payloads.into_iter().enumerate() {
                let off = f.header.base + i as u64;
                if off < from {
                    continue;
                }
                if off >= end
                    || out.len() >= max_count
                    || (!out.is_empty() && bytes + p.len() > max_bytes)
                {
                    break 'frames;
                }
                bytes += p.len();
                out.push(Entry {
                    offset: Offset(off),
                    timestamp_ms: f.header.timestamp_ms,
                    payload: p,
                });
            }
        }
        Some(out)
    }

    pub(crate) fn seek_timestamp(&self, log: LogId, ts: i64) -> Result<Offset, ReadError> {
        let Some(plan) = self.plan(log, None, Some(ts)) else {
            return Ok(self.bounds(log).end);
        };
        // Frames ending at or below what was passed are leftovers of a torn relocation (see `read`).
        let mut passed = 0u64;
        for (seq, file, start_pos, len, bad) in &plan.segs {
            let mut w = Window::probing(&**file);
            let mut pos = *start_pos;
            while pos < *len {
                if let Some(next) = skip_bad(bad, pos) {
                    pos = next;
                    continue;
                }
                let hb = w
                    .get(pos, HEADER_LEN, *len)
                    .map_err(|e| ReadError::Io(e.to_string()))?;
                let h = frame::decode_header(hb).map_err(|e| corrupt(*seq, pos, e))?;
                if h.log == log.0
                    && h.kind.has_entries()
                    && h.count > 0
                    && h.base + u64::from(h.count) > passed
                {
                    passed = h.base + u64::from(h.count);
                    if h.base >= plan.end {
                        return Ok(Offset(plan.end));
                    }
                    if h.timestamp_ms >= ts {
                        return Ok(Offset(h.base.max(plan.start).min(plan.end)));
                    }
                }
                pos += h.frame_len;
            }
        }
        Ok(Offset(plan.end))
    }

    /// Whether [`DiskStore::trim`] would change nothing, known without I/O.
    ///
    /// Nothing older than the horizon is the usual case: retention runs for every log on a
    /// timer, and a seek per log per tick kept a core busy with 10,000 idle logs.
    pub(crate) fn trim_is_noop(&self, log: LogId, before_ts: i64) -> bool {
        let st = self.shared.state.lock();
        let Some(l) = st.logs.get(&log.0) else {
            return true;
        };
        l.start >= l.end || l.index.floor_ts(before_ts).is_none()
    }

    pub(crate) fn trim(&self, log: LogId, before_ts: i64) -> Result<(), ReadError> {
        if self.trim_is_noop(log, before_ts) {
            return Ok(());
        }
        let new_start = self.seek_timestamp(log, before_ts)?;
        let mut st = self.shared.state.lock();
        let Some(l) = st.logs.get_mut(&log.0) else {
            return Ok(());
        };
        if new_start.0 > l.start {
            l.start = new_start.0.min(l.end);
            let mut q = self.shared.queue.lock();
            q.gc = true;
            self.shared.cv.notify_one();
        }
        Ok(())
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// A frame of `h.log` whose header reads but whose CRC or body fails, met by a read (a sealed segment whose
    /// `.idx` was trusted at open, so recovery did not scan it): named and counted once, never served.
    fn damaged_read(&self, h: &Header, seq: u64, pos: u64) -> ReadError {
        if self.shared.reported.lock().insert((seq, pos)) {
            self.shared
                .corruption_events
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                segment = seq,
                position = pos,
                log = h.log,
                "journal damage: log {} entries {}..{} at byte {pos} of segment {seq} fail their checksum; they are \
                 refused to readers until `rheo fsck --repair` marks them lost",
                h.log,
                h.base,
                h.base + u64::from(h.count)
            );
        }
        ReadError::Damaged {
            log: h.log,
            from: h.base,
            to: h.base + u64::from(h.count),
            segment: seq,
            position: pos,
        }
    }

    pub(crate) fn readable_from(&self, log: LogId, from: Offset) -> Offset {
        let st = self.shared.state.lock();
        let mut from = from.0;
        if let Some(l) = st.logs.get(&log.0) {
            for h in l.holes.iter().filter(|h| h.lost) {
                if h.from <= from && from < h.to {
                    from = h.to;
                }
            }
        }
        Offset(from)
    }

    /// Damage events so far (see [`crate::Store::corruption_events`]).
    pub(crate) fn corruption_events(&self) -> u64 {
        self.shared.corruption_events.load(Ordering::Relaxed)
    }

    /// What recovery found at open.
    pub(crate) fn damage(&self) -> Vec<Damage> {
        self.shared.damage.clone()
    }

    /// Counts a read sent to the blocking pool (see [`crate::Store::read`]).
    pub(crate) fn note_blocking_read(&self) {
        self.shared.blocking_reads.fetch_add(1, Ordering::Relaxed);
    }

    /// Bounds the cold reads on the blocking pool at once (see `Shared::cold_reads`).
    pub(crate) fn cold_reads(&self) -> &tokio::sync::Semaphore {
        &self.shared.cold_reads
    }

    #[cfg(test)]
    pub(crate) fn read_gate(&self) -> &Mutex<()> {
        &self.shared.read_gate
    }

    pub(crate) fn stats(&self) -> StoreStats {
        // The queue's lock is taken (and released) before the state's: the two are never held together here.
        let (queue_now, queue_peak) = {
            let q = self.shared.queue.lock();
            (q.queued_bytes, q.queued_bytes_peak)
        };
        let st = self.shared.state.lock();
        let holes = |lost: bool| -> u64 {
            st.logs
                .values()
                .flat_map(|l| l.holes.iter())
                .filter(|h| h.lost == lost)
                .map(|h| h.to.saturating_sub(h.from))
                .sum()
        };
        StoreStats {
            segments: st.segs.len() as u64,
            disk_bytes: st.segs.values().map(|s| s.len).sum(),
            logs: st.logs.len() as u64,
            index_points: st.logs.values().map(|l| l.index.len() as u64).sum(),
            appends: self.shared.appends.load(Ordering::Relaxed),
            write_batches: self.shared.batches.load(Ordering::Relaxed),
            fsyncs: self.shared.fsyncs.load(Ordering::Relaxed),
            damaged_entries: holes(false),
            lost_entries: holes(true),
            blocking_reads: self.shared.blocking_reads.load(Ordering::Relaxed),
            writer_queue_bytes_peak: queue_peak,
            writer_queue_bytes: queue_now,
        }
    }

    pub(crate) fn groups(&self) -> &crate::GroupStats {
        &self.shared.groups
    }

    /// Live bytes of each log's data frames in the journal (a log's share of the segments; a
    /// segment from an old `.idx` that does not record it counts whole, as reclamation prices it).
    pub(crate) fn log_bytes(&self) -> Vec<(LogId, u64)> {
        let st = self.shared.state.lock();
        let mut out: HashMap<u64, u64> = HashMap::new();
        for seg in st.segs.values() {
            for (log, sl) in &seg.logs {
                let live = st
                    .logs
                    .get(log)
                    .is_some_and(|l| l.gen == sl.gen && sl.range.is_some_and(|(_, e)| e > l.start));
                if live {
                    *out.entry(*log).or_default() += sl.bytes.unwrap_or(seg.len);
                }
            }
        }
        let mut v: Vec<(LogId, u64)> = out.into_iter().map(|(l, b)| (LogId(l), b)).collect();
        v.sort_unstable();
        v
    }

    /// Ids of all live logs (for the fuzz harness and tests).
    pub(crate) fn log_ids(&self) -> Vec<LogId> {
        let mut v: Vec<LogId> = self
            .shared
            .state
            .lock()
            .logs
            .keys()
            .map(|k| LogId(*k))
            .collect();
        v.sort();
        v
    }
}

impl Drop for DiskStore {
    fn drop(&mut self) {
        {
            let mut q = self.shared.queue.lock();
            q.shutdown = true;
            self.shared.cv.notify_one();
        }
        if let Some(h) = self.writer.lock().take() {
            if h.join().is_err() {
                tracing::error!("journal writer thread panicked");
            }
        }
    }
}

fn corrupt(seq: u64, pos: u64, e: FrameError) -> ReadError {
    ReadError::Corrupt(format!("segment {seq} position {pos}: {e:?}"))
}

struct ReadPlan {
    from: u64,
    start: u64,
    end: u64,
    gen: u64,
    /// (seq, file, position to start scanning at, segment length snapshot, damaged byte ranges to skip)
    segs: Vec<PlanSeg>,
    /// `from` lies in a damaged range: the read is refused with this.
    damaged: Option<ReadError>,
}

/// One segment of a [`ReadPlan`].
type PlanSeg = (u64, Arc<dyn SegmentFile>, u64, u64, Vec<(u64, u64)>);

/// A log chosen for relocation: its live range and the segments (file, first position, length) to read it from.
struct RelocLog {
    log: u64,
    gen: u64,
    start: u64,
    end: u64,
    trim_off: u64,
    /// The live incarnation's reservation when the plan was made: the relocation write carries it (see
    /// [`Writer::copy_frames`]).
    reserved: u64,
    segs: Vec<(Arc<dyn SegmentFile>, u64, u64)>,
}

/// The end of the damaged byte range holding `pos`, if any (readers jump there).
fn skip_bad(bad: &[(u64, u64)], pos: u64) -> Option<u64> {
    bad.iter().find(|r| r.0 <= pos && pos < r.1).map(|r| r.1)
}

/// How far ahead of the active segment's end the writer keeps zeroed, allocated blocks in the
/// durable policies (see [`SegmentFile::prezero`]), and the step it zeroes per idle moment. The
/// step is small so a commit that arrives meanwhile waits at most about one 64 KiB write.
const RUNWAY_AHEAD: u64 = 1024 * 1024;
const RUNWAY_STEP: u64 = 64 * 1024;
/// How long the journal must have been quiet before a runway step. Why: right after a group
/// is written its readers and appenders are being answered; a step then (a thread wake-up and
/// a 64 KiB synchronous write) competed with them for the CPU and the device.
const RUNWAY_QUIET: Duration = Duration::from_millis(1);
/// How often an idle writer thread looks whether the runway needs a step. Why a tick rather
/// than a wake-up from the appender: leading appenders commit without the thread, and waking
/// it right after a commit let it preempt the appender's runtime thread (traced: the leader
/// lost its CPU for ~190 µs to the writer and a consumer while readers waited for answers).
const RUNWAY_TICK: Duration = Duration::from_millis(20);

/// The journal's write side (see [`DiskStore::committer`]).
#[derive(Debug)]
struct Writer {
    sh: Arc<Shared>,
    dirty: bool,
    last_sync: Instant,
    /// When the last group was written (runway steps wait for [`RUNWAY_QUIET`] after it).
    last_commit: Instant,
    /// (active segment, end of the zeroed runway) once known; `None` after the file system
    /// refused (buffered mode) or failed a prezero.
    runway: Option<(u64, u64)>,
    runway_enabled: bool,
}

impl Writer {
    fn new(sh: Arc<Shared>) -> Self {
        let runway_enabled = matches!(sh.policy, FsyncPolicy::Group | FsyncPolicy::Always);
        Writer {
            sh,
            dirty: false,
            last_sync: Instant::now(),
            last_commit: Instant::now(),
            runway: None,
            runway_enabled,
        }
    }

    /// Where the next runway step would start, if the runway is short.
    fn runway_due(&self) -> Option<(u64, Arc<dyn SegmentFile>, u64)> {
        if !self.runway_enabled || self.sh.poisoned.load(Ordering::SeqCst) {
            return None;
        }
        let (seq, file, len) = self.active()?;
        let floor = len.div_ceil(BLOCK) * BLOCK;
        let zeroed = match self.runway {
            Some((s, end)) if s == seq => end.max(floor),
            _ => floor,
        };
        let cap = self.sh.seg_max.saturating_add(RUNWAY_STEP);
        (zeroed < floor + RUNWAY_AHEAD && zeroed + RUNWAY_STEP <= cap)
            .then_some((seq, file, zeroed))
    }

    fn extend_runway(&mut self) {
        let Some((seq, file, from)) = self.runway_due() else {
            return;
        };
        match file.prezero(from, RUNWAY_STEP) {
            Ok(true) => self.runway = Some((seq, from + RUNWAY_STEP)),
            Ok(false) => self.runway_enabled = false,
            Err(e) => {
                // Zeros are not data: nothing is lost, appends just keep extending the file.
                tracing::warn!(seq, error = %e, "could not pre-zero the journal runway");
                self.runway_enabled = false;
            }
        }
    }

    /// The writer thread: commits what appenders did not commit themselves, runs the
    /// interval syncs, garbage collection and runway steps, and the final sync on shutdown.
    fn run(cell: &Mutex<Writer>, sh: &Shared) {
        loop {
            // Decided before taking the queue lock: `runway_due` takes the state lock, and
            // appenders take state then queue.
            let (runway_at, tick, dirty, last_sync) = {
                let w = cell.lock();
                let at = w.runway_due().map(|_| w.last_commit + RUNWAY_QUIET);
                (at, w.runway_enabled, w.dirty, w.last_sync)
            };
            {
                let mut q = sh.queue.lock();
                loop {
                    if !q.reqs.is_empty() || q.shutdown || q.gc {
                        break;
                    }
                    if let Some(at) = runway_at {
                        let now = Instant::now();
                        if now >= at {
                            break;
                        }
                        sh.cv.wait_for(&mut q, at - now);
                        continue;
                    }
                    match sh.policy {
                        FsyncPolicy::Interval(d) if dirty => {
                            let wait = d.saturating_sub(last_sync.elapsed());
                            if wait.is_zero() || sh.cv.wait_for(&mut q, wait).timed_out() {
                                break;
                            }
                        }
                        _ if tick => {
                            if sh.cv.wait_for(&mut q, RUNWAY_TICK).timed_out() {
                                break;
                            }
                        }
                        _ => sh.cv.wait(&mut q),
                    }
                }
            }
            // The committer lock before the queue: an appender committing its own group may
            // hold it, and must finish before later requests are drained (queue order).
            let mut w = cell.lock();
            let (reqs, shutdown, gc, gc_waiters) = {
                let mut q = sh.queue.lock();
                (
                    take_queue(sh, &mut q),
                    q.shutdown,
                    std::mem::take(&mut q.gc),
                    std::mem::take(&mut q.gc_waiters),
                )
            };
            if reqs.is_empty() && !shutdown && !gc {
                // Idle (or an appender took the queue): lengthen the runway one step if due and
                // the journal has been quiet long enough (a leader may have committed while
                // this thread waited), then look at the queue again.
                if w.last_commit.elapsed() >= RUNWAY_QUIET {
                    w.extend_runway();
                }
                if !matches!(sh.policy, FsyncPolicy::Interval(_)) {
                    continue;
                }
            }
            if let FsyncPolicy::Interval(d) = sh.policy {
                if w.dirty && w.last_sync.elapsed() >= d {
                    if let Err(e) = w.sync_active() {
                        w.poison(&e);
                    }
                }
            }
            w.commit_all(reqs);
            if gc && !sh.poisoned.load(Ordering::SeqCst) {
                if let Err(e) = w.gc() {
                    w.poison(&e);
                }
            }
            for tx in gc_waiters {
                let r = if sh.poisoned.load(Ordering::SeqCst) {
                    Err(AppendError::Poisoned)
                } else {
                    Ok(())
                };
                let _ = tx.send(r);
            }
            if shutdown && sh.queue.lock().reqs.is_empty() {
                if w.dirty && !sh.poisoned.load(Ordering::SeqCst) {
                    if let Err(e) = w.sync_active() {
                        w.poison(&e);
                    }
                }
                if !sh.poisoned.load(Ordering::SeqCst) {
                    w.trim_padding();
                }
                return;
            }
        }
    }

    /// Commits drained requests as the policy says: one group, or one write per request.
    fn commit_all(&mut self, reqs: Vec<Req>) {
        if reqs.is_empty() {
            return;
        }
        if self.sh.policy == FsyncPolicy::Always {
            for r in reqs {
                self.commit(vec![r], true);
            }
        } else {
            let sync = self.sh.policy == FsyncPolicy::Group || reqs.iter().any(|r| r.force_sync);
            self.commit(reqs, sync);
        }
    }

    /// A clean shutdown leaves the active segment exactly as long as its frames (direct writes
    /// pad it to a block boundary), so the next open finds no tail to recover.
    fn trim_padding(&self) {
        if let Some((seq, file, len)) = self.active() {
            let r = file.len().and_then(|on_disk| {
                if on_disk != len {
                    file.truncate(len)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = r {
                tracing::warn!(seq, error = %e, "could not trim the active segment's padding");
            }
        }
    }

    fn poison(&self, e: &io::Error) {
        tracing::error!(error = %e, "journal I/O failed; store is poisoned until reopened");
        self.sh.poisoned.store(true, Ordering::SeqCst);
    }

    fn active(&self) -> Option<(u64, Arc<dyn SegmentFile>, u64)> {
        let st = self.sh.state.lock();
        st.segs
            .iter()
            .next_back()
            .map(|(seq, s)| (*seq, s.file.clone(), s.len))
    }

    fn sync_active(&mut self) -> io::Result<()> {
        if let Some((_, f, _)) = self.active() {
            f.sync()?;
            self.sh.fsyncs.fetch_add(1, Ordering::Relaxed);
        }
        self.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Writes all frames of `reqs` with one write (and one fdatasync if `sync`), publishes them, then acknowledges.
    fn commit(&mut self, reqs: Vec<Req>, sync: bool) {
        if self.sh.poisoned.load(Ordering::SeqCst) {
            for r in reqs {
                let _ = r.reply.send(Err(AppendError::Poisoned));
            }
            return;
        }
        let mut frames = Vec::with_capacity(reqs.len());
        let mut replies = Vec::with_capacity(reqs.len());
        for r in reqs {
            frames.extend(r.frames);
            replies.push(r.reply);
        }
        let r = self.write_frames(frames, sync);
        self.last_commit = Instant::now();
        if let Err(e) = &r {
            self.poison(e);
        }
        // Readers waiting for these entries go first: they are visible now (or never will be),
        // and the appenders' answers can follow.
        self.sh.published.notify_waiters();
        match r {
            Ok(()) => {
                for r in replies {
                    let _ = r.send(Ok(()));
                }
            }
            Err(e) => {
                for r in replies {
                    let _ = r.send(Err(AppendError::Io(e.to_string())));
                }
            }
        }
    }

    /// Writes `frames` at the end of the active segment (one gathered write), syncs if asked,
    /// then publishes them: offsets become visible and data frames are kept for tip readers.
    fn write_frames(&mut self, frames: Vec<QFrame>, sync: bool) -> io::Result<()> {
        let total: u64 = frames.iter().map(|f| f.buf.len() as u64).sum();
        let mut active = self.active_seg();
        if total > 0 && active.2 > 0 && active.2 + total > self.sh.seg_max {
            self.roll()?;
            active = self.active_seg();
        }
        let (seq, file, len) = active;
        // A fresh segment starts with its header frame, written with (and synced as) its first group: no extra write
        // or sync per segment, and a torn first group leaves an empty segment that gets a header with the next one.
        let seg_header = (total > 0 && len == 0).then(|| {
            let mut b = Vec::with_capacity(HEADER_LEN);
            frame::encode(&mut b, Kind::SegmentHeader, 0, SEGMENT_VERSION, 0, &[]);
            b
        });
        let head_len = seg_header.as_ref().map_or(0, |b| b.len() as u64);
        let started = Instant::now();
        if total > 0 {
            let parts: Vec<&[u8]> = seg_header
                .iter()
                .map(|b| b.as_slice())
                .chain(frames.iter().map(|f| f.buf.as_slice()))
                .collect();
            file.write_gathered_at(&parts, len)?;
            self.dirty = true;
            self.sh.batches.fetch_add(1, Ordering::Relaxed);
        }
        if sync && self.dirty {
            if file.writes_durable() {
                // The write itself was synchronous (`O_DSYNC`): it was this group's sync.
                self.sh.fsyncs.fetch_add(1, Ordering::Relaxed);
                self.dirty = false;
                self.last_sync = Instant::now();
            } else {
                self.sync_active()?;
            }
        }
        if total > 0 {
            let entries: u64 = frames.iter().map(|f| u64::from(f.header.count)).sum();
            self.sh
                .groups
                .record(started.elapsed(), entries, total + head_len);
        }
        // Acknowledged = durable: under a syncing policy (and whenever asked) nothing is published before its sync.
        let durable = matches!(self.sh.policy, FsyncPolicy::Group | FsyncPolicy::Always);
        assert!(
            !self.dirty || !(sync || durable),
            "invariant: a group is published only after its fsync (segment {seq}, {total} bytes at {len}, \
             policy {:?})",
            self.sh.policy
        );
        let mut st = self.sh.state.lock();
        let Some(s) = st.segs.get_mut(&seq) else {
            panic!("invariant: the segment written ({seq}) stays in the segment map until it is published");
        };
        // Only the committer (whose lock we hold) appends: the length we wrote at is still the segment's.
        assert_eq!(
            s.len, len,
            "invariant: segment {seq} grew from {len} to {} while a group was being written",
            s.len
        );
        s.len = len + head_len + total;
        let mut pos = len + head_len;
        // Relocated copies are published by the commit frame that follows them (see `Writer::relocate`).
        let mut copies = Vec::new();
        for f in frames {
            let at = pos;
            pos += f.buf.len() as u64;
            match f.header.kind {
                Kind::Relocated => {
                    copies.push((at, f.header));
                    continue;
                }
                Kind::RelocCommit => {
                    assert!(
                        copies.len() == f.header.count as usize
                            && copies.iter().all(|(_, c)| c.log == f.log),
                        "invariant: a relocation commit of log {} follows its {} copies in the same write, got {}",
                        f.log,
                        f.header.count,
                        copies.len()
                    );
                    st.commit_relocation(seq, f.log, Some(f.gen), &copies, f.header.base);
                    copies.clear();
                    continue;
                }
                _ => {}
            }
            let gen = if f.header.kind == Kind::Tombstone {
                None
            } else {
                Some(f.gen)
            };
            match gen {
                Some(g) => {
                    st.apply(seq, at, &f.header, Some(g));
                    let cost = f.buf.capacity();
                    st.keep_recent(g, f.header, Bytes::from(f.buf), cost);
                }
                // Tombstones on the live path only mark the segment; the log was already dropped at enqueue time.
                None => {
                    if let Some(s) = st.segs.get_mut(&seq) {
                        s.logs.insert(
                            f.log,
                            SegLog {
                                tomb: true,
                                ..SegLog::default()
                            },
                        );
                    }
                }
            }
        }
        assert!(
            copies.is_empty(),
            "invariant: relocated copies are written with their commit frame ({} left uncommitted in segment {seq})",
            copies.len()
        );
        debug_assert_eq!(pos, len + head_len + total, "frames tile the write");
        Ok(())
    }

    /// The active segment: there always is one (open creates the first, a roll adds the next before anything else
    /// is written, and GC never deletes it), so its absence is a bug.
    fn active_seg(&self) -> (u64, Arc<dyn SegmentFile>, u64) {
        match self.active() {
            Some(a) => a,
            None => panic!("invariant: the journal has an active segment"),
        }
    }

    /// Seals the active segment (fsync + `.idx`) and starts the next one.
    fn roll(&mut self) -> io::Result<()> {
        let (seq, file, len) = self.active_seg();
        let started = Instant::now();
        file.sync()?;
        self.sh.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.dirty = false;
        // Direct writes pad the file to a block boundary; a sealed segment is exactly its frames.
        if file.len()? != len {
            file.truncate(len)?;
        }
        file.seal();
        let idx = {
            let st = self.sh.state.lock();
            // A segment holding damage gets no `.idx`: every open rescans it, so its damage stays known.
            let damaged = st.segs.get(&seq).is_some_and(|s| !s.bad.is_empty());
            (!damaged).then(|| index::encode_idx(seq, len, &st.idx_for(seq)))
        };
        if let Some(idx) = idx {
            self.sh.dir.write_index(seq, &idx)?;
        }
        let next = self.sh.dir.open_segment(seq + 1, true)?;
        self.sh.dir.sync_dir()?;
        let replaced = self.sh.state.lock().segs.insert(
            seq + 1,
            Seg {
                file: next,
                len: 0,
                logs: HashMap::new(),
                bad: Vec::new(),
            },
        );
        assert!(
            replaced.is_none(),
            "invariant: segment {} is new when segment {seq} is sealed",
            seq + 1
        );
        tracing::debug!(
            sealed = seq,
            micros = started.elapsed().as_micros(),
            "journal segment sealed"
        );
        Ok(())
    }

    /// One garbage-collection round: deletes the dead prefix of sealed segments; if the oldest sealed segment is
    /// still needed only by logs small enough to copy (see [`Writer::relocate`]), relocates them and deletes again.
    fn gc(&mut self) -> io::Result<()> {
        self.gc_prefix()?;
        if self.relocate()? {
            self.gc_prefix()?;
        }
        Ok(())
    }

    /// Picks the logs whose relocation frees the most leading sealed segments within the copy budget: the logs
    /// live in the first `k` sealed segments, for the largest `k` whose logs' live bytes (all their frames from
    /// the frame holding their start on, in every segment) are at most the budget and at most half of those `k`
    /// segments' bytes. A log with holes, or a segment with damaged bytes, ends the search: damage is never copied
    /// over silently.
    fn relocation_plan(&self) -> Vec<RelocLog> {
        let cap = self.sh.reloc_max;
        if cap == 0 {
            return Vec::new();
        }
        let st = self.sh.state.lock();
        let active = st.segs.keys().next_back().copied().unwrap_or(0);
        let live = |log: &u64, sl: &SegLog| {
            st.logs
                .get(log)
                .filter(|l| l.gen == sl.gen && sl.range.is_some_and(|(_, e)| e > l.start))
        };
        // Live bytes of a log in every segment; an old `.idx` does not record them: count the whole segment.
        let live_bytes = |log: &u64| -> u64 {
            st.segs
                .values()
                .filter_map(|g| {
                    let sl = g.logs.get(log)?;
                    live(log, sl)?;
                    Some(sl.bytes.unwrap_or(g.len))
                })
                .sum()
        };
        let mut set: BTreeMap<u64, u64> = BTreeMap::new();
        let mut freed = 0u64;
        let mut best: Option<Vec<u64>> = None;
        for (seq, seg) in &st.segs {
            if *seq == active || !seg.bad.is_empty() {
                break;
            }
            let mut blocked = false;
            for (log, sl) in &seg.logs {
                let Some(l) = live(log, sl) else { continue };
                if !l.holes.is_empty() || l.index.len() == 0 {
                    blocked = true;
                    break;
                }
                if !set.contains_key(log) {
                    set.insert(*log, live_bytes(log));
                }
            }
            if blocked {
                break;
            }
            freed += seg.len;
            let cost: u64 = set.values().sum();
            if cost > cap {
                break;
            }
            if !set.is_empty() && freed >= cost.saturating_mul(2) {
                best = Some(set.keys().copied().collect());
            }
        }
        let mut out = Vec::new();
        for log in best.unwrap_or_default() {
            let Some(l) = st.logs.get(&log) else { continue };
            let Some(p) = l.index.floor(l.start).or_else(|| l.index.first()) else {
                continue;
            };
            let mut segs = Vec::new();
            let seg_of =
                |seq: u64, pos: u64| st.segs.get(&seq).map(|s| (s.file.clone(), pos, s.len));
            segs.extend(seg_of(p.seq, p.pos));
            segs.extend(
                l.index
                    .segments_after(p.seq)
                    .filter_map(|q| seg_of(q.seq, q.pos)),
            );
            out.push(RelocLog {
                log,
                gen: l.gen,
                start: l.start,
                end: l.end,
                trim_off: l.trim_off,
                reserved: l.reserved,
                segs,
            });
        }
        out
    }

    /// Reads the frames of `r`'s live range `[start, end)` in offset order and returns them as relocated copies
    /// followed by their commit frame, or `None` if they are not one intact dense run within `budget` bytes (a gap
    /// or a frame failing its check: the log is left where it is).
    fn copy_frames(r: &RelocLog, budget: u64) -> io::Result<Option<(Vec<QFrame>, u64)>> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        let mut want = r.start;
        let mut first_base = None;
        let mut last_ts = 0;
        'segs: for (file, from, len) in &r.segs {
            let mut w = Window::probing(&**file);
            let mut pos = *from;
            while pos < *len && want < r.end {
                let Ok(h) = frame::decode_header(w.get(pos, HEADER_LEN, *len)?) else {
                    return Ok(None);
                };
                if h.log == r.log && h.kind.has_entries() && h.base + u64::from(h.count) > want {
                    if h.base > want {
                        // A gap: offsets are dense, so something is missing; leave the log where it is.
                        return Ok(None);
                    }
                    bytes += h.frame_len;
                    if bytes > budget {
                        return Ok(None);
                    }
                    let n = usize::try_from(h.frame_len).map_err(io::Error::other)?;
                    let mut buf = w.take(pos, n, *len)?.to_vec();
                    if buf.len() != n || frame::check(&buf).is_err() {
                        return Ok(None);
                    }
                    frame::seal(
                        &mut buf,
                        Kind::Relocated,
                        h.log,
                        h.base,
                        h.timestamp_ms,
                        h.count,
                    );
                    let header = frame::own_header(&buf);
                    first_base.get_or_insert(h.base);
                    want = h.base + u64::from(h.count);
                    last_ts = h.timestamp_ms;
                    out.push(QFrame {
                        log: r.log,
                        gen: r.gen,
                        header,
                        buf,
                    });
                    if want >= r.end {
                        break 'segs;
                    }
                }
                pos += h.frame_len;
            }
        }
        let Some(first) = first_base.filter(|_| want >= r.end) else {
            return Ok(None);
        };
        let Ok(count) = u32::try_from(out.len()) else {
            return Ok(None);
        };
        // The durable start: the log's durable trim, or the first copied offset if that is higher (what is below
        // it is deleted with the old segments).
        let durable = r.trim_off.min(r.start).max(first);
        if r.reserved > 0 {
            // The log's highest reservation frame may sit only in the segments this relocation lets GC delete, and
            // their records are superseded (incarnation 0), which gc's reservation check does not count: without a
            // copy here a restart that drops the tail could hand out acknowledged offsets again. `0..0`: no skip.
            // Before the commit, so a whole commit almost always comes with it (a torn one leaves the originals).
            let mut rbuf = Vec::with_capacity(HEADER_LEN + RESERVE_BODY);
            frame::encode_reserve(&mut rbuf, r.log, 0, 0, r.reserved, last_ts);
            let header = frame::own_header(&rbuf);
            out.push(QFrame {
                log: r.log,
                gen: r.gen,
                header,
                buf: rbuf,
            });
        }
        let mut buf = Vec::with_capacity(HEADER_LEN);
        frame::encode_marker(&mut buf, Kind::RelocCommit, r.log, durable, last_ts, count);
        let header = frame::own_header(&buf);
        out.push(QFrame {
            log: r.log,
            gen: r.gen,
            header,
            buf,
        });
        Ok(Some((out, bytes)))
    }

    /// Copies the live frames of the logs [`Writer::relocation_plan`] picks to the journal's end (one write, in one
    /// segment, synced), so the segments they pinned become dead. Runs holding the committer lock, so nothing else
    /// is written meanwhile: each log's end is fixed and its copies follow every original in journal order.
    /// Returns whether anything was relocated.
    fn relocate(&mut self) -> io::Result<bool> {
        let plan = self.relocation_plan();
        if plan.is_empty() {
            return Ok(false);
        }
        let mut budget = self.sh.reloc_max;
        let mut frames = Vec::new();
        let mut logs = 0usize;
        for r in &plan {
            if let Some((f, bytes)) = Self::copy_frames(r, budget)? {
                budget -= bytes.min(budget);
                frames.extend(f);
                logs += 1;
            }
        }
        if frames.is_empty() {
            return Ok(false);
        }
        let copied: u64 = frames.iter().map(|f| f.buf.len() as u64).sum();
        self.write_frames(frames, true)?;
        tracing::debug!(
            logs,
            bytes = copied,
            "journal: logs relocated to free old segments"
        );
        Ok(true)
    }

    /// Deletes the longest prefix of sealed segments that no live log still needs. Only a prefix, so a tombstone is
    /// never deleted while older frames of its log survive. Logs that would lose every trace of themselves first get
    /// a watermark frame in the active segment so their offsets are not reused after a restart.
    fn gc_prefix(&mut self) -> io::Result<()> {
        let (victims, marks) = {
            let st = self.sh.state.lock();
            let active = st.segs.keys().next_back().copied().unwrap_or(0);
            let mut victims = Vec::new();
            for (seq, seg) in &st.segs {
                if *seq == active {
                    break;
                }
                let dead = seg.logs.iter().all(|(log, sl)| match st.logs.get(log) {
                    Some(l) if l.gen == sl.gen => sl.range.is_none_or(|(_, e)| e <= l.start),
                    _ => true,
                });
                if !dead {
                    break;
                }
                victims.push(*seq);
            }
            let Some(&last_victim) = victims.last() else {
                return Ok(());
            };
            let mut marks = Vec::new();
            for (log, l) in &st.logs {
                let in_victims = victims.iter().any(|s| {
                    st.segs
                        .get(s)
                        .and_then(|g| g.logs.get(log))
                        .is_some_and(|sl| sl.gen == l.gen)
                });
                // What survives must carry the log's end: an offset trim frame alone records a lower offset.
                let survives = st.segs.range(last_victim + 1..).any(|(_, g)| {
                    g.logs.get(log).is_some_and(|sl| {
                        sl.gen == l.gen
                            && (sl.range.is_some_and(|(_, e)| e >= l.end)
                                || sl.trim.is_some_and(|t| t >= l.end))
                    })
                });
                if in_victims && !survives {
                    let mut buf = Vec::with_capacity(HEADER_LEN);
                    frame::encode(
                        &mut buf,
                        Kind::Watermark,
                        *log,
                        l.end,
                        l.end_ts.unwrap_or(0),
                        &[],
                    );
                    let header = frame::own_header(&buf);
                    marks.push(QFrame {
                        log: *log,
                        gen: l.gen,
                        header,
                        buf,
                    });
                }
                // The reservation must survive too, or a restart could hand out offsets acknowledged in a frame it
                // then loses (see `Kind::Reserve`). Reservations only grow, so the highest one surviving is enough.
                let res_of = |s: &Seg| {
                    s.logs
                        .get(log)
                        .filter(|sl| sl.gen == l.gen)
                        .and_then(|sl| sl.reserve)
                };
                let victim_res = victims
                    .iter()
                    .filter_map(|s| st.segs.get(s).and_then(res_of))
                    .max()
                    .max(l.superseded_reserve);
                let kept_res = st
                    .segs
                    .range(last_victim + 1..)
                    .filter_map(|(_, g)| res_of(g))
                    .max();
                if let Some(vr) = victim_res.filter(|vr| kept_res < Some(*vr)) {
                    // `0..0`: no skip, the log's end is carried by its frames or the watermark above.
                    let mut buf = Vec::with_capacity(HEADER_LEN + RESERVE_BODY);
                    frame::encode_reserve(
                        &mut buf,
                        *log,
                        0,
                        0,
                        l.reserved.max(vr),
                        l.end_ts.unwrap_or(0),
                    );
                    let header = frame::own_header(&buf);
                    marks.push(QFrame {
                        log: *log,
                        gen: l.gen,
                        header,
                        buf,
                    });
                }
            }
            (victims, marks)
        };
        if !marks.is_empty() {
            self.write_frames(marks, true)?;
        }
        let first_kept = {
            let mut st = self.sh.state.lock();
            for s in &victims {
                // Chosen under this lock's previous hold; only the committer (us) removes segments.
                assert!(
                    st.segs.remove(s).is_some(),
                    "invariant: gc victim segment {s} still exists when deleted"
                );
            }
            let first_kept = st.segs.keys().next().copied().unwrap_or(0);
            for l in st.logs.values_mut() {
                l.index.drop_segments_below(first_kept);
                if l.hint.is_some_and(|h| h.seq < first_kept) {
                    l.hint = None;
                }
            }
            first_kept
        };
        for s in &victims {
            self.sh.dir.remove(*s, FileKind::Segment)?;
            self.sh.dir.remove(*s, FileKind::Index)?;
        }
        self.sh.dir.sync_dir()?;
        tracing::debug!(
            deleted = victims.len(),
            first_kept,
            "journal segments garbage-collected"
        );
        Ok(())
    }
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;
