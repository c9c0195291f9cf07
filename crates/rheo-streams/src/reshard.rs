//! Resharding: SplitShard, MergeShards, UpdateShardCount.
//!
//! A request validates and records the change as a pending plan (status UPDATING); the plan is
//! applied when the update delay has passed, under the stream's exclusive lock, so parents
//! close with no append in flight and children open with their lineage.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{KinesisError, Result};
use crate::hash::{parse_hash_key, split_evenly, HashRange};
use crate::limits::{SCALINGS_PER_WINDOW_MAX, SCALING_WINDOW_MS, TARGET_SHARD_COUNT_MAX};
use crate::messages;
use crate::meta::{
    parse_shard_id, shard_id, NewShard, Pending, Reshard, ShardMeta, StreamMode, StreamStatus,
};
use crate::service::{StreamState, Streams};
use crate::types::*;

impl Streams {
    pub async fn split_shard(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        shard: &str,
        new_starting_hash_key: &str,
    ) -> Result<()> {
        self.control_rate(ctx, crate::throttle::ControlOp::SplitShard, Some(target))?;
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        // Counted before taking this stream's write lock: counting reads every stream.
        let open_total = self.open_shard_total(ctx.account(), &ctx.region).await;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        self.ensure_provisioned(ctx, &state, &name, "SplitShard")?;
        let parent = self.open_shard_for_reshard(ctx, &state, &name, shard)?;
        let key = parse_hash_key(new_starting_hash_key).ok_or_else(|| {
            KinesisError::InvalidArgument(format!(
                "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {shard} \
                 in stream {name} under account {} is not a valid hash key.",
                ctx.account()
            ))
        })?;
        if key <= parent.range.start.saturating_add(1) || key >= parent.range.end {
            return Err(KinesisError::InvalidArgument(format!(
                "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {shard} \
                 in stream {name} under account {} is not both greater than one plus the \
                 shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                ctx.account(),
                parent.range.start,
                parent.range.end
            )));
        }
        self.check_shard_limit(ctx, open_total, 1)?;
        let logs = self.allocate_logs(2).await?;
        let (p, lo, hi) = (parent.index, parent.range.start, parent.range.end);
        let open = vec![
            NewShard {
                log: logs.first().copied().unwrap_or_default(),
                range: HashRange {
                    start: lo,
                    end: key - 1,
                },
                parent: Some(p),
                adjacent_parent: None,
                index: None,
                closed: false,
            },
            NewShard {
                log: logs.get(1).copied().unwrap_or_default(),
                range: HashRange {
                    start: key,
                    end: hi,
                },
                parent: Some(p),
                adjacent_parent: None,
                index: None,
                closed: false,
            },
        ];
        self.schedule(
            &mut state,
            Reshard {
                close: vec![p],
                open,
            },
        )
    }

    pub async fn merge_shards(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        shard: &str,
        adjacent: &str,
    ) -> Result<()> {
        self.control_rate(ctx, crate::throttle::ControlOp::MergeShards, Some(target))?;
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        self.ensure_provisioned(ctx, &state, &name, "MergeShards")?;
        let a = self
            .open_shard_for_reshard(ctx, &state, &name, shard)?
            .clone();
        let b = self
            .open_shard_for_reshard(ctx, &state, &name, adjacent)?
            .clone();
        // AWS requires ShardToMerge to hold the lower range, directly below the adjacent one.
        let range = if a.range.end.checked_add(1) == Some(b.range.start) {
            HashRange {
                start: a.range.start,
                end: b.range.end,
            }
        } else {
            return Err(KinesisError::InvalidArgument(format!(
                "Shards {shard} and {adjacent} in stream {name} under account {} are not an \
                 adjacent pair of shards eligible for merging",
                ctx.account()
            )));
        };
        let logs = self.allocate_logs(1).await?;
        let open = vec![NewShard {
            log: logs.first().copied().unwrap_or_default(),
            range,
            parent: Some(a.index),
            adjacent_parent: Some(b.index),
            index: None,
            closed: false,
        }];
        self.schedule(
            &mut state,
            Reshard {
                close: vec![a.index, b.index],
                open,
            },
        )
    }

