//! Translation between validated request trees and the `rheo-streams` domain.
//!
//! [`decode_request`](crate::decode_request) has already enforced every constraint of the model
//! (types, required members, lengths, patterns, enums), so a missing required member here is a
//! bug, answered as a validation error rather than a panic. This module only renames: wire
//! members to domain fields, domain results to the model's output shapes, domain errors to
//! `__type` and HTTP status (one exhaustive match, [`error_parts`]).

use std::collections::BTreeMap;

use rheo_streams::hash::HashRange;
use rheo_streams::types::*;
use rheo_streams::{KinesisError, StreamMode, Streams};

use rheo_http::middleware::{Chain, Request as MiddlewareRequest, Resource};
use rheo_http::RequestContext;

use crate::{Node, Operation};

type OpResult = Result<Node, KinesisError>;

/// `__type` and HTTP status of a domain error.
pub fn error_parts(e: &KinesisError) -> (&'static str, u16) {
    match e {
        KinesisError::ResourceNotFound(_) => ("ResourceNotFoundException", 400),
        KinesisError::ResourceInUse(_) => ("ResourceInUseException", 400),
        KinesisError::InvalidArgument(_) => ("InvalidArgumentException", 400),
        KinesisError::LimitExceeded(_) => ("LimitExceededException", 400),
        KinesisError::ExpiredIterator(_) => ("ExpiredIteratorException", 400),
        KinesisError::ExpiredNextToken(_) => ("ExpiredNextTokenException", 400),
        KinesisError::ProvisionedThroughputExceeded(_) => {
            ("ProvisionedThroughputExceededException", 400)
        }
        KinesisError::Validation(_) => ("ValidationException", 400),
        KinesisError::AccessDenied(_) => ("AccessDeniedException", 400),
        KinesisError::KmsDisabled(_) => ("KMSDisabledException", 400),
        KinesisError::KmsNotFound(_) => ("KMSNotFoundException", 400),
        KinesisError::KmsInvalidState(_) => ("KMSInvalidStateException", 400),
        KinesisError::KmsAccessDenied(_) => ("KMSAccessDeniedException", 400),
        KinesisError::KmsThrottling(_) => ("KMSThrottlingException", 400),
        KinesisError::Internal(_) => ("InternalFailure", 500),
        KinesisError::Damaged(_) => ("InternalFailure", 500),
        // `KinesisError` is non_exhaustive; a new variant is an internal failure until mapped.
        #[allow(unreachable_patterns)]
        _ => ("InternalFailure", 500),
    }
}

/// The domain's context for a request: the caller's own, or, when the owner's resource policy
/// granted the request on a stream or consumer of its account (the authorizer recorded that
/// account), one that may act there, for the operations AWS lets such a policy share.
pub(crate) fn granted_ctx<'a>(rc: &RequestContext, ctx: &'a Ctx) -> std::borrow::Cow<'a, Ctx> {
    match rc.granted_account.get() {
        Some(owner) => std::borrow::Cow::Owned(ctx.granted_by(owner.clone())),
        None => std::borrow::Cow::Borrowed(ctx),
    }
}

/// Why [`execute`] produced no answer: the request was refused by the wire layer (serialization,
/// validation), names an operation of the model this server does not implement, or was refused
/// by the domain.
#[derive(Debug)]
pub enum Failure {
    Wire(rheo_proto::WireError),
    NotImplemented(Operation),
    /// The request set `DryRun`: it was decoded, validated and passed the middleware chain,
    /// and nothing was run.
    DryRun,
    /// A middleware of the chain refused the decoded request.
    Refused(rheo_http::middleware::Refusal),
    Domain(KinesisError),
}

impl Failure {
    /// `__type`, HTTP status and message of a refusal the binding answers itself (not a wire
    /// error, which `rheo-proto` renders). A 5xx message is left empty: it would leak internals.
    pub fn parts(&self) -> Option<(&'static str, u16, String)> {
        match self {
            Failure::Wire(_) => None,
            Failure::NotImplemented(op) => Some((
                NOT_IMPLEMENTED_TYPE,
                400,
                format!("Rheo does not implement {} yet.", op.name()),
            )),
            Failure::DryRun => Some((
                DRY_RUN_TYPE,
                400,
                "The request was rejected because the DryRun parameter was specified.".to_string(),
            )),
            Failure::Refused(r) => Some((r.error_type, r.status, r.message.clone())),
            Failure::Domain(e) => {
                let (ty, status) = error_parts(e);
                // A damaged range is named so the operator can find and repair it (`rheo fsck`).
                let message = if status >= 500 && !matches!(e, KinesisError::Damaged(_)) {
                    String::new()
                } else {
                    e.to_string()
                };
                Some((ty, status, message))
            }
        }
    }
}

/// The `__type` a known but unimplemented operation answers. AWS's own name for "this endpoint
/// does not do that", so SDKs surface it as a typed error rather than a parse failure; the
/// message names the operation, which distinguishes it from a target the model lacks.
pub const NOT_IMPLEMENTED_TYPE: &str = "UnknownOperationException";

/// The operations of the model this server does not run yet, as one pattern: [`state`] and
/// `dispatch` both match it, so the list is written once and both matches stay exhaustive.
macro_rules! not_implemented {
    () => {
        Operation::AcknowledgeDeadLetterQueueRecords
            | Operation::AcknowledgeQueueRecords
            | Operation::CreateChannel
            | Operation::CreateQueue
            | Operation::DeleteChannel
            | Operation::DeleteQueue
            | Operation::DescribeChannel
            | Operation::DescribeQueue
            | Operation::ListChannels
            | Operation::ListQueues
            | Operation::ReceiveDeadLetterQueueRecords
            | Operation::ReceiveQueueRecords
            | Operation::RestoreDeadLetterQueueRecords
            | Operation::UpdateChannel
            | Operation::UpdateDeadLetterQueueRecordsVisibility
            | Operation::UpdateQueue
            | Operation::UpdateQueueRecordsVisibility
    };
}

/// Whether this server runs an operation of the model. Exhaustive over the generated ids: an
/// operation added to the model does not compile until it is given a state here (and the table
/// in `tests/operations.rs` lists it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationState {
    Implemented,
    /// Decoded and validated, then answered with [`Failure::NotImplemented`].
    NotImplemented,
}

