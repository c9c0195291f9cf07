//! The fan-out phase: on a stream of one shard, put-to-push latency through SubscribeToShard
//! with 1, 5 and 20 registered consumers next to GetRecords-based put-to-get at the same pace,
//! then a catch-up read of many records from TRIM_HORIZON, once through GetRecords and once
//! through SubscribeToShard.
//!
//! Every sub-phase that fails (a server without SubscribeToShard, say) is recorded with its
//! error instead of ending the run, so a peer's report can say what it does not do.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::client::{error_type_of, Op};
use crate::ctx::Ctx;
use crate::e2e::{self, E2eOpts, E2eReport};
use crate::procstat;
use crate::proto;

#[derive(Debug, Clone)]
pub struct FanoutOpts {
    pub rate: u64,
    pub duration: Duration,
    /// Producer tick; one request per tick (one record at 1 ms and 1,000 records/s).
    pub interval: Duration,
    /// Largest request of the producer when it is behind its schedule.
    pub max_batch: usize,
    pub record_size: usize,
    pub consumers: Vec<usize>,
    pub poll: Duration,
    /// Records written for the catch-up reads (0 = no catch-up).
    pub catchup_records: u64,
    pub catchup_connections: usize,
    pub catchup_timeout: Duration,
    /// Read through SubscribeToShard before GetRecords (the first read may find colder caches;
    /// the script alternates the order run by run).
    pub subscribe_first: bool,
    pub keep: bool,
}

/// One latency sub-phase: GetRecords polling (`consumers` 0) or N push consumers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencyPhase {
    pub consumers: usize,
    /// No error, nothing lost, nothing duplicated, something received.
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    pub achieved_rate: f64,
    pub acked: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// PutRecords latency of the producer in the same sub-phase.
    pub put_p99_ms: f64,
    #[serde(default)]
    pub server_cpu_cores: Option<f64>,
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
}

impl LatencyPhase {
    fn from_result(consumers: usize, r: Result<E2eReport>) -> Self {
        match r {
            Ok(r) => LatencyPhase {
                consumers,
                ok: r.lost == 0 && r.duplicates == 0 && r.received > 0,
                error: None,
                achieved_rate: r.achieved_rate,
                acked: r.acked,
                received: r.received,
                lost: r.lost,
                duplicates: r.duplicates,
                p50_ms: r.latency.p50_ms,
                p99_ms: r.latency.p99_ms,
                p999_ms: r.latency.p999_ms,
                max_ms: r.latency.max_ms,
                put_p99_ms: r.put_latency.p99_ms,
                server_cpu_cores: r.server.map(|u| u.cpu_cores),
                errors: r.errors,
            },
            Err(e) => LatencyPhase {
                consumers,
                error: Some(format!("{e:#}")),
                ..Default::default()
            },
        }
    }
}

/// One catch-up read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Throughput {
    /// Every written record read once, in order.
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    pub records: u64,
    pub bytes: u64,
    /// From the read's start (iterator or subscription call) to the last record's arrival.
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    /// GetRecords calls, or SubscribeToShard events.
    pub calls: u64,
    /// SubscribeToShard calls (1 unless a subscription ended early and was renewed).
    #[serde(default)]
    pub subscriptions: u64,
    #[serde(default)]
    pub server_cpu_cores: Option<f64>,
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
}

impl Throughput {
    fn failed(e: anyhow::Error) -> Self {
        Throughput {
            error: Some(format!("{e:#}")),
            ..Default::default()
        }
    }

