//! The KMS front: `TrentService.*` requests on the same port as Kinesis, through the same
//! front (`http::admit`: content type, target, body size, SigV4, the gate), then the KMS
//! binding's pipeline.

use bytes::Bytes;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use rheo_api_kms::{ops, Operation};
use rheo_http::RequestContext;

use crate::http::{admit, refusal, reply, wire_error, Admitted, App, Reply};

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
    // The same front and gate as every other service: verified under --auth sigv4, and the
    // caller's account, principal and ARN filled in.
    let admitted = admit(
        app,
        rc,
        op_seen,
        req,
        rheo_api_kms::SIGNING_NAME,
        rheo_api_kms::resolve,
        |op| app.chain.records(rheo_api_kms::event_kind(op)),
    )
    .await;
    let Admitted {
        op,
        protocol,
        bytes,
    } = match admitted {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    match ops::handle(&app.kms, &app.chain, rc, op, protocol, &bytes).await {
        Ok(body) => reply(
            StatusCode::OK,
            Some(protocol.content_type()),
            Bytes::from(body),
        ),
        Err(ops::Failure::Wire(e)) => wire_error(&e, Some(protocol)),
        Err(failure) => refusal(
            op.name(),
            protocol,
            failure.parts(),
            "KMSInternalException",
            &failure,
        ),
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
