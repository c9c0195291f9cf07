//! The newest data frames of each log, kept in memory after the writer has made them durable.
//!
//! Journal writes bypass the page cache (`O_DIRECT`), so reading a frame back right after it was
//! written goes to the device: 0.1–0.5 ms per read on the test VM, paid by every consumer that
//! follows a shard's tip, in the path between a put and the read that returns it. The writer
//! holds each frame's bytes anyway; keeping the newest ones lets tip readers take their records
//! by reference count, without I/O and without copying.
//!
//! One budget covers all logs. Frames are evicted oldest first across logs, so a busy log can
//! push an idle one's frames out; an evicted frame is simply read from the file again.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::frame::{Header, HEADER_LEN};

/// Memory given to recent frames by default.
pub const DEFAULT_RECENT_BYTES_MAX: usize = 8 * 1024 * 1024;

/// A durable, visible data frame: its decoded header and its bytes exactly as in the journal.
#[derive(Clone, Debug)]
pub(crate) struct RecentFrame {
    pub header: Header,
    pub frame: Bytes,
}

impl RecentFrame {
    fn end(&self) -> u64 {
        self.header.base + u64::from(self.header.count)
    }
}

/// Payload bytes of a data frame: its length without the header and the entries' length prefixes.
fn payload_bytes(f: &RecentFrame) -> usize {
    f.frame
        .len()
        .saturating_sub(HEADER_LEN)
        .saturating_sub(4 * f.header.count as usize)
}

/// One log's recent frames, oldest first, covering a contiguous offset range that ends at the
/// log's visible end.
#[derive(Debug, Default)]
pub(crate) struct LogRecent {
    frames: VecDeque<RecentFrame>,
}

impl LogRecent {
    /// Keeps the log's next frame as its newest. Only the writer keeps frames, each right after the log's
    /// visible end, which the last kept frame ends at: a frame that does not continue the kept range is a bug
    /// (the range must stay gap-free, or a tip read would skip or repeat entries).
    pub(crate) fn keep(&mut self, f: RecentFrame) {
        assert!(
            self.frames.back().is_none_or(|b| b.end() == f.header.base),
            "invariant: log {}'s kept frames are contiguous: frame at {} after one ending at {:?}",
            f.header.log,
            f.header.base,
            self.frames.back().map(RecentFrame::end)
        );
        self.frames.push_back(f);
    }

    /// Drops the oldest kept frame (its budget charge has expired).
    pub(crate) fn evict_oldest(&mut self) {
        self.frames.pop_front();
    }

    /// The kept frames holding offsets at or after `from`, until they hold `max_count` entries
    /// or `max_bytes` of payload (always at least the first one); `None` when `from` is older
    /// than the oldest kept frame, so the caller must read the file.
    pub(crate) fn covering(
        &self,
        from: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Option<Vec<RecentFrame>> {
        let first = self.frames.front()?;
        if first.header.base > from {
            return None;
        }
        let mut out: Vec<RecentFrame> = Vec::new();
        let mut entries = 0usize;
        let mut bytes = 0usize;
        for f in self.frames.iter().filter(|f| f.end() > from) {
            if !out.is_empty() && (entries >= max_count || bytes >= max_bytes) {
                break;
            }
            let skipped = from.saturating_sub(f.header.base);
            entries = entries.saturating_add(
                usize::try_from(u64::from(f.header.count).saturating_sub(skipped))
                    .unwrap_or(usize::MAX),
            );
            // Payload bytes, as the caller counts them; none for a frame that starts before
            // `from`, whose skipped entries must not count (an undercount only takes a frame
            // more, which the caller's exact limits then ignore).
            if skipped == 0 {
                bytes = bytes.saturating_add(payload_bytes(f));
            }
            out.push(f.clone());
        }
        Some(out)
    }
}

/// The shared budget: which log each kept frame belongs to, in the order they were kept.
#[derive(Debug)]
pub(crate) struct RecentBudget {
    /// (log, incarnation, bytes charged) per kept frame, oldest first.
    order: VecDeque<(u64, u64, usize)>,
    bytes: usize,
    max: usize,
}

impl RecentBudget {
    pub(crate) fn new(max: usize) -> Self {
        RecentBudget {
            order: VecDeque::new(),
            bytes: 0,
            max,
        }
    }

    /// Whether frames are kept at all (a zero budget turns the cache off).
    pub(crate) fn enabled(&self) -> bool {
        self.max > 0
    }

