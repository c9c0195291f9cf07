//! Per-shard throughput limits (`Config::throughput_limits`), measured the way a producer that
//! stays under them is never refused: a token bucket per shard and budget, refilled
//! continuously at the limit's rate and holding at most one second of it. A steady producer at
//! 90 % of a limit never empties its bucket; a burst may use one second's budget at once.
//!
//! Writes (1 MiB/s and 1,000 records/s per shard, partition keys counted) are admitted record
//! by record before anything is written, so a refused record is never partly stored. Shared
//! reads (GetRecords: 5 calls/s and 2 MiB/s per shard) take a call before reading and are
//! charged the bytes they returned after, so a large answer holds the next calls back.
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
    last_ms: i64,
}

impl Bucket {
    pub(crate) fn full(per_sec: u64, now_ms: i64) -> Self {
        Bucket {
            level: per_sec as f64,
            per_sec: per_sec as f64,
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
        self.level = (self.level + elapsed * self.per_sec / 1000.0).min(self.per_sec);
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
    pub(crate) fn admit_write(&self, shard: u64, bytes: usize, now_ms: i64) -> bool {
        let mut shards = self.shards.lock();
        let b = shards
            .entry(shard)
            .or_insert_with(|| ShardBudget::new(now_ms));
        b.write_records.refill(now_ms);
        b.write_bytes.refill(now_ms);
        let bytes = bytes as f64;
        if b.write_records.level < 1.0 || b.write_bytes.level < bytes {
            return false;
        }
        b.write_records.level -= 1.0;
        b.write_bytes.level -= bytes;
        true
    }

    /// Takes one shared-read call of `shard`; refused while the calls or the bytes of the last
    /// second are spent.
    pub(crate) fn admit_read(&self, shard: u64, now_ms: i64) -> bool {
        let mut shards = self.shards.lock();
        let b = shards
            .entry(shard)
            .or_insert_with(|| ShardBudget::new(now_ms));
        b.read_calls.refill(now_ms);
        b.read_bytes.refill(now_ms);
        if b.read_calls.level < 1.0 || b.read_bytes.level <= 0.0 {
            return false;
        }
        b.read_calls.level -= 1.0;
        true
    }

    /// Charges the bytes a shared read returned (may go below zero: the next reads wait).
    pub(crate) fn charge_read(&self, shard: u64, bytes: usize, now_ms: i64) {
        let mut shards = self.shards.lock();
        if let Some(b) = shards.get_mut(&shard) {
            b.read_bytes.refill(now_ms);
            b.read_bytes.level -= bytes as f64;
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
            DescribeStream => (10, false),
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
        // A 10 MiB answer holds reads back for about 4 s at 2 MiB/s.
        let t = Throttle::default();
        assert!(t.admit_read(0, 0));
        t.charge_read(0, 10 * 1024 * 1024, 0);
        assert!(!t.admit_read(0, 3_000));
        assert!(t.admit_read(0, 4_100));
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