/// The state of `op`.
pub const fn state(op: Operation) -> OperationState {
    use Operation as O;
    use OperationState::{Implemented as I, NotImplemented as N};
    match op {
        O::AddTagsToStream
        | O::CreateStream
        | O::DecreaseStreamRetentionPeriod
        | O::DeleteResourcePolicy
        | O::DeleteStream
        | O::DescribeAccountSettings
        | O::DeregisterStreamConsumer
        | O::DescribeLimits
        | O::DescribeStream
        | O::DescribeStreamConsumer
        | O::DescribeStreamSummary
        | O::DisableEnhancedMonitoring
        | O::EnableEnhancedMonitoring
        | O::GetRecords
        | O::GetResourcePolicy
        | O::GetShardIterator
        | O::IncreaseStreamRetentionPeriod
        | O::ListShards
        | O::ListStreamConsumers
        | O::ListStreams
        | O::ListTagsForResource
        | O::ListTagsForStream
        | O::MergeShards
        | O::PutRecord
        | O::PutRecords
        | O::RegisterStreamConsumer
        | O::PutResourcePolicy
        | O::RemoveTagsFromStream
        | O::SplitShard
        | O::StartStreamEncryption
        | O::StopStreamEncryption
        | O::SubscribeToShard
        | O::TagResource
        | O::UntagResource
        | O::UpdateAccountSettings
        | O::UpdateShardCount
        | O::UpdateMaxRecordSize
        | O::UpdateStreamMode
        | O::UpdateStreamRecordDistributionStrategy
        | O::UpdateStreamWarmThroughput => I,
        not_implemented!() => N,
    }
}

/// Which implementation [`execute`] uses for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// [`fast::PutRecordsRequest`](crate::fast::PutRecordsRequest): borrowed parse, direct
    /// answer; declines to the generic path on anything unusual.
    PutRecordsFast,
    /// Generic decode (the request is tiny), then [`fast::get_records`](crate::fast::get_records)
    /// writes the answer straight to bytes.
    GetRecordsFast,
    /// Model-driven decode, [`dispatch`], [`encode_response`](crate::encode_response).
    Generic,
}

/// The route [`execute`] takes for `op` over `protocol`. Only JSON has fast paths: CBOR
/// traffic is rare (the Java SDK's default) and its encoder has no base64 or escaping cost.
pub fn route(protocol: crate::Protocol, op: Operation) -> Route {
    match (protocol, op) {
        (crate::Protocol::Json, Operation::PutRecords) => Route::PutRecordsFast,
        (crate::Protocol::Json, Operation::GetRecords) => Route::GetRecordsFast,
        _ => Route::Generic,
    }
}

/// A request decoded by the fast path or the generic decoder: the value the middleware chain
/// sees (through [`Decoded::resources`]) and [`handle`] runs.
pub enum Decoded<'a> {
    /// A plain JSON PutRecords, borrowed from the body.
    PutRecords(crate::fast::PutRecordsRequest<'a>),
    /// Any other request, as a validated tree.
    Tree(Node),
}

/// The ARN service part and resource type of a stream.
const STREAM: (&str, &str) = ("kinesis", "stream");

impl Decoded<'_> {
    /// The stream and shard the request names, for fault rules: the stream by name or by an
    /// ARN of it or of its consumer, and `ShardId`.
    pub fn fault_target(&self) -> crate::faults::Target<'_> {
        use crate::faults::{stream_of_arn, Target};
        match self {
            Decoded::PutRecords(req) => Target {
                streams: [Some(req.stream_name), None],
                shard_id: None,
            },
            Decoded::Tree(input) => {
                let get = |m: &str| input.get(m).and_then(Node::as_str);
                let arn = get("StreamARN")
                    .or(get("ConsumerARN"))
                    .or(get("ResourceARN"))
                    .and_then(stream_of_arn);
                Target {
                    streams: [get("StreamName"), arn],
                    shard_id: get("ShardId"),
                }
            }
        }
    }

    /// The resources the request names (a stream by name and/or ARN, a tagged resource, a
    /// consumer), written into `out`; returns how many. Borrowed: nothing is formatted unless a
    /// middleware asks for an ARN. A GetRecords names its stream only inside the iterator, which
    /// the domain decodes; it reports none here.
    pub fn resources<'s>(&'s self, out: &mut [Resource<'s>; 2]) -> usize {
        let resource = |name: Option<&'s str>, arn: Option<&'s str>| Resource {
            service: STREAM.0,
            kind: STREAM.1,
            name,
            arn,
        };
        match self {
            Decoded::PutRecords(req) => {
                out[0] = resource(Some(req.stream_name), None);
                1
            }
            Decoded::Tree(input) => {
                let get = |m: &str| input.get(m).and_then(Node::as_str);
                let mut n = 0;
                let (name, arn) = (get("StreamName"), get("StreamARN").or(get("ResourceARN")));
                if name.is_some() || arn.is_some() {
                    out[n] = resource(name, arn);
                    n += 1;
                }
                if let Some(consumer) = get("ConsumerARN") {
                    out[n] = Resource {
                        kind: "consumer",
                        ..resource(None, Some(consumer))
                    };
                    n += 1;
                }
                n
            }
        }
    }
}

/// Stage 1: decode `body` for `op` (fast path or generic decoder). An operation whose [`state`]
/// is not implemented is decoded and validated against the model like any other, so a
/// malformed request gets AWS's SerializationException or ValidationException, and only a
/// valid one is refused as not implemented.
pub fn decode(
    op: Operation,
    protocol: crate::Protocol,
    body: &[u8],
) -> Result<Decoded<'_>, Failure> {
    if state(op) == OperationState::NotImplemented {
        let shape =
            crate::shape(op).ok_or(Failure::Wire(rheo_proto::WireError::UnknownOperation))?;
        crate::decode_request(crate::model(), shape, protocol, body).map_err(Failure::Wire)?;
        return Err(Failure::NotImplemented(op));
    }
    if route(protocol, op) == Route::PutRecordsFast {
        if let Some(req) = crate::fast::PutRecordsRequest::parse(body) {
            return Ok(Decoded::PutRecords(req));
        }
    }
    let shape = crate::shape(op).ok_or(Failure::Wire(rheo_proto::WireError::UnknownOperation))?;
    let input =
        crate::decode_request(crate::model(), shape, protocol, body).map_err(Failure::Wire)?;
    require_partition_keys(op, &input).map_err(Failure::Wire)?;
    Ok(Decoded::Tree(input))
}

