//! The KMS front: `TrentService.*` requests on the same port as Kinesis, in the same order of
//! checks as `http::serve` (content type, target, body size, SigV4 header), then the KMS
//! binding's pipeline.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use rheo_api_kms::{ops, Operation};
use rheo_http::limits::{declared_too_large, read_body, BodyError};
use rheo_http::RequestContext;
use rheo_proto::Protocol;

use crate::http::{reply, too_large, wire_error, App, Reply};

/// Opens the KMS domain on `store`: the master key from `--kms-master-key`, else
/// `<data-dir>/kms/master.key` (created on first start), else (in memory) an ephemeral one.
pub async fn open(
    settings: &crate::config::Settings,
    store: rheo_log::Store,
) -> anyhow::Result<rheo_kms::Kms> {
    use anyhow::Context as _;
    let master = match (&settings.kms_master_key, &settings.data_dir) {
        (Some(path), _) => rheo_kms::MasterKey::from_file(path)?,
        (None, Some(dir)) => {
            rheo_kms::MasterKey::load_or_create(&rheo_kms::master::default_path(dir))?
        }
        (None, None) => rheo_kms::MasterKey::ephemeral(),
    };
    rheo_kms::Kms::open(store, master, std::sync::Arc::new(rheo_kms::SystemClock))
        .await
        .context("loading KMS keys")
}

/// Answers one KMS request; `op_seen` is set once the target resolves, for the log line.
pub async fn serve(
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
    let op = match rheo_api_kms::resolve(target.as_deref()) {
        Ok(op) => op,
        Err(e) => return wire_error(&e, Some(protocol)),
    };
    *op_seen = Some(op);
    let declared = header("content-length").and_then(|v| v.parse::<usize>().ok());
    if declared_too_large(declared, app.max_body_bytes) {
        return too_large();
    }
    let auth = match rheo_proto::parse_auth(
        &parts.headers,
        parts.uri.query(),
        parts.version,
        rheo_api_kms::SIGNING_NAME,
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
    rc.region = auth.region;
    rc.principal = Some(auth.access_key_id);
    match ops::handle(&app.kms, &app.chain, rc, op, protocol, &bytes).await {
        Ok(body) => reply(
            StatusCode::OK,
            Some(protocol.content_type()),
            Bytes::from(body),
        ),
        Err(ops::Failure::Wire(e)) => wire_error(&e, Some(protocol)),
        Err(failure) => {
            let (ty, status, message) =
                failure
                    .parts()
                    .unwrap_or(("KMSInternalException", 500, String::new()));
            if status >= 500 {
                tracing::error!(operation = op.name(), error = ?failure, "KMS request failed");
            }
            reply(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Some(protocol.content_type()),
                Bytes::from(rheo_proto::encode_error(protocol, ty, &message)),
            )
        }
    }
}
