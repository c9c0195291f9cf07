//! Partition keys to 128-bit hash keys, and the even split of the hash-key space.
//!
//! Kinesis routes a record by `MD5(partition key)` read as a big-endian unsigned 128-bit integer
//! (or by an explicit hash key), onto the one open shard whose inclusive range contains it.

use md5::{Digest, Md5};

/// A point of the 128-bit hash-key space.
pub type HashKey = u128;

/// An inclusive range of hash keys owned by one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HashRange {
    #[serde(with = "u128_string")]
    pub start: HashKey,
    #[serde(with = "u128_string")]
    pub end: HashKey,
}

impl HashRange {
    pub const FULL: HashRange = HashRange {
        start: 0,
        end: u128::MAX,
    };

    pub fn contains(&self, key: HashKey) -> bool {
        self.start <= key && key <= self.end
    }
}

/// The hash key of a partition key: MD5 of its UTF-8 bytes as a big-endian integer.
pub fn partition_key_hash(partition_key: &str) -> HashKey {
    let digest: [u8; 16] = Md5::digest(partition_key.as_bytes()).into();
    u128::from_be_bytes(digest)
}

/// Parses an `ExplicitHashKey`: a decimal integer in `[0, 2^128 - 1]`.
pub fn parse_hash_key(text: &str) -> Option<HashKey> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u128>().ok()
}

/// `floor(2^128 / parts)` for `parts >= 2`: the width AWS gives each shard of an even split.
fn even_width(parts: u128) -> u128 {
    // 2^128 does not fit in u128, so derive floor((MAX + 1) / n) from MAX / n.
    let base = u128::MAX / parts;
    if u128::MAX % parts == parts - 1 {
        base + 1
    } else {
        base
    }
}

/// Splits `range` into `parts` contiguous ranges the way CreateStream and UpdateShardCount do:
/// each part is `floor(width / parts)` wide and the last one takes the remainder.
pub fn split_evenly(range: HashRange, parts: u32) -> Vec<HashRange> {
    let parts = u128::from(parts.max(1));
    if parts == 1 {
        // The one part is the whole range; its width may be 2^128, which u128 cannot hold.
        return vec![range];
    }
    let width = if range == HashRange::FULL {
        even_width(parts)
    } else {
        // Width of a proper sub-range fits in u128 because it is smaller than 2^128.
        (range.end - range.start + 1) / parts
    };
    let mut out = Vec::with_capacity(parts as usize);
    let mut start = range.start;
    for i in 0..parts {
        let end = if i + 1 == parts {
            range.end
        } else {
            start + width - 1
        };
        out.push(HashRange { start, end });
        start = end.wrapping_add(1);
    }
    out
}

/// (De)serialises a u128 as a decimal string, since JSON numbers cannot hold it exactly.
mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn three_shards_match_aws_boundaries() {
        let r = split_evenly(HashRange::FULL, 3);
        assert_eq!(r[0].end, 113427455640312821154458202477256070484);
        assert_eq!(r[1].start, 113427455640312821154458202477256070485);
        assert_eq!(r[1].end, 226854911280625642308916404954512140969);
        assert_eq!(r[2].start, 226854911280625642308916404954512140970);
        assert_eq!(r[2].end, u128::MAX);
    }

    #[test]
    fn two_shards_split_at_half() {
        let r = split_evenly(HashRange::FULL, 2);
        assert_eq!(r[0].end, 170141183460469231731687303715884105727);
        assert_eq!(r[1].start, 170141183460469231731687303715884105728);
    }

    #[test]
    fn md5_of_known_key() {
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(
            partition_key_hash("a"),
            0x0cc175b9c0f1b6a831c399e269772661_u128
        );
    }

    #[test]
    fn parse_hash_key_rejects_out_of_range_and_junk() {
        assert_eq!(parse_hash_key("0"), Some(0));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211455"),
            Some(u128::MAX)
        );
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211456"),
            None
        );
        assert_eq!(parse_hash_key("-1"), None);
        assert_eq!(parse_hash_key(""), None);
        assert_eq!(parse_hash_key("1e5"), None);
    }

    proptest! {
        #[test]
        fn split_is_contiguous_and_covers(parts in 1u32..2000, lo in any::<u128>(), width in 10_000u128..u128::MAX / 2) {
            let range = HashRange { start: lo / 2, end: lo / 2 + width };
            let pieces = split_evenly(range, parts.min(10_000));
            prop_assert_eq!(pieces.first().map(|p| p.start), Some(range.start));
            prop_assert_eq!(pieces.last().map(|p| p.end), Some(range.end));
            for pair in pieces.windows(2) {
                prop_assert_eq!(pair[0].end + 1, pair[1].start);
                prop_assert!(pair[0].start <= pair[0].end);
            }
        }

        #[test]
        fn every_key_lands_in_exactly_one_shard(parts in 1u32..600, key in any::<u128>()) {
            let pieces = split_evenly(HashRange::FULL, parts);
            prop_assert_eq!(pieces.iter().filter(|p| p.contains(key)).count(), 1);
        }

        #[test]
        fn partition_hash_is_md5_be(pk in ".{1,64}") {
            let digest: [u8; 16] = Md5::digest(pk.as_bytes()).into();
            prop_assert_eq!(partition_key_hash(&pk).to_be_bytes(), digest);
        }
    }
}
