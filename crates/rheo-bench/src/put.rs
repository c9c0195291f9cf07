//! Write load, closed or open loop.
//!
//! Closed loop (the default): each connection keeps exactly one PutRecords in
//! flight, so throughput is bounded by the server's latency and what the
//! benchmark measures is the server, not a queue in the client.
//!
//! Paced (`--rate R`): each connection still has at most one request in
//! flight, but sends on a fixed schedule so that all connections together
//! offer R records/s. A request that cannot go out on time (the previous
//! answer came late) goes out as soon as that answer arrives, and the
//! schedule is not shifted. Latency is then recorded twice: from the actual
//! send, and from the scheduled send. The second one counts the time a
//! request waited behind a slow predecessor, which a closed loop silently
//! drops ("coordinated omission"): a server that stalls for a second would
//! otherwise show one slow request instead of a second's worth of them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{Rng, RngCore};
use serde::Serialize;

use crate::client::Op;
use crate::ctx::Ctx;
use crate::hist::{Latency, LatencySummary};
use crate::procstat::{self, HostUsage, Usage};
use crate::proto;
use crate::verify::SeqLog;

#[derive(Debug, Clone)]
pub struct PutOpts {
    pub connections: usize,
    pub batch: usize,
    pub record_size: usize,
    pub key_spread: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Pause after a throttled answer, per connection.
    pub backoff: Duration,
    /// Distinct pre-built request bodies to cycle through.
    pub bodies: usize,
    /// Offered records/s over all connections; 0 (or less) = closed loop.
    pub rate: f64,
}

/// Send schedule of one paced connection: request `k` is due at
/// `first + k * interval`, whatever happened to the requests before it, so
/// a late answer makes the next sends go at once (catching up) instead of
/// shifting every later send and lowering the offered rate.
#[derive(Debug, Clone)]
pub struct Pacer {
    first: Instant,
    interval: Duration,
    next: u32,
}

impl Pacer {
    /// Connection `conn` of `conns` starts `conn / conns` of an interval
    /// after `start`, so the connections' sends interleave evenly instead of
    /// arriving at the server as one burst per interval.
    pub fn new(start: Instant, interval: Duration, conn: usize, conns: usize) -> Self {
        let conns = u32::try_from(conns.max(1)).unwrap_or(u32::MAX);
        let conn = u32::try_from(conn).unwrap_or(0).min(conns - 1);
        Self {
            first: start + interval * conn / conns,
            interval,
            next: 0,
        }
    }

    /// The scheduled instant of the next request; advances the schedule.
    pub fn next_due(&mut self) -> Instant {
        let due = self.first + self.interval * self.next;
        self.next = self.next.saturating_add(1);
        due
    }

    /// The next request's slot as seen at `now`: when it is due and how long
    /// to wait for it (zero when it is already overdue: send at once).
    pub fn next_slot(&mut self, now: Instant) -> Slot {
        let due = self.next_due();
        Slot {
            due,
            wait: due.saturating_duration_since(now),
        }
    }
}

/// One paced request: its scheduled instant and the wait before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub due: Instant,
    pub wait: Duration,
}

/// Interval between one connection's requests so that `connections`
/// connections sending `batch` records each offer `rate` records/s in
/// total; `None` for a closed loop (rate not positive or not finite).
pub fn pacing_interval(rate: f64, connections: usize, batch: usize) -> Option<Duration> {
    if !(rate.is_finite() && rate > 0.0) {
        return None;
    }
    let per_conn_requests = rate / (connections.max(1) * batch.max(1)) as f64;
    // Capped at an hour: a rate this low is a typo, not a benchmark.
    Some(Duration::from_secs_f64(
        (1.0 / per_conn_requests).min(3600.0),
    ))
}

/// A paced request counts as late when it went out this long after its
/// scheduled instant (tokio's timer alone can be ~1 ms late).
const LATE: Duration = Duration::from_millis(2);

