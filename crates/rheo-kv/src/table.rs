//! [`KvTable`]: a versioned key-value table kept in one log of a [`Store`].
//!
//! Writes go through one committer task per table. It takes every write queued since its last
//! journal append, checks their conditions in queue order (each against the table as the
//! writes before it in the group leave it), encodes the ones that pass into one batch and
//! appends it: a burst of lease renewals costs one journal write and one fsync, however many
//! workers send them. Only once the append is durable does the committer apply the group to
//! the in-memory map and answer the writers, so a read never sees a write that a crash could
//! still take back. The committer is the only writer of the table's log, which is also what
//! lets it write a snapshot without interleaving: see `docs/design/kv-store.md`.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::RwLock;
use rheo_log::{Batch, LogId, Offset, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::codec::{self, Record, ITEM_HEADER_BYTES};
use crate::error::KvError;
use crate::{KEY_BYTES_MAX, VALUE_BYTES_MAX};

/// Most writes one journal append carries. Bounds the time one group holds the committer.
const GROUP_OPS_MAX: usize = 4096;
/// Most record bytes one journal append carries (well under the engine's frame bound).
const GROUP_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Most record bytes of one snapshot frame; a larger snapshot is written as several appends.
const SNAPSHOT_FRAME_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Entries / bytes asked of one read while replaying at open.
const REPLAY_READ_ENTRIES_MAX: usize = 4096;
const REPLAY_READ_BYTES_MAX: usize = 16 * 1024 * 1024;

/// The condition a write is made under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// No condition.
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist at exactly this version.
    Version(u64),
}

impl Expected {
    fn holds(self, current: Option<u64>) -> bool {
        match self {
            Expected::Any => true,
            Expected::Absent => current.is_none(),
            Expected::Version(v) => current == Some(v),
        }
    }
}

/// A value and the version that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    /// The version of the write that stored `value` (table-wide counter; increases with every
    /// write of the table and is never given twice, also not after a delete).
    pub version: u64,
    /// The value.
    pub value: Bytes,
}

/// One item of a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The key.
    pub key: Vec<u8>,
    /// Its version.
    pub version: u64,
    /// Its value.
    pub value: Bytes,
}

/// Tuning of a table's journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvConfig {
    /// A snapshot is written once the records appended since the last one exceed this many
    /// times the live table's size (k in the design note): the log then holds at most about
    /// (k + 1) x the live size, plus what the engine keeps until a segment can be deleted.
    pub snapshot_factor: u64,
    /// ... and exceed this many bytes, so that a small table is not snapshotted on every write.
    pub snapshot_min_bytes: u64,
}

/// Default [`KvConfig::snapshot_factor`].
pub const DEFAULT_SNAPSHOT_FACTOR: u64 = 4;
/// Default [`KvConfig::snapshot_min_bytes`] (1 MiB).
pub const DEFAULT_SNAPSHOT_MIN_BYTES: u64 = 1024 * 1024;

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            snapshot_factor: DEFAULT_SNAPSHOT_FACTOR,
            snapshot_min_bytes: DEFAULT_SNAPSHOT_MIN_BYTES,
        }
    }
}

/// Counters for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KvStats {
    /// Live items.
    pub items: u64,
    /// Encoded size of the live items (what a snapshot writes).
    pub live_bytes: u64,
    /// Record bytes in the log after the last complete snapshot.
    pub bytes_since_snapshot: u64,
    /// Snapshots written since open.
    pub snapshots: u64,
    /// Journal appends of writes since open (one per group commit).
    pub groups: u64,
    /// The highest version given so far.
    pub version_counter: u64,
}

#[derive(Debug, Default)]
struct State {
    items: BTreeMap<Vec<u8>, Versioned>,
    counter: u64,
    live_bytes: u64,
    since_snapshot: u64,
    snapshots: u64,
    groups: u64,
}

fn item_bytes(key: &[u8], value: &[u8]) -> u64 {
    (ITEM_HEADER_BYTES + key.len() + value.len()) as u64
}

