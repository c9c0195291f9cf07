//! The audit log: every API call of every service as one CloudTrail-shaped JSON line.
//!
//! [`AuditLog`] is a middleware of `rheo_http::middleware::Chain`: the binding tells it how
//! CloudTrail classes a call (`EventKind`) and, only when it asks (`Middleware::records`), the
//! call's redacted parameters and resources; the front tells it the error. It formats the line
//! on the request's task (no allocation is shared with it) and hands it to a writer thread
//! through a bounded channel, so no request waits for the disk. Management events are always
//! recorded; data events (records written and read) only when configured, as in CloudTrail.
//!
//! Under overload (the queue full) a call waits at most [`SEND_WAIT`] for room; a line that
//! still finds none is dropped, counted ([`dropped_events_total`], `GET /metrics` as
//! `rheo_audit_events_dropped_total`) and logged as a warning at most once a second. Losing
//! lines silently would make the log useless as a record; blocking callers indefinitely on a
//! slow disk would make the API unavailable, which an audit log must not do either.
//!
//! **Architecture invariant:** knows no service: the event source and name come from the
//! action (`kinesis:PutRecord`), the classification and parameters from the binding.

pub mod record;
pub mod writer;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam_channel::{bounded, SendTimeoutError, Sender};
use rheo_http::middleware::{EventKind, Middleware, Outcome};
use rheo_http::{RequestContext, RequestId};

pub use writer::Rotation;

/// How long a call waits for room in a full queue before its line is dropped.
pub const SEND_WAIT: Duration = Duration::from_millis(20);

/// Lines queued for the writer at most.
pub const QUEUE_LINES: usize = 16_384;

/// Default size at which the file is rotated (100 MiB).
pub const MAX_BYTES_DEFAULT: u64 = 100 << 20;

/// Default number of rotated files kept.
pub const KEEP_DEFAULT: usize = 5;

static DROPPED: AtomicU64 = AtomicU64::new(0);
static WRITTEN: AtomicU64 = AtomicU64::new(0);
/// Second of the last warning about dropped lines, so that an overload logs once a second.
static LAST_WARNED_S: AtomicU64 = AtomicU64::new(0);

/// Lines dropped because the writer's queue stayed full (or the writer is gone), since start.
pub fn dropped_events_total() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Lines handed to the sink since start.
pub fn written_events_total() -> u64 {
    WRITTEN.load(Ordering::Relaxed)
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open the audit log {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the audit log's writer thread: {0}")]
    Thread(std::io::Error),
}

/// `--audit-log`: a file, `stdout`, or `off`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Off,
    Stdout,
    File(PathBuf),
}

impl FromStr for Output {
    type Err = String;

    fn from_str(text: &str) -> Result<Output, String> {
        match text.trim() {
            "" => Err("the audit log needs a file name, `stdout` or `off`".into()),
            "off" | "none" => Ok(Output::Off),
            "stdout" | "-" => Ok(Output::Stdout),
            path => Ok(Output::File(PathBuf::from(path))),
        }
    }
}

/// The audit log's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    pub output: Output,
    /// Record data events too (PutRecord, PutRecords, GetRecords, GetShardIterator,
    /// SubscribeToShard for Kinesis), as a CloudTrail trail with data events selected does.
    pub data_events: bool,
    pub rotation: Rotation,
}

enum Message {
    Line(String),
    /// Write out what is buffered, then answer.
    Flush(Sender<()>),
}

struct Inner {
    tx: Sender<Message>,
    data_events: bool,
}

/// The audit middleware. Cheap to clone: the server keeps one to [`flush`](AuditLog::flush)
/// at shutdown and gives one to the chain.
#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

impl AuditLog {
    /// Opens the output and starts the writer thread; `None` when the output is `off`.
    pub fn start(config: &AuditConfig) -> Result<Option<AuditLog>, AuditError> {
        let sink = match &config.output {
            Output::Off => return Ok(None),
            Output::Stdout => writer::Sink::Stdout(std::io::BufWriter::new(std::io::stdout())),
            Output::File(path) => {
                writer::Sink::File(writer::FileSink::open(path, config.rotation).map_err(
                    |source| AuditError::Open {
                        path: path.clone(),
                        source,
                    },
                )?)
            }
        };
        let (tx, rx) = bounded::<Message>(QUEUE_LINES);
        std::thread::Builder::new()
            .name("rheo-audit".into())
            .spawn(move || run_writer(sink, rx))
            .map_err(AuditError::Thread)?;
        Ok(Some(AuditLog {
            inner: Arc::new(Inner {
                tx,
                data_events: config.data_events,
            }),
        }))
    }

    /// Waits (at most `timeout`) until every line queued so far is written to the sink.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = bounded(1);
        if self
            .inner
            .tx
            .send_timeout(Message::Flush(ack), timeout)
            .is_err()
        {
            return false;
        }
        done.recv_timeout(timeout).is_ok()
    }

    fn enqueue(&self, line: String) {
        match self.inner.tx.send_timeout(Message::Line(line), SEND_WAIT) {
            Ok(()) => {}
            Err(SendTimeoutError::Timeout(_)) | Err(SendTimeoutError::Disconnected(_)) => {
                let total = DROPPED.fetch_add(1, Ordering::Relaxed) + 1;
                let now_s = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if LAST_WARNED_S.swap(now_s, Ordering::Relaxed) != now_s {
                    tracing::warn!(
                        dropped_total = total,
                        "audit log lines dropped: the writer cannot keep up"
                    );
                }
            }
        }
    }
}

