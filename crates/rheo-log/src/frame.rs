//! Journal frame codec. One append call (or a tombstone / watermark) becomes one frame:
//!
//! ```text
//! off size field
//!  0   4   magic        0x464C4852 ("RHLF" little-endian)
//!  4   4   len          bytes after the crc field (header rest + body)
//!  8   4   crc32c       CRC32C of those `len` bytes
//! 12   4   kind         1 data, 2 tombstone, 3 watermark, 4 offset trim, 5 relocated copy, 6 relocation commit,
//!                       7 reservation, 8 segment header
//! 16   8   log id
//! 24   8   base offset
//! 32   8   timestamp_ms (i64)
//! 40   4   entry count
//! 44   ..  entries: { u32 len, bytes }  (data frames only)
//!          reservation body: { u64 next, u64 reserve }
//!          segment header body: free (reserved for later versions; empty today)
//! ```
//! All integers little-endian. The CRC covers everything after itself so a frame is accepted only if every byte that
//! gives it meaning was written; `len` is bounded so garbage cannot make recovery allocate or skip absurdly.

use bytes::Bytes;

/// Frame magic (little-endian "RHLF").
pub(crate) const MAGIC: u32 = 0x464C_4852;
/// Size of the fixed frame header.
pub(crate) const HEADER_LEN: usize = 44;
/// Bytes before the CRC-covered region.
pub(crate) const PREFIX_LEN: usize = 12;
/// Upper bound on a frame's `len` field: larger values are treated as corruption by recovery.
pub(crate) const MAX_FRAME_LEN: u64 = 256 * 1024 * 1024;

/// What a frame means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `count` entries of `log` starting at `base`.
    Data = 1,
    /// The log is deleted: everything of it earlier in the journal is garbage.
    Tombstone = 2,
    /// The log exists with end offset `base` and last timestamp `timestamp_ms` (written before garbage collection
    /// removes the last segment that held the log's data, so the offsets are never reused).
    Watermark = 3,
    /// Durable trim: offsets of `log` below `base` are gone (`timestamp_ms` = the log's last timestamp when the trim
    /// was written). Written and synced by `Store::trim_to_offset`; replayed at open so the log's start survives.
    Trim = 4,
    /// A copy of a data frame of `log` (same base, count, timestamp and entries) written by segment reclamation
    /// at the journal's end. Inert until the [`Kind::RelocCommit`] frame that follows it in the same write.
    Relocated = 5,
    /// Commits the `count` [`Kind::Relocated`] frames of `log` just before it: they replace every earlier frame of
    /// the log. `base` = the log's durable start (a durable offset trim), `timestamp_ms` = the last copy's
    /// timestamp, `count` = number of copy frames (not entries: the frame has no body).
    RelocCommit = 6,
    /// High-water mark: `log` continues at `next` (the body's first `u64`); offsets `base..next` were skipped by a
    /// restart (nothing was ever acknowledged there), and offsets below `reserve` (the body's second `u64`) may have
    /// been handed out, so a restarted store never hands them out again. Queued before the data frame that first
    /// needs it, in the same group.
    Reserve = 7,
    /// First frame of a segment since format version 2: `base` = the segment format version. Its first 44 bytes keep
    /// this layout in every later version, so an older binary can refuse a newer segment instead of misreading it.
    SegmentHeader = 8,
}

impl Kind {
    /// Frames whose `count` entries are log data (a relocated copy holds the same entries as its original).
    pub(crate) fn has_entries(self) -> bool {
        matches!(self, Kind::Data | Kind::Relocated)
    }

    fn from_u32(v: u32) -> Option<Kind> {
        match v {
            1 => Some(Kind::Data),
            2 => Some(Kind::Tombstone),
            3 => Some(Kind::Watermark),
            4 => Some(Kind::Trim),
            5 => Some(Kind::Relocated),
            6 => Some(Kind::RelocCommit),
            7 => Some(Kind::Reserve),
            8 => Some(Kind::SegmentHeader),
            _ => None,
        }
    }
}

/// Decoded fixed header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub kind: Kind,
    pub log: u64,
    pub base: u64,
    pub timestamp_ms: i64,
    pub count: u32,
    /// Total frame length on disk, header included.
    pub frame_len: u64,
    pub crc: u32,
    /// Reservation frames (filled in by [`check`], 0 otherwise): where the log continues, and the reservation.
    pub next: u64,
    pub reserve: u64,
}

/// Body length of a reservation frame.
pub(crate) const RESERVE_BODY: usize = 16;

