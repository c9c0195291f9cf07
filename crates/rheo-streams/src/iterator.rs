//! Shard iterators: opaque tokens naming a position in one shard, valid for five minutes.
//!
//! The token is base64 of a small binary record with a CRC32C, so a garbled or forged token is
//! refused rather than misread. It carries the stream's creation time, so an iterator for a
//! stream that was deleted and created again under the same name no longer resolves, and the
//! stream's account, so an iterator obtained across accounts (a resource policy's grant) reads
//! the owner's stream. Tokens of version 1 name no account: they read the reader's own.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rheo_log::Offset;

/// Version 1: no account (the reader's). Version 2: the account follows the stream name.
const VERSION_NO_ACCOUNT: u8 = 1;
const VERSION: u8 = 2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardIterator {
    pub issued_ms: i64,
    pub region: String,
    pub stream_name: String,
    /// The stream's account; `None` in a version-1 token (the reader's account).
    pub account: Option<String>,
    pub stream_created_ms: i64,
    pub shard_index: u64,
    /// The next offset to read.
    pub offset: Offset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid shard iterator")]
pub struct InvalidIterator;

impl ShardIterator {
    pub fn encode(&self) -> String {
        let account = self.account.as_deref();
        let mut buf = Vec::with_capacity(
            64 + self.region.len() + self.stream_name.len() + account.map_or(0, str::len),
        );
        buf.push(if account.is_some() {
            VERSION
        } else {
            VERSION_NO_ACCOUNT
        });
        buf.extend_from_slice(&self.issued_ms.to_be_bytes());
        buf.extend_from_slice(&self.stream_created_ms.to_be_bytes());
        buf.extend_from_slice(&self.shard_index.to_be_bytes());
        buf.extend_from_slice(&self.offset.0.to_be_bytes());
        push_short_str(&mut buf, &self.region);
        push_short_str(&mut buf, &self.stream_name);
        if let Some(account) = account {
            push_short_str(&mut buf, account);
        }
        let crc = crc32c::crc32c(&buf);
        buf.extend_from_slice(&crc.to_be_bytes());
        STANDARD.encode(buf)
    }

    pub fn decode(token: &str) -> Result<Self, InvalidIterator> {
        // `ITER=$(aws kinesis get-shard-iterator ... --query ShardIterator)` keeps the JSON
        // quotes around the token (no `--output text`); AWS accepts that, so one surrounding
        // pair is dropped. Quotes are not base64, so no real token is changed by this.
        let token = token
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(token);
        let bytes = STANDARD.decode(token).map_err(|_| InvalidIterator)?;
        let (body, crc) = bytes.split_last_chunk::<4>().ok_or(InvalidIterator)?;
        if crc32c::crc32c(body) != u32::from_be_bytes(*crc) {
            return Err(InvalidIterator);
        }
        let mut r = Reader(body);
        let version = r.u8()?;
        if version != VERSION && version != VERSION_NO_ACCOUNT {
            return Err(InvalidIterator);
        }
        let it = ShardIterator {
            issued_ms: r.u64()? as i64,
            stream_created_ms: r.u64()? as i64,
            shard_index: r.u64()?,
            offset: Offset(r.u64()?),
            region: r.short_str()?,
            stream_name: r.short_str()?,
            account: match version {
                VERSION => Some(r.short_str()?),
                _ => None,
            },
        };
        if !r.0.is_empty() {
            return Err(InvalidIterator);
        }
        Ok(it)
    }
}

fn push_short_str(buf: &mut Vec<u8>, s: &str) {
    // Stream names are at most 128 bytes and regions far shorter; truncation cannot happen for
    // values that passed validation, and would only make the token fail to resolve.
    let bytes = &s.as_bytes()[..s.len().min(255)];
    buf.push(bytes.len() as u8);
    buf.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], InvalidIterator> {
        if self.0.len() < n {
            return Err(InvalidIterator);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, InvalidIterator> {
        self.take(1)?.first().copied().ok_or(InvalidIterator)
    }
    fn u64(&mut self) -> Result<u64, InvalidIterator> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| InvalidIterator)?;
        Ok(u64::from_be_bytes(b))
    }
    fn short_str(&mut self) -> Result<String, InvalidIterator> {
        let n = usize::from(self.u8()?);
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| InvalidIterator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(issued in any::<i64>(), created in any::<i64>(), shard in any::<u64>(),
                      offset in any::<u64>(), region in "[a-z0-9-]{0,20}", name in "[a-zA-Z0-9_.-]{1,128}",
                      account in proptest::option::of("[0-9]{12}")) {
            let it = ShardIterator { issued_ms: issued, region, stream_name: name, account,
                                     stream_created_ms: created, shard_index: shard, offset: Offset(offset) };
            let token = it.encode();
            prop_assert!(token.len() <= 512);
            prop_assert_eq!(ShardIterator::decode(&token), Ok(it));
        }

        #[test]
        fn one_pair_of_surrounding_quotes_is_accepted(shard in any::<u64>(), offset in any::<u64>()) {
            let it = ShardIterator { issued_ms: 1, region: "us-east-1".into(), stream_name: "s".into(),
                                     account: Some("111111111111".into()), stream_created_ms: 2, shard_index: shard, offset: Offset(offset) };
            let token = it.encode();
            prop_assert_eq!(ShardIterator::decode(&format!("\"{token}\"")), Ok(it));
            // Only one whole pair: a lone or doubled quote is still garbage.
            prop_assert_eq!(ShardIterator::decode(&format!("\"{token}")), Err(InvalidIterator));
            prop_assert_eq!(ShardIterator::decode(&format!("{token}\"")), Err(InvalidIterator));
            prop_assert_eq!(ShardIterator::decode(&format!("\"\"{token}\"\"")), Err(InvalidIterator));
        }

        #[test]
        fn garbage_never_panics(token in "\\PC{0,600}") {
            let _ = ShardIterator::decode(&token);
        }

        #[test]
        fn flipped_bit_is_refused(byte in 0usize..60, bit in 0u8..8) {
            let it = ShardIterator { issued_ms: 1, region: "us-east-1".into(), stream_name: "s".into(),
                                     account: Some("111111111111".into()), stream_created_ms: 2,
                                     shard_index: 3, offset: Offset(4) };
            let mut raw = STANDARD.decode(it.encode()).unwrap();
            let i = byte % raw.len();
            raw[i] ^= 1 << bit;
            prop_assert_eq!(ShardIterator::decode(&STANDARD.encode(raw)), Err(InvalidIterator));
        }
    }

    #[test]
    fn a_token_of_version_1_still_decodes_and_names_no_account() {
        // Laid out as builds before accounts wrote it: version 1, no account after the name.
        let mut buf = vec![VERSION_NO_ACCOUNT];
        for n in [7u64, 8, 9, 10] {
            buf.extend_from_slice(&n.to_be_bytes());
        }
        push_short_str(&mut buf, "us-east-1");
        push_short_str(&mut buf, "orders");
        let crc = crc32c::crc32c(&buf);
        buf.extend_from_slice(&crc.to_be_bytes());
        let token = STANDARD.encode(&buf);
        let it = ShardIterator::decode(&token).unwrap();
        assert_eq!(
            it,
            ShardIterator {
                issued_ms: 7,
                region: "us-east-1".into(),
                stream_name: "orders".into(),
                account: None,
                stream_created_ms: 8,
                shard_index: 9,
                offset: Offset(10),
            }
        );
        // And one without an account is written exactly so.
        assert_eq!(it.encode(), token);
    }
}
