//! One call as one CloudTrail-shaped JSON line.
//!
//! The fields are CloudTrail's record fields, in the order CloudTrail writes them; which are
//! present follows its rules: `errorCode`/`errorMessage` only on failure, `resources` when the
//! call names any, `responseElements` null (CloudTrail leaves it null for Kinesis calls, and an
//! answer may hold what the request's parameters may not: records, iterators).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use rheo_http::middleware::Outcome;
use rheo_http::{RequestContext, RequestId};
use serde_json::{json, Value};

/// The CloudTrail record version these lines follow.
pub const EVENT_VERSION: &str = "1.11";

/// The region recorded when the request named none (an unsigned request).
const DEFAULT_REGION: &str = "us-east-1";

/// `2026-12-07T20:42:32Z`: ISO-8601 in UTC to the second, as CloudTrail's `eventTime`.
pub fn iso_seconds(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = rheo_stdx::calendar::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The parts of an ARN CloudTrail's `userIdentity` is made from.
struct Arn<'a> {
    service: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (prefix == "arn").then_some(Arn {
        service,
        account,
        resource,
    })
}

/// CloudTrail's `userIdentity` of the caller. Its type comes from the principal's ARN: the
/// account's `root` is Root, `user/...` an IAMUser, `assumed-role/...` (STS) or `role/...` an
/// AssumedRole; a caller without a known principal (permissive authentication with an unlisted
/// key, or no signature) is recorded as an AWSAccount of the account the request acts in. AWS's
/// principal ids are internal unique ids Rheo does not have: the access key id stands in for
/// them (the account id for Root, as AWS does).
pub fn user_identity(ctx: &RequestContext) -> Value {
    let key = ctx.principal.as_deref();
    let Some(arn_text) = ctx.principal_arn.as_deref() else {
        let mut id = json!({
            "type": "AWSAccount",
            "principalId": key.unwrap_or(""),
            "accountId": &*ctx.account,
        });
        if let (Some(k), Some(map)) = (key, id.as_object_mut()) {
            map.insert("accessKeyId".into(), Value::from(k));
        }
        return id;
    };
    let Some(arn) = parse_arn(arn_text) else {
        return json!({
            "type": "Unknown",
            "principalId": key.unwrap_or(""),
            "arn": arn_text,
            "accountId": &*ctx.account,
        });
    };
    let account = if arn.account.is_empty() {
        &*ctx.account
    } else {
        arn.account
    };
    let last = arn.resource.rsplit('/').next().unwrap_or(arn.resource);
    let mut id = if arn.service == "iam" && arn.resource == "root" {
        json!({"type": "Root", "principalId": account, "arn": arn_text, "accountId": account})
    } else if arn.service == "iam" && arn.resource.starts_with("user/") {
        json!({
            "type": "IAMUser",
            "principalId": key.unwrap_or(account),
            "arn": arn_text,
            "accountId": account,
            "userName": last,
        })
    } else if let Some(rest) = arn
        .resource
        .strip_prefix("assumed-role/")
        .filter(|_| arn.service == "sts")
    {
        let role = rest.split('/').next().unwrap_or(rest);
        let issuer = format!("arn:aws:iam::{account}:role/{role}");
        json!({
            "type": "AssumedRole",
            "principalId": format!("{}:{last}", key.unwrap_or(account)),
            "arn": arn_text,
            "accountId": account,
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": key.unwrap_or(account), "arn": issuer,
                "accountId": account, "userName": role,
            }},
        })
    } else if arn.service == "iam" && arn.resource.starts_with("role/") {
        json!({
            "type": "AssumedRole",
            "principalId": key.unwrap_or(account),
            "arn": arn_text,
            "accountId": account,
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": key.unwrap_or(account), "arn": arn_text,
                "accountId": account, "userName": last,
            }},
        })
    } else {
        json!({"type": "Unknown", "principalId": key.unwrap_or(account), "arn": arn_text, "accountId": account})
    };
    if let (Some(k), Some(map)) = (key, id.as_object_mut()) {
        map.insert("accessKeyId".into(), Value::from(k));
    }
    id
}

/// Appends `"name":value,` (the caller trims the last comma).
fn field(out: &mut String, name: &str, value: &Value) {
    let _ = write!(out, "\"{name}\":{value},");
}

