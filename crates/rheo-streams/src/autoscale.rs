//! On-demand scaling: an ON_DEMAND stream splits its hot shards and merges cold neighbours by
//! itself, as AWS's on-demand mode does (design and AWS's documented behaviour in
//! `docs/design/on-demand-scaling.md`).
//!
//! Two halves:
//!
//! - **Meters** on the put path: each open shard of an on-demand stream has three atomic
//!   counters (records and bytes accepted, records throttled), added to once per shard and
//!   request, under the stream's read lock the put already holds. No lock per record.
//! - **The scaler**, [`Streams::scale_on_demand`], run periodically by the server (every
//!   `--on-demand-scale-interval-ms`): it reads and resets every meter, turns the counts into
//!   rates over the time since its last look, and decides per stream:
//!   1. the stream's *load* is the sum over its open shards of each shard's use of its write
//!      limit (the larger of records/1,000 per second and bytes/1 MiB per second), in shards;
//!   2. its *peak* is the highest load seen within the last `scale_down_ms` (older peaks
//!      expire, as AWS's 30-day peak does, on a configurable clock);
//!   3. its *capacity bound* is `max(4, ceil(2 * peak))` shards (AWS: "up to double the
//!      previous peak"; 4 shards is the 4 MiB/s an on-demand stream starts at), within the
//!      account's open-shard limit and the on-demand per-stream ceiling;
//!   4. a shard is *hot* when it used at least `hot_percent` % of a limit or was throttled;
//!      the hottest are split at their hash midpoint while the stream stays within its bound;
//!   5. with nothing to split, two adjacent open shards both *cold* (under half the hot
//!      threshold, never throttled) for `scale_down_ms` are merged, while the stream keeps at
//!      least its bound's floor (`max(4, ceil(2 * peak))`).
//!
//! A change is applied at once (the stream stays ACTIVE, as an on-demand stream does while AWS
//! scales it) with the same machinery and the same durable metadata as SplitShard and
//! MergeShards: logs reserved durably first, then parents closed and children opened with
//! their lineage under the stream's write lock, then the document written. A crash before the
//! write leaves only reserved, unused log ids.
//!
//! Meters and peaks live in memory: after a restart a stream's peak is measured again from
//! zero, which can delay a merge but never causes one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::hash::HashRange;
use crate::limits::{
    ON_DEMAND_SHARD_COUNT, SHARD_WRITE_BYTES_PER_SEC, SHARD_WRITE_RECORDS_PER_SEC,
    WARM_THROUGHPUT_MIBPS_MAX,
};
use crate::meta::{NewShard, Reshard, StreamMode, StreamStatus};
use crate::service::{Handle, StreamState, Streams};

/// Settings of the scaler, from the server's configuration.
#[derive(Clone, Debug)]
pub struct ScaleConfig {
    /// A shard that used at least this share (percent) of its records or bytes limit over a
    /// window, or was throttled in it, is hot and may be split.
    pub hot_percent: u32,
    /// How long two adjacent shards must stay cold before they are merged, and how long a peak
    /// counts towards the stream's capacity bound.
    pub scale_down_ms: i64,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        ScaleConfig {
            hot_percent: 50,
            scale_down_ms: 24 * 3_600_000,
        }
    }
}

/// Most shards the scaler gives one on-demand stream: its largest write throughput (AWS: an
/// on-demand stream scales to at most 10 GiB/s) at 1 MiB/s a shard.
pub const ON_DEMAND_STREAM_SHARDS_MAX: u64 =
    WARM_THROUGHPUT_MIBPS_MAX as u64 * 1024 * 1024 / SHARD_WRITE_BYTES_PER_SEC;

#[derive(Debug, Default)]
pub(crate) struct ShardMeter {
    records: AtomicU64,
    bytes: AtomicU64,
    throttled: AtomicU64,
}

/// What the scaler remembers of a stream between looks (touched only by the scaler).
#[derive(Debug, Default)]
struct ScaleState {
    /// Start of the window the meters are counting now; `None` until the first look.
    window_start_ms: Option<i64>,
    /// Highest load (in shards) seen, and when.
    peak: f64,
    peak_ms: i64,
    /// Since when each open shard has been cold without a break.
    cold_since: HashMap<u64, i64>,
}

