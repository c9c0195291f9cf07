//! Closed-loop write load: each connection keeps exactly one PutRecords in
//! flight, so throughput is bounded by the server's latency and what the
//! benchmark measures is the server, not a queue in the client.

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
}

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
    /// Latency of requests answered with HTTP 200, issued in the window.
    pub latency: LatencySummary,
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
) -> WorkerOut {
    let (from, end) = window;
    // Latency counts requests issued after the warm-up; throughput counts
    // answers that arrive after it.
    let mut conn = ctx.conn();
    let mut out = WorkerOut::default();
    let mut cycle = bodies.iter().cycle().skip(offset);
    while Instant::now() < end {
        let Some(body) = cycle.next() else { break };
        let t0 = Instant::now();
        let result = conn.call(Op::PutRecords, body.clone()).await;
        let t1 = Instant::now();
        out.last_answer = Some(t1);
        let in_window = t1 >= from;
        match result {
            Ok(resp) if resp.is_success() => {
                if t0 >= from {
                    out.hist.record(t1 - t0);
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
    let stride = (bodies.len() / opts.connections.max(1)).max(1);
    let handles: Vec<_> = (0..opts.connections.max(1))
        .map(|i| {
            tokio::spawn(worker(
                ctx.clone(),
                bodies.clone(),
                i * stride,
                opts.batch as u64,
                (from, end),
                opts.backoff,
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
        }
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
