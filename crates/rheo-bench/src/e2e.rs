//! End-to-end latency: a producer writes at a fixed rate while one consumer
//! per shard polls from LATEST; each record carries the instant its
//! PutRecords was issued, so latency = arrival at a consumer - that instant,
//! both read from one monotonic clock of this process.
//!
//! Each consumer runs on its own OS thread (its own current-thread runtime)
//! and pauses after an empty GetRecords with a blocking `thread::sleep`, the
//! way a KCL-style polling worker does. Two reasons: tokio's timer wheel has
//! 1 ms granularity, so `tokio::time::sleep(200 µs)` really sleeps 1-2 ms and
//! every consumer wakes on the same millisecond ticks as the producer's
//! interval. Polls then sample the server at fixed phases of the producer
//! instead of at random instants, and the measured latency becomes a
//! quantised function of the server's put time rather than its
//! distribution. And consumers sharing the producer's thread would add
//! their parsing time to each other's (and the producer's) figures.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use serde::Serialize;
use tokio::sync::{oneshot, Barrier};

use crate::client::{Conn, Op};
use crate::ctx::Ctx;
use crate::hist::{Latency, LatencySummary};
use crate::procstat::{self, HostUsage, Usage};
use crate::proto;

/// Bytes at the start of each payload: run tag, record index, send time.
pub const HEADER_LEN: usize = 24;

#[derive(Debug, Clone)]
pub struct E2eOpts {
    pub rate: u64,
    pub duration: Duration,
    /// The producer wakes this often and sends what is due in one request.
    pub interval: Duration,
    pub max_batch: usize,
    pub record_size: usize,
    pub key_spread: usize,
    /// Consumer pause after an empty GetRecords (0 = poll again at once).
    pub poll: Duration,
    /// How long consumers may keep reading after the producer stops.
    pub drain: Duration,
    /// 0: one GetRecords-polling consumer per shard. N > 0: N enhanced fan-out consumers, each
    /// subscribed (SubscribeToShard from LATEST) to every shard; each must receive every record.
    pub push_consumers: usize,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct E2eReport {
    pub target_rate: u64,
    pub duration_s: f64,
    pub poll_ms: f64,
    /// Consumer threads (one per shard, or one per push consumer and shard).
    pub consumers: usize,
    /// Enhanced fan-out consumers (0 = polling with GetRecords).
    pub push_consumers: usize,
    pub sent: u64,
    pub acked: u64,
    pub received: u64,
    /// Acknowledged but never seen by a consumer.
    pub lost: u64,
    pub duplicates: u64,
    pub achieved_rate: f64,
    pub latency: LatencySummary,
    pub put_latency: LatencySummary,
    pub get_calls: u64,
    pub empty_get_calls: u64,
    pub errors: BTreeMap<String, u64>,
    pub server: Option<Usage>,
    pub client: Option<Usage>,
    /// Whole-machine CPU over the phase (other processes included).
    pub host: Option<HostUsage>,
}

/// Writes the header into the first HEADER_LEN bytes of `buf`.
pub fn encode_header(buf: &mut [u8], tag: u64, index: u64, sent_us: u64) {
    for (dst, src) in buf.iter_mut().zip(
        tag.to_le_bytes()
            .into_iter()
            .chain(index.to_le_bytes())
            .chain(sent_us.to_le_bytes()),
    ) {
        *dst = src;
    }
}

/// `(index, sent_us)` when `data` carries this run's tag.
pub fn decode_header(data: &[u8], tag: u64) -> Option<(u64, u64)> {
    let word = |i: usize| -> Option<u64> {
        let b: [u8; 8] = data.get(i * 8..i * 8 + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(b))
    };
    (word(0)? == tag).then_some(())?;
    Some((word(1)?, word(2)?))
}

fn micros_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

struct Shared {
    base: Instant,
    tag: u64,
    acked: AtomicU64,
    received: AtomicU64,
    producer_done: AtomicBool,
    /// How many times each acknowledged record is to be received (the push consumers).
    copies: u64,
    /// Records received per copy (push consumer), so a consumer done with its own copy stops
    /// instead of waiting at the tip (up to a heartbeat) for the others to finish theirs.
    per_copy: Vec<AtomicU64>,
}

impl Shared {
    fn all_received(&self) -> bool {
        self.producer_done.load(Ordering::Acquire)
            && self.received.load(Ordering::Acquire)
                >= self.acked.load(Ordering::Acquire) * self.copies
    }