    pub async fn update_shard_count(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        target_count: u32,
    ) -> Result<ShardCountChange> {
        self.control_rate(
            ctx,
            crate::throttle::ControlOp::UpdateShardCount,
            Some(target),
        )?;
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        // Counted before taking this stream's write lock: counting reads every stream.
        let open_total = self.open_shard_total(ctx.account(), &ctx.region).await;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        self.ensure_provisioned(ctx, &state, &name, "UpdateShardCount")?;
        let current = state.meta.open_shard_count() as u32;
        let limit = self.inner.config.shard_limit;
        if target_count > TARGET_SHARD_COUNT_MAX
            || target_count > limit
            || open_total - u64::from(current) + u64::from(target_count) > u64::from(limit)
        {
            return Err(KinesisError::LimitExceeded(format!(
                "Target shard count or number of open shards cannot be greater than {limit}. \
                 Current open shard count: {current}, Target shard count: {target_count}"
            )));
        }
        if target_count > current.saturating_mul(2) {
            return Err(KinesisError::LimitExceeded(format!(
                "UpdateShardCount cannot scale up over double your current open shard count. \
                 Current open shard count: {current}, Target shard count: {target_count}"
            )));
        }
        if target_count.saturating_mul(2) < current {
            return Err(KinesisError::LimitExceeded(format!(
                "UpdateShardCount cannot scale down below half your current open shard count. \
                 Current open shard count: {current}, Target shard count: {target_count}"
            )));
        }
        let arn = self.stream_arn(&ctx.region, ctx.account(), &name);
        if target_count == current {
            return Ok(ShardCountChange {
                name,
                arn,
                current,
                target: target_count,
            });
        }
        // Ten scalings a stream in a rolling 24 hours; a request that changes nothing is none.
        // Counted with the limits off too, so that switching them on finds the day's history.
        let now = self.now_ms();
        state
            .meta
            .scalings_ms
            .retain(|&t| now - t < SCALING_WINDOW_MS);
        if self.inner.config.throughput_limits
            && state.meta.scalings_ms.len() >= SCALINGS_PER_WINDOW_MAX
        {
            return Err(messages::scaling_limit(&name, ctx.account()));
        }
        let old: Vec<(u64, HashRange)> = state
            .meta
            .open_shards()
            .map(|s| (s.index, s.range))
            .collect();
        let first = state.meta.next_shard_index();
        let plan = uniform_plan(&old, target_count, first);
        let logs = self.allocate_logs(plan.shards.len() as u64).await?;
        // Only the newest ten matter: with the limits off the list stays bounded.
        let keep_from = state
            .meta
            .scalings_ms
            .len()
            .saturating_sub(SCALINGS_PER_WINDOW_MAX - 1);
        state.meta.scalings_ms.drain(..keep_from);
        state.meta.scalings_ms.push(now);
        let open = plan
            .shards
            .into_iter()
            .zip(logs)
            .map(|(p, log)| NewShard {
                log,
                range: p.range,
                parent: Some(p.parent),
                adjacent_parent: p.adjacent_parent,
                index: Some(p.index),
                closed: p.closed,
            })
            .collect();
        self.schedule(
            &mut state,
            Reshard {
                close: plan.close,
                open,
            },
        )?;
        Ok(ShardCountChange {
            name,
            arn,
            current,
            target: target_count,
        })
    }

    fn schedule(&self, state: &mut StreamState, plan: Reshard) -> Result<()> {
        state.meta.status = StreamStatus::Updating;
        state.meta.pending = Some(Pending::Reshard(plan));
        state.meta.due_ms = self.now_ms() + self.inner.config.update_stream_ms;
        self.persist(&state.meta)
    }

