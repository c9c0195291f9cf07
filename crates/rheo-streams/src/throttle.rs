//! Per-shard throughput limits (`Config::throughput_limits`), measured the way a producer that
//! stays under them is never refused: a token bucket per shard and budget, refilled
//! continuously at the limit's rate and holding at most one second of it. A steady producer at
//! 90 % of a limit never empties its bucket; a burst may use one second's budget at once.
//!
//! Writes (1 MiB/s and 1,000 records/s per shard, partition keys counted) are admitted record
//! by record before anything is written, so a refused record is never partly stored; a
//! PutRecords takes its shards' budgets under one lock. A record larger than a second's bytes
//! (up to 10 MiB on a stream with a raised record size) is admitted on a full byte bucket and
//! leaves it in debt, as AWS documents large records "temporarily bursting beyond" the rate.
//! Shared reads (GetRecords: 5 calls/s and 2 MiB/s per shard) take a call before reading and
//! are charged the bytes they returned after. Answers of up to a second's bytes (2 MiB) use the
//! bucket's burst; a larger one is charged from empty, so an answer of B bytes holds the shard's
//! next reads back for B / 2 MiB/s (AWS: after 10 MiB, "subsequent calls made within the next
//! 5 seconds throw ProvisionedThroughputExceededException").
//! SubscribeToShard is not a shared read: each subscription is paced on its own.

use std::collections::HashMap;

use crate::limits::{
    SHARD_READ_BYTES_PER_SEC, SHARD_READ_CALLS_PER_SEC, SHARD_WRITE_BYTES_PER_SEC,
    SHARD_WRITE_RECORDS_PER_SEC,
};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    level: f64,
    per_sec: f64,
    /// Most the bucket holds: one second's budget.
    cap: f64,
    last_ms: i64,
}

impl Bucket {
    pub(crate) fn full(per_sec: u64, now_ms: i64) -> Self {
        Bucket {
            level: per_sec as f64,
            per_sec: per_sec as f64,
            cap: per_sec as f64,
            last_ms: now_ms,
        }
    }

    /// Takes one unit if there is one.
    pub(crate) fn take_one(&mut self, now_ms: i64) -> bool {
        self.refill(now_ms);
        if self.level < 1.0 {
            return false;
        }
        self.level -= 1.0;
        true
    }

    fn refill(&mut self, now_ms: i64) {
        let elapsed = (now_ms - self.last_ms).max(0) as f64;
        self.level = (self.level + elapsed * self.per_sec / 1000.0).min(self.cap);
        // Refills in several steps sum with rounding error: a debt paid back to within a
        // millionth of a unit is paid, or a read due at 5 s could be refused at 5 s.
        if self.cap - self.level < 1e-6 {
            self.level = self.cap;
        } else if self.level < 0.0 && self.level > -1e-6 {
            self.level = 0.0;
        }
        self.last_ms = self.last_ms.max(now_ms);
    }
}

#[derive(Clone, Copy, Debug)]
struct ShardBudget {
    write_records: Bucket,
    write_bytes: Bucket,
    read_calls: Bucket,
    read_bytes: Bucket,
}

impl ShardBudget {
    fn new(now_ms: i64) -> Self {
        ShardBudget {
            write_records: Bucket::full(SHARD_WRITE_RECORDS_PER_SEC, now_ms),
            write_bytes: Bucket::full(SHARD_WRITE_BYTES_PER_SEC, now_ms),
            read_calls: Bucket::full(SHARD_READ_CALLS_PER_SEC, now_ms),
            read_bytes: Bucket::full(SHARD_READ_BYTES_PER_SEC, now_ms),
        }
    }

    /// Whether `records` records of `bytes` in all fit the write budgets as they are (refilled).
    fn fits_writes(&self, records: usize, bytes: usize) -> bool {
        self.write_records.level >= records as f64 && self.write_bytes.level >= bytes as f64
    }

    /// Admits one record of `bytes`, or refuses it and takes nothing (budgets refilled).
    fn admit_write(&mut self, bytes: usize) -> bool {
        let bytes = bytes as f64;
        // A record larger than the bucket holds needs the whole bucket, then leaves it in debt.
        if self.write_records.level < 1.0
            || self.write_bytes.level < bytes.min(self.write_bytes.cap)
        {
            return false;
        }
        self.write_records.level -= 1.0;
        self.write_bytes.level -= bytes;
        true
    }
}

/// One shard's part of a PutRecords: its shard index, records and their bytes (data and keys).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WriteShare {
    pub shard: u64,
    pub records: usize,
    pub bytes: usize,
}

