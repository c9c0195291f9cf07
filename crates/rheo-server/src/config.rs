//! Configuration: command-line flags, then `RHEO_*` environment variables, then an optional TOML
//! file, then defaults (first found wins).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, Parser, Subcommand};
use rheo_log::FsyncPolicy;
use serde::Deserialize;

#[derive(Parser, Debug)]
#[command(
    name = "rheo",
    version,
    about = "An Amazon Kinesis Data Streams server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once at startup: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the Kinesis API.
    Serve(ServeArgs),
    /// Check a stopped server's data directory offline (`--repair` marks damaged ranges lost).
    Fsck(crate::fsck::FsckArgs),
    /// List, add or clear the fault rules of a running server (for testing retry code).
    Faults(crate::faults::FaultsArgs),
    /// Print the CA that signed the generated TLS certificate (`rheo cert > ca.pem`).
    Cert(crate::tls::CertArgs),
    /// Evaluate IAM policies offline (`rheo policy simulate`).
    Policy(crate::policy::PolicyArgs),
}

/// Every setting is optional here so that the TOML file can fill what flags and env leave out.
#[derive(Args, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeArgs {
    /// Address or host name to listen on, e.g. 0.0.0.0, ::1 or localhost [default: 127.0.0.1].
    #[arg(long, env = "RHEO_HOST")]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one [default: 4567].
    #[arg(long, env = "RHEO_PORT")]
    pub port: Option<u16>,
    /// Directory of the embedded storage [default: ./rheo-data].
    #[arg(long, env = "RHEO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep everything in memory (nothing survives a restart); the env var takes 1/0, yes/no, true/false.
    #[arg(long, env = "RHEO_IN_MEMORY", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    #[serde(default)]
    pub in_memory: bool,
    /// When an acknowledged write is durable: always | group | interval:MS | never [default: group].
    #[arg(long, env = "RHEO_FSYNC")]
    pub fsync: Option<String>,
    /// How long a new stream stays CREATING, in ms [default: 500].
    #[arg(long, alias = "createStreamMs", env = "RHEO_CREATE_STREAM_MS")]
    pub create_stream_ms: Option<u64>,
    /// How long a deleted stream stays DELETING, in ms [default: 500].
    #[arg(long, alias = "deleteStreamMs", env = "RHEO_DELETE_STREAM_MS")]
    pub delete_stream_ms: Option<u64>,
    /// How long a stream stays UPDATING, in ms [default: 500].
    #[arg(long, alias = "updateStreamMs", env = "RHEO_UPDATE_STREAM_MS")]
    pub update_stream_ms: Option<u64>,
    /// How long a registered consumer stays CREATING and a deregistered one DELETING, in ms [default: 500].
    #[arg(long, env = "RHEO_CONSUMER_STATUS_MS")]
    pub consumer_status_ms: Option<u64>,
    /// How long a SubscribeToShard subscription lasts, in ms [default: 300000, AWS's 5 minutes].
    #[arg(long, env = "RHEO_SUBSCRIPTION_MS")]
    pub subscription_ms: Option<u64>,
    /// AWS's limits: per shard writes 1 MiB/s and 1,000 records/s, shared reads 5 calls/s and
    /// 2 MiB/s (ProvisionedThroughputExceededException past them); control-plane call rates and
    /// UpdateShardCount's 10 scalings per stream a day (LimitExceededException); all enforced
    /// only while this is on: on/off, true/false, yes/no, 1/0 [default: on].
    #[arg(long, env = "RHEO_THROUGHPUT_LIMITS", value_parser = BoolishValueParser::new())]
    #[serde(alias = "throughput_limits")]
    pub throughput_limits: Option<bool>,
    /// How often on-demand streams are looked at for scaling, in ms [default: 60000].
    #[arg(long, env = "RHEO_ON_DEMAND_SCALE_INTERVAL_MS")]
    pub on_demand_scale_interval_ms: Option<u64>,
    /// How long two adjacent shards of an on-demand stream stay cold before they are merged,
    /// and how long a peak counts, in ms [default: 86400000, 24 hours].
    #[arg(long, env = "RHEO_ON_DEMAND_SCALE_DOWN_MS")]
    pub on_demand_scale_down_ms: Option<u64>,
    /// Share (percent) of a shard's write limit at which an on-demand shard is hot and split
    /// [default: 50].
    #[arg(long, env = "RHEO_ON_DEMAND_HOT_PERCENT")]
    pub on_demand_hot_percent: Option<u32>,
    /// Open shards allowed per account and region [default: 500].
    #[arg(long, alias = "shardLimit", env = "RHEO_SHARD_LIMIT")]
    pub shard_limit: Option<u32>,
    /// The account id in ARNs and messages [default: 000000000000].
    #[arg(long, env = "RHEO_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Largest request body accepted: bytes, or with a unit (KiB, MiB, GiB, KB, MB, GB) [default: 16MiB].
    #[arg(long, env = "RHEO_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<ByteSize>,
    /// Write the journal through the page cache instead of with O_DIRECT (which is used where
    /// the file system supports it; both are equally durable).
    #[arg(long, env = "RHEO_BUFFERED_IO", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    #[serde(default)]
    pub buffered_io: bool,
    /// Connections served at once; further clients wait in the kernel's accept queue until one
    /// closes [default: 900, below the usual 1,024 open-file limit].
    #[arg(long, env = "RHEO_CONNECTIONS_MAX")]
    #[serde(alias = "connections_max")]
    pub connections_max: Option<usize>,
    /// Payload bytes queued for the journal writer before further appends wait (back-pressure):
    /// bytes, or with a unit (KiB, MiB, GiB, KB, MB, GB) [default: 64MiB].
    #[arg(long, env = "RHEO_WRITER_QUEUE_BYTES_MAX")]
    #[serde(alias = "writer_queue_bytes_max")]
    pub writer_queue_bytes_max: Option<ByteSize>,
    /// Async runtime worker threads [default: one per core].
    #[arg(long, env = "RHEO_WORKER_THREADS")]
    pub worker_threads: Option<usize>,
    /// How requests are authenticated: `permissive` (any well-formed SigV4 header; a key listed
    /// in --credentials acts in its account) or `sigv4` (signatures verified against
    /// --credentials, with AWS's errors) [default: permissive].
    #[arg(long, env = "RHEO_AUTH")]
    pub auth: Option<String>,
    /// The credentials file (TOML `[[principal]]` entries: access key, secret, account, ARN,
    /// session token, policies); required with `--auth sigv4`.
    #[arg(long, env = "RHEO_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// TLS: off, on (a TLS port beside the plain one) or only (no plain port) [default: off].
    #[arg(long, env = "RHEO_TLS")]
    pub tls: Option<TlsMode>,
    /// Port of the TLS listener (HTTP/2 and HTTP/1.1 by ALPN); 0 picks a free one [default: 4568].
    #[arg(long, env = "RHEO_TLS_PORT")]
    pub tls_port: Option<u16>,
    /// PEM certificate chain for the TLS port (with --tls-key); without both, a local CA and a
    /// certificate signed by it are generated on first start and reused.
    #[arg(long, env = "RHEO_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "RHEO_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Extra name (DNS name or IP address) for the generated certificate, beside localhost,
    /// 127.0.0.1, ::1 and the host name; repeatable (comma-separated in the env var).
    #[arg(long = "tls-san", env = "RHEO_TLS_SAN", value_delimiter = ',')]
    #[serde(default, alias = "tls-sans")]
    pub tls_san: Vec<String>,
    /// Directory of the generated CA and certificate [default: <data-dir>/tls; in memory, a new
    /// temporary directory, printed at start].
    #[arg(long, env = "RHEO_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
    /// A second port serving only `GET /metrics` (Prometheus text), for a scraper that must not
    /// reach the API; /metrics stays on the API port too [default: none].
    #[arg(long, env = "RHEO_METRICS_PORT")]
    #[serde(alias = "metrics_port")]
    pub metrics_port: Option<u16>,
    /// Log lines as text or JSON (one object a line, with the request id of the request being
    /// handled) [default: text].
    #[arg(long, env = "RHEO_LOG_FORMAT", value_enum)]
    #[serde(alias = "log_format")]
    pub log_format: Option<LogFormat>,
    /// The audit log (CloudTrail-shaped JSON lines, one per API call): a file (rotated by
    /// size), `stdout`, or `off` [default: off].
    #[arg(long, env = "RHEO_AUDIT_LOG")]
    pub audit_log: Option<String>,
    /// Also record data events (PutRecord, PutRecords, GetRecords, GetShardIterator,
    /// SubscribeToShard), as a CloudTrail trail with data events does; the env var takes
    /// 1/0, yes/no, true/false [default: off].
    #[arg(long, env = "RHEO_AUDIT_DATA_EVENTS", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    #[serde(default)]
    pub audit_data_events: bool,
    /// Size at which the audit file is rotated: bytes, or with a unit [default: 100MiB].
    #[arg(long, env = "RHEO_AUDIT_LOG_MAX_BYTES")]
    pub audit_log_max_bytes: Option<ByteSize>,
    /// Rotated audit files kept (FILE.1 the newest ... FILE.N) [default: 5].
    #[arg(long, env = "RHEO_AUDIT_LOG_KEEP")]
    pub audit_log_keep: Option<usize>,
    /// The KMS master key file (32 bytes, or 64 hex digits) that wraps every KMS key
    /// [default: <data-dir>/kms/master.key, created with mode 0600; ephemeral with --in-memory].
    #[arg(long, env = "RHEO_KMS_MASTER_KEY")]
    pub kms_master_key: Option<PathBuf>,
    /// A TOML file with any of these settings (kebab-case keys, e.g. `max-body-bytes = "16MiB"`).
    #[arg(long, env = "RHEO_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Fault rules, from the TOML file's `[[faults]]` tables only.
    #[arg(skip)]
    #[serde(default)]
    pub faults: Vec<rheo_api_kinesis::faults::FaultRule>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (tracing's default formatter).
    #[default]
    Text,
    /// One JSON object per line (tracing-subscriber's JSON formatter).
    Json,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// An address or a host name; resolved when binding.
    pub host: String,
    pub port: u16,
    /// `None` in memory.
    pub data_dir: Option<PathBuf>,
    pub fsync: FsyncPolicy,
    pub create_stream_ms: u64,
    pub delete_stream_ms: u64,
    pub update_stream_ms: u64,
    pub consumer_status_ms: u64,
    pub subscription_ms: u64,
    pub throughput_limits: bool,
    pub shard_limit: u32,
    pub on_demand_scale_interval_ms: u64,
    pub on_demand_scale_down_ms: u64,
    pub on_demand_hot_percent: u32,
    pub account_id: String,
    pub max_body_bytes: usize,
    pub direct_io: bool,
    pub worker_threads: Option<usize>,
    pub connections_max: usize,
    pub writer_queue_bytes_max: u64,
    pub metrics_port: Option<u16>,
    pub log_format: LogFormat,
    pub kms_master_key: Option<PathBuf>,
    pub faults: Vec<rheo_api_kinesis::faults::FaultRule>,
    pub auth: AuthMode,
    pub credentials: Option<PathBuf>,
    /// `None` when TLS is off.
    pub tls: Option<TlsSettings>,
    pub audit: rheo_audit::AuditConfig,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Any well-formed SigV4 data is accepted (local use).
    Permissive,
    /// Signatures are verified against the credentials file.
    Sigv4,
}

