//! `rheo-bench`: measures any endpoint speaking the Kinesis Data Streams API
//! (Rheo, kinesalite, kinesis-mock, ...) with one lean client, so peers can be
//! compared on the same machine, and verifies that what was acknowledged is
//! read back exactly once and in order.

// Tests may unwrap (the project rule); production code may not.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod admin;
mod client;
mod ctx;
mod disk;
mod e2e;
#[cfg(test)]
mod fake;
mod fanout;
mod fanout_table;
mod get;
mod hist;
mod procstat;
mod proto;
mod put;
mod readback;
mod scaling;
mod summary;
mod targets;
mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::client::{AuthConfig, Endpoint};
use crate::ctx::Ctx;

#[derive(Parser, Debug)]
#[command(
    name = "rheo-bench",
    version,
    about = "Benchmark for Kinesis-API endpoints"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Server URL (plain HTTP).
    #[arg(long, global = true, default_value = "http://127.0.0.1:4567")]
    endpoint: String,
    /// Stream name (default: rheo-bench, or a unique name for `all`).
    #[arg(long, global = true)]
    stream: Option<String>,
    /// Print one JSON object with all figures as the last stdout line.
    #[arg(long, global = true)]
    json: bool,
    /// Server process id(s) to sample CPU and RSS from (comma-separated).
    #[arg(long, global = true, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Client runtime threads (1 = current-thread runtime).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    /// Per-request timeout in milliseconds.
    #[arg(long, global = true, default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// A few seconds in total with small counts (for CI); non-zero exit on
    /// verification failure.
    #[arg(long, global = true)]
    smoke: bool,
    /// Name of the server in the Markdown row / JSON.
    #[arg(long, global = true, default_value = "server")]
    label: String,
    /// Access key in the Authorization header.
    #[arg(long, global = true, default_value = "test")]
    access_key: String,
    /// Region in the Authorization header.
    #[arg(long, global = true, default_value = "us-east-1")]
    region: String,
    /// Secret access key: sign every request for real (SigV4 over the exact body, as the SDKs
    /// do) instead of sending a well-formed fake signature.
    #[arg(
        long,
        global = true,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    /// Session token of temporary credentials, sent as `x-amz-security-token` and signed.
    #[arg(long, global = true, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
    /// Start server-side encryption (StartStreamEncryption) on the streams `setup` and `all`
    /// create, with this KMS key (default: the AWS-managed alias/aws/kinesis).
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "alias/aws/kinesis")]
    encrypt: Option<String>,
}

#[derive(Args, Debug, Clone)]
struct SetupArgs {
    #[arg(long, default_value_t = 4)]
    shards: u32,
}

#[derive(Args, Debug, Clone)]
struct PutArgs {
    /// Concurrent connections, each with one PutRecords in flight.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Records per PutRecords (1..=500).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Payload bytes per record.
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Distinct partition keys to draw from.
    #[arg(long, default_value_t = 1024)]
    key_spread: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Pause (ms) of a connection after a throttled answer.
    #[arg(long, default_value_t = 20)]
    backoff_ms: u64,
    /// Distinct pre-built request bodies.
    #[arg(long, default_value_t = 8)]
    bodies: usize,
}

#[derive(Args, Debug, Clone)]
struct GetArgs {
    /// GetRecords Limit.
    #[arg(long, default_value_t = 10_000)]
    limit: u32,
    /// Upper bound (s) of the catch-up read.
    #[arg(long, default_value_t = 120.0)]
    get_duration: f64,
    /// A caught-up shard with nothing new for this long (ms) is done.
    #[arg(long, default_value_t = 3000)]
    idle_ms: u64,
}

