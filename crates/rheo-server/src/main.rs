//! The `rheo` binary: reads the configuration and wires the storage engine, the domain, the wire
//! layer and the HTTP server together. It holds no Kinesis logic of its own.

mod config;
mod faults;
mod fsck;
mod http;
mod memory;
mod metrics;
mod policy;

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser as _;
use rheo_log::{Store, StoreConfig};
use rheo_streams::clock::SystemClock;
use rheo_streams::Streams;
use tokio::net::TcpListener;

use crate::config::{Cli, Command, Settings};

/// How often stream transitions and retention are checked in the background.
const TICK_INTERVAL: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RHEO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes are noise in a file or a pipe (journald, docker logs, CI).
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    // The simulator's exit code says allow or deny, so it answers for itself.
    let cli = match cli.command {
        Command::Policy(args) => return policy::main(args),
        command => Cli { command },
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// One line: the error and its causes, each cause once. Library errors often repeat their
/// source in their own message ("I/O error on X: File exists" caused by "File exists"), which
/// anyhow's report would print twice.
fn error_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Fsck(args) => return fsck::run(&args),
        Command::Faults(args) => return faults::run(args),
        Command::Policy(_) => anyhow::bail!("rheo policy answers in main"),
    };
    let settings = args.resolve()?;
    memory::limit_malloc_arenas(settings.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    }));
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = settings.worker_threads {
        builder.worker_threads(n);
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Bind first: a port in use or a bad address must not leave a fresh data directory behind.
    let listener = TcpListener::bind((settings.host.as_str(), settings.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", settings.host, settings.port))?;
    let local = listener.local_addr()?;
    let store = Store::open(StoreConfig {
        dir: settings.data_dir.clone(),
        fsync: settings.fsync,
        direct_io: settings.direct_io,
        writer_queue_bytes_max: settings.writer_queue_bytes_max,
        ..StoreConfig::default()
    })
    .with_context(|| format!("cannot open the storage at {}", settings.storage_label()))?;
    let domain = rheo_streams::Config {
        account_id: settings.account_id.clone(),
        create_stream_ms: settings.create_stream_ms as i64,
        delete_stream_ms: settings.delete_stream_ms as i64,
        update_stream_ms: settings.update_stream_ms as i64,
        consumer_status_ms: settings.consumer_status_ms as i64,
        subscription_ms: settings.subscription_ms as i64,
        throughput_limits: settings.throughput_limits,
        shard_limit: settings.shard_limit,
        on_demand: rheo_streams::ScaleConfig {
            hot_percent: settings.on_demand_hot_percent,
            scale_down_ms: i64::try_from(settings.on_demand_scale_down_ms).unwrap_or(i64::MAX),
        },
        ..rheo_streams::Config::default()
    };
    let faults = rheo_api_kinesis::faults::Faults::new(settings.faults.clone())
        .context("the [[faults]] of the config file")?;
    if !faults.is_empty() {
        tracing::warn!(rules = faults.list().len(), "fault injection is on");
    }
    let streams = Streams::open(domain, store.clone(), Arc::new(SystemClock))
        .context("loading stream metadata")?;
    // PutResourcePolicy checks the policy language with the same parser the authorizer uses,
    // whatever the --auth mode, so a policy accepted here means the same in AWS.
    streams.set_policy_check(policy::policy_check());
    // Ends streaming answers (SubscribeToShard) politely when the server stops.
    let shutdown = rheo_http::Shutdown::default();
    let app = Arc::new(http::App {
        streams: streams.clone(),
        model: rheo_api_kinesis::model(),
        account: streams.default_account(),
        max_body_bytes: settings.max_body_bytes,
        chain: rheo_http::middleware::Chain::new().with(rheo_http::middleware::RequestLog),
        router: http::App::router(),
        shutdown: shutdown.clone(),
        faults,
    });

    // On-demand streams scale on their own clock: AWS reacts in minutes, tests in seconds.
    let scaler = {
        let streams = streams.clone();
        let every = std::time::Duration::from_millis(settings.on_demand_scale_interval_ms);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                streams.scale_on_demand().await;
            }
        })
    };
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK_INTERVAL);
        let mut idle = memory::IdleTrim::default();
        let mut ticks = 0u64;
        loop {
            every.tick().await;
            streams.tick().await;
            ticks += 1;
            // About once a second: a second without requests after some is a quiet spell.
            if ticks.is_multiple_of(10) && idle.due(memory::requests()) {
                tokio::task::spawn_blocking(memory::release_free_memory);
            }
        }
    });

    // The limits are named here because they change what clients see (throttling errors).
    tracing::info!(
        address = %local,
        storage = %settings.storage_label(),
        fsync = %settings.fsync,
        throughput_limits = %if settings.throughput_limits { "on" } else { "off" },
        "rheo ready"
    );
    println!("rheo ready on http://{local}");

    let handler = move |peer, req| http::handle(app.clone(), peer, req);
    rheo_http::serve(
        listener,
        rheo_http::ServeConfig {
            connections_max: settings.connections_max,
        },
        shutdown,
        async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        },
        handler,
    )
    .await;
    ticker.abort();
    scaler.abort();
    store.sync().await.context("final fsync")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
