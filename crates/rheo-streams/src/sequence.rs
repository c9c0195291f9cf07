//! Sequence numbers: decimal strings that encode the shard and the record's offset in it.
//!
//! Layout of the 128-bit value: a marker bit at 2^124, the shard index in bits 64..124 and the
//! log offset in bits 0..64. The marker bit makes every number exactly 38 decimal digits, so the
//! strings sort the same as the numbers; encoding the shard lets a number used on the wrong shard
//! be refused, as AWS does. Within a shard the numbers strictly increase with the offset.

use rheo_log::Offset;

const MARKER: u128 = 1 << 124;
const SHARD_BITS: u32 = 60;

/// A decoded sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber {
    pub shard_index: u64,
    pub offset: Offset,
}

/// Why a sequence-number string is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed sequence number")]
pub struct MalformedSequenceNumber;

impl SequenceNumber {
    pub fn new(shard_index: u64, offset: Offset) -> Self {
        debug_assert!(shard_index < (1 << SHARD_BITS));
        SequenceNumber {
            shard_index,
            offset,
        }
    }

    pub fn to_u128(self) -> u128 {
        MARKER | (u128::from(self.shard_index) << 64) | u128::from(self.offset.0)
    }

    pub fn parse(text: &str) -> Result<Self, MalformedSequenceNumber> {
        if text.is_empty() || text.len() > 40 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MalformedSequenceNumber);
        }
        let value: u128 = text.parse().map_err(|_| MalformedSequenceNumber)?;
        if value >> 124 != 1 {
            return Err(MalformedSequenceNumber);
        }
        let shard_index = ((value >> 64) as u64) & ((1 << SHARD_BITS) - 1);
        let offset = Offset(value as u64);
        Ok(SequenceNumber {
            shard_index,
            offset,
        })
    }
}

impl std::fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_u128())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_number_of_shard_zero() {
        let s = SequenceNumber::new(0, Offset(0)).to_string();
        assert_eq!(s.len(), 38);
        assert_eq!(
            SequenceNumber::parse(&s),
            Ok(SequenceNumber::new(0, Offset(0)))
        );
    }

    #[test]
    fn foreign_numbers_are_malformed() {
        assert!(SequenceNumber::parse("0").is_err());
        assert!(SequenceNumber::parse("12345").is_err());
        assert!(
            SequenceNumber::parse("49590338271490256608559692538361571095921575989136588898")
                .is_err()
        );
        assert!(SequenceNumber::parse("abc").is_err());
        assert!(SequenceNumber::parse("").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(shard in 0u64..(1 << 60), offset in any::<u64>()) {
            let seq = SequenceNumber::new(shard, Offset(offset));
            let text = seq.to_string();
            prop_assert_eq!(text.len(), 38);
            prop_assert_eq!(SequenceNumber::parse(&text), Ok(seq));
        }

        #[test]
        fn order_of_strings_is_order_of_offsets(shard in 0u64..1000, a in any::<u64>(), b in any::<u64>()) {
            let sa = SequenceNumber::new(shard, Offset(a)).to_string();
            let sb = SequenceNumber::new(shard, Offset(b)).to_string();
            prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,60}") {
            let _ = SequenceNumber::parse(&text);
        }
    }
}
