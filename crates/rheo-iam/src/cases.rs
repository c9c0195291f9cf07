//! The simulator: one request evaluated against given policies, with its decision, the
//! deciding statement and AWS's refusal text; and the table-driven case files
//! (`tests/policy/cases.json`) that `rheo policy simulate --cases`, this crate's tests and the
//! black-box suite all run.

use serde_json::Value;

use crate::condition::parse_time_ms;
use crate::eval::{denial_message, evaluate, Decision, Policies};
use crate::facts::Facts;
use crate::pattern::arn_account;
use crate::policy::{Policy, PolicyType};

/// A request to simulate.
#[derive(Clone, Debug, Default)]
pub struct SimRequest {
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// Condition keys and their values (`aws:SourceIp`, `aws:SecureTransport`,
    /// `aws:CurrentTime`, `aws:PrincipalAccount` fill the request's own facts; any other key
    /// is passed as given).
    pub context: Vec<(String, Vec<String>)>,
}

/// What the simulator answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    pub decision: Decision,
    /// The kind, name, Sid and index of the deciding statement (an Allow or explicit Deny).
    pub policy_type: Option<PolicyType>,
    pub policy_name: Option<String>,
    pub sid: Option<String>,
    pub statement_index: Option<usize>,
    /// The caller is its account's root, allowed by identity.
    pub root: bool,
    /// AWS's AccessDenied text, for a deny.
    pub message: Option<String>,
}

impl Simulation {
    /// One line, like IAM's simulator: the decision and what decided it.
    pub fn describe(&self) -> String {
        let mut line = self.decision.as_str().to_string();
        match (&self.policy_type, &self.policy_name, self.statement_index) {
            (Some(t), Some(name), Some(i)) => {
                line.push_str(&format!(
                    " by {} policy {name:?}, statement {i}{}",
                    t.phrase(),
                    self.sid
                        .as_ref()
                        .map(|s| format!(" (Sid {s:?})"))
                        .unwrap_or_default()
                ));
            }
            _ if self.root => line.push_str(" (the account's root user)"),
            _ => {}
        }
        line
    }
}

/// A context value the request's own facts take (`aws:SourceIp`, ...).
fn fact<'c>(context: &'c [(String, Vec<String>)], key: &str) -> Option<&'c str> {
    context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
}

/// Evaluates `req` against identity policies and an optional resource policy.
pub fn simulate(
    identity: &[Policy],
    resource: Option<&Policy>,
    req: &SimRequest,
) -> Result<Simulation, String> {
    let c = &req.context;
    let source_ip = fact(c, "aws:SourceIp")
        .map(|ip| {
            ip.parse()
                .map_err(|_| format!("aws:SourceIp {ip:?} is not an IP address"))
        })
        .transpose()?;
    let secure_transport = fact(c, "aws:SecureTransport")
        .map(|b| match b.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("aws:SecureTransport {b:?} is not true or false")),
        })
        .transpose()?;
    let current_time_ms = match fact(c, "aws:CurrentTime") {
        Some(t) => {
            Some(parse_time_ms(t).ok_or_else(|| format!("aws:CurrentTime {t:?} is not a time"))?)
        }
        None => Some(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        ),
    };
    let account = fact(c, "aws:PrincipalAccount")
        .or_else(|| arn_account(&req.principal))
        .ok_or_else(|| format!("the principal {:?} names no account", req.principal))?;
    const OWN: [&str; 4] = [
        "aws:SourceIp",
        "aws:SecureTransport",
        "aws:CurrentTime",
        "aws:PrincipalAccount",
    ];
    let extra: Vec<(String, Vec<String>)> = c
        .iter()
        .filter(|(k, _)| !OWN.iter().any(|o| o.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    let facts = Facts {
        principal_arn: &req.principal,
        principal_account: account,
        action: &req.action,
        resource: &req.resource,
        source_ip,
        secure_transport,
        current_time_ms,
        extra: &extra,
    };
    let policies = Policies { identity, resource };
    let outcome = evaluate(policies, &facts);
    let statement = outcome.statement.and_then(|r| policies.statement(r));
    Ok(Simulation {
        decision: outcome.decision,
        policy_type: outcome.statement.map(|r| r.policy_type),
        policy_name: statement.map(|(p, _)| p.name.clone()),
        sid: statement.and_then(|(_, s)| s.sid.clone()),
        statement_index: outcome.statement.map(|r| r.statement_index),
        root: outcome.root,
        message: denial_message(&outcome, &req.principal, &req.action, &req.resource),
    })
}

/// One row of a case file.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub identity: Vec<Policy>,
    pub resource_policy: Option<Policy>,
    /// The documents as written (the black-box suite gives them to a server).
    pub identity_json: Vec<Value>,
    pub resource_policy_json: Option<Value>,
    pub request: SimRequest,
    pub expect: Expected,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub decision: Decision,
    pub policy_type: Option<PolicyType>,
    pub sid: Option<String>,
}

