//! The byte layout of one table record (one entry of the table's log).
//!
//! Every record starts with a format byte ([`FORMAT_V1`]) and an op byte; integers are
//! little-endian. The layout is in `docs/design/kv-store.md`. Records are read back from disk,
//! so [`decode`] checks every length and refuses anything it does not fully understand with a
//! [`DecodeError`]; it never panics and never reads past the slice it is given.

use crate::{KEY_BYTES_MAX, VALUE_BYTES_MAX};

/// The only record format written today.
pub const FORMAT_V1: u8 = 1;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_SNAPSHOT_BEGIN: u8 = 3;
const OP_SNAPSHOT_ITEM: u8 = 4;
const OP_SNAPSHOT_END: u8 = 5;

/// Bytes of a put or snapshot item before its key: format, op, version, key length.
pub(crate) const ITEM_HEADER_BYTES: usize = 1 + 1 + 8 + 2;

/// One decoded record, borrowing the entry's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// `key` now holds `value` at `version`.
    Put {
        /// The version the write created (table-wide counter value).
        version: u64,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// `key` was removed; `version` is the counter value the delete consumed.
    Delete {
        /// The counter value the delete consumed.
        version: u64,
        /// The key.
        key: &'a [u8],
    },
    /// A snapshot of `items` live items follows; the table counter was `counter` when it was taken.
    SnapshotBegin {
        /// The table-wide version counter at the snapshot.
        counter: u64,
        /// Number of [`Record::SnapshotItem`]s that follow.
        items: u64,
    },
    /// One live item of the snapshot being written.
    SnapshotItem {
        /// The item's version.
        version: u64,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// The snapshot begun with the same `counter` and `items` is complete.
    SnapshotEnd {
        /// Repeats the begin marker's counter.
        counter: u64,
        /// Repeats the begin marker's item count.
        items: u64,
    },
}

/// Why a record's bytes were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The entry holds no byte at all.
    #[error("empty record")]
    Empty,
    /// The format byte names a format this build does not know.
    #[error("unknown record format {0}")]
    UnknownFormat(u8),
    /// The op byte names no known operation.
    #[error("unknown record op {0}")]
    UnknownOp(u8),
    /// The record ends before a field it must hold.
    #[error("record truncated: {needed} bytes needed, {len} present")]
    Truncated {
        /// Bytes the record needed up to the missing field.
        needed: usize,
        /// Bytes present.
        len: usize,
    },
    /// Bytes follow the last field of a fixed-size record.
    #[error("{0} trailing bytes after the record")]
    Trailing(usize),
    /// The key is empty or longer than [`KEY_BYTES_MAX`].
    #[error("record key of {0} bytes is out of bounds")]
    KeyBounds(usize),
    /// The value is longer than [`VALUE_BYTES_MAX`].
    #[error("record value of {0} bytes is too large")]
    ValueTooLarge(usize),
}

/// Appends the encoding of `record` to `out`.
pub fn encode(record: &Record<'_>, out: &mut Vec<u8>) {
    match *record {
        Record::Put {
            version,
            key,
            value,
        } => encode_item(OP_PUT, version, key, value, out),
        Record::SnapshotItem {
            version,
            key,
            value,
        } => encode_item(OP_SNAPSHOT_ITEM, version, key, value, out),
        Record::Delete { version, key } => encode_item(OP_DELETE, version, key, &[], out),
        Record::SnapshotBegin { counter, items } => {
            encode_marker(OP_SNAPSHOT_BEGIN, counter, items, out)
        }
        Record::SnapshotEnd { counter, items } => {
            encode_marker(OP_SNAPSHOT_END, counter, items, out)
        }
    }
}

/// Size of `record`'s encoding.
pub fn encoded_len(record: &Record<'_>) -> usize {
    match *record {
        Record::Put { key, value, .. } | Record::SnapshotItem { key, value, .. } => {
            ITEM_HEADER_BYTES + key.len() + value.len()
        }
        Record::Delete { key, .. } => ITEM_HEADER_BYTES + key.len(),
        Record::SnapshotBegin { .. } | Record::SnapshotEnd { .. } => 2 + 8 + 8,
    }
}

