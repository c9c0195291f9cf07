//! [`Batch`]: the entries of one append, built directly in the journal's frame layout.
//!
//! A caller that assembles entries from parsed request bytes writes them once, here; the disk
//! store then fills in the frame header and CRC in place and hands the very same buffer to the
//! writer thread. Building a `Vec<Bytes>` first and encoding it into a frame afterwards cost an
//! allocation per entry and a second copy of every byte on the put path.

use bytes::Bytes;

use crate::frame::{self, HEADER_LEN};

/// Entries for one append to one log, in frame layout (header space reserved, entries
/// length-prefixed). Build with [`Batch::push`] or [`Batch::push_with`], append with
/// [`Store::append_batches`](crate::Store::append_batches).
#[derive(Clone, Debug)]
pub struct Batch {
    pub(crate) buf: Vec<u8>,
    pub(crate) count: u32,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty batch with room for `payload_bytes` of entries (plus their 4-byte prefixes
    /// for `entries` entries) without reallocating.
    pub fn with_capacity_for(entries: usize, payload_bytes: usize) -> Self {
        Self::with_capacity(entries.saturating_mul(4).saturating_add(payload_bytes))
    }

    fn with_capacity(body: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_LEN.saturating_add(body));
        buf.resize(HEADER_LEN, 0);
        Batch { buf, count: 0 }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the batch holds no entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the frame this batch becomes, header included.
    pub fn frame_len(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Appends one entry (a copy of `payload`).
    pub fn push(&mut self, payload: &[u8]) {
        self.push_with(|w| w.put(payload));
    }

    /// Appends one entry written by `write` through an [`EntryWriter`]; whatever `write` puts
    /// becomes the entry's payload.
    pub fn push_with(&mut self, write: impl FnOnce(&mut EntryWriter<'_>)) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        let mut w = EntryWriter {
            buf: &mut self.buf,
            start: at + 4,
        };
        write(&mut w);
        let len = self.buf.len() - at - 4;
        // Entries larger than 4 GiB cannot be described by the frame; `Store::append_batches`
        // refuses such a batch by its total size (frames are capped far below that).
        let prefix = (len.min(u32::MAX as usize) as u32).to_le_bytes();
        if let Some(slot) = self.buf.get_mut(at..at + 4) {
            slot.copy_from_slice(&prefix);
        }
        self.count = self.count.saturating_add(1);
    }

    /// The payloads, as zero-copy slices of one shared buffer (used by the in-memory store).
    pub(crate) fn into_payloads(self) -> Vec<Bytes> {
        let count = self.count;
        let frame = Bytes::from(self.buf);
        let mut out = Vec::with_capacity(count as usize);
        let mut at = HEADER_LEN;
        for _ in 0..count {
            let Some(n) = frame::u32_at(&frame, at) else {
                break;
            };
            let s = at + 4;
            let e = (s + n as usize).min(frame.len());
            out.push(frame.slice(s..e));
            at = e;
        }
        out
    }

    /// A batch of copies of `payloads`.
    pub fn from_payloads(payloads: &[Bytes]) -> Self {
        let bytes = payloads.iter().map(Bytes::len).sum();
        let mut b = Self::with_capacity_for(payloads.len(), bytes);
        for p in payloads {
            b.push(p);
        }
        b
    }
}

/// Write access to the entry being added by [`Batch::push_with`]: append-only, so an entry
/// cannot disturb the ones before it.
pub struct EntryWriter<'a> {
    buf: &'a mut Vec<u8>,
    /// Where this entry's bytes begin in `buf`.
    start: usize,
}

impl EntryWriter<'_> {
    /// Bytes written to this entry so far.
    pub fn len(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    /// Whether nothing was written to this entry yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// This entry's bytes from `from` (an offset in the entry) to what was written last, to
    /// be transformed in place (encrypted where the plaintext was laid out, which spares a
    /// zero-filled [`EntryWriter::put_with`] region). Never reaches an earlier entry; past
    /// the end it is empty.
    pub fn written_mut(&mut self, from: usize) -> &mut [u8] {
        let at = self.start.saturating_add(from).min(self.buf.len());
        self.buf.get_mut(at..).unwrap_or_default()
    }

    /// Appends bytes to the entry.
    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends one byte.
    pub fn put_u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Lets `fill` write up to `max` bytes in place (for decoders that write into a slice) and
    /// keeps the number it reports; on error the entry keeps nothing of this call.
    pub fn put_with<E>(
        &mut self,
        max: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<(), E> {
        let at = self.buf.len();
        self.buf.resize(at + max, 0);
        let region = self.buf.get_mut(at..).unwrap_or_default();
        match fill(region) {
            Ok(n) => {
                self.buf.truncate(at + n.min(max));
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(at);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let mut b = Batch::new();
        b.push(b"one");
        b.push_with(|w| {
            w.put_u8(b'x');
            w.put(b"yz");
        });
        b.push(b"");
        assert_eq!(b.len(), 3);
        assert_eq!(b.frame_len(), (HEADER_LEN + 4 + 3 + 4 + 3 + 4) as u64);
        let p = b.into_payloads();
        assert_eq!(
            p,
            vec![Bytes::from("one"), Bytes::from("xyz"), Bytes::new()]
        );
    }

    #[test]
    fn written_mut_sees_only_this_entry() {
        let mut b = Batch::new();
        b.push(b"first");
        b.push_with(|w| {
            assert!(w.is_empty());
            w.put(b"xyz");
            assert_eq!(w.len(), 3);
            assert_eq!(w.written_mut(0), b"xyz");
            w.written_mut(1).copy_from_slice(b"YZ");
            assert!(w.written_mut(9).is_empty());
            w.put(b"!");
        });
        let p = b.into_payloads();
        assert_eq!(&p[0][..], b"first");
        assert_eq!(&p[1][..], b"xYZ!");
    }

    #[test]
    fn put_with_keeps_only_what_was_written() {
        let mut b = Batch::new();
        b.push_with(|w| {
            w.put(b"ab");
            w.put_with(10, |s| {
                s[..3].copy_from_slice(b"cde");
                Ok::<_, ()>(3)
            })
            .unwrap();
            assert!(w.put_with(5, |_| Err::<usize, _>("bad")).is_err());
            w.put(b"f");
        });
        assert_eq!(b.into_payloads(), vec![Bytes::from("abcdef")]);
    }

    #[test]
    fn from_payloads_matches_push() {
        let ps = vec![Bytes::from("a"), Bytes::from("bc")];
        assert_eq!(Batch::from_payloads(&ps).into_payloads(), ps);
    }
}