#[derive(Debug)]
struct Shared {
    store: Store,
    log: LogId,
    config: KvConfig,
    state: RwLock<State>,
}

enum Op {
    Put {
        key: Vec<u8>,
        value: Bytes,
        expected: Expected,
        reply: oneshot::Sender<Result<u64, KvError>>,
    },
    Delete {
        key: Vec<u8>,
        expected: Expected,
        reply: oneshot::Sender<Result<Option<u64>, KvError>>,
    },
}

impl Op {
    fn key(&self) -> &[u8] {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } => key,
        }
    }

    fn expected(&self) -> Expected {
        match self {
            Op::Put { expected, .. } | Op::Delete { expected, .. } => *expected,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Op::Put { key, value, .. } => ITEM_HEADER_BYTES + key.len() + value.len(),
            Op::Delete { key, .. } => ITEM_HEADER_BYTES + key.len(),
        }
    }
}

/// What the check of one queued write decided.
#[derive(Clone, Copy)]
enum Outcome {
    /// Write a record with `version`; the key was at `before`.
    Write { version: u64, before: Option<u64> },
    /// Nothing to write; answer with this (a delete of an absent key: `None`).
    Nothing(Option<u64>),
    /// The condition failed against this current version.
    Refused(Option<u64>),
}

/// A versioned key-value table with compare-and-set, kept in one log of a [`Store`].
///
/// The table owns its log: every entry of `log` must have been written by a `KvTable`, and no
/// other component may append to, trim or delete it. Callers allocate the [`LogId`] so that it
/// never collides with the store's other logs (stream shards, other tables).
///
/// Every write returns once it is durable (per the store's fsync policy) and visible to reads;
/// reads are served from memory. Concurrent writes are serialised in one queue; writes that
/// queue up while the journal is busy share one append (group commit). A write whose future
/// is dropped after it was queued is still carried out.
///
/// Works on the disk engine and on the in-memory one (`StoreConfig::dir == None`).
#[derive(Debug)]
pub struct KvTable {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Op>,
    committer: JoinHandle<()>,
}

impl KvTable {
    /// Opens the table kept in `log` of `store`, rebuilding it from the log (from its last
    /// complete snapshot on), and starts its committer task (on the current tokio runtime).
    pub async fn open(store: Store, log: LogId, config: KvConfig) -> Result<KvTable, KvError> {
        let state = replay(&store, log)?;
        let shared = Arc::new(Shared {
            store,
            log,
            config,
            state: RwLock::new(state),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let committer = tokio::spawn(run(Arc::clone(&shared), rx));
        let table = KvTable {
            shared,
            tx,
            committer,
        };
        // A table reopened over a long journal (a crash before its trim, a history of
        // deletes) is brought back to size at once.
        Ok(table)
    }

    /// Stops the committer once every write queued so far is answered, and releases the
    /// table's hold on the store.
    pub async fn close(self) {
        let KvTable {
            shared,
            tx,
            committer,
        } = self;
        drop(tx);
        drop(shared);
        if let Err(e) = committer.await {
            tracing::error!(error = %e, "kv table committer failed");
        }
    }

    /// The log the table lives in.
    pub fn log(&self) -> LogId {
        self.shared.log
    }

    /// Stores `value` under `key` if `expected` holds; returns the new version.
    pub async fn put(
        &self,
        key: &[u8],
        value: impl Into<Bytes>,
        expected: Expected,
    ) -> Result<u64, KvError> {
        check_key(key)?;
        let value = value.into();
        if value.len() > VALUE_BYTES_MAX {
            return Err(KvError::ValueTooLarge { bytes: value.len() });
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Put {
                key: key.to_vec(),
                value,
                expected,
                reply,
            })
            .map_err(|_| KvError::Closed)?;
        rx.await.map_err(|_| KvError::Closed)?
    }

    /// Removes `key` if `expected` holds; returns the version the removed item had (`None`:
    /// the key was absent, nothing was written).
    pub async fn delete(&self, key: &[u8], expected: Expected) -> Result<Option<u64>, KvError> {
        check_key(key)?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Delete {
                key: key.to_vec(),
                expected,
                reply,
            })
            .map_err(|_| KvError::Closed)?;
        rx.await.map_err(|_| KvError::Closed)?
    }

    /// The current value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<Versioned> {
        self.shared.state.read().items.get(key).cloned()
    }

