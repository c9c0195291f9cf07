//! SubscribeToShard: a consumer's push subscription to one shard, as a sequence of events.
//!
//! The wire layer turns the events into an event stream; here a [`Subscription`] only says what
//! the next event holds. It reads through the same path as GetRecords (an internal shard
//! iterator, refreshed by every read, so lost ranges, damage and shard ends behave the same),
//! and at the shard's tip it waits on the store for the next durable append instead of polling,
//! so a record goes out the moment it may be read.
//!
//! AWS's rules kept here: only an ACTIVE consumer subscribes; one subscription per consumer and
//! shard, where a second call within 5 seconds of the first is refused and a later one takes
//! over (the first then ends with ResourceInUseException); a subscription lasts 5 minutes
//! (`Config::subscription_ms`); and with the throughput limits on, each subscription gets up
//! to 2 MiB/s, paced rather than failed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rheo_log::{LogId, Offset};

use crate::consumers::parse_consumer_arn;
use crate::error::{KinesisError, Result};
use crate::iterator::ShardIterator;
use crate::limits::{
    SUBSCRIPTION_BYTES_PER_SEC_MAX, SUBSCRIPTION_EVENT_BYTES_MAX, SUBSCRIPTION_EVENT_RECORDS_MAX,
    SUBSCRIPTION_TAKEOVER_MS,
};
use crate::meta::{parse_shard_id, ConsumerStatus};
use crate::sequence::SequenceNumber;
use crate::service::Streams;
use crate::types::*;

/// SubscribeToShard's request.
#[derive(Clone, Debug)]
pub struct SubscribeToShard {
    pub consumer_arn: String,
    pub shard_id: String,
    pub kind: IteratorType,
    pub sequence_number: Option<String>,
    pub timestamp_ms: Option<i64>,
}

/// One SubscribeToShardEvent.
#[derive(Clone, Debug)]
pub struct ShardEvent {
    pub records: Vec<Record>,
    /// Where a new subscription resumes, AFTER_SEQUENCE_NUMBER, to miss nothing.
    pub continuation_sequence_number: String,
    pub millis_behind_latest: i64,
    /// Set on the last event, once the shard has ended and everything in it was delivered.
    pub child_shards: Option<Vec<ChildShard>>,
    /// Whether the stream encrypts records at rest (their EncryptionType).
    pub encrypted: bool,
}

/// The live subscriptions: (consumer ARN, shard index) -> (start time, generation).
pub(crate) type Registry = parking_lot::Mutex<std::collections::HashMap<(String, u64), (i64, u64)>>;

static GENERATION: AtomicU64 = AtomicU64::new(1);

pub struct Subscription {
    streams: Streams,
    ctx: Ctx,
    /// The stream's name and the consumer's (name, creation second): a consumer deregistered
    /// meanwhile ends its subscriptions.
    stream: String,
    consumer: (String, i64),
    key: (String, u64),
    generation: u64,
    log: LogId,
    shard_index: u64,
    /// None once the shard's end was delivered.
    iterator: Option<String>,
    /// The last position delivered (or the start), for ContinuationSequenceNumber.
    continuation: String,
    ends_at_ms: i64,
    /// Pacing: bytes sent in the current second, and when that second began.
    window_started_ms: i64,
    window_bytes: u64,
    first: bool,
    /// The consumer's SubscribeToShardEvent.* metrics.
    metrics: std::sync::Arc<crate::metrics::ConsumerMetrics>,
}

impl Streams {
    /// Starts a subscription: checks the consumer and shard, applies the one-subscription rule,
    /// and positions the reader.
    pub async fn subscribe_to_shard(
        &self,
        ctx: &Ctx,
        req: SubscribeToShard,
    ) -> Result<Subscription> {
        // Shared across accounts when the consumer's owner granted it (`service::reach`): the
        // subscription then reads, and checks its consumer in, the owner's stream.
        let acting = crate::service::reach(ctx, Some(&req.consumer_arn));
        let ctx = &*acting;
        let (stream_arn, consumer_name, secs) =
            parse_consumer_arn(&req.consumer_arn).ok_or_else(|| {
                KinesisError::InvalidArgument(format!("Invalid ConsumerARN: {}", req.consumer_arn))
            })?;
        let (name, handle) = self.lookup(ctx, &StreamTarget::arn(stream_arn)).await?;
        let consumer_name = consumer_name.to_string();
        let metrics = handle.read().await.metrics.clone();
        metrics.subscribe_attempts.add(1);
        let out = self
            .subscribe_known(ctx, req, &consumer_name, secs, name, handle)
            .await;
        match &out {
            Ok(_) => metrics.subscribe_successes.add(1),
            // AWS's SubscribeToShard.RateExceeded: a second subscription of the same consumer
            // and shard within the takeover window.
            Err(KinesisError::ResourceInUse(m)) if m.starts_with(ANOTHER_SUBSCRIPTION) => {
                metrics.subscribe_rate_exceeded.add(1)
            }
            Err(_) => {}
        }
        out
    }

