//! The KPL aggregated record format, as the Kinesis Producer Library writes it and the KCL reads
//! it: one Kinesis record whose data is `F3 89 9A C2`, the protobuf `AggregatedRecord`, and the
//! MD5 of those protobuf bytes. Many small user records travel in one Kinesis record, each with
//! its own partition key (and optionally explicit hash key) from the aggregate's tables.
//!
//! The producer ([`Aggregator`]) and the consumer ([`deaggregate`]) both use this crate, so
//! neither depends on the other; it does no I/O and knows no SDK. The reader's rules are the
//! KCL's: data that does not have the magic, the trailing MD5 or a parseable protobuf is a plain
//! record and passes through unchanged.

mod proto;

use md5::{Digest, Md5};
use prost::Message as _;

pub use proto::{AggregatedRecord, Record, Tag};

/// The first four bytes of an aggregated record's data.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];
/// Bytes an aggregate adds around its protobuf: the magic and the MD5.
pub const FRAMING: usize = MAGIC.len() + DIGEST_LEN;
const DIGEST_LEN: usize = 16;
/// The KPL's default `aggregation_max_size`: the size of an aggregate's data, framing included.
pub const DEFAULT_MAX_SIZE: usize = 51_200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KplError {
    /// An aggregate (magic, digest and protobuf all right) whose record names a table entry
    /// that is not there: nothing of it can be trusted.
    #[error("record {record} names {table} index {index}, but the table has {len} entries")]
    IndexOutOfRange {
        record: usize,
        table: &'static str,
        index: u64,
        len: usize,
    },
    /// An explicit hash key that is not a decimal number in 0..2^128.
    #[error("explicit hash key {0:?} is not a decimal number below 2^128")]
    BadHashKey(String),
}

/// One user record of an aggregate, with the keys its indexes name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
}

/// The user records of `data` in aggregate order, or `Ok(None)` when `data` is not an
/// aggregate (the caller delivers it as the plain record it is). A reader assigns the n-th user
/// record sub-sequence number n.
pub fn deaggregate(data: &[u8]) -> Result<Option<Vec<UserRecord>>, KplError> {
    let Some(message) = aggregate_body(data) else {
        return Ok(None);
    };
    let Ok(aggregate) = AggregatedRecord::decode(message) else {
        return Ok(None);
    };
    let table = |t: &'static str, list: &[String], index: u64, record: usize| {
        usize::try_from(index)
            .ok()
            .and_then(|i| list.get(i))
            .cloned()
            .ok_or(KplError::IndexOutOfRange {
                record,
                table: t,
                index,
                len: list.len(),
            })
    };
    let mut out = Vec::with_capacity(aggregate.records.len());
    for (n, r) in aggregate.records.into_iter().enumerate() {
        let partition_key = table(
            "partition key",
            &aggregate.partition_key_table,
            r.partition_key_index,
            n,
        )?;
        let explicit_hash_key = match r.explicit_hash_key_index {
            Some(i) => Some(table(
                "explicit hash key",
                &aggregate.explicit_hash_key_table,
                i,
                n,
            )?),
            None => None,
        };
        out.push(UserRecord {
            partition_key,
            explicit_hash_key,
            data: r.data,
        });
    }
    Ok(Some(out))
}

/// The protobuf bytes of `data` if it is framed as an aggregate: the magic, more than a digest
/// after it, and a digest that matches.
fn aggregate_body(data: &[u8]) -> Option<&[u8]> {
    let rest = data.strip_prefix(&MAGIC)?;
    if rest.len() <= DIGEST_LEN {
        return None;
    }
    let (message, digest) = rest.split_at(rest.len() - DIGEST_LEN);
    (Md5::digest(message).as_slice() == digest).then_some(message)
}

/// Whether `data` is framed as an aggregate (its protobuf is not parsed).
pub fn is_aggregated(data: &[u8]) -> bool {
    aggregate_body(data).is_some()
}

/// The 128-bit hash key a user record routes by: its explicit hash key (decimal) if it has one,
/// else the MD5 of its partition key read as a big-endian unsigned number, as Kinesis routes.
pub fn hash_key(partition_key: &str, explicit_hash_key: Option<&str>) -> Result<u128, KplError> {
    match explicit_hash_key {
        Some(ehk) => parse_hash_key(ehk),
        None => Ok(u128::from_be_bytes(
            Md5::digest(partition_key.as_bytes()).into(),
        )),
    }
}

