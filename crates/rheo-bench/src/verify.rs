//! Read-back verification: every acknowledged record must be read exactly
//! once, and each shard must deliver strictly increasing sequence numbers.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

/// Compares Kinesis sequence numbers, which are decimal strings of up to 128
/// digits (too long for any integer type): by numeric value.
pub fn cmp_seq(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// `(shard id, sequence number)` pairs, grouped by shard in arrival order.
#[derive(Debug, Default, Clone)]
pub struct SeqLog {
    pub by_shard: HashMap<String, Vec<String>>,
}

impl SeqLog {
    pub fn push(&mut self, shard: &str, seq: String) {
        match self.by_shard.get_mut(shard) {
            Some(v) => v.push(seq),
            None => {
                self.by_shard.insert(shard.to_string(), vec![seq]);
            }
        }
    }

    pub fn extend(&mut self, other: SeqLog) {
        for (shard, seqs) in other.by_shard {
            self.by_shard.entry(shard).or_default().extend(seqs);
        }
    }

    pub fn len(&self) -> usize {
        self.by_shard.values().map(Vec::len).sum()
    }

    #[cfg(test)]
    pub fn count_for(&self, shard: &str) -> usize {
        self.by_shard.get(shard).map_or(0, Vec::len)
    }

    /// Pairs that occur more than once (beyond the first occurrence).
    pub fn duplicates(&self) -> u64 {
        let mut dups = 0;
        for seqs in self.by_shard.values() {
            let mut seen = HashSet::with_capacity(seqs.len());
            for s in seqs {
                if !seen.insert(s.as_str()) {
                    dups += 1;
                }
            }
        }
        dups
    }

    /// Places where a shard's sequence does not strictly increase.
    pub fn order_violations(&self) -> u64 {
        self.by_shard
            .values()
            .map(|seqs| {
                seqs.windows(2)
                    .filter(|w| match w {
                        [a, b] => cmp_seq(a, b) != Ordering::Less,
                        _ => false,
                    })
                    .count() as u64
            })
            .sum()
    }
}

/// Outcome of comparing what was acknowledged with what was read back.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Verification {
    pub acked: u64,
    pub read: u64,
    /// Acknowledged but never read.
    pub missing: u64,
    /// Read more than once.
    pub duplicate_reads: u64,
    /// Acknowledged more than once (the server gave two records the same id).
    pub duplicate_acks: u64,
    /// Read but never acknowledged.
    pub unexpected: u64,
    /// Records whose outcome is unknown (timed-out or failed requests); that
    /// many unexpected reads are tolerated.
    pub unknown_outcome: u64,
    pub order_violations: u64,
    pub ok: bool,
}

/// Full verification of a read log against the acknowledged log.
pub fn verify(acked: &SeqLog, read: &SeqLog, unknown_outcome: u64) -> Verification {
    let mut v = Verification {
        acked: acked.len() as u64,
        read: read.len() as u64,
        duplicate_reads: read.duplicates(),
        duplicate_acks: acked.duplicates(),
        order_violations: read.order_violations(),
        unknown_outcome,
        ..Default::default()
    };
    let empty = Vec::new();
    let shards: HashSet<&String> = acked.by_shard.keys().chain(read.by_shard.keys()).collect();
    for shard in shards {
        let a: HashSet<&str> = acked
            .by_shard
            .get(shard)
            .unwrap_or(&empty)
            .iter()
            .map(String::as_str)
            .collect();
        let r: HashSet<&str> = read
            .by_shard
            .get(shard)
            .unwrap_or(&empty)
            .iter()
            .map(String::as_str)
            .collect();
        v.missing += a.difference(&r).count() as u64;
        v.unexpected += r.difference(&a).count() as u64;
    }
    v.ok = v.missing == 0
        && v.duplicate_reads == 0
        && v.duplicate_acks == 0
        && v.order_violations == 0
        && v.unexpected <= v.unknown_outcome;
    v
}

