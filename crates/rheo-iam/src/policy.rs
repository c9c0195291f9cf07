//! The policy document: parsed and validated once, then evaluated many times without
//! allocating. Grammar as IAM's: `Version`, `Id`, `Statement` (one object or a list), each
//! statement with `Sid`, `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`,
//! `Principal`/`NotPrincipal` (resource policies only) and `Condition`.

use serde_json::{Map, Value};

use crate::condition::Condition;

/// Which kind of policy a document is: attached to an identity, or to a resource (it then
/// names the principals it applies to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyType {
    Identity,
    Resource,
}

impl PolicyType {
    /// The words AWS's AccessDenied message uses for it.
    pub fn phrase(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity-based",
            PolicyType::Resource => "resource-based",
        }
    }
}

/// A document IAM would refuse, with the reason in IAM's words where IAM has them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("This policy contains invalid Json")]
    Json,
    #[error("Syntax errors in policy: {0}")]
    Syntax(String),
    #[error("The policy must contain a valid version string")]
    Version,
    #[error("Missing required field {0}")]
    Missing(&'static str),
    #[error("Policy statement must contain {0}")]
    MustContain(&'static str),
    #[error("Policy document should not specify a principal.")]
    PrincipalInIdentityPolicy,
    #[error("Invalid principal in policy: {0}")]
    Principal(String),
    #[error("Invalid Condition: {0}")]
    Condition(String),
    #[error("Vendor {0} is not valid")]
    ActionVendor(String),
    #[error("Resource {0} must be in ARN format or \"*\".")]
    Resource(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A list of patterns, or its negation (`NotAction`, `NotResource`, `NotPrincipal`).
#[derive(Clone, Debug)]
pub struct Matcher<T> {
    pub negated: bool,
    pub items: Vec<T>,
}

/// The principals a resource-policy statement names.
#[derive(Clone, Debug, Default)]
pub struct Principals {
    /// `"*"` or `{"AWS": "*"}`: anyone.
    pub anyone: bool,
    /// `{"AWS": [...]}`: account ids (bare or as `arn:aws:iam::<acct>:root`) and user or role
    /// ARNs.
    pub aws: Vec<String>,
    /// Service, Federated and CanonicalUser principals: kept so a policy with them is valid,
    /// never matched by a caller of this server.
    pub other: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Matcher<String>,
    /// `None` only where a resource policy leaves it out (it then means the resource itself).
    pub resources: Option<Matcher<String>>,
    pub principals: Option<Matcher<Principals>>,
    pub conditions: Vec<Condition>,
}

/// A parsed, valid policy document.
#[derive(Clone, Debug)]
pub struct Policy {
    /// What the simulator and the decision call it (a file name, `policy 1`, ...).
    pub name: String,
    pub kind: PolicyType,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

impl Policy {
    /// Parses and validates `text` as a policy of `kind`.
    pub fn parse(
        name: impl Into<String>,
        kind: PolicyType,
        text: &str,
    ) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(text).map_err(|_| PolicyError::Json)?;
        Policy::from_value(name, kind, &value)
    }

    pub fn from_value(
        name: impl Into<String>,
        kind: PolicyType,
        value: &Value,
    ) -> Result<Policy, PolicyError> {
        let Value::Object(doc) = value else {
            return Err(PolicyError::Json);
        };
        let mut statements = None;
        let mut id = None;
        for (key, v) in doc {
            match key.as_str() {
                "Version" => match v.as_str() {
                    Some("2012-10-17" | "2008-10-17") => {}
                    _ => return Err(PolicyError::Version),
                },
                "Id" => {
                    id = Some(
                        v.as_str()
                            .ok_or_else(|| PolicyError::Syntax("Id must be a string".into()))?
                            .to_string(),
                    )
                }
                "Statement" => statements = Some(v),
                other => return Err(PolicyError::Syntax(format!("unknown field {other}"))),
            }
        }
        let statements = match statements.ok_or(PolicyError::Missing("Statement"))? {
            Value::Object(s) => vec![statement(kind, s)?],
            Value::Array(list) => list
                .iter()
                .map(|s| match s {
                    Value::Object(s) => statement(kind, s),
                    _ => Err(PolicyError::Syntax("a Statement must be an object".into())),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(PolicyError::Syntax(
                    "Statement must be an object or a list of objects".into(),
                ))
            }
        };
        Ok(Policy {
            name: name.into(),
            kind,
            id,
            statements,
        })
    }
}

/// A string or a list of strings (IAM accepts both wherever a list is allowed).
fn strings(field: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| {
        v.as_str().map(str::to_string).ok_or_else(|| {
            PolicyError::Syntax(format!("{field} must be a string or a list of strings"))
        })
    };
    match v {
        Value::Array(list) if !list.is_empty() => list.iter().map(one).collect(),
        Value::Array(_) => Err(PolicyError::Syntax(format!("{field} must not be empty"))),
        v => Ok(vec![one(v)?]),
    }
}

/// Exactly one of `name` and `not_name`, as a matcher.
fn either(
    s: &Map<String, Value>,
    name: &'static str,
    not_name: &'static str,
) -> Result<Option<Matcher<String>>, PolicyError> {
    match (s.get(name), s.get(not_name)) {
        (Some(_), Some(_)) => Err(PolicyError::Syntax(format!(
            "a statement cannot have both {name} and {not_name}"
        ))),
        (Some(v), None) => Ok(Some(Matcher {
            negated: false,
            items: strings(name, v)?,
        })),
        (None, Some(v)) => Ok(Some(Matcher {
            negated: true,
            items: strings(not_name, v)?,
        })),
        (None, None) => Ok(None),
    }
}

fn statement(kind: PolicyType, s: &Map<String, Value>) -> Result<Statement, PolicyError> {
    for key in s.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Principal"
                | "NotPrincipal"
                | "Condition"
        ) {
            return Err(PolicyError::Syntax(format!("unknown field {key}")));
        }
    }
    let sid = match s.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return Err(PolicyError::Syntax("Sid must be a string".into())),
    };
    let effect = match s.get("Effect").ok_or(PolicyError::Missing("Effect"))? {
        Value::String(e) if e == "Allow" => Effect::Allow,
        Value::String(e) if e == "Deny" => Effect::Deny,
        _ => return Err(PolicyError::Syntax("Effect must be Allow or Deny".into())),
    };
    let actions = either(s, "Action", "NotAction")?.ok_or(PolicyError::MustContain("actions."))?;
    for a in &actions.items {
        if a != "*" {
            match a.split_once(':') {
                Some((vendor, name))
                    if !vendor.is_empty()
                        && !name.is_empty()
                        && vendor
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || c == b'-') => {}
                _ => return Err(PolicyError::ActionVendor(a.clone())),
            }
        }
    }
    let resources = either(s, "Resource", "NotResource")?;
    if let Some(r) = &resources {
        for item in &r.items {
            if item != "*" && !item.starts_with("arn:") {
                return Err(PolicyError::Resource(item.clone()));
            }
        }
    }
    let principals = principals(s)?;
    match kind {
        PolicyType::Identity => {
            if principals.is_some() {
                return Err(PolicyError::PrincipalInIdentityPolicy);
            }
            if resources.is_none() {
                return Err(PolicyError::Missing("Resource"));
            }
        }
        PolicyType::Resource => {
            if principals.is_none() {
                return Err(PolicyError::Missing("Principal"));
            }
        }
    }
    let conditions = match s.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(block)) => crate::condition::parse_block(block)?,
        Some(_) => return Err(PolicyError::Condition("Condition must be an object".into())),
    };
    Ok(Statement {
        sid,
        effect,
        actions,
        resources,
        principals,
        conditions,
    })
}