#[derive(Debug, Clone, Serialize, Default)]
pub struct PutReport {
    pub connections: usize,
    pub batch: usize,
    pub record_size: usize,
    /// Measured span: from the end of the warm-up to the last answer (the
    /// requests in flight when `--duration` ends are waited for and counted,
    /// so a server slower than the window still gets a figure).
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Records acknowledged by answers that arrived after the warm-up.
    pub records: u64,
    pub records_per_sec: f64,
    /// Payload megabytes (10^6 B) acknowledged per second.
    pub mb_per_sec: f64,
    pub requests_per_sec: f64,
    /// Latency of requests answered with HTTP 200, issued in the window,
    /// from the moment each was actually sent.
    pub latency: LatencySummary,
    /// Paced runs: offered records/s (`--rate`); `None` for a closed loop.
    pub target_rate: Option<f64>,
    /// Paced runs: latency from each request's scheduled send instant (what
    /// a producer emitting at the target rate would see, queueing in the
    /// client included), for requests scheduled in the window.
    pub latency_from_schedule: Option<LatencySummary>,
    /// Paced runs: requests scheduled in the window that went out at least
    /// 2 ms after their scheduled instant (behind a slow answer).
    pub late_requests: u64,
    /// All acknowledged records, warm-up and tail included.
    pub acked_total: u64,
    pub failed_records: BTreeMap<String, u64>,
    pub http_errors: BTreeMap<String, u64>,
    pub transport_errors: u64,
    /// Records in requests whose outcome is unknown (timeouts, 5xx, cut
    /// connections): they may or may not have been stored.
    pub unknown_outcome_records: u64,
    pub per_shard: BTreeMap<String, u64>,
    pub duplicate_acks: u64,
    /// Open shards of the stream (filled in by the caller that knows them).
    pub stream_shards: Option<usize>,
    /// `--label` of the run (filled in by the caller), the name its row carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Whether every request was signed for real (`--secret-key`).
    pub signed: bool,
    /// Server and client resource use over the measured span (after the
    /// warm-up), so each figure can be told apart from the warm-up's.
    pub server: Option<Usage>,
    pub client: Option<Usage>,
    /// Whole-machine CPU over the same span (other processes included).
    pub host: Option<HostUsage>,
}

/// Random partition keys drawn from `spread` distinct values and random
/// payloads; built once so the hot loop only clones `Bytes`.
pub fn build_bodies(stream: &str, opts: &PutOpts) -> Vec<Bytes> {
    let mut rng = rand::thread_rng();
    let spread = opts.key_spread.max(1);
    (0..opts.bodies.max(1))
        .map(|_| {
            let records: Vec<(String, Vec<u8>)> = (0..opts.batch.max(1))
                .map(|_| {
                    let mut data = vec![0u8; opts.record_size.max(1)];
                    rng.fill_bytes(&mut data);
                    (format!("pk-{}", rng.gen_range(0..spread)), data)
                })
                .collect();
            proto::put_records_body(stream, &records)
        })
        .collect()
}

#[derive(Default)]
struct WorkerOut {
    hist: Latency,
    sched_hist: Latency,
    late: u64,
    window_records: u64,
    window_requests: u64,
    acked_total: u64,
    failed: BTreeMap<String, u64>,
    http_errors: BTreeMap<String, u64>,
    transport_errors: u64,
    unknown_outcome: u64,
    acks: SeqLog,
    last_answer: Option<Instant>,
}

/// Applies one PutRecords answer; returns whether any record was throttled.
fn absorb(out: &mut WorkerOut, body: &[u8], in_window: bool) -> Result<bool, serde_json::Error> {
    let r: proto::PutRecordsResponse = serde_json::from_slice(body)?;
    let mut throttled = false;
    for e in r.records {
        match (e.shard_id, e.sequence_number) {
            (Some(shard), Some(seq)) if e.error_code.is_none() => {
                out.acks.push(&shard, seq);
                out.acked_total += 1;
                if in_window {
                    out.window_records += 1;
                }
            }
            _ => {
                let code = e
                    .error_code
                    .unwrap_or_else(|| "MissingSequenceNumber".into());
                throttled |= code == "ProvisionedThroughputExceededException";
                *out.failed.entry(code).or_default() += 1;
            }
        }
    }
    Ok(throttled)
}