    async fn subscribe_known(
        &self,
        ctx: &Ctx,
        req: SubscribeToShard,
        consumer_name: &str,
        secs: i64,
        name: String,
        handle: crate::service::Handle,
    ) -> Result<Subscription> {
        let account = ctx.account().to_string();
        let (log, shard_index, consumer_metrics) = {
            let state = handle.read().await;
            let c = state
                .meta
                .consumers
                .iter()
                .find(|c| c.name == consumer_name && c.created_secs() == secs)
                .ok_or_else(|| {
                    crate::messages::consumer_name_not_found(consumer_name, &name, &account)
                })?;
            if c.status != ConsumerStatus::Active {
                return Err(KinesisError::ResourceInUse(format!(
                    "Consumer {consumer_name} with creation timestamp {secs} under stream: {name} \
                     , account {account} is not in ACTIVE status."
                )));
            }
            let index = parse_shard_id(&req.shard_id).ok_or_else(|| {
                crate::messages::could_not_find_shard(&req.shard_id, &name, &account)
            })?;
            let shard = state
                .meta
                .shard(index)
                .ok_or_else(|| crate::messages::shard_not_found(&req.shard_id, &name, &account))?;
            (
                LogId(shard.log),
                shard.index,
                state.metrics.consumer(consumer_name),
            )
        };
        let iterator = self
            .get_shard_iterator(
                ctx,
                GetShardIterator {
                    target: StreamTarget::name(name.clone()),
                    shard_id: req.shard_id.clone(),
                    kind: req.kind,
                    starting_sequence_number: req.sequence_number.clone(),
                    timestamp_ms: req.timestamp_ms,
                },
            )
            .await?;
        let start = ShardIterator::decode(&iterator)
            .map(|it| it.offset)
            .unwrap_or(Offset(0));
        let now = self.now_ms();
        let key = (req.consumer_arn.clone(), shard_index);
        let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        {
            let mut live = self.inner.subscriptions.lock();
            if let Some((started, _)) = live.get(&key) {
                if now - started < SUBSCRIPTION_TAKEOVER_MS {
                    return Err(another_subscription(&req.consumer_arn));
                }
            }
            // Later calls take over: the older subscription sees its generation gone and ends.
            live.insert(key.clone(), (now, generation));
        }
        Ok(Subscription {
            streams: self.clone(),
            ctx: ctx.clone(),
            stream: name,
            consumer: (consumer_name.to_string(), secs),
            key,
            generation,
            log,
            shard_index,
            iterator: Some(iterator),
            continuation: continuation_before(shard_index, start),
            ends_at_ms: now + self.inner.config.subscription_ms,
            window_started_ms: now,
            window_bytes: 0,
            first: true,
            metrics: consumer_metrics,
        })
    }
}

/// The ContinuationSequenceNumber of a position: the record before it, or the shard's start.
fn continuation_before(shard_index: u64, next: Offset) -> String {
    match next.0.checked_sub(1) {
        Some(last) => SequenceNumber::new(shard_index, Offset(last)).to_string(),
        None => SequenceNumber::shard_start(shard_index),
    }
}

const ANOTHER_SUBSCRIPTION: &str = "Another active subscription exists for this consumer: ";

fn another_subscription(consumer_arn: &str) -> KinesisError {
    KinesisError::ResourceInUse(format!("{ANOTHER_SUBSCRIPTION}{consumer_arn}"))
}