/// The budgets of one stream's shards (in memory: a restart starts them full, as a quiet
/// second would).
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    shards: parking_lot::Mutex<HashMap<u64, ShardBudget>>,
}

impl Throttle {
    /// Admits one record of `bytes` (data + partition key) to `shard`, or refuses it and takes
    /// nothing.
    #[cfg(test)]
    pub(crate) fn admit_write(&self, shard: u64, bytes: usize, now_ms: i64) -> bool {
        let share = [WriteShare {
            shard,
            records: 1,
            bytes,
        }];
        !matches!(
            self.admit_writes(&share, [(0, bytes)], now_ms).first(),
            Some(Some(_))
        )
    }

    /// Admits a request's records, under one lock: `shares` are the shards the request writes
    /// to, `records` each record's index in `shares` and size, in request order. Answers, for
    /// each record in order, the shard that refused it (`None`: admitted), or nothing at all
    /// when every record was admitted.
    ///
    /// A shard whose budgets hold all its records at once takes them in one step (the usual
    /// case, and why limits cost nothing measurable); otherwise its records are admitted one by
    /// one in request order, each refused one taking nothing, so the later, smaller ones may
    /// still go in.
    pub(crate) fn admit_writes(
        &self,
        shares: &[WriteShare],
        records: impl IntoIterator<Item = (usize, usize)>,
        now_ms: i64,
    ) -> Vec<Option<u64>> {
        let mut shards = self.shards.lock();
        // The budgets of the shards that do not fit whole, by index in `shares`.
        let mut partial: Vec<Option<ShardBudget>> = Vec::new();
        for (at, share) in shares.iter().enumerate() {
            let b = shards
                .entry(share.shard)
                .or_insert_with(|| ShardBudget::new(now_ms));
            b.write_records.refill(now_ms);
            b.write_bytes.refill(now_ms);
            if b.fits_writes(share.records, share.bytes) {
                b.write_records.level -= share.records as f64;
                b.write_bytes.level -= share.bytes as f64;
            } else {
                if partial.is_empty() {
                    partial.resize(shares.len(), None);
                }
                if let Some(slot) = partial.get_mut(at) {
                    *slot = Some(*b);
                }
            }
        }
        if partial.is_empty() {
            return Vec::new();
        }
        let refused = records
            .into_iter()
            .map(|(at, bytes)| {
                let budget = partial.get_mut(at).and_then(Option::as_mut)?;
                if budget.admit_write(bytes) {
                    return None;
                }
                shares.get(at).map(|s| s.shard)
            })
            .collect();
        for (share, budget) in shares.iter().zip(partial) {
            if let Some(budget) = budget {
                shards.insert(share.shard, budget);
            }
        }
        refused
    }

    /// Takes one shared-read call of `shard`; refused while the calls of the last second are
    /// spent or the bytes of earlier answers are not yet paid back (the byte budget is below
    /// zero).
    pub(crate) fn admit_read(&self, shard: u64, now_ms: i64) -> bool {
        let mut shards = self.shards.lock();
        let b = shards
            .entry(shard)
            .or_insert_with(|| ShardBudget::new(now_ms));
        b.read_calls.refill(now_ms);
        b.read_bytes.refill(now_ms);
        if b.read_calls.level < 1.0 || b.read_bytes.level < 0.0 {
            return false;
        }
        b.read_calls.level -= 1.0;
        true
    }

    /// Charges the bytes a shared read returned. An answer larger than a second's budget gets
    /// no help from the burst: the shard's next reads wait the whole time 2 MiB/s takes to
    /// serve it, 5 s after 10 MiB as AWS documents (the burst would have made it 4 s).
    pub(crate) fn charge_read(&self, shard: u64, bytes: usize, now_ms: i64) {
        let mut shards = self.shards.lock();
        if let Some(b) = shards.get_mut(&shard) {
            let r = &mut b.read_bytes;
            r.refill(now_ms);
            let bytes = bytes as f64;
            if bytes > r.cap {
                r.level = r.level.min(0.0) - bytes;
            } else {
                r.level -= bytes;
            }
        }
    }
}

/// The control-plane operations AWS rate-limits, with their documented rates (calls per
/// second) and whether the budget is per account or per stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ControlOp {
    CreateStream,
    DeleteStream,
    DescribeStream,
    DescribeStreamSummary,
    ListStreams,
    ListShards,
    SplitShard,
    MergeShards,
    UpdateShardCount,
    DescribeLimits,
    RegisterStreamConsumer,
    DescribeStreamConsumer,
    ListStreamConsumers,
    DeregisterStreamConsumer,
}

