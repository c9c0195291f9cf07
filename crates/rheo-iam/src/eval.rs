//! AWS's evaluation logic for one request against the caller's identity policies and the
//! resource's policy: an explicit Deny anywhere wins; otherwise an Allow is needed, from
//! either kind within one account, from both (the resource policy naming the caller or its
//! account) across accounts. The account's root user is allowed by identity in its own
//! account.

use crate::facts::Facts;
use crate::pattern::{arn_account, arn_match, glob};
use crate::policy::{Effect, Matcher, Policy, PolicyType, Principals, Statement};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    ImplicitDeny,
    ExplicitDeny,
}

impl Decision {
    /// `allow`, `implicit-deny`, `explicit-deny` (the simulator's and the cases' words).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::ImplicitDeny => "implicit-deny",
            Decision::ExplicitDeny => "explicit-deny",
        }
    }
}

/// Where the deciding statement is: which policy (`index` into the identity policies, or the
/// resource policy) and which statement of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementRef {
    pub policy_type: PolicyType,
    pub policy_index: usize,
    pub statement_index: usize,
}

/// The decision and what made it: for an Allow or an explicit Deny the statement; for an
/// implicit deny the kind of policy whose Allow was missing. `Copy`: no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub decision: Decision,
    pub statement: Option<StatementRef>,
    /// For an implicit deny: the policy type that allowed nothing (AWS names it).
    pub missing: Option<PolicyType>,
    /// The caller is its account's root user and was allowed by identity for that.
    pub root: bool,
}

/// The caller's identity policies and the resource's policy, if it has one.
#[derive(Clone, Copy)]
pub struct Policies<'p> {
    pub identity: &'p [Policy],
    pub resource: Option<&'p Policy>,
}

impl<'p> Policies<'p> {
    /// The statement an outcome points at.
    pub fn statement(&self, r: StatementRef) -> Option<(&'p Policy, &'p Statement)> {
        let policy = match r.policy_type {
            PolicyType::Identity => self.identity.get(r.policy_index)?,
            PolicyType::Resource => self.resource?,
        };
        Some((policy, policy.statements.get(r.statement_index)?))
    }
}

/// Whether `arn` is the root user of `account` (`arn:aws:iam::<account>:root`).
pub fn is_root(arn: &str, account: &str) -> bool {
    arn.strip_prefix("arn:aws:iam::")
        .and_then(|r| r.strip_suffix(":root"))
        .is_some_and(|a| a == account)
}

pub fn evaluate(policies: Policies<'_>, facts: &Facts<'_>) -> Outcome {
    let mut identity_allow = None;
    let mut identity_deny = None;
    for (pi, policy) in policies.identity.iter().enumerate() {
        scan(
            policy,
            PolicyType::Identity,
            pi,
            facts,
            &mut identity_allow,
            &mut identity_deny,
        );
    }
    let mut resource_allow = None;
    let mut resource_deny = None;
    if let Some(policy) = policies.resource {
        scan(
            policy,
            PolicyType::Resource,
            0,
            facts,
            &mut resource_allow,
            &mut resource_deny,
        );
    }
    let deny = |r: StatementRef| Outcome {
        decision: Decision::ExplicitDeny,
        statement: Some(r),
        missing: None,
        root: false,
    };
    if let Some(r) = identity_deny.or(resource_deny) {
        return deny(r);
    }
    let root = is_root(facts.principal_arn, facts.principal_account);
    let allow = |r: Option<StatementRef>, root: bool| Outcome {
        decision: Decision::Allow,
        statement: r,
        missing: None,
        root,
    };
    let implicit = |missing: PolicyType| Outcome {
        decision: Decision::ImplicitDeny,
        statement: None,
        missing: Some(missing),
        root: false,
    };
    let same_account = arn_account(facts.resource).is_none_or(|a| a == facts.principal_account);
    let identity_ok = identity_allow.is_some() || root;
    if same_account {
        return match (identity_allow, resource_allow) {
            (Some(r), _) => allow(Some(r), false),
            (None, Some(r)) => allow(Some(r), false),
            (None, None) if root => allow(None, true),
            (None, None) => implicit(PolicyType::Identity),
        };
    }
    if !identity_ok {
        return implicit(PolicyType::Identity);
    }
    match resource_allow {
        // Across accounts it is the resource's owner granting access: that statement decides.
        Some(r) => allow(Some(r), false),
        None => implicit(PolicyType::Resource),
    }
}

