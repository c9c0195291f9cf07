//! SigV4 verification: the second step after [`rheo_proto::parse_auth`] has read and
//! shape-checked the request's SigV4 data.
//!
//! Checks, in order, each failing with AWS's `__type`, message and status:
//! 1. a chunked (`STREAMING-*`) payload is refused: a JSON service reads its body whole;
//! 2. the date: beyond 5 minutes from now a header-signed request is "Signature expired" or "not
//!    yet current"; a presigned one expires `X-Amz-Expires` seconds (1 to 604800) after its date;
//! 3. the access key must be in the credentials file (else UnrecognizedClientException);
//! 4. a principal with a session token needs exactly that `X-Amz-Security-Token`, and one without
//!    none;
//! 5. the signature over the canonical request, with the payload hash computed from the body
//!    (a JSON service hashes what arrived; an `x-amz-content-sha256` that claims another hash is
//!    a mismatch), compared in constant time. A mismatch answers, as AWS's JSON services do,
//!    with the canonical request and string to sign the server expected.
//!
//! Cost per request: one SHA-256 of the body, one of the canonical request, one HMAC of the
//! string to sign; the four-HMAC signing key is derived once per (key, day, region, service).

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use parking_lot::Mutex;
use rheo_proto::{AuthInfo, WireError};
use sha2::{Digest, Sha256};

use crate::canonical::{canonical_headers, canonical_query, canonical_uri, percent_decode};
use crate::credentials::{Credentials, Principal};
use crate::time::{format_basic, parse_basic, parse_http_date};

/// AWS's allowed clock skew between a header-signed request's date and the server's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// The longest a presigned request may live, in seconds (7 days).
const MAX_EXPIRES_SECS: i64 = 604_800;

/// Derived signing keys remembered per principal (a day's key per region and service).
const KEYS_PER_PRINCIPAL: usize = 8;

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

type HmacSha256 = Hmac<Sha256>;

/// What the verifier needs of a request, as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as on the wire (percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The request's authority (HTTP/2 `:authority`, or an absolute-form URI's), which a signed
    /// `:authority` names and which stands for `host` when the request carries none.
    pub authority: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Who a principal is, shared so that a request context costs reference counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: Arc<str>,
    pub arn: Arc<str>,
}

/// A verified caller.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated<'a> {
    pub principal: &'a Principal,
    pub identity: &'a Identity,
}

struct DerivedKey {
    date: String,
    region: String,
    service: String,
    key: [u8; 32],
}