/// AWS's model no longer marks `PartitionKey` required (a stream with AUTO record distribution
/// ignores it), but every stream here places records by their key: a missing key is refused
/// with the text the model's constraint gave, as a validation error before anything runs.
fn require_partition_keys(op: Operation, input: &Node) -> Result<(), rheo_proto::WireError> {
    let null = |path: &str| {
        format!("Value null at '{path}' failed to satisfy constraint: Member must not be null")
    };
    let missing: Vec<String> = match op {
        Operation::PutRecord if input.get("PartitionKey").is_none() => vec![null("partitionKey")],
        Operation::PutRecords => input
            .get("Records")
            .and_then(Node::as_list)
            .map(|records| {
                records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.get("PartitionKey").is_none())
                    .map(|(i, _)| null(&format!("records.{}.member.partitionKey", i + 1)))
                    .take(rheo_proto::MAX_REPORTED)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    if missing.is_empty() {
        return Ok(());
    }
    let n = missing.len();
    Err(rheo_proto::WireError::Validation(format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        missing.join("; ")
    )))
}

/// The `__type` of a request with `DryRun` set (a member of the data-plane inputs).
pub const DRY_RUN_TYPE: &str = "DryRunOperationException";

/// Stage 3 and 4: run a decoded request and encode its answer. JSON PutRecords and GetRecords
/// answers are written straight to bytes by the [`fast`](crate::fast) paths.
pub async fn run_decoded(
    streams: &Streams,
    ctx: &Ctx,
    op: Operation,
    protocol: crate::Protocol,
    decoded: Decoded<'_>,
) -> Result<Vec<u8>, Failure> {
    match decoded {
        Decoded::PutRecords(req) => crate::fast::put_records(streams, ctx, &req)
            .await
            .map_err(Failure::Domain),
        Decoded::Tree(input) => {
            // A dry run stops once the request is known to be valid and allowed: nothing is
            // written or read.
            if input.get("DryRun").and_then(Node::as_bool) == Some(true) {
                return Err(Failure::DryRun);
            }
            if route(protocol, op) == Route::GetRecordsFast {
                return crate::fast::get_records(streams, ctx, &input)
                    .await
                    .map_err(Failure::Domain);
            }
            let output = dispatch(streams, ctx, op, &input).await?;
            if crate::has_empty_output(op) {
                // AWS sends no body at all for an operation without output members, in JSON
                // and CBOR alike; every SDK reads an empty body as the empty output.
                debug_assert!(matches!(&output, Node::Map(m) if m.is_empty()), "{op:?}");
                return Ok(Vec::new());
            }
            Ok(crate::encode_response(protocol, &output))
        }
    }
}

/// The pipeline: [`decode`]; the middleware `chain` sees the action and resources (skipped,
/// with its resource scan, when the chain is empty); [`run_decoded`] runs and encodes.
#[allow(clippy::too_many_arguments)]
pub async fn handle(
    streams: &Streams,
    chain: &Chain,
    faults: &crate::faults::Faults,
    rc: &RequestContext,
    ctx: &Ctx,
    op: Operation,
    protocol: crate::Protocol,
    body: &[u8],
) -> Result<Vec<u8>, Failure> {
    let decoded = decode(op, protocol, body)?;
    if !chain.is_empty() {
        // Described before `before`, so that a refused call is recorded with its parameters.
        if chain.records(crate::audit::event_kind(op)) {
            let _ = rc.call.set(crate::audit::describe(op, &decoded, rc));
        }
        // A GetRecords names its stream only inside the iterator, and a ListShards after its
        // first page inside its NextToken; policies need it, so the token is opened here (a
        // garbled one names nothing, and the domain refuses it). Either names its stream's
        // account (the owner's, when obtained across accounts): the policy judged is that
        // stream's.
        let token_stream;
        let mut resources = [Resource {
            service: STREAM.0,
            kind: STREAM.1,
            name: None,
            arn: None,
        }; 2];
        let mut n = decoded.resources(&mut resources);
        if let (0, Decoded::Tree(input)) = (n, &decoded) {
            let token = |m: &str| input.get(m).and_then(Node::as_str);
            let named = match op {
                Operation::GetRecords => token("ShardIterator")
                    .and_then(|t| rheo_streams::iterator::ShardIterator::decode(t).ok())
                    .map(|it| (it.region, it.account, it.stream_name)),
                Operation::ListShards => token("NextToken")
                    .and_then(rheo_streams::list_shards_token_stream)
                    .map(|(account, name)| (rc.region.clone(), account, name)),
                _ => None,
            };
            if let Some((region, account, name)) = named {
                match account {
                    Some(account) => {
                        token_stream = format!("arn:aws:kinesis:{region}:{account}:stream/{name}");
                        resources[0].arn = Some(token_stream.as_str());
                    }
                    None => {
                        token_stream = name;
                        resources[0].name = Some(token_stream.as_str());
                    }
                }
                n = 1;
            }
        }
        let request = MiddlewareRequest {
            context: rc,
            action: op.action(),
            resources: resources.get(..n).unwrap_or(&[]),
        };
        chain.before(&request).map_err(Failure::Refused)?;
    }
    let granted = granted_ctx(rc, ctx);
    let ctx = &*granted;
    if !faults.is_empty() {
        let injection = faults.inject(op, &decoded.fault_target());
        if !injection.delay.is_zero() {
            tokio::time::sleep(injection.delay).await;
        }
        if let Some(refusal) = injection.error {
            return Err(Failure::Refused(refusal));
        }
        if let Some(partial) = injection.partial {
            return put_records_partial(streams, ctx, protocol, decoded, &partial).await;
        }
    }
    run_decoded(streams, ctx, op, protocol, decoded).await
}

/// Which records of a PutRecords to `target` a partial fault fails. The stream's open shards
/// are looked up (which also refuses a missing stream, as the write would) so that a rule
/// for one shard fails only the records bound for it, placed the way the domain places them.
async fn partial_failed(
    streams: &Streams,
    ctx: &Ctx,
    target: StreamTarget,
    keys: &[(&str, Option<&str>)],
    partial: &crate::faults::Partial,
) -> Result<Vec<bool>, Failure> {
    let shards = streams
        .list_shards(
            ctx,
            ListShards {
                target,
                next_token: None,
                exclusive_start_shard_id: None,
                max_results: None,
                stream_creation_ms: None,
                filter: None,
            },
        )
        .await
        .map_err(Failure::Domain)?
        .shards;
    let candidates: Vec<bool> = match &partial.shard_id {
        None => vec![true; keys.len()],
        Some(wanted) => keys
            .iter()
            .map(|(pk, explicit)| {
                let key = explicit
                    .and_then(rheo_streams::hash::parse_hash_key)
                    .unwrap_or_else(|| rheo_streams::hash::partition_key_hash(pk));
                shards.iter().any(|s| {
                    s.ending_sequence_number.is_none()
                        && s.range.contains(key)
                        && s.shard_id == *wanted
                })
            })
            .collect(),
    };
    Ok(crate::faults::failed_candidates(
        &candidates,
        partial.fraction,
    ))
}

/// A PutRecords of which an injected fault fails some records: the failed records are taken
/// out before the domain sees the request (they are never written), the rest are written as
/// usual, and the answers are merged back in request order.
async fn put_records_partial(
    streams: &Streams,
    ctx: &Ctx,
    protocol: crate::Protocol,
    decoded: Decoded<'_>,
    partial: &crate::faults::Partial,
) -> Result<Vec<u8>, Failure> {
    let code = partial.code;
    let stream = |name: Option<&str>, arn: Option<&str>| {
        name.or(arn.and_then(crate::faults::stream_of_arn))
            .unwrap_or_default()
            .to_string()
    };
    let message = |stream: &str| match code {
        "InternalFailure" => "Internal service failure.".to_string(),
        _ => format!(
            "Rate exceeded for stream {stream} under account {}.",
            ctx.account
        ),
    };
    match decoded {
        Decoded::PutRecords(req) => {
            let refs = req.records();
            let target = StreamTarget {
                name: Some(req.stream_name.to_string()),
                arn: None,
            };
            let keys: Vec<_> = refs
                .iter()
                .map(|r| (r.partition_key, r.explicit_hash_key))
                .collect();
            let failed = partial_failed(streams, ctx, target.clone(), &keys, partial).await?;
            let kept: Vec<_> = refs
                .iter()
                .zip(&failed)
                .filter(|(_, f)| !**f)
                .map(|(r, _)| *r)
                .collect();
            let written = if kept.is_empty() {
                PutRecordsOutput {
                    failed_count: 0,
                    records: Vec::new(),
                    encrypted: false,
                }
            } else {
                streams
                    .put_record_refs(ctx, &target, &kept)
                    .await
                    .map_err(Failure::Domain)?
            };
            let text = message(req.stream_name);
            let mut answers = written.records.into_iter();
            let mut failed_count = written.failed_count;
            let mut records = Vec::with_capacity(failed.len());
            for f in failed {
                if f {
                    failed_count += 1;
                    records.push(PutRecordsEntry::Failed {
                        code: code.to_string(),
                        message: text.clone(),
                    });
                } else if let Some(answer) = answers.next() {
                    records.push(answer);
                }
            }
            Ok(crate::fast::put_records_json(&PutRecordsOutput {
                failed_count,
                records,
                encrypted: written.encrypted,
            }))
        }
        Decoded::Tree(mut input) => {
            if input.get("DryRun").and_then(Node::as_bool) == Some(true) {
                return Err(Failure::DryRun);
            }
            let all = match input.take("Records") {
                Some(Node::List(all)) => all,
                _ => Vec::new(),
            };
            let keys: Vec<_> = all
                .iter()
                .map(|r| {
                    let get = |m: &str| r.get(m).and_then(Node::as_str);
                    (
                        get("PartitionKey").unwrap_or_default(),
                        get("ExplicitHashKey"),
                    )
                })
                .collect();
            let failed = partial_failed(streams, ctx, target(&input), &keys, partial).await?;
            drop(keys);
            let kept: Vec<Node> = all
                .into_iter()
                .zip(&failed)
                .filter(|(_, f)| !**f)
                .map(|(r, _)| r)
                .collect();
            let get = |m: &str| input.get(m).and_then(Node::as_str);
            let text = message(&stream(get("StreamName"), get("StreamARN")));
            let (mut written, answers) = if kept.is_empty() {
                (Node::map().with("EncryptionType", "NONE"), Vec::new())
            } else {
                input.insert("Records", Node::List(kept));
                let mut out = dispatch(streams, ctx, Operation::PutRecords, &input).await?;
                let answers = match out.take("Records") {
                    Some(Node::List(a)) => a,
                    _ => Vec::new(),
                };
                (out, answers)
            };
            let mut failed_count = written
                .take("FailedRecordCount")
                .and_then(|n| n.as_i64())
                .unwrap_or(0);
            let mut answers = answers.into_iter();
            let mut records = Vec::with_capacity(failed.len());
            for f in failed {
                if f {
                    failed_count += 1;
                    records.push(
                        Node::map()
                            .with("ErrorCode", code)
                            .with("ErrorMessage", text.as_str()),
                    );
                } else if let Some(answer) = answers.next() {
                    records.push(answer);
                }
            }
            let encryption = written
                .take("EncryptionType")
                .unwrap_or_else(|| Node::str("NONE"));
            let output = Node::map()
                .with("FailedRecordCount", failed_count)
                .with("Records", Node::List(records))
                .with("EncryptionType", encryption);
            Ok(crate::encode_response(protocol, &output))
        }
    }
}

/// Decodes, validates and runs one request, and encodes its answer, with no middleware (tests
/// and tools; the server calls [`handle`]). A plain JSON PutRecords and every JSON GetRecords
/// answer take the [`fast`](crate::fast) paths (see [`route`]); everything else, and anything
/// the PutRecords fast path declines, goes through the model-driven decoder and [`dispatch`].
pub async fn execute(
    streams: &Streams,
    ctx: &Ctx,
    op: Operation,
    protocol: crate::Protocol,
    body: &[u8],
) -> Result<Vec<u8>, Failure> {
    let decoded = decode(op, protocol, body)?;
    run_decoded(streams, ctx, op, protocol, decoded).await
}

/// Runs operation `op` with its validated `input` tree.
pub async fn dispatch(
    streams: &Streams,
    ctx: &Ctx,
    op: Operation,
    input: &Node,
) -> Result<Node, Failure> {
    run(streams, ctx, op, input).await.map_err(|e| match e {
        Run::Domain(e) => Failure::Domain(e),
        Run::NotImplemented => Failure::NotImplemented(op),
    })
}

enum Run {
    Domain(KinesisError),
    NotImplemented,
}

impl From<KinesisError> for Run {
    fn from(e: KinesisError) -> Self {
        Run::Domain(e)
    }
}

async fn run(streams: &Streams, ctx: &Ctx, op: Operation, input: &Node) -> Result<Node, Run> {
    use Operation as O;
    let answer: OpResult = match op {
        O::CreateStream => create_stream(streams, ctx, input).await,
        O::DeleteStream => {
            let enforce = input
                .get("EnforceConsumerDeletion")
                .and_then(Node::as_bool)
                .unwrap_or(false);
            streams
                .delete_stream_with(ctx, &target(input), enforce)
                .await?;
            Ok(Node::map())
        }
        O::RegisterStreamConsumer => {
            let c = streams
                .register_stream_consumer(
                    ctx,
                    RegisterConsumer {
                        stream_arn: string(input, "StreamARN")?.to_string(),
                        consumer_name: string(input, "ConsumerName")?.to_string(),
                        tags: tag_map(input.get("Tags")).into_iter().collect(),
                    },
                )
                .await?;
            Ok(Node::map().with("Consumer", consumer(&c, false)))
        }
        O::DescribeStreamConsumer => {
            let c = streams
                .describe_stream_consumer(ctx, &consumer_target(input))
                .await?;
            Ok(Node::map().with("ConsumerDescription", consumer(&c, true)))
        }
        O::DeregisterStreamConsumer => {
            streams
                .deregister_stream_consumer(ctx, &consumer_target(input))
                .await?;
            Ok(Node::map())
        }
        O::ListStreamConsumers => {
            let out = streams
                .list_stream_consumers(
                    ctx,
                    ListConsumers {
                        stream_arn: string(input, "StreamARN")?.to_string(),
                        next_token: input
                            .get("NextToken")
                            .and_then(Node::as_str)
                            .map(str::to_string),
                        max_results: opt_u32(input, "MaxResults"),
                        stream_creation_ms: input
                            .get("StreamCreationTimestamp")
                            .and_then(Node::as_timestamp_ms),
                    },
                )
                .await?;
            let list = out.consumers.iter().map(|c| consumer(c, false)).collect();
            Ok(Node::map()
                .with("Consumers", Node::List(list))
                .with_opt("NextToken", out.next_token))
        }
        O::DescribeStream => describe_stream(streams, ctx, input).await,
        O::DescribeStreamSummary => describe_stream_summary(streams, ctx, input).await,
        O::ListStreams => list_streams(streams, ctx, input).await,
        O::ListShards => list_shards(streams, ctx, input).await,
        O::PutRecord => put_record(streams, ctx, input).await,
        O::PutRecords => put_records(streams, ctx, input).await,
        O::GetShardIterator => get_shard_iterator(streams, ctx, input).await,
        O::GetRecords => get_records(streams, ctx, input).await,
        O::IncreaseStreamRetentionPeriod => {
            let hours = int(input, "RetentionPeriodHours")?;
            streams
                .increase_retention(ctx, &target(input), hours)
                .await?;
            Ok(Node::map())
        }
        O::DecreaseStreamRetentionPeriod => {
            let hours = int(input, "RetentionPeriodHours")?;
            streams
                .decrease_retention(ctx, &target(input), hours)
                .await?;
            Ok(Node::map())
        }
        O::SplitShard => {
            let shard = string(input, "ShardToSplit")?;
            let key = string(input, "NewStartingHashKey")?;
            streams.split_shard(ctx, &target(input), shard, key).await?;
            Ok(Node::map())
        }
        O::MergeShards => {
            let a = string(input, "ShardToMerge")?;
            let b = string(input, "AdjacentShardToMerge")?;
            streams.merge_shards(ctx, &target(input), a, b).await?;
            Ok(Node::map())
        }
        O::UpdateShardCount => update_shard_count(streams, ctx, input).await,
        O::DescribeLimits => {
            let l = streams.describe_limits(ctx).await?;
            Ok(Node::map()
                .with("ShardLimit", l.shard_limit)
                .with("OpenShardCount", l.open_shard_count)
                .with("OnDemandStreamCount", l.on_demand_stream_count)
                .with("OnDemandStreamCountLimit", l.on_demand_stream_count_limit)
                // Channels cannot be created here yet. ChannelCountLimit is left out: AWS's
                // default is not documented in anything found so far.
                .with("ChannelCount", 0i64))
        }
        O::UpdateStreamMode => {
            let mode = mode_of(input.get("StreamModeDetails"))?;
            streams
                .update_stream_mode(ctx, &target(input), mode)
                .await?;
            Ok(Node::map())
        }
        O::DescribeAccountSettings => {
            let c = streams.describe_account_settings(ctx).await?;
            Ok(Node::map().with("MinimumThroughputBillingCommitment", commitment(&c)))
        }
        O::UpdateAccountSettings => {
            let status = input
                .get("MinimumThroughputBillingCommitment")
                .and_then(|c| c.get("Status"))
                .and_then(Node::as_str)
                .ok_or_else(|| missing("MinimumThroughputBillingCommitment"))?;
            let c = streams
                .update_account_settings(ctx, status == "ENABLED")
                .await?;
            Ok(Node::map().with("MinimumThroughputBillingCommitment", commitment(&c)))
        }
        O::UpdateStreamWarmThroughput => {
            let mibps = int(input, "WarmThroughputMiBps")?;
            let mibps = u32::try_from(mibps).unwrap_or(u32::MAX);
            let out = streams
                .update_stream_warm_throughput(ctx, &target(input), mibps)
                .await?;
            Ok(Node::map()
                .with("StreamARN", out.arn)
                .with("StreamName", out.name)
                .with("WarmThroughput", warm_throughput(out.warm_throughput)))
        }
        O::UpdateStreamRecordDistributionStrategy => {
            let text = string(input, "RecordDistributionStrategy")?;
            let strategy = RecordDistribution::parse(text)
                .ok_or_else(|| missing("RecordDistributionStrategy"))?;
            streams
                .update_record_distribution(ctx, &target(input), strategy)
                .await?;
            Ok(Node::map())
        }
        O::UpdateMaxRecordSize => {
            let kib = int(input, "MaxRecordSizeInKiB")?;
            let kib = u32::try_from(kib).unwrap_or(u32::MAX);
            streams
                .update_max_record_size(ctx, &target(input), kib)
                .await?;
            Ok(Node::map())
        }
        O::AddTagsToStream => {
            streams
                .add_tags(ctx, &target(input), tag_map(input.get("Tags")))
                .await?;
            Ok(Node::map())
        }
        O::RemoveTagsFromStream => {
            streams
                .remove_tags(ctx, &target(input), strings(input.get("TagKeys")))
                .await?;
            Ok(Node::map())
        }
        O::ListTagsForStream => {
            let start = input.get("ExclusiveStartTagKey").and_then(Node::as_str);
            let limit = input.get("Limit").and_then(Node::as_i64).map(|l| l as u32);
            let tags = streams.list_tags(ctx, &target(input), start, limit).await?;
            Ok(Node::map()
                .with("Tags", tag_list(&tags.tags))
                .with("HasMoreTags", tags.has_more))
        }
        O::TagResource if is_consumer_arn(input) => {
            let arn = string(input, "ResourceARN")?;
            streams
                .change_consumer_tags(ctx, arn, tag_map(input.get("Tags")), Vec::new())
                .await?;
            Ok(Node::map())
        }
        O::UntagResource if is_consumer_arn(input) => {
            let arn = string(input, "ResourceARN")?;
            streams
                .change_consumer_tags(ctx, arn, Vec::new(), strings(input.get("TagKeys")))
                .await?;
            Ok(Node::map())
        }
        O::ListTagsForResource if is_consumer_arn(input) => {
            let tags = streams
                .list_consumer_tags(ctx, string(input, "ResourceARN")?)
                .await?;
            Ok(Node::map().with("Tags", tag_list(&tags.tags)))
        }
        O::TagResource => {
            streams
                .add_tags(ctx, &resource(input)?, tag_map(input.get("Tags")))
                .await?;
            Ok(Node::map())
        }
        O::UntagResource => {
            streams
                .remove_tags(ctx, &resource(input)?, strings(input.get("TagKeys")))
                .await?;
            Ok(Node::map())
        }
        O::ListTagsForResource => {
            let tags = streams
                .list_tags(ctx, &resource(input)?, None, None)
                .await?;
            Ok(Node::map().with("Tags", tag_list(&tags.tags)))
        }
        O::EnableEnhancedMonitoring | O::DisableEnhancedMonitoring => {
            let metrics = strings(input.get("ShardLevelMetrics"));
            let enable = op == O::EnableEnhancedMonitoring;
            let (name, arn, current, desired) = streams
                .set_enhanced_monitoring(ctx, &target(input), metrics, enable)
                .await?;
            let list = |v: Vec<String>| Node::List(v.into_iter().map(Node::from).collect());
            Ok(Node::map()
                .with("StreamName", name)
                .with("CurrentShardLevelMetrics", list(current))
                .with("DesiredShardLevelMetrics", list(desired))
                .with("StreamARN", arn))
        }
        O::StartStreamEncryption => {
            let key = string(input, "KeyId")?.to_string();
            streams
                .set_encryption(ctx, &target(input), Some(key))
                .await?;
            Ok(Node::map())
        }
        // Its answer is an event stream, started by `subscribe::subscribe`, never a tree.
        O::SubscribeToShard => Err(KinesisError::Internal(
            "SubscribeToShard answers with an event stream (subscribe::subscribe)".into(),
        )),
        O::StopStreamEncryption => {
            streams.set_encryption(ctx, &target(input), None).await?;
            Ok(Node::map())
        }
        O::PutResourcePolicy => {
            let arn = string(input, "ResourceARN")?;
            let policy = string(input, "Policy")?;
            streams.put_resource_policy(ctx, arn, policy).await?;
            Ok(Node::map())
        }
        O::GetResourcePolicy => {
            let policy = streams
                .get_resource_policy(ctx, string(input, "ResourceARN")?)
                .await?;
            Ok(Node::map().with("Policy", policy))
        }
        O::DeleteResourcePolicy => {
            streams
                .delete_resource_policy(ctx, string(input, "ResourceARN")?)
                .await?;
            Ok(Node::map())
        }
        // Exhaustive on purpose: `state` says which of these answer before decoding, and a new
        // model operation must be placed here too.
        not_implemented!() => return Err(Run::NotImplemented),
    };
    Ok(answer?)
}

fn target(input: &Node) -> StreamTarget {
    StreamTarget {
        name: input
            .get("StreamName")
            .and_then(Node::as_str)
            .map(str::to_string),
        arn: input
            .get("StreamARN")
            .and_then(Node::as_str)
            .map(str::to_string),
    }
}

/// Whether a tagging request's ResourceARN names a consumer rather than a stream.
fn is_consumer_arn(input: &Node) -> bool {
    input
        .get("ResourceARN")
        .and_then(Node::as_str)
        .is_some_and(|arn| arn.contains("/consumer/"))
}

fn consumer_target(input: &Node) -> ConsumerTarget {
    let get = |m: &str| input.get(m).and_then(Node::as_str).map(str::to_string);
    ConsumerTarget {
        consumer_arn: get("ConsumerARN"),
        stream_arn: get("StreamARN"),
        consumer_name: get("ConsumerName"),
    }
}

/// The model's `Consumer`, or with `with_stream` its `ConsumerDescription` (which adds the
/// stream's ARN).
fn consumer(c: &ConsumerInfo, with_stream: bool) -> Node {
    let node = Node::map()
        .with("ConsumerName", c.name.clone())
        .with("ConsumerARN", c.arn.clone())
        .with("ConsumerStatus", c.status.as_str())
        .with("ConsumerCreationTimestamp", Node::Timestamp(c.created_ms));
    if with_stream {
        node.with("StreamARN", c.stream_arn.clone())
    } else {
        node
    }
}

/// The model's `WarmThroughputObject`.
fn warm_throughput(w: WarmThroughput) -> Node {
    Node::map()
        .with("TargetMiBps", w.target_mibps)
        .with_opt("CurrentMiBps", w.current_mibps)
}

/// The model's `MinimumThroughputBillingCommitmentOutput`.
fn commitment(c: &rheo_streams::Commitment) -> Node {
    Node::map()
        .with("Status", c.status.as_str())
        .with_opt("StartedAt", c.started_ms.map(Node::Timestamp))
        .with_opt("EndedAt", c.ended_ms.map(Node::Timestamp))
        .with_opt(
            "EarliestAllowedEndAt",
            c.earliest_allowed_end_ms.map(Node::Timestamp),
        )
}

fn resource(input: &Node) -> Result<StreamTarget, KinesisError> {
    Ok(StreamTarget {
        name: None,
        arn: Some(string(input, "ResourceARN")?.to_string()),
    })
}

fn missing(member: &str) -> KinesisError {
    KinesisError::Validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member \
         must not be null",
        rheo_proto::lower_first(member)
    ))
}