    fn copy_received(&self, copy: usize) -> bool {
        self.producer_done.load(Ordering::Acquire)
            && self
                .per_copy
                .get(copy)
                .is_some_and(|n| n.load(Ordering::Acquire) >= self.acked.load(Ordering::Acquire))
    }
}

#[derive(Default)]
struct ReaderOut {
    hist: Latency,
    indices: Vec<u64>,
    calls: u64,
    empty: u64,
    errors: BTreeMap<String, u64>,
}

async fn latest_iterator(conn: &mut Conn, ctx: &Ctx, shard: &str) -> Result<String> {
    let resp = conn
        .call(
            Op::GetShardIterator,
            proto::get_shard_iterator_body(&ctx.stream, shard, "LATEST", None),
        )
        .await?;
    if !resp.is_success() {
        anyhow::bail!(
            "GetShardIterator LATEST {shard}: HTTP {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    Ok(serde_json::from_slice::<proto::GetShardIteratorResponse>(&resp.body)?.shard_iterator)
}

async fn reader(
    ctx: Ctx,
    shard: String,
    shared: Arc<Shared>,
    ready: Arc<Barrier>,
    poll: Duration,
    hard_stop: Instant,
) -> Result<ReaderOut> {
    let mut conn = ctx.conn();
    let mut out = ReaderOut::default();
    let mut it = match latest_iterator(&mut conn, &ctx, &shard).await {
        Ok(it) => it,
        Err(e) => {
            // Release the producer even on failure, or it would wait forever.
            ready.wait().await;
            return Err(e);
        }
    };
    let mut primed = false;
    loop {
        if primed && (shared.all_received() || Instant::now() >= hard_stop) {
            break;
        }
        let resp = conn
            .call(Op::GetRecords, proto::get_records_body(&it, 10_000))
            .await;
        let now_us = micros_since(shared.base);
        out.calls += 1;
        let mut got = 0usize;
        match resp {
            Ok(r) if r.is_success() => {
                let r: proto::GetRecordsResponse = serde_json::from_slice(&r.body)?;
                got = r.records.len();
                for rec in &r.records {
                    if let Some((idx, sent)) =
                        proto::b64_decode(&rec.data).and_then(|d| decode_header(&d, shared.tag))
                    {
                        out.hist.record_us(now_us.saturating_sub(sent));
                        out.indices.push(idx);
                        shared.received.fetch_add(1, Ordering::AcqRel);
                    }
                }
                match r.next_shard_iterator {
                    Some(n) => it = n,
                    None => break,
                }
            }
            Ok(r) => {
                let kind = r.error_type().unwrap_or_default();
                if kind == "ExpiredIteratorException" {
                    it = latest_iterator(&mut conn, &ctx, &shard).await?;
                }
                *out.errors.entry(kind).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                *out.errors.entry(format!("transport: {e}")).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if !primed {
            // One call on the LATEST iterator before any write, so a server
            // that resolves LATEST lazily still starts before the first record.
            primed = true;
            ready.wait().await;
            continue;
        }
        if got == 0 {
            out.empty += 1;
            if poll.is_zero() {
                tokio::task::yield_now().await;
            } else {
                // Blocking on purpose: this thread runs only this consumer
                // (and its idle connection), and thread::sleep has
                // microsecond resolution where tokio's timer has 1 ms.
                std::thread::sleep(poll);
            }
        }
    }
    Ok(out)
}

/// A push consumer: one SubscribeToShard from LATEST, records timed as their events arrive.
/// Ready (the producer may start) once the initial-response event is in.
async fn push_reader(
    ctx: Ctx,
    shard: String,
    (consumer, copy): (String, usize),
    shared: Arc<Shared>,
    ready: Arc<Barrier>,
    hard_stop: Instant,
) -> Result<ReaderOut> {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    use http_body_util::BodyExt as _;

    let mut out = ReaderOut::default();
    let mut conn = ctx.conn();
    let (status, mut body) = match conn
        .call_streaming(
            Op::SubscribeToShard,
            proto::subscribe_body(&consumer, &shard),
        )
        .await
    {
        Ok((200, body)) => (200, body),
        Ok((status, _)) => {
            ready.wait().await;
            anyhow::bail!("SubscribeToShard {shard}: HTTP {status}");
        }
        Err(e) => {
            ready.wait().await;
            return Err(e.into());
        }
    };
    debug_assert_eq!(status, 200);
    let mut decoder = MessageFrameDecoder::new();
    let mut buf = bytes::BytesMut::new();
    let mut primed = false;
    while !(primed
        && (shared.all_received() || shared.copy_received(copy) || Instant::now() >= hard_stop))
    {
        let left = hard_stop.saturating_duration_since(Instant::now());
        let frame = match tokio::time::timeout(left, body.frame()).await {
            Ok(Some(Ok(f))) => f,
            Ok(Some(Err(e))) => {
                *out.errors.entry(format!("transport: {e}")).or_default() += 1;
                break;
            }
            // The subscription ended (its session is over) or the stop time came.
            Ok(None) | Err(_) => break,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        let now_us = micros_since(shared.base);
        loop {
            let message = match decoder.decode_frame(&mut buf) {
                Ok(DecodedFrame::Complete(m)) => m,
                Ok(DecodedFrame::Incomplete) => break,
                Err(e) => anyhow::bail!("bad event-stream frame: {e}"),
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
                Some("initial-response") if !primed => {
                    primed = true;
                    ready.wait().await;
                }
                Some("SubscribeToShardEvent") => {
                    if !primed {
                        // Some servers (kinesis-mock) send no initial-response: the first event
                        // says the subscription is in place just as well.
                        primed = true;
                        ready.wait().await;
                    }
                    out.calls += 1;
                    let e: proto::SubscribeEvent = serde_json::from_slice(message.payload())?;
                    if e.records.is_empty() {
                        out.empty += 1;
                    }
                    for rec in &e.records {
                        if let Some((idx, sent)) =
                            proto::b64_decode(&rec.data).and_then(|d| decode_header(&d, shared.tag))
                        {
                            out.hist.record_us(now_us.saturating_sub(sent));
                            out.indices.push(idx);
                            shared.received.fetch_add(1, Ordering::AcqRel);
                            if let Some(n) = shared.per_copy.get(copy) {
                                n.fetch_add(1, Ordering::AcqRel);
                            }
                        }
                    }
                }
                _ => {
                    let kind = header(":exception-type").unwrap_or_else(|| "unknown event".into());
                    *out.errors.entry(kind).or_default() += 1;
                }
            }
        }
    }
    if !primed {
        ready.wait().await;
    }
    Ok(out)
}

/// Runs one consumer on a thread of its own; its result arrives on the
/// returned channel (dropped unsent if the thread panics).
fn spawn_reader(
    ctx: Ctx,
    shard: String,
    consumer: Option<(String, usize)>,
    shared: Arc<Shared>,
    ready: Arc<Barrier>,
    poll: Duration,
    hard_stop: Instant,
) -> Result<oneshot::Receiver<Result<ReaderOut>>> {
    let (tx, rx) = oneshot::channel();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("e2e-{shard}"))
        .spawn(move || {
            let out = match consumer {
                Some(c) => rt.block_on(push_reader(ctx, shard, c, shared, ready, hard_stop)),
                None => rt.block_on(reader(ctx, shard, shared, ready, poll, hard_stop)),
            };
            let _ = tx.send(out);
        })?;
    Ok(rx)
}

struct ProducerOut {
    sent: u64,
    hist: Latency,
    errors: BTreeMap<String, u64>,
}

async fn producer(ctx: Ctx, opts: E2eOpts, shared: Arc<Shared>) -> ProducerOut {
    let mut conn = ctx.conn();
    // StdRng (unlike thread_rng) is Send, so the producer can be spawned.
    let mut rng = StdRng::from_entropy();
    let mut filler = vec![0u8; opts.record_size.max(HEADER_LEN)];
    rng.fill_bytes(&mut filler);
    let keys: Vec<String> = (0..opts.key_spread.max(1))
        .map(|i| format!("pk-{i}"))
        .collect();
    let mut out = ProducerOut {
        sent: 0,
        hist: Latency::new(),
        errors: BTreeMap::new(),
    };
    let start = Instant::now();
    let end = start + opts.duration;
    let mut tick = tokio::time::interval(opts.interval.max(Duration::from_micros(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < end {
        tick.tick().await;
        let due = (opts.rate as f64 * start.elapsed().as_secs_f64()) as u64;
        let n = due
            .saturating_sub(out.sent)
            .min(opts.max_batch.max(1) as u64);
        if n == 0 {
            continue;
        }
        let sent_us = micros_since(shared.base);
        let records: Vec<(&str, Vec<u8>)> = (0..n)
            .map(|i| {
                let mut data = filler.clone();
                encode_header(&mut data, shared.tag, out.sent + i, sent_us);
                let key = keys
                    .get(rng.gen_range(0..keys.len()))
                    .map_or("pk", |k| k.as_str());
                (key, data)
            })
            .collect();
        out.sent += n;
        let t0 = Instant::now();
        match conn
            .call(
                Op::PutRecords,
                proto::put_records_body(&ctx.stream, &records),
            )
            .await
        {
            Ok(r) if r.is_success() => {
                out.hist.record(t0.elapsed());
                match serde_json::from_slice::<proto::PutRecordsResponse>(&r.body) {
                    Ok(p) => {
                        let ok = p
                            .records
                            .iter()
                            .filter(|e| e.sequence_number.is_some() && e.error_code.is_none())
                            .count() as u64;
                        shared.acked.fetch_add(ok, Ordering::AcqRel);
                        for e in p.records {
                            if let Some(code) = e.error_code {
                                *out.errors.entry(code).or_default() += 1;
                            }
                        }
                    }
                    Err(_) => *out.errors.entry("BadResponseBody".into()).or_default() += 1,
                }
            }
            Ok(r) => {
                *out.errors
                    .entry(r.error_type().unwrap_or_default())
                    .or_default() += 1
            }
            Err(e) => *out.errors.entry(format!("transport: {e}")).or_default() += 1,
        }
    }
    shared.producer_done.store(true, Ordering::Release);
    out
}

pub async fn run(ctx: &Ctx, shards: &[String], opts: &E2eOpts) -> Result<E2eReport> {
    let consumers = if opts.push_consumers > 0 {
        crate::admin::ensure_consumers(ctx, opts.push_consumers, Duration::from_secs(60)).await?
    } else {
        Vec::new()
    };
    // (shard, push consumer or none, which consumer's copy of the records it reads)
    let plan: Vec<(String, Option<String>, usize)> = if consumers.is_empty() {
        shards.iter().map(|s| (s.clone(), None, 0)).collect()
    } else {
        consumers
            .iter()
            .enumerate()
            .flat_map(|(i, c)| shards.iter().map(move |s| (s.clone(), Some(c.clone()), i)))
            .collect()
    };
    let copies = consumers.len().max(1);
    let shared = Arc::new(Shared {
        base: Instant::now(),
        tag: rand::thread_rng().next_u64(),
        acked: AtomicU64::new(0),
        received: AtomicU64::new(0),
        producer_done: AtomicBool::new(false),
        copies: copies as u64,
        per_copy: (0..copies).map(|_| AtomicU64::new(0)).collect(),
    });
    let ready = Arc::new(Barrier::new(plan.len() + 1));
    // Readers stop at the latest after the producer's run plus the drain time
    // (plus slack for the priming round-trips).
    let hard_stop = Instant::now() + opts.duration + opts.drain + Duration::from_secs(5);
    let readers: Vec<_> = plan
        .iter()
        .map(|(s, c, copy)| {
            spawn_reader(
                ctx.clone(),
                s.clone(),
                c.clone().map(|c| (c, *copy)),
                shared.clone(),
                ready.clone(),
                opts.poll,
                hard_stop,
            )
            .map(|r| (*copy, r))
        })
        .collect::<Result<_>>()?;
    ready.wait().await;
    let server = procstat::maybe_start(&ctx.server_pids);
    let client = procstat::Sampler::start(vec!["self".into()]);
    let host = procstat::HostSampler::start();
    let started = Instant::now();
    let prod = tokio::spawn(producer(ctx.clone(), opts.clone(), shared.clone())).await?;
    let produced_for = started.elapsed().as_secs_f64();
    let mut report = E2eReport {
        target_rate: opts.rate,
        duration_s: opts.duration.as_secs_f64(),
        poll_ms: opts.poll.as_secs_f64() * 1000.0,
        consumers: plan.len(),
        push_consumers: consumers.len(),
        sent: prod.sent,
        acked: shared.acked.load(Ordering::Acquire),
        put_latency: prod.hist.summary(),
        errors: prod.errors,
        ..Default::default()
    };
    let drain_deadline = tokio::time::Instant::now() + opts.drain;
    let mut hist = Latency::new();
    // Each consumer's copy is checked on its own: every acknowledged record once per copy.
    let mut seen: Vec<HashSet<u64>> = vec![HashSet::new(); copies];
    for (copy, r) in readers {
        let out = match tokio::time::timeout_at(drain_deadline + Duration::from_secs(5), r).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => anyhow::bail!("e2e reader thread died"),
            Err(_) => anyhow::bail!("e2e reader did not stop"),
        };
        hist.merge(&out.hist);
        report.get_calls += out.calls;
        report.empty_get_calls += out.empty;
        for idx in out.indices {
            if !seen.get_mut(copy).is_some_and(|s| s.insert(idx)) {
                report.duplicates += 1;
            }
        }
        for (k, v) in out.errors {
            *report.errors.entry(k).or_default() += v;
        }
    }
    report.server = procstat::maybe_finish(server).await;
    report.client = Some(client.finish().await);
    report.host = host.finish();
    report.received = seen.iter().map(|s| s.len() as u64).sum();
    report.lost = (report.acked * copies as u64).saturating_sub(report.received);
    report.latency = hist.summary();
    if produced_for > 0.0 {
        report.achieved_rate = report.acked as f64 / produced_for;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let mut buf = vec![0xAAu8; 40];
        encode_header(&mut buf, 0xDEAD_BEEF, 42, 1_234_567);
        assert_eq!(decode_header(&buf, 0xDEAD_BEEF), Some((42, 1_234_567)));
        assert_eq!(buf[HEADER_LEN], 0xAA, "filler after the header is kept");
    }

    #[test]
    fn a_push_consumer_with_its_whole_copy_is_done_before_the_others() {
        let shared = Shared {
            base: Instant::now(),
            tag: 1,
            acked: AtomicU64::new(3),
            received: AtomicU64::new(4),
            producer_done: AtomicBool::new(false),
            copies: 2,
            per_copy: vec![AtomicU64::new(3), AtomicU64::new(1)],
        };
        // Not while the producer may still acknowledge more.
        assert!(!shared.copy_received(0));
        shared.producer_done.store(true, Ordering::Release);
        assert!(shared.copy_received(0));
        assert!(!shared.copy_received(1));
        assert!(!shared.copy_received(2), "no such copy");
        assert!(!shared.all_received());
        shared.per_copy[1].store(3, Ordering::Release);
        shared.received.store(6, Ordering::Release);
        assert!(shared.copy_received(1) && shared.all_received());
    }

    #[test]
    fn foreign_or_short_payloads_are_ignored() {
        let mut buf = vec![0u8; 24];
        encode_header(&mut buf, 1, 2, 3);
        assert_eq!(decode_header(&buf, 9), None);
        assert_eq!(decode_header(&buf[..20], 1), None);
        assert_eq!(decode_header(b"", 1), None);
    }
}
