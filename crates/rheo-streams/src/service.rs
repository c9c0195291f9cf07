//! The stream registry: resolves names and ARNs to streams, persists their metadata in the
//! storage catalog, and completes pending status transitions when their time comes.
//!
//! Locking: the registry map is behind a short-held `parking_lot` lock. Each stream's state is
//! behind a `tokio` RwLock: data operations (put, get) hold it shared across their storage
//! await, and resharding takes it exclusively, so when a shard closes no append to it is still
//! in flight and its final length is known. Administrative operations are serialised by one
//! async mutex, which keeps "check, allocate logs, persist" sequences free of races.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use rheo_log::{LogId, Store};
use tokio::sync::{Mutex, RwLock as AsyncRwLock};

use crate::catalog::{self, DamagedMeta};
use crate::clock::Clock;
use crate::consumers::{consumer_transition_due, settle_consumers};
use crate::error::{KinesisError, Result};
use crate::hash::HashKey;
use crate::messages;
use crate::meta::{Pending, StreamMeta, StreamStatus};
use crate::types::{Ctx, StreamTarget};

/// The account a request acts in when nothing names another (AWS's documentation account for
/// local tools).
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

pub(crate) const CATALOG_STREAM_PREFIX: &str = "stream/";
const CATALOG_NEXT_LOG: &str = "counter/next-log-id";

/// Settings of the domain, from the server's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub account_id: String,
    /// How long a stream stays CREATING.
    pub create_stream_ms: i64,
    /// How long a stream stays DELETING.
    pub delete_stream_ms: i64,
    /// How long a stream stays UPDATING.
    pub update_stream_ms: i64,
    /// How long a registered consumer stays CREATING, and a deregistered one DELETING.
    pub consumer_status_ms: i64,
    /// How long a SubscribeToShard subscription lasts.
    pub subscription_ms: i64,
    /// Enforce AWS's per-shard write and shared-read limits (ProvisionedThroughputExceeded),
    /// the control-plane call rates and UpdateShardCount's scalings a day (LimitExceeded). On by
    /// default: code tested against Rheo should meet the throttling it will meet in AWS.
    pub throughput_limits: bool,
    /// Open shards per account and region.
    pub shard_limit: u32,
    pub on_demand_stream_limit: u32,
    /// How on-demand streams scale by themselves (`autoscale.rs`).
    pub on_demand: crate::autoscale::ScaleConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            account_id: DEFAULT_ACCOUNT_ID.into(),
            create_stream_ms: 500,
            delete_stream_ms: 500,
            update_stream_ms: 500,
            consumer_status_ms: 500,
            subscription_ms: crate::limits::SUBSCRIPTION_MS_DEFAULT,
            throughput_limits: true,
            shard_limit: crate::limits::OPEN_SHARDS_PER_REGION_DEFAULT,
            on_demand_stream_limit: crate::limits::ON_DEMAND_STREAMS_PER_REGION_MAX,
            on_demand: Default::default(),
        }
    }
}

/// A route from a hash-key range to an open shard, for the put path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    pub start: HashKey,
    pub end: HashKey,
    pub shard_index: u64,
    pub log: LogId,
}

pub(crate) struct StreamState {
    pub meta: StreamMeta,
    /// Open shards sorted by starting hash key.
    pub routes: Vec<Route>,
    /// Set once the stream is removed, for handles still held by in-flight requests.
    pub gone: bool,
    /// Per-shard throughput budgets (used when `Config::throughput_limits` is on).
    pub throttle: crate::throttle::Throttle,
    /// Records placed so far by AUTO distribution: the next one goes to the open shard this
    /// counts to (round robin). Not persisted: evenness, not a particular order, is the promise.
    pub spread: std::sync::atomic::AtomicU64,
    /// Per-shard write meters and the scaler's memory (on-demand streams, `autoscale.rs`).
    pub meters: crate::autoscale::Meters,
    /// CloudWatch's stream-level metrics (`metrics.rs`).
    pub metrics: Arc<crate::metrics::StreamMetrics>,
    /// Shard-level metrics of every shard the metadata lists, by shard index.
    pub shard_metrics: HashMap<u64, Arc<crate::metrics::ShardMetrics>>,
    /// The encryption epoch puts seal under (`seal.rs`). Never persisted: after a restart the
    /// first put of an encrypted stream opens a new epoch, so no nonce counter restarts under
    /// a key that was used before.
    pub sealer: Option<Arc<crate::seal::Sealer>>,
    /// Unwrapped data keys of earlier epochs, for reads.
    pub keys: crate::seal::KeyCache,
}