/// Verifies SigV4 signatures against a credentials file.
pub struct Verifier {
    credentials: Credentials,
    identities: Vec<Identity>,
    keys: Vec<Mutex<Vec<DerivedKey>>>,
    accept_unsigned_payload: bool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("principals", &self.credentials.len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for the principals of `credentials`. Payloads are always hashed: the JSON
    /// and CBOR services Rheo serves (Kinesis and the later ones) sign their bodies, and AWS
    /// computes the hash of what arrived rather than accepting `UNSIGNED-PAYLOAD` for them.
    pub fn new(credentials: Credentials) -> Verifier {
        let identities = credentials
            .principals()
            .map(|p| Identity {
                account: Arc::from(p.account.as_str()),
                arn: Arc::from(p.arn.as_str()),
            })
            .collect();
        let keys = credentials
            .principals()
            .map(|_| Mutex::new(Vec::new()))
            .collect();
        Verifier {
            credentials,
            identities,
            keys,
            accept_unsigned_payload: false,
        }
    }

    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` as the payload hash (S3-style services).
    pub fn accept_unsigned_payload(mut self, yes: bool) -> Verifier {
        self.accept_unsigned_payload = yes;
        self
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The identity of a listed access key, without checking anything (permissive mode).
    pub fn identity(&self, access_key_id: &str) -> Option<&Identity> {
        self.credentials
            .index_of(access_key_id)
            .and_then(|i| self.identities.get(i))
    }

    /// Verify a request whose SigV4 data `auth` has parsed, at `now` (Unix seconds).
    pub fn verify<'v>(
        &'v self,
        req: &Request<'_>,
        auth: &AuthInfo,
        now: i64,
    ) -> Result<Authenticated<'v>, WireError> {
        let claimed_hash = if auth.presigned {
            query_param(req.query, "X-Amz-Content-Sha256")
        } else {
            req.headers
                .get("x-amz-content-sha256")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        if let Some(claimed) = claimed_hash
            .as_deref()
            .filter(|c| c.starts_with("STREAMING-"))
        {
            return Err(WireError::InvalidSignature(format!(
                "x-amz-content-sha256 '{claimed}' (a chunked payload) is not supported by this service: sign the body as a whole."
            )));
        }

        let (stamp, signed_at) = request_time(req, auth)?;
        check_time(auth, req.query, &stamp, signed_at, now)?;

        let index = self
            .credentials
            .index_of(&auth.access_key_id)
            .ok_or(WireError::UnrecognizedClient)?;
        let (Some(principal), Some(identity), Some(cache)) = (
            self.credentials.principals().nth(index),
            self.identities.get(index),
            self.keys.get(index),
        ) else {
            return Err(WireError::UnrecognizedClient);
        };
        let token_ok = match (&principal.session_token, &auth.security_token) {
            (None, None) => true,
            (Some(want), Some(got)) => ct_eq(want.as_bytes(), got.as_bytes()),
            _ => false,
        };
        if !token_ok {
            return Err(WireError::UnrecognizedClient);
        }

        let body_hash = hex::encode(Sha256::digest(req.body));
        let payload_hash = match claimed_hash.as_deref() {
            Some("UNSIGNED-PAYLOAD") if self.accept_unsigned_payload => "UNSIGNED-PAYLOAD",
            _ => body_hash.as_str(),
        };
        // A claimed hash that is not the body's: the client signed something else.
        let claim_ok = match claimed_hash.as_deref() {
            None | Some("UNSIGNED-PAYLOAD") => true,
            Some(c) => c.eq_ignore_ascii_case(&body_hash),
        };

        let canonical = canonical_request(req, auth, payload_hash);
        let scope = format!(
            "{}/{}/{}/aws4_request",
            auth.scope_date, auth.region, auth.service
        );
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let key = signing_key(cache, principal, auth);
        let provided = hex::decode(&auth.signature).ok().filter(|s| s.len() == 32);
        let signature_ok = match (HmacSha256::new_from_slice(&key), provided) {
            (Ok(mut mac), Some(provided)) => {
                mac.update(string_to_sign.as_bytes());
                // Constant time: how much of a guess matched must not show in the timing.
                mac.verify_slice(&provided).is_ok()
            }
            _ => false,
        };
        if !(signature_ok && claim_ok) {
            tracing::debug!(access_key_id = %auth.access_key_id, "signature mismatch");
            return Err(WireError::InvalidSignature(format!(
                "{MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
            )));
        }
        Ok(Authenticated {
            principal,
            identity,
        })
    }
}

/// The request's signing time: `X-Amz-Date` (header or query), else the `Date` header.
fn request_time(req: &Request<'_>, auth: &AuthInfo) -> Result<(String, i64), WireError> {
    let bad = |d: &str| {
        WireError::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{d}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    };
    match &auth.amz_date {
        Some(d) => parse_basic(d).map(|t| (d.clone(), t)).ok_or_else(|| bad(d)),
        None => {
            let date = req
                .headers
                .get(http::header::DATE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default();
            parse_http_date(&date)
                .map(|t| (format_basic(t), t))
                .ok_or_else(|| bad(&date))
        }
    }
}

fn check_time(
    auth: &AuthInfo,
    query: Option<&str>,
    stamp: &str,
    signed_at: i64,
    now: i64,
) -> Result<(), WireError> {
    if signed_at > now + MAX_SKEW_SECS {
        return Err(WireError::InvalidSignature(format!(
            "Signature not yet current: {stamp} is still later than {} ({} + 5 min.)",
            format_basic(now + MAX_SKEW_SECS),
            format_basic(now)
        )));
    }
    let expires = if auth.presigned {
        query_param(query, "X-Amz-Expires")
    } else {
        None
    };
    match expires {
        None => {
            if signed_at < now - MAX_SKEW_SECS {
                return Err(WireError::InvalidSignature(format!(
                    "Signature expired: {stamp} is now earlier than {} ({} - 5 min.)",
                    format_basic(now - MAX_SKEW_SECS),
                    format_basic(now)
                )));
            }
        }
        Some(text) => {
            let secs: i64 = text.parse().map_err(|_| {
                WireError::IncompleteSignature(format!(
                    "X-Amz-Expires should be a number, not '{text}'."
                ))
            })?;
            if !(1..=MAX_EXPIRES_SECS).contains(&secs) {
                return Err(WireError::IncompleteSignature(format!(
                    "X-Amz-Expires must be between 1 and {MAX_EXPIRES_SECS} seconds (a week), not {secs}."
                )));
            }
            if signed_at + secs < now {
                return Err(WireError::InvalidSignature(format!(
                    "Signature expired: {stamp} is now earlier than {} ({} - {secs} sec.)",
                    format_basic(now - secs),
                    format_basic(now)
                )));
            }
        }
    }
    Ok(())
}

fn canonical_request(req: &Request<'_>, auth: &AuthInfo, payload_hash: &str) -> String {
    let mut out = String::with_capacity(256 + req.path.len() + req.query.map_or(0, str::len));
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query, auth.presigned));
    out.push('\n');
    canonical_headers(&mut out, req.headers, &auth.signed_headers, req.authority);
    out.push('\n');
    for (i, h) in auth.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(h);
    }
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// The principal's signing key for the request's scope, derived once and then remembered.
fn signing_key(cache: &Mutex<Vec<DerivedKey>>, principal: &Principal, auth: &AuthInfo) -> [u8; 32] {
    {
        let keys = cache.lock();
        if let Some(k) = keys.iter().find(|k| {
            k.date == auth.scope_date && k.region == auth.region && k.service == auth.service
        }) {
            return k.key;
        }
    }
    let key = derive_key(
        &principal.secret_access_key,
        &auth.scope_date,
        &auth.region,
        &auth.service,
    );
    let mut keys = cache.lock();
    if keys.len() >= KEYS_PER_PRINCIPAL {
        // The oldest scope (yesterday's key, most likely) goes first.
        keys.remove(0);
    }
    keys.push(DerivedKey {
        date: auth.scope_date.clone(),
        region: auth.region.clone(),
        service: auth.service.clone(),
        key,
    });
    key
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub(crate) fn derive_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    key
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // HMAC takes keys of any length, so this cannot fail; a zero key would only make every
    // signature a mismatch.
    if let Ok(mut mac) = HmacSha256::new_from_slice(key) {
        mac.update(data);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

/// Equal bytes, in time that depends only on the lengths.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// One decoded query parameter.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| String::from_utf8_lossy(&percent_decode(v)).into_owned())
    })
}

#[cfg(test)]
impl Verifier {
    /// How many derived keys an access key has cached.
    pub(crate) fn cached_keys(&self, access_key_id: &str) -> usize {
        self.credentials
            .index_of(access_key_id)
            .and_then(|i| self.keys.get(i))
            .map_or(0, |c| c.lock().len())
    }

    pub(crate) fn key_for_test(&self, auth: &AuthInfo) -> Option<[u8; 32]> {
        let i = self.credentials.index_of(&auth.access_key_id)?;
        let principal = self.credentials.principals().nth(i)?;
        Some(signing_key(self.keys.get(i)?, principal, auth))
    }
}
