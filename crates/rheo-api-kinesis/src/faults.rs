//! Fault injection for testing clients' retry code: rules that answer matching requests with an
//! AWS error, delay them, or fail part of a PutRecords. Off unless rules are configured (TOML
//! `[[faults]]`, or at run time through the server's `/_rheo/faults` endpoint).
//!
//! Never on the durability path: an injected error answers before the domain runs, and the
//! records a partial PutRecords fails are taken out of the request before it is written, so an
//! injected failure writes nothing.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rheo_http::middleware::Refusal;
use serde::{Deserialize, Serialize};

use crate::Operation;

/// Error codes a partial PutRecords may give its failed records (the two AWS gives).
pub const PARTIAL_CODES: [&str; 2] = ["ProvisionedThroughputExceededException", "InternalFailure"];

/// One rule as configured (TOML and the admin endpoint's JSON use the same kebab-case keys).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaultRule {
    /// The operation's name (`PutRecords`).
    pub operation: String,
    /// Only requests naming this stream (by name, or by an ARN of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Only requests naming this shard (GetShardIterator's and SubscribeToShard's `ShardId`);
    /// for a partial PutRecords rule, only the records that go to this shard fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    /// Answer with this AWS error type (`ProvisionedThroughputExceededException`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's HTTP status; known types have AWS's as default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The error's message [default: one naming the injected fault].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Delay the answer by this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// PutRecords only: this fraction (0..1) of the records fails and is not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_fraction: Option<f64>,
    /// The failed records' ErrorCode [default: ProvisionedThroughputExceededException].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_error: Option<String>,
    /// Chance (0..1) that a matching request is hit [default: 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Hit at most this many requests, then stay inert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// Why a rule was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultError {
    #[error("unknown operation {0:?}")]
    UnknownOperation(String),
    #[error("a rule needs exactly one of error, latency-ms and partial-fraction")]
    NoSingleAction,
    #[error("error type {0:?} has no known status; give status")]
    NoStatus(String),
    #[error("status {0} is not an error status (400..=599)")]
    BadStatus(u16),
    #[error("{0} must be between 0 and 1")]
    OutOfRange(&'static str),
    #[error("partial-fraction applies to PutRecords only")]
    PartialNotPutRecords,
    #[error("partial-error must be ProvisionedThroughputExceededException or InternalFailure")]
    PartialCode,
    #[error("shard-id cannot be matched for {0} (GetShardIterator and SubscribeToShard name a shard, and a partial PutRecords rule matches the records' shard)")]
    NoShard(String),
    #[error("invalid fault rules: {0}")]
    Json(String),
}

/// AWS's HTTP status for the error types a client is most likely to want injected.
fn default_status(error_type: &str) -> Option<u16> {
    match error_type {
        "InternalFailure" => Some(500),
        "ServiceUnavailable" => Some(503),
        "ProvisionedThroughputExceededException"
        | "LimitExceededException"
        | "ResourceInUseException"
        | "ResourceNotFoundException"
        | "ExpiredIteratorException"
        | "ExpiredNextTokenException"
        | "InvalidArgumentException"
        | "AccessDeniedException"
        | "ValidationException" => Some(400),
        t if t.starts_with("KMS") => Some(400),
        _ => None,
    }
}

/// What a rule does when it fires, checked once when the rule is added.
#[derive(Clone, Debug, PartialEq)]
enum Action {
    Error(Refusal),
    Latency(Duration),
    Partial(Partial),
}

/// A partial PutRecords failure: which records fail, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Partial {
    pub fraction: f64,
    pub code: &'static str,
    /// Only records that go to this shard are candidates.
    pub shard_id: Option<String>,
}

struct Armed {
    rule: FaultRule,
    op: Operation,
    action: Action,
    fired: u64,
}

