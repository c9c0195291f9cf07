//! The chain a decoded request passes before it runs, and is told about once it is answered.
//! Authentication, policy, throttling, metrics and audit slot in here; each sees the action
//! the request asks for and the resources it touches, as the binding decoded them.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::RequestContext;

/// A resource a request touches, named as the request named it (by name, or by ARN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource<'a> {
    /// The ARN's service part (`kinesis`), from the binding.
    pub service: &'static str,
    /// The resource type (`stream`).
    pub kind: &'static str,
    pub name: Option<&'a str>,
    pub arn: Option<&'a str>,
}

impl Resource<'_> {
    /// The resource's ARN: the one the request gave, or built from its name in the request's
    /// region and account (`arn:aws:<service>:<region>:<account>:<kind>/<name>`). Formatted
    /// only when a middleware asks, so the hot path pays nothing for an empty chain.
    pub fn arn(&self, ctx: &RequestContext) -> Option<Cow<'_, str>> {
        if let Some(arn) = self.arn {
            return Some(Cow::Borrowed(arn));
        }
        let name = self.name?;
        Some(Cow::Owned(format!(
            "arn:aws:{}:{}:{}:{}/{name}",
            self.service, ctx.region, ctx.account, self.kind
        )))
    }
}

/// What a middleware sees of a decoded request.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub context: &'a RequestContext,
    /// The IAM action (`kinesis:PutRecords`).
    pub action: &'static str,
    pub resources: &'a [Resource<'a>],
}

/// How CloudTrail classes a call: read-only or not, data event or management event. Service
/// knowledge, so the binding says it (`kinesis:PutRecord` is a data event, `kinesis:CreateStream`
/// a management one); a middleware that records calls decides from it what to record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventKind {
    pub read_only: bool,
    /// A data event (records in or out); otherwise a management event.
    pub data: bool,
}

/// A resource as a call record names it: its ARN and its CloudFormation type
/// (`AWS::Kinesis::Stream`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallResource {
    pub arn: String,
    pub kind: &'static str,
}

/// What the binding tells recording middlewares (the audit log) about a decoded call. Made only
/// when [`Chain::records`] says a middleware wants it, so an empty or non-recording chain pays
/// nothing for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallDetail {
    /// The request's parameters as one JSON object with CloudTrail's camelCase keys, already
    /// redacted by the binding: never record data, partition keys, key material, plaintexts,
    /// ciphertexts, secrets or signatures. `None` when there is nothing to show.
    pub parameters: Option<String>,
    /// The resources the call touched.
    pub resources: Vec<CallResource>,
}

/// The error a request was answered with: its `__type` and message (empty where the answer
/// has none). The front puts it into the reply's extensions, where [`Outcome`] is taken from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallError {
    pub code: &'static str,
    pub message: String,
}

/// What `after` is told about an answered request.
#[derive(Clone, Copy, Debug)]
pub struct Outcome<'a> {
    /// The IAM action (`kinesis:PutRecords`); `None` when the request named no operation.
    pub action: Option<&'a str>,
    pub kind: EventKind,
    pub status: u16,
    pub latency: Duration,
    /// Set when the request failed.
    pub error: Option<&'a CallError>,
    /// From the binding, when the chain records this kind of call and the request was decoded.
    pub detail: Option<&'a CallDetail>,
}

/// A middleware's refusal, answered in the request's protocol with this type and status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub error_type: &'static str,
    pub status: u16,
    pub message: String,
}

pub trait Middleware: Send + Sync {
    /// Called after decoding, before the request runs; an error answers instead of running.
    fn before(&self, _request: &Request<'_>) -> Result<(), Refusal> {
        Ok(())
    }

    /// Whether this middleware records calls of this kind and so needs the binding's
    /// [`CallDetail`] (the request parameters and resources) in [`Outcome::detail`].
    fn records(&self, _kind: EventKind) -> bool {
        false
    }

    /// Called once the answer is known (also for requests refused before decoding, with no
    /// detail, or with no action when the request named no operation).
    fn after(&self, _context: &RequestContext, _outcome: &Outcome<'_>) {}
}

/// The middlewares in order. Empty costs one length check per request.
#[derive(Clone, Default)]
pub struct Chain {
    items: Vec<Arc<dyn Middleware>>,
}

impl Chain {
    pub fn new() -> Chain {
        Chain::default()
    }

