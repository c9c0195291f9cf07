//! Sequence numbers: decimal strings that encode the shard and the record's offset in it.
//!
//! They have AWS's length, 56 digits, because people validate, store and compare them in that
//! form (`put-record` on AWS prints 56 digits). The digits are fixed-width fields, so two numbers
//! compare the same as strings (of equal length) and as integers:
//!
//! | digits  | field                                                                 |
//! |---------|-----------------------------------------------------------------------|
//! | 0..2    | `49`, the leading digits of AWS's numbers                             |
//! | 2..21   | shard index (below 2^60, at most 19 digits), zero-padded              |
//! | 21..41  | position: the record's log offset + 1 (20 digits hold 2^64)           |
//! | 41..56  | check field: a mix of shard index and position, modulo 10^15          |
//!
//! Position 0 is the shard's start, below every record: a shard's StartingSequenceNumber, and
//! the ContinuationSequenceNumber of a subscription that has delivered nothing from an empty
//! shard, so that resuming AFTER it misses no record (the first record is at position 1).
//! Within a shard the numbers strictly increase with the offset (the check field comes after
//! it); a child shard's numbers are above its parents' (its index is higher). Encoding the shard
//! lets a number used on the wrong shard be refused, as AWS does, and the check field makes a
//! mistyped or made-up number malformed instead of silently naming another record.
//!
//! The 38-digit form that Rheo wrote before (a marker bit at 2^124, the shard index in bits
//! 64..124, the offset in bits 0..64) is still accepted, so checkpoints stored from it go on
//! working; every number Rheo writes is in the 56-digit form.

use rheo_log::Offset;

const SHARD_BITS: u32 = 60;
/// Length of every sequence number Rheo writes.
pub const SEQUENCE_NUMBER_DIGITS: usize = 56;
const PREFIX: &[u8; 2] = b"49";
const SHARD_DIGITS: usize = 19;
const OFFSET_DIGITS: usize = 20;
const CHECK_DIGITS: usize = 15;
const CHECK_MODULUS: u64 = 1_000_000_000_000_000;
const LEGACY_MARKER: u128 = 1 << 124;
const LEGACY_DIGITS: usize = 38;

const _: () =
    assert!(PREFIX.len() + SHARD_DIGITS + OFFSET_DIGITS + CHECK_DIGITS == SEQUENCE_NUMBER_DIGITS);
const _: () = assert!(10u64.pow(CHECK_DIGITS as u32) == CHECK_MODULUS);
// The shard field holds every shard index, the offset field every u64.
const _: () = assert!((1u128 << SHARD_BITS) <= 10u128.pow(SHARD_DIGITS as u32));
const _: () = assert!((u64::MAX as u128) + 1 < 10u128.pow(OFFSET_DIGITS as u32));
// The one position above u64::MAX, written as a literal in `encode`.
const _: () = assert!(b"18446744073709551616".len() == OFFSET_DIGITS);

/// A decoded sequence number. The derived order (shard, then offset) is the order of the strings.
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

    /// The 56 ASCII digits, without allocating (the PutRecords answer writes 500 of them).
    pub fn digits(self) -> [u8; SEQUENCE_NUMBER_DIGITS] {
        encode(self.shard_index, u128::from(self.offset.0) + 1)
    }

    /// The shard's start: below every record of the shard (see the module's table).
    pub fn shard_start(shard_index: u64) -> String {
        String::from_utf8_lossy(&encode(shard_index, 0)).into_owned()
    }

    /// A record's sequence number. The shard's start (which names no record) is refused; see
    /// [`SequenceNumber::parse_position`].
    pub fn parse(text: &str) -> Result<Self, MalformedSequenceNumber> {
        match Self::parse_position(text)? {
            (shard_index, Some(offset)) => Ok(SequenceNumber::new(shard_index, offset)),
            (_, None) => Err(MalformedSequenceNumber),
        }
    }

    /// The shard a sequence number names, and the record's offset; `None` for the shard's start.
    pub fn parse_position(text: &str) -> Result<(u64, Option<Offset>), MalformedSequenceNumber> {
        let b = text.as_bytes();
        if !b.iter().all(u8::is_ascii_digit) {
            return Err(MalformedSequenceNumber);
        }
        match b.len() {
            SEQUENCE_NUMBER_DIGITS => parse_digits(b),
            LEGACY_DIGITS => parse_legacy(text),
            _ => Err(MalformedSequenceNumber),
        }
    }

    /// The shard `text` names and the offset a reader starts at from it: at the record for
    /// AT_SEQUENCE_NUMBER (`after` false), past it for AFTER_SEQUENCE_NUMBER; at the first
    /// record for the shard's start either way.
    pub fn start_offset(text: &str, after: bool) -> Result<(u64, Offset), MalformedSequenceNumber> {
        let (shard, offset) = Self::parse_position(text)?;
        let start = match (offset, after) {
            (None, _) => Offset(0),
            (Some(o), false) => o,
            (Some(o), true) => Offset(o.0.saturating_add(1)),
        };
        Ok((shard, start))
    }
}