impl Armed {
    fn new(rule: FaultRule) -> Result<Armed, FaultError> {
        let op = Operation::from_name(&rule.operation)
            .ok_or_else(|| FaultError::UnknownOperation(rule.operation.clone()))?;
        for (name, value) in [
            ("probability", rule.probability),
            ("partial-fraction", rule.partial_fraction),
        ] {
            if value.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
                return Err(FaultError::OutOfRange(name));
            }
        }
        if rule.shard_id.is_some()
            && rule.partial_fraction.is_none()
            && !matches!(
                op,
                Operation::GetShardIterator | Operation::SubscribeToShard
            )
        {
            return Err(FaultError::NoShard(rule.operation.clone()));
        }
        let action = match (&rule.error, rule.latency_ms, rule.partial_fraction) {
            (Some(ty), None, None) => {
                let status = rule
                    .status
                    .or_else(|| default_status(ty))
                    .ok_or_else(|| FaultError::NoStatus(ty.clone()))?;
                if !(400..=599).contains(&status) {
                    return Err(FaultError::BadStatus(status));
                }
                Action::Error(Refusal {
                    // `Refusal` takes a `&'static str` type; see `leak`.
                    error_type: leak(ty),
                    status,
                    message: rule
                        .message
                        .clone()
                        .unwrap_or_else(|| format!("Injected fault: {ty}.")),
                })
            }
            (None, Some(ms), None) => Action::Latency(Duration::from_millis(ms)),
            (None, None, Some(fraction)) => {
                if op != Operation::PutRecords {
                    return Err(FaultError::PartialNotPutRecords);
                }
                let code = match rule.partial_error.as_deref() {
                    None => PARTIAL_CODES[0],
                    Some(c) => PARTIAL_CODES
                        .into_iter()
                        .find(|k| *k == c)
                        .ok_or(FaultError::PartialCode)?,
                };
                Action::Partial(Partial {
                    fraction,
                    code,
                    shard_id: rule.shard_id.clone(),
                })
            }
            _ => return Err(FaultError::NoSingleAction),
        };
        Ok(Armed {
            rule,
            op,
            action,
            fired: 0,
        })
    }

    fn matches(&self, op: Operation, target: &Target<'_>) -> bool {
        self.op == op
            && self
                .rule
                .stream
                .as_deref()
                .is_none_or(|s| target.streams.iter().flatten().any(|t| *t == s))
            // A partial rule's shard is the records' (checked when they are placed).
            && (matches!(self.action, Action::Partial(_))
                || self
                    .rule
                    .shard_id
                    .as_deref()
                    .is_none_or(|s| target.shard_id == Some(s)))
            && self.rule.count.is_none_or(|c| self.fired < c)
    }
}

/// `text` as a `&'static str`, each distinct text allocated once for the process: error types
/// are few, and rules added and cleared over and over must not grow memory.
fn leak(text: &str) -> &'static str {
    static NAMES: Mutex<std::collections::BTreeSet<&'static str>> =
        Mutex::new(std::collections::BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = names.get(text) {
        return known;
    }
    let name: &'static str = Box::leak(text.to_string().into_boxed_str());
    names.insert(name);
    name
}

/// The stream a request names (by name or ARN, up to two ways) and the shard it names.
#[derive(Clone, Copy, Debug, Default)]
pub struct Target<'a> {
    pub streams: [Option<&'a str>; 2],
    pub shard_id: Option<&'a str>,
}

/// The stream name in a stream or consumer ARN (`...:stream/<name>[/consumer/...]`).
pub fn stream_of_arn(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":stream/")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// What the rules that fired want done to one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Injection {
    /// Wait this long before answering (the sum of the latency rules that fired).
    pub delay: Duration,
    /// Answer with this error instead of running.
    pub error: Option<Refusal>,
    /// Fail some of a PutRecords' records.
    pub partial: Option<Partial>,
}

/// The rules in force. Empty (the default) costs one atomic load per request.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Armed>>,
    len: AtomicUsize,
    seed: AtomicU64,
}

