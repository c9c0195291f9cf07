//! What the audit log learns about a Kinesis call: how CloudTrail classes it
//! ([`event_kind`]), and the call's redacted request parameters and resources ([`describe`]).
//!
//! CloudTrail shows a Kinesis call's input with its members' names in camelCase
//! (`streamName`, `shardCount`) and never the records themselves. Redaction is by kind, not by
//! list of operations, so that an operation added to the model cannot leak through a forgotten
//! entry: every blob (record data) is dropped wherever it sits, and so are the members that
//! carry what a record says or what grants reading (partition keys, explicit hash keys, shard
//! iterators).

use rheo_http::middleware::{CallDetail, CallResource, EventKind, Resource};
use rheo_http::RequestContext;
use serde_json::{Map, Value};

use crate::ops::Decoded;
use crate::{Node, Operation};

/// Members never written to the audit log, in any operation's input: a partition key may be
/// the data itself (an e-mail address, a user id), an explicit hash key is derived from it,
/// and a shard iterator is a bearer token for reading a shard.
const REDACTED_MEMBERS: [&str; 3] = ["PartitionKey", "ExplicitHashKey", "ShardIterator"];

/// CloudTrail's class of a Kinesis call. Data events are the operations CloudTrail logs as
/// Kinesis data events (records written or read, and the iterators and subscriptions that
/// read them); everything else is a management event. Read-only: Describe*, List*, Get*, and
/// SubscribeToShard (it reads).
pub fn event_kind(op: Operation) -> EventKind {
    let data = matches!(
        op,
        Operation::PutRecord
            | Operation::PutRecords
            | Operation::GetRecords
            | Operation::GetShardIterator
            | Operation::SubscribeToShard
    );
    let name = op.name();
    let read_only = name.starts_with("Describe")
        || name.starts_with("List")
        || name.starts_with("Get")
        || op == Operation::SubscribeToShard;
    EventKind { read_only, data }
}

/// The CloudFormation type CloudTrail names a Kinesis resource with.
fn resource_type(kind: &str) -> &'static str {
    match kind {
        "consumer" => "AWS::Kinesis::StreamConsumer",
        _ => "AWS::Kinesis::Stream",
    }
}

/// The redacted parameters and the resources of a decoded call.
pub fn describe(op: Operation, decoded: &Decoded<'_>, rc: &RequestContext) -> CallDetail {
    let parameters = match decoded {
        Decoded::PutRecords(req) => {
            let mut m = Map::new();
            m.insert("streamName".into(), Value::from(req.stream_name));
            Some(Value::Object(m))
        }
        Decoded::Tree(input) => redact(input, true),
    }
    .map(|v| v.to_string());
    let mut found = [Resource {
        service: "kinesis",
        kind: "stream",
        name: None,
        arn: None,
    }; 2];
    let n = decoded.resources(&mut found);
    let mut resources: Vec<CallResource> = found
        .get(..n)
        .unwrap_or(&[])
        .iter()
        .filter_map(|r| {
            r.arn(rc).map(|arn| CallResource {
                arn: arn.into_owned(),
                kind: resource_type(r.kind),
            })
        })
        .collect();
    // A GetRecords names its stream only inside the iterator; the token carries it.
    if op == Operation::GetRecords {
        if let Decoded::Tree(input) = decoded {
            let token = input.get("ShardIterator").and_then(Node::as_str);
            if let Some(it) =
                token.and_then(|t| rheo_streams::iterator::ShardIterator::decode(t).ok())
            {
                resources.push(CallResource {
                    arn: format!(
                        "arn:aws:kinesis:{}:{}:stream/{}",
                        it.region,
                        it.account.as_deref().unwrap_or(&rc.account),
                        it.stream_name
                    ),
                    kind: "AWS::Kinesis::Stream",
                });
            }
        }
    }
    CallDetail {
        parameters,
        resources,
    }
}