/// Why bytes are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Fewer bytes than the header / the announced length.
    Short,
    /// Magic, kind or length field is invalid.
    BadHeader,
    /// CRC mismatch.
    BadCrc,
    /// Entry lengths do not add up to the frame body.
    BadBody,
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_le_bytes(a))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Encoded size of a data frame holding `payloads`.
#[cfg(test)]
pub(crate) fn data_frame_len(payloads: &[Bytes]) -> u64 {
    HEADER_LEN as u64 + payloads.iter().map(|p| 4 + p.len() as u64).sum::<u64>()
}

/// Appends one encoded frame to `out`. Callers check sizes against [`MAX_FRAME_LEN`] first.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    kind: Kind,
    log: u64,
    base: u64,
    ts: i64,
    payloads: &[Bytes],
) {
    let start = out.len();
    let body: usize = payloads.iter().map(|p| 4 + p.len()).sum();
    let len = (HEADER_LEN - PREFIX_LEN + body) as u32;
    out.reserve(HEADER_LEN + body);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // crc, patched below
    out.extend_from_slice(&(kind as u32).to_le_bytes());
    out.extend_from_slice(&log.to_le_bytes());
    out.extend_from_slice(&base.to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&(payloads.len() as u32).to_le_bytes());
    for p in payloads {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(p);
    }
    let crc = crc32c::crc32c(&out[start + PREFIX_LEN..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a frame with no body whose `count` field is `count` (a [`Kind::RelocCommit`]).
pub(crate) fn encode_marker(
    out: &mut Vec<u8>,
    kind: Kind,
    log: u64,
    base: u64,
    ts: i64,
    count: u32,
) {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    if let Some(f) = out.get_mut(start..) {
        seal(f, kind, log, base, ts, count);
    }
}

/// Appends a reservation frame (see [`Kind::Reserve`]).
pub(crate) fn encode_reserve(
    out: &mut Vec<u8>,
    log: u64,
    skip_from: u64,
    next: u64,
    reserve: u64,
    ts: i64,
) {
    let start = out.len();
    out.reserve(HEADER_LEN + RESERVE_BODY);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&((HEADER_LEN - PREFIX_LEN + RESERVE_BODY) as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(Kind::Reserve as u32).to_le_bytes());
    out.extend_from_slice(&log.to_le_bytes());
    out.extend_from_slice(&skip_from.to_le_bytes());
    out.extend_from_slice(&ts.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&next.to_le_bytes());
    out.extend_from_slice(&reserve.to_le_bytes());
    let crc = crc32c::crc32c(out.get(start + PREFIX_LEN..).unwrap_or_default());
    if let Some(slot) = out.get_mut(start + 8..start + 12) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
}

/// Fills in the header and CRC of a frame whose entries are already in place after
/// [`HEADER_LEN`] reserved bytes (see [`crate::Batch`]). `frame` must be at least `HEADER_LEN` long.
pub(crate) fn seal(frame: &mut [u8], kind: Kind, log: u64, base: u64, ts: i64, count: u32) {
    // Callers reserve the header and cap the size (`AppendError::TooLarge`) first: a violation is a bug, and sealing
    // it anyway would write a frame recovery reads as damage.
    assert!(
        frame.len() >= HEADER_LEN && (frame.len() - PREFIX_LEN) as u64 <= MAX_FRAME_LEN,
        "invariant: a sealed frame is {HEADER_LEN}..={} bytes, got {} (kind {kind:?}, log {log}, base {base})",
        MAX_FRAME_LEN + PREFIX_LEN as u64,
        frame.len()
    );
    let len = (frame.len() - PREFIX_LEN) as u32;
    let mut header = [0u8; HEADER_LEN];
    header[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    header[4..8].copy_from_slice(&len.to_le_bytes());
    header[12..16].copy_from_slice(&(kind as u32).to_le_bytes());
    header[16..24].copy_from_slice(&log.to_le_bytes());
    header[24..32].copy_from_slice(&base.to_le_bytes());
    header[32..40].copy_from_slice(&ts.to_le_bytes());
    header[40..44].copy_from_slice(&count.to_le_bytes());
    let Some(head) = frame.get_mut(..HEADER_LEN) else {
        return;
    };
    head.copy_from_slice(&header);
    let crc = frame
        .get(PREFIX_LEN..)
        .map(crc32c::crc32c)
        .unwrap_or_default();
    if let Some(slot) = frame.get_mut(8..12) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
    // The entries were laid out by `Batch` or copied from a checked frame: they tile the body (one more CRC pass,
    // so only in debug builds).
    debug_assert!(
        check(frame).is_ok(),
        "invariant: a frame just sealed checks (kind {kind:?}, log {log}, base {base}, count {count}): {:?}",
        check(frame).err()
    );
}

/// The header of a frame this process has just encoded. Failing to decode one can only be a bug in the encoder
/// (never input), so it panics naming the frame instead of surfacing as an I/O error. `check`, so that a
/// reservation's body fields are filled in.
pub(crate) fn own_header(b: &[u8]) -> Header {
    match check(b) {
        Ok(h) => h,
        Err(e) => panic!(
            "invariant: a frame just encoded decodes, got {e:?} for {} bytes starting {:02x?}",
            b.len(),
            b.get(..HEADER_LEN.min(b.len())).unwrap_or_default()
        ),
    }
}

/// Parses the fixed header (no CRC check: the body may not be loaded yet).
pub(crate) fn decode_header(b: &[u8]) -> Result<Header, FrameError> {
    if b.len() < HEADER_LEN {
        return Err(FrameError::Short);
    }
    let field32 = |at| u32_at(b, at).ok_or(FrameError::Short);
    let field64 = |at| u64_at(b, at).ok_or(FrameError::Short);
    if field32(0)? != MAGIC {
        return Err(FrameError::BadHeader);
    }
    let len = u64::from(field32(4)?);
    if len < (HEADER_LEN - PREFIX_LEN) as u64 || len > MAX_FRAME_LEN {
        return Err(FrameError::BadHeader);
    }
    let kind = Kind::from_u32(field32(12)?).ok_or(FrameError::BadHeader)?;
    let count = field32(40)?;
    let body = len - (HEADER_LEN - PREFIX_LEN) as u64;
    if kind == Kind::RelocCommit {
        // `count` counts the copy frames before it; the frame itself has no body.
        if body != 0 {
            return Err(FrameError::BadHeader);
        }
    } else {
        // Every entry needs at least its 4-byte length; rejects absurd counts before anything is allocated.
        if u64::from(count) * 4 > body {
            return Err(FrameError::BadHeader);
        }
        if !kind.has_entries() && count != 0 {
            return Err(FrameError::BadHeader);
        }
    }
    let base = field64(24)?;
    // Offsets must stay representable: `base + count` is used everywhere.
    if kind.has_entries() && base.checked_add(u64::from(count)).is_none() {
        return Err(FrameError::BadHeader);
    }
    Ok(Header {
        kind,
        log: field64(16)?,
        base,
        timestamp_ms: field64(32)? as i64,
        count,
        frame_len: len + PREFIX_LEN as u64,
        crc: field32(8)?,
        next: 0,
        reserve: 0,
    })
}

/// Validates a whole frame held in `b` (exactly `frame_len` bytes or more) and returns its header.
pub(crate) fn check(b: &[u8]) -> Result<Header, FrameError> {
    let mut h = decode_header(b)?;
    let total = usize::try_from(h.frame_len).map_err(|_| FrameError::BadHeader)?;
    let covered = b.get(PREFIX_LEN..total).ok_or(FrameError::Short)?;
    if crc32c::crc32c(covered) != h.crc {
        return Err(FrameError::BadCrc);
    }
    match h.kind {
        // A later format version may put fields after the version: the body is not ours to judge.
        Kind::SegmentHeader => return Ok(h),
        Kind::Reserve => {
            if total != HEADER_LEN + RESERVE_BODY {
                return Err(FrameError::BadBody);
            }
            h.next = u64_at(b, HEADER_LEN).ok_or(FrameError::BadBody)?;
            h.reserve = u64_at(b, HEADER_LEN + 8).ok_or(FrameError::BadBody)?;
            // The log continues at or after the skip's start, and the reservation covers where it continues.
            if h.next < h.base || h.reserve < h.next {
                return Err(FrameError::BadBody);
            }
            return Ok(h);
        }
        _ => {}
    }
    // Entry lengths must tile the body exactly.
    let mut at = HEADER_LEN;
    let entries = if h.kind.has_entries() { h.count } else { 0 };
    for _ in 0..entries {
        let n = u32_at(b, at).ok_or(FrameError::BadBody)? as usize;
        at = at.checked_add(4 + n).ok_or(FrameError::BadBody)?;
        if at > total {
            return Err(FrameError::BadBody);
        }
    }
    if at != total {
        return Err(FrameError::BadBody);
    }
    Ok(h)
}

/// Splits a validated data frame (as returned with [`check`]) into its payloads, zero-copy.
pub(crate) fn entries(frame: &Bytes, h: &Header) -> Result<Vec<Bytes>, FrameError> {
    let mut out = Vec::with_capacity(h.count as usize);
    let mut at = HEADER_LEN;
    for _ in 0..h.count {
        let n = u32_at(frame, at).ok_or(FrameError::BadBody)? as usize;
        let s = at + 4;
        let e = s.checked_add(n).ok_or(FrameError::BadBody)?;
        if e > frame.len() {
            return Err(FrameError::BadBody);
        }
        out.push(frame.slice(s..e));
        at = e;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(payloads: &[&str]) -> Vec<u8> {
        let p: Vec<Bytes> = payloads
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        let mut out = Vec::new();
        encode(&mut out, Kind::Data, 7, 100, -5, &p);
        assert_eq!(out.len() as u64, data_frame_len(&p));
        out
    }

    #[test]
    fn sealed_batch_equals_encoded_frame() {
        let p = vec![Bytes::from("hello"), Bytes::new(), Bytes::from("world")];
        let mut batch = crate::Batch::from_payloads(&p);
        seal(&mut batch.buf, Kind::Data, 7, 100, -5, batch.count);
        let mut out = Vec::new();
        encode(&mut out, Kind::Data, 7, 100, -5, &p);
        assert_eq!(batch.buf, out);
    }

    #[test]
    fn round_trip() {
        let f = enc(&["hello", "", "world"]);
        let h = check(&f).unwrap();
        assert_eq!(
            (h.kind, h.log, h.base, h.timestamp_ms, h.count),
            (Kind::Data, 7, 100, -5, 3)
        );
        assert_eq!(h.frame_len, f.len() as u64);
        let b = Bytes::from(f);
        let e = entries(&b, &h).unwrap();
        assert_eq!(
            e,
            vec![
                Bytes::from_static(b"hello"),
                Bytes::new(),
                Bytes::from_static(b"world")
            ]
        );
    }

    #[test]
    fn tombstone_round_trip() {
        let mut f = Vec::new();
        encode(&mut f, Kind::Tombstone, 3, 0, 9, &[]);
        assert_eq!(f.len(), HEADER_LEN);
        let h = check(&f).unwrap();
        assert_eq!((h.kind, h.log, h.count), (Kind::Tombstone, 3, 0));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let f = enc(&["abc", "defg"]);
        for i in 0..f.len() {
            for bit in 0..8 {
                let mut g = f.clone();
                g[i] ^= 1 << bit;
                assert!(check(&g).is_err(), "flip byte {i} bit {bit} accepted");
            }
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let f = enc(&["abc", "defg"]);
        for cut in 0..f.len() {
            assert!(check(&f[..cut]).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn relocated_copy_and_commit_round_trip() {
        let mut f = enc(&["abc", "de"]);
        seal(&mut f, Kind::Relocated, 7, 100, -5, 2);
        let h = check(&f).unwrap();
        assert_eq!((h.kind, h.base, h.count), (Kind::Relocated, 100, 2));
        let e = entries(&Bytes::from(f), &h).unwrap();
        assert_eq!(
            e,
            vec![Bytes::from_static(b"abc"), Bytes::from_static(b"de")]
        );
        let mut m = Vec::new();
        encode_marker(&mut m, Kind::RelocCommit, 7, 101, 9, 3);
        assert_eq!(m.len(), HEADER_LEN);
        let h = check(&m).unwrap();
        assert_eq!(
            (h.kind, h.log, h.base, h.timestamp_ms, h.count),
            (Kind::RelocCommit, 7, 101, 9, 3)
        );
        // A commit frame never carries a body, and no other non-data kind carries a count.
        let mut bad = m.clone();
        bad[12..16].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(decode_header(&bad), Err(FrameError::BadHeader));
        for i in 0..m.len() {
            let mut g = m.clone();
            g[i] ^= 1;
            assert!(check(&g).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn zeroes_are_not_a_frame() {
        assert_eq!(decode_header(&[0u8; 64]), Err(FrameError::BadHeader));
    }

    #[test]
    fn absurd_length_and_count_rejected() {
        let mut f = enc(&["abc"]);
        f[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_header(&f), Err(FrameError::BadHeader));
        let mut g = enc(&["abc"]);
        g[40..44].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(decode_header(&g), Err(FrameError::BadHeader));
    }
}