fn principals(s: &Map<String, Value>) -> Result<Option<Matcher<Principals>>, PolicyError> {
    let (negated, v) = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(_), Some(_)) => {
            return Err(PolicyError::Syntax(
                "a statement cannot have both Principal and NotPrincipal".into(),
            ))
        }
        (Some(v), None) => (false, v),
        (None, Some(v)) => (true, v),
        (None, None) => return Ok(None),
    };
    let mut p = Principals::default();
    match v {
        Value::String(star) if star == "*" => p.anyone = true,
        Value::Object(map) if !map.is_empty() => {
            for (kind, ids) in map {
                let ids = strings("Principal", ids)?;
                match kind.as_str() {
                    "AWS" => {
                        for id in ids {
                            if id == "*" {
                                p.anyone = true;
                            } else if is_account_id(&id) || id.starts_with("arn:") {
                                p.aws.push(id);
                            } else {
                                return Err(PolicyError::Principal(id));
                            }
                        }
                    }
                    "Service" | "Federated" | "CanonicalUser" => p.other.extend(ids),
                    other => return Err(PolicyError::Principal(other.to_string())),
                }
            }
        }
        other => return Err(PolicyError::Principal(other.to_string())),
    }
    Ok(Some(Matcher {
        negated,
        items: vec![p],
    }))
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse("p", PolicyType::Identity, text)
    }

    #[test]
    fn statements_parse_as_an_object_or_a_list() {
        let one = id(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}"#).unwrap();
        assert_eq!(one.statements.len(), 1);
        let two = id(r#"{"Statement":[{"Sid":"a","Effect":"Allow","Action":["kinesis:Get*","kinesis:List*"],"Resource":"*"},
            {"Effect":"Deny","NotAction":"kinesis:Describe*","NotResource":"arn:aws:kinesis:*:*:stream/x"}]}"#).unwrap();
        assert_eq!(two.statements.len(), 2);
        assert_eq!(two.statements[0].sid.as_deref(), Some("a"));
        assert!(two.statements[1].actions.negated);
        assert!(two.statements[1].resources.as_ref().unwrap().negated);
    }

    #[test]
    fn invalid_documents_are_refused_with_a_reason() {
        let cases = [
            ("not json", PolicyError::Json),
            ("[]", PolicyError::Json),
            (
                r#"{"Version":"2020-01-01","Statement":[]}"#,
                PolicyError::Version,
            ),
            (
                r#"{"Version":"2012-10-17"}"#,
                PolicyError::Missing("Statement"),
            ),
            (
                r#"{"Statement":{"Action":"kinesis:*","Resource":"*"}}"#,
                PolicyError::Missing("Effect"),
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
                PolicyError::MustContain("actions."),
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*"}}"#,
                PolicyError::Missing("Resource"),
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"PutRecord","Resource":"*"}}"#,
                PolicyError::ActionVendor("PutRecord".into()),
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Principal":"*"}}"#,
                PolicyError::PrincipalInIdentityPolicy,
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"stream/x"}}"#,
                PolicyError::Resource("stream/x".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(id(text).unwrap_err(), want, "{text}");
        }
        assert!(matches!(
            id(r#"{"Statement":{"Effect":"allow","Action":"kinesis:*","Resource":"*"}}"#),
            Err(PolicyError::Syntax(_))
        ));
        assert!(matches!(
            id(
                r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceIp":{}}}}}"#
            ),
            Err(PolicyError::Condition(_))
        ));
        assert!(matches!(
            id(
                r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*","Condition":{"Frobnicate":{"aws:SourceIp":"x"}}}}"#
            ),
            Err(PolicyError::Condition(_))
        ));
    }

    #[test]
    fn resource_policies_need_a_principal() {
        let res = |t: &str| Policy::parse("r", PolicyType::Resource, t);
        assert_eq!(
            res(r#"{"Statement":{"Effect":"Allow","Action":"kinesis:*","Resource":"*"}}"#)
                .unwrap_err(),
            PolicyError::Missing("Principal")
        );
        let p = res(r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["222222222222","arn:aws:iam::333333333333:user/bob"]},"Action":"kinesis:*","Resource":"*"}}"#).unwrap();
        assert_eq!(
            p.statements[0].principals.as_ref().unwrap().items[0]
                .aws
                .len(),
            2
        );
        assert!(matches!(
            res(
                r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kinesis:*","Resource":"*"}}"#
            ),
            Err(PolicyError::Principal(_))
        ));
        assert!(
            res(r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kinesis:*"}}"#).is_ok()
        );
    }
}
