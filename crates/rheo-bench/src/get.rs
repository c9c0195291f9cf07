//! Catch-up read: one reader per shard from TRIM_HORIZON, GetRecords back to
//! back, until every expected record is read (or the shard stays idle).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::client::{Conn, Op};
use crate::ctx::Ctx;
use crate::hist::{Latency, LatencySummary};
use crate::procstat::{self, Usage};
use crate::proto;
use crate::verify::SeqLog;

#[derive(Debug, Clone)]
pub struct GetOpts {
    pub limit: u32,
    /// Upper bound for the whole phase.
    pub duration: Duration,
    /// A shard with no new record for this long (and caught up) is done.
    pub idle: Duration,
    /// Records to expect per shard; a shard stops as soon as it has them.
    pub expected: Option<HashMap<String, u64>>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct GetReport {
    pub shards: usize,
    pub records: u64,
    pub bytes: u64,
    /// From the phase start to the arrival of the last record.
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    pub calls: u64,
    pub empty_calls: u64,
    pub throttled: u64,
    pub errors: BTreeMap<String, u64>,
    pub call_latency: LatencySummary,
    pub server: Option<Usage>,
    pub client: Option<Usage>,
}

struct ShardOut {
    read: SeqLog,
    bytes: u64,
    calls: u64,
    empty_calls: u64,
    throttled: u64,
    errors: BTreeMap<String, u64>,
    hist: Latency,
    last_record_at: Option<Instant>,
}

async fn iterator(conn: &mut Conn, ctx: &Ctx, shard: &str, after: Option<&str>) -> Result<String> {
    let (kind, seq) = match after {
        Some(s) => ("AFTER_SEQUENCE_NUMBER", Some(s)),
        None => ("TRIM_HORIZON", None),
    };
    let resp = conn
        .call(
            Op::GetShardIterator,
            proto::get_shard_iterator_body(&ctx.stream, shard, kind, seq),
        )
        .await?;
    if !resp.is_success() {
        anyhow::bail!(
            "GetShardIterator {shard}: HTTP {} {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        );
    }
    let it: proto::GetShardIteratorResponse = serde_json::from_slice(&resp.body)?;
    Ok(it.shard_iterator)
}

async fn read_shard(ctx: Ctx, shard: String, opts: GetOpts, deadline: Instant) -> Result<ShardOut> {
    let mut conn = ctx.conn();
    let expected = opts
        .expected
        .as_ref()
        .map(|m| m.get(&shard).copied().unwrap_or(0));
    let mut out = ShardOut {
        read: SeqLog::default(),
        bytes: 0,
        calls: 0,
        empty_calls: 0,
        throttled: 0,
        errors: BTreeMap::new(),
        hist: Latency::new(),
        last_record_at: None,
    };
    let mut count = 0u64;
    let mut last_seq: Option<String> = None;
    let mut it = iterator(&mut conn, &ctx, &shard, None).await?;
    let mut last_progress = Instant::now();
    let mut consecutive_errors = 0u32;
    loop {
        if expected.is_some_and(|e| count >= e) || Instant::now() >= deadline {
            break;
        }
        let t0 = Instant::now();
        let resp = match conn
            .call(Op::GetRecords, proto::get_records_body(&it, opts.limit))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                *out.errors.entry(format!("transport: {e}")).or_default() += 1;
                consecutive_errors += 1;
                if consecutive_errors > 20 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let now = Instant::now();
        out.calls += 1;
        if !resp.is_success() {
            let kind = resp.error_type().unwrap_or_default();
            consecutive_errors += 1;
            match kind.as_str() {
                "ProvisionedThroughputExceededException" => {
                    out.throttled += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                "ExpiredIteratorException" => {
                    it = iterator(&mut conn, &ctx, &shard, last_seq.as_deref()).await?;
                }
                _ => {
                    *out.errors.entry(kind).or_default() += 1;
                    if consecutive_errors > 20 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            continue;
        }
        consecutive_errors = 0;
        out.hist.record(now - t0);
        let r: proto::GetRecordsResponse = serde_json::from_slice(&resp.body)?;
        if r.records.is_empty() {
            out.empty_calls += 1;
        } else {
            last_progress = now;
            out.last_record_at = Some(now);
        }
        for rec in r.records {
            out.bytes += proto::b64_decoded_len(&rec.data) as u64;
            // Only forward progress counts toward the expected total, so a
            // server that repeats records cannot end the read early and turn
            // its duplicates into "missing" records.
            let forward = last_seq.as_deref().is_none_or(|l| {
                crate::verify::cmp_seq(&rec.sequence_number, l) == std::cmp::Ordering::Greater
            });
            if forward {
                count += 1;
                last_seq = Some(rec.sequence_number.clone());
            }
            out.read.push(&shard, rec.sequence_number);
        }
        match r.next_shard_iterator {
            Some(next) => it = next,
            None => break, // closed shard, fully read
        }
        let caught_up = r.millis_behind_latest.unwrap_or(0) == 0;
        if caught_up && now - last_progress >= opts.idle {
            break;
        }
        if out.last_record_at != Some(now) {
            // Nothing new: do not spin on an idle shard.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(out)
}

/// Reads every shard from the start; returns the report and what was read.
pub async fn run(ctx: &Ctx, shards: &[String], opts: &GetOpts) -> Result<(GetReport, SeqLog)> {
    let server = procstat::maybe_start(&ctx.server_pids);
    let client = procstat::Sampler::start(vec!["self".into()]);
    let start = Instant::now();
    let deadline = start + opts.duration;
    let handles: Vec<_> = shards
        .iter()
        .map(|s| tokio::spawn(read_shard(ctx.clone(), s.clone(), opts.clone(), deadline)))
        .collect();
    let mut report = GetReport {
        shards: shards.len(),
        ..Default::default()
    };
    let mut read = SeqLog::default();
    let mut hist = Latency::new();
    let mut last: Option<Instant> = None;
    for h in handles {
        let o = h.await??;
        report.bytes += o.bytes;
        report.calls += o.calls;
        report.empty_calls += o.empty_calls;
        report.throttled += o.throttled;
        for (k, v) in o.errors {
            *report.errors.entry(k).or_default() += v;
        }
        hist.merge(&o.hist);
        last = match (last, o.last_record_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        read.extend(o.read);
    }
    report.server = procstat::maybe_finish(server).await;
    report.client = Some(client.finish().await);
    report.records = read.len() as u64;
    report.call_latency = hist.summary();
    let elapsed = last.map_or(0.0, |l| (l - start).as_secs_f64());
    report.elapsed_s = elapsed;
    if elapsed > 0.0 {
        report.records_per_sec = report.records as f64 / elapsed;
        report.mb_per_sec = report.bytes as f64 / 1e6 / elapsed;
    }
    Ok((report, read))
}