impl Faults {
    pub fn new(rules: Vec<FaultRule>) -> Result<Faults, FaultError> {
        let faults = Faults::default();
        for rule in rules {
            faults.add(rule)?;
        }
        Ok(faults)
    }

    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }

    pub fn add(&self, rule: FaultRule) -> Result<(), FaultError> {
        let armed = Armed::new(rule)?;
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        rules.push(armed);
        self.len.store(rules.len(), Ordering::Relaxed);
        Ok(())
    }

    pub fn clear(&self) {
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        rules.clear();
        self.len.store(0, Ordering::Relaxed);
    }

    /// The rules with how often each has fired.
    pub fn list(&self) -> Vec<(FaultRule, u64)> {
        let rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        rules.iter().map(|a| (a.rule.clone(), a.fired)).collect()
    }

    /// The admin endpoint's answer: `{"faults":[{...rule, "fired": n}]}`.
    pub fn list_json(&self) -> Vec<u8> {
        let rules: Vec<serde_json::Value> = self
            .list()
            .into_iter()
            .map(|(rule, fired)| {
                let mut v = serde_json::to_value(rule).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.insert("fired".into(), fired.into());
                }
                v
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({ "faults": rules })).unwrap_or_default()
    }

    /// Adds the rules of a JSON body: one rule object, a list of them, or `{"faults": [...]}`.
    /// All or none: a bad rule adds nothing. Returns how many were added.
    pub fn add_json(&self, body: &[u8]) -> Result<usize, FaultError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Body {
            Wrapped { faults: Vec<FaultRule> },
            List(Vec<FaultRule>),
            One(FaultRule),
        }
        let rules = match serde_json::from_slice::<Body>(body) {
            Ok(Body::Wrapped { faults }) | Ok(Body::List(faults)) => faults,
            Ok(Body::One(rule)) => vec![rule],
            Err(e) => return Err(FaultError::Json(e.to_string())),
        };
        let armed = rules
            .into_iter()
            .map(Armed::new)
            .collect::<Result<Vec<_>, _>>()?;
        let n = armed.len();
        let mut all = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        all.extend(armed);
        self.len.store(all.len(), Ordering::Relaxed);
        Ok(n)
    }

    /// The faults for one request: each matching rule fires (if its probability says so and
    /// its count is not used up) and adds its action; the first error and the first partial
    /// failure win, latencies add up.
    pub fn inject(&self, op: Operation, target: &Target<'_>) -> Injection {
        let mut out = Injection::default();
        if self.is_empty() {
            return out;
        }
        let mut rules = self.rules.lock().unwrap_or_else(PoisonError::into_inner);
        for armed in rules.iter_mut() {
            if !armed.matches(op, target) {
                continue;
            }
            let wanted = match &armed.action {
                Action::Error(_) => out.error.is_none(),
                Action::Partial(_) => out.partial.is_none(),
                Action::Latency(_) => true,
            };
            if !wanted || !self.roll(armed.rule.probability) {
                continue;
            }
            armed.fired += 1;
            match &armed.action {
                Action::Error(r) => out.error = Some(r.clone()),
                Action::Latency(d) => out.delay += *d,
                Action::Partial(p) => out.partial = Some(p.clone()),
            }
        }
        out
    }

    /// True with probability `p` (always when unset). SplitMix64 over a counter: test traffic
    /// needs a fair coin, not a cryptographic one.
    fn roll(&self, p: Option<f64>) -> bool {
        let Some(p) = p else { return true };
        let mut z = self
            .seed
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(start_seed());
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn start_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    })
}

/// Which of `n` records a partial failure of `fraction` fails: `floor(n * fraction)` of them,
/// spread evenly, so a test knows how many fail.
pub fn failed_records(n: usize, fraction: f64) -> Vec<bool> {
    failed_candidates(&vec![true; n], fraction)
}

