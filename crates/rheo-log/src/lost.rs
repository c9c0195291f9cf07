//! The lost-range record: log entries `fsck --repair` gave up on. Readers move past them as past trimmed data, and
//! their offsets stay reserved. Byte layout and crash cases: "Lost ranges" in `docs/design/log-format.md`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::storage::write_atomic;

/// File name, directly under the store directory.
pub(crate) const FILE_NAME: &str = "lost-ranges";
/// Little-endian "RHLR".
const MAGIC: u32 = 0x524C_4852;
const VERSION: u32 = 1;
const RECORD_LEN: usize = 40;

/// Entries `from..to` of `log`, lost to damage at `position` of journal segment `segment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LostRange {
    pub(crate) log: u64,
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) segment: u64,
    pub(crate) position: u64,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{FILE_NAME}: {msg}"))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl LostRange {
    /// The ranges recorded in `dir` (none if the file does not exist). A file that fails its checks is an error: it
    /// is written atomically, so it cannot be torn, and guessing which ranges were lost would serve damaged data.
    pub(crate) fn load(dir: &Path) -> io::Result<Vec<LostRange>> {
        let b = match fs::read(path(dir)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        decode(&b)
    }

    /// Replaces the record with `ranges` (tmp + fsync + rename + fsync(dir)).
    pub(crate) fn store(dir: &Path, ranges: &[LostRange]) -> io::Result<()> {
        write_atomic(dir, &path(dir), &encode(ranges))
    }
}

fn encode(ranges: &[LostRange]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + RECORD_LEN * ranges.len());
    b.extend_from_slice(&MAGIC.to_le_bytes());
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&(ranges.len() as u32).to_le_bytes());
    for r in ranges {
        for v in [r.log, r.from, r.to, r.segment, r.position] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> io::Result<Vec<LostRange>> {
    let body_len = b.len().checked_sub(4).ok_or_else(|| invalid("too short"))?;
    let (body, crc) = b.split_at(body_len);
    if u32_at(crc, 0) != Some(crc32c::crc32c(body)) {
        return Err(invalid("checksum mismatch"));
    }
    if u32_at(body, 0) != Some(MAGIC) {
        return Err(invalid("bad magic"));
    }
    if u32_at(body, 4) != Some(VERSION) {
        return Err(invalid("unknown version"));
    }
    let n = u32_at(body, 8).ok_or_else(|| invalid("too short"))? as usize;
    if body.len() != 12 + n * RECORD_LEN {
        return Err(invalid("length does not match its count"));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let at = 12 + i * RECORD_LEN;
        let f = |k: usize| u64_at(body, at + 8 * k).ok_or_else(|| invalid("too short"));
        out.push(LostRange {
            log: f(0)?,
            from: f(1)?,
            to: f(2)?,
            segment: f(3)?,
            position: f(4)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_a_flipped_byte() {
        let r = vec![LostRange {
            log: 7,
            from: 10,
            to: 20,
            segment: 3,
            position: 4096,
        }];
        let mut b = encode(&r);
        assert_eq!(decode(&b).unwrap(), r);
        b[14] ^= 1;
        assert!(decode(&b).is_err());
    }
}
