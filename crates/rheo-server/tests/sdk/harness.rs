//! Test harness: runs the real `rheo` binary on an ephemeral port and builds SDK clients for it.
//!
//! Every test gets its own server process so tests stay independent (stream names, shard limits and
//! account-wide counts never leak between tests) and can run in parallel.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_kinesis::config::retry::RetryConfig;
use aws_sdk_kinesis::config::timeout::TimeoutConfig;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};
use aws_sdk_kinesis::Client;

/// Account the server uses when `--account-id` is not given.
pub const ACCOUNT: &str = "000000000000";
/// Region the clients sign for; the server takes it from the credential scope.
pub const REGION: &str = "us-east-1";

/// How long the server may take to print its ready line (a cold debug binary under a loaded 2-core box).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `rheo serve` child process, killed when dropped.
pub struct Server {
    child: Child,
    endpoint: String,
    /// The server's data directory (disk engine), removed after the server is killed.
    _data: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server with the standard fast state transitions (50 ms create/delete/update).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra command-line flags appended to the standard ones.
    ///
    /// The server runs on the disk engine in a fresh temporary directory, with the default fsync
    /// policy, unless `RHEO_TEST_STORAGE=memory`: defects hide on disk that memory never shows.
    pub fn start_with(extra: &[&str]) -> Self {
        // Limits off: these tests poll DescribeStream in tight loops and put and read back in
        // bulk, far past AWS's rates; `start_default` serves the tests of the limits.
        let mut args = vec!["--throughput-limits", "off"];
        args.extend_from_slice(extra);
        Self::spawn(&args)
    }

    /// Starts a server with no `--throughput-limits` flag, as a user would: AWS's limits on.
    pub fn start_default() -> Self {
        Self::spawn(&[])
    }

    fn spawn(extra: &[&str]) -> Self {
        let data = match std::env::var("RHEO_TEST_STORAGE").as_deref() {
            Ok("memory") => None,
            Ok("disk") | Err(_) => Some(tempfile::tempdir().expect("a temporary data directory")),
            Ok(other) => panic!("RHEO_TEST_STORAGE must be disk or memory, not {other:?}"),
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rheo"));
        match &data {
            Some(dir) => cmd.arg("serve").arg("--data-dir").arg(dir.path()),
            None => cmd.args(["serve", "--in-memory"]),
        };
        cmd.args([
            "--port",
            "0",
            "--create-stream-ms",
            "50",
            "--delete-stream-ms",
            "50",
            "--update-stream-ms",
            "50",
            "--consumer-status-ms",
            "50",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Server logs are noise in a passing run; set RHEO_TEST_LOG=1 to see them.
        .stderr(if std::env::var_os("RHEO_TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().expect("spawn the rheo binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // The reader thread keeps draining stdout after the ready line so the server can never
        // block on a full pipe; it ends when the child exits.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // `rheo ready on http://A (auth: ...)`: the endpoint is the first word.
                let url = line
                    .trim()
                    .strip_prefix("rheo ready on ")
                    .and_then(|rest| rest.split_whitespace().next());
                if let Some(url) = url {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.to_string());
                    }
                }
            }
        });
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(endpoint) => {
                assert!(
                    endpoint.starts_with("http://"),
                    "ready line must carry an http:// URL, got {endpoint:?}"
                );
                Server {
                    child,
                    endpoint,
                    _data: data,
                }
            }
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "rheo never printed `rheo ready on http://...` ({e}); exit status: {status:?}"
                );
            }
        }
    }

    /// SDK configuration for this server without an HTTP client chosen yet.
    pub fn config_builder(&self) -> aws_sdk_kinesis::config::Builder {
        aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("test", "test", None, None, "rheo-tests"))
            .endpoint_url(self.endpoint.clone())
            // A retried request would hide server errors and stretch failing tests.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(15))
                    .build(),
            )
    }

    /// A client using the SDK's own hyper-based HTTP/1.1 client (no TLS: the endpoint is plain http).
    pub fn client(&self) -> Client {
        self.client_with(aws_smithy_http_client::Builder::new().build_http())
    }

    /// A client using the given HTTP client.
    pub fn client_with(&self, http: SharedHttpClient) -> Client {
        Client::from_conf(self.config_builder().http_client(http).build())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ARN the server should report for a stream in the default account and region.
pub fn stream_arn(name: &str) -> String {
    format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}")
}
