//! A fixed-bucket histogram of atomics, for metrics recorded on hot paths.
//!
//! Recording is a bucket search over a short constant slice and three relaxed atomic adds: no
//! lock and no allocation, so the put and get paths can afford one per request. Readers take a
//! [`HistogramSnapshot`] whose buckets are cumulative, the shape Prometheus' text format wants.

use std::sync::atomic::{AtomicU64, Ordering};

/// Most buckets a histogram holds (the bounds slice may be shorter); `+Inf` is implicit.
pub const BUCKETS_MAX: usize = 24;

/// Counts observations of a `u64` quantity (in whatever unit the owner chose) into buckets
/// whose inclusive upper bounds are `bounds`, plus the implicit `+Inf` one.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    /// `counts[i]`: observations `<= bounds[i]` and `> bounds[i-1]`; the last used slot counts
    /// those above every bound.
    counts: [AtomicU64; BUCKETS_MAX + 1],
    count: AtomicU64,
    sum: AtomicU64,
}

/// What a [`Histogram`] held at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// (upper bound, observations at or below it), cumulative, in bound order; `+Inf` is `count`.
    pub buckets: Vec<(u64, u64)>,
    pub count: u64,
    pub sum: u64,
}

impl Histogram {
    /// A histogram over `bounds` (ascending; at most [`BUCKETS_MAX`] are used).
    pub const fn new(bounds: &'static [u64]) -> Self {
        Histogram {
            bounds,
            counts: [const { AtomicU64::new(0) }; BUCKETS_MAX + 1],
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    fn used(&self) -> usize {
        self.bounds.len().min(BUCKETS_MAX)
    }

    /// Records one observation.
    pub fn observe(&self, value: u64) {
        let used = self.used();
        let bounds = self.bounds.get(..used).unwrap_or(&[]);
        let i = bounds.partition_point(|b| *b < value);
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// The cumulative counts now. Taken bucket by bucket without a lock, so an observation
    /// racing the snapshot may show in `count` and not yet in a bucket (or the reverse); the
    /// `+Inf` count is clamped to the largest bucket so the series stays monotonic.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let used = self.used();
        let mut running = 0u64;
        let mut buckets = Vec::with_capacity(used);
        for (bound, c) in self.bounds.iter().zip(&self.counts).take(used) {
            running += c.load(Ordering::Relaxed);
            buckets.push((*bound, running));
        }
        let above = self
            .counts
            .get(used)
            .map_or(0, |c| c.load(Ordering::Relaxed));
        let count = self.count.load(Ordering::Relaxed).max(running + above);
        HistogramSnapshot {
            buckets,
            count,
            sum: self.sum.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    static BOUNDS: [u64; 3] = [1, 10, 100];

    #[test]
    fn buckets_are_cumulative_and_inclusive() {
        let h = Histogram::new(&BOUNDS);
        for v in [0, 1, 2, 10, 11, 100, 1000] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(1, 2), (10, 4), (100, 6)]);
        assert_eq!(s.count, 7);
        assert_eq!(s.sum, 1124);
    }

    #[test]
    fn empty_histogram_is_all_zero() {
        let h = Histogram::new(&BOUNDS);
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(1, 0), (10, 0), (100, 0)]);
        assert_eq!((s.count, s.sum), (0, 0));
    }
}
