//! IAM's policy language for every Rheo service: documents are parsed and validated once
//! ([`Policy::parse`]), evaluated with AWS's logic ([`evaluate`]) for a request's
//! [`Facts`], and enforced as a middleware of the `rheo_http` chain ([`Authorizer`]), whose
//! refusals are AccessDeniedException in AWS's words.
//!
//! **Architecture invariant:** knows no service: actions, resources and condition keys are
//! strings the bindings and the request context supply.

pub mod cases;
pub mod condition;
pub mod eval;
pub mod facts;
pub mod pattern;
pub mod policy;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use rheo_http::middleware::{Middleware, Refusal, Request, Resource};
use rheo_http::RequestContext;

pub use eval::{denial_message, evaluate, Decision, Outcome, Policies, StatementRef};
pub use facts::Facts;
pub use policy::{Policy, PolicyError, PolicyType};

/// The `__type` of a refusal, as Kinesis (and most JSON services) name it.
pub const ACCESS_DENIED: &str = "AccessDeniedException";
/// The HTTP status Kinesis answers AccessDeniedException with (the model gives the error no
/// status of its own, so it is a client error, 400, as AWS's answers show).
pub const ACCESS_DENIED_STATUS: u16 = 400;
/// The caller AWS names in a refusal of a request that carried no identity.
pub const ANONYMOUS: &str = "anonymous";

/// The resource policy of a resource ARN, if it has one.
pub type ResourcePolicyLookup = Arc<dyn Fn(&str) -> Option<Arc<Policy>> + Send + Sync>;

/// One caller the authorizer knows: its account and identity policies.
pub struct Identity {
    pub account: Arc<str>,
    pub policies: Vec<Policy>,
}