fn string<'a>(input: &'a Node, member: &str) -> Result<&'a str, KinesisError> {
    input
        .get(member)
        .and_then(Node::as_str)
        .ok_or_else(|| missing(member))
}

fn int(input: &Node, member: &str) -> Result<i64, KinesisError> {
    input
        .get(member)
        .and_then(Node::as_i64)
        .ok_or_else(|| missing(member))
}

fn opt_u32(input: &Node, member: &str) -> Option<u32> {
    input
        .get(member)
        .and_then(Node::as_i64)
        .map(|v| v.clamp(0, i64::from(u32::MAX)) as u32)
}

fn strings(node: Option<&Node>) -> Vec<String> {
    node.and_then(Node::as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

fn tag_map(node: Option<&Node>) -> Vec<(String, String)> {
    node.and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect()
}

fn tag_list(tags: &[(String, String)]) -> Node {
    Node::List(
        tags.iter()
            .map(|(k, v)| {
                Node::map()
                    .with("Key", k.as_str())
                    .with("Value", v.as_str())
            })
            .collect(),
    )
}

fn mode_of(details: Option<&Node>) -> Result<StreamMode, KinesisError> {
    let text = details
        .and_then(|d| d.get("StreamMode"))
        .and_then(Node::as_str)
        .ok_or_else(|| missing("StreamModeDetails"))?;
    StreamMode::parse(text).ok_or_else(|| missing("StreamMode"))
}

fn mode_details(mode: StreamMode) -> Node {
    Node::map().with("StreamMode", mode.as_str())
}

fn hash_range(r: &HashRange) -> Node {
    Node::map()
        .with("StartingHashKey", r.start.to_string())
        .with("EndingHashKey", r.end.to_string())
}

fn shard(s: &ShardInfo) -> Node {
    Node::map()
        .with("ShardId", s.shard_id.as_str())
        .with_opt("ParentShardId", s.parent_shard_id.clone())
        .with_opt("AdjacentParentShardId", s.adjacent_parent_shard_id.clone())
        .with("HashKeyRange", hash_range(&s.range))
        .with(
            "SequenceNumberRange",
            Node::map()
                .with(
                    "StartingSequenceNumber",
                    s.starting_sequence_number.as_str(),
                )
                .with_opt("EndingSequenceNumber", s.ending_sequence_number.clone()),
        )
}

fn enhanced_monitoring(metrics: &[String]) -> Node {
    Node::List(vec![Node::map().with(
        "ShardLevelMetrics",
        Node::List(metrics.iter().map(|m| Node::from(m.as_str())).collect()),
    )])
}

fn encryption_type(key: &Option<String>) -> &'static str {
    if key.is_some() {
        "KMS"
    } else {
        "NONE"
    }
}

async fn create_stream(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let mode = match input.get("StreamModeDetails") {
        Some(d) => Some(mode_of(Some(d))?),
        None => None,
    };
    let tags: BTreeMap<String, String> = tag_map(input.get("Tags")).into_iter().collect();
    streams
        .create_stream(
            ctx,
            CreateStream {
                name: string(input, "StreamName")?.to_string(),
                shard_count: opt_u32(input, "ShardCount"),
                mode,
                tags,
                warm_throughput_mibps: opt_u32(input, "WarmThroughputMiBps"),
                max_record_size_kib: opt_u32(input, "MaxRecordSizeInKiB"),
                record_distribution: input
                    .get("RecordDistributionStrategy")
                    .and_then(Node::as_str)
                    .and_then(RecordDistribution::parse),
            },
        )
        .await?;
    Ok(Node::map())
}

async fn describe_stream(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let d = streams
        .describe_stream(
            ctx,
            &target(input),
            opt_u32(input, "Limit"),
            input.get("ExclusiveStartShardId").and_then(Node::as_str),
        )
        .await?;
    let desc = Node::map()
        .with("StreamName", d.name.as_str())
        .with("StreamARN", d.arn.as_str())
        .with("StreamStatus", d.status.as_str())
        .with("StreamModeDetails", mode_details(d.mode))
        .with("Shards", Node::List(d.shards.iter().map(shard).collect()))
        .with("HasMoreShards", d.has_more_shards)
        .with("RetentionPeriodHours", d.retention_hours)
        .with("StreamCreationTimestamp", Node::Timestamp(d.created_ms))
        .with(
            "EnhancedMonitoring",
            enhanced_monitoring(&d.enhanced_metrics),
        )
        .with("EncryptionType", encryption_type(&d.encryption_key))
        .with_opt("KeyId", d.encryption_key.clone());
    Ok(Node::map().with("StreamDescription", desc))
}

async fn describe_stream_summary(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let s = streams.describe_stream_summary(ctx, &target(input)).await?;
    let summary = Node::map()
        .with("StreamName", s.name.as_str())
        .with("StreamARN", s.arn.as_str())
        .with("StreamStatus", s.status.as_str())
        .with("StreamModeDetails", mode_details(s.mode))
        .with("RetentionPeriodHours", s.retention_hours)
        .with("StreamCreationTimestamp", Node::Timestamp(s.created_ms))
        .with(
            "EnhancedMonitoring",
            enhanced_monitoring(&s.enhanced_metrics),
        )
        .with("EncryptionType", encryption_type(&s.encryption_key))
        .with_opt("KeyId", s.encryption_key.clone())
        .with("OpenShardCount", s.open_shard_count)
        .with("ConsumerCount", s.consumer_count)
        .with("MaxRecordSizeInKiB", s.max_record_size_kib)
        .with_opt("WarmThroughput", s.warm_throughput.map(warm_throughput))
        .with("RecordDistributionStrategy", s.record_distribution.as_str());
    Ok(Node::map().with("StreamDescriptionSummary", summary))
}

async fn list_streams(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let out = streams
        .list_streams(
            ctx,
            ListStreams {
                limit: opt_u32(input, "Limit"),
                exclusive_start_stream_name: input
                    .get("ExclusiveStartStreamName")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                next_token: input
                    .get("NextToken")
                    .and_then(Node::as_str)
                    .map(str::to_string),
            },
        )
        .await?;
    let summaries = out
        .summaries
        .iter()
        .map(|(name, arn, status, mode, created)| {
            Node::map()
                .with("StreamName", name.as_str())
                .with("StreamARN", arn.as_str())
                .with("StreamStatus", status.as_str())
                .with("StreamModeDetails", mode_details(*mode))
                .with("StreamCreationTimestamp", Node::Timestamp(*created))
        })
        .collect();
    Ok(Node::map()
        .with(
            "StreamNames",
            Node::List(out.names.iter().map(|n| Node::from(n.as_str())).collect()),
        )
        .with("HasMoreStreams", out.has_more)
        .with_opt("NextToken", out.next_token)
        .with("StreamSummaries", Node::List(summaries)))
}

async fn list_shards(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let filter = match input.get("ShardFilter") {
        Some(f) => {
            let kind = f
                .get("Type")
                .and_then(Node::as_str)
                .and_then(ShardFilterType::parse)
                .ok_or_else(|| missing("Type"))?;
            Some(ShardFilter {
                kind,
                shard_id: f.get("ShardId").and_then(Node::as_str).map(str::to_string),
                timestamp_ms: f.get("Timestamp").and_then(Node::as_timestamp_ms),
            })
        }
        None => None,
    };
    let out = streams
        .list_shards(
            ctx,
            ListShards {
                target: target(input),
                next_token: input
                    .get("NextToken")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                exclusive_start_shard_id: input
                    .get("ExclusiveStartShardId")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                max_results: opt_u32(input, "MaxResults"),
                stream_creation_ms: input
                    .get("StreamCreationTimestamp")
                    .and_then(Node::as_timestamp_ms),
                filter,
            },
        )
        .await?;
    Ok(Node::map()
        .with("Shards", Node::List(out.shards.iter().map(shard).collect()))
        .with_opt("NextToken", out.next_token))
}

fn put_entry(node: &Node) -> Result<PutEntry, KinesisError> {
    Ok(PutEntry {
        data: node
            .get("Data")
            .and_then(Node::as_bytes)
            .cloned()
            .ok_or_else(|| missing("Data"))?,
        partition_key: string(node, "PartitionKey")?.to_string(),
        explicit_hash_key: node
            .get("ExplicitHashKey")
            .and_then(Node::as_str)
            .map(str::to_string),
    })
}

async fn put_record(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    if let Some(seq) = input
        .get("SequenceNumberForOrdering")
        .and_then(Node::as_str)
    {
        streams
            .check_sequence_for_ordering(ctx, &target(input), seq)
            .await?;
    }
    let r = streams
        .put_record(ctx, &target(input), put_entry(input)?)
        .await?;
    Ok(Node::map()
        .with("ShardId", r.shard_id())
        .with("SequenceNumber", r.sequence_number())
        .with("EncryptionType", if r.encrypted { "KMS" } else { "NONE" }))
}

async fn put_records(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let entries = input
        .get("Records")
        .and_then(Node::as_list)
        .ok_or_else(|| missing("Records"))?
        .iter()
        .map(put_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let out = streams.put_records(ctx, &target(input), entries).await?;
    let records = out
        .records
        .into_iter()
        .map(|r| match r {
            PutRecordsEntry::Ok(r) => Node::map()
                .with("SequenceNumber", r.sequence_number())
                .with("ShardId", r.shard_id()),
            PutRecordsEntry::Failed { code, message } => Node::map()
                .with("ErrorCode", code)
                .with("ErrorMessage", message),
        })
        .collect();
    Ok(Node::map()
        .with("FailedRecordCount", out.failed_count)
        .with("Records", Node::List(records))
        .with("EncryptionType", if out.encrypted { "KMS" } else { "NONE" }))
}

async fn get_shard_iterator(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let kind_text = string(input, "ShardIteratorType")?;
    let kind = IteratorType::parse(kind_text).ok_or_else(|| missing("ShardIteratorType"))?;
    let it = streams
        .get_shard_iterator(
            ctx,
            GetShardIterator {
                target: target(input),
                shard_id: string(input, "ShardId")?.to_string(),
                kind,
                starting_sequence_number: input
                    .get("StartingSequenceNumber")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                timestamp_ms: input.get("Timestamp").and_then(Node::as_timestamp_ms),
            },
        )
        .await?;
    Ok(Node::map().with("ShardIterator", it))
}

/// Runs a GetRecords whose input tree has been validated; shared by the generic path and the
/// JSON fast path so both call the domain identically.
pub(crate) async fn fetch_records(
    streams: &Streams,
    ctx: &Ctx,
    input: &Node,
) -> Result<GetRecordsOutput, KinesisError> {
    streams
        .get_records(
            ctx,
            string(input, "ShardIterator")?,
            opt_u32(input, "Limit"),
            input.get("StreamARN").and_then(Node::as_str),
        )
        .await
}

async fn get_records(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    Ok(get_records_node(fetch_records(streams, ctx, input).await?))
}

/// The GetRecords output tree, the generic path's answer.
pub(crate) fn get_records_node(out: GetRecordsOutput) -> Node {
    // The reference shape: `fast::get_records_json` writes the same members in this order.
    let records = out
        .records
        .into_iter()
        .map(|r| {
            Node::map()
                .with("SequenceNumber", r.sequence_number)
                .with("ApproximateArrivalTimestamp", Node::Timestamp(r.arrival_ms))
                .with("Data", r.data)
                .with("PartitionKey", r.partition_key)
                .with_opt("EncryptionType", r.encrypted.then_some("KMS"))
        })
        .collect();
    let children = out.child_shards.map(|c| {
        Node::List(
            c.iter()
                .map(|c| {
                    Node::map()
                        .with("ShardId", c.shard_id.as_str())
                        .with(
                            "ParentShards",
                            Node::List(
                                c.parent_shards
                                    .iter()
                                    .map(|p| Node::from(p.as_str()))
                                    .collect(),
                            ),
                        )
                        .with("HashKeyRange", hash_range(&c.range))
                })
                .collect(),
        )
    });
    Node::map()
        .with("Records", Node::List(records))
        .with_opt("NextShardIterator", out.next_shard_iterator)
        .with("MillisBehindLatest", out.millis_behind_latest)
        .with_opt("ChildShards", children)
}

async fn update_shard_count(streams: &Streams, ctx: &Ctx, input: &Node) -> OpResult {
    let count = int(input, "TargetShardCount")?;
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    let out = streams
        .update_shard_count(ctx, &target(input), count)
        .await?;
    Ok(Node::map()
        .with("StreamName", out.name)
        .with("CurrentShardCount", out.current)
        .with("TargetShardCount", out.target)
        .with("StreamARN", out.arn))
}