impl ControlOp {
    /// (calls per second, per stream rather than per account).
    pub(crate) fn limit(self) -> (u64, bool) {
        use ControlOp::*;
        match self {
            CreateStream | DeleteStream | ListStreams | SplitShard | MergeShards => (5, false),
            // UpdateShardCount: "Make over 10 TPS. TPS over 10 will trigger the
            // LimitExceededException".
            DescribeStream | UpdateShardCount => (10, false),
            DescribeStreamSummary | DescribeStreamConsumer => (20, false),
            ListShards => (1000, true),
            DescribeLimits => (1, false),
            RegisterStreamConsumer | ListStreamConsumers | DeregisterStreamConsumer => (5, false),
        }
    }
}

/// Budgets of the control plane: (account, region, operation, stream for per-stream limits).
#[derive(Debug, Default)]
pub(crate) struct ControlThrottle {
    buckets: parking_lot::Mutex<HashMap<(String, String, ControlOp, String), Bucket>>,
}

impl ControlThrottle {
    pub(crate) fn admit(
        &self,
        account: &str,
        region: &str,
        op: ControlOp,
        stream: &str,
        now_ms: i64,
    ) -> bool {
        let (per_sec, per_stream) = op.limit();
        let key = (
            account.to_string(),
            region.to_string(),
            op,
            if per_stream {
                stream.to_string()
            } else {
                String::new()
            },
        );
        self.buckets
            .lock()
            .entry(key)
            .or_insert_with(|| Bucket::full(per_sec, now_ms))
            .take_one(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_producer_at_90_percent_is_never_refused() {
        let t = Throttle::default();
        // 900 records of 1 KiB a second (0.88 MiB/s), one every 1.11 ms, for a minute.
        let mut now = 0.0f64;
        for _ in 0..54_000 {
            assert!(t.admit_write(0, 1024, now as i64), "refused at {now} ms");
            now += 1000.0 / 900.0;
        }
    }

    #[test]
    fn a_second_of_budget_then_refusal_then_refill() {
        let t = Throttle::default();
        for i in 0..1000 {
            assert!(t.admit_write(3, 10, 0), "record {i}");
        }
        assert!(
            !t.admit_write(3, 10, 0),
            "the 1,001st record in one instant"
        );
        // Other shards have budgets of their own.
        assert!(t.admit_write(4, 10, 0));
        assert!(t.admit_write(3, 10, 2), "2 ms refill 2 records");
        // Bytes: one 1 MiB record empties the byte budget.
        let t = Throttle::default();
        assert!(t.admit_write(0, 1024 * 1024, 0));
        assert!(!t.admit_write(0, 1, 0));
        assert!(t.admit_write(0, 1000, 1), "1 ms refills about 1 KiB");
    }

    #[test]
    fn five_reads_a_second_and_bytes_charged_after() {
        let t = Throttle::default();
        for _ in 0..5 {
            assert!(t.admit_read(0, 0));
        }
        assert!(!t.admit_read(0, 0));
        assert!(t.admit_read(0, 200), "one call back after 200 ms");
    }

    #[test]
    fn a_10_mib_answer_holds_the_next_reads_back_for_5_seconds() {
        // AWS: "if a call returns 10 MiB, subsequent calls made within the next 5 seconds throw
        // ProvisionedThroughputExceededException", however long the shard was idle before.
        let t = Throttle::default();
        assert!(t.admit_read(0, 0));
        t.charge_read(0, 10 * 1024 * 1024, 0);
        for at in [1, 1_000, 4_000, 4_999] {
            assert!(!t.admit_read(0, at), "read at {at} ms");
        }
        assert!(t.admit_read(0, 5_000));
        // Proportionate below: 4 MiB holds reads back for 2 s, 3 MiB for 1.5 s.
        for (bytes, wait_ms) in [(4 * 1024 * 1024, 2_000), (3 * 1024 * 1024, 1_500)] {
            let t = Throttle::default();
            assert!(t.admit_read(7, 100_000));
            t.charge_read(7, bytes, 100_000);
            assert!(!t.admit_read(7, 100_000 + wait_ms - 1), "{bytes}");
            assert!(t.admit_read(7, 100_000 + wait_ms), "{bytes}");
        }
        // Up to a second's bytes use the burst: no wait after 2 MiB on a full budget, and small
        // answers one after the other go on until their bytes pass it.
        let t = Throttle::default();
        assert!(t.admit_read(2, 0));
        t.charge_read(2, 2 * 1024 * 1024, 0);
        assert!(t.admit_read(2, 0));
        let t = Throttle::default();
        for _ in 0..4 {
            assert!(t.admit_read(3, 0));
            t.charge_read(3, 100_000, 0);
        }
        // A consumer at 90 % of 2 MiB/s in five reads a second is never refused.
        let t = Throttle::default();
        let per_read = 2 * 1024 * 1024 * 9 / 10 / 5;
        for i in 0..500 {
            let now = i * 200;
            assert!(t.admit_read(1, now), "read {i}");
            t.charge_read(1, per_read, now);
        }
        // Through the service with the test clock: see
        // `tests::a_10_mib_get_records_answer_throttles_the_shard_for_5_seconds`.
    }

    #[test]
    fn a_large_record_takes_a_full_byte_bucket_and_leaves_it_in_debt() {
        let t = Throttle::default();
        assert!(
            t.admit_write(0, 10 * 1024 * 1024, 0),
            "a full bucket admits 10 MiB"
        );
        assert!(
            !t.admit_write(0, 1, 8_999),
            "9 MiB of debt take 9 s to pay back"
        );
        assert!(t.admit_write(0, 1000, 9_001));
        // A large record needs the whole second's bytes: not admitted on a partial bucket.
        let t = Throttle::default();
        assert!(t.admit_write(0, 1024, 0));
        assert!(!t.admit_write(0, 2 * 1024 * 1024, 0));
        assert!(t.admit_write(0, 2 * 1024 * 1024, 2));
    }

    #[test]
    fn a_request_is_admitted_per_shard_and_refused_records_take_nothing() {
        let t = Throttle::default();
        let shares = [
            WriteShare {
                shard: 0,
                records: 600,
                bytes: 600,
            },
            WriteShare {
                shard: 1,
                records: 2,
                bytes: 20,
            },
        ];
        let records = |n: usize| (0..n).map(|i| (if i % 301 == 300 { 1 } else { 0 }, 1));
        // Everything fits: nothing to report.
        assert!(t.admit_writes(&shares, records(602), 0).is_empty());
        // Shard 0 has 400 records left: of 600 more, the first 400 go in, in request order;
        // shard 1's records all go in.
        let shares = [
            WriteShare {
                shard: 0,
                records: 600,
                bytes: 600,
            },
            WriteShare {
                shard: 1,
                records: 1,
                bytes: 10,
            },
        ];
        let order: Vec<(usize, usize)> = (0..601).map(|i| (usize::from(i == 0), 1)).collect();
        let refused = t.admit_writes(&shares, order, 0);
        assert_eq!(refused.len(), 601);
        assert_eq!(refused[0], None, "shard 1's record");
        assert!(refused[1..401].iter().all(Option::is_none));
        assert!(refused[401..].iter().all(|r| *r == Some(0)));
        // The refused records took nothing: 1 ms refills one record.
        assert!(!t.admit_write(0, 1, 0));
        assert!(t.admit_write(0, 1, 1));
        assert!(!t.admit_write(0, 1, 1));
        // A large refused record leaves room for a small one after it.
        let t = Throttle::default();
        assert!(t.admit_write(0, 1024 * 1024 - 100, 0));
        let shares = [WriteShare {
            shard: 0,
            records: 2,
            bytes: 1000 + 50,
        }];
        let refused = t.admit_writes(&shares, [(0, 1000), (0, 50)], 0);
        assert_eq!(refused, vec![Some(0), None]);
    }
}

#[cfg(test)]
mod control_tests {
    use super::*;

    #[test]
    fn control_calls_are_counted_per_account_or_per_stream() {
        let t = ControlThrottle::default();
        for _ in 0..10 {
            assert!(t.admit("a", "r", ControlOp::DescribeStream, "s1", 0));
        }
        // DescribeStream's 10/s is per account: another stream does not help.
        assert!(!t.admit("a", "r", ControlOp::DescribeStream, "s2", 0));
        assert!(t.admit("b", "r", ControlOp::DescribeStream, "s1", 0));
        assert!(t.admit("a", "r", ControlOp::DescribeStream, "s1", 100));
        // ListShards' 1,000/s is per stream.
        for _ in 0..1000 {
            assert!(t.admit("a", "r", ControlOp::ListShards, "s1", 0));
        }
        assert!(!t.admit("a", "r", ControlOp::ListShards, "s1", 0));
        assert!(t.admit("a", "r", ControlOp::ListShards, "s2", 0));
    }
}
