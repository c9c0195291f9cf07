//! Sealed NextTokens: a text body with a CRC32C, base64-encoded, so a garbled or forged token is
//! refused rather than misread. What the body says is each listing's own business.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::{KinesisError, Result};

/// The token carrying `body`.
pub(crate) fn seal(body: &str) -> String {
    let crc = crc32c::crc32c(body.as_bytes());
    STANDARD.encode(format!("{body}|{crc:08x}"))
}

/// The body `token` carries, or AWS's "Invalid NextToken" when it is not one of ours.
pub(crate) fn open(token: &str) -> Result<String> {
    let bad = || invalid(token);
    let raw = STANDARD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (body, crc) = text.rsplit_once('|').ok_or_else(bad)?;
    if format!("{:08x}", crc32c::crc32c(body.as_bytes())) != crc {
        return Err(bad());
    }
    Ok(body.to_string())
}

pub(crate) fn invalid(token: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!("Invalid NextToken: {token}"))
}