/// Verification when no acknowledged set is available (stand-alone `get`):
/// only duplicates, ordering and, if given, the expected total.
pub fn verify_read_only(read: &SeqLog, expected: Option<u64>) -> Verification {
    let mut v = Verification {
        read: read.len() as u64,
        duplicate_reads: read.duplicates(),
        order_violations: read.order_violations(),
        ..Default::default()
    };
    if let Some(e) = expected {
        v.acked = e;
        v.missing = e.saturating_sub(v.read);
        v.unexpected = v.read.saturating_sub(e);
    }
    v.ok = v.missing == 0 && v.unexpected == 0 && v.duplicate_reads == 0 && v.order_violations == 0;
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn log(pairs: &[(&str, &str)]) -> SeqLog {
        let mut l = SeqLog::default();
        for (s, q) in pairs {
            l.push(s, q.to_string());
        }
        l
    }

    #[test]
    fn seq_compare_is_numeric() {
        assert_eq!(cmp_seq("9", "10"), Ordering::Less);
        assert_eq!(cmp_seq("010", "10"), Ordering::Equal);
        assert_eq!(
            cmp_seq(
                "49590338271490256608559692538361571095921575989136588898",
                "49590338271490256608559692540925702759324208523137515618"
            ),
            Ordering::Less
        );
        assert_eq!(cmp_seq("200", "199"), Ordering::Greater);
    }

    #[test]
    fn clean_read_back_passes() {
        let acked = log(&[("a", "1"), ("b", "5"), ("a", "3")]);
        let read = log(&[("a", "1"), ("a", "3"), ("b", "5")]);
        let v = verify(&acked, &read, 0);
        assert!(v.ok, "{v:?}");
        assert_eq!((v.acked, v.read, v.missing), (3, 3, 0));
    }

    #[test]
    fn detects_missing_duplicate_unexpected_and_disorder() {
        let acked = log(&[("a", "1"), ("a", "2"), ("a", "3"), ("b", "7")]);
        let read = log(&[("a", "1"), ("a", "3"), ("a", "3"), ("a", "2"), ("b", "8")]);
        let v = verify(&acked, &read, 0);
        assert!(!v.ok);
        assert_eq!(v.missing, 1); // b/7
        assert_eq!(v.duplicate_reads, 1); // a/3
        assert_eq!(v.unexpected, 1); // b/8
        assert_eq!(v.order_violations, 2); // 3->3, 3->2
    }

    #[test]
    fn same_seq_on_different_shards_is_not_a_duplicate() {
        let acked = log(&[("a", "1"), ("b", "1")]);
        let v = verify(&acked, &acked.clone(), 0);
        assert!(v.ok);
        assert_eq!(v.duplicate_acks, 0);
    }

    #[test]
    fn duplicate_acks_fail() {
        let acked = log(&[("a", "1"), ("a", "1")]);
        let read = log(&[("a", "1")]);
        let v = verify(&acked, &read, 0);
        assert_eq!(v.duplicate_acks, 1);
        assert!(!v.ok);
    }

    #[test]
    fn unknown_outcomes_tolerate_extra_reads() {
        let acked = log(&[("a", "1")]);
        let read = log(&[("a", "1"), ("a", "2")]);
        assert!(!verify(&acked, &read, 0).ok);
        assert!(verify(&acked, &read, 1).ok);
    }

    #[test]
    fn read_only_checks_count() {
        let read = log(&[("a", "1"), ("a", "2")]);
        assert!(verify_read_only(&read, Some(2)).ok);
        assert!(verify_read_only(&read, None).ok);
        let v = verify_read_only(&read, Some(3));
        assert!(!v.ok);
        assert_eq!(v.missing, 1);
    }

    proptest! {
        #[test]
        fn seq_compare_matches_u128(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(cmp_seq(&a.to_string(), &b.to_string()), a.cmp(&b));
        }

        #[test]
        fn read_back_of_any_shuffle_across_shards_passes(n in 1usize..200, shards in 1usize..5) {
            let mut acked = SeqLog::default();
            for i in 0..n {
                acked.push(&format!("s{}", i % shards), (1000 + i).to_string());
            }
            let v = verify(&acked, &acked.clone(), 0);
            prop_assert!(v.ok);
            prop_assert_eq!(v.read as usize, n);
        }
    }
}