    /// Closes the plan's parents and opens its children (an UpdateShardCount plan also creates
    /// its intermediate shards, closed at once). Called with the stream's write lock.
    pub(crate) fn apply_reshard(&self, state: &mut StreamState, plan: &Reshard, now: i64) {
        let first = state.meta.next_shard_index();
        let mut created = Vec::with_capacity(plan.open.len());
        for (i, n) in plan.open.iter().enumerate() {
            created.push(ShardMeta {
                index: n.index.unwrap_or(first + i as u64),
                log: n.log,
                range: n.range,
                parent: n.parent,
                adjacent_parent: n.adjacent_parent,
                created_ms: now,
                closed_ms: n.closed.then_some(now),
                children: Vec::new(),
            });
        }
        // Children of every shard this change closes, old or intermediate, in index order.
        let mut children: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for c in &created {
            for p in [c.parent, c.adjacent_parent].into_iter().flatten() {
                children.entry(p).or_default().push(c.index);
            }
        }
        let close: BTreeSet<u64> = plan.close.iter().copied().collect();
        for shard in state.meta.shards.iter_mut() {
            if close.contains(&shard.index) {
                shard.closed_ms = Some(now);
                shard.children = children.get(&shard.index).cloned().unwrap_or_default();
            }
        }
        for c in created.iter_mut().filter(|c| !c.is_open()) {
            c.children = children.get(&c.index).cloned().unwrap_or_default();
        }
        created.sort_by_key(|c| c.index);
        state.meta.shards.extend(created);
        state.rebuild_routes();
    }

    pub(crate) fn ensure_active(&self, ctx: &Ctx, state: &StreamState, name: &str) -> Result<()> {
        if state.meta.status != StreamStatus::Active {
            return Err(messages::stream_not_active(
                name,
                ctx.account(),
                state.meta.status.as_str(),
            ));
        }
        Ok(())
    }

    /// SplitShard, MergeShards and UpdateShardCount are for provisioned streams only (API
    /// reference of each: "This API is only supported for the data streams with the provisioned
    /// capacity mode"); an on-demand stream reshards itself.
    fn ensure_provisioned(
        &self,
        ctx: &Ctx,
        state: &StreamState,
        name: &str,
        operation: &str,
    ) -> Result<()> {
        if state.meta.mode == StreamMode::OnDemand {
            return Err(messages::provisioned_only(operation, name, ctx.account()));
        }
        Ok(())
    }

    fn open_shard_for_reshard<'a>(
        &self,
        ctx: &Ctx,
        state: &'a StreamState,
        name: &str,
        shard: &str,
    ) -> Result<&'a ShardMeta> {
        let index = parse_shard_id(shard)
            .filter(|i| *i <= i32::MAX as u64)
            .ok_or_else(|| messages::could_not_find_shard(shard, name, ctx.account()))?;
        let s = state
            .meta
            .shard(index)
            .ok_or_else(|| messages::could_not_find_shard(&shard_id(index), name, ctx.account()))?;
        if !s.is_open() {
            return Err(KinesisError::InvalidArgument(format!(
                "Shard {} in stream {name} under account {} has already been merged or split, \
                 and thus is not eligible for merging or splitting.",
                shard_id(s.index),
                ctx.account()
            )));
        }
        Ok(s)
    }

    fn check_shard_limit(&self, ctx: &Ctx, open: u64, additional: u64) -> Result<()> {
        let limit = self.inner.config.shard_limit;
        if open + additional > u64::from(limit) {
            return Err(messages::shard_limit(
                ctx.account(),
                &ctx.region,
                open,
                limit,
                additional,
            ));
        }
        Ok(())
    }
}

/// A shard an UpdateShardCount plan creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlannedShard {
    pub index: u64,
    pub range: HashRange,
    /// The split shard, or for a merge the lower of the two merged shards.
    pub parent: u64,
    /// For a merge, the upper of the two merged shards.
    pub adjacent_parent: Option<u64>,
    /// Intermediate: split or merged again within the same UpdateShardCount.
    pub closed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UniformPlan {
    /// Open shards the change closes; the others stay open as they are.
    pub close: Vec<u64>,
    /// New shards in index order (from `first`), intermediate ones included.
    pub shards: Vec<PlannedShard>,
}