#[derive(Args, Debug, Clone)]
struct E2eArgs {
    /// Records per second written during the e2e phase.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of e2e load.
    #[arg(long, default_value_t = 10.0)]
    e2e_duration: f64,
    /// Producer tick (ms); each tick sends the records due in one request.
    #[arg(long, default_value_t = 10)]
    interval_ms: u64,
    /// Largest PutRecords batch of the e2e producer (1 = single records).
    #[arg(long, default_value_t = 500)]
    max_batch: usize,
    /// Consumer pause (µs) after an empty GetRecords; 0 = poll again at once.
    ///
    /// Each consumer is a thread of its own that sleeps this long (with
    /// thread::sleep, µs resolution) when a poll returns nothing, like a
    /// KCL-style worker tuned for latency (its idle time between reads cut
    /// down; AWS itself allows only 5 GetRecords/s per shard, emulators do
    /// not limit it). The default, 500 µs, adds ~0.25 ms on average to the
    /// latency and costs at most ~2,000 empty polls/s per shard; keep it the
    /// same for every server compared.
    #[arg(long, default_value_t = 500)]
    poll_us: u64,
    /// Payload bytes per e2e record (at least 24).
    #[arg(long, default_value_t = 1024)]
    e2e_record_size: usize,
    /// Enhanced fan-out instead of polling: this many registered consumers, each subscribed
    /// with SubscribeToShard (from LATEST) to every shard; latency is put to push.
    #[arg(long, default_value_t = 0)]
    push_consumers: usize,
}

