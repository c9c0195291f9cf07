//! The ciphertext blob Encrypt, GenerateDataKey and the in-process API hand out.
//!
//! Format 1 (bytes):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 3 | magic `R`, `K`, format `1` |
//! | 3 | 1 | key id length `n` (36 for a UUID) |
//! | 4 | n | key id (ASCII) |
//! | 4+n | 12 | nonce (fresh random per encryption) |
//! | 16+n | rest | AES-256-GCM ciphertext and 16-byte tag, under the key's material |
//!
//! The authenticated data is the header (magic, format, key id) followed by the encryption
//! context in canonical form (pairs sorted by key, each key and value preceded by its u32
//! big-endian length), so a blob altered in any byte, moved to another key, or opened with
//! another context fails its tag. A later format takes another format byte; format 1 stays
//! readable.

use std::collections::BTreeMap;

use crate::master::{NONCE_BYTES, TAG_BYTES};

const MAGIC: [u8; 2] = *b"RK";
const FORMAT: u8 = 1;
/// Longest key id a blob may name (ours are 36-character UUIDs).
const KEY_ID_BYTES_MAX: usize = 64;

/// The encryption context: string pairs, sorted by key.
pub type EncryptionContext = BTreeMap<String, String>;

/// A blob split into its parts.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    pub key_id: &'a str,
    /// Header bytes (authenticated).
    pub header: &'a [u8],
    /// `nonce || ciphertext+tag`.
    pub sealed: &'a [u8],
}

/// The header naming `key_id`.
pub(crate) fn header(key_id: &str) -> Vec<u8> {
    let id = key_id.as_bytes();
    let mut out = Vec::with_capacity(4 + id.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT);
    // Key ids are ours (UUIDs); the bound keeps the length in one byte.
    out.push(u8::try_from(id.len().min(KEY_ID_BYTES_MAX)).unwrap_or(0));
    out.extend_from_slice(id.get(..id.len().min(KEY_ID_BYTES_MAX)).unwrap_or(&[]));
    out
}

/// Splits a blob; `None` if it is not format 1 or too short to hold a tag.
pub(crate) fn parse(blob: &[u8]) -> Option<Parsed<'_>> {
    let (magic, rest) = blob.split_at_checked(2)?;
    if magic != MAGIC {
        return None;
    }
    let (&format, rest) = rest.split_first()?;
    if format != FORMAT {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if len == 0 || len > KEY_ID_BYTES_MAX {
        return None;
    }
    let (id, sealed) = rest.split_at_checked(len)?;
    if sealed.len() < NONCE_BYTES + TAG_BYTES {
        return None;
    }
    let key_id = std::str::from_utf8(id).ok()?;
    Some(Parsed {
        key_id,
        header: blob.get(..4 + len)?,
        sealed,
    })
}

/// Authenticated data of a blob: its header and the canonical context.
pub(crate) fn aad(header: &[u8], context: &EncryptionContext) -> Vec<u8> {
    let mut out = header.to_vec();
    for (k, v) in context {
        for part in [k, v] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0b2ad402-1f2e-46ac-9a7b-2a7e3c0d5f61";

    #[test]
    fn header_layout_is_magic_format_length_id() {
        let h = header(ID);
        assert_eq!(&h[..4], &[b'R', b'K', 1, 36]);
        assert_eq!(&h[4..], ID.as_bytes());
    }

    #[test]
    fn parse_splits_and_refuses_what_is_not_ours() {
        let mut blob = header(ID);
        blob.extend_from_slice(&[9u8; NONCE_BYTES + TAG_BYTES + 3]);
        let p = parse(&blob).unwrap();
        assert_eq!(p.key_id, ID);
        assert_eq!(p.header, &blob[..40]);
        assert_eq!(p.sealed.len(), NONCE_BYTES + TAG_BYTES + 3);
        assert!(parse(&blob[..40 + NONCE_BYTES + TAG_BYTES - 1]).is_none());
        assert!(parse(b"").is_none());
        assert!(parse(b"RK").is_none());
        let mut other_format = blob.clone();
        other_format[2] = 2;
        assert!(parse(&other_format).is_none());
        let mut other_magic = blob.clone();
        other_magic[0] = b'X';
        assert!(parse(&other_magic).is_none());
        let mut zero_len = blob.clone();
        zero_len[3] = 0;
        assert!(parse(&zero_len).is_none());
        let mut long = blob;
        long[3] = 200;
        assert!(parse(&long).is_none());
    }

    #[test]
    fn aad_is_canonical_and_unambiguous() {
        let h = header(ID);
        let mut a = EncryptionContext::new();
        a.insert("b".into(), "2".into());
        a.insert("a".into(), "1".into());
        let mut b = EncryptionContext::new();
        b.insert("a".into(), "1".into());
        b.insert("b".into(), "2".into());
        assert_eq!(aad(&h, &a), aad(&h, &b));
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        let mut c = EncryptionContext::new();
        c.insert("ab".into(), "c".into());
        let mut d = EncryptionContext::new();
        d.insert("a".into(), "bc".into());
        assert_ne!(aad(&h, &c), aad(&h, &d));
        assert_eq!(aad(&h, &EncryptionContext::new()), h);
    }
}