impl StreamState {
    pub fn new(meta: StreamMeta) -> Self {
        let mut state = StreamState {
            meta,
            routes: Vec::new(),
            gone: false,
            throttle: Default::default(),
            spread: std::sync::atomic::AtomicU64::new(0),
            meters: Default::default(),
            metrics: Default::default(),
            shard_metrics: HashMap::new(),
            sealer: None,
            keys: Default::default(),
        };
        state.rebuild_routes();
        state
    }

    pub fn rebuild_routes(&mut self) {
        let mut routes: Vec<Route> = self
            .meta
            .open_shards()
            .map(|s| Route {
                start: s.range.start,
                end: s.range.end,
                shard_index: s.index,
                log: LogId(s.log),
            })
            .collect();
        routes.sort_by_key(|r| r.start);
        self.meters.track(routes.iter().map(|r| r.shard_index));
        self.routes = routes;
        // Shards keep their counters across resharding while the metadata lists them.
        let mut old = std::mem::take(&mut self.shard_metrics);
        self.shard_metrics = self
            .meta
            .shards
            .iter()
            .map(|s| (s.index, old.remove(&s.index).unwrap_or_default()))
            .collect();
    }

    /// The open shard owning `key`.
    /// The open shard the next AUTO-distributed record goes to.
    pub fn spread_route(&self) -> Option<Route> {
        let n = self.routes.len() as u64;
        let i = self
            .spread
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .checked_rem(n)?;
        self.routes.get(i as usize).copied()
    }

    pub fn route(&self, key: HashKey) -> Option<Route> {
        let i = self.routes.partition_point(|r| r.start <= key);
        let r = *self.routes.get(i.checked_sub(1)?)?;
        (key <= r.end).then_some(r)
    }
}

pub(crate) type Handle = Arc<AsyncRwLock<StreamState>>;

/// A stream's place in the registry: (owning account as stored in its metadata, `None` for
/// the configured account; region; name).
pub(crate) type RegistryKey = (Option<String>, String, String);

pub(crate) struct Inner {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    /// By (account as stored: `None` for the configured one, region, name).
    pub registry: RwLock<HashMap<RegistryKey, Handle>>,
    pub admin: Mutex<()>,
    pub next_log: Mutex<u64>,
    /// `config.account_id`, shared with every request context filled from it.
    pub default_account: Arc<str>,
    /// Logs found in the store at open that no stream's metadata names.
    pub orphan_logs: Vec<LogId>,
    /// Stream metadata found damaged at open: isolated, never served nor overwritten.
    pub damaged: Vec<DamagedMeta>,
    /// (account, region, name) -> index in `damaged`, for the entries whose key names their
    /// stream.
    pub damaged_names: HashMap<RegistryKey, usize>,
    /// Live SubscribeToShard subscriptions (see `subscribe.rs`).
    pub subscriptions: crate::subscribe::Registry,
    /// Control-plane rate budgets (used when `Config::throughput_limits` is on).
    pub control: crate::throttle::ControlThrottle,
    /// The KMS that data keys of encrypted streams come from ([`Streams::set_key_vault`]).
    pub vault: std::sync::OnceLock<Arc<dyn crate::seal::KeyVault>>,
    /// Every resource policy by ARN, for the authorizer's synchronous reads (`policy.rs`).
    pub policies: crate::policy::PolicyIndex,
    /// The policy-language check PutResourcePolicy applies, once the server installs one.
    pub policy_check: std::sync::OnceLock<crate::policy::PolicyCheck>,
}

/// How far past every known log id the next one starts when the durable counter is unreadable and some damaged
/// metadata may name logs nobody can see (reserved ids whose shards have no data yet are in no log list). No
/// stream ever reserves 2^32 logs, so this clears any id the damaged entry could hold, and leaves 2^32 such
/// skips before the id space ends.
const LOG_ID_SKIP: u64 = 1 << 32;

/// What the durable log-id counter said at open.
enum Counter {
    Valid(u64),
    Missing,
    Damaged(String),
}

/// The Kinesis Data Streams service over one storage engine.
#[derive(Clone)]
pub struct Streams {
    pub(crate) inner: Arc<Inner>,
}