#[derive(Args, Debug, Clone)]
struct FanoutArgs {
    /// Records per second written during each latency sub-phase.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds of load per latency sub-phase.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Producer tick (ms): one PutRecords per tick, so at 1 ms and 1,000 records/s each
    /// request carries one record (the disk floor's "one durable write").
    #[arg(long, default_value_t = 1)]
    interval_ms: u64,
    /// Largest request when the producer is behind its schedule.
    #[arg(long, default_value_t = 10)]
    max_batch: usize,
    /// Payload bytes per record (at least 24).
    #[arg(long, default_value_t = 1024)]
    record_size: usize,
    /// Push sub-phases: registered consumers in each (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 5, 20])]
    consumers: Vec<usize>,
    /// GetRecords consumer pause (µs) after an empty answer (as in `e2e`).
    #[arg(long, default_value_t = 500)]
    poll_us: u64,
    /// Records written for the catch-up reads (0 = no catch-up).
    #[arg(long, default_value_t = 200_000)]
    catchup_records: u64,
    /// Writer connections for the catch-up records.
    #[arg(long, default_value_t = 4)]
    catchup_connections: usize,
    /// Upper bound (s) of each catch-up read.
    #[arg(long, default_value_t = 120.0)]
    catchup_timeout: f64,
    /// Catch-up through SubscribeToShard before GetRecords (default: after).
    #[arg(long)]
    catchup_subscribe_first: bool,
    /// Keep the streams afterwards.
    #[arg(long)]
    keep: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// CreateStream (existing is fine) and wait until ACTIVE.
    Setup(SetupArgs),
    /// DeleteStream and wait until it is gone.
    Teardown,
    /// PutRecords load: closed loop, or paced with `--rate`.
    Put {
        #[command(flatten)]
        put: PutArgs,
        /// Offered records/s over all connections (0 = closed loop). Each
        /// connection sends on a fixed schedule; a late request goes out at
        /// once, and latency is reported from the scheduled send as well as
        /// from the actual send.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
    },
    /// Catch-up read of every shard from TRIM_HORIZON.
    Get {
        #[command(flatten)]
        get: GetArgs,
        /// Records expected in total; exit non-zero if a different count is read.
        #[arg(long)]
        expect: Option<u64>,
    },
    /// Fixed-rate writes with per-shard LATEST consumers: end-to-end latency.
    E2e(E2eArgs),
    /// setup + put + get (verified) + e2e + teardown.
    All {
        #[command(flatten)]
        setup: SetupArgs,
        #[command(flatten)]
        put: PutArgs,
        #[command(flatten)]
        get: GetArgs,
        #[command(flatten)]
        e2e: E2eArgs,
        /// Keep the stream afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Fan-out on a stream of one shard: put-to-push latency with N SubscribeToShard
    /// consumers next to GetRecords put-to-get at the same pace, then a catch-up read from
    /// TRIM_HORIZON through GetRecords and through SubscribeToShard.
    Fanout(FanoutArgs),
    /// Sequential writes with fdatasync after each chunk: synced disk bandwidth.
    DiskBaseline {
        /// Directory to write the scratch file in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Bytes per chunk (one fdatasync each).
        #[arg(long, default_value_t = 1 << 20)]
        chunk: usize,
        /// Total megabytes (10^6 B) to write at most.
        #[arg(long, default_value_t = 256)]
        total_mb: u64,
        /// Seconds at most.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Start one chunk every this many ms (0 = back to back): the latency
        /// of one small durable write at a given request rate.
        #[arg(long, default_value_t = 0)]
        interval_ms: u64,
    },
    /// Markdown comparison from `all --json` outputs: medians per server and
    /// ratios to baselines. Each `--run LABEL=FILE` names a file of JSON lines.
    Compare {
        #[arg(long = "run", required = true)]
        runs: Vec<String>,
        /// Servers to give ratios to (each one present gets a table).
        #[arg(long = "baseline", default_values_t = ["kinesalite".to_string(), "ferrokinesis".to_string()])]
        baselines: Vec<String>,
        /// `SERVER:WORKLOAD=FILE` of `put --json` lines: extra workloads
        /// (`half-rate`, `100B` and `256KiB` feed the targets).
        #[arg(long = "put-run")]
        put_runs: Vec<String>,
        /// File of `disk-baseline --json` lines at chunk sizes matching the
        /// 256KiB workload (its record and its request size); the 50% target
        /// is checked against the fastest chunk size's median.
        #[arg(long)]
        disk: Option<PathBuf>,
        /// Check the targets for this server (against `kinesalite`
        /// and `ferrokinesis` of the same run).
        #[arg(long)]
        targets: Option<String>,
        /// Write the extra-workload table here instead of printing it.
        #[arg(long)]
        extra_out: Option<PathBuf>,
        /// Write the targets table here instead of printing it.
        #[arg(long)]
        targets_out: Option<PathBuf>,
        /// `LABEL=FILE` of `fanout --json` lines: the fan-out tables (and targets).
        #[arg(long = "fanout")]
        fanout: Vec<String>,
        /// File of `disk-baseline --json` lines: the durable floor of the fan-out targets
        /// (one record's write + fdatasync at the producer's pace).
        #[arg(long)]
        fanout_floor: Option<PathBuf>,
        /// Write the fan-out tables here instead of printing them.
        #[arg(long)]
        fanout_out: Option<PathBuf>,
    },
    /// Median of the number at a JSON pointer (e.g. `/put/records_per_sec`)
    /// over the JSON lines of a file.
    Median {
        #[arg(long)]
        pointer: String,
        file: PathBuf,
    },
    /// Markdown table of a scaling sweep from `put --json` outputs (one JSON
    /// line per point, in the files given), with a "limited by" column.
    ScalingTable {
        /// Files of `put --json` lines; other lines are ignored.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Cores shared by server and client (default: this machine's).
        #[arg(long)]
        cores: Option<f64>,
        /// Runtime threads the client ran with (`--threads` of the sweep).
        #[arg(long, default_value_t = 1.0)]
        client_threads: f64,
        /// Synced disk bandwidth in MB/s (from `disk-baseline`), if measured.
        #[arg(long)]
        disk_mbps: Option<f64>,
        /// Also write the table to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() { s.max(0.0) } else { 0.0 })
}

impl PutArgs {
    fn opts(&self, smoke: bool) -> put::PutOpts {
        let mut o = put::PutOpts {
            connections: self.connections.max(1),
            batch: self.batch.clamp(1, 500),
            record_size: self.record_size.max(1),
            key_spread: self.key_spread.max(1),
            duration: secs(self.duration),
            warmup: secs(self.warmup),
            backoff: Duration::from_millis(self.backoff_ms),
            bodies: self.bodies.max(1),
            rate: 0.0,
        };
        if smoke {
            o.connections = o.connections.min(2);
            o.batch = o.batch.min(50);
            o.duration = o.duration.min(Duration::from_secs(2));
            o.warmup = Duration::ZERO;
            o.bodies = o.bodies.min(4);
        }
        o
    }
}

impl GetArgs {
    fn opts(&self, smoke: bool, expected: Option<HashMap<String, u64>>) -> get::GetOpts {
        let mut o = get::GetOpts {
            limit: self.limit.max(1),
            duration: secs(self.get_duration),
            idle: Duration::from_millis(self.idle_ms),
            expected,
        };
        if smoke {
            o.duration = o.duration.min(Duration::from_secs(30));
            o.idle = o.idle.min(Duration::from_secs(2));
        }
        o
    }
}

impl E2eArgs {
    fn opts(&self, smoke: bool, key_spread: usize) -> e2e::E2eOpts {
        let mut o = e2e::E2eOpts {
            rate: self.rate.max(1),
            duration: secs(self.e2e_duration),
            interval: Duration::from_millis(self.interval_ms.max(1)),
            max_batch: self.max_batch.clamp(1, 500),
            record_size: self.e2e_record_size.max(e2e::HEADER_LEN),
            key_spread: key_spread.max(1),
            poll: Duration::from_micros(self.poll_us),
            drain: Duration::from_secs(5),
            push_consumers: self.push_consumers,
        };
        if smoke {
            o.rate = o.rate.min(200);
            o.duration = o.duration.min(Duration::from_secs(2));
        }
        o
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = if cli.global.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.global.threads)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn emit<T: Serialize>(json: bool, value: &T) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    }
    Ok(())
}

fn make_ctx(g: &Global, default_stream: String) -> Result<Ctx> {
    Ok(Ctx {
        endpoint: Arc::new(Endpoint::parse(&g.endpoint)?),
        auth: Arc::new(AuthConfig {
            access_key: g.access_key.clone(),
            region: g.region.clone(),
            secret_key: g.secret_key.clone().filter(|s| !s.is_empty()),
            session_token: g.session_token.clone().filter(|s| !s.is_empty()),
        }),
        timeout: Duration::from_millis(g.request_timeout_ms.max(1)),
        stream: g.stream.clone().unwrap_or(default_stream),
        server_pids: g.server_pid.iter().map(u32::to_string).collect(),
        encrypt: g.encrypt.clone(),
    })
}

/// Returns Ok(false) when a verification failed.
async fn run(cli: Cli) -> Result<bool> {
    let g = cli.global;
    let wait = Duration::from_secs(60);
    match cli.cmd {
        Cmd::Setup(a) => {
            let ctx = make_ctx(&g, "rheo-bench".into())?;
            let shards = admin::setup(&ctx, a.shards, wait).await?;
            println!(
                "stream {} ACTIVE with {} open shards",
                ctx.stream,
                shards.len()
            );
            emit(
                g.json,
                &serde_json::json!({"stream": ctx.stream, "shards": shards}),
            )?;
            Ok(true)
        }
        Cmd::Teardown => {
            let ctx = make_ctx(&g, "rheo-bench".into())?;
            admin::teardown(&ctx, wait).await?;
            println!("stream {} deleted", ctx.stream);
            Ok(true)
        }
        Cmd::Put { put: a, rate } => {
            let ctx = make_ctx(&g, "rheo-bench".into())?;
            let shards = admin::open_shards(&ctx).await.ok().map(|s| s.len());
            let mut opts = a.opts(g.smoke);
            opts.rate = rate;
            let (mut report, _) = put::run(&ctx, &opts).await?;
            report.stream_shards = shards;
            report.label = Some(g.label.clone());
            print_put(&report);
            emit(g.json, &report)?;
            Ok(report.duplicate_acks == 0)
        }
        Cmd::Get { get: a, expect } => {
            let ctx = make_ctx(&g, "rheo-bench".into())?;
            let shards = admin::open_shards(&ctx).await?;
            let (report, read) = get::run(&ctx, &shards, &a.opts(g.smoke, None)).await?;
            let v = verify::verify_read_only(&read, expect);
            print_get(&report, &v);
            emit(
                g.json,
                &serde_json::json!({"get": report, "verification": v}),
            )?;
            Ok(v.ok)
        }
        Cmd::E2e(a) => {
            let ctx = make_ctx(&g, "rheo-bench".into())?;
            let shards = admin::open_shards(&ctx).await?;
            let report = e2e::run(&ctx, &shards, &a.opts(g.smoke, 1024)).await?;
            print_e2e(&report);
            emit(g.json, &report)?;
            Ok(report.lost == 0 && report.duplicates == 0)
        }
        Cmd::All {
            setup,
            put: pa,
            get: ga,
            e2e: ea,
            keep,
        } => {
            let unique = format!(
                "rheo-bench-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            );
            let ctx = make_ctx(&g, unique)?;
            let shard_count = if g.smoke {
                setup.shards.min(2)
            } else {
                setup.shards
            };
            let shards = admin::setup(&ctx, shard_count, wait).await?;
            eprintln!("# stream {} ACTIVE, {} shards", ctx.stream, shards.len());
            let popts = pa.opts(g.smoke);
            let (mut put_report, acks) = put::run(&ctx, &popts).await?;
            put_report.stream_shards = Some(shards.len());
            print_put(&put_report);
            let expected: HashMap<String, u64> = acks
                .by_shard
                .iter()
                .map(|(k, v)| (k.clone(), v.len() as u64))
                .collect();
            let (get_report, read) =
                get::run(&ctx, &shards, &ga.opts(g.smoke, Some(expected))).await?;
            let verification = verify::verify(&acks, &read, put_report.unknown_outcome_records);
            drop((acks, read));
            print_get(&get_report, &verification);
            let e2e_report = e2e::run(&ctx, &shards, &ea.opts(g.smoke, popts.key_spread)).await?;
            print_e2e(&e2e_report);
            if !keep {
                let gone = if ea.push_consumers > 0 {
                    admin::teardown_with_consumers(&ctx, wait).await
                } else {
                    admin::teardown(&ctx, wait).await
                };
                if let Err(e) = gone {
                    tracing::warn!("teardown failed: {e:#}");
                }
            }
            let ok = verification.ok
                && e2e_report.lost == 0
                && e2e_report.duplicates == 0
                && put_report.acked_total > 0;
            let report = summary::AllReport {
                label: g.label.clone(),
                endpoint: g.endpoint.clone(),
                stream: ctx.stream.clone(),
                shards: shards.len(),
                put: put_report,
                get: get_report,
                verification,
                e2e: e2e_report,
                ok,
            };
            let json_line = serde_json::to_string(&report)?;
            let row = summary::Row::from_json(&json_line).context("re-reading the report")?;
            println!("{}", summary::markdown_header());
            println!("{}", summary::markdown_row(&g.label, &row, 1));
            if g.json {
                println!("{json_line}");
            }
            if !ok {
                eprintln!("VERIFICATION FAILED");
            }
            Ok(ok)
        }
        Cmd::Fanout(a) => {
            let unique = format!(
                "rheo-bench-fanout-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            );
            let ctx = make_ctx(&g, unique)?;
            let mut opts = fanout::FanoutOpts {
                rate: a.rate.max(1),
                duration: secs(a.duration),
                interval: Duration::from_millis(a.interval_ms.max(1)),
                max_batch: a.max_batch.clamp(1, 500),
                record_size: a.record_size.max(e2e::HEADER_LEN),
                consumers: a.consumers.clone(),
                poll: Duration::from_micros(a.poll_us),
                catchup_records: a.catchup_records,
                catchup_connections: a.catchup_connections.max(1),
                catchup_timeout: secs(a.catchup_timeout),
                subscribe_first: a.catchup_subscribe_first,
                keep: a.keep,
            };
            if g.smoke {
                opts.rate = opts.rate.min(200);
                opts.duration = opts.duration.min(Duration::from_secs(1));
                // Two push phases (1 and 2 consumers) show the per-consumer copies counted.
                opts.consumers.truncate(2);
                opts.consumers.iter_mut().for_each(|n| *n = (*n).min(2));
                opts.catchup_records = opts.catchup_records.min(5_000);
                opts.catchup_timeout = opts.catchup_timeout.min(Duration::from_secs(30));
            }
            let report = fanout::run(&ctx, &g.label, &opts).await?;
            emit(g.json, &report)?;
            let ok = report.ok();
            if !ok {
                eprintln!("FAN-OUT: a sub-phase failed or did not verify (see above)");
            }
            Ok(ok)
        }
        Cmd::DiskBaseline {
            dir,
            chunk,
            total_mb,
            duration,
            interval_ms,
        } => {
            let r = tokio::task::spawn_blocking(move || {
                disk::run(
                    &dir,
                    chunk,
                    total_mb.saturating_mul(1_000_000),
                    secs(duration),
                    Duration::from_millis(interval_ms),
                )
            })
            .await??;
            println!(
                "disk-baseline {}: {} chunks of {} B in {:.2} s: {:.1} MB/s, {:.0} syncs/s, write+fdatasync {}",
                r.path, r.chunks, r.chunk_bytes, r.elapsed_s, r.mb_per_sec, r.syncs_per_sec, r.sync_latency
            );
            emit(g.json, &r)?;
            Ok(true)
        }
        Cmd::Compare {
            runs,
            baselines,
            put_runs,
            disk,
            targets: subject,
            extra_out,
            targets_out,
            fanout,
            fanout_floor,
            fanout_out,
        } => {
            let mut servers = Vec::new();
            for spec in runs {
                let (label, path) = spec
                    .split_once('=')
                    .with_context(|| format!("--run {spec:?}: expected LABEL=FILE"))?;
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
                let rows = text
                    .lines()
                    .filter(|l| l.trim_start().starts_with('{'))
                    .map(summary::Row::from_json)
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("parsing {path}"))?;
                if rows.is_empty() {
                    anyhow::bail!("{path}: no results");
                }
                servers.push((label.to_string(), rows));
            }
            print!("{}", summary::comparison(&servers, &baselines));
            let mut puts: Vec<(String, String, Vec<targets::PutRow>)> = Vec::new();
            for spec in put_runs {
                let (name, path) = spec.split_once('=').with_context(|| {
                    format!("--put-run {spec:?}: expected SERVER:WORKLOAD=FILE")
                })?;
                let (server, workload) = name.split_once(':').with_context(|| {
                    format!("--put-run {spec:?}: expected SERVER:WORKLOAD=FILE")
                })?;
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
                let rows = text
                    .lines()
                    .filter(|l| l.trim_start().starts_with('{'))
                    .map(targets::PutRow::from_json)
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("parsing {path}"))?;
                if !rows.is_empty() {
                    puts.push((server.to_string(), workload.to_string(), rows));
                }
            }
            let disk = match disk {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    targets::disk_from_lines(
                        text.lines().filter(|l| l.trim_start().starts_with('{')),
                    )
                    .with_context(|| format!("parsing {}", path.display()))?
                }
                None => Vec::new(),
            };
            let out = |text: String, to: &Option<PathBuf>| -> Result<()> {
                match to {
                    Some(p) => {
                        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))
                    }
                    None => {
                        print!("\n{text}");
                        Ok(())
                    }
                }
            };
            if !puts.is_empty() {
                out(targets::extra_table(&puts), &extra_out)?;
            }
            let mut fanouts: Vec<(String, Vec<fanout::FanoutReport>)> = Vec::new();
            for spec in fanout {
                let (label, path) = spec
                    .split_once('=')
                    .with_context(|| format!("--fanout {spec:?}: expected LABEL=FILE"))?;
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
                let rows = text
                    .lines()
                    .filter(|l| l.trim_start().starts_with('{'))
                    .map(serde_json::from_str::<fanout::FanoutReport>)
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("parsing {path}"))?;
                if !rows.is_empty() {
                    fanouts.push((label.to_string(), rows));
                }
            }
            let floor = match fanout_floor {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    fanout_table::floor_from_lines(
                        text.lines().filter(|l| l.trim_start().starts_with('{')),
                    )
                    .with_context(|| format!("parsing {}", path.display()))?
                }
                None => None,
            };
            if !fanouts.is_empty() {
                out(fanout_table::tables(&fanouts, floor.as_ref()), &fanout_out)?;
            }
            if let Some(subject) = subject {
                let inputs = targets::Inputs {
                    all: &servers,
                    puts: &puts,
                    disk: &disk,
                };
                let mut checks = targets::checks(&inputs, &subject);
                if !fanouts.is_empty() {
                    checks.extend(fanout_table::checks(&fanouts, floor.as_ref(), &subject));
                }
                out(targets::targets_table(&checks), &targets_out)?;
            }
            Ok(true)
        }
        Cmd::Median { pointer, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            match targets::median_at(&text, &pointer) {
                Some(m) => {
                    println!("{m}");
                    Ok(true)
                }
                None => anyhow::bail!("{}: no number at {pointer}", file.display()),
            }
        }
        Cmd::ScalingTable {
            files,
            cores,
            client_threads,
            disk_mbps,
            out,
        } => {
            let mut points = Vec::new();
            for path in &files {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
                    points.push(
                        scaling::Point::from_json(line)
                            .with_context(|| format!("parsing {}", path.display()))?,
                    );
                }
            }
            let machine = scaling::Machine {
                cores: cores.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
                }),
                client_threads,
                disk_mbps,
            };
            let table = scaling::table(&points, &machine);
            print!("{table}");
            if let Some(out) = out {
                std::fs::write(&out, &table)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            emit(g.json, &points)?;
            Ok(true)
        }
    }
}

