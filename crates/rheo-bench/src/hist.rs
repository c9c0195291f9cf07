//! Latency histograms (HDR, microsecond resolution) and their summaries.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// Highest latency we can record: one hour, far beyond any request timeout.
const MAX_US: u64 = 3_600_000_000;

/// A latency recorder in microseconds, 3 significant digits.
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    #[allow(clippy::expect_used)]
    pub fn new() -> Self {
        // Constant, valid bounds (1 <= low, high >= 2 * low, 3 sigfigs): the
        // constructor cannot fail, which the unit tests exercise.
        let hist = Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds");
        Self { hist }
    }

    pub fn record(&mut self, d: Duration) {
        self.record_us(u64::try_from(d.as_micros()).unwrap_or(MAX_US));
    }

    pub fn record_us(&mut self, us: u64) {
        self.hist.saturating_record(us.clamp(1, MAX_US));
    }

    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so `add` cannot fail; a failure would only
        // lose the other's samples.
        let _ = self.hist.add(&other.hist);
    }

    #[cfg(test)]
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    pub fn summary(&self) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        if self.hist.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.hist.len(),
            mean_ms: self.hist.mean() / 1000.0,
            p50_ms: ms(self.hist.value_at_quantile(0.50)),
            p90_ms: ms(self.hist.value_at_quantile(0.90)),
            p99_ms: ms(self.hist.value_at_quantile(0.99)),
            p999_ms: ms(self.hist.value_at_quantile(0.999)),
            max_ms: ms(self.hist.max()),
        }
    }
}

/// Percentiles in milliseconds. All zero when nothing was recorded.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_summary_is_zero() {
        assert_eq!(Latency::new().summary(), LatencySummary::default());
    }

    #[test]
    fn percentiles_of_uniform_values() {
        let mut l = Latency::new();
        for us in 1..=10_000u64 {
            l.record_us(us * 100); // 0.1 ms .. 1000 ms
        }
        let s = l.summary();
        assert_eq!(s.count, 10_000);
        // 3 significant digits: within 0.1% of the exact percentile.
        assert!((s.p50_ms - 500.0).abs() / 500.0 < 0.002, "{s:?}");
        assert!((s.p90_ms - 900.0).abs() / 900.0 < 0.002, "{s:?}");
        assert!((s.p99_ms - 990.0).abs() / 990.0 < 0.002, "{s:?}");
        assert!((s.max_ms - 1000.0).abs() / 1000.0 < 0.002, "{s:?}");
        assert!(s.p50_ms <= s.p90_ms && s.p90_ms <= s.p99_ms && s.p99_ms <= s.p999_ms);
    }

    #[test]
    fn merge_adds_counts_and_keeps_max() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        a.record(Duration::from_millis(2));
        b.record(Duration::from_millis(40));
        b.record(Duration::from_millis(41));
        a.merge(&b);
        let s = a.summary();
        assert_eq!(s.count, 3);
        assert!((s.max_ms - 41.0).abs() < 0.1);
        assert!((s.p50_ms - 40.0).abs() < 0.1);
    }

    #[test]
    fn out_of_range_values_are_clamped_not_lost() {
        let mut l = Latency::new();
        l.record_us(0);
        l.record(Duration::from_secs(100_000));
        assert_eq!(l.count(), 2);
    }
}