    /// Up to `limit` items with keys in (`start`, `end`), ascending by key.
    pub fn scan(&self, start: Bound<&[u8]>, end: Bound<&[u8]>, limit: usize) -> Vec<Item> {
        if range_is_empty(start, end) {
            return Vec::new();
        }
        let st = self.shared.state.read();
        st.items
            .range::<[u8], _>((start, end))
            .take(limit)
            .map(|(k, v)| Item {
                key: k.clone(),
                version: v.version,
                value: v.value.clone(),
            })
            .collect()
    }

    /// Up to `limit` items whose key starts with `prefix`, ascending by key.
    pub fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Vec<Item> {
        let st = self.shared.state.read();
        st.items
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| Item {
                key: k.clone(),
                version: v.version,
                value: v.value.clone(),
            })
            .collect()
    }

    /// Number of live items.
    pub fn len(&self) -> usize {
        self.shared.state.read().items.len()
    }

    /// Whether the table holds no item.
    pub fn is_empty(&self) -> bool {
        self.shared.state.read().items.is_empty()
    }

    /// Counters for metrics and tests.
    pub fn stats(&self) -> KvStats {
        let st = self.shared.state.read();
        KvStats {
            items: st.items.len() as u64,
            live_bytes: st.live_bytes,
            bytes_since_snapshot: st.since_snapshot,
            snapshots: st.snapshots,
            groups: st.groups,
            version_counter: st.counter,
        }
    }
}

fn check_key(key: &[u8]) -> Result<(), KvError> {
    if key.is_empty() || key.len() > KEY_BYTES_MAX {
        return Err(KvError::KeyBounds { bytes: key.len() });
    }
    Ok(())
}

/// Whether `BTreeMap::range` would find nothing (and, for these bounds, panic).
fn range_is_empty(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s > e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s >= e,
        _ => false,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The committer: one group of queued writes per journal append, then a snapshot when due.
async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Op>) {
    let mut group: Vec<Op> = Vec::new();
    let mut scratch = Vec::new();
    maybe_snapshot(&shared, &mut scratch).await;
    while let Some(op) = rx.recv().await {
        let mut bytes = op.bytes();
        group.push(op);
        while group.len() < GROUP_OPS_MAX && bytes < GROUP_BYTES_MAX {
            match rx.try_recv() {
                Ok(op) => {
                    bytes += op.bytes();
                    group.push(op);
                }
                Err(_) => break,
            }
        }
        commit(&shared, &mut group, &mut scratch).await;
        maybe_snapshot(&shared, &mut scratch).await;
    }
}