/// UNIFORM_SCALING the way AWS performs it: SplitShard and MergeShards on individual shards,
/// with short-lived intermediate shards, rather than replacing every shard at once.
///
/// Inferred from AWS's totals (4 -> 5: 15 shards in all, 10 -> 13: 37, 5 -> 3: 7, doublings
/// and halvings n + t) and a posted 4 -> 3 lineage (split 1 into 4 and 5, merge 0 and 4 into
/// 6, split 2 into 7 and 8, merge 5 and 7 into 9, merge 8 and 3 into 10); see
/// docs/design/resharding.md. AWS does it in one round of splits and one of merges:
///
/// 1. The targets are the boundaries of `t` even ranges (as CreateStream makes them).
/// 2. Each open shard is split at most once: where a shard holds two target boundaries, the one
///    nearer the shard's edge moves onto that edge (10 -> 13: 4/13 moves to 3/10, 9/13 to 7/10).
/// 3. Each new shard comes from at most one merge of two pieces: a target range that would
///    take a whole shard plus pieces on both sides is narrowed to the whole shard(s), which
///    stay as they are (5 -> 3: [1/3, 2/3) becomes the untouched [2/5, 3/5)).
/// 4. Sweeping the targets from the lowest hash key: the shard straddling a target's end is
///    split there (lower child, then upper), then the target's two pieces are merged (parent:
///    the lower piece, adjacent parent: the upper). Indexes are given in that order.
pub(crate) fn uniform_plan(old: &[(u64, HashRange)], target: u32, first: u64) -> UniformPlan {
    let mut old: Vec<(u64, HashRange)> = old.to_vec();
    old.sort_by_key(|(_, r)| r.start);
    let edges: Vec<u128> = old.iter().skip(1).map(|(_, r)| r.start).collect();
    // Even splits of different counts can disagree by a few keys on a shared boundary
    // (2^128 / n is rounded); within that they are the same boundary.
    let tolerance = 2 * (u128::from(target) + old.len() as u128);
    let mut bounds: Vec<u128> = split_evenly(HashRange::FULL, target)
        .iter()
        .skip(1)
        .map(|r| {
            let i = edges.partition_point(|&e| e < r.start);
            [i.checked_sub(1), Some(i)]
                .into_iter()
                .flatten()
                .filter_map(|i| edges.get(i).copied())
                .find(|e| e.abs_diff(r.start) <= tolerance)
                .unwrap_or(r.start)
        })
        .collect();

    bounds.sort_unstable();

    // Rule 2: one split per shard. `bounds` is sorted and stays so: a boundary only moves onto
    // the edge of the shard it is in.
    for (_, r) in &old {
        let mut lo = bounds.partition_point(|&b| b <= r.start);
        let mut hi = bounds.partition_point(|&b| b <= r.end);
        while hi > lo + 1 {
            let (Some(&b_lo), Some(&b_hi)) = (bounds.get(lo), bounds.get(hi - 1)) else {
                break;
            };
            let below = b_lo - r.start;
            let above = r.end - b_hi + 1;
            // Only a boundary between shards can take it: not 0, not 2^128.
            let can_lower = r.start > 0;
            let can_upper = r.end < u128::MAX;
            if can_lower && (below <= above || !can_upper) {
                if let Some(b) = bounds.get_mut(lo) {
                    *b = r.start;
                }
                lo += 1;
            } else if can_upper {
                if let Some(b) = bounds.get_mut(hi - 1) {
                    *b = r.end + 1;
                }
                hi -= 1;
            } else {
                break;
            }
        }
    }
    bounds.dedup();

    // Rule 3: at most two pieces per target range. Moving a range's ends onto shard edges
    // inside it keeps `bounds` sorted.
    for j in 0..=bounds.len() {
        let f = j.checked_sub(1).and_then(|i| bounds.get(i).copied());
        let g = bounds.get(j).copied();
        let first_inner = edges.partition_point(|&e| e <= f.unwrap_or(0));
        let past_inner = g.map_or(edges.len(), |g| edges.partition_point(|&e| e < g));
        if past_inner < first_inner + 2 {
            continue;
        }
        if let (Some(i), Some(&e)) = (j.checked_sub(1), edges.get(first_inner)) {
            if let Some(b) = bounds.get_mut(i) {
                *b = e;
            }
        }
        if let (Some(_), Some(&e)) = (g, edges.get(past_inner - 1)) {
            if let Some(b) = bounds.get_mut(j) {
                *b = e;
            }
        }
    }
    bounds.dedup();

    // Rule 4: the sweep.
    let mut next = first;
    let mut close = Vec::new();
    let mut shards: Vec<PlannedShard> = Vec::new();
    let mut consumed: BTreeSet<u64> = BTreeSet::new();
    let mut leftover: Option<(u64, HashRange)> = None;
    let mut cursor = old.iter().peekable();
    let ends = bounds
        .iter()
        .map(|b| b - 1)
        .chain(std::iter::once(u128::MAX));
    for end in ends {
        let mut pieces: Vec<(u64, HashRange)> = leftover.take().into_iter().collect();
        while let Some(&&(index, range)) = cursor.peek() {
            if range.end <= end {
                pieces.push((index, range));
                cursor.next();
            } else {
                if range.start <= end {
                    // Straddles this target's end: split it there.
                    close.push(index);
                    let lower = PlannedShard {
                        index: next,
                        range: HashRange {
                            start: range.start,
                            end,
                        },
                        parent: index,
                        adjacent_parent: None,
                        closed: false,
                    };
                    let upper = PlannedShard {
                        index: next + 1,
                        range: HashRange {
                            start: end + 1,
                            end: range.end,
                        },
                        parent: index,
                        adjacent_parent: None,
                        closed: false,
                    };
                    next += 2;
                    pieces.push((lower.index, lower.range));
                    leftover = Some((upper.index, upper.range));
                    shards.push(lower);
                    shards.push(upper);
                    cursor.next();
                }
                break;
            }
        }
        // Two pieces make one merge; more (never after rule 3) merge from the lowest up.
        let mut iter = pieces.into_iter();
        let Some(mut acc) = iter.next() else {
            continue;
        };
        for piece in iter {
            consumed.insert(acc.0);
            consumed.insert(piece.0);
            let merged = PlannedShard {
                index: next,
                range: HashRange {
                    start: acc.1.start,
                    end: piece.1.end,
                },
                parent: acc.0,
                adjacent_parent: Some(piece.0),
                closed: false,
            };
            next += 1;
            acc = (merged.index, merged.range);
            shards.push(merged);
        }
    }
    for s in shards.iter_mut() {
        s.closed = consumed.contains(&s.index);
    }
    let old_indexes: BTreeSet<u64> = old.iter().map(|(i, _)| *i).collect();
    close.extend(consumed.intersection(&old_indexes).copied());
    close.sort_unstable();
    close.dedup();
    UniformPlan { close, shards }
}

