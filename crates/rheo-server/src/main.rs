//! The `rheo` binary: reads the configuration and wires the storage engine, the domain, the wire
//! layer and the HTTP server together. It holds no Kinesis logic of its own.

mod auth;
mod config;
mod faults;
mod fsck;
mod http;
mod kms;
mod memory;
mod metrics;
mod policy;
mod tls;

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

use crate::config::{Cli, Command, LogFormat, Settings};

/// How often stream transitions and retention are checked in the background.
const TICK_INTERVAL: Duration = Duration::from_millis(100);

/// Installs the log subscriber: `RHEO_LOG` filters (default `info`), lines go to stderr.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RHEO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colour codes are noise in a file or a pipe (journald, docker logs, CI).
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        // The request span's fields (its `request_id`) come out in `span` and `spans`.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

fn main() -> ExitCode {
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
        Command::Fsck(args) => {
            init_logging(LogFormat::Text);
            return fsck::run(&args);
        }
        Command::Faults(args) => {
            init_logging(LogFormat::Text);
            return faults::run(args);
        }
        Command::Cert(args) => {
            init_logging(LogFormat::Text);
            return tls::print_ca(&args);
        }
        Command::Policy(_) => anyhow::bail!("rheo policy answers in main"),
    };
    // The settings name the log format, so they are read before anything logs.
    let settings = args.resolve()?;
    init_logging(settings.log_format);
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
    let plain_port = settings.tls.as_ref().is_none_or(|t| t.plain_too);
    let listener = match plain_port {
        true => Some(bind(&settings.host, settings.port).await?),
        false => None,
    };
    let local = listener.as_ref().map(TcpListener::local_addr).transpose()?;
    let tls_listener = match &settings.tls {
        Some(tls) => Some(bind(&settings.host, tls.port).await?),
        None => None,
    };
    let tls_local = tls_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    // The operator's files are checked before the data directory is made, for the same reason.
    let tls_files = match settings.tls.as_ref().map(|t| &t.certificate) {
        Some(config::Certificate::Files { cert, key }) => Some(
            rheo_http::TlsConfig::from_pem_files(cert, key)
                .context("the --tls-cert/--tls-key files")?,
        ),
        _ => None,
    };
    let metrics_listener = match settings.metrics_port {
        Some(port) => Some(
            TcpListener::bind((settings.host.as_str(), port))
                .await
                .with_context(|| {
                    format!("cannot listen on {}:{port} (--metrics-port)", settings.host)
                })?,
        ),
        None => None,
    };
    let store = Store::open(StoreConfig {
        dir: settings.data_dir.clone(),
        fsync: settings.fsync,
        direct_io: settings.direct_io,
        writer_queue_bytes_max: settings.writer_queue_bytes_max,
        ..StoreConfig::default()
    })
    .with_context(|| format!("cannot open the storage at {}", settings.storage_label()))?;
    // Generated after the store opened: the default directory is inside the data directory.
    let tls_config = match (&settings.tls, tls_files) {
        (_, Some(files)) => Some(files),
        (
            Some(config::TlsSettings {
                certificate: config::Certificate::Generated { dir, names },
                ..
            }),
            None,
        ) => Some(generated_tls(dir.as_deref(), names)?),
        _ => None,
    };
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
    let kms = kms::open(&settings, store.clone()).await?;
    // Records of encrypted streams are sealed under data keys of this KMS.
    if !streams.set_key_vault(Arc::new(kms::Vault(kms.clone()))) {
        anyhow::bail!("the streams already have a key vault");
    }
    let audit = rheo_audit::AuditLog::start(&settings.audit).context("--audit-log")?;
    let mut chain = rheo_http::middleware::Chain::new().with(rheo_http::middleware::RequestLog);
    if let Some(audit) = &audit {
        chain = chain.with(audit.clone());
    }
    // PutResourcePolicy checks the policy language with the same parser the authorizer uses,
    // whatever the --auth mode, so a policy accepted here means the same in AWS.
    streams.set_policy_check(policy::policy_check());
    // Ends streaming answers (SubscribeToShard) politely when the server stops.
    let shutdown = rheo_http::Shutdown::default();
    let credentials = match &settings.credentials {
        Some(path) => rheo_auth::Credentials::load(path)
            .with_context(|| format!("--credentials {}", path.display()))?,
        None => rheo_auth::Credentials::default(),
    };
    // Policies are enforced where identities are proven: under --auth permissive any key is
    // accepted, so there is no principal a policy could be trusted to name.
    if settings.auth == config::AuthMode::Sigv4 {
        let principals = credentials
            .principals()
            .map(|p| (p.arn.as_str(), p.account.as_str(), p.policies.as_slice()));
        chain = chain.with(policy::authorizer(principals, streams.clone())?);
    }
    let auth = auth::Gate::new(settings.auth, credentials);
    let auth_label = auth.describe();
    let app = Arc::new(http::App {
        streams: streams.clone(),
        kms: kms.clone(),
        model: rheo_api_kinesis::model(),
        account: streams.default_account(),
        auth,
        max_body_bytes: settings.max_body_bytes,
        chain,
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
    let metrics_streams = streams.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK_INTERVAL);
        let mut idle = memory::IdleTrim::default();
        let mut ticks = 0u64;
        loop {
            every.tick().await;
            streams.tick().await;
            ticks += 1;
            // KMS keys whose deletion window ended already answer as deleted; once a minute
            // they are removed from the table.
            if ticks.is_multiple_of(600) {
                if let Err(e) = kms.delete_due().await {
                    tracing::warn!(error = %e, "removing deleted KMS keys failed");
                }
            }
            // About once a second: a second without requests after some is a quiet spell.
            if ticks.is_multiple_of(10) && idle.due(memory::requests()) {
                tokio::task::spawn_blocking(memory::release_free_memory);
            }
        }
    });

    // The limits are named here because they change what clients see (throttling errors).
    let shown = |a: Option<std::net::SocketAddr>| a.map_or("none".to_string(), |a| a.to_string());
    tracing::info!(
        address = %shown(local),
        tls_address = %shown(tls_local),
        storage = %settings.storage_label(),
        fsync = %settings.fsync,
        throughput_limits = %if settings.throughput_limits { "on" } else { "off" },
        auth = %auth_label,
        audit_log = %match &settings.audit.output {
            rheo_audit::Output::Off => "off".to_string(),
            rheo_audit::Output::Stdout => "stdout".to_string(),
            rheo_audit::Output::File(p) => p.display().to_string(),
        },
        "rheo ready"
    );
    println!("{}", ready_line(local, tls_local, &auth_label));

    // The metrics port: its own listener, stopped with the API's.
    let (metrics_stop, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_server = match metrics_listener {
        Some(listener) => {
            let addr = listener.local_addr()?;
            tracing::info!(address = %addr, "metrics port ready");
            println!("rheo metrics on http://{addr}/metrics");
            let streams = metrics_streams.clone();
            let handler = move |_peer, req| http::handle_metrics_port(streams.clone(), req);
            Some(tokio::spawn(rheo_http::serve(
                listener,
                rheo_http::ServeConfig {
                    connections_max: 64,
                },
                rheo_http::Shutdown::default(),
                async {
                    let _ = metrics_stopped.await;
                },
                handler,
            )))
        }
        None => None,
    };

    let handler = move |peer, req| http::handle(app.clone(), peer, req);
    let listeners = rheo_http::Listeners {
        plain: listener,
        tls: tls_listener.zip(tls_config),
    };
    rheo_http::serve_all(
        listeners,
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
    let _ = metrics_stop.send(());
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    ticker.abort();
    scaler.abort();
    if let Some(audit) = &audit {
        // The last calls' lines are written before the process ends.
        audit.flush(Duration::from_secs(5));
    }
    store.sync().await.context("final fsync")?;
    tracing::info!("stopped");
    Ok(())
}

async fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))
}

