//! The HTTP front: one hyper service for HTTP/1.1 and cleartext HTTP/2 on the same port.
//!
//! Per request, in AWS's order: method and content type, `X-Amz-Target`, body size (refused
//! from `Content-Length` before reading, and bounded while reading), SigV4 header, then with
//! the body in hand the authentication gate (signature verification under `--auth sigv4`), then
//! the wire layer decodes and validates, the domain runs, and the wire layer encodes. Nothing
//! here knows an operation's meaning.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use rheo_api_kinesis::{ops, subscribe, Operation};
use rheo_http::limits::{declared_too_large, read_body, BodyError};
use rheo_http::middleware::{CallError, Chain, Outcome};
use rheo_http::{ReplyBody, RequestContext};
use rheo_proto::{Model, Protocol, WireError};
use rheo_streams::types::Ctx;
use rheo_streams::Streams;
use tracing::Instrument as _;

pub struct App {
    pub streams: Streams,
    /// The local KMS (`TrentService.*` targets).
    pub kms: rheo_kms::Kms,
    pub model: &'static Model,
    /// The account a request acts in unless its access key is in the credentials file.
    pub account: Arc<str>,
    /// Authentication (`--auth`): who calls, and whether the signature is right.
    pub auth: crate::auth::Gate,
    pub max_body_bytes: usize,
    /// Sees every decoded request before it runs, and every answer.
    pub chain: Chain,
    pub router: rheo_http::Router<Binding>,
    /// Ends streaming answers when the server stops.
    pub shutdown: rheo_http::Shutdown,
    /// Injected faults; empty unless configured.
    pub faults: rheo_api_kinesis::faults::Faults,
}

/// The service bindings this server wires. One today; each new service adds a variant, a route
/// and an arm in [`handle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Kinesis,
    Kms,
    /// `GET /metrics` (Prometheus text); anything else on that path is the fallback's.
    Metrics,
}

impl App {
    pub fn router() -> rheo_http::Router<Binding> {
        // The fallback answers what AWS answers a request without a known target.
        rheo_http::Router::new(Binding::Kinesis)
            .target_prefix(rheo_api_kinesis::TARGET_PREFIX, Binding::Kinesis)
            .target_prefix(rheo_api_kms::TARGET_PREFIX, Binding::Kms)
            .path_prefix("/metrics", Binding::Metrics)
    }
}

pub(crate) type Reply = Response<ReplyBody>;

pub async fn handle(app: Arc<App>, peer: SocketAddr, req: Request<Incoming>) -> Reply {
    let rc = RequestContext::new(app.account.clone(), Some(peer));
    // Every line logged while the request is handled carries its id, the x-amzn-RequestId the
    // client sees.
    let span = tracing::info_span!("request", request_id = %rc.request_id);
    handle_in(app, rc, req).instrument(span).await
}

async fn handle_in(app: Arc<App>, mut rc: RequestContext, req: Request<Incoming>) -> Reply {
    crate::memory::count_request();
    let started = Instant::now();
    rc.http_version = req.version();
    rc.secure_transport = rheo_http::Tls::of(&req);
    let mut op = None;
    let mut kms_op = None;
    if req.uri().path() == crate::faults::PATH {
        return faults_admin(&app, req).await;
    }
    let mut reply = match app.router.route(req.headers(), req.uri().path()) {
        Binding::Kinesis => serve(&app, &mut rc, &mut op, req).await,
        Binding::Kms => crate::kms::serve(&app, &mut rc, &mut kms_op, req).await,
        Binding::Metrics if req.method() == Method::GET && req.uri().path() == "/metrics" => {
            metrics_reply(&app.streams).await
        }
        Binding::Metrics => serve(&app, &mut rc, &mut op, req).await,
    };
    if let Ok(id) = HeaderValue::from_bytes(rc.request_id.as_bytes()) {
        reply.headers_mut().insert("x-amzn-requestid", id);
    }
    crate::metrics::count_request(op, reply.status().as_u16());
    let outcome = Outcome {
        action: op
            .map(Operation::action)
            .or(kms_op.map(rheo_api_kms::Operation::action)),
        kind: op
            .map(rheo_api_kinesis::audit::event_kind)
            .unwrap_or_default(),
        status: reply.status().as_u16(),
        latency: started.elapsed(),
        error: reply.extensions().get::<CallError>(),
        detail: rc.call.get(),
    };
    app.chain.after(&rc, &outcome);
    reply
}

/// `GET /metrics`'s answer (the API port's and the metrics port's).
pub async fn metrics_reply(streams: &Streams) -> Reply {
    reply(
        StatusCode::OK,
        Some(crate::metrics::CONTENT_TYPE),
        Bytes::from(crate::metrics::render(streams).await),
    )
}

/// The metrics port: `GET /metrics` and nothing else (404 with an empty body).
pub async fn handle_metrics_port(streams: Streams, req: Request<Incoming>) -> Reply {
    if req.method() == Method::GET && req.uri().path() == "/metrics" {
        metrics_reply(&streams).await
    } else {
        reply(StatusCode::NOT_FOUND, None, Bytes::new())
    }
}