/// CloudTrail's name of a member: the model's with a lower-case first letter.
fn camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The JSON of a validated input with every blob and [`REDACTED_MEMBERS`] member left out. A
/// structure or list that held only redacted values is left out too (a PutRecords' records
/// would otherwise be a list of empty objects); `None` when nothing remains. `members` says
/// whether the keys of a map are structure members (renamed to camelCase) or a map's own keys
/// (tags: kept as the caller wrote them).
pub fn redact(node: &Node, members: bool) -> Option<Value> {
    match node {
        Node::Null => None,
        Node::Bool(b) => Some(Value::Bool(*b)),
        Node::Int(i) => Some(Value::from(*i)),
        Node::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        Node::Str(s) => Some(Value::String(s.clone())),
        Node::Bytes(_) => None,
        // Epoch seconds, as the JSON protocol writes timestamps.
        Node::Timestamp(ms) => serde_json::Number::from_f64(*ms as f64 / 1000.0).map(Value::Number),
        Node::List(items) => {
            let kept: Vec<Value> = items.iter().filter_map(|n| redact(n, true)).collect();
            (kept.len() == items.len() || !kept.is_empty()).then_some(Value::Array(kept))
        }
        Node::Map(entries) => {
            let kept: Map<String, Value> = entries
                .iter()
                .filter(|(k, _)| !(members && REDACTED_MEMBERS.contains(&k.as_str())))
                .filter_map(|(k, v)| {
                    let key = if members { camel(k) } else { k.clone() };
                    // The one map shape of the Kinesis inputs: tags, keyed by the caller.
                    redact(v, !(members && k == "Tags")).map(|v| (key, v))
                })
                .collect();
            (entries.is_empty() || !kept.is_empty()).then_some(Value::Object(kept))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Protocol;

    fn json(d: &CallDetail) -> Value {
        serde_json::from_str(d.parameters.as_deref().unwrap()).unwrap()
    }

    fn detail(op: Operation, body: &str) -> CallDetail {
        let decoded = crate::ops::decode(op, Protocol::Json, body.as_bytes()).unwrap();
        let mut rc = RequestContext::new("123456789012".into(), None);
        rc.region = "eu-west-1".into();
        describe(op, &decoded, &rc)
    }

    #[test]
    fn management_parameters_are_camel_case_and_name_the_stream() {
        let d = detail(
            Operation::CreateStream,
            r#"{"StreamName":"orders","ShardCount":2}"#,
        );
        assert_eq!(
            json(&d),
            serde_json::json!({"streamName": "orders", "shardCount": 2})
        );
        assert_eq!(
            d.resources,
            [CallResource {
                arn: "arn:aws:kinesis:eu-west-1:123456789012:stream/orders".into(),
                kind: "AWS::Kinesis::Stream"
            }]
        );
        assert_eq!(
            detail(Operation::ListStreams, "{}").parameters.as_deref(),
            Some("{}")
        );
        // Tag keys are the caller's, not members: kept as written.
        let d = detail(
            Operation::AddTagsToStream,
            r#"{"StreamName":"orders","Tags":{"Team":"Payments"}}"#,
        );
        assert_eq!(
            json(&d),
            serde_json::json!({"streamName": "orders", "tags": {"Team": "Payments"}})
        );
    }

    #[test]
    fn record_data_partition_keys_and_iterators_are_never_shown() {
        // "bWFya2Vy" is base64 of "marker".
        let body = r#"{"StreamName":"s","Data":"bWFya2Vy","PartitionKey":"pk-marker","ExplicitHashKey":"42"}"#;
        let d = detail(Operation::PutRecord, body);
        assert_eq!(d.parameters.as_deref(), Some(r#"{"streamName":"s"}"#));
        // The generic path (a CBOR-like shape through the tree) drops the records entirely.
        let body = r#"{"StreamARN":"arn:aws:kinesis:eu-west-1:123456789012:stream/s","Records":[{"Data":"bWFya2Vy","PartitionKey":"pk-marker"}]}"#;
        let d = detail(Operation::PutRecords, body);
        let p = d.parameters.unwrap();
        assert!(!p.contains("marker") && !p.contains("records"), "{p}");
        assert!(p.contains("streamARN"), "{p}");
        let d = detail(
            Operation::GetRecords,
            r#"{"ShardIterator":"AAAA","Limit":5}"#,
        );
        assert_eq!(d.parameters.as_deref(), Some(r#"{"limit":5}"#));
    }

    #[test]
    fn the_fast_path_names_only_the_stream() {
        let body =
            r#"{"StreamName":"s","Records":[{"Data":"bWFya2Vy","PartitionKey":"pk-marker"}]}"#;
        let decoded =
            crate::ops::decode(Operation::PutRecords, Protocol::Json, body.as_bytes()).unwrap();
        assert!(matches!(decoded, Decoded::PutRecords(_)));
        let rc = RequestContext::new("123456789012".into(), None);
        let d = describe(Operation::PutRecords, &decoded, &rc);
        assert_eq!(d.parameters.as_deref(), Some(r#"{"streamName":"s"}"#));
        assert_eq!(d.resources.len(), 1);
    }

    #[test]
    fn event_kinds_follow_cloudtrail() {
        let k = |op| {
            let k = event_kind(op);
            (k.data, k.read_only)
        };
        assert_eq!(k(Operation::PutRecords), (true, false));
        assert_eq!(k(Operation::GetRecords), (true, true));
        assert_eq!(k(Operation::SubscribeToShard), (true, true));
        assert_eq!(k(Operation::CreateStream), (false, false));
        assert_eq!(k(Operation::DescribeStreamSummary), (false, true));
        assert_eq!(k(Operation::ListShards), (false, true));
    }
}
