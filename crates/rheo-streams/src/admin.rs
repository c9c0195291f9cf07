//! Stream lifecycle and description: create, delete, describe, list, limits, retention, mode,
//! tags.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tokio::sync::RwLock as AsyncRwLock;

use crate::error::{KinesisError, Result};
use crate::hash::{split_evenly, HashRange};
use crate::limits::{
    LIST_LIMIT_DEFAULT, LIST_SHARDS_RESULTS_DEFAULT, LIST_SHARDS_RESULTS_MAX,
    NEXT_TOKEN_AGE_MS_MAX, ON_DEMAND_SHARD_COUNT, RECORD_SIZE_KIB_DEFAULT, RECORD_SIZE_KIB_MAX,
    RETENTION_HOURS_MAX, RETENTION_HOURS_MIN, TAGS_PER_STREAM_MAX,
};
use crate::limits::{
    MODE_SWITCHES_PER_WINDOW_MAX, MODE_SWITCH_WINDOW_MS, WARM_THROUGHPUT_MIBPS_MAX,
};
use crate::messages;
use crate::meta::{
    parse_shard_id, shard_id, Pending, RecordDistribution, ShardMeta, StreamMeta, StreamMode,
    StreamStatus, META_VERSION,
};
use crate::sequence::SequenceNumber;
use crate::service::{StreamState, Streams};
use crate::types::*;

/// The shard-level metrics of enhanced monitoring, in AWS's order.
pub const SHARD_LEVEL_METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