/// The policy middleware: every decoded request's action is evaluated against each resource
/// it names, with the caller's identity policies and the resource's policy.
pub struct Authorizer {
    identities: HashMap<Arc<str>, Identity>,
    resource_policies: ResourcePolicyLookup,
    /// Milliseconds since the epoch, for `aws:CurrentTime` (a clock in tests).
    now_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl Authorizer {
    /// An authorizer for `principals` (ARN, account, identity policy texts). A text that is not
    /// a valid identity policy is an error naming the principal and the policy's position:
    /// a server must not start with a policy it would misread.
    pub fn new<'a>(
        principals: impl IntoIterator<Item = (&'a str, &'a str, &'a [String])>,
        resource_policies: ResourcePolicyLookup,
    ) -> Result<Authorizer, (String, PolicyError)> {
        let mut identities = HashMap::new();
        for (arn, account, texts) in principals {
            let policies = texts
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    Policy::parse(format!("{arn} policy {}", i + 1), PolicyType::Identity, t)
                        .map_err(|e| (format!("{arn} policy {}", i + 1), e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            identities.insert(
                Arc::from(arn),
                Identity {
                    account: Arc::from(account),
                    policies,
                },
            );
        }
        Ok(Authorizer {
            identities,
            resource_policies,
            now_ms: Arc::new(system_now_ms),
        })
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, now_ms: Arc<dyn Fn() -> i64 + Send + Sync>) -> Authorizer {
        self.now_ms = now_ms;
        self
    }

    /// Evaluates one action on one resource ARN for the request's caller.
    fn check(
        &self,
        ctx: &RequestContext,
        principal: &str,
        action: &str,
        resource: &str,
    ) -> Result<(), Refusal> {
        let identity = self.identities.get(principal);
        let account = identity.map_or(&*ctx.account, |i| &*i.account);
        let resource_policy = (self.resource_policies)(resource);
        let policies = Policies {
            identity: identity.map_or(&[][..], |i| i.policies.as_slice()),
            resource: resource_policy.as_deref(),
        };
        let facts = Facts {
            principal_arn: principal,
            principal_account: account,
            action,
            resource,
            source_ip: ctx.source.map(|s| s.ip()),
            secure_transport: Some(ctx.secure_transport),
            current_time_ms: Some((self.now_ms)()),
            extra: &[],
        };
        let outcome = evaluate(policies, &facts);
        let statement = outcome.statement.and_then(|r| policies.statement(r));
        if outcome.decision == Decision::Allow {
            // Across accounts an Allow means the owner's resource policy granted it (the
            // evaluation requires one): the request may now reach that account's resource.
            // The first such account is kept; a request naming resources of two other
            // accounts reaches only the first, the binding refusing the other as unknown.
            if let Some(owner) = pattern::arn_account(resource).filter(|a| *a != account) {
                let _ = ctx.granted_account.set(Arc::from(owner));
            }
            tracing::trace!(
                request_id = %ctx.request_id, principal, action, resource,
                policy = statement.map(|(p, _)| p.name.as_str()),
                sid = statement.and_then(|(_, s)| s.sid.as_deref()),
                "allowed"
            );
            return Ok(());
        }
        tracing::debug!(
            request_id = %ctx.request_id, principal, action, resource,
            decision = outcome.decision.as_str(),
            policy = statement.map(|(p, _)| p.name.as_str()),
            sid = statement.and_then(|(_, s)| s.sid.as_deref()),
            "access denied"
        );
        Err(refusal(
            denial_message(&outcome, principal, action, resource).unwrap_or_default(),
        ))
    }
}

fn refusal(message: String) -> Refusal {
    Refusal {
        error_type: ACCESS_DENIED,
        status: ACCESS_DENIED_STATUS,
        message,
    }
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

thread_local! {
    // The ARN of a resource named by name is formatted here, so the allow path allocates
    // nothing once a thread has served one request.
    static ARN: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Writes the ARN `resource` stands for into `buf`.
fn write_arn(buf: &mut String, r: &Resource<'_>, ctx: &RequestContext) {
    buf.clear();
    match (r.arn, r.name) {
        (Some(arn), _) => buf.push_str(arn),
        (None, Some(name)) => {
            let _ = write!(
                buf,
                "arn:aws:{}:{}:{}:{}/{name}",
                r.service, ctx.region, ctx.account, r.kind
            );
        }
        (None, None) => {
            let _ = write!(
                buf,
                "arn:aws:{}:{}:{}:*",
                r.service, ctx.region, ctx.account
            );
        }
    }
}

impl Middleware for Authorizer {
    fn before(&self, request: &Request<'_>) -> Result<(), Refusal> {
        let ctx = request.context;
        let action = request.action;
        let service = action.split_once(':').map_or(action, |(s, _)| s);
        let Some(principal) = ctx.principal_arn.as_deref() else {
            // No identity, no Allow: refused the way AWS words an anonymous caller's refusal.
            let resource = request
                .resources
                .first()
                .and_then(|r| r.arn(ctx))
                .map(|a| a.into_owned())
                .unwrap_or_else(|| format!("arn:aws:{service}:{}:{}:*", ctx.region, ctx.account));
            return Err(refusal(format!(
                "User: {ANONYMOUS} is not authorized to perform: {action} on resource: {resource} \
                 because no identity-based policy allows the {action} action"
            )));
        };
        ARN.with(|cell| {
            let mut owned;
            // A re-entrant use (none today) gets its own buffer rather than a panic.
            let mut guard = cell.try_borrow_mut();
            let buf: &mut String = match guard.as_deref_mut() {
                Ok(b) => b,
                Err(_) => {
                    owned = String::new();
                    &mut owned
                }
            };
            if request.resources.is_empty() {
                // An action on no particular resource (ListStreams, ...) is evaluated on the
                // account's every resource of the service, which `*` matches.
                buf.clear();
                let _ = write!(buf, "arn:aws:{service}:{}:{}:*", ctx.region, ctx.account);
                return self.check(ctx, principal, action, buf);
            }
            for r in request.resources {
                write_arn(buf, r, ctx);
                self.check(ctx, principal, action, buf)?;
            }
            Ok(())
        })
    }
}