impl Streams {
    /// A service over a fresh in-memory store: for the tests of the layers above, which must
    /// not name the storage engine themselves (their crates may not depend on it).
    pub fn open_in_memory(config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        let store = Store::open(rheo_log::StoreConfig::default())
            .map_err(|e| KinesisError::Internal(format!("in-memory store: {e}")))?;
        Self::open(config, store, clock)
    }

    /// Loads every stream from the catalog. A damaged entry does not stop the others: it is logged, set aside
    /// ([`Streams::damaged_metadata`]) and refused by name, and nothing is ever written over it.
    pub fn open(config: Config, store: Store, clock: Arc<dyn Clock>) -> Result<Self> {
        let loaded = catalog::load(store.catalog_scan(CATALOG_STREAM_PREFIX)?);
        let mut registry = HashMap::new();
        let mut referenced = std::collections::HashSet::new();
        let policies = crate::policy::PolicyIndex::default();
        for meta in loaded.metas {
            // A stream of another account is found by its own account's ARN.
            let arn = format!(
                "arn:aws:kinesis:{}:{}:stream/{}",
                meta.region,
                meta.account.as_deref().unwrap_or(&config.account_id),
                meta.name
            );
            policies.load(&arn, &meta);
            referenced.extend(catalog::referenced_logs(&meta));
            let k = (meta.account.clone(), meta.region.clone(), meta.name.clone());
            registry.insert(k, Arc::new(AsyncRwLock::new(StreamState::new(meta))));
        }
        let mut damaged_names = HashMap::new();
        for (i, d) in loaded.damaged.iter().enumerate() {
            tracing::error!(
                key = d.key.as_deref(),
                file = d.file.as_deref(),
                reason = %d.reason,
                "stream metadata is damaged: the stream is not served and its entry is kept untouched; run rheo fsck"
            );
            if let (Some(region), Some(name)) = (&d.region, &d.name) {
                damaged_names.insert((d.account.clone(), region.clone(), name.clone()), i);
            }
        }
        let store_logs = store.log_ids();
        let next_log = next_log_id(
            &store,
            referenced.iter().copied(),
            &store_logs,
            !loaded.damaged.is_empty(),
        )?;
        let orphan_logs: Vec<LogId> = store_logs
            .into_iter()
            .filter(|log| log.0 >= rheo_log::FIRST_ALLOCATED_LOG && !referenced.contains(&log.0))
            .collect();
        for log in &orphan_logs {
            // Never deleted here: a log no metadata names is data we cannot account for (a lost
            // or unreadable catalog entry), not garbage. Interrupted deletions cannot leave one.
            let bounds = store.bounds(*log).ok();
            tracing::error!(
                log = log.0,
                start = bounds.map(|b| b.start.0),
                end = bounds.map(|b| b.end.0),
                "a stored log belongs to no stream; it is kept untouched"
            );
        }
        tracing::info!(
            streams = registry.len(),
            damaged = loaded.damaged.len(),
            "streams loaded"
        );
        Ok(Streams {
            inner: Arc::new(Inner {
                default_account: config.account_id.as_str().into(),
                config,
                store,
                clock,
                registry: RwLock::new(registry),
                orphan_logs,
                damaged: loaded.damaged,
                damaged_names,
                subscriptions: Default::default(),
                control: Default::default(),
                vault: Default::default(),
                policies,
                policy_check: std::sync::OnceLock::new(),
                admin: Mutex::new(()),
                next_log: Mutex::new(next_log),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Gives the service the KMS its encrypted streams take data keys from; once, before the
    /// first request (false if one was set already). Without a vault, StartStreamEncryption
    /// accepts only the AWS-managed `alias/aws/kinesis` and records are marked KMS but stored
    /// as they are: there is nothing to wrap a data key with. The server always sets one.
    pub fn set_key_vault(&self, vault: Arc<dyn crate::seal::KeyVault>) -> bool {
        self.inner.vault.set(vault).is_ok()
    }

    pub(crate) fn vault(&self) -> Option<&Arc<dyn crate::seal::KeyVault>> {
        self.inner.vault.get()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Logs the store held at open that no stream's metadata names (kept, reported at open).
    pub fn orphan_logs(&self) -> &[LogId] {
        &self.inner.orphan_logs
    }

    /// Stream metadata found damaged at open (for fsck and metrics): each such stream is refused by name and
    /// its entry is never overwritten.
    pub fn damaged_metadata(&self) -> &[DamagedMeta] {
        &self.inner.damaged
    }

    /// The refusal for a stream whose metadata is damaged, if it is one.
    pub(crate) fn damaged_stream(
        &self,
        region: &str,
        account: &str,
        name: &str,
    ) -> Option<KinesisError> {
        let i = *self.inner.damaged_names.get(&(
            self.stored_account(account),
            region.to_string(),
            name.to_string(),
        ))?;
        let d = self.inner.damaged.get(i)?;
        Some(messages::stream_damaged(name, account, &d.reason))
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The configured account, which a request context is filled from when the request names
    /// no other. Shared, so a context per request costs a reference count, not an allocation.
    pub fn default_account(&self) -> std::sync::Arc<str> {
        self.inner.default_account.clone()
    }

    /// How metadata records a request's account: `None` for the configured one.
    pub(crate) fn stored_account(&self, account: &str) -> Option<String> {
        (account != &*self.inner.default_account).then(|| account.to_string())
    }

    pub fn stream_arn(&self, region: &str, account: &str, name: &str) -> String {
        format!("arn:aws:kinesis:{region}:{account}:stream/{name}")
    }

    /// Reserves `count` never-used log ids, durably, before anything refers to them.
    pub(crate) async fn allocate_logs(&self, count: u64) -> Result<Vec<u64>> {
        let mut next = self.inner.next_log.lock().await;
        let first = *next;
        let after = first + count;
        self.inner
            .store
            .catalog_put(CATALOG_NEXT_LOG, after.to_string().as_bytes())?;
        *next = after;
        Ok((first..after).collect())
    }

    pub(crate) fn persist(&self, meta: &StreamMeta) -> Result<()> {
        let key = catalog_key(meta.account.as_deref(), &meta.region, &meta.name);
        let doc = serde_json::to_vec(meta)
            .map_err(|e| KinesisError::Internal(format!("cannot encode metadata: {e}")))?;
        self.inner.store.catalog_put(&key, &doc)?;
        Ok(())
    }

    /// The stream's name in the request's region, from `StreamName` or `StreamARN`.
    pub(crate) fn target_name(&self, ctx: &Ctx, target: &StreamTarget) -> Result<String> {
        match (&target.name, &target.arn) {
            (Some(name), None) => Ok(name.clone()),
            (name, Some(arn)) => {
                let (region, account, arn_name) = parse_stream_arn(arn)
                    .ok_or_else(|| KinesisError::InvalidArgument(format!("Invalid ARN: {arn}")))?;
                if account != ctx.account() || region != ctx.region {
                    return Err(messages::stream_not_found(
                        arn_name,
                        &account_display(account),
                    ));
                }
                if let Some(name) = name {
                    if name != arn_name {
                        return Err(KinesisError::InvalidArgument(format!(
                            "StreamName {name} and StreamARN {arn} do not refer to the same stream."
                        )));
                    }
                }
                Ok(arn_name.to_string())
            }
            (None, None) => Err(messages::either_name_or_arn()),
        }
    }

    /// With the throughput limits on, takes one call of `op`'s control-plane budget, or refuses
    /// with LimitExceededException. `target` names the stream the call is about, if any.
    pub(crate) fn control_rate(
        &self,
        ctx: &Ctx,
        op: crate::throttle::ControlOp,
        target: Option<&StreamTarget>,
    ) -> Result<()> {
        if !self.inner.config.throughput_limits {
            return Ok(());
        }
        let stream = target.and_then(|t| self.target_name(ctx, t).ok());
        let stream_name = stream.as_deref().unwrap_or_default();
        if self
            .inner
            .control
            .admit(ctx.account(), &ctx.region, op, stream_name, self.now_ms())
        {
            return Ok(());
        }
        Err(messages::control_rate_exceeded(
            stream.as_deref(),
            ctx.account(),
        ))
    }

    /// Finds a stream, completing its pending transition first if it is due.
    pub(crate) async fn lookup(
        &self,
        ctx: &Ctx,
        target: &StreamTarget,
    ) -> Result<(String, Handle)> {
        let name = self.target_name(ctx, target)?;
        let handle = self.lookup_name(&ctx.region, ctx.account(), &name).await?;
        Ok((name, handle))
    }

    pub(crate) async fn lookup_name(
        &self,
        region: &str,
        account: &str,
        name: &str,
    ) -> Result<Handle> {
        let Some(handle) = self.get_handle(account, region, name) else {
            return Err(self
                .damaged_stream(region, account, name)
                .unwrap_or_else(|| messages::stream_not_found(name, account)));
        };
        self.settle(&handle).await?;
        if handle.read().await.gone {
            return Err(messages::stream_not_found(name, account));
        }
        Ok(handle)
    }

    /// The stream `name` of `account` (as the request names it) in `region`.
    pub(crate) fn get_handle(&self, account: &str, region: &str, name: &str) -> Option<Handle> {
        let key = (
            self.stored_account(account),
            region.to_string(),
            name.to_string(),
        );
        self.inner.registry.read().get(&key).cloned()
    }

    pub(crate) fn handles(&self) -> Vec<Handle> {
        self.inner.registry.read().values().cloned().collect()
    }

    /// Completes the stream's pending transition if its time has come.
    pub(crate) async fn settle(&self, handle: &Handle) -> Result<()> {
        let now = self.now_ms();
        {
            let state = handle.read().await;
            let stream_due = state.meta.pending.is_some() && state.meta.due_ms <= now;
            if state.gone || !(stream_due || consumer_transition_due(&state.meta, now)) {
                return Ok(());
            }
        }
        let mut state = handle.write().await;
        if !state.gone && settle_consumers(&mut state.meta, now) {
            self.persist(&state.meta)?;
        }
        let Some(pending) = state.meta.pending.clone() else {
            return Ok(());
        };
        if state.gone || state.meta.due_ms > now {
            return Ok(());
        }
        match pending {
            Pending::Activate => {
                state.meta.status = StreamStatus::Active;
                state.meta.pending = None;
                self.persist(&state.meta)?;
            }
            Pending::Mode(mode) => {
                state.meta.mode = mode;
                state.meta.status = StreamStatus::Active;
                state.meta.pending = None;
                self.persist(&state.meta)?;
            }
            Pending::Update => {
                state.meta.status = StreamStatus::Active;
                state.meta.pending = None;
                self.persist(&state.meta)?;
            }
            Pending::WarmThroughput(mibps) => {
                state.meta.warm_throughput_mibps = Some(mibps);
                state.meta.status = StreamStatus::Active;
                state.meta.pending = None;
                self.persist(&state.meta)?;
            }
            Pending::Reshard(plan) => {
                self.apply_reshard(&mut state, &plan, now);
                state.meta.status = StreamStatus::Active;
                state.meta.pending = None;
                self.persist(&state.meta)?;
            }
            Pending::Delete => {
                // Logs first, metadata last: a crash in between leaves the stream DELETING in
                // the catalog, and the next open finishes the deletion (deleting a log twice is
                // harmless, and log ids are never reused). The other order left logs that no
                // metadata named, never trimmed, pinning the journal forever.
                state.gone = true;
                for shard in &state.meta.shards {
                    self.inner.store.delete_log(LogId(shard.log)).await?;
                }
                let key = (
                    state.meta.account.clone(),
                    state.meta.region.clone(),
                    state.meta.name.clone(),
                );
                self.inner
                    .store
                    .catalog_delete(&catalog_key(key.0.as_deref(), &key.1, &key.2))?;
                let mut reg = self.inner.registry.write();
                if reg.get(&key).is_some_and(|h| Arc::ptr_eq(h, handle)) {
                    reg.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// Periodic work: completes due transitions and applies retention. The server calls it
    /// every few hundred milliseconds; every operation also settles the stream it touches.
    pub async fn tick(&self) {
        let now = self.now_ms();
        for handle in self.handles() {
            if let Err(e) = self.settle(&handle).await {
                tracing::warn!(error = %e, "could not complete a stream transition");
            }
            let state = handle.read().await;
            if state.gone {
                continue;
            }
            let horizon = now - i64::from(state.meta.retention_hours) * 3_600_000;
            // A trim may scan the journal: outside the stream's lock, so no one waits on it.
            let logs: Vec<u64> = state.meta.shards.iter().map(|s| s.log).collect();
            drop(state);
            for log in logs {
                if let Err(e) = self.inner.store.trim(LogId(log), horizon).await {
                    tracing::warn!(error = %e, log, "retention trim failed");
                }
            }
        }
    }
}

/// The next never-used log id: the maximum of the durable counter, every id `referenced` by loadable metadata + 1,
/// and every log the store holds + 1; past a missing or damaged counter while some metadata is `damaged`, skipped
/// [`LOG_ID_SKIP`] further (the damaged entry may reserve logs that hold nothing yet).
pub(crate) fn next_log_id(
    store: &Store,
    referenced: impl Iterator<Item = u64>,
    store_logs: &[LogId],
    damaged: bool,
) -> Result<u64> {
    let counter = match store.catalog_get(CATALOG_NEXT_LOG) {
        Ok(Some(bytes)) => match std::str::from_utf8(&bytes)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(n) => Counter::Valid(n),
            None => Counter::Damaged("not a number".into()),
        },
        Ok(None) => Counter::Missing,
        Err(rheo_log::CatalogError::Corrupt(e)) => Counter::Damaged(e),
        Err(e) => return Err(e.into()),
    };
    let known_next = referenced
        .chain(store_logs.iter().map(|l| l.0))
        .max()
        .map_or(1, |m| m.saturating_add(1))
        .max(rheo_log::FIRST_ALLOCATED_LOG);
    Ok(match counter {
        // Every id ever handed out was reserved in the counter before anything named it.
        Counter::Valid(n) => n.max(known_next),
        // Without the counter, the highest id named by readable metadata or holding data is the highest
        // used, unless an unreadable entry names reserved logs that hold nothing yet: skip far past those.
        Counter::Missing if !damaged => known_next,
        Counter::Missing => known_next.saturating_add(LOG_ID_SKIP),
        Counter::Damaged(why) => {
            tracing::error!(reason = %why, "the log-id counter is damaged; new log ids skip ahead");
            if damaged {
                known_next.saturating_add(LOG_ID_SKIP)
            } else {
                known_next
            }
        }
    })
}

/// Durably sets the log-id counter (ids below `next` are used or reserved).
pub(crate) fn store_next_log_id(store: &Store, next: u64) -> Result<()> {
    store.catalog_put(CATALOG_NEXT_LOG, next.to_string().as_bytes())?;
    Ok(())
}

pub(crate) const CATALOG_NEXT_LOG_KEY: &str = CATALOG_NEXT_LOG;

/// `stream/<region>/<name>` for the configured account (the key every build before accounts
/// wrote), `stream/@<account>/<region>/<name>` for another.
pub(crate) fn catalog_key(account: Option<&str>, region: &str, name: &str) -> String {
    match account {
        None => format!("{CATALOG_STREAM_PREFIX}{region}/{name}"),
        Some(account) => format!("{CATALOG_STREAM_PREFIX}@{account}/{region}/{name}"),
    }
}

/// The context an operation that AWS lets a resource policy share across accounts acts in on
/// the stream `arn` names (a consumer ARN's stream): the owner's when the owner granted the
/// request ([`Ctx::acting_in`]), else the request's own, in which an ARN of another account
/// then names no stream. Calls that name a stream only by `StreamName` always act in the
/// caller's account.
pub(crate) fn reach<'c>(ctx: &'c Ctx, arn: Option<&str>) -> std::borrow::Cow<'c, Ctx> {
    let owner = arn
        .and_then(parse_stream_arn)
        .map(|(_, account, _)| account);
    ctx.acting_in(owner)
        .unwrap_or(std::borrow::Cow::Borrowed(ctx))
}

fn account_display(account: &str) -> String {
    account.to_string()
}

/// Splits `arn:aws:kinesis:<region>:<account>:stream/<name>` (consumer ARNs resolve to their
/// stream) into (region, account, name).
pub(crate) fn parse_stream_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (arn_lit, partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    if arn_lit != "arn" || !partition.starts_with("aws") || service != "kinesis" {
        return None;
    }
    let rest = resource.strip_prefix("stream/")?;
    let name = rest.split('/').next()?;
    if name.is_empty() {
        return None;
    }
    Some((region, account, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stream_and_consumer_arns() {
        assert_eq!(
            parse_stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s1"),
            Some(("us-east-1", "000000000000", "s1"))
        );
        assert_eq!(
            parse_stream_arn("arn:aws:kinesis:eu-west-1:123456789012:stream/s/consumer/c:1"),
            Some(("eu-west-1", "123456789012", "s"))
        );
        assert_eq!(parse_stream_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(parse_stream_arn("arn:aws:kinesis:r:a:stream/"), None);
    }
}