impl Streams {
    pub async fn create_stream(&self, ctx: &Ctx, req: CreateStream) -> Result<()> {
        self.control_rate(ctx, crate::throttle::ControlOp::CreateStream, None)?;
        let _admin = self.inner.admin.lock().await;
        let now = self.now_ms();
        // With neither ShardCount nor StreamModeDetails AWS creates an on-demand stream (what
        // `aws kinesis create-stream --stream-name s` does); a ShardCount alone means provisioned.
        let mode = req.mode.unwrap_or(if req.shard_count.is_some() {
            StreamMode::Provisioned
        } else {
            StreamMode::OnDemand
        });
        let shard_count = match (mode, req.shard_count) {
            (StreamMode::Provisioned, Some(n)) => n,
            (StreamMode::Provisioned, None) => {
                return Err(KinesisError::InvalidArgument(
                    "ShardCount is required for PROVISIONED streams.".into(),
                ))
            }
            (StreamMode::OnDemand, Some(_)) => {
                return Err(KinesisError::InvalidArgument(
                    "ShardCount cannot be specified for ON_DEMAND streams.".into(),
                ))
            }
            (StreamMode::OnDemand, None) => ON_DEMAND_SHARD_COUNT,
        };
        let record_distribution = req.record_distribution.unwrap_or_default();
        if record_distribution == RecordDistribution::Auto && mode != StreamMode::OnDemand {
            return Err(messages::auto_needs_on_demand(&req.name, ctx.account()));
        }
        if req.tags.len() > TAGS_PER_STREAM_MAX {
            return Err(too_many_tags(&req.name, ctx.account()));
        }
        if let Some(err) = self.damaged_stream(&ctx.region, ctx.account(), &req.name) {
            return Err(err);
        }
        let owner = self.stored_account(ctx.account());
        if let Some(existing) = self.get_handle(ctx.account(), &ctx.region, &req.name) {
            self.settle(&existing).await?;
            if !existing.read().await.gone {
                return Err(messages::stream_exists(&req.name, ctx.account()));
            }
        }
        // An entry the registry does not know may still be on disk: damage whose file name did not say its key
        // (a hashed name). Creating would overwrite it; a catalog read per CreateStream is cheap.
        match self.inner.store.catalog_get(&crate::service::catalog_key(
            owner.as_deref(),
            &ctx.region,
            &req.name,
        )) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Err(messages::stream_damaged(
                    &req.name,
                    ctx.account(),
                    "an entry this server did not load is stored under its name",
                ))
            }
            Err(rheo_log::CatalogError::Corrupt(why)) => {
                return Err(messages::stream_damaged(&req.name, ctx.account(), &why))
            }
            Err(e) => return Err(e.into()),
        }
        let open = self.open_shard_total(ctx.account(), &ctx.region).await;
        let limit = self.inner.config.shard_limit;
        if open + u64::from(shard_count) > u64::from(limit) {
            return Err(messages::shard_limit(
                ctx.account(),
                &ctx.region,
                open,
                limit,
                u64::from(shard_count),
            ));
        }
        if mode == StreamMode::OnDemand {
            let on_demand = self.on_demand_total(ctx.account(), &ctx.region).await;
            if on_demand >= self.inner.config.on_demand_stream_limit {
                return Err(KinesisError::LimitExceeded(format!(
                    "This request would exceed the on-demand stream limit for the account {} in {}. \
                     Limit: {}.",
                    ctx.account(),
                    ctx.region,
                    self.inner.config.on_demand_stream_limit
                )));
            }
        }
        let logs = self.allocate_logs(u64::from(shard_count)).await?;
        let shards = split_evenly(HashRange::FULL, shard_count)
            .into_iter()
            .zip(logs)
            .enumerate()
            .map(|(i, (range, log))| ShardMeta {
                index: i as u64,
                log,
                range,
                parent: None,
                adjacent_parent: None,
                created_ms: now,
                closed_ms: None,
                children: Vec::new(),
            })
            .collect();
        let meta = StreamMeta {
            v: META_VERSION,
            name: req.name.clone(),
            region: ctx.region.clone(),
            account: owner.clone(),
            created_ms: now,
            status: StreamStatus::Creating,
            pending: Some(Pending::Activate),
            due_ms: now + self.inner.config.create_stream_ms,
            retention_hours: RETENTION_HOURS_MIN,
            mode,
            shards,
            tags: req.tags,
            encryption_key: None,
            enhanced_metrics: Vec::new(),
            max_record_size_kib: req.max_record_size_kib.unwrap_or(RECORD_SIZE_KIB_DEFAULT),
            warm_throughput_mibps: req.warm_throughput_mibps,
            record_distribution,
            mode_switches_ms: Vec::new(),
            scalings_ms: Vec::new(),
            data_keys: Vec::new(),
            consumers: Vec::new(),
            policy: None,
        };
        self.persist(&meta)?;
        let key = (owner, ctx.region.clone(), req.name.clone());
        let handle = Arc::new(AsyncRwLock::new(StreamState::new(meta)));
        self.inner.registry.write().insert(key, handle);
        tracing::info!(stream = %req.name, region = %ctx.region, shard_count, "stream created");
        Ok(())
    }

    /// DeleteStream without EnforceConsumerDeletion: refused while consumers are registered.
    pub async fn delete_stream(&self, ctx: &Ctx, target: &StreamTarget) -> Result<()> {
        self.delete_stream_with(ctx, target, false).await
    }

    /// DeleteStream; with `enforce_consumer_deletion` the stream's consumers go with it.
    pub async fn delete_stream_with(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        enforce_consumer_deletion: bool,
    ) -> Result<()> {
        self.control_rate(ctx, crate::throttle::ControlOp::DeleteStream, Some(target))?;
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        if state.meta.status == StreamStatus::Deleting {
            return Ok(());
        }
        if !state.meta.consumers.is_empty() && !enforce_consumer_deletion {
            let arn = self.stream_arn(&state.meta.region, ctx.account(), &name);
            return Err(messages::stream_has_consumers(&arn, &name));
        }
        state.meta.status = StreamStatus::Deleting;
        state.meta.pending = Some(Pending::Delete);
        state.meta.due_ms = self.now_ms() + self.inner.config.delete_stream_ms;
        self.persist(&state.meta)?;
        // Its policies (and its consumers') go with it: a stream created again under the name
        // starts without one, as in AWS.
        let arn = self.stream_arn(&state.meta.region, ctx.account(), &name);
        self.inner.policies.remove_stream(&arn);
        tracing::info!(stream = %name, "stream deleting");
        Ok(())
    }

    pub async fn describe_stream(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        limit: Option<u32>,
        exclusive_start_shard_id: Option<&str>,
    ) -> Result<StreamDescription> {
        // Shared across accounts when the stream's owner granted it (`service::reach`).
        let acting = crate::service::reach(ctx, target.arn.as_deref());
        let ctx = &*acting;
        self.control_rate(
            ctx,
            crate::throttle::ControlOp::DescribeStream,
            Some(target),
        )?;
        let (name, handle) = self.lookup(ctx, target).await?;
        let state = handle.read().await;
        let limit = limit.unwrap_or(LIST_LIMIT_DEFAULT) as usize;
        let start_after = exclusive_start_shard_id.and_then(parse_shard_id);
        // AWS lists no shards while a stream is being created.
        let visible = if state.meta.status == StreamStatus::Creating {
            Vec::new()
        } else {
            self.visible_shards(&state.meta)
        };
        let mut shards: Vec<ShardInfo> = visible
            .iter()
            .filter(|s| start_after.is_none_or(|a| s.index > a))
            .take(limit + 1)
            .map(|s| self.shard_info(s))
            .collect();
        let has_more = shards.len() > limit;
        shards.truncate(limit);
        let m = &state.meta;
        Ok(StreamDescription {
            arn: self.stream_arn(&m.region, ctx.account(), &name),
            name,
            status: m.status,
            mode: m.mode,
            shards,
            has_more_shards: has_more,
            retention_hours: m.retention_hours,
            created_ms: m.created_ms,
            enhanced_metrics: m.enhanced_metrics.clone(),
            encryption_key: m.encryption_key.clone(),
        })
    }

    pub async fn describe_stream_summary(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
    ) -> Result<StreamSummary> {
        // Shared across accounts when the stream's owner granted it (`service::reach`).
        let acting = crate::service::reach(ctx, target.arn.as_deref());
        let ctx = &*acting;
        self.control_rate(
            ctx,
            crate::throttle::ControlOp::DescribeStreamSummary,
            Some(target),
        )?;
        let (name, handle) = self.lookup(ctx, target).await?;
        let state = handle.read().await;
        let m = &state.meta;
        Ok(StreamSummary {
            arn: self.stream_arn(&m.region, ctx.account(), &name),
            name,
            status: m.status,
            mode: m.mode,
            retention_hours: m.retention_hours,
            created_ms: m.created_ms,
            enhanced_metrics: m.enhanced_metrics.clone(),
            encryption_key: m.encryption_key.clone(),
            open_shard_count: m.open_shard_count() as u32,
            consumer_count: m.consumers.len() as u32,
            max_record_size_kib: m.max_record_size_kib,
            warm_throughput: warm_throughput_of(m),
            record_distribution: m.record_distribution,
        })
    }

    pub async fn list_streams(&self, ctx: &Ctx, req: ListStreams) -> Result<ListStreamsOutput> {
        self.control_rate(ctx, crate::throttle::ControlOp::ListStreams, None)?;
        let start_after = match (&req.next_token, &req.exclusive_start_stream_name) {
            (Some(token), _) => Some(decode_list_streams_token(token)?),
            (None, Some(name)) => Some(name.clone()),
            (None, None) => None,
        };
        let limit = req.limit.unwrap_or(LIST_LIMIT_DEFAULT) as usize;
        let owner = self.stored_account(ctx.account());
        let mut entries = Vec::new();
        for handle in self.handles() {
            self.settle(&handle).await?;
            let state = handle.read().await;
            if state.gone || state.meta.region != ctx.region || state.meta.account != owner {
                continue;
            }
            let m = &state.meta;
            entries.push((
                m.name.clone(),
                self.stream_arn(&m.region, ctx.account(), &m.name),
                m.status,
                m.mode,
                m.created_ms,
            ));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut page: Vec<_> = entries
            .into_iter()
            .filter(|e| start_after.as_ref().is_none_or(|s| e.0 > *s))
            .take(limit + 1)
            .collect();
        let has_more = page.len() > limit;
        page.truncate(limit);
        let next_token = if has_more {
            page.last().map(|e| STANDARD.encode(format!("v1:{}", e.0)))
        } else {
            None
        };
        Ok(ListStreamsOutput {
            names: page.iter().map(|e| e.0.clone()).collect(),
            summaries: page,
            has_more,
            next_token,
        })
    }

    pub async fn list_shards(&self, ctx: &Ctx, req: ListShards) -> Result<ListShardsOutput> {
        // Shared across accounts when the stream's owner granted it (`service::reach`).
        let acting = crate::service::reach(ctx, req.target.arn.as_deref());
        let ctx = &*acting;
        self.control_rate(
            ctx,
            crate::throttle::ControlOp::ListShards,
            Some(&req.target),
        )?;
        let now = self.now_ms();
        // A NextToken names its stream's account (the owner's, when issued across accounts).
        let mut token_account = None;
        let (name, after, created_filter, filter) = match &req.next_token {
            Some(token) => {
                if req.target.name.is_some() || req.target.arn.is_some() {
                    return Err(KinesisError::InvalidArgument(
                        "NextToken and StreamName cannot be provided together.".into(),
                    ));
                }
                if req.exclusive_start_shard_id.is_some() {
                    return Err(KinesisError::InvalidArgument(
                        "NextToken and ExclusiveStartShardId cannot be provided together.".into(),
                    ));
                }
                if req.stream_creation_ms.is_some() {
                    return Err(KinesisError::InvalidArgument(
                        "NextToken and StreamCreationTimestamp cannot be provided together.".into(),
                    ));
                }
                let t = ShardsToken::decode(token)?;
                if now - t.issued_ms > NEXT_TOKEN_AGE_MS_MAX {
                    return Err(KinesisError::ExpiredNextToken(format!(
                        "The timestamp of the NextToken has expired: {token}"
                    )));
                }
                token_account = t.account;
                (
                    t.name,
                    Some(t.after),
                    Some(t.created_ms),
                    req.filter.clone(),
                )
            }
            None => {
                if req.target.name.is_none() && req.target.arn.is_none() {
                    return Err(KinesisError::InvalidArgument(
                        "Either NextToken or StreamName should be provided.".into(),
                    ));
                }
                let name = self.target_name(ctx, &req.target)?;
                let after = req
                    .exclusive_start_shard_id
                    .as_deref()
                    .map(|id| parse_shard_id(id).map(|i| i as i64).unwrap_or(-1));
                (name, after, req.stream_creation_ms, req.filter.clone())
            }
        };
        let paged = ctx.acting_in(token_account.as_deref()).ok_or_else(|| {
            messages::stream_not_found(&name, token_account.as_deref().unwrap_or_default())
        })?;
        let ctx = &*paged;
        let handle = self.lookup_name(&ctx.region, ctx.account(), &name).await?;
        let state = handle.read().await;
        let m = &state.meta;
        if let Some(created) = created_filter {
            if created != m.created_ms && created / 1000 != m.created_ms / 1000 {
                return Err(messages::stream_not_found(&name, ctx.account()));
            }
        }
        let mut after = after;
        let horizon = now - i64::from(m.retention_hours) * 3_600_000;
        let mut selected: Vec<&ShardMeta> = self.visible_shards(m);
        if let Some(f) = &filter {
            match f.kind {
                ShardFilterType::AfterShardId => {
                    let id = f.shard_id.as_deref().ok_or_else(|| {
                        KinesisError::InvalidArgument(
                            "ShardId must be specified for ShardFilter type AFTER_SHARD_ID.".into(),
                        )
                    })?;
                    let i = parse_shard_id(id).map(|i| i as i64).unwrap_or(-1);
                    after = Some(after.map_or(i, |a| a.max(i)));
                }
                ShardFilterType::AtTrimHorizon => {
                    // A stream younger than its retention has its trim horizon at its creation.
                    let at = horizon.max(m.created_ms);
                    selected.retain(|s| open_at(s, at));
                }
                ShardFilterType::FromTrimHorizon => {}
                ShardFilterType::AtLatest => selected.retain(|s| s.is_open()),
                ShardFilterType::AtTimestamp | ShardFilterType::FromTimestamp => {
                    let ts = f.timestamp_ms.ok_or_else(|| {
                        KinesisError::InvalidArgument(format!(
                            "Timestamp must be specified for ShardFilter type {}.",
                            if f.kind == ShardFilterType::AtTimestamp {
                                "AT_TIMESTAMP"
                            } else {
                                "FROM_TIMESTAMP"
                            }
                        ))
                    })?;
                    if f.kind == ShardFilterType::AtTimestamp {
                        selected.retain(|s| open_at(s, ts.max(m.created_ms)));
                    } else {
                        selected.retain(|s| s.closed_ms.is_none_or(|c| c > ts));
                    }
                }
            }
        }
        if let Some(a) = after {
            selected.retain(|s| s.index as i64 > a);
        }
        let limit = req
            .max_results
            .unwrap_or(LIST_SHARDS_RESULTS_DEFAULT)
            .min(LIST_SHARDS_RESULTS_MAX) as usize;
        let has_more = selected.len() > limit;
        selected.truncate(limit);
        let next_token = match (has_more, selected.last()) {
            (true, Some(last)) => Some(
                ShardsToken {
                    name: name.clone(),
                    account: Some(ctx.account().to_string()),
                    created_ms: m.created_ms,
                    after: last.index as i64,
                    issued_ms: now,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(ListShardsOutput {
            shards: selected.into_iter().map(|s| self.shard_info(s)).collect(),
            next_token,
        })
    }

    pub async fn describe_limits(&self, ctx: &Ctx) -> Result<Limits> {
        self.control_rate(ctx, crate::throttle::ControlOp::DescribeLimits, None)?;
        Ok(Limits {
            shard_limit: self.inner.config.shard_limit,
            open_shard_count: self.open_shard_total(ctx.account(), &ctx.region).await as u32,
            on_demand_stream_count: self.on_demand_total(ctx.account(), &ctx.region).await,
            on_demand_stream_count_limit: self.inner.config.on_demand_stream_limit,
        })
    }

    pub async fn increase_retention(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        hours: i64,
    ) -> Result<()> {
        self.change_retention(ctx, target, hours, true).await
    }

    pub async fn decrease_retention(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        hours: i64,
    ) -> Result<()> {
        self.change_retention(ctx, target, hours, false).await
    }

    async fn change_retention(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        hours: i64,
        increase: bool,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        let current = state.meta.retention_hours;
        if hours < i64::from(RETENTION_HOURS_MIN) {
            return Err(KinesisError::InvalidArgument(format!(
                "Minimum allowed retention period is {RETENTION_HOURS_MIN} hours. Requested \
                 retention period ({hours} hours) is too short."
            )));
        }
        if hours > i64::from(RETENTION_HOURS_MAX) {
            return Err(KinesisError::InvalidArgument(format!(
                "Maximum allowed retention period is {RETENTION_HOURS_MAX} hours. Requested \
                 retention period ({hours} hours) is too long."
            )));
        }
        self.ensure_active(ctx, &state, &name)?;
        if increase && hours < i64::from(current) {
            return Err(KinesisError::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be shorter \
                 than existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
            )));
        }
        if !increase && hours > i64::from(current) {
            return Err(KinesisError::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be longer \
                 than existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
            )));
        }
        state.meta.retention_hours = hours as u32;
        self.persist(&state.meta)?;
        if !increase {
            let horizon = self.now_ms() - hours * 3_600_000;
            // The trims may scan the journal: done after the stream's lock is released.
            let logs: Vec<u64> = state.meta.shards.iter().map(|s| s.log).collect();
            drop(state);
            for log in logs {
                self.inner.store.trim(rheo_log::LogId(log), horizon).await?;
            }
        }
        Ok(())
    }

    pub async fn update_stream_mode(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        mode: StreamMode,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        if state.meta.mode == mode {
            return Err(KinesisError::InvalidArgument(format!(
                "Stream {name} under account {} is already in {} mode.",
                ctx.account(),
                mode.as_str()
            )));
        }
        let now = self.now_ms();
        state
            .meta
            .mode_switches_ms
            .retain(|&t| now - t < MODE_SWITCH_WINDOW_MS);
        if state.meta.mode_switches_ms.len() >= MODE_SWITCHES_PER_WINDOW_MAX {
            return Err(messages::mode_switch_limit(&name, ctx.account()));
        }
        state.meta.mode_switches_ms.push(now);
        state.meta.status = StreamStatus::Updating;
        state.meta.pending = Some(Pending::Mode(mode));
        state.meta.due_ms = self.now_ms() + self.inner.config.update_stream_ms;
        self.persist(&state.meta)?;
        Ok(())
    }

    /// UpdateMaxRecordSize: the largest record (data and partition key) the stream accepts
    /// from now on. Takes effect at once; the put path reads it on every request.
    pub async fn update_max_record_size(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        kib: u32,
    ) -> Result<()> {
        // The model's range, which the binding has already checked; kept for other callers,
        // in the decoder's words.
        let bound = if kib < RECORD_SIZE_KIB_DEFAULT {
            Some(format!(
                "greater than or equal to {RECORD_SIZE_KIB_DEFAULT}"
            ))
        } else if kib > RECORD_SIZE_KIB_MAX {
            Some(format!("less than or equal to {RECORD_SIZE_KIB_MAX}"))
        } else {
            None
        };
        if let Some(bound) = bound {
            return Err(KinesisError::Validation(format!(
                "1 validation error detected: Value '{kib}' at 'maxRecordSizeInKiB' failed to \
                 satisfy constraint: Member must have value {bound}"
            )));
        }
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        state.meta.max_record_size_kib = kib;
        self.persist(&state.meta)?;
        tracing::info!(stream = %name, kib, "max record size updated");
        Ok(())
    }

    /// UpdateStreamWarmThroughput: on-demand streams of accounts with the minimum throughput
    /// billing commitment enabled. Asynchronous as in AWS: UPDATING until the update delay has
    /// passed, with the new target and the old current value meanwhile.
    pub async fn update_stream_warm_throughput(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        mibps: u32,
    ) -> Result<WarmThroughputChange> {
        const OP: &str = "UpdateStreamWarmThroughput";
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        if state.meta.mode != StreamMode::OnDemand {
            return Err(messages::on_demand_only(OP, &name, ctx.account()));
        }
        let commitment = self.describe_account_settings(ctx).await?;
        if commitment.status == crate::account::CommitmentStatus::Disabled {
            return Err(messages::commitment_required(OP, ctx.account()));
        }
        if mibps > WARM_THROUGHPUT_MIBPS_MAX {
            return Err(messages::warm_throughput_limit(mibps, &name, ctx.account()));
        }
        state.meta.status = StreamStatus::Updating;
        state.meta.pending = Some(Pending::WarmThroughput(mibps));
        state.meta.due_ms = self.now_ms() + self.inner.config.update_stream_ms;
        self.persist(&state.meta)?;
        tracing::info!(stream = %name, mibps, "warm throughput updating");
        Ok(WarmThroughputChange {
            arn: self.stream_arn(&state.meta.region, ctx.account(), &name),
            name,
            warm_throughput: WarmThroughput {
                target_mibps: mibps,
                current_mibps: state.meta.warm_throughput_mibps,
            },
        })
    }

    /// UpdateStreamRecordDistributionStrategy: takes effect at once (AWS: "the change takes
    /// effect immediately"); records already written stay where they are.
    pub async fn update_record_distribution(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        strategy: RecordDistribution,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        if strategy == RecordDistribution::Auto && state.meta.mode != StreamMode::OnDemand {
            return Err(messages::auto_needs_on_demand(&name, ctx.account()));
        }
        state.meta.record_distribution = strategy;
        self.persist(&state.meta)?;
        tracing::info!(stream = %name, strategy = strategy.as_str(), "record distribution updated");
        Ok(())
    }

    pub async fn add_tags(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        tags: Vec<(String, String)>,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        check_tag_chars(
            tags.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            "add tags to",
            &name,
            ctx.account(),
        )?;
        let mut state = handle.write().await;
        let mut merged = state.meta.tags.clone();
        for (k, v) in tags {
            merged.insert(k, v);
        }
        if merged.len() > TAGS_PER_STREAM_MAX {
            return Err(too_many_tags(&name, ctx.account()));
        }
        state.meta.tags = merged;
        self.persist(&state.meta)
    }

    pub async fn remove_tags(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        keys: Vec<String>,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        check_tag_chars(
            keys.iter().map(String::as_str),
            "remove tags from",
            &name,
            ctx.account(),
        )?;
        let mut state = handle.write().await;
        for k in keys {
            state.meta.tags.remove(&k);
        }
        self.persist(&state.meta)
    }

    pub async fn list_tags(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        exclusive_start_tag_key: Option<&str>,
        limit: Option<u32>,
    ) -> Result<TagList> {
        let (_, handle) = self.lookup(ctx, target).await?;
        let state = handle.read().await;
        let limit = limit.unwrap_or(u32::MAX) as usize;
        let mut tags: Vec<(String, String)> = state
            .meta
            .tags
            .iter()
            .filter(|(k, _)| exclusive_start_tag_key.is_none_or(|s| k.as_str() > s))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let has_more = tags.len() > limit;
        tags.truncate(limit);
        Ok(TagList { tags, has_more })
    }

    /// Enables (or, with `enable` false, disables) shard-level metrics; returns (current,
    /// desired) lists. "ALL" stands for every metric.
    pub async fn set_enhanced_monitoring(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        metrics: Vec<String>,
        enable: bool,
    ) -> Result<(String, String, Vec<String>, Vec<String>)> {
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        let current = state.meta.enhanced_metrics.clone();
        let named: Vec<String> = if metrics.iter().any(|m| m == "ALL") {
            SHARD_LEVEL_METRICS.iter().map(|m| m.to_string()).collect()
        } else {
            metrics
        };
        let mut desired = current.clone();
        if enable {
            for m in named {
                if !desired.contains(&m) {
                    desired.push(m);
                }
            }
        } else {
            desired.retain(|m| !named.contains(m));
        }
        desired.sort_by_key(|m| SHARD_LEVEL_METRICS.iter().position(|k| k == m));
        state.meta.enhanced_metrics = desired.clone();
        self.persist(&state.meta)?;
        Ok((
            name.clone(),
            self.stream_arn(&ctx.region, ctx.account(), &name),
            current,
            desired,
        ))
    }

    /// Server-side encryption: `Some(key)` starts it with that KMS key, `None` stops it. The
    /// stream goes through UPDATING, as in AWS. Starting validates the key by taking the new
    /// epoch's data key from the vault, so a key the KMS refuses fails the request with its
    /// KMS* error and changes nothing; from the answer on, puts seal under that epoch
    /// (records written while UPDATING are sealed too: earlier than AWS promises, never
    /// later). Stopping leaves the sealed records sealed and readable.
    pub async fn set_encryption(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
        key_id: Option<String>,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let (name, handle) = self.lookup(ctx, target).await?;
        if let (Some(key), Some(vault)) = (&key_id, self.vault()) {
            if crate::seal::key_id_well_formed(key) {
                vault.prepare(ctx.account(), &ctx.region, key).await?;
            }
        }
        let mut state = handle.write().await;
        self.ensure_active(ctx, &state, &name)?;
        let mut epoch = None;
        if let Some(key) = &key_id {
            if !crate::seal::key_id_well_formed(key) {
                return Err(messages::invalid_kms_key_id(key));
            }
            match self.vault() {
                Some(vault) => {
                    let e = self.new_epoch(ctx, &state, vault.as_ref(), key)?;
                    state.meta.data_keys.push(e.meta.clone());
                    epoch = Some(e);
                }
                None if crate::seal::is_default_alias(key) => {}
                None => return Err(messages::kms_key_not_found(key, &ctx.region, ctx.account())),
            }
        }
        let before = (
            state.meta.encryption_key.clone(),
            state.meta.status,
            state.meta.pending.clone(),
            state.meta.due_ms,
        );
        state.meta.encryption_key = key_id;
        state.meta.status = StreamStatus::Updating;
        state.meta.pending = Some(Pending::Update);
        state.meta.due_ms = self.now_ms() + self.inner.config.update_stream_ms;
        if let Err(e) = self.persist(&state.meta) {
            if epoch.is_some() {
                state.meta.data_keys.pop();
            }
            (
                state.meta.encryption_key,
                state.meta.status,
                state.meta.pending,
                state.meta.due_ms,
            ) = before;
            return Err(e);
        }
        match epoch {
            Some(e) => Self::install_epoch(&mut state, e),
            None => state.sealer = None,
        }
        Ok(())
    }

    /// Shards still within retention, in shard-id order.
    pub(crate) fn visible_shards<'a>(&self, m: &'a StreamMeta) -> Vec<&'a ShardMeta> {
        let horizon = self.now_ms() - i64::from(m.retention_hours) * 3_600_000;
        let mut v: Vec<&ShardMeta> = m
            .shards
            .iter()
            .filter(|s| s.closed_ms.is_none_or(|c| c >= horizon))
            .collect();
        v.sort_by_key(|s| s.index);
        v
    }

    pub(crate) fn shard_info(&self, s: &ShardMeta) -> ShardInfo {
        let ending = s.closed_ms.map(|_| {
            let end = self
                .inner
                .store
                .bounds(rheo_log::LogId(s.log))
                .map(|b| b.end.0)
                .unwrap_or(0);
            match end.checked_sub(1) {
                Some(last) => SequenceNumber::new(s.index, rheo_log::Offset(last)).to_string(),
                // Closed before any record: it ends where it starts.
                None => SequenceNumber::shard_start(s.index),
            }
        });
        ShardInfo {
            shard_id: shard_id(s.index),
            parent_shard_id: s.parent.map(shard_id),
            adjacent_parent_shard_id: s.adjacent_parent.map(shard_id),
            range: s.range,
            starting_sequence_number: SequenceNumber::shard_start(s.index),
            ending_sequence_number: ending,
        }
    }

    /// Open shards of `account` in `region` (AWS's shard quota is per account and region).
    pub(crate) async fn open_shard_total(&self, account: &str, region: &str) -> u64 {
        let owner = self.stored_account(account);
        let mut total = 0u64;
        for handle in self.handles() {
            let state = handle.read().await;
            if !state.gone && state.meta.region == region && state.meta.account == owner {
                total += state.meta.open_shard_count() as u64;
            }
        }
        total
    }

    async fn on_demand_total(&self, account: &str, region: &str) -> u32 {
        let owner = self.stored_account(account);
        let mut total = 0;
        for handle in self.handles() {
            let state = handle.read().await;
            if !state.gone
                && state.meta.region == region
                && state.meta.account == owner
                && state.meta.mode == StreamMode::OnDemand
            {
                total += 1;
            }
        }
        total
    }
}