impl Middleware for AuditLog {
    fn records(&self, kind: EventKind) -> bool {
        !kind.data || self.inner.data_events
    }

    fn after(&self, context: &RequestContext, outcome: &Outcome<'_>) {
        if !self.records(outcome.kind) {
            return;
        }
        if let Some(line) = record::line(context, outcome, SystemTime::now(), RequestId::random()) {
            self.enqueue(line);
        }
    }
}

fn run_writer(mut sink: writer::Sink, rx: crossbeam_channel::Receiver<Message>) {
    let mut failing = false;
    while let Ok(message) = rx.recv() {
        let mut next = Some(message);
        // Everything queued is written before one flush: one write per burst, not per line.
        while let Some(message) = next {
            match message {
                Message::Line(line) => match sink.write_line(&line) {
                    Ok(()) => {
                        WRITTEN.fetch_add(1, Ordering::Relaxed);
                        failing = false;
                    }
                    Err(e) => {
                        DROPPED.fetch_add(1, Ordering::Relaxed);
                        if !failing {
                            tracing::error!(error = %e, "cannot write the audit log");
                            failing = true;
                        }
                    }
                },
                Message::Flush(ack) => {
                    if let Err(e) = sink.flush() {
                        tracing::error!(error = %e, "cannot flush the audit log");
                    }
                    let _ = ack.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = sink.flush() {
            if !failing {
                tracing::error!(error = %e, "cannot flush the audit log");
                failing = true;
            }
        }
    }
    let _ = sink.flush();
}

/// The live file of an output, for tools and tests.
pub fn live_file(output: &Output) -> Option<&Path> {
    match output {
        Output::File(p) => Some(p),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rheo_http::middleware::{CallDetail, CallError, Chain};

    fn outcome<'a>(action: &'a str, data: bool, detail: Option<&'a CallDetail>) -> Outcome<'a> {
        Outcome {
            action: Some(action),
            kind: EventKind {
                read_only: false,
                data,
            },
            status: 200,
            latency: Duration::ZERO,
            error: None,
            detail,
        }
    }

    #[test]
    fn outputs_parse() {
        assert_eq!("off".parse::<Output>(), Ok(Output::Off));
        assert_eq!("stdout".parse::<Output>(), Ok(Output::Stdout));
        assert_eq!(
            "/var/log/rheo/audit.log".parse::<Output>(),
            Ok(Output::File("/var/log/rheo/audit.log".into()))
        );
        assert!("".parse::<Output>().is_err());
    }

    #[test]
    fn data_events_are_recorded_only_when_configured() {
        let dir = tempfile::tempdir().unwrap();
        for data_events in [false, true] {
            let path = dir.path().join(format!("audit-{data_events}.log"));
            let log = AuditLog::start(&AuditConfig {
                output: Output::File(path.clone()),
                data_events,
                rotation: Rotation {
                    max_bytes: MAX_BYTES_DEFAULT,
                    keep: KEEP_DEFAULT,
                },
            })
            .unwrap()
            .unwrap();
            let chain = Chain::new().with(log.clone());
            let data = EventKind {
                read_only: false,
                data: true,
            };
            assert!(chain.records(EventKind::default()));
            assert_eq!(chain.records(data), data_events);
            let ctx = RequestContext::new("123456789012".into(), None);
            let detail = CallDetail {
                parameters: Some(r#"{"streamName":"s"}"#.into()),
                resources: Vec::new(),
            };
            chain.after(&ctx, &outcome("kinesis:CreateStream", false, Some(&detail)));
            chain.after(&ctx, &outcome("kinesis:PutRecord", true, None));
            let err = CallError {
                code: "ValidationException",
                message: "bad".into(),
            };
            chain.after(
                &ctx,
                &Outcome {
                    status: 400,
                    error: Some(&err),
                    ..outcome("kinesis:DeleteStream", false, None)
                },
            );
            assert!(log.flush(Duration::from_secs(5)));
            let text = std::fs::read_to_string(&path).unwrap();
            let names: Vec<String> = text
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["eventName"].as_str().unwrap().to_string()
                })
                .collect();
            let expected: &[&str] = if data_events {
                &["CreateStream", "PutRecord", "DeleteStream"]
            } else {
                &["CreateStream", "DeleteStream"]
            };
            assert_eq!(names, expected);
        }
    }

    #[test]
    fn a_full_queue_drops_after_a_short_wait_and_counts_it() {
        // A writer that never reads: the queue holds one line, the second waits and is dropped.
        let (tx, _rx) = bounded::<Message>(1);
        let log = AuditLog {
            inner: Arc::new(Inner {
                tx,
                data_events: true,
            }),
        };
        let before = dropped_events_total();
        let started = std::time::Instant::now();
        log.enqueue("one".into());
        log.enqueue("two".into());
        assert!(started.elapsed() >= SEND_WAIT, "it waited for room first");
        assert!(dropped_events_total() > before);
        assert!(!log.flush(Duration::from_millis(10)));
    }

    #[test]
    fn off_starts_nothing() {
        let config = AuditConfig {
            output: Output::Off,
            data_events: true,
            rotation: Rotation {
                max_bytes: 1,
                keep: 1,
            },
        };
        assert!(AuditLog::start(&config).unwrap().is_none());
        assert_eq!(live_file(&config.output), None);
    }

    #[test]
    fn an_unopenable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        let path = blocker.join("audit.log");
        let err = AuditLog::start(&AuditConfig {
            output: Output::File(path.clone()),
            data_events: false,
            rotation: Rotation {
                max_bytes: 10,
                keep: 1,
            },
        })
        .err()
        .unwrap();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}