/// "; server CPU .., client CPU .., machine .." for a phase's text line, so
/// each figure says whether the server, the client or neither (another
/// process on a shared host) was the busy side.
fn usage_str(
    server: &Option<procstat::Usage>,
    client: &Option<procstat::Usage>,
    host: &Option<procstat::HostUsage>,
) -> String {
    let mut s = String::new();
    if let Some(u) = server {
        s.push_str(&format!(
            "; server CPU {:.2} cores, peak RSS {:.0} MB",
            u.cpu_cores, u.peak_rss_mb
        ));
    }
    if let Some(u) = client {
        s.push_str(&format!("; client CPU {:.2} cores", u.cpu_cores));
    }
    if let Some(h) = host {
        s.push_str(&format!(
            "; machine busy {:.2} cores, iowait {:.2}",
            h.busy_cores, h.iowait_cores
        ));
    }
    s
}

fn print_put(r: &put::PutReport) {
    println!(
        "put: {:.0} rec/s, {:.2} MB/s, {:.1} req/s ({} conns x {} x {} B); latency {}{}",
        r.records_per_sec,
        r.mb_per_sec,
        r.requests_per_sec,
        r.connections,
        r.batch,
        r.record_size,
        r.latency,
        usage_str(&r.server, &r.client, &r.host)
    );
    if let (Some(rate), Some(sched)) = (r.target_rate, &r.latency_from_schedule) {
        println!(
            "put: paced at {rate:.0} rec/s offered, {:.0} achieved, {} requests late; latency from schedule {sched}",
            r.records_per_sec, r.late_requests
        );
    }
    if !r.failed_records.is_empty() || !r.http_errors.is_empty() || r.transport_errors > 0 {
        println!(
            "put: failed records {:?}, HTTP errors {:?}, transport errors {}",
            r.failed_records, r.http_errors, r.transport_errors
        );
    }
}