fn parse_hash_key(s: &str) -> Result<u128, KplError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KplError::BadHashKey(s.to_string()));
    }
    s.parse::<u128>()
        .map_err(|_| KplError::BadHashKey(s.to_string()))
}

/// Bytes of a protobuf varint holding `v`.
fn varint_len(v: u64) -> usize {
    prost::encoding::encoded_len_varint(v)
}

/// Bytes of a length-delimited field (one-byte tag) of `len` bytes.
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Collects user records into one aggregate of at most `max_size` bytes (framing included),
/// keeping the exact encoded size as records are added, so it never serializes to measure.
/// Tables list keys in first-seen order, as the KPL writes them.
#[derive(Debug)]
pub struct Aggregator {
    max_size: usize,
    aggregate: AggregatedRecord,
    pk_index: std::collections::HashMap<String, u64>,
    ehk_index: std::collections::HashMap<String, u64>,
    /// Encoded size of `aggregate`'s protobuf.
    body_len: usize,
}

impl Aggregator {
    pub fn new(max_size: usize) -> Self {
        Aggregator {
            max_size,
            aggregate: AggregatedRecord::default(),
            pk_index: Default::default(),
            ehk_index: Default::default(),
            body_len: 0,
        }
    }

    /// User records collected so far.
    pub fn len(&self) -> usize {
        self.aggregate.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.aggregate.records.is_empty()
    }

    /// The aggregate's data size now (framing included; 0 when empty).
    pub fn size(&self) -> usize {
        if self.is_empty() {
            0
        } else {
            FRAMING + self.body_len
        }
    }

    /// What adding this user record would grow the protobuf by.
    fn growth(
        &self,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data_len: usize,
    ) -> usize {
        let mut grow = 0;
        let pk_index = match self.pk_index.get(partition_key) {
            Some(i) => *i,
            None => {
                grow += field_len(partition_key.len());
                self.aggregate.partition_key_table.len() as u64
            }
        };
        let mut inner = 1 + varint_len(pk_index) + field_len(data_len);
        if let Some(ehk) = explicit_hash_key {
            let ehk_index = match self.ehk_index.get(ehk) {
                Some(i) => *i,
                None => {
                    grow += field_len(ehk.len());
                    self.aggregate.explicit_hash_key_table.len() as u64
                }
            };
            inner += 1 + varint_len(ehk_index);
        }
        grow + field_len(inner)
    }

    /// Adds the user record if the aggregate stays within its size, and says whether it did.
    /// The first record is always taken (a record too large for any aggregate is the caller's
    /// to send alone).
    pub fn try_add(
        &mut self,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data: &[u8],
    ) -> bool {
        let grow = self.growth(partition_key, explicit_hash_key, data.len());
        if !self.is_empty() && FRAMING + self.body_len + grow > self.max_size {
            return false;
        }
        let next_pk = self.aggregate.partition_key_table.len() as u64;
        let partition_key_index = *self
            .pk_index
            .entry(partition_key.to_string())
            .or_insert_with(|| {
                self.aggregate
                    .partition_key_table
                    .push(partition_key.to_string());
                next_pk
            });
        let explicit_hash_key_index = explicit_hash_key.map(|ehk| {
            let next = self.aggregate.explicit_hash_key_table.len() as u64;
            *self.ehk_index.entry(ehk.to_string()).or_insert_with(|| {
                self.aggregate.explicit_hash_key_table.push(ehk.to_string());
                next
            })
        });
        self.aggregate.records.push(Record {
            partition_key_index,
            explicit_hash_key_index,
            data: data.to_vec(),
            tags: Vec::new(),
        });
        self.body_len += grow;
        true
    }

    /// The aggregate's data (magic, protobuf, MD5), and the aggregator emptied for the next.
    pub fn finish(&mut self) -> Vec<u8> {
        let aggregate = std::mem::take(&mut self.aggregate);
        self.pk_index.clear();
        self.ehk_index.clear();
        self.body_len = 0;
        let body = aggregate.encode_to_vec();
        let mut out = Vec::with_capacity(FRAMING + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&body);
        out.extend_from_slice(&Md5::digest(&body));
        out
    }
}

#[cfg(test)]
mod tests;
