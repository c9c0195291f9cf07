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
    // The same gate as every other service: verified under --auth sigv4, and the caller's
    // account, principal and ARN filled in.
    if let Err(e) = app.auth.check(&parts, &bytes, &auth, rc) {
        return wire_error(&e, Some(protocol));
    }
    rc.user_agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
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

/// The local KMS as Kinesis encryption at rest sees it ([`rheo_streams::KeyVault`]): the domain
/// may not depend on the KMS crate, so the binary adapts one to the other here.
pub struct Vault(pub rheo_kms::Kms);

/// The KMS's refusal as the stream domain words it to Kinesis callers (KMSDisabledException,
/// KMSNotFoundException, ...). A malformed key id is a key that cannot be found, as AWS answers
/// StartStreamEncryption; anything else is the KMS failing, not the caller.
fn key_error(e: rheo_kms::KmsError) -> rheo_streams::KeyError {
    use rheo_kms::KmsError as K;
    use rheo_streams::KeyError;
    match e {
        K::Disabled(m) => KeyError::Disabled(m),
        K::NotFound(m) | K::Validation(m) => KeyError::NotFound(m),
        K::InvalidState(m) => KeyError::InvalidState(m),
        K::NotAuthorized(m) => KeyError::AccessDenied(m),
        other => KeyError::Internal(other.to_string()),
    }
}

impl rheo_streams::KeyVault for Vault {
    fn generate_data_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<rheo_streams::DataKey, rheo_streams::KeyError> {
        let (plaintext, wrapped, key_arn) = self
            .0
            .generate_data_key_for(account, region, key_id)
            .map_err(key_error)?;
        Ok(rheo_streams::DataKey {
            plaintext,
            wrapped,
            key_arn,
        })
    }

    fn decrypt_data_key(
        &self,
        account: &str,
        region: &str,
        wrapped: &[u8],
    ) -> Result<rheo_streams::Zeroizing<[u8; 32]>, rheo_streams::KeyError> {
        self.0
            .decrypt_data_key(account, region, wrapped)
            .map_err(key_error)
    }

    fn key_usable(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<(), rheo_streams::KeyError> {
        self.0
            .key_usable(account, region, key_id)
            .map_err(key_error)
    }

    fn prepare<'a>(
        &'a self,
        account: &'a str,
        region: &'a str,
        key_id: &'a str,
    ) -> rheo_streams::PrepareFuture<'a> {
        Box::pin(async move {
            self.0
                .ensure_key(account, region, key_id)
                .await
                .map(|_| ())
                .map_err(key_error)
        })
    }
}