fn print_get(r: &get::GetReport, v: &verify::Verification) {
    println!(
        "get: {} records in {:.2} s: {:.0} rec/s, {:.2} MB/s, {} calls ({} empty){}",
        r.records,
        r.elapsed_s,
        r.records_per_sec,
        r.mb_per_sec,
        r.calls,
        r.empty_calls,
        usage_str(&r.server, &r.client, &None)
    );
    println!(
        "verify: {} acked, {} read, {} missing, {} duplicate reads, {} duplicate acks, {} unexpected ({} unknown-outcome), {} order violations: {}",
        v.acked,
        v.read,
        v.missing,
        v.duplicate_reads,
        v.duplicate_acks,
        v.unexpected,
        v.unknown_outcome,
        v.order_violations,
        if v.ok { "OK" } else { "FAILED" }
    );
}

fn print_e2e(r: &e2e::E2eReport) {
    let mode = match r.push_consumers {
        0 => String::new(),
        n => format!(" (push: {n} SubscribeToShard consumers, put-to-push)"),
    };
    println!(
        "e2e{mode}: {} rec/s target, {:.0} achieved, {} acked, {} received, {} lost, {} dup; latency {}{}",
        r.target_rate,
        r.achieved_rate,
        r.acked,
        r.received,
        r.lost,
        r.duplicates,
        r.latency,
        usage_str(&r.server, &r.client, &r.host)
    );
}