fn decision(s: &str) -> Option<Decision> {
    Some(match s {
        "allow" => Decision::Allow,
        "implicit-deny" => Decision::ImplicitDeny,
        "explicit-deny" => Decision::ExplicitDeny,
        _ => return None,
    })
}

/// Parses a case file: a JSON list of
/// `{name, identity: [policy...], resource_policy?, request: {principal, action, resource,
/// context?}, expect: {decision, policy_type?, sid?}}`.
pub fn load(text: &str) -> Result<Vec<Case>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let list = doc
        .as_array()
        .ok_or("a case file is a JSON list of cases")?;
    list.iter().enumerate().map(|(i, c)| case(i, c)).collect()
}

fn case(i: usize, c: &Value) -> Result<Case, String> {
    let name = c
        .get("name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("case {}", i + 1), str::to_string);
    let err = |what: &str| format!("{name}: {what}");
    let identity_json: Vec<Value> = match c.get("identity") {
        None => Vec::new(),
        Some(Value::Array(l)) => l.clone(),
        Some(_) => return Err(err("identity must be a list of policies")),
    };
    let identity = identity_json
        .iter()
        .enumerate()
        .map(|(j, p)| {
            Policy::from_value(format!("identity {}", j + 1), PolicyType::Identity, p)
                .map_err(|e| err(&format!("identity {}: {e}", j + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let resource_policy_json = c.get("resource_policy").filter(|v| !v.is_null()).cloned();
    let resource_policy = resource_policy_json
        .as_ref()
        .map(|p| Policy::from_value("resource", PolicyType::Resource, p))
        .transpose()
        .map_err(|e| err(&format!("resource_policy: {e}")))?;
    let r = c.get("request").ok_or_else(|| err("no request"))?;
    let field = |k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| err(&format!("request.{k} is missing")))
    };
    let mut context = Vec::new();
    if let Some(ctx) = r.get("context") {
        let ctx = ctx
            .as_object()
            .ok_or_else(|| err("request.context must be an object"))?;
        for (k, v) in ctx {
            let values = match v {
                Value::Array(l) => l.iter().map(scalar).collect::<Option<Vec<_>>>(),
                v => scalar(v).map(|s| vec![s]),
            }
            .ok_or_else(|| err(&format!("context {k}: values must be scalars")))?;
            context.push((k.clone(), values));
        }
    }
    let request = SimRequest {
        principal: field("principal")?,
        action: field("action")?,
        resource: field("resource")?,
        context,
    };
    let e = c.get("expect").ok_or_else(|| err("no expect"))?;
    let expect = Expected {
        decision: e
            .get("decision")
            .and_then(Value::as_str)
            .and_then(decision)
            .ok_or_else(|| err("expect.decision must be allow, implicit-deny or explicit-deny"))?,
        policy_type: match e.get("policy_type").and_then(Value::as_str) {
            None => None,
            Some("identity") => Some(PolicyType::Identity),
            Some("resource") => Some(PolicyType::Resource),
            Some(_) => return Err(err("expect.policy_type must be identity or resource")),
        },
        sid: e.get("sid").and_then(Value::as_str).map(str::to_string),
    };
    Ok(Case {
        name,
        identity,
        resource_policy,
        identity_json,
        resource_policy_json,
        request,
        expect,
    })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Runs one case: `Ok` with the simulation when it meets the expectation, else why not.
pub fn check(case: &Case) -> Result<Simulation, String> {
    let sim = simulate(&case.identity, case.resource_policy.as_ref(), &case.request)
        .map_err(|e| format!("{}: {e}", case.name))?;
    let e = &case.expect;
    // For an implicit deny the "policy type" is the kind whose Allow was missing, which the
    // message names.
    let seen_type = match sim.decision {
        Decision::ImplicitDeny => sim.message.as_deref().map(|m| {
            if m.contains("no resource-based") {
                PolicyType::Resource
            } else {
                PolicyType::Identity
            }
        }),
        _ => sim.policy_type,
    };
    let ok = sim.decision == e.decision
        && e.policy_type.is_none_or(|t| seen_type == Some(t))
        && (e.sid.is_none() || e.sid == sim.sid);
    if ok {
        Ok(sim)
    } else {
        Err(format!(
            "{}: expected {}{}{}, got {} ({})",
            case.name,
            e.decision.as_str(),
            e.policy_type
                .map(|t| format!(" ({})", t.phrase()))
                .unwrap_or_default(),
            e.sid
                .as_ref()
                .map(|s| format!(" by Sid {s:?}"))
                .unwrap_or_default(),
            sim.describe(),
            sim.message.as_deref().unwrap_or("-"),
        ))
    }
}
