//! SubscribeToShard on the wire: the request decoded and checked like any other, then an event
//! stream (`rheo_proto::eventstream`) of an `initial-response`, `SubscribeToShardEvent`s as the
//! domain's [`Subscription`] yields them, and at the end either nothing (the session's time is
//! up, or the shard's end went out) or one modelled exception event.

use std::time::Duration;

use rheo_http::middleware::{Chain, Request as MiddlewareRequest, Resource};
use rheo_http::{FrameSender, RequestContext};
use rheo_proto::eventstream;
use rheo_streams::types::{Ctx, GetRecordsOutput, IteratorType};
use rheo_streams::{ShardEvent, Streams, SubscribeToShard, Subscription};

use crate::ops::{decode, error_parts, Decoded, Failure};
use crate::{Node, Operation, Protocol};

/// How long a subscription at the shard's tip waits for records before it sends an empty
/// event, which carries MillisBehindLatest and shows the client the stream is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A started subscription and the protocol its events are encoded in.
pub struct Subscribed {
    subscription: Subscription,
    protocol: Protocol,
}

/// Decodes and checks a SubscribeToShard request, lets the middleware chain see it, and starts
/// the subscription. Errors are answered like any other request's (before the stream starts).
pub async fn subscribe(
    streams: &Streams,
    chain: &Chain,
    faults: &crate::faults::Faults,
    rc: &RequestContext,
    ctx: &Ctx,
    protocol: Protocol,
    body: &[u8],
) -> Result<Subscribed, Failure> {
    let decoded = decode(Operation::SubscribeToShard, protocol, body)?;
    if !chain.is_empty() && chain.records(crate::audit::event_kind(Operation::SubscribeToShard)) {
        let call = crate::audit::describe(Operation::SubscribeToShard, &decoded, rc);
        let _ = rc.call.set(call);
    }
    if !faults.is_empty() {
        let injection = faults.inject(Operation::SubscribeToShard, &decoded.fault_target());
        if !injection.delay.is_zero() {
            tokio::time::sleep(injection.delay).await;
        }
        if let Some(refusal) = injection.error {
            return Err(Failure::Refused(refusal));
        }
    }
    let Decoded::Tree(input) = decoded else {
        return Err(Failure::Wire(rheo_proto::WireError::UnknownOperation));
    };
    let get = |m: &str| input.get(m).and_then(Node::as_str);
    let consumer_arn = get("ConsumerARN").unwrap_or_default().to_string();
    if !chain.is_empty() {
        let resources = [Resource {
            service: "kinesis",
            kind: "consumer",
            name: None,
            arn: Some(&consumer_arn),
        }];
        chain
            .before(&MiddlewareRequest {
                context: rc,
                action: Operation::SubscribeToShard.action(),
                resources: &resources,
            })
            .map_err(Failure::Refused)?;
    }
    let position = input.get("StartingPosition");
    let member = |m: &str| position.and_then(|p| p.get(m));
    let kind = member("Type")
        .and_then(Node::as_str)
        .and_then(IteratorType::parse)
        .unwrap_or(IteratorType::Latest);
    let req = SubscribeToShard {
        consumer_arn,
        shard_id: get("ShardId").unwrap_or_default().to_string(),
        kind,
        sequence_number: member("SequenceNumber")
            .and_then(Node::as_str)
            .map(str::to_string),
        timestamp_ms: member("Timestamp").and_then(Node::as_timestamp_ms),
    };
    // A consumer of another account is reached only when its owner's policy granted this.
    let granted = crate::ops::granted_ctx(rc, ctx);
    let ctx = &*granted;
    let subscription = streams
        .subscribe_to_shard(ctx, req)
        .await
        .map_err(Failure::Domain)?;
    Ok(Subscribed {
        subscription,
        protocol,
    })
}

/// Sends the subscription's events into `frames` until it ends or the client goes away (the
/// send fails).
pub async fn pump(mut s: Subscribed, frames: FrameSender, heartbeat: Duration) {
    let protocol = s.protocol;
    let initial = crate::encode_response(protocol, &Node::map());
    if !send(
        &frames,
        eventstream::event("initial-response", protocol, initial),
    )
    .await
    {
        return;
    }
    loop {
        match s.subscription.next_event(heartbeat).await {
            Ok(Some(event)) => {
                let payload = crate::encode_response(protocol, &event_node(event));
                let frame = eventstream::event("SubscribeToShardEvent", protocol, payload);
                if !send(&frames, frame).await {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let (ty, _) = error_parts(&e);
                let message = Node::map().with("message", e.to_string());
                let payload = crate::encode_response(protocol, &message);
                send(&frames, eventstream::exception(ty, protocol, payload)).await;
                return;
            }
        }
    }
}

async fn send(frames: &FrameSender, frame: Result<bytes::Bytes, eventstream::FrameError>) -> bool {
    match frame {
        Ok(f) => frames.send(f).await.is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "SubscribeToShard event could not be framed");
            false
        }
    }
}

/// The model's SubscribeToShardEvent: the GetRecords members, less the iterator, plus the
/// continuation.
fn event_node(e: ShardEvent) -> Node {
    let continuation = e.continuation_sequence_number;
    crate::ops::get_records_node(GetRecordsOutput {
        records: e.records,
        next_shard_iterator: None,
        millis_behind_latest: e.millis_behind_latest,
        child_shards: e.child_shards,
        encrypted: e.encrypted,
    })
    .with("ContinuationSequenceNumber", continuation)
}