/// An on-demand stream's warm throughput: the target being reached while an update is pending,
/// else the one set. Provisioned streams have none (AWS: "only present for On-Demand").
fn warm_throughput_of(m: &StreamMeta) -> Option<WarmThroughput> {
    if m.mode != StreamMode::OnDemand {
        return None;
    }
    let pending = match m.pending {
        Some(Pending::WarmThroughput(t)) => Some(t),
        _ => None,
    };
    pending
        .or(m.warm_throughput_mibps)
        .map(|target| WarmThroughput {
            target_mibps: target,
            current_mibps: m.warm_throughput_mibps,
        })
}

fn open_at(s: &ShardMeta, ts: i64) -> bool {
    s.created_ms <= ts && s.closed_ms.is_none_or(|c| c > ts)
}

/// AWS allows Unicode letters, digits, white space and `_ . / = + - @` in tags; `%` passes the
/// first check but is refused by a second one with its own wording.
fn check_tag_chars<'a>(
    texts: impl Iterator<Item = &'a str> + Clone,
    verb: &str,
    name: &str,
    account: &str,
) -> Result<()> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_./=+-%@".contains(c);
    if texts.clone().any(|t| !t.chars().all(allowed)) {
        return Err(KinesisError::InvalidArgument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, \
             white space, _ . / = + - % @."
                .into(),
        ));
    }
    if texts.into_iter().any(|t| t.contains('%')) {
        return Err(KinesisError::InvalidArgument(format!(
            "Failed to {verb} stream {name} under account {account} because some tags contained \
             illegal characters. The allowed characters are Unicode letters, white-spaces, \
             '_',',','/','=','+','-','@'."
        )));
    }
    Ok(())
}

