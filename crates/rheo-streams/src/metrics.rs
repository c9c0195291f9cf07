//! The facts behind CloudWatch's AWS/Kinesis metrics: per-stream, per-shard and per-consumer
//! counters and histograms, under the names CloudWatch publishes them with.
//!
//! Only atomics: the put and get paths add to them under the stream lock they already hold
//! (an `Arc` clone or a map lookup, never a lock or an allocation of their own). This module
//! knows no exposition format; the server renders a [`StreamMetricsView`] as it likes
//! (Prometheus text today, see `docs/design/metrics.md`).
//!
//! Shard counters are always kept (a handful of atomic adds); whether a shard-level family is
//! *shown* is the stream's enhanced monitoring (`StreamMeta::enhanced_metrics`), as in AWS,
//! where the metric is only published while enabled.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rheo_stdx::hist::{Histogram, HistogramSnapshot};

/// Upper bounds (microseconds) of the operation latency buckets: 100 us to 10 s.
pub const LATENCY_US_BOUNDS: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// Upper bounds (milliseconds) of the iterator-age buckets: 0 (caught up) to 7 days.
pub const AGE_MS_BOUNDS: [u64; 15] = [
    0,
    100,
    1_000,
    10_000,
    60_000,
    300_000,
    900_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    24 * 3_600_000,
    2 * 24 * 3_600_000,
    4 * 24 * 3_600_000,
    7 * 24 * 3_600_000,
];

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A plain monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self, n: u64) {
        if n > 0 {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// An operation's Latency and Success: every attempt that reached its stream is timed, and
/// counted as a success (1) or not (0), which is what CloudWatch's `<Op>.Success` averages.
#[derive(Debug)]
pub struct OpMetrics {
    /// Time per call, in microseconds.
    pub latency_us: Histogram,
    pub attempts: Counter,
    pub successes: Counter,
}

impl Default for OpMetrics {
    fn default() -> Self {
        OpMetrics {
            latency_us: Histogram::new(&LATENCY_US_BOUNDS),
            attempts: Counter::default(),
            successes: Counter::default(),
        }
    }
}

impl OpMetrics {
    pub fn record(&self, took: Duration, ok: bool) {
        self.latency_us.observe(micros(took));
        self.attempts.add(1);
        if ok {
            self.successes.add(1);
        }
    }
}

/// Stream-level metrics (CloudWatch's "basic" level, always on).
#[derive(Debug)]
pub struct StreamMetrics {
    /// IncomingBytes / IncomingRecords: accepted by PutRecord and PutRecords (data plus
    /// partition key, the size the write limits count).
    pub incoming_bytes: Counter,
    pub incoming_records: Counter,
    /// PutRecord.Bytes, .Latency, .Success.
    pub put_record_bytes: Counter,
    pub put_record: OpMetrics,
    /// PutRecords.Bytes, .Latency, .Success, and its record counts.
    pub put_records_bytes: Counter,
    pub put_records: OpMetrics,
    pub put_records_total: Counter,
    pub put_records_successful: Counter,
    /// Records refused for a reason other than throttling (an internal failure).
    pub put_records_failed: Counter,
    pub put_records_throttled: Counter,
    /// GetRecords.Bytes, .Records, .Latency, .Success, .IteratorAgeMilliseconds.
    pub get_records_bytes: Counter,
    pub get_records_records: Counter,
    pub get_records: OpMetrics,
    pub get_records_iterator_age_ms: Histogram,
    /// ReadProvisionedThroughputExceeded: GetRecords calls throttled.
    pub read_throttled: Counter,
    /// WriteProvisionedThroughputExceeded: records refused for throttling.
    pub write_throttled: Counter,
    /// SubscribeToShard.RateExceeded and .Success (per call).
    pub subscribe_rate_exceeded: Counter,
    pub subscribe_attempts: Counter,
    pub subscribe_successes: Counter,
    /// SubscribeToShardEvent.*, per consumer name (touched when a subscription starts, and by
    /// the renderer; a subscription keeps its consumer's `Arc`).
    consumers: parking_lot::Mutex<HashMap<String, Arc<ConsumerMetrics>>>,
}

impl Default for StreamMetrics {
    fn default() -> Self {
        StreamMetrics {
            incoming_bytes: Counter::default(),
            incoming_records: Counter::default(),
            put_record_bytes: Counter::default(),
            put_record: OpMetrics::default(),
            put_records_bytes: Counter::default(),
            put_records: OpMetrics::default(),
            put_records_total: Counter::default(),
            put_records_successful: Counter::default(),
            put_records_failed: Counter::default(),
            put_records_throttled: Counter::default(),
            get_records_bytes: Counter::default(),
            get_records_records: Counter::default(),
            get_records: OpMetrics::default(),
            get_records_iterator_age_ms: Histogram::new(&AGE_MS_BOUNDS),
            read_throttled: Counter::default(),
            write_throttled: Counter::default(),
            subscribe_rate_exceeded: Counter::default(),
            subscribe_attempts: Counter::default(),
            subscribe_successes: Counter::default(),
            consumers: parking_lot::Mutex::new(HashMap::new()),
        }
    }
}

impl StreamMetrics {
    /// The consumer's metrics, created on its first subscription.
    pub fn consumer(&self, name: &str) -> Arc<ConsumerMetrics> {
        self.consumers
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Every consumer's metrics, by name.
    pub fn consumers(&self) -> Vec<(String, Arc<ConsumerMetrics>)> {
        let mut v: Vec<_> = self
            .consumers
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// SubscribeToShardEvent.* of one consumer: each event pushed counts.
#[derive(Debug, Default)]
pub struct ConsumerMetrics {
    pub event_bytes: Counter,
    pub event_records: Counter,
    /// Events pushed (SubscribeToShardEvent.Success's sample count) and how many succeeded.
    pub events: Counter,
    pub event_successes: Counter,
    /// SubscribeToShardEvent.MillisBehindLatest of the last event (a gauge).
    pub millis_behind_latest: AtomicI64,
}

impl ConsumerMetrics {
    pub fn millis_behind_latest(&self) -> i64 {
        self.millis_behind_latest.load(Ordering::Relaxed)
    }
}

/// Shard-level metrics (CloudWatch's "enhanced" level).
#[derive(Debug, Default)]
pub struct ShardMetrics {
    pub incoming_bytes: Counter,
    pub incoming_records: Counter,
    /// Bytes and records read from the shard, by GetRecords and by subscriptions.
    pub outgoing_bytes: Counter,
    pub outgoing_records: Counter,
    pub read_throttled: Counter,
    pub write_throttled: Counter,
    /// Age of the last record the latest read returned (0 when it returned none).
    pub iterator_age_ms: AtomicI64,
}

impl ShardMetrics {
    pub fn iterator_age_ms(&self) -> i64 {
        self.iterator_age_ms.load(Ordering::Relaxed)
    }
}

/// Times an operation against a stream: on drop it records the elapsed time and whether
/// [`OpTimer::succeeded`] was called, so every early return is counted as a failure.
pub(crate) struct OpTimer<'a> {
    op: &'a OpMetrics,
    started: Instant,
    ok: bool,
}

impl<'a> OpTimer<'a> {
    pub(crate) fn start(op: &'a OpMetrics, started: Instant) -> Self {
        OpTimer {
            op,
            started,
            ok: false,
        }
    }
    pub(crate) fn succeeded(&mut self) {
        self.ok = true;
    }
}

impl Drop for OpTimer<'_> {
    fn drop(&mut self) {
        self.op.record(self.started.elapsed(), self.ok);
    }
}

/// One stream's metrics and what the renderer needs to label and filter them.
#[derive(Clone, Debug)]
pub struct StreamMetricsView {
    pub region: String,
    pub account: String,
    pub name: String,
    /// The shard-level metrics enhanced monitoring has enabled, in AWS's names ("ALL" expanded).
    pub enhanced: Vec<String>,
    pub stream: Arc<StreamMetrics>,
    /// (shard id, its metrics), for every shard the stream still lists.
    pub shards: Vec<(String, Arc<ShardMetrics>)>,
    /// The logs of its shards (for bytes on disk).
    pub logs: Vec<u64>,
    /// The consumers registered now: only their SubscribeToShardEvent series are shown.
    pub consumers: Vec<String>,
}

impl StreamMetricsView {
    /// Whether the shard-level `metric` is enabled on this stream.
    pub fn enhanced(&self, metric: &str) -> bool {
        self.enhanced.iter().any(|m| m == metric)
    }
}

/// A histogram's snapshot, for renderers.
pub type Snapshot = HistogramSnapshot;

impl crate::Streams {
    /// Every live stream's metrics, ordered by (region, name). Takes each stream's read lock
    /// briefly; for the metrics endpoint, not for a hot path.
    pub async fn metrics_views(&self) -> Vec<StreamMetricsView> {
        let handles = self.handles();
        let account = self.default_account().to_string();
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            let state = handle.read().await;
            if state.gone {
                continue;
            }
            let meta = &state.meta;
            let shards = meta
                .shards
                .iter()
                .filter_map(|s| {
                    let m = state.shard_metrics.get(&s.index)?;
                    Some((crate::meta::shard_id(s.index), m.clone()))
                })
                .collect();
            out.push(StreamMetricsView {
                region: meta.region.clone(),
                account: account.clone(),
                name: meta.name.clone(),
                enhanced: meta.enhanced_metrics.clone(),
                stream: state.metrics.clone(),
                shards,
                logs: meta.shards.iter().map(|s| s.log).collect(),
                consumers: meta.consumers.iter().map(|c| c.name.clone()).collect(),
            });
        }
        out.sort_by(|a, b| (&a.region, &a.name).cmp(&(&b.region, &b.name)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_counts_a_failure_unless_told_otherwise() {
        let op = OpMetrics::default();
        {
            let _t = OpTimer::start(&op, Instant::now());
        }
        {
            let mut t = OpTimer::start(&op, Instant::now());
            t.succeeded();
        }
        assert_eq!(op.attempts.get(), 2);
        assert_eq!(op.successes.get(), 1);
        assert_eq!(op.latency_us.snapshot().count, 2);
    }

    #[test]
    fn consumers_are_created_once() {
        let m = StreamMetrics::default();
        m.consumer("a").event_records.add(3);
        m.consumer("a").event_records.add(2);
        let all = m.consumers();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1.event_records.get(), 5);
    }
}
