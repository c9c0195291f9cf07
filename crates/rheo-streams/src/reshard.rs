//! Resharding: SplitShard, MergeShards, UpdateShardCount.
//!
//! A request validates and records the change as a pending plan (status UPDATING); the plan is
//! applied when the update delay has passed, under the stream's exclusive lock, so parents
//! close with no append in flight and children open with their lineage.

use crate::error::{KinesisError, Result};
use crate::hash::{parse_hash_key, split_evenly, HashRange};
use crate::limits::TARGET_SHARD_COUNT_MAX;
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
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        // Counted before taking this stream's write lock: counting reads every stream.
        let open_total = self.open_shard_total(&ctx.region).await;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
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
            },
            NewShard {
                log: logs.get(1).copied().unwrap_or_default(),
                range: HashRange {
                    start: key,
                    end: hi,
                },
                parent: Some(p),
                adjacent_parent: None,
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
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
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
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        // Counted before taking this stream's write lock: counting reads every stream.
        let open_total = self.open_shard_total(&ctx.region).await;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        if state.meta.mode == StreamMode::OnDemand {
            return Err(messages::provisioned_only(
                "UpdateShardCount",
                &name,
                ctx.account(),
            ));
        }
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
        let old: Vec<ShardMeta> = state.meta.open_shards().cloned().collect();
        let logs = self.allocate_logs(u64::from(target_count)).await?;
        let open = split_evenly(HashRange::FULL, target_count)
            .into_iter()
            .zip(logs)
            .map(|(range, log)| {
                let mut overlaps: Vec<(u128, u64)> = old
                    .iter()
                    .filter_map(|o| {
                        let lo = o.range.start.max(range.start);
                        let hi = o.range.end.min(range.end);
                        (lo <= hi).then(|| (hi - lo, o.index))
                    })
                    .collect();
                // Parents are the old shards covering most of the new range, in key order.
                overlaps.sort_by_key(|o| std::cmp::Reverse(o.0));
                overlaps.truncate(2);
                overlaps.sort_by_key(|o| {
                    old.iter()
                        .find(|s| s.index == o.1)
                        .map_or(0, |s| s.range.start)
                });
                NewShard {
                    log,
                    range,
                    parent: overlaps.first().map(|o| o.1),
                    adjacent_parent: overlaps.get(1).map(|o| o.1),
                }
            })
            .collect();
        self.schedule(
            &mut state,
            Reshard {
                close: old.iter().map(|s| s.index).collect(),
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

    /// Closes the plan's parents and opens its children. Called with the stream's write lock.
    pub(crate) fn apply_reshard(&self, state: &mut StreamState, plan: &Reshard, now: i64) {
        let first = state
            .meta
            .shards
            .iter()
            .map(|s| s.index + 1)
            .max()
            .unwrap_or(0);
        let mut created = Vec::with_capacity(plan.open.len());
        for (i, n) in plan.open.iter().enumerate() {
            let index = first + i as u64;
            created.push(ShardMeta {
                index,
                log: n.log,
                range: n.range,
                parent: n.parent,
                adjacent_parent: n.adjacent_parent,
                created_ms: now,
                closed_ms: None,
                children: Vec::new(),
            });
        }
        for shard in state.meta.shards.iter_mut() {
            if plan.close.contains(&shard.index) {
                shard.closed_ms = Some(now);
                shard.children = created
                    .iter()
                    .filter(|c| {
                        c.parent == Some(shard.index) || c.adjacent_parent == Some(shard.index)
                    })
                    .map(|c| c.index)
                    .collect();
            }
        }
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
