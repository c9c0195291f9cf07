//! Authentication for every service Rheo serves: who a caller is, proven the way AWS proves it.
//!
//! - [`Credentials`]: the credentials file (TOML) mapping access keys to secrets, an account,
//!   a principal ARN, an optional session token and the principal's identity policies (kept as
//!   text; the authorization layer parses them).
//! - [`Verifier`]: AWS Signature Version 4 verification of a request whose SigV4 data
//!   [`rheo_proto::parse_auth`] has already read and shape-checked: canonical request, string to
//!   sign, derived signing keys (cached per access key, date, region and service), payload hash,
//!   clock skew and presigned expiry, session tokens, each failure with AWS's `__type`, message
//!   and status as a [`rheo_proto::WireError`], so JSON and CBOR clients get it in their format.
//!
//! Knows no service: the signing name a scope must carry comes from the caller (the model's
//! `signingName`).

mod canonical;
mod credentials;
mod time;
mod verify;

pub use credentials::{Credentials, CredentialsError, Principal};
pub use verify::{Authenticated, Identity, Request, Verifier, MAX_SKEW_SECS};

#[cfg(test)]
mod tests;