/// Records the first applicable Allow and Deny statement of `policy`.
fn scan(
    policy: &Policy,
    policy_type: PolicyType,
    policy_index: usize,
    facts: &Facts<'_>,
    allow: &mut Option<StatementRef>,
    deny: &mut Option<StatementRef>,
) {
    for (si, s) in policy.statements.iter().enumerate() {
        let slot = match s.effect {
            Effect::Allow if allow.is_none() => &mut *allow,
            Effect::Deny if deny.is_none() => &mut *deny,
            _ => continue,
        };
        if applies(s, policy_type, facts) {
            *slot = Some(StatementRef {
                policy_type,
                policy_index,
                statement_index: si,
            });
        }
    }
}

fn applies(s: &Statement, policy_type: PolicyType, facts: &Facts<'_>) -> bool {
    let action = list_match(&s.actions, |p| glob(p, facts.action, true));
    let resource = match &s.resources {
        Some(m) => list_match(m, |p| arn_match(p, facts.resource)),
        // A resource policy without Resource means the resource it is attached to.
        None => policy_type == PolicyType::Resource,
    };
    let principal = match (&s.principals, policy_type) {
        (_, PolicyType::Identity) => true,
        (Some(m), PolicyType::Resource) => {
            let hit = m.items.iter().any(|p| principal_match(p, facts));
            hit != m.negated
        }
        (None, PolicyType::Resource) => false,
    };
    action && resource && principal && s.conditions.iter().all(|c| c.holds(facts))
}

fn list_match(m: &Matcher<String>, f: impl Fn(&str) -> bool) -> bool {
    m.items.iter().any(|p| f(p)) != m.negated
}

fn principal_match(p: &Principals, facts: &Facts<'_>) -> bool {
    if p.anyone {
        return true;
    }
    let caller = facts.principal_arn;
    // A role's session (`arn:aws:sts::<acct>:assumed-role/<role>/<session>`) is matched by
    // the role's ARN, as IAM matches it.
    let role = caller
        .strip_prefix("arn:aws:sts::")
        .and_then(|r| r.split_once(":assumed-role/"))
        .and_then(|(acct, rest)| Some((acct, rest.split_once('/')?.0)));
    p.aws.iter().any(|id| {
        if crate::policy::is_account_id(id) {
            return id == facts.principal_account;
        }
        if let Some(acct) = id
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.strip_suffix(":root"))
        {
            return acct == facts.principal_account;
        }
        if id == caller {
            return true;
        }
        role.is_some_and(|(acct, name)| {
            id.strip_prefix("arn:aws:iam::")
                .and_then(|r| r.split_once(":role/"))
                .is_some_and(|(a, path)| a == acct && path.rsplit('/').next() == Some(name))
        })
    })
}

/// AWS's AccessDenied text for a refused request.
pub fn denial_message(
    outcome: &Outcome,
    principal: &str,
    action: &str,
    resource: &str,
) -> Option<String> {
    let why = match (outcome.decision, outcome.statement, outcome.missing) {
        (Decision::Allow, _, _) => return None,
        (Decision::ExplicitDeny, Some(r), _) => {
            let article = match r.policy_type {
                PolicyType::Identity => "an",
                PolicyType::Resource => "a",
            };
            format!(
                "with an explicit deny in {article} {} policy",
                r.policy_type.phrase()
            )
        }
        (_, _, missing) => format!(
            "because no {} policy allows the {action} action",
            missing.unwrap_or(PolicyType::Identity).phrase()
        ),
    };
    Some(format!(
        "User: {principal} is not authorized to perform: {action} on resource: {resource} {why}"
    ))
}