/// The line scripts wait for on stdout. The TLS endpoint comes first, so that a reader taking
/// the text after the last `http://` (as older scripts do) still finds the plain endpoint; the
/// auth mode comes last, in parentheses, so that a reader taking the first token after `on `
/// gets the endpoint alone. Saying the mode here matters for `permissive`: a user who expected
/// signatures to be checked sees at once that they are not.
fn ready_line(
    plain: Option<std::net::SocketAddr>,
    tls: Option<std::net::SocketAddr>,
    auth: &str,
) -> String {
    let on = match (tls, plain) {
        (Some(t), Some(p)) => format!(" on https://{t} and http://{p}"),
        (Some(t), None) => format!(" on https://{t}"),
        (None, Some(p)) => format!(" on http://{p}"),
        (None, None) => String::new(),
    };
    format!("rheo ready{on} (auth: {auth})")
}

/// The generated certificate in `dir` (made on first use), or in a new temporary directory
/// when there is no data directory and no `--tls-dir`.
fn generated_tls(
    dir: Option<&std::path::Path>,
    names: &[String],
) -> anyhow::Result<rheo_http::TlsConfig> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::temp_dir().join(format!(
            "rheo-tls-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )),
    };
    let material = tls::ensure(&dir, names)
        .with_context(|| format!("the TLS certificate in {}", dir.display()))?;
    match material.made {
        tls::Made::Ca => tracing::info!(dir = %dir.display(), "generated a TLS CA and certificate"),
        tls::Made::Certificate => {
            tracing::info!(dir = %dir.display(), "issued a new TLS certificate")
        }
        tls::Made::Nothing => {}
    }
    // On stdout, beside the ready line: where the CA to trust is.
    println!("rheo TLS CA in {}", material.ca.display());
    rheo_http::TlsConfig::from_pem_files(&material.cert, &material.key)
        .context("the generated TLS certificate")
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

#[cfg(test)]
mod tests {
    use super::ready_line;

    #[test]
    fn the_ready_line_names_the_endpoints_then_the_auth_mode() {
        let plain = "127.0.0.1:4567".parse().ok();
        let tls = "127.0.0.1:4568".parse().ok();
        assert_eq!(
            ready_line(plain, None, "permissive"),
            "rheo ready on http://127.0.0.1:4567 (auth: permissive)"
        );
        assert_eq!(
            ready_line(plain, tls, "sigv4 (2 keys)"),
            "rheo ready on https://127.0.0.1:4568 and http://127.0.0.1:4567 (auth: sigv4 (2 keys))"
        );
        assert_eq!(
            ready_line(None, tls, "permissive"),
            "rheo ready on https://127.0.0.1:4568 (auth: permissive)"
        );
    }
}
