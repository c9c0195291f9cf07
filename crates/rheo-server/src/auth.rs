//! The authentication gate every service's requests pass, in the request front before any
//! body is decoded: `--auth permissive` accepts any well-formed SigV4 data, `--auth sigv4`
//! verifies the signature against the credentials file. Either way the request context learns
//! who calls: the access key, and for a key the file lists its account and ARN.

use std::time::{SystemTime, UNIX_EPOCH};

use rheo_auth::{Credentials, Verifier};
use rheo_http::RequestContext;
use rheo_proto::{AuthInfo, WireError};

use crate::config::AuthMode;

pub struct Gate {
    mode: AuthMode,
    verifier: Verifier,
}

impl Gate {
    /// A gate in `mode` for the principals of `credentials` (empty in permissive mode without
    /// a file).
    pub fn new(mode: AuthMode, credentials: Credentials) -> Gate {
        Gate {
            mode,
            verifier: Verifier::new(credentials),
        }
    }

    /// What the ready line says: `permissive` or `sigv4 (N keys)`.
    pub fn describe(&self) -> String {
        match self.mode {
            AuthMode::Permissive => "permissive".into(),
            AuthMode::Sigv4 => {
                let n = self.verifier.credentials().len();
                format!("sigv4 ({n} key{})", if n == 1 { "" } else { "s" })
            }
        }
    }

    /// Authenticate a request whose SigV4 data `auth` has parsed, and fill `rc` with who calls.
    pub fn check(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        auth: &AuthInfo,
        rc: &mut RequestContext,
    ) -> Result<(), WireError> {
        let identity = match self.mode {
            AuthMode::Permissive => self.verifier.identity(&auth.access_key_id),
            AuthMode::Sigv4 => {
                let request = rheo_auth::Request {
                    method: parts.method.as_str(),
                    path: parts.uri.path(),
                    query: parts.uri.query(),
                    authority: parts.uri.authority().map(|a| a.as_str()),
                    headers: &parts.headers,
                    body,
                };
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                Some(self.verifier.verify(&request, auth, now)?.identity)
            }
        };
        if let Some(identity) = identity {
            rc.account = identity.account.clone();
            rc.principal_arn = Some(identity.arn.clone());
        }
        Ok(())
    }
}
