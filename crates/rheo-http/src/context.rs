//! What every request carries besides its body.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use crate::middleware::CallDetail;

/// A request id in AWS's shape (a version-4 UUID, 36 characters), returned in
/// `x-amzn-RequestId` and written in the request's log line. Kept inline so that naming a
/// request costs no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 36]);

impl RequestId {
    /// A fresh random id.
    pub fn random() -> RequestId {
        RequestId::from_u128(rand::random())
    }

    /// The id of these 128 bits, with the version (4) and variant (10xx) bits set as a random
    /// UUID has them.
    pub fn from_u128(bits: u128) -> RequestId {
        let r = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut nibble = 0u32;
        for (i, slot) in out.iter_mut().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                continue;
            }
            let shift = 124 - 4 * nibble;
            *slot = HEX[((r >> shift) & 0xf) as usize];
            nibble += 1;
        }
        RequestId(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and '-' are ever written.
        std::str::from_utf8(&self.0).unwrap_or("00000000-0000-4000-8000-000000000000")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.as_str())
    }
}

/// Who asks, from where, in which region and account. Built once per request by the front (the
/// id before anything can fail, so every answer carries it), then filled as the request is
/// understood: the region and principal from the SigV4 credential scope, the account from the
/// server's configuration until credentials map to accounts.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: RequestId,
    /// Region of the credential scope; empty until the signature header is read.
    pub region: String,
    /// The account the request acts in. Shared (the configured default is one `Arc`), so a
    /// context per request costs a reference count, not an allocation.
    pub account: Arc<str>,
    /// Access key id of the `Authorization` header, if the request carried one.
    pub principal: Option<String>,
    /// The caller's ARN (`arn:aws:iam::<account>:user/<name>` or a role's), once authentication
    /// knows it: from the credentials file under `--auth sigv4`, or for a listed key under
    /// `--auth permissive`. What policies are evaluated for and what `aws:PrincipalArn` is.
    pub principal_arn: Option<Arc<str>>,
    /// The request came over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// The `User-Agent` header as sent (audit log's `userAgent`), if any.
    pub user_agent: Option<String>,
    /// Peer address of the connection, when the listener knows it.
    pub source: Option<SocketAddr>,
    /// The HTTP version the request came in (in the request's log line: which clients speak
    /// HTTP/2 is a question the log answers).
    pub http_version: http::Version,
    /// The binding's description of the decoded call (redacted parameters, resources), set
    /// once by the binding and only when the middleware chain records such calls
    /// (`Chain::records`); `after` finds it here. Settable through a shared reference because
    /// the pipelines see the context as `&RequestContext`.
    pub call: OnceLock<CallDetail>,
    /// An account other than the caller's whose resource policy the policy middleware found
    /// allowing this request on a resource of that account (cross-account access). Set by that
    /// middleware's `before` only, through a shared reference like `call`; the binding lets
    /// the domain act in that account for the operations its service shares. Never set when
    /// no policy is enforced.
    pub granted_account: OnceLock<Arc<str>>,
}

impl RequestContext {
    /// A context with a fresh id, in `account`, from `source`; region and principal unknown.
    pub fn new(account: Arc<str>, source: Option<SocketAddr>) -> RequestContext {
        RequestContext {
            request_id: RequestId::random(),
            region: String::new(),
            account,
            principal: None,
            principal_arn: None,
            secure_transport: false,
            user_agent: None,
            source,
            http_version: http::Version::HTTP_11,
            call: OnceLock::new(),
            granted_account: OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_version_4_uuids() {
        let id = RequestId::from_u128(0);
        assert_eq!(id.as_str(), "00000000-0000-4000-8000-000000000000");
        let id = RequestId::from_u128(u128::MAX);
        assert_eq!(id.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = RequestId::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(id.as_str(), "01234567-89ab-4def-8123-456789abcdef");
        let a = RequestId::random();
        let b = RequestId::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn a_new_context_shares_the_account_and_knows_only_the_source() {
        let account: Arc<str> = "123456789012".into();
        let source: SocketAddr = "127.0.0.1:4567".parse().unwrap();
        let ctx = RequestContext::new(account.clone(), Some(source));
        assert!(Arc::ptr_eq(&ctx.account, &account));
        assert_eq!(ctx.source, Some(source));
        assert!(ctx.region.is_empty() && ctx.principal.is_none());
    }
}