/// The fault-injection admin endpoint (its own exact path: nothing else changes).
async fn faults_admin(app: &App, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let bytes = match read_body(body, declared, app.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::Read(_)) => return reply(StatusCode::BAD_REQUEST, None, Bytes::new()),
    };
    let (status, answer) = crate::faults::admin(&app.faults, &parts.method, &bytes);
    reply(status, Some("application/json"), answer)
}

/// Answers one request; `rc` is filled as the request is understood and `op` once the target
/// resolves, for the request's log line.
async fn serve(
    app: &App,
    rc: &mut RequestContext,
    op_seen: &mut Option<Operation>,
    req: Request<Incoming>,
) -> Reply {
    let (parts, body) = req.into_parts();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let target = header("x-amz-target").map(str::to_string);
    let protocol = Protocol::from_content_type(header("content-type"));
    let Some(protocol) = protocol.filter(|_| parts.method == Method::POST) else {
        return wire_error(
            &rheo_proto::unsupported_content_type(target.as_deref()),
            None,
        );
    };
    let op = match rheo_api_kinesis::resolve(target.as_deref()) {
        Ok(op) => op,
        Err(e) => return wire_error(&e, Some(protocol)),
    };
    *op_seen = Some(op);
    if app.chain.records(rheo_api_kinesis::audit::event_kind(op)) {
        rc.user_agent = header("user-agent").map(str::to_string);
    }
    let declared = header("content-length").and_then(|v| v.parse::<usize>().ok());
    if declared_too_large(declared, app.max_body_bytes) {
        return too_large();
    }
    let auth = match rheo_proto::parse_auth(
        &parts.headers,
        parts.uri.query(),
        parts.version,
        &app.model.signing_name,
    ) {
        Ok(a) => a,
        Err(e) => return wire_error(&e, Some(protocol)),
    };
    let bytes = match read_body(body, declared, app.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::Read(e)) => {
            tracing::debug!(error = %e, "request body could not be read");
            return reply(StatusCode::BAD_REQUEST, None, Bytes::new());
        }
    };
    // After the body (the payload hash needs it), before anything decodes it.
    if let Err(e) = app.auth.check(&parts, &bytes, &auth, rc) {
        return wire_error(&e, Some(protocol));
    }
    rc.user_agent = header("user-agent").map(str::to_string);
    rc.region = auth.region;
    rc.principal = Some(auth.access_key_id);
    // The domain's view of the context: the region is the one copy this adds per request (the
    // request id, formatted twice before, is now inline, so the count of allocations fell).
    let ctx = Ctx::new(rc.region.as_str(), rc.account.clone());
    if op == Operation::SubscribeToShard {
        return match subscribe::subscribe(
            &app.streams,
            &app.chain,
            &app.faults,
            rc,
            &ctx,
            protocol,
            &bytes,
        )
        .await
        {
            Ok(subscribed) => event_stream(app, subscribed),
            Err(failure) => failed(op, protocol, failure),
        };
    }
    match ops::handle(
        &app.streams,
        &app.chain,
        &app.faults,
        rc,
        &ctx,
        op,
        protocol,
        &bytes,
    )
    .await
    {
        Ok(body) => reply(
            StatusCode::OK,
            Some(protocol.content_type()),
            Bytes::from(body),
        ),
        Err(failure) => failed(op, protocol, failure),
    }
}

/// A streaming answer: the subscription's events go out as the domain yields them; a few wait
/// in between when the client reads slowly, which then holds the producer back.
fn event_stream(app: &App, subscribed: subscribe::Subscribed) -> Reply {
    let (frames, body) = rheo_http::FrameStream::channel(4, &app.shutdown, None);
    tokio::spawn(subscribe::pump(subscribed, frames, subscribe::HEARTBEAT));
    let mut resp = Response::new(ReplyBody::Stream(body));
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(rheo_proto::eventstream::CONTENT_TYPE),
    );
    resp
}

/// The answer to a refused or failed request.
fn failed(op: Operation, protocol: Protocol, failure: ops::Failure) -> Reply {
    match failure {
        ops::Failure::Wire(e) => wire_error(&e, Some(protocol)),
        failure => {
            let (ty, status, message) =
                failure
                    .parts()
                    .unwrap_or(("InternalFailure", 500, String::new()));
            if status >= 500 {
                tracing::error!(operation = op.name(), error = ?failure, "request failed");
            }
            let body = rheo_proto::encode_error(protocol, ty, &message);
            let mut resp = reply(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Some(protocol.content_type()),
                Bytes::from(body),
            );
            resp.extensions_mut()
                .insert(CallError { code: ty, message });
            resp
        }
    }
}

/// A wire-level refusal; the error also goes into the reply's extensions, for `after`.
pub(crate) fn wire_error(e: &WireError, protocol: Option<Protocol>) -> Reply {
    let (status, content_type, body) = e.to_response(protocol);
    let mut resp = reply(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        content_type,
        Bytes::from(body),
    );
    resp.extensions_mut().insert(CallError {
        code: e.error_type(),
        message: e.message(),
    });
    resp
}

/// AWS answers an oversized body with 413 and an empty body.
pub(crate) fn too_large() -> Reply {
    reply(StatusCode::PAYLOAD_TOO_LARGE, None, Bytes::new())
}

pub(crate) fn reply(status: StatusCode, content_type: Option<&'static str>, body: Bytes) -> Reply {
    let len = body.len();
    let mut resp = Response::new(ReplyBody::full(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    if let Some(ct) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}