// Callers validate key and value sizes before encoding (the table refuses them with
// typed errors); the key length therefore fits the u16 field.
fn encode_item(op: u8, version: u64, key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.reserve(ITEM_HEADER_BYTES + key.len() + value.len());
    out.push(FORMAT_V1);
    out.push(op);
    out.extend_from_slice(&version.to_le_bytes());
    let key_len = u16::try_from(key.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&key_len.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

fn encode_marker(op: u8, counter: u64, items: u64, out: &mut Vec<u8>) {
    out.push(FORMAT_V1);
    out.push(op);
    out.extend_from_slice(&counter.to_le_bytes());
    out.extend_from_slice(&items.to_le_bytes());
}

/// Decodes one record. Everything is checked: format, op, lengths, key and value bounds, and
/// that nothing trails a fixed-size record.
pub fn decode(bytes: &[u8]) -> Result<Record<'_>, DecodeError> {
    let (&format, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if format != FORMAT_V1 {
        return Err(DecodeError::UnknownFormat(format));
    }
    let (&op, rest) = rest.split_first().ok_or(DecodeError::Truncated {
        needed: 2,
        len: bytes.len(),
    })?;
    let mut r = Reader {
        rest,
        at: 2,
        len: bytes.len(),
    };
    match op {
        OP_PUT | OP_SNAPSHOT_ITEM | OP_DELETE => {
            let version = r.u64()?;
            let key_len = usize::from(r.u16()?);
            if key_len == 0 || key_len > KEY_BYTES_MAX {
                return Err(DecodeError::KeyBounds(key_len));
            }
            let key = r.take(key_len)?;
            let value = r.rest;
            if op == OP_DELETE {
                if !value.is_empty() {
                    return Err(DecodeError::Trailing(value.len()));
                }
                return Ok(Record::Delete { version, key });
            }
            if value.len() > VALUE_BYTES_MAX {
                return Err(DecodeError::ValueTooLarge(value.len()));
            }
            Ok(if op == OP_PUT {
                Record::Put {
                    version,
                    key,
                    value,
                }
            } else {
                Record::SnapshotItem {
                    version,
                    key,
                    value,
                }
            })
        }
        OP_SNAPSHOT_BEGIN | OP_SNAPSHOT_END => {
            let counter = r.u64()?;
            let items = r.u64()?;
            if !r.rest.is_empty() {
                return Err(DecodeError::Trailing(r.rest.len()));
            }
            Ok(if op == OP_SNAPSHOT_BEGIN {
                Record::SnapshotBegin { counter, items }
            } else {
                Record::SnapshotEnd { counter, items }
            })
        }
        other => Err(DecodeError::UnknownOp(other)),
    }
}

struct Reader<'a> {
    rest: &'a [u8],
    at: usize,
    len: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated {
                needed: self.at.saturating_add(n),
                len: self.len,
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        self.at += n;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(b);
        Ok(u16::from_le_bytes(a))
    }
}

/// Decodes arbitrary bytes; for the fuzz target. Must never panic; a successful decode must
/// re-encode to the same bytes.
pub fn fuzz_decode(bytes: &[u8]) {
    if let Ok(record) = decode(bytes) {
        let mut out = Vec::new();
        encode(&record, &mut out);
        assert_eq!(out, bytes, "a decoded record re-encodes to its bytes");
        assert_eq!(encoded_len(&record), bytes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(r: Record<'_>) {
        let mut out = Vec::new();
        encode(&r, &mut out);
        assert_eq!(out.len(), encoded_len(&r));
        assert_eq!(decode(&out), Ok(r));
    }

    #[test]
    fn every_record_kind_round_trips() {
        round_trip(Record::Put {
            version: 7,
            key: b"lease/shard-0001",
            value: b"{\"owner\":\"w1\"}",
        });
        round_trip(Record::Put {
            version: u64::MAX,
            key: b"k",
            value: b"",
        });
        round_trip(Record::Delete {
            version: 9,
            key: b"lease/shard-0001",
        });
        round_trip(Record::SnapshotBegin {
            counter: 42,
            items: 3,
        });
        round_trip(Record::SnapshotItem {
            version: 41,
            key: &[0xff; KEY_BYTES_MAX],
            value: &vec![7; VALUE_BYTES_MAX],
        });
        round_trip(Record::SnapshotEnd {
            counter: 42,
            items: 3,
        });
    }

    #[test]
    fn the_put_layout_is_the_documented_one() {
        let mut out = Vec::new();
        encode(
            &Record::Put {
                version: 0x0102,
                key: b"ab",
                value: b"xyz",
            },
            &mut out,
        );
        assert_eq!(
            out,
            [1, 1, 2, 1, 0, 0, 0, 0, 0, 0, 2, 0, b'a', b'b', b'x', b'y', b'z']
        );
    }

    #[test]
    fn garbage_is_refused_with_typed_errors() {
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert_eq!(decode(&[2, 1]), Err(DecodeError::UnknownFormat(2)));
        assert_eq!(
            decode(&[1]),
            Err(DecodeError::Truncated { needed: 2, len: 1 })
        );
        assert_eq!(decode(&[1, 0]), Err(DecodeError::UnknownOp(0)));
        assert_eq!(decode(&[1, 99, 0, 0]), Err(DecodeError::UnknownOp(99)));
        assert_eq!(
            decode(&[1, 1, 0, 0, 0]),
            Err(DecodeError::Truncated { needed: 10, len: 5 })
        );
        // Key length 0, and a key length beyond the bound.
        let mut zero = vec![1, 1];
        zero.extend_from_slice(&5u64.to_le_bytes());
        zero.extend_from_slice(&0u16.to_le_bytes());
        assert_eq!(decode(&zero), Err(DecodeError::KeyBounds(0)));
        let mut long = vec![1, 1];
        long.extend_from_slice(&5u64.to_le_bytes());
        long.extend_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            decode(&long),
            Err(DecodeError::KeyBounds(usize::from(u16::MAX)))
        );
        // A key length that runs past the end.
        let mut short = vec![1, 1];
        short.extend_from_slice(&5u64.to_le_bytes());
        short.extend_from_slice(&10u16.to_le_bytes());
        short.extend_from_slice(b"abc");
        assert_eq!(
            decode(&short),
            Err(DecodeError::Truncated {
                needed: 22,
                len: 15
            })
        );
        // A delete with a value, a marker with trailing bytes.
        let mut del = Vec::new();
        encode(
            &Record::Delete {
                version: 1,
                key: b"k",
            },
            &mut del,
        );
        del.push(0);
        assert_eq!(decode(&del), Err(DecodeError::Trailing(1)));
        let mut end = Vec::new();
        encode(
            &Record::SnapshotEnd {
                counter: 1,
                items: 1,
            },
            &mut end,
        );
        end.extend_from_slice(b"xx");
        assert_eq!(decode(&end), Err(DecodeError::Trailing(2)));
        // A value over the bound.
        let mut big = Vec::new();
        encode_item(OP_PUT, 1, b"k", &vec![0; VALUE_BYTES_MAX + 1], &mut big);
        assert_eq!(
            decode(&big),
            Err(DecodeError::ValueTooLarge(VALUE_BYTES_MAX + 1))
        );
    }

    #[test]
    fn every_prefix_of_a_marker_is_refused() {
        let mut out = Vec::new();
        encode(
            &Record::SnapshotBegin {
                counter: 3,
                items: 4,
            },
            &mut out,
        );
        for n in 0..out.len() {
            assert!(decode(&out[..n]).is_err(), "prefix of {n} bytes");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            fuzz_decode(&bytes);
        }

        #[test]
        fn mutated_records_never_panic(
            version in any::<u64>(),
            key in proptest::collection::vec(any::<u8>(), 1..40),
            value in proptest::collection::vec(any::<u8>(), 0..40),
            flip in any::<(usize, u8)>(),
            cut in any::<usize>(),
        ) {
            let mut out = Vec::new();
            encode(&Record::Put { version, key: &key, value: &value }, &mut out);
            let at = flip.0 % out.len();
            out[at] ^= flip.1;
            out.truncate(cut % (out.len() + 1));
            fuzz_decode(&out);
        }
    }
}