impl FromStr for AuthMode {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<AuthMode> {
        match s {
            "permissive" => Ok(AuthMode::Permissive),
            "sigv4" => Ok(AuthMode::Sigv4),
            other => anyhow::bail!("--auth {other}: expected permissive or sigv4"),
        }
    }
}

/// `--tls`: whether the server has a TLS port, and a plain one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    #[default]
    Off,
    On,
    Only,
}

impl FromStr for TlsMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(TlsMode::Off),
            "on" => Ok(TlsMode::On),
            "only" => Ok(TlsMode::Only),
            _ => Err(format!("{text:?}: write on, off or only")),
        }
    }
}

impl<'de> Deserialize<'de> for TlsMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The TLS port's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Also a plain port (`--tls on`), or TLS only.
    pub plain_too: bool,
    pub port: u16,
    pub certificate: Certificate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// The operator's PEM files.
    Files { cert: PathBuf, key: PathBuf },
    /// Generated into `dir` (a new temporary directory when `None`), naming these names.
    Generated {
        dir: Option<PathBuf>,
        names: Vec<String>,
    },
}

impl ServeArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => load_file(path)?,
            None => ServeArgs::default(),
        };
        let in_memory = self.in_memory || file.in_memory;
        let fsync_text = self.fsync.or(file.fsync).unwrap_or_else(|| "group".into());
        let fsync: FsyncPolicy = fsync_text
            .parse()
            .map_err(|e| anyhow::anyhow!("--fsync {fsync_text}: {e}"))?;
        let account_id = self
            .account_id
            .or(file.account_id)
            .unwrap_or_else(|| "000000000000".into());
        anyhow::ensure!(
            account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit()),
            "--account-id must be 12 digits"
        );
        let connections_max = self
            .connections_max
            .or(file.connections_max)
            .unwrap_or(rheo_http::CONNECTIONS_MAX_DEFAULT);
        anyhow::ensure!(connections_max > 0, "--connections-max must be at least 1");
        let writer_queue_bytes_max = self
            .writer_queue_bytes_max
            .or(file.writer_queue_bytes_max)
            .map_or(rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT, |b| b.0 as u64);
        anyhow::ensure!(
            writer_queue_bytes_max > 0,
            "--writer-queue-bytes-max must be at least 1 byte"
        );
        let on_demand_scale_interval_ms = self
            .on_demand_scale_interval_ms
            .or(file.on_demand_scale_interval_ms)
            .unwrap_or(60_000);
        anyhow::ensure!(
            on_demand_scale_interval_ms > 0,
            "--on-demand-scale-interval-ms must be at least 1"
        );
        let on_demand_hot_percent = self
            .on_demand_hot_percent
            .or(file.on_demand_hot_percent)
            .unwrap_or(50);
        anyhow::ensure!(
            (1..=100).contains(&on_demand_hot_percent),
            "--on-demand-hot-percent must be 1 to 100"
        );
        let auth: AuthMode = self
            .auth
            .or(file.auth)
            .as_deref()
            .unwrap_or("permissive")
            .parse()?;
        // A relative path in the TOML file is the file's, as a reader of that file expects.
        let credentials = self.credentials.or_else(|| {
            file.credentials.map(|p| match &self.config {
                Some(cfg) if p.is_relative() => cfg.parent().map_or(p.clone(), |d| d.join(&p)),
                _ => p,
            })
        });
        anyhow::ensure!(
            auth != AuthMode::Sigv4 || credentials.is_some(),
            "--auth sigv4 needs --credentials FILE (or RHEO_CREDENTIALS): the access keys and secrets to verify signatures against"
        );
        let data_dir = if in_memory {
            None
        } else {
            Some(
                self.data_dir
                    .or(file.data_dir)
                    .unwrap_or_else(|| PathBuf::from("rheo-data")),
            )
        };
        let port = self.port.or(file.port).unwrap_or(4567);
        let tls = resolve_tls(
            TlsFlags {
                mode: self.tls.or(file.tls).unwrap_or_default(),
                port: self.tls_port.or(file.tls_port),
                cert: self.tls_cert.or(file.tls_cert),
                key: self.tls_key.or(file.tls_key),
                sans: if self.tls_san.is_empty() {
                    file.tls_san
                } else {
                    self.tls_san
                },
                dir: self.tls_dir.or(file.tls_dir),
            },
            port,
            data_dir.as_deref(),
        )?;
        let audit_output: rheo_audit::Output = self
            .audit_log
            .or(file.audit_log)
            .unwrap_or_else(|| "off".into())
            .parse()
            .map_err(|e| anyhow::anyhow!("--audit-log: {e}"))?;
        let audit_max_bytes = self
            .audit_log_max_bytes
            .or(file.audit_log_max_bytes)
            .map_or(rheo_audit::MAX_BYTES_DEFAULT, |b| b.0 as u64);
        anyhow::ensure!(
            audit_max_bytes > 0,
            "--audit-log-max-bytes must be at least 1 byte"
        );
        let audit = rheo_audit::AuditConfig {
            output: audit_output,
            data_events: self.audit_data_events || file.audit_data_events,
            rotation: rheo_audit::Rotation {
                max_bytes: audit_max_bytes,
                keep: self
                    .audit_log_keep
                    .or(file.audit_log_keep)
                    .unwrap_or(rheo_audit::KEEP_DEFAULT),
            },
        };
        Ok(Settings {
            auth,
            credentials,
            host: self
                .host
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port,
            data_dir,
            fsync,
            create_stream_ms: self
                .create_stream_ms
                .or(file.create_stream_ms)
                .unwrap_or(500),
            delete_stream_ms: self
                .delete_stream_ms
                .or(file.delete_stream_ms)
                .unwrap_or(500),
            update_stream_ms: self
                .update_stream_ms
                .or(file.update_stream_ms)
                .unwrap_or(500),
            consumer_status_ms: self
                .consumer_status_ms
                .or(file.consumer_status_ms)
                .unwrap_or(500),
            subscription_ms: self
                .subscription_ms
                .or(file.subscription_ms)
                .unwrap_or(300_000),
            throughput_limits: self
                .throughput_limits
                .or(file.throughput_limits)
                .unwrap_or(true),
            shard_limit: self.shard_limit.or(file.shard_limit).unwrap_or(500),
            on_demand_scale_interval_ms,
            on_demand_scale_down_ms: self
                .on_demand_scale_down_ms
                .or(file.on_demand_scale_down_ms)
                .unwrap_or(86_400_000),
            on_demand_hot_percent,
            account_id,
            max_body_bytes: self
                .max_body_bytes
                .or(file.max_body_bytes)
                .map_or(rheo_http::limits::BODY_BYTES_MAX_DEFAULT, |b| b.0),
            direct_io: !(self.buffered_io || file.buffered_io),
            worker_threads: self
                .worker_threads
                .or(file.worker_threads)
                .filter(|n| *n > 0),
            connections_max,
            writer_queue_bytes_max,
            metrics_port: self.metrics_port.or(file.metrics_port),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            kms_master_key: self.kms_master_key.or(file.kms_master_key),
            faults: file.faults,
            tls,
            audit,
        })
    }
}