/// Checks, appends and applies one group, and answers its writers.
async fn commit(shared: &Shared, group: &mut Vec<Op>, scratch: &mut Vec<u8>) {
    let mut outcomes = Vec::with_capacity(group.len());
    let mut batch = Batch::new();
    let mut written = 0u64;
    let counter = {
        let st = shared.state.read();
        // Versions the group's earlier writes give their keys (None: deleted by the group).
        let mut overlay: BTreeMap<&[u8], Option<u64>> = BTreeMap::new();
        let mut counter = st.counter;
        for op in group.iter() {
            let key = op.key();
            let current = match overlay.get(key) {
                Some(v) => *v,
                None => st.items.get(key).map(|v| v.version),
            };
            if !op.expected().holds(current) {
                outcomes.push(Outcome::Refused(current));
                continue;
            }
            if matches!(op, Op::Delete { .. }) && current.is_none() {
                outcomes.push(Outcome::Nothing(None));
                continue;
            }
            let Some(version) = counter.checked_add(1) else {
                // 2^64 writes: unreachable in practice; refuse rather than reuse a version.
                outcomes.push(Outcome::Refused(current));
                continue;
            };
            counter = version;
            let record = match op {
                Op::Put { key, value, .. } => Record::Put {
                    version,
                    key,
                    value,
                },
                Op::Delete { key, .. } => Record::Delete { version, key },
            };
            scratch.clear();
            codec::encode(&record, scratch);
            batch.push(scratch);
            written += scratch.len() as u64;
            overlay.insert(key, matches!(op, Op::Put { .. }).then_some(version));
            outcomes.push(Outcome::Write {
                version,
                before: current,
            });
        }
        counter
    };
    let failure = if batch.is_empty() {
        None
    } else {
        let mut acks = shared
            .store
            .append_batches(vec![(shared.log, now_ms(), batch)])
            .await;
        match acks.pop() {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(KvError::Append(e)),
            None => Some(KvError::Closed),
        }
    };
    {
        let mut st = shared.state.write();
        // Versions of a failed group are burnt too: its frame may still have reached the disk.
        st.counter = st.counter.max(counter);
        if failure.is_none() && written > 0 {
            st.groups += 1;
            st.since_snapshot += written;
            for (op, outcome) in group.iter().zip(&outcomes) {
                let Outcome::Write { version, .. } = *outcome else {
                    continue;
                };
                match op {
                    Op::Put { key, value, .. } => {
                        let added = item_bytes(key, value);
                        let old = st.items.insert(
                            key.clone(),
                            Versioned {
                                version,
                                value: value.clone(),
                            },
                        );
                        let removed = old.map_or(0, |o| item_bytes(key, &o.value));
                        st.live_bytes = (st.live_bytes + added).saturating_sub(removed);
                    }
                    Op::Delete { key, .. } => {
                        if let Some(o) = st.items.remove(key.as_slice()) {
                            st.live_bytes = st.live_bytes.saturating_sub(item_bytes(key, &o.value));
                        }
                    }
                }
            }
        }
    }
    // Answers go out after the state is updated, so a writer that reads its own write sees it.
    for (op, outcome) in group.drain(..).zip(outcomes) {
        match op {
            Op::Put { reply, .. } => {
                let answer = match (&failure, outcome) {
                    (Some(e), _) => Err(e.clone()),
                    (None, Outcome::Write { version, .. }) => Ok(version),
                    (None, Outcome::Refused(current) | Outcome::Nothing(current)) => {
                        Err(KvError::ConditionFailed { current })
                    }
                };
                let _ = reply.send(answer);
            }
            Op::Delete { reply, .. } => {
                let answer = match (&failure, outcome) {
                    (Some(e), _) => Err(e.clone()),
                    (None, Outcome::Write { before, .. }) => Ok(before),
                    (None, Outcome::Nothing(_)) => Ok(None),
                    (None, Outcome::Refused(current)) => Err(KvError::ConditionFailed { current }),
                };
                let _ = reply.send(answer);
            }
        }
    }
}

/// Writes a snapshot and trims the log below it once the records since the last one outgrow
/// the configured multiple of the live size. Runs in the committer, so no write of the table
/// can land between the begin and end markers. Crash cases: `docs/design/kv-store.md`.
async fn maybe_snapshot(shared: &Shared, scratch: &mut Vec<u8>) {
    let batches = {
        let st = shared.state.read();
        let threshold = st
            .live_bytes
            .saturating_mul(shared.config.snapshot_factor)
            .max(shared.config.snapshot_min_bytes);
        if st.since_snapshot <= threshold {
            return;
        }
        let items = st.items.len() as u64;
        let marker = |end: bool| {
            if end {
                Record::SnapshotEnd {
                    counter: st.counter,
                    items,
                }
            } else {
                Record::SnapshotBegin {
                    counter: st.counter,
                    items,
                }
            }
        };
        let mut batches = Vec::new();
        let mut batch = Batch::new();
        let mut push = |batch: &mut Batch, record: &Record<'_>| {
            scratch.clear();
            codec::encode(record, scratch);
            batch.push(scratch);
        };
        push(&mut batch, &marker(false));
        for (key, v) in &st.items {
            if batch.frame_len() >= SNAPSHOT_FRAME_BYTES_MAX as u64 {
                batches.push(std::mem::take(&mut batch));
            }
            push(
                &mut batch,
                &Record::SnapshotItem {
                    version: v.version,
                    key,
                    value: &v.value,
                },
            );
        }
        push(&mut batch, &marker(true));
        batches.push(batch);
        batches
    };
    let mut begin: Option<Offset> = None;
    for batch in batches {
        match shared
            .store
            .append_batches(vec![(shared.log, now_ms(), batch)])
            .await
            .pop()
        {
            Some(Ok(ack)) => {
                begin.get_or_insert(ack.first);
            }
            Some(Err(e)) => {
                // The partial snapshot is ignored by replay (no end marker); the next commit
                // tries again.
                tracing::warn!(log = shared.log.0, error = %e, "kv table snapshot failed");
                return;
            }
            None => return,
        }
    }
    let Some(begin) = begin else {
        return;
    };
    {
        let mut st = shared.state.write();
        st.since_snapshot = 0;
        st.snapshots += 1;
    }
    // Until this trim is durable, replay reads the old records and then the snapshot, which
    // replaces what they built: the same state either way.
    if let Err(e) = shared.store.trim_to_offset(shared.log, begin).await {
        tracing::warn!(log = shared.log.0, error = %e, "kv table trim failed");
    }
}