async fn worker(
    ctx: Ctx,
    bodies: Arc<Vec<Bytes>>,
    offset: usize,
    batch: u64,
    window: (Instant, Instant),
    backoff: Duration,
    mut pacer: Option<Pacer>,
) -> WorkerOut {
    let (from, end) = window;
    // Latency counts requests issued (or, paced, scheduled) after the
    // warm-up; throughput counts answers that arrive after it.
    let mut conn = ctx.conn();
    let mut out = WorkerOut::default();
    let mut cycle = bodies.iter().cycle().skip(offset);
    loop {
        let due = match pacer.as_mut() {
            Some(p) => {
                let slot = p.next_slot(Instant::now());
                if slot.due >= end {
                    break;
                }
                if !slot.wait.is_zero() {
                    tokio::time::sleep_until(slot.due.into()).await;
                }
                Some(slot.due)
            }
            None if Instant::now() >= end => break,
            None => None,
        };
        let Some(body) = cycle.next() else { break };
        let t0 = Instant::now();
        if due.is_some_and(|d| d >= from && t0.saturating_duration_since(d) >= LATE) {
            out.late += 1;
        }
        let result = conn.call(Op::PutRecords, body.clone()).await;
        let t1 = Instant::now();
        out.last_answer = Some(t1);
        let in_window = t1 >= from;
        match result {
            Ok(resp) if resp.is_success() => {
                if t0 >= from {
                    out.hist.record(t1 - t0);
                }
                if let Some(d) = due.filter(|d| *d >= from) {
                    out.sched_hist.record(t1 - d);
                }
                if in_window {
                    out.window_requests += 1;
                }
                match absorb(&mut out, &resp.body, in_window) {
                    Ok(true) => tokio::time::sleep(backoff).await,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!("unparseable PutRecords answer: {e}");
                        *out.http_errors.entry("BadResponseBody".into()).or_default() += 1;
                        out.unknown_outcome += batch;
                    }
                }
            }
            Ok(resp) => {
                let kind = resp.error_type().unwrap_or_default();
                if resp.status >= 500 {
                    out.unknown_outcome += batch;
                }
                *out.http_errors.entry(kind).or_default() += 1;
                tokio::time::sleep(backoff).await;
            }
            Err(e) => {
                tracing::debug!("transport error: {e}");
                out.transport_errors += 1;
                out.unknown_outcome += batch;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    out
}

/// Runs the write phase; returns the report and every acknowledged record.
pub async fn run(ctx: &Ctx, opts: &PutOpts) -> anyhow::Result<(PutReport, SeqLog)> {
    let bodies = Arc::new(build_bodies(&ctx.stream, opts));
    let start = Instant::now();
    let from = start + opts.warmup;
    let end = from + opts.duration;
    let conns = opts.connections.max(1);
    let stride = (bodies.len() / conns).max(1);
    let interval = pacing_interval(opts.rate, conns, opts.batch);
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            tokio::spawn(worker(
                ctx.clone(),
                bodies.clone(),
                i * stride,
                opts.batch as u64,
                (from, end),
                opts.backoff,
                interval.map(|iv| Pacer::new(start, iv, i, conns)),
            ))
        })
        .collect();
    // CPU is sampled over the measured span only: the warm-up includes
    // connection set-up and a cold server.
    tokio::time::sleep_until(from.into()).await;
    let server = procstat::maybe_start(&ctx.server_pids);
    let client = procstat::Sampler::start(vec!["self".into()]);
    let host = procstat::HostSampler::start();
    let mut total = WorkerOut::default();
    for h in handles {
        let w = h.await?;
        total.hist.merge(&w.hist);
        total.sched_hist.merge(&w.sched_hist);
        total.late += w.late;
        total.window_records += w.window_records;
        total.window_requests += w.window_requests;
        total.acked_total += w.acked_total;
        total.transport_errors += w.transport_errors;
        total.unknown_outcome += w.unknown_outcome;
        for (k, v) in w.failed {
            *total.failed.entry(k).or_default() += v;
        }
        for (k, v) in w.http_errors {
            *total.http_errors.entry(k).or_default() += v;
        }
        total.acks.extend(w.acks);
        total.last_answer = total.last_answer.max(w.last_answer);
    }
    let server = procstat::maybe_finish(server).await;
    let client = client.finish().await;
    let host = host.finish();
    let measured = total
        .last_answer
        .map_or(opts.duration, |t| t.saturating_duration_since(from));
    let secs = measured.as_secs_f64().max(1e-9);
    let report = PutReport {
        connections: opts.connections,
        batch: opts.batch,
        record_size: opts.record_size,
        duration_s: measured.as_secs_f64(),
        warmup_s: opts.warmup.as_secs_f64(),
        records: total.window_records,
        records_per_sec: total.window_records as f64 / secs,
        mb_per_sec: (total.window_records * opts.record_size as u64) as f64 / 1e6 / secs,
        requests_per_sec: total.window_requests as f64 / secs,
        latency: total.hist.summary(),
        target_rate: interval.map(|_| opts.rate),
        latency_from_schedule: interval.map(|_| total.sched_hist.summary()),
        late_requests: total.late,
        acked_total: total.acked_total,
        failed_records: total.failed,
        http_errors: total.http_errors,
        transport_errors: total.transport_errors,
        unknown_outcome_records: total.unknown_outcome,
        per_shard: total
            .acks
            .by_shard
            .iter()
            .map(|(k, v)| (k.clone(), v.len() as u64))
            .collect(),
        duplicate_acks: total.acks.duplicates(),
        stream_shards: None,
        label: None,
        signed: ctx.auth.secret_key.is_some(),
        server,
        client: Some(client),
        host,
    };
    Ok((report, total.acks))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PutOpts {
        PutOpts {
            connections: 1,
            batch: 7,
            record_size: 33,
            key_spread: 3,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            backoff: Duration::ZERO,
            bodies: 2,
            rate: 0.0,
        }
    }

    #[test]
    fn pacing_interval_splits_the_rate_over_connections_and_batches() {
        assert_eq!(pacing_interval(0.0, 8, 500), None);
        assert_eq!(pacing_interval(-5.0, 8, 500), None);
        assert_eq!(pacing_interval(f64::NAN, 8, 500), None);
        // 8 connections x 500 records = 4000 records per round; 40,000/s
        // is 10 rounds/s, so each connection sends every 100 ms.
        let iv = pacing_interval(40_000.0, 8, 500).unwrap();
        assert!((iv.as_secs_f64() - 0.1).abs() < 1e-9, "{iv:?}");
        let iv = pacing_interval(1000.0, 1, 1).unwrap();
        assert!((iv.as_secs_f64() - 0.001).abs() < 1e-12, "{iv:?}");
        // Zero connections or batch are treated as one.
        assert_eq!(pacing_interval(10.0, 0, 0), pacing_interval(10.0, 1, 1));
        assert_eq!(pacing_interval(1e-9, 1, 1), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn pacer_schedule_is_fixed_and_staggered() {
        let start = Instant::now();
        let iv = Duration::from_millis(100);
        let mut p0 = Pacer::new(start, iv, 0, 4);
        let mut p3 = Pacer::new(start, iv, 3, 4);
        assert_eq!(p0.next_due(), start);
        assert_eq!(p0.next_due(), start + iv);
        assert_eq!(p3.next_due(), start + Duration::from_millis(75));
        assert_eq!(p3.next_due(), start + Duration::from_millis(175));
        // An out-of-range connection index is clamped, not a panic.
        let mut p9 = Pacer::new(start, iv, 9, 4);
        assert_eq!(p9.next_due(), start + Duration::from_millis(75));
    }

    #[test]
    fn late_answers_are_caught_up_without_shifting_the_schedule() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let mut p = Pacer::new(start, ms(10), 0, 1);
        // On time: wait until each due instant.
        assert_eq!(p.next_slot(start).wait, Duration::ZERO);
        let s1 = p.next_slot(start + ms(1));
        assert_eq!((s1.due, s1.wait), (start + ms(10), ms(9)));
        // The answer to request 1 arrives at 45 ms: requests 2, 3 and 4
        // (due at 20, 30, 40 ms) are overdue and go out back to back...
        let mut now = start + ms(45);
        for k in 2..=4u32 {
            let s = p.next_slot(now);
            assert_eq!(s.due, start + ms(10) * k);
            assert_eq!(s.wait, Duration::ZERO, "request {k}");
            // ...each measured from its own due instant, the backlog included.
            assert!(now - s.due >= ms(5));
            now += ms(1);
        }
        // ...until the connection has caught up: request 5 (due at 50 ms)
        // waits again, so the offered rate is kept, not lowered.
        let s5 = p.next_slot(now);
        assert_eq!((s5.due, s5.wait), (start + ms(50), ms(2)));
    }

    #[test]
    fn bodies_have_requested_shape() {
        let bodies = build_bodies("st", &opts());
        assert_eq!(bodies.len(), 2);
        for b in &bodies {
            let v: serde_json::Value = serde_json::from_slice(b).unwrap();
            let recs = v["Records"].as_array().unwrap();
            assert_eq!(recs.len(), 7);
            for r in recs {
                let data = proto::b64_decode(r["Data"].as_str().unwrap()).unwrap();
                assert_eq!(data.len(), 33);
                let k = r["PartitionKey"].as_str().unwrap();
                assert!(["pk-0", "pk-1", "pk-2"].contains(&k), "{k}");
            }
        }
    }

    #[test]
    fn absorb_counts_acks_and_failures() {
        let mut out = WorkerOut::default();
        let body = br#"{"FailedRecordCount":2,"Records":[
            {"SequenceNumber":"1","ShardId":"shardId-000000000000"},
            {"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"x"},
            {"ErrorCode":"InternalFailure","ErrorMessage":"y"},
            {"SequenceNumber":"2","ShardId":"shardId-000000000001"}]}"#;
        assert!(absorb(&mut out, body, true).unwrap());
        assert_eq!(out.acked_total, 2);
        assert_eq!(out.window_records, 2);
        assert_eq!(out.failed["ProvisionedThroughputExceededException"], 1);
        assert_eq!(out.failed["InternalFailure"], 1);
        assert_eq!(out.acks.count_for("shardId-000000000001"), 1);
        assert!(!absorb(&mut out, br#"{"Records":[]}"#, false).unwrap());
        assert!(absorb(&mut out, b"{}", false).is_err());
    }
}