fn too_many_tags(name: &str, account: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Failed to add tags to stream {name} under account {account} because a given stream \
         cannot have more than {TAGS_PER_STREAM_MAX} tags associated with it."
    ))
}

fn decode_list_streams_token(token: &str) -> Result<String> {
    let bad = || KinesisError::InvalidArgument(format!("Invalid NextToken: {token}"));
    let raw = STANDARD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("v1:").map(str::to_string).ok_or_else(bad)
}

/// Decodes `text` as both kinds of NextToken (for the fuzz targets); must never panic.
pub(crate) fn fuzz_next_tokens(text: &str) {
    let _ = decode_list_streams_token(text);
    if let Ok(t) = ShardsToken::decode(text) {
        let again =
            ShardsToken::decode(&t.encode()).map(|u| (u.name, u.account, u.created_ms, u.after));
        assert_eq!(again.ok(), Some((t.name, t.account, t.created_ms, t.after)));
    }
}

/// The stream a ListShards NextToken pages through, as (its account, its name): what the
/// security layer judges a request that names its stream only by such a token on. `None`
/// for anything that is not one of our tokens; the account is `None` in tokens of earlier
/// builds (the caller's own).
pub fn list_shards_token_stream(token: &str) -> Option<(Option<String>, String)> {
    ShardsToken::decode(token).ok().map(|t| (t.account, t.name))
}