/// The meters of one stream's open shards, and the scaler's memory of it.
#[derive(Debug, Default)]
pub(crate) struct Meters {
    shards: HashMap<u64, ShardMeter>,
    scale: parking_lot::Mutex<ScaleState>,
}

impl Meters {
    /// Keeps the meters of shards still open and adds the new ones (called whenever the open
    /// shards change, under the stream's write lock).
    pub(crate) fn track(&mut self, open: impl Iterator<Item = u64>) {
        let mut shards = std::mem::take(&mut self.shards);
        self.shards = open
            .map(|i| (i, shards.remove(&i).unwrap_or_default()))
            .collect();
    }
}

/// Counts one put's accepted records and bytes per shard (`slots`: shard, log, records, bytes
/// with `header` bytes of framing per record) and its throttled records (`refused[i]`: the
/// shard that refused record i). Only on-demand streams are metered.
pub(crate) fn record_put<L>(
    state: &StreamState,
    slots: &[(u64, L, usize, usize)],
    refused: &[Option<u64>],
    header: usize,
) {
    if state.meta.mode != StreamMode::OnDemand {
        return;
    }
    for (shard, _, records, bytes) in slots {
        if *records == 0 {
            continue;
        }
        if let Some(m) = state.meters.shards.get(shard) {
            m.records.fetch_add(*records as u64, Ordering::Relaxed);
            let data = bytes.saturating_sub(records.saturating_mul(header));
            m.bytes.fetch_add(data as u64, Ordering::Relaxed);
        }
    }
    for shard in refused.iter().flatten() {
        if let Some(m) = state.meters.shards.get(shard) {
            m.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One open shard's use of its write limits over the last window.
#[derive(Clone, Copy, Debug)]
struct Load {
    index: u64,
    range: HashRange,
    /// The larger of records/s over 1,000 and bytes/s over 1 MiB.
    share: f64,
    throttled: bool,
}

/// A shard a change opens: its range, parent and adjacent parent (merges).
type Child = (HashRange, u64, Option<u64>);

/// What the scaler decided for one stream.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Split(Vec<(u64, HashRange)>),
    Merge(Vec<((u64, HashRange), (u64, HashRange))>),
}

/// The capacity bound for a peak load (in shards): twice the peak, and never less than an
/// on-demand stream starts with.
fn bound_for(peak: f64) -> u64 {
    let twice = (2.0 * peak).ceil();
    let twice = if twice.is_finite() && twice > 0.0 {
        twice as u64
    } else {
        0
    };
    twice.max(u64::from(ON_DEMAND_SHARD_COUNT))
}

/// Where a shard of `range` is split: its hash midpoint (the lower child ends just below it).
/// `None` for a range too narrow for SplitShard's rule (key > start + 1 and key < end).
fn midpoint(range: HashRange) -> Option<u128> {
    let width = range.end.checked_sub(range.start)?;
    (width >= 3).then(|| range.start + width / 2 + 1)
}

impl Streams {
    /// One look of the scaler at every on-demand stream: measures, then splits hot shards or
    /// merges cold pairs (see the module documentation). The server calls it every
    /// `--on-demand-scale-interval-ms`; tests call it after moving their clock.
    pub async fn scale_on_demand(&self) {
        // Serialised with every administrative operation, as a user's reshard is.
        let _admin = self.inner.admin.lock().await;
        for handle in self.handles() {
            // A stream whose CREATING or UPDATING time is up is ACTIVE, and measured, now.
            if let Err(e) = self.settle(&handle).await {
                tracing::warn!(error = %e, "could not complete a stream transition");
                continue;
            }
            if let Err(e) = self.scale_stream(&handle).await {
                tracing::warn!(error = %e, "on-demand scaling failed");
            }
        }
    }

    async fn scale_stream(&self, handle: &Handle) -> crate::error::Result<()> {
        let now = self.now_ms();
        let config = &self.inner.config.on_demand;
        let (change, account, region) = {
            let state = handle.read().await;
            if state.gone || state.meta.mode != StreamMode::OnDemand {
                // Should it become on-demand, its first window starts at the next look.
                state.meters.scale.lock().window_start_ms = None;
                return Ok(());
            }
            // A stream in a transition (CREATING, UPDATING, DELETING) keeps counting; the
            // window simply grows until it is ACTIVE again.
            if state.meta.status != StreamStatus::Active || state.meta.pending.is_some() {
                return Ok(());
            }
            let change = self.decide(&state, now, config);
            let account = state
                .meta
                .account
                .clone()
                .unwrap_or_else(|| self.inner.default_account.to_string());
            (change, account, state.meta.region.clone())
        };
        let Some(change) = change else {
            return Ok(());
        };
        let mut change = change;
        if let Change::Split(splits) = &mut change {
            // The account's open-shard limit caps every stream's growth together.
            let open_total = self.open_shard_total(&account, &region).await;
            let room = u64::from(self.inner.config.shard_limit).saturating_sub(open_total);
            splits.truncate(room.min(splits.len() as u64) as usize);
            if splits.is_empty() {
                return Ok(());
            }
        }
        let (close, open_ranges): (Vec<u64>, Vec<Child>) = match &change {
            Change::Split(splits) => {
                let mut close = Vec::new();
                let mut open = Vec::new();
                for (index, range) in splits {
                    let Some(mid) = midpoint(*range) else {
                        continue;
                    };
                    close.push(*index);
                    open.push((
                        HashRange {
                            start: range.start,
                            end: mid - 1,
                        },
                        *index,
                        None,
                    ));
                    open.push((
                        HashRange {
                            start: mid,
                            end: range.end,
                        },
                        *index,
                        None,
                    ));
                }
                (close, open)
            }
            Change::Merge(pairs) => {
                let close = pairs.iter().flat_map(|(a, b)| [a.0, b.0]).collect();
                let open = pairs
                    .iter()
                    .map(|(a, b)| {
                        (
                            HashRange {
                                start: a.1.start,
                                end: b.1.end,
                            },
                            a.0,
                            Some(b.0),
                        )
                    })
                    .collect();
                (close, open)
            }
        };
        if close.is_empty() {
            return Ok(());
        }
        // Reserved durably before any metadata names them, as for a user's reshard.
        let logs = self.allocate_logs(open_ranges.len() as u64).await?;
        let mut state = handle.write().await;
        // Nothing else reshards while the admin lock is held, but the stream may have been
        // deleted or switched mode by a request that was already past its own checks.
        if state.gone
            || state.meta.mode != StreamMode::OnDemand
            || state.meta.status != StreamStatus::Active
            || state.meta.pending.is_some()
            || close
                .iter()
                .any(|i| state.meta.shard(*i).is_none_or(|s| !s.is_open()))
        {
            return Ok(());
        }
        let plan = Reshard {
            close: close.clone(),
            open: open_ranges
                .iter()
                .zip(logs)
                .map(|((range, parent, adjacent), log)| NewShard {
                    log,
                    range: *range,
                    parent: Some(*parent),
                    adjacent_parent: *adjacent,
                    index: None,
                    closed: false,
                })
                .collect(),
        };
        let before = state.meta.open_shard_count();
        self.apply_reshard(&mut state, &plan, now);
        self.persist(&state.meta)?;
        tracing::info!(
            stream = %state.meta.name,
            region = %state.meta.region,
            split = matches!(change, Change::Split(_)),
            closed = ?close,
            open_before = before,
            open_after = state.meta.open_shard_count(),
            "on-demand stream rescaled"
        );
        Ok(())
    }

    /// Reads and resets the stream's meters and decides its change, if any. Called with the
    /// stream's read lock.
    fn decide(&self, state: &StreamState, now: i64, config: &ScaleConfig) -> Option<Change> {
        let mut scale = state.meters.scale.lock();
        // A stream is judged on whole windows only: the first look (after creation, a restart
        // or a switch to on-demand) starts one, so a part-measured window never splits or
        // merges anything.
        let Some(start) = scale.window_start_ms else {
            scale.window_start_ms = Some(now);
            for m in state.meters.shards.values() {
                m.records.store(0, Ordering::Relaxed);
                m.bytes.store(0, Ordering::Relaxed);
                m.throttled.store(0, Ordering::Relaxed);
            }
            return None;
        };
        let elapsed_ms = now - start;
        if elapsed_ms <= 0 {
            return None;
        }
        scale.window_start_ms = Some(now);
        let secs = elapsed_ms as f64 / 1000.0;
        let mut loads: Vec<Load> = state
            .meta
            .open_shards()
            .map(|s| {
                let (records, bytes, throttled) =
                    state.meters.shards.get(&s.index).map_or((0, 0, 0), |m| {
                        (
                            m.records.swap(0, Ordering::Relaxed),
                            m.bytes.swap(0, Ordering::Relaxed),
                            m.throttled.swap(0, Ordering::Relaxed),
                        )
                    });
                let record_share = records as f64 / secs / SHARD_WRITE_RECORDS_PER_SEC as f64;
                let byte_share = bytes as f64 / secs / SHARD_WRITE_BYTES_PER_SEC as f64;
                Load {
                    index: s.index,
                    range: s.range,
                    share: record_share.max(byte_share),
                    throttled: throttled > 0,
                }
            })
            .collect();
        let load: f64 = loads.iter().map(|l| l.share).sum();
        if load >= scale.peak || now - scale.peak_ms >= config.scale_down_ms {
            scale.peak = load;
            scale.peak_ms = now;
        }
        let bound = bound_for(scale.peak)
            .min(ON_DEMAND_STREAM_SHARDS_MAX)
            .min(u64::from(self.inner.config.shard_limit));
        let hot = f64::from(config.hot_percent) / 100.0;

        // Cold spells, for merging later.
        let open: std::collections::HashSet<u64> = loads.iter().map(|l| l.index).collect();
        scale.cold_since.retain(|i, _| open.contains(i));
        for l in &loads {
            if l.throttled || l.share >= hot / 2.0 {
                scale.cold_since.remove(&l.index);
            } else {
                scale.cold_since.entry(l.index).or_insert(start);
            }
        }

        let open_count = loads.len() as u64;
        let room = bound.saturating_sub(open_count);
        if room > 0 {
            let mut hot_shards: Vec<Load> = loads
                .iter()
                .filter(|l| (l.throttled || l.share >= hot) && midpoint(l.range).is_some())
                .copied()
                .collect();
            // Hottest first (a throttled shard counts as fully used), then by index.
            hot_shards.sort_by(|a, b| {
                let key = |l: &Load| {
                    if l.throttled {
                        l.share.max(1.0)
                    } else {
                        l.share
                    }
                };
                key(b).total_cmp(&key(a)).then(a.index.cmp(&b.index))
            });
            hot_shards.truncate(room.min(hot_shards.len() as u64) as usize);
            if !hot_shards.is_empty() {
                hot_shards.sort_by_key(|l| l.index);
                return Some(Change::Split(
                    hot_shards.iter().map(|l| (l.index, l.range)).collect(),
                ));
            }
        }

        // Scale down: adjacent pairs cold for the whole delay, never below the bound.
        let mut removable = open_count.saturating_sub(bound);
        if removable == 0 {
            return None;
        }
        loads.sort_by_key(|l| l.range.start);
        let long_cold = |i: u64| {
            scale
                .cold_since
                .get(&i)
                .is_some_and(|t| now - t >= config.scale_down_ms)
        };
        let mut pairs = Vec::new();
        let mut k = 0;
        while k + 1 < loads.len() && removable > 0 {
            let (Some(a), Some(b)) = (loads.get(k), loads.get(k + 1)) else {
                break;
            };
            if a.range.end.checked_add(1) == Some(b.range.start)
                && long_cold(a.index)
                && long_cold(b.index)
            {
                pairs.push(((a.index, a.range), (b.index, b.range)));
                removable -= 1;
                k += 2;
            } else {
                k += 1;
            }
        }
        (!pairs.is_empty()).then_some(Change::Merge(pairs))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::clock::ManualClock;
    use crate::hash::split_evenly;
    use crate::types::*;
    use crate::Config;

    const T0: i64 = 1_700_000_000_000;
    const SCALE_DOWN_MS: i64 = 10_000;

    fn setup(throughput_limits: bool) -> (Streams, ManualClock, Ctx) {
        let clock = ManualClock::new(T0);
        let config = Config {
            create_stream_ms: 100,
            update_stream_ms: 100,
            throughput_limits,
            on_demand: ScaleConfig {
                hot_percent: 50,
                scale_down_ms: SCALE_DOWN_MS,
            },
            ..Config::default()
        };
        let s = Streams::open_in_memory(config, Arc::new(clock.clone())).unwrap();
        (s, clock, Ctx::in_region("us-east-1"))
    }

    async fn create(s: &Streams, clock: &ManualClock, ctx: &Ctx, name: &str, mode: StreamMode) {
        let req = match mode {
            StreamMode::OnDemand => CreateStream {
                name: name.into(),
                mode: Some(StreamMode::OnDemand),
                ..Default::default()
            },
            StreamMode::Provisioned => CreateStream::provisioned(name, 4),
        };
        s.create_stream(ctx, req).await.unwrap();
        clock.advance_ms(101);
        // The scaler's first look starts the stream's first window.
        s.scale_on_demand().await;
    }

    /// Puts `count` small records to the shard of a 4-shard stream owning the start of the
    /// `quarter`-th even range.
    async fn put_to(s: &Streams, ctx: &Ctx, name: &str, quarter: usize, count: usize) {
        let key = split_evenly(HashRange::FULL, 4)[quarter].start.to_string();
        let mut left = count;
        while left > 0 {
            let n = left.min(500);
            let entries = (0..n)
                .map(|i| PutEntry {
                    data: Bytes::from_static(b"0123456789"),
                    partition_key: format!("k{i}"),
                    explicit_hash_key: Some(key.clone()),
                })
                .collect();
            s.put_records(ctx, &StreamTarget::name(name), entries)
                .await
                .unwrap();
            left -= n;
        }
    }

    async fn shards(s: &Streams, ctx: &Ctx, name: &str) -> Vec<ShardInfo> {
        s.list_shards(
            ctx,
            ListShards {
                target: StreamTarget::name(name),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .shards
    }

    fn open(shards: &[ShardInfo]) -> Vec<&ShardInfo> {
        shards
            .iter()
            .filter(|s| s.ending_sequence_number.is_none())
            .collect()
    }

    #[tokio::test]
    async fn the_hottest_shard_splits_at_its_midpoint_within_twice_the_peak() {
        let (s, clock, ctx) = setup(false);
        create(&s, &clock, &ctx, "od", StreamMode::OnDemand).await;
        // One second at 950 + 700 + 700 records/s: a load of 2.35 shards, so
        // the bound is ceil(4.7) = 5 shards: one split, of the hottest shard, although three
        // are hot.
        put_to(&s, &ctx, "od", 0, 950).await;
        put_to(&s, &ctx, "od", 1, 700).await;
        put_to(&s, &ctx, "od", 2, 700).await;
        clock.set_ms(T0 + 1101);
        s.scale_on_demand().await;
        let all = shards(&s, &ctx, "od").await;
        assert_eq!(all.len(), 6);
        let parent = &all[0];
        assert!(parent.ending_sequence_number.is_some(), "shard 0 is closed");
        let children: Vec<&ShardInfo> = all
            .iter()
            .filter(|c| c.parent_shard_id.as_deref() == Some(parent.shard_id.as_str()))
            .collect();
        assert_eq!(
            children
                .iter()
                .map(|c| c.shard_id.as_str())
                .collect::<Vec<_>>(),
            ["shardId-000000000004", "shardId-000000000005"]
        );
        let mid = parent.range.start + (parent.range.end - parent.range.start) / 2 + 1;
        assert_eq!(children[0].range.start, parent.range.start);
        assert_eq!(children[0].range.end, mid - 1);
        assert_eq!(children[1].range.start, mid);
        assert_eq!(children[1].range.end, parent.range.end);
        assert!(children
            .iter()
            .all(|c| c.adjacent_parent_shard_id.is_none()));
        assert_eq!(open(&all).len(), 5);
        // The stream stayed ACTIVE, and the counts agree everywhere.
        let summary = s
            .describe_stream_summary(&ctx, &StreamTarget::name("od"))
            .await
            .unwrap();
        assert_eq!(summary.status, StreamStatus::Active);
        assert_eq!(summary.open_shard_count, 5);
        let limits = s.describe_limits(&ctx).await.unwrap();
        assert_eq!(limits.open_shard_count, 5);
        assert_eq!(limits.on_demand_stream_count, 1);
        // The old shard's end is final: a record for its keys lands on a child.
        let put = s
            .put_record(
                &ctx,
                &StreamTarget::name("od"),
                PutEntry {
                    data: Bytes::from_static(b"x"),
                    partition_key: "p".into(),
                    explicit_hash_key: Some("0".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(put.shard_id(), "shardId-000000000004");
    }

    #[tokio::test]
    async fn capacity_never_exceeds_twice_the_peak() {
        let (s, clock, ctx) = setup(false);
        create(&s, &clock, &ctx, "od", StreamMode::OnDemand).await;
        for q in 0..4 {
            put_to(&s, &ctx, "od", q, 1000).await;
        }
        clock.set_ms(T0 + 1101);
        s.scale_on_demand().await;
        // Load 4 shards: bound 8, every shard hot, every shard split.
        let all = shards(&s, &ctx, "od").await;
        assert_eq!((all.len(), open(&all).len()), (12, 8));
        // The same 4,000 records/s over 8 shards: each at 50 %, still hot, but 8 is twice the
        // peak already.
        let keys: Vec<String> = open(&all)
            .iter()
            .map(|s| s.range.start.to_string())
            .collect();
        for key in &keys {
            let entries = (0..500)
                .map(|i| PutEntry {
                    data: Bytes::from_static(b"0123456789"),
                    partition_key: format!("k{i}"),
                    explicit_hash_key: Some(key.clone()),
                })
                .collect();
            s.put_records(&ctx, &StreamTarget::name("od"), entries)
                .await
                .unwrap();
        }
        clock.advance_ms(1000);
        s.scale_on_demand().await;
        assert_eq!(open(&shards(&s, &ctx, "od").await).len(), 8);
        // A new peak of 6 shards' worth (750 records/s on each of 8) lifts the bound to 12.
        for key in &keys {
            for _ in 0..3 {
                let entries = (0..250)
                    .map(|i| PutEntry {
                        data: Bytes::from_static(b"0123456789"),
                        partition_key: format!("k{i}"),
                        explicit_hash_key: Some(key.clone()),
                    })
                    .collect();
                s.put_records(&ctx, &StreamTarget::name("od"), entries)
                    .await
                    .unwrap();
            }
        }
        clock.advance_ms(1000);
        s.scale_on_demand().await;
        assert_eq!(open(&shards(&s, &ctx, "od").await).len(), 12);
    }

    #[tokio::test]
    async fn a_throttled_shard_is_hot_and_split_first() {
        let (s, clock, ctx) = setup(true);
        create(&s, &clock, &ctx, "od", StreamMode::OnDemand).await;
        let target = StreamTarget::name("od");
        let keys: Vec<String> = split_evenly(HashRange::FULL, 4)
            .iter()
            .map(|r| r.start.to_string())
            .collect();
        let batch = |key: &str, n: usize| -> Vec<PutEntry> {
            (0..n)
                .map(|i| PutEntry {
                    data: Bytes::from_static(b"x"),
                    partition_key: format!("k{i}"),
                    explicit_hash_key: Some(key.to_string()),
                })
                .collect()
        };
        // Shard 0: a burst of 1,500 records in one instant; its bucket holds a second's 1,000,
        // the other 500 are refused.
        let mut refused = 0;
        for _ in 0..3 {
            refused += s
                .put_records(&ctx, &target, batch(&keys[0], 500))
                .await
                .unwrap()
                .failed_count;
        }
        assert_eq!(refused, 500);
        // Shards 1 to 3: a steady 900 records/s for 4 seconds, never refused.
        for second in 0..4 {
            for key in &keys[1..] {
                let out = s.put_records(&ctx, &target, batch(key, 450)).await.unwrap();
                assert_eq!(out.failed_count, 0);
                let out = s.put_records(&ctx, &target, batch(key, 450)).await.unwrap();
                assert_eq!(out.failed_count, 0);
            }
            clock.set_ms(T0 + 101 + 1000 * (second + 1));
        }
        // Over the 4 s window shard 0 used 25 % of its limit, but it was throttled: hot, and
        // the hottest. The load is 0.25 + 3 * 0.9 = 2.95 shards, a bound of 6: two splits.
        s.scale_on_demand().await;
        let all = shards(&s, &ctx, "od").await;
        let closed: Vec<&str> = all
            .iter()
            .filter(|s| s.ending_sequence_number.is_some())
            .map(|s| s.shard_id.as_str())
            .collect();
        assert_eq!(closed, ["shardId-000000000000", "shardId-000000000001"]);
        assert_eq!(open(&all).len(), 6);
    }

    #[tokio::test]
    async fn cold_pairs_merge_after_the_scale_down_delay_but_never_below_four() {
        let (s, clock, ctx) = setup(false);
        create(&s, &clock, &ctx, "od", StreamMode::OnDemand).await;
        for q in 0..4 {
            put_to(&s, &ctx, "od", q, 1000).await;
        }
        clock.set_ms(T0 + 1101);
        s.scale_on_demand().await;
        assert_eq!(open(&shards(&s, &ctx, "od").await).len(), 8);
        // Quiet from now on. Before the delay has passed nothing merges.
        clock.advance_ms(SCALE_DOWN_MS / 2);
        s.scale_on_demand().await;
        assert_eq!(open(&shards(&s, &ctx, "od").await).len(), 8);
        clock.advance_ms(SCALE_DOWN_MS / 2 + 1);
        s.scale_on_demand().await;
        let all = shards(&s, &ctx, "od").await;
        let open_now = open(&all);
        assert_eq!(open_now.len(), 4, "merged back to the floor of 4");
        for m in &open_now {
            let (p, a) = (
                m.parent_shard_id.as_deref().unwrap(),
                m.adjacent_parent_shard_id.as_deref().unwrap(),
            );
            let parent = all.iter().find(|s| s.shard_id == p).unwrap();
            let adjacent = all.iter().find(|s| s.shard_id == a).unwrap();
            assert_eq!(parent.range.start, m.range.start);
            assert_eq!(adjacent.range.end, m.range.end);
            assert_eq!(parent.range.end + 1, adjacent.range.start);
            assert!(parent.ending_sequence_number.is_some());
            assert!(adjacent.ending_sequence_number.is_some());
        }
        // And no further: four is where an on-demand stream starts.
        clock.advance_ms(10 * SCALE_DOWN_MS);
        s.scale_on_demand().await;
        s.scale_on_demand().await;
        assert_eq!(open(&shards(&s, &ctx, "od").await).len(), 4);
        assert_eq!(s.describe_limits(&ctx).await.unwrap().open_shard_count, 4);
    }

    #[tokio::test]
    async fn a_shard_with_load_is_not_merged() {
        let (s, clock, ctx) = setup(false);
        create(&s, &clock, &ctx, "od", StreamMode::OnDemand).await;
        for q in 0..4 {
            put_to(&s, &ctx, "od", q, 1000).await;
        }
        clock.set_ms(T0 + 1101);
        s.scale_on_demand().await;
        let all = shards(&s, &ctx, "od").await;
        let keys: Vec<String> = open(&all)
            .iter()
            .map(|s| s.range.start.to_string())
            .collect();
        // Every second, 300 records on every other new shard (30 %: not cold).
        for _ in 0..12 {
            for key in keys.iter().step_by(2) {
                let entries = (0..300)
                    .map(|i| PutEntry {
                        data: Bytes::from_static(b"x"),
                        partition_key: format!("k{i}"),
                        explicit_hash_key: Some(key.clone()),
                    })
                    .collect();
                s.put_records(&ctx, &StreamTarget::name("od"), entries)
                    .await
                    .unwrap();
            }
            clock.advance_ms(1000);
            s.scale_on_demand().await;
        }
        assert_eq!(open(&shards(&s, &ctx, "od").await).len(), 8);
    }

    #[tokio::test]
    async fn provisioned_streams_are_never_rescaled() {
        let (s, clock, ctx) = setup(true);
        create(&s, &clock, &ctx, "prov", StreamMode::Provisioned).await;
        for q in 0..4 {
            put_to(&s, &ctx, "prov", q, 1500).await;
        }
        clock.set_ms(T0 + 1101);
        s.scale_on_demand().await;
        clock.advance_ms(10 * SCALE_DOWN_MS);
        s.scale_on_demand().await;
        let all = shards(&s, &ctx, "prov").await;
        assert_eq!((all.len(), open(&all).len()), (4, 4));
    }

    #[tokio::test]
    async fn a_stream_switched_to_on_demand_scales_from_its_first_whole_window() {
        let (s, clock, ctx) = setup(false);
        create(&s, &clock, &ctx, "sw", StreamMode::Provisioned).await;
        // Load while provisioned is not metered; the first look after the switch starts a window.
        for q in 0..4 {
            put_to(&s, &ctx, "sw", q, 1000).await;
        }
        s.update_stream_mode(&ctx, &StreamTarget::name("sw"), StreamMode::OnDemand)
            .await
            .unwrap();
        clock.advance_ms(101);
        s.scale_on_demand().await;
        let all = shards(&s, &ctx, "sw").await;
        assert_eq!((all.len(), open(&all).len()), (4, 4));
        for q in 0..4 {
            put_to(&s, &ctx, "sw", q, 1000).await;
        }
        clock.advance_ms(1000);
        s.scale_on_demand().await;
        assert_eq!(open(&shards(&s, &ctx, "sw").await).len(), 8);
    }

    #[tokio::test]
    async fn the_account_shard_limit_bounds_scaling() {
        let clock = ManualClock::new(T0);
        let config = Config {
            create_stream_ms: 100,
            shard_limit: 6,
            ..Config::default()
        };
        let s = Streams::open_in_memory(config, Arc::new(clock.clone())).unwrap();
        let ctx = Ctx::in_region("us-east-1");
        create(&s, &clock, &ctx, "od", StreamMode::OnDemand).await;
        for q in 0..4 {
            put_to(&s, &ctx, "od", q, 1000).await;
        }
        clock.set_ms(T0 + 1101);
        s.scale_on_demand().await;
        assert_eq!(open(&shards(&s, &ctx, "od").await).len(), 6);
    }

    #[tokio::test]
    async fn a_rescaled_stream_reopens_as_it_was_left() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(T0);
        let open_store = || {
            rheo_log::Store::open(rheo_log::StoreConfig {
                dir: Some(dir.path().to_path_buf()),
                ..rheo_log::StoreConfig::default()
            })
            .unwrap()
        };
        let ctx = Ctx::in_region("us-east-1");
        let before = {
            let s =
                Streams::open(Config::default(), open_store(), Arc::new(clock.clone())).unwrap();
            s.create_stream(
                &ctx,
                CreateStream {
                    name: "od".into(),
                    mode: Some(StreamMode::OnDemand),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            clock.advance_ms(501);
            s.scale_on_demand().await;
            for q in 0..4 {
                put_to(&s, &ctx, "od", q, 1000).await;
            }
            clock.set_ms(T0 + 1501);
            s.scale_on_demand().await;
            let all = shards(&s, &ctx, "od").await;
            assert_eq!(open(&all).len(), 8);
            s.store().sync().await.unwrap();
            all
        };
        let s = Streams::open(Config::default(), open_store(), Arc::new(clock.clone())).unwrap();
        assert_eq!(shards(&s, &ctx, "od").await, before);
        // Records put before the split are still on the closed parents.
        let it = s
            .get_shard_iterator(
                &ctx,
                GetShardIterator::trim_horizon(StreamTarget::name("od"), "shardId-000000000000"),
            )
            .await
            .unwrap();
        let out = s.get_records(&ctx, &it, Some(10_000), None).await.unwrap();
        assert_eq!(out.records.len(), 1000);
        let children = out.child_shards.unwrap();
        assert_eq!(children.len(), 2);
    }
}