    pub fn with(mut self, m: impl Middleware + 'static) -> Chain {
        self.items.push(Arc::new(m));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Runs every `before` in order; the first refusal wins.
    pub fn before(&self, request: &Request<'_>) -> Result<(), Refusal> {
        self.items.iter().try_for_each(|m| m.before(request))
    }

    /// Whether some middleware records calls of this kind: the binding makes the call's
    /// [`CallDetail`] only then.
    pub fn records(&self, kind: EventKind) -> bool {
        self.items.iter().any(|m| m.records(kind))
    }

    /// Runs every `after`, last first (the way wrapping layers unwind).
    pub fn after(&self, context: &RequestContext, outcome: &Outcome<'_>) {
        for m in self.items.iter().rev() {
            m.after(context, outcome);
        }
    }
}

/// One `debug` line per request with the id the client got in `x-amzn-RequestId`, the action,
/// status and latency (issue 12, item 6).
pub struct RequestLog;

impl Middleware for RequestLog {
    fn after(&self, context: &RequestContext, outcome: &Outcome<'_>) {
        tracing::debug!(
            request_id = %context.request_id,
            action = outcome.action.unwrap_or("-"),
            status = outcome.status,
            error = outcome.error.map_or("-", |e| e.code),
            latency_us = outcome.latency.as_micros() as u64,
            principal = context.principal.as_deref().unwrap_or("-"),
            source = ?context.source,
            http = ?context.http_version,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Deny(&'static str);
    impl Middleware for Deny {
        fn before(&self, request: &Request<'_>) -> Result<(), Refusal> {
            let touched = request
                .resources
                .iter()
                .filter_map(|r| r.arn(request.context))
                .any(|arn| arn.ends_with(self.0));
            if touched {
                return Err(Refusal {
                    error_type: "AccessDeniedException",
                    status: 400,
                    message: format!("{} denied", request.action),
                });
            }
            Ok(())
        }
    }

    struct Record(Arc<Mutex<Vec<String>>>, &'static str);
    impl Middleware for Record {
        fn before(&self, _request: &Request<'_>) -> Result<(), Refusal> {
            self.0.lock().unwrap().push(format!("before {}", self.1));
            Ok(())
        }
        fn records(&self, kind: EventKind) -> bool {
            self.1 == "b" && !kind.data
        }
        fn after(&self, _c: &RequestContext, outcome: &Outcome<'_>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("after {} {}", self.1, outcome.status));
        }
    }

    #[test]
    fn the_chain_sees_action_and_resource_arns_and_may_refuse() {
        let mut ctx = RequestContext::new("123456789012".into(), None);
        ctx.region = "eu-west-1".into();
        let by_name = Resource {
            service: "kinesis",
            kind: "stream",
            name: Some("secret"),
            arn: None,
        };
        assert_eq!(
            by_name.arn(&ctx).unwrap(),
            "arn:aws:kinesis:eu-west-1:123456789012:stream/secret"
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let chain = Chain::new()
            .with(Record(seen.clone(), "a"))
            .with(Deny("stream/secret"))
            .with(Record(seen.clone(), "b"));
        let resources = [by_name];
        let request = Request {
            context: &ctx,
            action: "kinesis:PutRecords",
            resources: &resources,
        };
        let refusal = chain.before(&request).unwrap_err();
        assert_eq!(refusal.message, "kinesis:PutRecords denied");
        let other = [Resource {
            name: Some("public"),
            ..by_name
        }];
        assert!(chain
            .before(&Request {
                resources: &other,
                ..request
            })
            .is_ok());
        chain.after(
            &ctx,
            &Outcome {
                action: Some("kinesis:PutRecords"),
                kind: EventKind::default(),
                status: 200,
                latency: Duration::ZERO,
                error: None,
                detail: None,
            },
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "before a",
                "before a",
                "before b",
                "after b 200",
                "after a 200"
            ]
        );
        assert!(Chain::new().is_empty());
        // One middleware recording management events is enough for the binding to describe
        // a management call; nobody records data events here.
        assert!(chain.records(EventKind::default()));
        assert!(!chain.records(EventKind {
            data: true,
            read_only: false
        }));
        assert!(!Chain::new().with(RequestLog).records(EventKind::default()));
    }
}