    fn finish_rates(&mut self) {
        if self.elapsed_s > 0.0 {
            self.records_per_sec = self.records as f64 / self.elapsed_s;
            self.mb_per_sec = self.bytes as f64 / 1e6 / self.elapsed_s;
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Catchup {
    /// Records acknowledged by the writer (what each read must return).
    pub written: u64,
    pub write_s: f64,
    #[serde(default)]
    pub write_error: Option<String>,
    pub get_records: Throughput,
    pub subscribe: Throughput,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FanoutReport {
    pub label: String,
    pub stream: String,
    pub rate: u64,
    pub interval_ms: f64,
    pub record_size: usize,
    pub duration_s: f64,
    /// GetRecords-based put-to-get at the same pace.
    pub get: LatencyPhase,
    pub push: Vec<LatencyPhase>,
    #[serde(default)]
    pub catchup: Option<Catchup>,
}

impl FanoutReport {
    /// Whether every sub-phase ran and verified.
    pub fn ok(&self) -> bool {
        self.get.ok
            && self.push.iter().all(|p| p.ok)
            && self
                .catchup
                .as_ref()
                .is_none_or(|c| c.get_records.ok && c.subscribe.ok)
    }
}

fn e2e_opts(o: &FanoutOpts, push_consumers: usize) -> E2eOpts {
    E2eOpts {
        rate: o.rate.max(1),
        duration: o.duration,
        interval: o.interval,
        max_batch: o.max_batch.clamp(1, 500),
        record_size: o.record_size.max(e2e::HEADER_LEN),
        key_spread: 1024,
        poll: o.poll,
        drain: Duration::from_secs(5),
        push_consumers,
    }
}

pub async fn run(ctx: &Ctx, label: &str, o: &FanoutOpts) -> Result<FanoutReport> {
    let wait = Duration::from_secs(60);
    let shards = crate::admin::setup(ctx, 1, wait).await?;
    let mut report = FanoutReport {
        label: label.to_string(),
        stream: ctx.stream.clone(),
        rate: o.rate,
        interval_ms: o.interval.as_secs_f64() * 1e3,
        record_size: o.record_size,
        duration_s: o.duration.as_secs_f64(),
        ..Default::default()
    };
    report.get = LatencyPhase::from_result(0, e2e::run(ctx, &shards, &e2e_opts(o, 0)).await);
    print_latency(&report.get);
    if !o.keep {
        if let Err(e) = crate::admin::teardown(ctx, wait).await {
            tracing::warn!("teardown failed: {e:#}");
        }
    }
    for &n in &o.consumers {
        // A stream of its own per push phase: the consumers of the previous one may still
        // hold their subscriptions (a server notices a client gone only when it next sends,
        // and kinesis-mock keeps them), and a new subscription of the same consumer and
        // shard would be refused with ResourceInUseException.
        let mut pctx = ctx.clone();
        pctx.stream = format!("{}-push{n}", ctx.stream);
        let result = match crate::admin::setup(&pctx, 1, wait).await {
            Ok(shards) => e2e::run(&pctx, &shards, &e2e_opts(o, n)).await,
            Err(e) => Err(e),
        };
        let phase = LatencyPhase::from_result(n, result);
        print_latency(&phase);
        report.push.push(phase);
        if !o.keep {
            if let Err(e) = crate::admin::teardown_with_consumers(&pctx, wait).await {
                tracing::warn!("teardown failed: {e:#}");
            }
        }
    }
    if o.catchup_records > 0 {
        let mut cctx = ctx.clone();
        cctx.stream = format!("{}-catchup", ctx.stream);
        let c = catchup(&cctx, o).await;
        print_catchup(&c);
        report.catchup = Some(c);
        if !o.keep {
            if let Err(e) = crate::admin::teardown_with_consumers(&cctx, wait).await {
                tracing::warn!("teardown failed: {e:#}");
            }
        }
    }
    Ok(report)
}

async fn catchup(ctx: &Ctx, o: &FanoutOpts) -> Catchup {
    let mut c = Catchup::default();
    let shards = match crate::admin::setup(ctx, 1, Duration::from_secs(60)).await {
        Ok(s) => s,
        Err(e) => {
            c.write_error = Some(format!("{e:#}"));
            return c;
        }
    };
    let Some(shard) = shards.first().cloned() else {
        c.write_error = Some("the catch-up stream has no open shard".into());
        return c;
    };
    // Register the consumer before writing, so its ACTIVE wait is not part of any figure.
    let consumer = crate::admin::ensure_consumers(ctx, 1, Duration::from_secs(60)).await;
    let t0 = Instant::now();
    match fill(ctx, o).await {
        Ok(n) => c.written = n,
        Err(e) => c.write_error = Some(format!("{e:#}")),
    }
    c.write_s = t0.elapsed().as_secs_f64();
    if c.written == 0 {
        return c;
    }
    let consumer = match consumer {
        Ok(arns) => arns
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("no consumer registered")),
        Err(e) => Err(e),
    };
    let sub_read = |c: &Catchup| {
        let consumer = consumer.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"));
        let (written, shard) = (c.written, shard.clone());
        async move {
            match consumer {
                Ok(arn) => subscribe_catchup(ctx, &shard, arn, written, o.catchup_timeout).await,
                Err(e) => Throughput::failed(e),
            }
        }
    };
    if o.subscribe_first {
        c.subscribe = sub_read(&c).await;
    }
    let get_opts = crate::get::GetOpts {
        limit: 10_000,
        duration: o.catchup_timeout,
        idle: Duration::from_secs(3),
        expected: Some(HashMap::from([(shard.clone(), c.written)])),
    };
    c.get_records = match crate::get::run(ctx, &shards, &get_opts).await {
        Ok((r, read)) => {
            let v = crate::verify::verify_read_only(&read, Some(c.written));
            let mut t = Throughput {
                ok: v.ok,
                records: r.records,
                bytes: r.bytes,
                elapsed_s: r.elapsed_s,
                calls: r.calls,
                server_cpu_cores: r.server.map(|u| u.cpu_cores),
                errors: r.errors,
                ..Default::default()
            };
            t.finish_rates();
            t
        }
        Err(e) => Throughput::failed(e),
    };
    if !o.subscribe_first {
        c.subscribe = sub_read(&c).await;
    }
    c
}

/// Writes `catchup_records` records to the (one-shard) stream over a few connections, batches
/// of 500; returns how many were acknowledged.
async fn fill(ctx: &Ctx, o: &FanoutOpts) -> Result<u64> {
    let total = o.catchup_records;
    let size = o.record_size.max(1);
    let mut data = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut data);
    let batch_of = |n: usize| -> Bytes {
        let records: Vec<(String, &[u8])> = (0..n)
            .map(|i| (format!("pk-{i}"), data.as_slice()))
            .collect();
        proto::put_records_body(&ctx.stream, &records)
    };
    let full = batch_of(500);
    let claimed = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..o.catchup_connections.max(1) {
        let (ctx, claimed, acked, full) =
            (ctx.clone(), claimed.clone(), acked.clone(), full.clone());
        let last_body = {
            // The last batch may be short; every task can build it (rarely used).
            let rest = usize::try_from(total % 500).unwrap_or(0);
            (rest > 0).then(|| batch_of(rest))
        };
        tasks.push(tokio::spawn(async move {
            let mut conn = ctx.conn();
            let mut failures = 0u32;
            loop {
                let start = claimed.fetch_add(500, Ordering::AcqRel);
                if start >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                let body = if total - start >= 500 {
                    full.clone()
                } else {
                    last_body.clone().unwrap_or_else(|| full.clone())
                };
                let resp = conn.call(Op::PutRecords, body).await?;
                if !resp.is_success() {
                    failures += 1;
                    if failures > 20 {
                        anyhow::bail!(
                            "PutRecords: HTTP {} {}",
                            resp.status,
                            String::from_utf8_lossy(&resp.body)
                        );
                    }
                    // Give the batch back and retry after a pause (throttled or busy).
                    claimed.fetch_sub(500, Ordering::AcqRel);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                let p: proto::PutRecordsResponse = serde_json::from_slice(&resp.body)?;
                let ok = p
                    .records
                    .iter()
                    .filter(|e| e.sequence_number.is_some() && e.error_code.is_none())
                    .count() as u64;
                acked.fetch_add(ok, Ordering::AcqRel);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(acked.load(Ordering::Acquire))
}

/// Reads `expected` records through SubscribeToShard from TRIM_HORIZON, renewing the
/// subscription from its continuation if it ends first.
async fn subscribe_catchup(
    ctx: &Ctx,
    shard: &str,
    consumer: &str,
    expected: u64,
    timeout: Duration,
) -> Throughput {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    use http_body_util::BodyExt as _;

    let server = procstat::maybe_start(&ctx.server_pids);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut t = Throughput::default();
    let mut last_seq: Option<String> = None;
    let mut continuation: Option<String> = None;
    let mut last_at: Option<Instant> = None;
    let mut failures = 0u32;
    'subscriptions: while t.records < expected && Instant::now() < deadline {
        let body = match &continuation {
            Some(c) => proto::subscribe_body_at(consumer, shard, "AFTER_SEQUENCE_NUMBER", Some(c)),
            None => proto::subscribe_body_at(consumer, shard, "TRIM_HORIZON", None),
        };
        t.subscriptions += 1;
        let mut conn = ctx.conn();
        let mut stream = match conn.call_streaming(Op::SubscribeToShard, body).await {
            Ok((200, b)) => b,
            Ok((status, b)) => {
                let text = b.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                let kind = error_type_of(&text).unwrap_or_else(|| format!("HTTP{status}"));
                *t.errors.entry(kind.clone()).or_default() += 1;
                failures += 1;
                if failures > 10 {
                    t.error = Some(format!(
                        "SubscribeToShard: HTTP {status} {}",
                        String::from_utf8_lossy(&text)
                    ));
                    break;
                }
                // A subscription renewed too soon is refused for 5 s (ResourceInUse).
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                t.error = Some(format!("SubscribeToShard: {e}"));
                break;
            }
        };
        let mut decoder = MessageFrameDecoder::new();
        let mut buf = bytes::BytesMut::new();
        while t.records < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = match tokio::time::timeout(left, stream.frame()).await {
                Ok(Some(Ok(f))) => f,
                Ok(Some(Err(e))) => {
                    *t.errors.entry(format!("transport: {e}")).or_default() += 1;
                    continue 'subscriptions;
                }
                Ok(None) => continue 'subscriptions,
                Err(_) => break 'subscriptions,
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            let now = Instant::now();
            loop {
                let message = match decoder.decode_frame(&mut buf) {
                    Ok(DecodedFrame::Complete(m)) => m,
                    Ok(DecodedFrame::Incomplete) => break,
                    Err(e) => {
                        t.error = Some(format!("bad event-stream frame: {e}"));
                        break 'subscriptions;
                    }
                };
                let header = |name: &str| {
                    message
                        .headers()
                        .iter()
                        .find(|h| h.name().as_str() == name)
                        .and_then(|h| h.value().as_string().ok())
                        .map(|v| v.as_str().to_string())
                };
                match header(":event-type").as_deref() {
                    Some("initial-response") => {}
                    Some("SubscribeToShardEvent") => {
                        t.calls += 1;
                        let e: proto::SubscribeEvent =
                            match serde_json::from_slice(message.payload()) {
                                Ok(e) => e,
                                Err(e) => {
                                    t.error = Some(format!("bad SubscribeToShardEvent: {e}"));
                                    break 'subscriptions;
                                }
                            };
                        for rec in &e.records {
                            // Only forward progress counts, as in the GetRecords reader.
                            let forward = last_seq.as_deref().is_none_or(|l| {
                                crate::verify::cmp_seq(&rec.sequence_number, l)
                                    == std::cmp::Ordering::Greater
                            });
                            if forward {
                                t.records += 1;
                                t.bytes += proto::b64_decoded_len(&rec.data) as u64;
                                last_seq = Some(rec.sequence_number.clone());
                                last_at = Some(now);
                            } else {
                                *t.errors.entry("out-of-order record".into()).or_default() += 1;
                            }
                        }
                        continuation = e.continuation_sequence_number.or(last_seq.clone());
                    }
                    _ => {
                        let kind =
                            header(":exception-type").unwrap_or_else(|| "unknown event".into());
                        *t.errors.entry(kind).or_default() += 1;
                        continue 'subscriptions;
                    }
                }
            }
        }
    }
    t.server_cpu_cores = procstat::maybe_finish(server).await.map(|u| u.cpu_cores);
    t.elapsed_s = last_at.map_or(0.0, |l| (l - start).as_secs_f64());
    t.finish_rates();
    t.ok =
        t.error.is_none() && t.records == expected && !t.errors.contains_key("out-of-order record");
    if t.records < expected && t.error.is_none() {
        t.error = Some(format!(
            "{} of {expected} records within {:.0} s",
            t.records,
            timeout.as_secs_f64()
        ));
    }
    t
}

pub fn print_latency(p: &LatencyPhase) {
    let what = match p.consumers {
        0 => "put-to-get (GetRecords polling)".to_string(),
        n => format!("put-to-push ({n} SubscribeToShard consumers)"),
    };
    match &p.error {
        Some(e) => println!("fanout {what}: failed: {e}"),
        None => println!(
            "fanout {what}: {:.0} rec/s achieved, {} acked, {} received, {} lost, {} dup; p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (put p99 {:.2} ms){}",
            p.achieved_rate,
            p.acked,
            p.received,
            p.lost,
            p.duplicates,
            p.p50_ms,
            p.p99_ms,
            p.p999_ms,
            p.max_ms,
            p.put_p99_ms,
            if p.errors.is_empty() { String::new() } else { format!("; errors {:?}", p.errors) }
        ),
    }
}

pub fn print_catchup(c: &Catchup) {
    if let Some(e) = &c.write_error {
        println!("fanout catch-up: write failed: {e}");
    }
    println!(
        "fanout catch-up: {} records written in {:.2} s",
        c.written, c.write_s
    );
    for (what, t) in [
        ("GetRecords", &c.get_records),
        ("SubscribeToShard", &c.subscribe),
    ] {
        match &t.error {
            Some(e) => println!("fanout catch-up {what}: failed: {e} ({} records read)", t.records),
            None => println!(
                "fanout catch-up {what}: {} records in {:.2} s: {:.0} rec/s, {:.1} MB/s, {} calls/events{}",
                t.records,
                t.elapsed_s,
                t.records_per_sec,
                t.mb_per_sec,
                t.calls,
                if t.errors.is_empty() { String::new() } else { format!("; errors {:?}", t.errors) }
            ),
        }
    }
}
