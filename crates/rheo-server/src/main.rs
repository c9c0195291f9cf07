//! The `rheo` binary: reads the configuration and wires the storage engine, the domain, the wire
//! layer and the HTTP server together. It holds no Kinesis logic of its own.

mod config;
mod http;
mod memory;

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

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RHEO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let Command::Serve(args) = cli.command;
    let settings = args.resolve()?;
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
    let store = Store::open(StoreConfig {
        dir: settings.data_dir.clone(),
        fsync: settings.fsync,
        direct_io: settings.direct_io,
        ..StoreConfig::default()
    })
    .with_context(|| format!("opening storage at {:?}", settings.data_dir))?;
    let domain = rheo_streams::Config {
        account_id: settings.account_id.clone(),
        create_stream_ms: settings.create_stream_ms as i64,
        delete_stream_ms: settings.delete_stream_ms as i64,
        update_stream_ms: settings.update_stream_ms as i64,
        shard_limit: settings.shard_limit,
        ..rheo_streams::Config::default()
    };
    let streams = Streams::open(domain, store.clone(), Arc::new(SystemClock))
        .context("loading stream metadata")?;
    let app = Arc::new(http::App {
        streams: streams.clone(),
        model: rheo_api_kinesis::model(),
        account: streams.default_account(),
        max_body_bytes: settings.max_body_bytes,
        chain: rheo_http::middleware::Chain::new().with(rheo_http::middleware::RequestLog),
        router: http::App::router(),
    });

    let listener = TcpListener::bind((settings.host, settings.port))
        .await
        .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
    let local = listener.local_addr()?;
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

    tracing::info!(address = %local, storage = ?settings.data_dir, fsync = %settings.fsync, "rheo ready");
    println!("rheo ready on http://{local}");

    let handler = move |peer, req| http::handle(app.clone(), peer, req);
    rheo_http::serve(
        listener,
        rheo_http::ServeConfig::default(),
        rheo_http::Shutdown::default(),
        async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        },
        handler,
    )
    .await;
    ticker.abort();
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
