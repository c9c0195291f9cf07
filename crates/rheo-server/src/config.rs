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
    /// A TOML file with any of these settings (kebab-case keys, e.g. `max-body-bytes = "16MiB"`).
    #[arg(long, env = "RHEO_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Fault rules, from the TOML file's `[[faults]]` tables only.
    #[arg(skip)]
    #[serde(default)]
    pub faults: Vec<rheo_api_kinesis::faults::FaultRule>,
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
    pub faults: Vec<rheo_api_kinesis::faults::FaultRule>,
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
        Ok(Settings {
            host: self
                .host
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: self.port.or(file.port).unwrap_or(4567),
            data_dir: if in_memory {
                None
            } else {
                Some(
                    self.data_dir
                        .or(file.data_dir)
                        .unwrap_or_else(|| PathBuf::from("rheo-data")),
                )
            },
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
            faults: file.faults,
        })
    }
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
}