#[cfg(test)]
mod uniform_tests {
    use super::*;
    use crate::hash::HashRange;

    fn stream(n: u32) -> Vec<(u64, HashRange)> {
        split_evenly(HashRange::FULL, n)
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i as u64, r))
            .collect()
    }

    /// (total shards after the change, open shard ranges in key order).
    fn run(n: u32, t: u32) -> (usize, UniformPlan, Vec<HashRange>) {
        let old = stream(n);
        let plan = uniform_plan(&old, t, u64::from(n));
        let close: BTreeSet<u64> = plan.close.iter().copied().collect();
        let mut open: Vec<HashRange> = old
            .iter()
            .filter(|(i, _)| !close.contains(i))
            .map(|(_, r)| *r)
            .chain(plan.shards.iter().filter(|s| !s.closed).map(|s| s.range))
            .collect();
        open.sort_by_key(|r| r.start);
        (n as usize + plan.shards.len(), plan, open)
    }

    fn covers_everything(open: &[HashRange]) -> bool {
        open.first().is_some_and(|r| r.start == 0)
            && open.last().is_some_and(|r| r.end == u128::MAX)
            && open.windows(2).all(|w| w[0].end + 1 == w[1].start)
    }

    #[test]
    fn totals_match_aws() {
        for (n, t, total) in [
            (4, 5, 15),
            (10, 13, 37),
            (5, 3, 7),
            (4, 3, 11),
            (1, 2, 3),
            (2, 4, 6),
            (3, 6, 9),
            (4, 2, 6),
            (8, 4, 12),
        ] {
            let (got, _, open) = run(n, t);
            assert_eq!(got, total, "{n} -> {t}");
            assert_eq!(open.len(), t as usize, "{n} -> {t}");
            assert!(covers_everything(&open), "{n} -> {t}");
        }
    }

    #[test]
    fn four_to_three_has_the_posted_lineage() {
        let (_, plan, open) = run(4, 3);
        let lineage: Vec<(u64, u64, Option<u64>, bool)> = plan
            .shards
            .iter()
            .map(|s| (s.index, s.parent, s.adjacent_parent, s.closed))
            .collect();
        assert_eq!(
            lineage,
            [
                (4, 1, None, true),
                (5, 1, None, true),
                (6, 0, Some(4), false),
                (7, 2, None, true),
                (8, 2, None, true),
                (9, 5, Some(7), false),
                (10, 8, Some(3), false),
            ]
        );
        assert_eq!(plan.close, [0, 1, 2, 3]);
        // Each open shard holds a third of the key space (within rounding).
        let thirds = split_evenly(HashRange::FULL, 3);
        for (o, t) in open.iter().zip(&thirds) {
            assert!(o.start.abs_diff(t.start) < 16 && o.end.abs_diff(t.end) < 16);
        }
    }

    #[test]
    fn five_to_three_merges_twice_and_keeps_the_middle_shard() {
        let (_, plan, open) = run(5, 3);
        let fifths = split_evenly(HashRange::FULL, 5);
        assert_eq!(plan.close, [0, 1, 3, 4]);
        assert_eq!(
            plan.shards
                .iter()
                .map(|s| (s.index, s.parent, s.adjacent_parent, s.closed))
                .collect::<Vec<_>>(),
            [(5, 0, Some(1), false), (6, 3, Some(4), false)]
        );
        assert_eq!(open.get(1), fifths.get(2));
    }

    #[test]
    fn four_to_five_splits_each_shard_once_and_merges_three_times() {
        let (_, plan, open) = run(4, 5);
        let splits = plan
            .shards
            .iter()
            .filter(|s| s.adjacent_parent.is_none())
            .count();
        let merges = plan.shards.len() - splits;
        assert_eq!((splits, merges), (8, 3));
        let fifths = split_evenly(HashRange::FULL, 5);
        for (o, t) in open.iter().zip(&fifths) {
            assert!(o.start.abs_diff(t.start) < 16 && o.end.abs_diff(t.end) < 16);
        }
        // Lowest target first: shard 0 splits into 4 and 5, 4 stays open, 5 merges with 6.
        assert_eq!(
            plan.shards
                .iter()
                .take(5)
                .map(|s| (s.index, s.parent, s.adjacent_parent, s.closed))
                .collect::<Vec<_>>(),
            [
                (4, 0, None, false),
                (5, 0, None, true),
                (6, 1, None, true),
                (7, 1, None, true),
                (8, 5, Some(6), false)
            ]
        );
    }

    #[test]
    fn the_largest_changes_plan_in_linear_time() {
        // 10,000 shards is AWS's per-stream ceiling for UpdateShardCount.
        for (n, t) in [(5_000, 10_000), (10_000, 5_000), (7_001, 9_973)] {
            let (total, plan, open) = run(n, t);
            assert_eq!(open.len(), t as usize, "{n} -> {t}");
            assert!(covers_everything(&open), "{n} -> {t}");
            assert_eq!(total, n as usize + plan.shards.len());
        }
    }

    #[test]
    fn every_allowed_change_ends_with_the_target_count_and_full_coverage() {
        for n in 1..=40u32 {
            for t in n.div_ceil(2)..=2 * n {
                if t == n {
                    continue;
                }
                let (_, plan, open) = run(n, t);
                assert_eq!(open.len(), t as usize, "{n} -> {t}");
                assert!(covers_everything(&open), "{n} -> {t}");
                // One split per shard and one merge per piece.
                let mut parents: Vec<u64> = plan
                    .shards
                    .iter()
                    .filter(|s| s.adjacent_parent.is_none())
                    .map(|s| s.parent)
                    .collect();
                parents.sort_unstable();
                parents.dedup();
                assert_eq!(
                    parents.len() * 2,
                    plan.shards
                        .iter()
                        .filter(|s| s.adjacent_parent.is_none())
                        .count()
                );
                for s in &plan.shards {
                    let children = plan
                        .shards
                        .iter()
                        .filter(|c| c.parent == s.index || c.adjacent_parent == Some(s.index))
                        .count();
                    assert_eq!(s.closed, children > 0, "{n} -> {t}: {s:?}");
                }
            }
        }
    }
}
