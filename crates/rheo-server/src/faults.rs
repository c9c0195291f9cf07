//! Fault injection at run time: the `/_rheo/faults` admin endpoint on the server's port, and
//! the `rheo faults` subcommand that talks to it. The rules themselves live in the binding
//! (`rheo_api_kinesis::faults`).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Args, Subcommand};
use http::{Method, StatusCode};
use rheo_api_kinesis::faults::{FaultRule, Faults};

/// The admin endpoint's path; only this exact path is the admin's.
pub const PATH: &str = "/_rheo/faults";

/// Answers `GET` (list), `POST` (add rules) and `DELETE` (clear) on [`PATH`], in JSON.
pub fn admin(faults: &Faults, method: &Method, body: &[u8]) -> (StatusCode, Bytes) {
    let json = |v: serde_json::Value| Bytes::from(v.to_string());
    match *method {
        Method::GET => (StatusCode::OK, Bytes::from(faults.list_json())),
        Method::POST => match faults.add_json(body) {
            Ok(added) => {
                tracing::info!(added, "fault rules added");
                (StatusCode::OK, json(serde_json::json!({ "added": added })))
            }
            Err(e) => (
                StatusCode::BAD_REQUEST,
                json(serde_json::json!({ "message": e.to_string() })),
            ),
        },
        Method::DELETE => {
            let cleared = faults.list().len();
            faults.clear();
            tracing::info!(cleared, "fault rules cleared");
            (
                StatusCode::OK,
                json(serde_json::json!({ "cleared": cleared })),
            )
        }
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            json(serde_json::json!({ "message": "use GET, POST or DELETE" })),
        ),
    }
}

#[derive(Args, Debug)]
pub struct FaultsArgs {
    /// The running server [default: http://127.0.0.1:4567].
    #[arg(long, env = "RHEO_ENDPOINT", default_value = "http://127.0.0.1:4567")]
    pub endpoint: String,
    #[command(subcommand)]
    pub action: FaultsAction,
}

// Parsed once per run: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum FaultsAction {
    /// Print the rules in force (JSON) with how often each fired.
    List,
    /// Add one rule.
    Add(AddArgs),
    /// Remove every rule.
    Clear,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The operation the rule matches (PutRecords, GetShardIterator, ...).
    #[arg(long)]
    pub operation: String,
    /// Only requests naming this stream.
    #[arg(long)]
    pub stream: Option<String>,
    /// Only requests naming this shard (GetShardIterator, SubscribeToShard).
    #[arg(long)]
    pub shard_id: Option<String>,
    /// Answer with this AWS error type.
    #[arg(long)]
    pub error: Option<String>,
    /// The error's HTTP status [default: AWS's for known types].
    #[arg(long)]
    pub status: Option<u16>,
    /// The error's message.
    #[arg(long)]
    pub message: Option<String>,
    /// Delay the answer by this many milliseconds.
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// PutRecords: fail this fraction (0..1) of the records, unwritten.
    #[arg(long)]
    pub partial_fraction: Option<f64>,
    /// The failed records' ErrorCode [default: ProvisionedThroughputExceededException].
    #[arg(long)]
    pub partial_error: Option<String>,
    /// Chance (0..1) a matching request is hit [default: 1].
    #[arg(long)]
    pub probability: Option<f64>,
    /// Hit at most this many requests.
    #[arg(long)]
    pub count: Option<u64>,
}

impl From<AddArgs> for FaultRule {
    fn from(a: AddArgs) -> FaultRule {
        FaultRule {
            operation: a.operation,
            stream: a.stream,
            shard_id: a.shard_id,
            error: a.error,
            status: a.status,
            message: a.message,
            latency_ms: a.latency_ms,
            partial_fraction: a.partial_fraction,
            partial_error: a.partial_error,
            probability: a.probability,
            count: a.count,
        }
    }
}

/// `rheo faults`: one HTTP/1.1 request to the admin endpoint; prints the answer's body.
pub fn run(args: FaultsArgs) -> anyhow::Result<()> {
    let (method, body) = match args.action {
        FaultsAction::List => ("GET", String::new()),
        FaultsAction::Clear => ("DELETE", String::new()),
        FaultsAction::Add(add) => ("POST", serde_json::to_string(&FaultRule::from(add))?),
    };
    let (status, answer) = request(&args.endpoint, method, &body)?;
    println!("{answer}");
    anyhow::ensure!(
        (200..300).contains(&status),
        "{} answered {status}",
        args.endpoint
    );
    Ok(())
}

/// A minimal plain-HTTP client: the admin endpoint is local and speaks HTTP/1.1; a full client
/// stack would be the binary's largest dependency for one request.
fn request(endpoint: &str, method: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let rest = endpoint
        .strip_prefix("http://")
        .with_context(|| format!("--endpoint {endpoint}: only http:// endpoints are supported"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let address = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let mut stream =
        TcpStream::connect(&address).with_context(|| format!("cannot connect to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {PATH} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, answer) = text
        .split_once("\r\n\r\n")
        .context("the server's answer has no header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("the server's answer has no status")?;
    Ok((status, answer.to_string()))
}