/// The state a ListShards NextToken carries: which stream (and whose), where to resume, when
/// issued.
struct ShardsToken {
    name: String,
    /// `None` in a `v1` token (the caller's account).
    account: Option<String>,
    created_ms: i64,
    after: i64,
    issued_ms: i64,
}

impl ShardsToken {
    fn encode(&self) -> String {
        let body = match &self.account {
            // Stream names and account ids hold no `|`.
            Some(account) => format!(
                "v2|{}|{}|{}|{account}|{}",
                self.created_ms, self.after, self.issued_ms, self.name
            ),
            None => format!(
                "v1|{}|{}|{}|{}",
                self.created_ms, self.after, self.issued_ms, self.name
            ),
        };
        crate::token::seal(&body)
    }

    fn decode(token: &str) -> Result<Self> {
        let bad = || crate::token::invalid(token);
        let body = crate::token::open(token)?;
        let mut parts = body.splitn(6, '|');
        let with_account = match parts.next() {
            Some("v1") => false,
            Some("v2") => true,
            _ => return Err(bad()),
        };
        let mut num =
            || -> Result<i64> { parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad) };
        let created_ms = num()?;
        let after = num()?;
        let issued_ms = num()?;
        let account = match with_account {
            true => Some(parts.next().ok_or_else(bad)?.to_string()),
            false => None,
        };
        // A v1 body splits in five at most: a `|` in its name would make a sixth part.
        let name = match (with_account, parts.next(), parts.next()) {
            (true, Some(name), None) => name.to_string(),
            (false, Some(first), rest) => match rest {
                None => first.to_string(),
                Some(more) => format!("{first}|{more}"),
            },
            _ => return Err(bad()),
        };
        Ok(ShardsToken {
            name,
            account,
            created_ms,
            after,
            issued_ms,
        })
    }
}