impl Subscription {
    /// The next event, waiting at most `heartbeat` at the shard's tip for records (an empty
    /// event then keeps the client informed). `Ok(None)` once the subscription is over: its
    /// time is up, or the shard's end went out in the previous event.
    pub async fn next_event(&mut self, heartbeat: Duration) -> Result<Option<ShardEvent>> {
        let out = self.next_event_inner(heartbeat).await;
        let m = &self.metrics;
        match &out {
            Ok(Some(event)) => {
                m.events.add(1);
                m.event_successes.add(1);
                m.event_records.add(event.records.len() as u64);
                m.event_bytes.add(
                    event
                        .records
                        .iter()
                        .map(|r| (r.data.len() + r.partition_key.len()) as u64)
                        .sum(),
                );
                m.millis_behind_latest
                    .store(event.millis_behind_latest, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(_) => m.events.add(1),
        }
        out
    }

    async fn next_event_inner(&mut self, heartbeat: Duration) -> Result<Option<ShardEvent>> {
        let Some(iterator) = self.iterator.clone() else {
            return Ok(None);
        };
        let now = self.streams.now_ms();
        if now >= self.ends_at_ms {
            return Ok(None);
        }
        self.check_current().await?;
        self.pace(now).await;
        let mut out = self.read(&iterator).await?;
        if out.records.is_empty() && out.next_shard_iterator.is_some() && !self.first {
            // At the tip: wait for the next durable append (or the heartbeat, or the end).
            let at = out
                .next_shard_iterator
                .as_deref()
                .and_then(|t| ShardIterator::decode(t).ok())
                .map_or(Offset(0), |it| it.offset);
            let left = (self.ends_at_ms - now).max(0) as u64;
            let wait = heartbeat.min(Duration::from_millis(left));
            self.streams
                .inner
                .store
                .wait_for_entries(self.log, at, wait)
                .await;
            self.check_current().await?;
            if let Some(next) = out.next_shard_iterator.clone() {
                out = self.read(&next).await?;
            }
        }
        self.first = false;
        let bytes: u64 = out
            .records
            .iter()
            .map(|r| (r.data.len() + r.partition_key.len()) as u64)
            .sum();
        self.window_bytes += bytes;
        if let Some(last) = out.records.last() {
            self.continuation = last.sequence_number.clone();
        } else if let Some(it) = out
            .next_shard_iterator
            .as_deref()
            .and_then(|t| ShardIterator::decode(t).ok())
        {
            // Nothing delivered: still move past what the read skipped (trimmed or lost).
            self.continuation = continuation_before(self.shard_index, it.offset);
        }
        self.iterator = out.next_shard_iterator;
        Ok(Some(ShardEvent {
            records: out.records,
            continuation_sequence_number: self.continuation.clone(),
            millis_behind_latest: out.millis_behind_latest,
            child_shards: out.child_shards,
            encrypted: out.encrypted,
        }))
    }

    async fn read(&self, iterator: &str) -> Result<GetRecordsOutput> {
        self.streams
            .get_records_bounded(
                &self.ctx,
                iterator,
                Some(SUBSCRIPTION_EVENT_RECORDS_MAX),
                None,
                SUBSCRIPTION_EVENT_BYTES_MAX,
                false,
            )
            .await
    }

    /// Ends a subscription another call took over, or whose consumer is no longer ACTIVE.
    async fn check_current(&self) -> Result<()> {
        {
            let live = self.streams.inner.subscriptions.lock();
            match live.get(&self.key) {
                Some((_, g)) if *g == self.generation => {}
                _ => return Err(another_subscription(&self.key.0)),
            }
        }
        let account = self.ctx.account();
        let handle = self
            .streams
            .lookup_name(&self.ctx.region, account, &self.stream)
            .await?;
        let state = handle.read().await;
        let (name, secs) = (&self.consumer.0, self.consumer.1);
        match state
            .meta
            .consumers
            .iter()
            .find(|c| &c.name == name && c.created_secs() == secs)
        {
            Some(c) if c.status == ConsumerStatus::Active => Ok(()),
            _ => Err(crate::messages::consumer_name_not_found(
                name,
                &self.stream,
                account,
            )),
        }
    }

    /// Holds the subscription to 2 MiB/s: once a second's budget is spent, wait for the next.
    /// Only with the throughput limits on: without them GetRecords is unlimited too, and a
    /// subscription catching up should be no slower.
    async fn pace(&mut self, now: i64) {
        if !self.streams.inner.config.throughput_limits {
            return;
        }
        if now - self.window_started_ms >= 1000 {
            self.window_started_ms = now;
            self.window_bytes = 0;
            return;
        }
        // The next event may carry up to SUBSCRIPTION_EVENT_BYTES_MAX: wait if it could overrun
        // this second's budget.
        if self.window_bytes + SUBSCRIPTION_EVENT_BYTES_MAX as u64 > SUBSCRIPTION_BYTES_PER_SEC_MAX
        {
            let wait = (self.window_started_ms + 1000 - now).max(0) as u64;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            self.window_started_ms = self.streams.now_ms();
            self.window_bytes = 0;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut live = self.streams.inner.subscriptions.lock();
        if live
            .get(&self.key)
            .is_some_and(|(_, g)| *g == self.generation)
        {
            live.remove(&self.key);
        }
    }
}