/// The TLS settings as given, from flags, env or file.
struct TlsFlags {
    mode: TlsMode,
    port: Option<u16>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    sans: Vec<String>,
    dir: Option<PathBuf>,
}

fn resolve_tls(
    flags: TlsFlags,
    plain_port: u16,
    data_dir: Option<&Path>,
) -> anyhow::Result<Option<TlsSettings>> {
    if flags.mode == TlsMode::Off {
        // A TLS setting with TLS off is a mistake to point out, not to ignore: the operator
        // expects a TLS port.
        let given = [
            ("--tls-port", flags.port.is_some()),
            ("--tls-cert", flags.cert.is_some()),
            ("--tls-key", flags.key.is_some()),
            ("--tls-san", !flags.sans.is_empty()),
            ("--tls-dir", flags.dir.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
            anyhow::bail!("{flag} needs --tls on or --tls only");
        }
        return Ok(None);
    }
    let port = flags.port.unwrap_or(crate::tls::TLS_PORT_DEFAULT);
    let plain_too = flags.mode == TlsMode::On;
    anyhow::ensure!(
        !(plain_too && port != 0 && port == plain_port),
        "--tls-port {port} is the plain --port too: give them different ports (or --tls only)"
    );
    let certificate = match (flags.cert, flags.key) {
        (Some(cert), Some(key)) => {
            anyhow::ensure!(
                flags.sans.is_empty(),
                "--tls-san names the generated certificate; with --tls-cert, the names are the file's"
            );
            Certificate::Files { cert, key }
        }
        (None, None) => {
            for san in &flags.sans {
                crate::tls::check_san(san).map_err(|e| anyhow::anyhow!("--tls-san {e}"))?;
            }
            Certificate::Generated {
                dir: crate::tls::dir_of(flags.dir.as_deref(), data_dir),
                names: crate::tls::names(&flags.sans),
            }
        }
        _ => anyhow::bail!("--tls-cert and --tls-key go together: give both or neither"),
    };
    Ok(Some(TlsSettings {
        plain_too,
        port,
        certificate,
    }))
}

impl Settings {
    /// Where records are kept, for people: the data directory, or "memory".
    pub fn storage_label(&self) -> String {
        match &self.data_dir {
            Some(dir) => dir.display().to_string(),
            None => "memory (nothing survives a restart)".into(),
        }
    }
}

/// A size in bytes, written as a number of bytes or with a unit as the help text writes sizes
/// (`16MiB`, `16 MiB`, `512KB`); in the TOML file a number or such a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?} is not a size (write e.g. 16777216, 16MiB or 512KB)"))?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            _ => {
                return Err(format!(
                    "{text:?}: unknown unit {unit:?} (use B, KiB, MiB, GiB, KB, MB or GB)"
                ))
            }
        };
        n.checked_mul(scale)
            .and_then(|b| usize::try_from(b).ok())
            .map(ByteSize)
            .ok_or_else(|| format!("{text:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => usize::try_from(n)
                .map(ByteSize)
                .map_err(|_| serde::de::Error::custom("size too large")),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

fn load_file(path: &Path) -> anyhow::Result<ServeArgs> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServeArgs {
        let mut all = vec!["rheo", "serve"];
        all.extend_from_slice(args);
        match Cli::parse_from(all).command {
            Command::Serve(a) => a,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn auth_is_permissive_unless_sigv4_with_credentials() {
        let s = parse(&[]).resolve().unwrap();
        assert_eq!(s.auth, AuthMode::Permissive);
        assert_eq!(s.credentials, None);
        let e = parse(&["--auth", "sigv4"]).resolve().unwrap_err();
        assert!(
            e.to_string()
                .contains("--auth sigv4 needs --credentials FILE"),
            "{e}"
        );
        let e = parse(&["--auth", "none"]).resolve().unwrap_err();
        assert!(
            e.to_string().contains("expected permissive or sigv4"),
            "{e}"
        );
        let s = parse(&["--auth", "sigv4", "--credentials", "/x/c.toml"])
            .resolve()
            .unwrap();
        assert_eq!(s.auth, AuthMode::Sigv4);
        assert_eq!(s.credentials.as_deref(), Some(Path::new("/x/c.toml")));
    }

    #[test]
    fn auth_settings_come_from_the_config_file_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(&path, "auth = \"sigv4\"\ncredentials = \"creds.toml\"\n").unwrap();
        let s = parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(s.auth, AuthMode::Sigv4);
        assert_eq!(s.credentials, Some(dir.path().join("creds.toml")));
        // A flag wins over the file.
        let s = parse(&["--config", path.to_str().unwrap(), "--auth", "permissive"])
            .resolve()
            .unwrap();
        assert_eq!(s.auth, AuthMode::Permissive);
    }

    #[test]
    fn fault_rules_come_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(
            &path,
            "port = 1\n[[faults]]\noperation = \"PutRecord\"\nerror = \"InternalFailure\"\ncount = 2\n\n[[faults]]\noperation = \"ListShards\"\nlatency-ms = 50\n",
        )
        .unwrap();
        let s = parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(s.faults.len(), 2);
        assert_eq!(s.faults[0].error.as_deref(), Some("InternalFailure"));
        assert_eq!(s.faults[0].count, Some(2));
        assert_eq!(s.faults[1].latency_ms, Some(50));
        assert!(
            parse(&[]).resolve().unwrap().faults.is_empty(),
            "off by default"
        );
        std::fs::write(&path, "[[faults]]\noperation = \"PutRecord\"\nbogus = 1\n").unwrap();
        assert!(parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .is_err());
    }

    #[test]
    fn defaults_match_the_readme() {
        let s = parse(&[]).resolve().unwrap();
        assert_eq!(s.port, 4567);
        assert_eq!(s.host.to_string(), "127.0.0.1");
        assert_eq!(s.data_dir, Some(PathBuf::from("rheo-data")));
        assert_eq!(s.fsync, FsyncPolicy::Group);
        assert_eq!(s.account_id, "000000000000");
        assert!(s.direct_io);
        assert_eq!(s.worker_threads, None);
        assert_eq!(s.connections_max, rheo_http::CONNECTIONS_MAX_DEFAULT);
    }

    #[test]
    fn metrics_port_and_log_format_from_flags_and_file() {
        let s = parse(&[]).resolve().unwrap();
        assert_eq!((s.metrics_port, s.log_format), (None, LogFormat::Text));
        let s = parse(&["--metrics-port", "9100", "--log-format", "json"])
            .resolve()
            .unwrap();
        assert_eq!(
            (s.metrics_port, s.log_format),
            (Some(9100), LogFormat::Json)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(&path, "metrics-port = 9200\nlog-format = \"json\"\n").unwrap();
        let s = parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(
            (s.metrics_port, s.log_format),
            (Some(9200), LogFormat::Json)
        );
        assert!(Cli::try_parse_from(["rheo", "serve", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn connections_max_from_flag_and_file() {
        let s = parse(&["--connections-max", "7"]).resolve().unwrap();
        assert_eq!(s.connections_max, 7);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        for text in ["connections-max = 11\n", "connections_max = 11\n"] {
            std::fs::write(&path, text).unwrap();
            let s = parse(&["--config", path.to_str().unwrap()])
                .resolve()
                .unwrap();
            assert_eq!(s.connections_max, 11, "{text}");
        }
        let s = parse(&["--config", path.to_str().unwrap(), "--connections-max", "3"])
            .resolve()
            .unwrap();
        assert_eq!(s.connections_max, 3, "the flag wins over the file");
        assert!(parse(&["--connections-max", "0"]).resolve().is_err());
        assert!(Cli::try_parse_from(["rheo", "serve", "--connections-max", "many"]).is_err());
    }

    #[test]
    fn io_and_threads_from_flags_and_file() {
        let s = parse(&["--buffered-io", "--worker-threads", "1"])
            .resolve()
            .unwrap();
        assert_eq!((s.direct_io, s.worker_threads), (false, Some(1)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(&path, "buffered-io = true\nworker-threads = 3\n").unwrap();
        let s = parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!((s.direct_io, s.worker_threads), (false, Some(3)));
    }

    #[test]
    fn kinesalite_flag_spellings_are_accepted() {
        let s = parse(&[
            "--createStreamMs",
            "5",
            "--deleteStreamMs",
            "6",
            "--updateStreamMs",
            "7",
            "--shardLimit",
            "9",
        ])
        .resolve()
        .unwrap();
        assert_eq!(
            (
                s.create_stream_ms,
                s.delete_stream_ms,
                s.update_stream_ms,
                s.shard_limit
            ),
            (5, 6, 7, 9)
        );
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(&path, "port = 9000\nshard-limit = 3\nfsync = \"always\"\n").unwrap();
        let s = parse(&["--config", path.to_str().unwrap(), "--port", "9001"])
            .resolve()
            .unwrap();
        assert_eq!(
            (s.port, s.shard_limit, s.fsync),
            (9001, 3, FsyncPolicy::Always)
        );
    }

    #[test]
    fn on_demand_scaling_settings_from_flags_file_and_defaults() {
        let s = parse(&[]).resolve().unwrap();
        assert_eq!(
            (
                s.on_demand_scale_interval_ms,
                s.on_demand_scale_down_ms,
                s.on_demand_hot_percent
            ),
            (60_000, 86_400_000, 50)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(
            &path,
            "on-demand-scale-interval-ms = 1000\non-demand-scale-down-ms = 5000\non-demand-hot-percent = 80\n",
        )
        .unwrap();
        let s = parse(&[
            "--config",
            path.to_str().unwrap(),
            "--on-demand-scale-interval-ms",
            "250",
        ])
        .resolve()
        .unwrap();
        assert_eq!(
            (
                s.on_demand_scale_interval_ms,
                s.on_demand_scale_down_ms,
                s.on_demand_hot_percent
            ),
            (250, 5000, 80)
        );
        assert!(parse(&["--on-demand-hot-percent", "0"]).resolve().is_err());
        assert!(parse(&["--on-demand-scale-interval-ms", "0"])
            .resolve()
            .is_err());
    }

    #[test]
    fn sizes_take_units_as_the_help_writes_them() {
        for (text, bytes) in [
            ("16MiB", 16 << 20),
            ("16 MiB", 16 << 20),
            ("512kb", 512_000),
            ("1048576", 1 << 20),
            ("2G", 2 << 30),
        ] {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
        }
        for bad in ["", "MiB", "16 parsecs", "-1", "99999999999999999999GiB"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
        let s = parse(&["--max-body-bytes", "1MiB"]).resolve().unwrap();
        assert_eq!(s.max_body_bytes, 1 << 20);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(&path, "max-body-bytes = \"2 MiB\"\n").unwrap();
        let s = parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(s.max_body_bytes, 2 << 20);
        std::fs::write(&path, "max-body-bytes = 4096\n").unwrap();
        let s = parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(s.max_body_bytes, 4096);
    }

    #[test]
    fn writer_queue_bytes_max_from_flag_and_file() {
        let s = parse(&[]).resolve().unwrap();
        assert_eq!(
            s.writer_queue_bytes_max,
            rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT
        );
        let s = parse(&["--writer-queue-bytes-max", "16MiB"])
            .resolve()
            .unwrap();
        assert_eq!(s.writer_queue_bytes_max, 16 << 20);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        for text in [
            "writer-queue-bytes-max = \"8 MiB\"\n",
            "writer_queue_bytes_max = 8388608\n",
        ] {
            std::fs::write(&path, text).unwrap();
            let s = parse(&["--config", path.to_str().unwrap()])
                .resolve()
                .unwrap();
            assert_eq!(s.writer_queue_bytes_max, 8 << 20, "{text}");
        }
        let s = parse(&[
            "--config",
            path.to_str().unwrap(),
            "--writer-queue-bytes-max",
            "1KiB",
        ])
        .resolve()
        .unwrap();
        assert_eq!(
            s.writer_queue_bytes_max, 1024,
            "the flag wins over the file"
        );
        assert!(parse(&["--writer-queue-bytes-max", "0"]).resolve().is_err());
        assert!(
            Cli::try_parse_from(["rheo", "serve", "--writer-queue-bytes-max", "lots"]).is_err()
        );
    }

    #[test]
    fn throughput_limits_are_on_by_default_and_switch_off_by_flag_env_or_file() {
        assert!(
            parse(&[]).resolve().unwrap().throughput_limits,
            "on by default"
        );
        for (text, on) in [
            ("off", false),
            ("on", true),
            ("0", false),
            ("1", true),
            ("no", false),
            ("yes", true),
            ("false", false),
            ("true", true),
        ] {
            let s = parse(&["--throughput-limits", text]).resolve().unwrap();
            assert_eq!(s.throughput_limits, on, "{text}");
        }
        assert!(Cli::try_parse_from(["rheo", "serve", "--throughput-limits", "maybe"]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        for text in ["throughput-limits = false\n", "throughput_limits = false\n"] {
            std::fs::write(&path, text).unwrap();
            let s = parse(&["--config", path.to_str().unwrap()])
                .resolve()
                .unwrap();
            assert!(!s.throughput_limits, "{text}");
        }
        let s = parse(&[
            "--config",
            path.to_str().unwrap(),
            "--throughput-limits",
            "on",
        ])
        .resolve()
        .unwrap();
        assert!(s.throughput_limits, "the flag wins over the file");
        use clap::CommandFactory as _;
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        let at = help.find("--throughput-limits").unwrap();
        let text = &help[at..];
        let end = text.find("\n\n").unwrap_or(text.len());
        assert!(text[..end].contains("[default: on]"), "{help}");
    }

    #[test]
    fn host_names_are_accepted() {
        let s = parse(&["--host", "localhost"]).resolve().unwrap();
        assert_eq!(s.host, "localhost");
    }

    #[test]
    fn help_puts_each_text_with_its_flag() {
        use clap::CommandFactory as _;
        let mut cli = Cli::command();
        let serve = cli.find_subcommand_mut("serve").unwrap();
        let help = serve.render_long_help().to_string();
        let config_at = help.find("--config").unwrap();
        let buffered_at = help.find("--buffered-io").unwrap();
        let toml_at = help.find("A TOML file").unwrap();
        assert!(
            toml_at > config_at,
            "the --config text sits under --config:\n{help}"
        );
        assert!(
            help[buffered_at..].starts_with("--buffered-io\n          Write the journal"),
            "{help}"
        );
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse(&["--fsync", "sometimes"]).resolve().is_err());
        assert!(parse(&["--account-id", "12"]).resolve().is_err());
    }

    #[test]
    fn tls_is_off_by_default_and_on_or_only_by_flag_env_or_file() {
        assert_eq!(parse(&[]).resolve().unwrap().tls, None);
        let s = parse(&["--tls", "on", "--data-dir", "/d"])
            .resolve()
            .unwrap();
        let tls = s.tls.unwrap();
        assert!(tls.plain_too);
        assert_eq!(tls.port, 4568);
        match tls.certificate {
            Certificate::Generated { dir, names } => {
                assert_eq!(dir, Some(PathBuf::from("/d/tls")));
                assert_eq!(&names[..3], ["localhost", "127.0.0.1", "::1"]);
            }
            other => panic!("{other:?}"),
        }
        let s = parse(&["--tls", "only", "--tls-port", "9443"])
            .resolve()
            .unwrap();
        let tls = s.tls.unwrap();
        assert_eq!((tls.plain_too, tls.port), (false, 9443));
        assert!(Cli::try_parse_from(["rheo", "serve", "--tls", "sometimes"]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rheo.toml");
        std::fs::write(
            &path,
            "tls = \"on\"\ntls-port = 8443\ntls-san = [\"kinesis.test\"]\n",
        )
        .unwrap();
        let s = parse(&["--config", path.to_str().unwrap()])
            .resolve()
            .unwrap();
        let tls = s.tls.unwrap();
        assert_eq!(tls.port, 8443);
        match tls.certificate {
            Certificate::Generated { names, .. } => {
                assert!(names.contains(&"kinesis.test".to_string()))
            }
            other => panic!("{other:?}"),
        }
        let s = parse(&[
            "--config",
            path.to_str().unwrap(),
            "--tls",
            "off",
            "--tls-port",
            "1",
        ]);
        assert!(
            s.resolve().is_err(),
            "a TLS setting with TLS off is refused"
        );
    }

    #[test]
    fn tls_flags_are_validated() {
        let err = |args: &[&str]| parse(args).resolve().unwrap_err().to_string();
        assert!(err(&["--tls", "on", "--tls-cert", "c.pem"]).contains("go together"));
        assert!(err(&["--tls", "on", "--tls-key", "k.pem"]).contains("go together"));
        assert!(err(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).contains("needs --tls on"));
        assert!(err(&["--tls-san", "x.example"]).contains("needs --tls on"));
        assert!(err(&["--tls", "on", "--port", "4568"]).contains("different ports"));
        assert!(err(&["--tls", "on", "--tls-san", "not a name"]).contains("--tls-san"));
        assert!(err(&[
            "--tls",
            "on",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--tls-san",
            "x.example"
        ])
        .contains("--tls-san"));
        // `only` has no plain port to collide with; port 0 picks free ports for both.
        assert!(parse(&["--tls", "only", "--port", "4568"])
            .resolve()
            .is_ok());
        assert!(parse(&["--tls", "on", "--port", "0", "--tls-port", "0"])
            .resolve()
            .is_ok());
        let s = parse(&["--tls", "on", "--tls-cert", "c.pem", "--tls-key", "k.pem"])
            .resolve()
            .unwrap();
        assert_eq!(
            s.tls.unwrap().certificate,
            Certificate::Files {
                cert: "c.pem".into(),
                key: "k.pem".into()
            }
        );
        // Repeatable, and in memory the generated files go to --tls-dir (or a temp dir).
        let s = parse(&[
            "--in-memory",
            "--tls",
            "on",
            "--tls-san",
            "a.example",
            "--tls-san",
            "10.0.0.9",
            "--tls-dir",
            "/t",
        ])
        .resolve()
        .unwrap();
        match s.tls.unwrap().certificate {
            Certificate::Generated { dir, names } => {
                assert_eq!(dir, Some(PathBuf::from("/t")));
                assert!(names.contains(&"a.example".into()) && names.contains(&"10.0.0.9".into()));
            }
            other => panic!("{other:?}"),
        }
        let s = parse(&["--in-memory", "--tls", "on"]).resolve().unwrap();
        assert!(matches!(
            s.tls.unwrap().certificate,
            Certificate::Generated { dir: None, .. }
        ));
    }
}