/// The line (no newline) for an answered call, or `None` when the request named no operation
/// (nothing CloudTrail would record: there is no event name). `event_id` is fresh per line.
pub fn line(
    ctx: &RequestContext,
    outcome: &Outcome<'_>,
    now: SystemTime,
    event_id: RequestId,
) -> Option<String> {
    let action = outcome.action?;
    let (service, name) = action.split_once(':')?;
    let mut out = String::with_capacity(1024);
    out.push('{');
    field(&mut out, "eventVersion", &Value::from(EVENT_VERSION));
    field(&mut out, "userIdentity", &user_identity(ctx));
    field(&mut out, "eventTime", &Value::from(iso_seconds(now)));
    field(
        &mut out,
        "eventSource",
        &Value::from(format!("{service}.amazonaws.com")),
    );
    field(&mut out, "eventName", &Value::from(name));
    let region = if ctx.region.is_empty() {
        DEFAULT_REGION
    } else {
        ctx.region.as_str()
    };
    field(&mut out, "awsRegion", &Value::from(region));
    if let Some(source) = ctx.source {
        field(
            &mut out,
            "sourceIPAddress",
            &Value::from(source.ip().to_string()),
        );
    }
    if let Some(agent) = &ctx.user_agent {
        field(&mut out, "userAgent", &Value::from(agent.as_str()));
    }
    if let Some(error) = outcome.error {
        field(&mut out, "errorCode", &Value::from(error.code));
        if !error.message.is_empty() {
            field(
                &mut out,
                "errorMessage",
                &Value::from(error.message.as_str()),
            );
        }
    }
    // The binding's parameters are one JSON object already; anything else is not written.
    let parameters = outcome
        .detail
        .and_then(|d| d.parameters.as_deref())
        .filter(|p| p.starts_with('{') && p.ends_with('}'));
    match parameters {
        Some(p) => {
            let _ = write!(out, "\"requestParameters\":{p},");
        }
        None => out.push_str("\"requestParameters\":null,"),
    }
    out.push_str("\"responseElements\":null,");
    field(&mut out, "requestID", &Value::from(ctx.request_id.as_str()));
    field(&mut out, "eventID", &Value::from(event_id.as_str()));
    field(&mut out, "readOnly", &Value::Bool(outcome.kind.read_only));
    if let Some(detail) = outcome.detail.filter(|d| !d.resources.is_empty()) {
        let resources: Vec<Value> = detail
            .resources
            .iter()
            .map(|r| {
                let account = parse_arn(&r.arn)
                    .map(|a| a.account)
                    .filter(|a| !a.is_empty())
                    .unwrap_or(&ctx.account);
                json!({"accountId": account, "type": r.kind, "ARN": r.arn})
            })
            .collect();
        field(&mut out, "resources", &Value::Array(resources));
    }
    field(&mut out, "eventType", &Value::from("AwsApiCall"));
    field(
        &mut out,
        "managementEvent",
        &Value::Bool(!outcome.kind.data),
    );
    field(&mut out, "recipientAccountId", &Value::from(&*ctx.account));
    field(
        &mut out,
        "eventCategory",
        &Value::from(if outcome.kind.data {
            "Data"
        } else {
            "Management"
        }),
    );
    out.pop();
    out.push('}');
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rheo_http::middleware::{CallDetail, CallError, CallResource, EventKind};
    use std::time::Duration;

    fn ctx() -> RequestContext {
        let mut ctx = RequestContext::new(
            "123456789012".into(),
            Some("10.1.2.3:5555".parse().unwrap()),
        );
        ctx.region = "eu-west-1".into();
        ctx.principal = Some("AKIDEXAMPLE".into());
        ctx.user_agent = Some("aws-cli/2.15.0".into());
        ctx
    }

    fn outcome<'a>(
        action: &'a str,
        error: Option<&'a CallError>,
        detail: Option<&'a CallDetail>,
    ) -> Outcome<'a> {
        Outcome {
            action: Some(action),
            kind: EventKind {
                read_only: false,
                data: false,
            },
            status: if error.is_some() { 400 } else { 200 },
            latency: Duration::from_millis(3),
            error,
            detail,
        }
    }

    #[test]
    fn event_time_is_iso_seconds_in_utc() {
        assert_eq!(iso_seconds(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_796_676_152);
        assert_eq!(iso_seconds(t), "2026-12-07T20:42:32Z");
    }

    #[test]
    fn a_management_call_has_cloudtrails_fields() {
        let detail = CallDetail {
            parameters: Some(r#"{"streamName":"orders","shardCount":2}"#.into()),
            resources: vec![CallResource {
                arn: "arn:aws:kinesis:eu-west-1:123456789012:stream/orders".into(),
                kind: "AWS::Kinesis::Stream",
            }],
        };
        let c = ctx();
        let id = RequestId::random();
        let text = line(
            &c,
            &outcome("kinesis:CreateStream", None, Some(&detail)),
            UNIX_EPOCH,
            id,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["eventVersion"], EVENT_VERSION);
        assert_eq!(v["eventSource"], "kinesis.amazonaws.com");
        assert_eq!(v["eventName"], "CreateStream");
        assert_eq!(v["awsRegion"], "eu-west-1");
        assert_eq!(v["sourceIPAddress"], "10.1.2.3");
        assert_eq!(v["userAgent"], "aws-cli/2.15.0");
        assert_eq!(v["requestParameters"]["shardCount"], 2);
        assert!(v["responseElements"].is_null());
        assert_eq!(v["requestID"], c.request_id.as_str());
        assert_eq!(v["eventID"], id.as_str());
        assert_eq!(v["readOnly"], false);
        assert_eq!(v["eventType"], "AwsApiCall");
        assert_eq!(v["managementEvent"], true);
        assert_eq!(v["eventCategory"], "Management");
        assert_eq!(v["recipientAccountId"], "123456789012");
        assert_eq!(
            v["resources"][0],
            json!({"accountId": "123456789012", "type": "AWS::Kinesis::Stream",
                   "ARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/orders"})
        );
        assert!(v.get("errorCode").is_none() && v.get("errorMessage").is_none());
        // Unknown principal: the account itself.
        assert_eq!(v["userIdentity"]["type"], "AWSAccount");
        assert_eq!(v["userIdentity"]["accessKeyId"], "AKIDEXAMPLE");
    }

    #[test]
    fn a_failed_call_has_its_error_and_no_unrequested_fields() {
        let err = CallError {
            code: "ResourceNotFoundException",
            message: "Stream x under account 123456789012 not found.".into(),
        };
        let mut c = ctx();
        c.region.clear();
        c.user_agent = None;
        let text = line(
            &c,
            &outcome("kinesis:DescribeStream", Some(&err), None),
            UNIX_EPOCH,
            RequestId::random(),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["errorCode"], "ResourceNotFoundException");
        assert_eq!(v["errorMessage"], err.message);
        assert_eq!(v["awsRegion"], DEFAULT_REGION);
        assert!(v["requestParameters"].is_null());
        assert!(v.get("resources").is_none() && v.get("userAgent").is_none());
        let empty = CallError {
            code: "InternalFailure",
            message: String::new(),
        };
        let text = line(
            &c,
            &outcome("kinesis:PutRecord", Some(&empty), None),
            UNIX_EPOCH,
            RequestId::random(),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("errorMessage").is_none());
        let none = Outcome {
            action: None,
            ..outcome("x:y", None, None)
        };
        assert!(line(&c, &none, UNIX_EPOCH, RequestId::random()).is_none());
    }

    #[test]
    fn user_identity_types_come_from_the_principal_arn() {
        let mut c = ctx();
        let ident = |c: &RequestContext| user_identity(c);
        c.principal_arn = Some("arn:aws:iam::111122223333:user/ops/alice".into());
        let v = ident(&c);
        assert_eq!(v["type"], "IAMUser");
        assert_eq!(v["userName"], "alice");
        assert_eq!(v["accountId"], "111122223333");
        assert_eq!(v["accessKeyId"], "AKIDEXAMPLE");
        c.principal_arn = Some("arn:aws:iam::111122223333:root".into());
        let v = ident(&c);
        assert_eq!(
            (v["type"].as_str(), v["principalId"].as_str()),
            (Some("Root"), Some("111122223333"))
        );
        assert!(v.get("userName").is_none());
        c.principal_arn = Some("arn:aws:sts::111122223333:assumed-role/Reader/s1".into());
        let v = ident(&c);
        assert_eq!(v["type"], "AssumedRole");
        assert_eq!(v["principalId"], "AKIDEXAMPLE:s1");
        assert_eq!(
            v["sessionContext"]["sessionIssuer"]["arn"],
            "arn:aws:iam::111122223333:role/Reader"
        );
        c.principal_arn = Some("arn:aws:iam::111122223333:role/Writer".into());
        assert_eq!(ident(&c)["type"], "AssumedRole");
        assert_eq!(
            ident(&c)["sessionContext"]["sessionIssuer"]["userName"],
            "Writer"
        );
    }

    #[test]
    fn parameters_that_are_not_one_object_are_not_written() {
        let detail = CallDetail {
            parameters: Some("\"raw\"".into()),
            resources: Vec::new(),
        };
        let text = line(
            &ctx(),
            &outcome("kinesis:ListStreams", None, Some(&detail)),
            UNIX_EPOCH,
            RequestId::random(),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["requestParameters"].is_null());
    }
}