/// The digits of (shard, position); see the module's table.
fn encode(shard_index: u64, position: u128) -> [u8; SEQUENCE_NUMBER_DIGITS] {
    let mut out = [b'0'; SEQUENCE_NUMBER_DIGITS];
    let (prefix, rest) = out.split_at_mut(PREFIX.len());
    prefix.copy_from_slice(PREFIX);
    let (shard, rest) = rest.split_at_mut(SHARD_DIGITS);
    let (field, check) = rest.split_at_mut(OFFSET_DIGITS);
    put_decimal(shard, shard_index);
    // Every position but one (2^64, after the last possible offset) fits a u64; 128-bit
    // division per digit cost more than the rest of a PutRecords answer.
    match u64::try_from(position) {
        Ok(p) => put_decimal(field, p),
        Err(_) => field.copy_from_slice(b"18446744073709551616"),
    }
    put_decimal(check, check_field(shard_index, position));
    out
}

fn parse_digits(b: &[u8]) -> Result<(u64, Option<Offset>), MalformedSequenceNumber> {
    let (prefix, rest) = b.split_at(PREFIX.len());
    if prefix != PREFIX {
        return Err(MalformedSequenceNumber);
    }
    let (shard, rest) = rest.split_at(SHARD_DIGITS);
    let (position, check) = rest.split_at(OFFSET_DIGITS);
    let shard_index = read_decimal(shard).ok_or(MalformedSequenceNumber)?;
    let position = read_decimal(position).ok_or(MalformedSequenceNumber)?;
    let check = read_decimal(check).ok_or(MalformedSequenceNumber)?;
    if shard_index >= 1 << SHARD_BITS
        || position > u128::from(u64::MAX) + 1
        || check != u128::from(check_field(shard_index as u64, position))
    {
        return Err(MalformedSequenceNumber);
    }
    let offset = position.checked_sub(1).map(|o| Offset(o as u64));
    Ok((shard_index as u64, offset))
}

fn parse_legacy(text: &str) -> Result<(u64, Option<Offset>), MalformedSequenceNumber> {
    let value: u128 = text.parse().map_err(|_| MalformedSequenceNumber)?;
    if value >> 124 != LEGACY_MARKER >> 124 {
        return Err(MalformedSequenceNumber);
    }
    let shard_index = ((value >> 64) as u64) & ((1 << SHARD_BITS) - 1);
    Ok((shard_index, Some(Offset(value as u64))))
}

/// Writes `value` as exactly `out.len()` decimal digits, zero-padded (the fields are sized so
/// that every value fits; see the assertions above).
fn put_decimal(out: &mut [u8], mut value: u64) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (value % 10) as u8;
        value /= 10;
    }
    debug_assert_eq!(value, 0, "field too narrow");
}

/// The value of a field of ASCII digits (at most 20 digits, so it fits).
fn read_decimal(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, d| {
        acc.checked_mul(10)?
            .checked_add(u128::from(d.wrapping_sub(b'0')))
    })
}

/// The check field: splitmix64's finaliser over shard index and position, reduced to 15
/// digits. Part of the format: changing it would make every number written before malformed.
fn check_field(shard_index: u64, position: u128) -> u64 {
    let mut z = (position as u64)
        ^ ((position >> 64) as u64).rotate_left(7)
        ^ shard_index.rotate_left(29)
        ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % CHECK_MODULUS
}