/// A snapshot being read back: its begin marker's fields and the items so far.
struct Pending {
    counter: u64,
    expected: u64,
    items: BTreeMap<Vec<u8>, Versioned>,
    live_bytes: u64,
}

/// Rebuilds a table's state from its log: records apply in log order; a complete snapshot
/// (begin marker, its items, end marker) replaces the state built so far; an incomplete one
/// (a crash while it was written) is dropped when the next non-item record or the end of the
/// log is met.
#[derive(Default)]
struct Replay {
    state: State,
    pending: Option<Pending>,
    /// Bytes of the pending snapshot's records, counted as "since the last snapshot" if it
    /// turns out torn.
    pending_bytes: u64,
}

impl Replay {
    fn abandon_pending(&mut self) {
        if self.pending.take().is_some() {
            self.state.since_snapshot += self.pending_bytes;
        }
        self.pending_bytes = 0;
    }

    fn apply(&mut self, offset: u64, payload: &[u8]) -> Result<(), KvError> {
        let record =
            codec::decode(payload).map_err(|source| KvError::Corrupt { offset, source })?;
        let history = |reason| KvError::History { offset, reason };
        let len = payload.len() as u64;
        match record {
            Record::Put {
                version,
                key,
                value,
            } => {
                self.abandon_pending();
                if version <= self.state.counter {
                    return Err(history("a write's version does not increase"));
                }
                let st = &mut self.state;
                st.counter = version;
                st.since_snapshot += len;
                let old = st.items.insert(
                    key.to_vec(),
                    Versioned {
                        version,
                        value: Bytes::copy_from_slice(value),
                    },
                );
                let removed = old.map_or(0, |o| item_bytes(key, &o.value));
                st.live_bytes = (st.live_bytes + item_bytes(key, value)).saturating_sub(removed);
            }
            Record::Delete { version, key } => {
                self.abandon_pending();
                if version <= self.state.counter {
                    return Err(history("a delete's version does not increase"));
                }
                let st = &mut self.state;
                st.counter = version;
                st.since_snapshot += len;
                if let Some(o) = st.items.remove(key) {
                    st.live_bytes = st.live_bytes.saturating_sub(item_bytes(key, &o.value));
                }
            }
            Record::SnapshotBegin { counter, items } => {
                self.abandon_pending();
                if counter < self.state.counter {
                    return Err(history("a snapshot's counter is below the table's"));
                }
                self.pending = Some(Pending {
                    counter,
                    expected: items,
                    items: BTreeMap::new(),
                    live_bytes: 0,
                });
                self.pending_bytes = len;
            }
            Record::SnapshotItem {
                version,
                key,
                value,
            } => {
                let Some(p) = self.pending.as_mut() else {
                    return Err(history("a snapshot item outside a snapshot"));
                };
                if version > p.counter {
                    return Err(history("a snapshot item is newer than its snapshot"));
                }
                if p.items.len() as u64 >= p.expected {
                    return Err(history("a snapshot holds more items than it announced"));
                }
                if p.items
                    .last_key_value()
                    .is_some_and(|(last, _)| last.as_slice() >= key)
                {
                    return Err(history("snapshot items are not in key order"));
                }
                p.live_bytes += item_bytes(key, value);
                p.items.insert(
                    key.to_vec(),
                    Versioned {
                        version,
                        value: Bytes::copy_from_slice(value),
                    },
                );
                self.pending_bytes += len;
            }
            Record::SnapshotEnd { counter, items } => {
                let Some(p) = self.pending.take() else {
                    return Err(history("a snapshot end without its begin"));
                };
                self.pending_bytes = 0;
                if p.counter != counter || p.expected != items || p.items.len() as u64 != items {
                    return Err(history("a snapshot end does not match its begin"));
                }
                let st = &mut self.state;
                st.items = p.items;
                st.live_bytes = p.live_bytes;
                st.counter = st.counter.max(counter);
                st.since_snapshot = 0;
            }
        }
        Ok(())
    }
}