    /// Charges `cost` bytes for the frame just kept as `log`'s newest (incarnation `gen`), then
    /// evicts oldest frames until the budget holds, calling `evict(log, gen)` for each: the
    /// caller drops that log's oldest kept frame if the log still has incarnation `gen` (a
    /// deleted log's frames went with it; only its charge was left here).
    pub(crate) fn charge(
        &mut self,
        log: u64,
        gen: u64,
        cost: usize,
        mut evict: impl FnMut(u64, u64),
    ) {
        self.order.push_back((log, gen, cost));
        self.bytes = self.bytes.saturating_add(cost);
        while self.bytes > self.max {
            let Some((l, g, c)) = self.order.pop_front() else {
                self.bytes = 0;
                break;
            };
            self.bytes = self.bytes.saturating_sub(c);
            evict(l, g);
        }
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Kind;
    use std::collections::HashMap;

    fn frame(log: u64, base: u64, count: u32, len: usize) -> RecentFrame {
        RecentFrame {
            header: Header {
                kind: Kind::Data,
                log,
                base,
                timestamp_ms: 0,
                count,
                frame_len: len as u64,
                crc: 0,
                next: 0,
                reserve: 0,
            },
            frame: Bytes::from(vec![0u8; len]),
        }
    }

    struct Fixture {
        logs: HashMap<u64, (u64, LogRecent)>,
        budget: RecentBudget,
    }

    impl Fixture {
        fn new(max: usize) -> Self {
            Fixture {
                logs: HashMap::new(),
                budget: RecentBudget::new(max),
            }
        }
        /// What the store does when the writer keeps a frame.
        fn keep(&mut self, log: u64, f: RecentFrame) {
            if !self.budget.enabled() {
                return;
            }
            let cost = f.frame.len();
            let entry = self.logs.entry(log).or_insert((1, LogRecent::default()));
            let gen = entry.0;
            entry.1.keep(f);
            let logs = &mut self.logs;
            self.budget.charge(log, gen, cost, |l, g| {
                if let Some((_, r)) = logs.get_mut(&l).filter(|(lg, _)| *lg == g) {
                    r.evict_oldest();
                }
            });
        }
        fn bases(&self, log: u64) -> Vec<u64> {
            self.logs
                .get(&log)
                .map(|(_, r)| r.frames.iter().map(|f| f.header.base).collect())
                .unwrap_or_default()
        }
    }

    #[test]
    fn covering_starts_at_the_frame_holding_from() {
        let mut r = LogRecent::default();
        r.keep(frame(1, 10, 5, 100));
        r.keep(frame(1, 15, 5, 100));
        r.keep(frame(1, 20, 5, 100));
        assert!(r.covering(9, 100, 1 << 20).is_none());
        let got = r.covering(17, 100, 1 << 20).unwrap();
        assert_eq!(
            got.iter().map(|f| f.header.base).collect::<Vec<_>>(),
            [15, 20]
        );
        assert!(r.covering(25, 100, 1 << 20).unwrap().is_empty());
    }

    #[test]
    fn covering_stops_once_count_or_bytes_are_reached() {
        let mut r = LogRecent::default();
        for i in 0..4 {
            r.keep(frame(1, i * 5, 5, 100));
        }
        // 3 entries remain in the first frame after from=2; max 3 needs only that frame.
        assert_eq!(r.covering(2, 3, 1 << 20).unwrap().len(), 1);
        assert_eq!(r.covering(2, 4, 1 << 20).unwrap().len(), 2);
        // Bytes count payload: each 100-byte frame of 5 entries holds 100 - 44 - 20 = 36.
        assert_eq!(r.covering(0, 100, 72).unwrap().len(), 2);
        assert_eq!(r.covering(0, 100, 73).unwrap().len(), 3);
        assert_eq!(r.covering(0, 100, 1).unwrap().len(), 1);
        // A frame entered part-way counts nothing: its skipped entries may hold all its bytes.
        assert_eq!(r.covering(2, 100, 36).unwrap().len(), 2);
    }

    #[test]
    #[should_panic(
        expected = "invariant: log 1's kept frames are contiguous: frame at 9 after one ending at Some(5)"
    )]
    fn a_gap_in_the_kept_range_is_a_bug() {
        let mut r = LogRecent::default();
        r.keep(frame(1, 0, 5, 10));
        r.keep(frame(1, 9, 5, 10));
    }

    #[test]
    fn budget_evicts_oldest_across_logs() {
        let mut fx = Fixture::new(300);
        fx.keep(1, frame(1, 0, 1, 100));
        fx.keep(2, frame(2, 0, 1, 100));
        fx.keep(1, frame(1, 1, 1, 100));
        assert_eq!(fx.budget.bytes(), 300);
        fx.keep(2, frame(2, 1, 1, 100));
        assert_eq!(fx.budget.bytes(), 300);
        assert_eq!(fx.bases(1), [1]);
        assert_eq!(fx.bases(2), [0, 1]);
    }

    #[test]
    fn a_recreated_log_keeps_its_new_frames_when_old_charges_expire() {
        let mut fx = Fixture::new(200);
        fx.keep(1, frame(1, 0, 1, 100));
        // Log 1 deleted and created again: new incarnation, its old frames gone with it.
        fx.logs.insert(1, (2, LogRecent::default()));
        fx.keep(1, frame(1, 0, 1, 100));
        fx.keep(1, frame(1, 1, 1, 100));
        // Over budget: the stale charge was evicted first and took nothing of the new
        // incarnation, which still has both frames.
        assert_eq!(fx.bases(1), [0, 1]);
        assert_eq!(fx.budget.bytes(), 200);
        fx.keep(1, frame(1, 2, 1, 100));
        assert_eq!(fx.bases(1), [1, 2]);
    }

    #[test]
    fn zero_budget_keeps_nothing() {
        let mut fx = Fixture::new(0);
        fx.keep(1, frame(1, 0, 1, 100));
        assert!(fx.bases(1).is_empty());
    }
}