impl std::fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.digits();
        // The digits are ASCII by construction.
        f.write_str(std::str::from_utf8(&digits).map_err(|_| std::fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn legacy(shard: u64, offset: u64) -> String {
        (LEGACY_MARKER | (u128::from(shard) << 64) | u128::from(offset)).to_string()
    }

    #[test]
    fn first_number_of_shard_zero() {
        let s = SequenceNumber::new(0, Offset(0)).to_string();
        assert_eq!(s.len(), 56);
        assert!(s.starts_with(&format!("49{}1", "0".repeat(38))), "{s}");
        assert_eq!(
            SequenceNumber::parse(&s),
            Ok(SequenceNumber::new(0, Offset(0)))
        );
    }

    #[test]
    fn the_largest_shard_and_offset_fit() {
        let seq = SequenceNumber::new((1 << SHARD_BITS) - 1, Offset(u64::MAX));
        let s = seq.to_string();
        assert_eq!(s.len(), 56);
        assert_eq!(SequenceNumber::parse(&s), Ok(seq));
    }

    #[test]
    fn foreign_numbers_are_malformed() {
        for text in [
            "0",
            "12345",
            // An AWS number: the right length, but not ours (its check field does not match).
            "49590338271490256608559692538361571095921575989136588898",
            // Ours with one digit changed, in each field.
            "59000000000000000000000000000000000000000000000000000000",
            "abc",
            "",
            // Shard field above 2^60.
            "49999999999999999999900000000000000000000000000000000000",
        ] {
            assert!(SequenceNumber::parse(text).is_err(), "{text}");
        }
        let mut s = SequenceNumber::new(3, Offset(77)).to_string().into_bytes();
        for at in [2, 20, 40, 41, 55] {
            let mut t = s.clone();
            t[at] = if t[at] == b'9' { b'0' } else { t[at] + 1 };
            let t = String::from_utf8(t).unwrap();
            assert!(
                SequenceNumber::parse(&t).is_err(),
                "digit {at} changed: {t}"
            );
        }
        s.push(b'0');
        assert!(SequenceNumber::parse(&String::from_utf8(s).unwrap()).is_err());
    }

    #[test]
    fn the_shard_start_is_below_every_record_and_resumes_at_the_first() {
        let start = SequenceNumber::shard_start(4);
        assert_eq!(start.len(), 56);
        assert!(start < SequenceNumber::new(4, Offset(0)).to_string());
        assert!(start > SequenceNumber::new(3, Offset(u64::MAX)).to_string());
        assert_eq!(SequenceNumber::parse_position(&start), Ok((4, None)));
        assert!(SequenceNumber::parse(&start).is_err());
        assert_eq!(
            SequenceNumber::start_offset(&start, true),
            Ok((4, Offset(0)))
        );
        assert_eq!(
            SequenceNumber::start_offset(&start, false),
            Ok((4, Offset(0)))
        );
        let r = SequenceNumber::new(4, Offset(9)).to_string();
        assert_eq!(SequenceNumber::start_offset(&r, true), Ok((4, Offset(10))));
        assert_eq!(SequenceNumber::start_offset(&r, false), Ok((4, Offset(9))));
    }

    #[test]
    fn the_38_digit_form_written_before_is_still_read() {
        let text = legacy(5, 1234);
        assert_eq!(text.len(), 38);
        assert_eq!(
            SequenceNumber::parse(&text),
            Ok(SequenceNumber::new(5, Offset(1234)))
        );
        // Without the marker it is not ours.
        assert!(SequenceNumber::parse(&"1".repeat(38)).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(shard in 0u64..(1 << 60), offset in any::<u64>()) {
            let seq = SequenceNumber::new(shard, Offset(offset));
            let text = seq.to_string();
            prop_assert_eq!(text.len(), 56);
            prop_assert_eq!(SequenceNumber::parse(&text), Ok(seq));
            prop_assert_eq!(SequenceNumber::parse(&legacy(shard, offset)), Ok(seq));
        }

        #[test]
        fn order_of_strings_is_order_of_shard_then_offset(
            sa in 0u64..(1 << 60), a in any::<u64>(), sb in 0u64..(1 << 60), b in any::<u64>()
        ) {
            let x = SequenceNumber::new(sa, Offset(a));
            let y = SequenceNumber::new(sb, Offset(b));
            prop_assert_eq!(x.to_string().cmp(&y.to_string()), x.cmp(&y));
            prop_assert_eq!(x.cmp(&y), (sa, a).cmp(&(sb, b)));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,60}") {
            let _ = SequenceNumber::parse(&text);
        }

        #[test]
        fn random_56_digit_numbers_are_refused(text in "[0-9]{56}") {
            // Only a number whose check field matches is ours (10^-15 chance for a random one).
            if let Ok(seq) = SequenceNumber::parse(&text) {
                prop_assert_eq!(seq.to_string(), text);
            }
        }
    }
}