/// Reads the table's log from its start and rebuilds the state.
///
/// Offsets may jump forward: after a restart that dropped a torn tail the engine continues a log above its durable
/// reservation (offsets in between were never handed out). Missing entries are refused instead: a log with damaged
/// or lost ranges (`fsck --repair`) fails the open, since skipping them could resurrect deleted items or lose
/// writes silently.
fn replay(store: &Store, log: LogId) -> Result<State, KvError> {
    let bounds = store.bounds(log)?;
    if let Some(r) = store
        .damage()
        .iter()
        .flat_map(|d| d.ranges.iter())
        .find(|r| r.log == log.0)
    {
        return Err(KvError::History {
            offset: r.from,
            reason: "entries of the table's log are missing",
        });
    }
    let mut replay = Replay::default();
    let mut from = bounds.start;
    while from < bounds.end {
        let entries =
            store.read_blocking(log, from, REPLAY_READ_ENTRIES_MAX, REPLAY_READ_BYTES_MAX)?;
        if entries.is_empty() {
            // Nothing at `from` below the end: a skipped range at the end of what is stored.
            let next = store.readable_from(log, from);
            if next > from {
                from = next;
                continue;
            }
            break;
        }
        for e in &entries {
            if e.offset < from {
                return Err(KvError::History {
                    offset: from.0,
                    reason: "entries of the table's log are out of order",
                });
            }
            replay.apply(e.offset.0, &e.payload)?;
            from = Offset(e.offset.0 + 1);
        }
    }
    replay.abandon_pending();
    Ok(replay.state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(r: Record<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        codec::encode(&r, &mut out);
        out
    }

    fn put(version: u64, key: &[u8], value: &[u8]) -> Vec<u8> {
        rec(Record::Put {
            version,
            key,
            value,
        })
    }

    fn replayed(records: &[Vec<u8>]) -> Result<State, KvError> {
        let mut r = Replay::default();
        for (i, p) in records.iter().enumerate() {
            r.apply(i as u64, p)?;
        }
        r.abandon_pending();
        Ok(r.state)
    }

    #[test]
    fn expected_conditions() {
        assert!(Expected::Any.holds(None));
        assert!(Expected::Any.holds(Some(3)));
        assert!(Expected::Absent.holds(None));
        assert!(!Expected::Absent.holds(Some(3)));
        assert!(Expected::Version(3).holds(Some(3)));
        assert!(!Expected::Version(3).holds(Some(4)));
        assert!(!Expected::Version(3).holds(None));
    }

    #[test]
    fn empty_ranges_are_recognised() {
        let (a, b): (&[u8], &[u8]) = (b"a", b"b");
        assert!(range_is_empty(Bound::Included(b), Bound::Included(a)));
        assert!(!range_is_empty(Bound::Included(a), Bound::Included(a)));
        assert!(range_is_empty(Bound::Excluded(a), Bound::Excluded(a)));
        assert!(range_is_empty(Bound::Included(a), Bound::Excluded(a)));
        assert!(range_is_empty(Bound::Excluded(a), Bound::Included(a)));
        assert!(!range_is_empty(Bound::Unbounded, Bound::Excluded(a)));
    }

    #[test]
    fn a_complete_snapshot_replaces_the_state_and_keeps_the_counter() {
        let st = replayed(&[
            put(1, b"a", b"1"),
            put(2, b"b", b"2"),
            rec(Record::SnapshotBegin {
                counter: 3,
                items: 1,
            }),
            rec(Record::SnapshotItem {
                version: 2,
                key: b"b",
                value: b"2",
            }),
            rec(Record::SnapshotEnd {
                counter: 3,
                items: 1,
            }),
            put(4, b"c", b"3"),
        ])
        .unwrap();
        assert_eq!(st.items.keys().collect::<Vec<_>>(), [b"b", b"c"]);
        assert_eq!(st.counter, 4);
        assert_eq!(
            st.live_bytes,
            item_bytes(b"b", b"2") + item_bytes(b"c", b"3")
        );
        assert_eq!(st.since_snapshot, put(4, b"c", b"3").len() as u64);
    }

    #[test]
    fn a_torn_snapshot_is_ignored() {
        let begin = rec(Record::SnapshotBegin {
            counter: 2,
            items: 1,
        });
        let item = rec(Record::SnapshotItem {
            version: 2,
            key: b"b",
            value: b"2",
        });
        // Torn at the end of the log, and torn with later writes after it.
        for tail in [vec![], vec![put(3, b"c", b"3")]] {
            let mut records = vec![
                put(1, b"a", b"1"),
                put(2, b"b", b"2"),
                begin.clone(),
                item.clone(),
            ];
            records.extend(tail.clone());
            let st = replayed(&records).unwrap();
            let mut keys: Vec<&[u8]> = vec![b"a", b"b"];
            if !tail.is_empty() {
                keys.push(b"c");
            }
            assert_eq!(st.items.keys().map(Vec::as_slice).collect::<Vec<_>>(), keys);
            assert!(st.since_snapshot > 0);
        }
        // A torn snapshot followed by a complete one.
        let st = replayed(&[
            put(1, b"a", b"1"),
            put(2, b"b", b"2"),
            begin.clone(),
            begin,
            item,
            rec(Record::SnapshotEnd {
                counter: 2,
                items: 1,
            }),
        ])
        .unwrap();
        assert_eq!(st.items.len(), 1);
        assert_eq!(st.since_snapshot, 0);
    }

    #[test]
    fn contradictions_are_refused() {
        let cases: Vec<Vec<Vec<u8>>> = vec![
            vec![put(2, b"a", b""), put(2, b"b", b"")],
            vec![
                put(2, b"a", b""),
                rec(Record::Delete {
                    version: 1,
                    key: b"a",
                }),
            ],
            vec![rec(Record::SnapshotItem {
                version: 1,
                key: b"a",
                value: b"",
            })],
            vec![rec(Record::SnapshotEnd {
                counter: 0,
                items: 0,
            })],
            vec![
                rec(Record::SnapshotBegin {
                    counter: 1,
                    items: 0,
                }),
                rec(Record::SnapshotItem {
                    version: 1,
                    key: b"a",
                    value: b"",
                }),
            ],
            vec![
                rec(Record::SnapshotBegin {
                    counter: 5,
                    items: 2,
                }),
                rec(Record::SnapshotItem {
                    version: 1,
                    key: b"b",
                    value: b"",
                }),
                rec(Record::SnapshotItem {
                    version: 2,
                    key: b"a",
                    value: b"",
                }),
            ],
            vec![
                rec(Record::SnapshotBegin {
                    counter: 5,
                    items: 1,
                }),
                rec(Record::SnapshotEnd {
                    counter: 5,
                    items: 1,
                }),
            ],
            vec![vec![1, 77]],
        ];
        for records in cases {
            assert!(replayed(&records).is_err(), "{records:?}");
        }
    }
}
