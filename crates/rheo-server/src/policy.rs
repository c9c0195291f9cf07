//! Authorization wiring: the resource-policy lookup the authorizer reads on every request
//! (parsed once per policy text, from the domain's synchronous index), the policy-language
//! check PutResourcePolicy applies, and the `rheo policy simulate` subcommand.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use clap::{Args, Subcommand};
use rheo_iam::cases::{self, SimRequest};
use rheo_iam::{Decision, Policy, PolicyType, ResourcePolicyLookup};
use rheo_streams::Streams;

/// The exit code of a simulation that ends in a deny (0 is allow, 1 an error, 2 a usage error).
pub const DENY_EXIT: u8 = 3;

/// The lookup the authorizer calls per resource ARN. A stream's current policy text comes
/// from the domain's index; its parsed form is kept here until the text changes (the index
/// hands out the same `Arc` until then, so the check is a pointer comparison).
pub fn resource_policy_lookup(streams: Streams) -> ResourcePolicyLookup {
    type Cache = RwLock<HashMap<String, (Arc<str>, Arc<Policy>)>>;
    let cache: Arc<Cache> = Arc::default();
    Arc::new(move |arn: &str| {
        let Some(text) = streams.resource_policy_of(arn) else {
            if cache.read().ok()?.contains_key(arn) {
                if let Ok(mut c) = cache.write() {
                    c.remove(arn);
                }
            }
            return None;
        };
        if let Some((seen, policy)) = cache.read().ok()?.get(arn) {
            if Arc::ptr_eq(seen, &text) {
                return Some(policy.clone());
            }
        }
        let policy = match Policy::parse(arn, PolicyType::Resource, &text) {
            Ok(p) => Arc::new(p),
            Err(e) => {
                // Only a policy stored before its language was checked can get here (`{}`
                // used to be accepted): it grants nothing and denies nothing.
                tracing::warn!(resource = arn, error = %e, "a stored resource policy is not valid; it is ignored");
                return None;
            }
        };
        if let Ok(mut c) = cache.write() {
            c.insert(arn.to_string(), (text, policy.clone()));
        }
        Some(policy)
    })
}

/// The policy middleware for `principals` (ARN, account, identity policy texts), reading the
/// streams' and consumers' resource policies.
pub fn authorizer<'a>(
    principals: impl IntoIterator<Item = (&'a str, &'a str, &'a [String])>,
    streams: Streams,
) -> anyhow::Result<rheo_iam::Authorizer> {
    rheo_iam::Authorizer::new(principals, resource_policy_lookup(streams))
        .map_err(|(which, e)| anyhow::anyhow!("the identity policy {which} is not valid: {e}"))
}

/// The check PutResourcePolicy applies to the policy language (rheo-iam's parser).
pub fn policy_check() -> rheo_streams::PolicyCheck {
    Arc::new(|text: &str| {
        Policy::parse("resource policy", PolicyType::Resource, text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

#[derive(Args, Debug)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub action: PolicyAction,
}

#[derive(Subcommand, Debug)]
pub enum PolicyAction {
    /// Evaluate a request against policies, like IAM's policy simulator: prints allow or deny
    /// and the statement that decided; exits 0 on allow, 3 on deny.
    Simulate(SimulateArgs),
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// An identity policy of the caller (JSON file); repeat for several.
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,
    /// The resource's policy (JSON file).
    #[arg(long, value_name = "FILE")]
    pub resource_policy: Option<PathBuf>,
    /// The action, e.g. kinesis:PutRecord.
    #[arg(long, required_unless_present = "cases")]
    pub action: Option<String>,
    /// The resource's ARN.
    #[arg(long, required_unless_present = "cases")]
    pub resource: Option<String>,
    /// The caller's ARN (its account is taken from it).
    #[arg(long, required_unless_present = "cases")]
    pub principal: Option<String>,
    /// A condition key's value, e.g. aws:SourceIp=10.0.0.1 or aws:SecureTransport=true;
    /// repeat a key for a multi-valued one.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// Run a table of cases (tests/policy/cases.json) instead: prints each, exits 1 if any
    /// case does not get its expected decision.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["policies", "resource_policy", "action", "resource", "principal", "context"])]
    pub cases: Option<PathBuf>,
}

pub fn main(args: PolicyArgs) -> ExitCode {
    let PolicyAction::Simulate(args) = args.action;
    let result = match &args.cases {
        Some(file) => run_cases(file),
        None => simulate(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn simulate(args: &SimulateArgs) -> Result<ExitCode, String> {
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let identity = args
        .policies
        .iter()
        .map(|p| {
            Policy::parse(name(p), PolicyType::Identity, &read(p)?)
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let resource = args
        .resource_policy
        .as_deref()
        .map(|p| {
            Policy::parse(name(p), PolicyType::Resource, &read(p)?)
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .transpose()?;
    let mut context: Vec<(String, Vec<String>)> = Vec::new();
    for kv in &args.context {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--context {kv:?}: expected KEY=VALUE"))?;
        match context
            .iter_mut()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
        {
            Some((_, values)) => values.push(v.to_string()),
            None => context.push((k.to_string(), vec![v.to_string()])),
        }
    }
    let req = SimRequest {
        principal: args.principal.clone().unwrap_or_default(),
        action: args.action.clone().unwrap_or_default(),
        resource: args.resource.clone().unwrap_or_default(),
        context,
    };
    let sim = cases::simulate(&identity, resource.as_ref(), &req)?;
    println!("{}", sim.describe());
    if let Some(message) = &sim.message {
        println!("{message}");
    }
    Ok(if sim.decision == Decision::Allow {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(DENY_EXIT)
    })
}

fn run_cases(file: &Path) -> Result<ExitCode, String> {
    let all = cases::load(&read(file)?).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut failed = 0;
    for case in &all {
        match cases::check(case) {
            Ok(sim) => println!("ok    {}: {}", case.name, sim.describe()),
            Err(why) => {
                failed += 1;
                println!("FAIL  {why}");
            }
        }
    }
    println!(
        "{} cases, {} passed, {failed} failed",
        all.len(),
        all.len() - failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