/// The same among the `candidates` only (the records on the rule's shard): `floor(c *
/// fraction)` of the `c` candidates fail, spread evenly; the others never do.
pub fn failed_candidates(candidates: &[bool], fraction: f64) -> Vec<bool> {
    let mut seen = 0usize;
    candidates
        .iter()
        .map(|&candidate| {
            if !candidate {
                return false;
            }
            let i = seen as f64;
            seen += 1;
            ((i + 1.0) * fraction).floor() > (i * fraction).floor()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(op: &str) -> FaultRule {
        FaultRule {
            operation: op.into(),
            ..FaultRule::default()
        }
    }

    fn named(stream: &str) -> Target<'_> {
        Target {
            streams: [Some(stream), None],
            shard_id: None,
        }
    }

    #[test]
    fn an_error_rule_fires_count_times_with_aws_status() {
        let f = Faults::new(vec![FaultRule {
            error: Some("ProvisionedThroughputExceededException".into()),
            count: Some(2),
            ..rule("PutRecord")
        }])
        .unwrap();
        let t = named("s");
        for _ in 0..2 {
            let e = f.inject(Operation::PutRecord, &t).error.unwrap();
            assert_eq!(e.error_type, "ProvisionedThroughputExceededException");
            assert_eq!(e.status, 400);
        }
        assert_eq!(f.inject(Operation::PutRecord, &t), Injection::default());
        assert_eq!(f.list()[0].1, 2);
    }

    #[test]
    fn rules_match_operation_stream_and_shard() {
        let f = Faults::new(vec![FaultRule {
            error: Some("ServiceUnavailable".into()),
            stream: Some("a".into()),
            shard_id: Some("shardId-000000000001".into()),
            ..rule("GetShardIterator")
        }])
        .unwrap();
        let hit = Target {
            streams: [None, stream_of_arn("arn:aws:kinesis:r:1:stream/a")],
            shard_id: Some("shardId-000000000001"),
        };
        assert_eq!(
            f.inject(Operation::GetShardIterator, &hit)
                .error
                .unwrap()
                .status,
            503
        );
        let other_shard = Target {
            shard_id: Some("shardId-000000000000"),
            ..hit
        };
        assert!(f
            .inject(Operation::GetShardIterator, &other_shard)
            .error
            .is_none());
        assert!(f
            .inject(Operation::GetShardIterator, &named("b"))
            .error
            .is_none());
        assert!(f.inject(Operation::ListShards, &hit).error.is_none());
    }

    #[test]
    fn latencies_add_up_and_probability_zero_never_fires() {
        let f = Faults::new(vec![
            FaultRule {
                latency_ms: Some(30),
                ..rule("ListStreams")
            },
            FaultRule {
                latency_ms: Some(20),
                ..rule("ListStreams")
            },
            FaultRule {
                error: Some("InternalFailure".into()),
                probability: Some(0.0),
                ..rule("ListStreams")
            },
        ])
        .unwrap();
        let i = f.inject(Operation::ListStreams, &Target::default());
        assert_eq!(i.delay, Duration::from_millis(50));
        assert!(i.error.is_none());
    }

    #[test]
    fn probability_half_fires_about_half_the_time() {
        let f = Faults::new(vec![FaultRule {
            error: Some("InternalFailure".into()),
            probability: Some(0.5),
            ..rule("ListStreams")
        }])
        .unwrap();
        let hits = (0..2000)
            .filter(|_| {
                f.inject(Operation::ListStreams, &Target::default())
                    .error
                    .is_some()
            })
            .count();
        assert!((800..1200).contains(&hits), "{hits}");
    }

    #[test]
    fn bad_rules_are_refused() {
        let bad = [
            (rule("Nope"), "unknown operation"),
            (rule("PutRecord"), "exactly one"),
            (
                FaultRule {
                    error: Some("MadeUpError".into()),
                    ..rule("PutRecord")
                },
                "no known status",
            ),
            (
                FaultRule {
                    partial_fraction: Some(0.5),
                    ..rule("PutRecord")
                },
                "PutRecords only",
            ),
            (
                FaultRule {
                    latency_ms: Some(1),
                    probability: Some(1.5),
                    ..rule("PutRecord")
                },
                "between 0 and 1",
            ),
            (
                FaultRule {
                    latency_ms: Some(1),
                    shard_id: Some("shardId-000000000000".into()),
                    ..rule("PutRecords")
                },
                "shard-id",
            ),
        ];
        assert!(
            Faults::new(vec![FaultRule {
                partial_fraction: Some(1.0),
                shard_id: Some("shardId-000000000000".into()),
                ..rule("PutRecords")
            }])
            .is_ok(),
            "a partial rule matches its records' shard"
        );
        for (r, text) in bad {
            let e = Faults::new(vec![r.clone()]).err().unwrap();
            assert!(e.to_string().contains(text), "{r:?}: {e}");
        }
        assert!(Faults::new(vec![FaultRule {
            error: Some("KMSThrottlingException".into()),
            ..rule("PutRecord")
        }])
        .is_ok());
    }

    #[test]
    fn error_types_are_allocated_once() {
        assert!(std::ptr::eq(
            leak("SomeTypeException"),
            leak("SomeTypeException")
        ));
    }

    #[test]
    fn json_admin_round_trip_is_all_or_nothing() {
        let f = Faults::default();
        assert_eq!(
            f.add_json(br#"{"operation":"PutRecord","error":"InternalFailure","count":1}"#)
                .unwrap(),
            1
        );
        assert!(f
            .add_json(br#"[{"operation":"PutRecord","latency-ms":5},{"operation":"Nope","latency-ms":5}]"#)
            .is_err());
        assert_eq!(f.list().len(), 1);
        let listed: serde_json::Value = serde_json::from_slice(&f.list_json()).unwrap();
        assert_eq!(listed["faults"][0]["error"], "InternalFailure");
        assert_eq!(listed["faults"][0]["fired"], 0);
        f.clear();
        assert!(f.is_empty());
    }

    #[test]
    fn partial_failures_are_spread_and_counted() {
        assert_eq!(
            failed_records(4, 0.5),
            vec![false, true, false, true],
            "floor(4 * 0.5) = 2"
        );
        assert_eq!(failed_records(3, 1.0), vec![true; 3]);
        assert_eq!(failed_records(3, 0.0), vec![false; 3]);
        assert_eq!(failed_records(10, 0.3).iter().filter(|f| **f).count(), 3);
        assert_eq!(
            failed_candidates(&[false, true, false, true, true, true], 0.5),
            [false, false, false, true, false, true]
        );
    }
}
