//! `rheo-log`: Rheo's storage engine.
//!
//! A [`Store`] holds many independent append-only logs ([`Log`]s identified by [`LogId`]) of opaque byte entries.
//! Every entry gets a dense per-log [`Offset`] and a millisecond timestamp that never decreases within a log.
//!
//! On disk, all logs share ONE journal of numbered segment files so that a single `fdatasync` acknowledges
//! concurrent appends to many logs (group commit). See `docs/design/log-format.md` for the byte layout, the commit
//! protocol and the crash analysis. With `StoreConfig::dir == None` the same API runs purely in memory.
//!
//! This crate knows nothing of Kinesis, HTTP or JSON.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod batch;
mod catalog;
mod config;
mod disk;
mod error;
mod frame;
pub mod fsck;
mod index;
mod lost;
mod mem;
mod recent;
mod storage;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use batch::{Batch, EntryWriter};
pub use catalog::{
    catalog_file_name, CatalogDamage, CatalogDamageKind, CatalogScan, QUARANTINE_DIR,
};
pub use config::{
    FsyncPolicy, ParseFsyncPolicyError, StoreConfig, DEFAULT_RELOCATE_BYTES_MAX,
    DEFAULT_SEGMENT_BYTES_MAX, WRITER_QUEUE_BYTES_MAX_DEFAULT,
};
pub use error::{AppendError, CatalogError, OpenError, ReadError};
pub use recent::DEFAULT_RECENT_BYTES_MAX;

/// Identifies one log inside a [`Store`]. Chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogId(pub u64);

/// Log ids below this are reserved for fixed tables of domains (log 0: the KMS key table);
/// allocators of log ids start here, and a reserved log is never taken for an orphan.
pub const FIRST_ALLOCATED_LOG: u64 = 1;

/// Position of an entry within its log: dense, starting at 0, assigned at append time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Offset(pub u64);

/// Synonym used in documentation: a log is the sequence of entries stored under one [`LogId`].
pub type Log = LogId;

/// One stored entry as returned by [`Store::read`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry's offset in its log.
    pub offset: Offset,
    /// The timestamp the store assigned (never decreasing within a log).
    pub timestamp_ms: i64,
    /// The opaque payload.
    pub payload: Bytes,
}

/// Acknowledgement of a successful append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendAck {
    /// Offset of the first appended entry (for an empty append: the log's end, nothing was stored).
    pub first: Offset,
    /// Number of entries appended.
    pub count: u32,
    /// Timestamp given to every entry of this append.
    pub timestamp_ms: i64,
}

/// Visible range of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogBounds {
    /// First visible offset (moves forward with [`Store::trim`]).
    pub start: Offset,
    /// One past the last visible offset: the offset the next append will get once every in-flight append
    /// is acknowledged. Offsets of appends not yet durable (per policy) are not included.
    pub end: Offset,
    /// Timestamp of the last visible entry ever appended (even if trimmed), `None` if the log never had one.
    pub last_timestamp_ms: Option<i64>,
}

/// Entries `from..to` (end exclusive) of `log` that a damaged part of the journal held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRange {
    /// The log.
    pub log: u64,
    /// First damaged offset.
    pub from: u64,
    /// One past the last damaged offset.
    pub to: u64,
}

/// One damaged place in the journal: bytes that hold no valid frame although valid frames follow them (or a sealed
/// segment cut short), and the log ranges recovery could attribute to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Journal segment number.
    pub segment: u64,
    /// Byte position of the damage in the segment.
    pub position: u64,
    /// Length of the damaged bytes (0 when only a gap in a log's offsets showed the damage).
    pub bytes: u64,
    /// Log entries lost to it (may be empty: damage in a frame whose log recovery cannot name and no later frame
    /// of which shows a gap).
    pub ranges: Vec<DamagedRange>,
}

/// Counters for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Journal segment files currently on disk (0 in memory mode).
    pub segments: u64,
    /// Bytes of journal segment files on disk (in memory mode: payload bytes held).
    pub disk_bytes: u64,
    /// Logs currently known (not deleted).
    pub logs: u64,
    /// Points held by the in-memory sparse indexes (all logs).
    pub index_points: u64,
    /// Append calls accepted (non-empty ones).
    pub appends: u64,
    /// Batched journal writes performed by the writer.
    pub write_batches: u64,
    /// `fdatasync` calls performed on journal segments.
    pub fsyncs: u64,
    /// Log entries in damaged ranges that readers are refused (not yet marked lost by `fsck --repair`).
    pub damaged_entries: u64,
    /// Log entries `fsck --repair` marked lost (readers move past them).
    pub lost_entries: u64,
    /// Reads ([`Store::read`], [`Store::seek_timestamp`]) the recent cache could not answer, run on
    /// tokio's blocking pool (0 in memory mode).
    pub blocking_reads: u64,
    /// Most payload bytes the writer's queue has held at once (appends admitted, not yet taken by
    /// the writer); at most `StoreConfig::writer_queue_bytes_max` plus one request (0 in memory mode).
    pub writer_queue_bytes_peak: u64,
    /// Payload bytes in the writer's queue now (0 in memory mode).
    pub writer_queue_bytes: u64,
}

/// Upper bounds (microseconds) of the group-write latency buckets: 50 us to 1 s.
pub const GROUP_WRITE_US_BOUNDS: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];
/// Upper bounds of the entries-per-group buckets.
pub const GROUP_ENTRIES_BOUNDS: [u64; 12] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
/// Upper bounds (bytes) of the bytes-per-group buckets: 1 KiB to 16 MiB.
pub const GROUP_BYTES_BOUNDS: [u64; 13] = [
    1 << 10,
    4 << 10,
    16 << 10,
    64 << 10,
    128 << 10,
    256 << 10,
    512 << 10,
    1 << 20,
    2 << 20,
    4 << 20,
    8 << 20,
    12 << 20,
    16 << 20,
];

/// What each durable write of the journal cost and carried: one group-commit write (plus its
/// sync under a syncing policy), its entries and its bytes. Recorded by the committer with
/// atomics only.
#[derive(Debug)]
pub struct GroupStats {
    /// Write plus sync time of a group, in microseconds.
    pub write_us: rheo_stdx::hist::Histogram,
    /// Entries of a group (every log's).
    pub entries: rheo_stdx::hist::Histogram,
    /// Bytes of a group as written (frames, headers included).
    pub bytes: rheo_stdx::hist::Histogram,
}

impl Default for GroupStats {
    fn default() -> Self {
        GroupStats {
            write_us: rheo_stdx::hist::Histogram::new(&GROUP_WRITE_US_BOUNDS),
            entries: rheo_stdx::hist::Histogram::new(&GROUP_ENTRIES_BOUNDS),
            bytes: rheo_stdx::hist::Histogram::new(&GROUP_BYTES_BOUNDS),
        }
    }
}

impl GroupStats {
    pub(crate) fn record(&self, took: Duration, entries: u64, bytes: u64) {
        self.write_us
            .observe(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
        self.entries.observe(entries);
        self.bytes.observe(bytes);
    }
}

/// A store in memory has no journal: its group histograms stay empty.
static NO_GROUPS: std::sync::LazyLock<GroupStats> = std::sync::LazyLock::new(GroupStats::default);

#[derive(Debug)]
enum Backend {
    Mem(mem::MemStore),
    Disk(disk::DiskStore),
}

/// A set of durable append-only logs. Cheap to clone (shared inside); `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Backend>,
}

/// Largest number of entries one append may carry (the frame's count field is a u32).
const MAX_ENTRIES_PER_APPEND: usize = u32::MAX as usize;

impl Store {
    /// Opens (or creates) the store described by `config`, recovering the journal after a crash if needed.
    pub fn open(config: StoreConfig) -> Result<Store, OpenError> {
        match config.dir {
            None => Ok(Store {
                inner: Arc::new(Backend::Mem(mem::MemStore::new())),
            }),
            Some(ref dir) => Ok(Store {
                inner: Arc::new(Backend::Disk(disk::DiskStore::open(&config, dir, None)?)),
            }),
        }
    }

    /// Opens a disk store whose segment files fail the Nth write/sync as configured in `faults`.
    #[cfg(test)]
    pub(crate) fn open_with_faults(
        config: StoreConfig,
        faults: Arc<storage::Faults>,
    ) -> Result<Store, OpenError> {
        let dir = config
            .dir
            .clone()
            .ok_or_else(|| OpenError::Corrupt("fault injection needs a dir".into()))?;
        Ok(Store {
            inner: Arc::new(Backend::Disk(disk::DiskStore::open(
                &config,
                &dir,
                Some(faults),
            )?)),
        })
    }

    /// Ids of the logs the store currently knows (not deleted), ascending.
    pub fn log_ids(&self) -> Vec<LogId> {
        match &*self.inner {
            Backend::Mem(m) => m.log_ids(),
            Backend::Disk(d) => d.log_ids(),
        }
    }

    /// Appends `payloads` as consecutive entries of `log` (created implicitly on first append; an unknown log reads
    /// as empty with bounds 0..0). `timestamp_ms` is the caller's clock; the store uses max(timestamp_ms, log's last
    /// timestamp) so timestamps never decrease within a log, and returns the one it used. Resolves when durable per
    /// policy.
    pub async fn append(
        &self,
        log: LogId,
        timestamp_ms: i64,
        payloads: Vec<Bytes>,
    ) -> Result<AppendAck, AppendError> {
        if payloads.len() > MAX_ENTRIES_PER_APPEND {
            return Err(AppendError::TooLarge(payloads.len() as u64));
        }
        match &*self.inner {
            Backend::Mem(m) => m.append(log, timestamp_ms, payloads),
            Backend::Disk(d) => {
                d.append(log, timestamp_ms, Batch::from_payloads(&payloads))
                    .await
            }
        }
    }

    /// Several logs in one go, committed in the same group (one fsync). Results in input order.
    pub async fn append_many(
        &self,
        batches: Vec<(LogId, i64, Vec<Bytes>)>,
    ) -> Vec<Result<AppendAck, AppendError>> {
        self.append_batches(
            batches
                .into_iter()
                .map(|(log, ts, payloads)| (log, ts, Batch::from_payloads(&payloads)))
                .collect(),
        )
        .await
    }

    /// Like [`Store::append_many`] with entries already laid out in [`Batch`]es: on disk the
    /// batch's buffer becomes the journal frame without another copy.
    pub async fn append_batches(
        &self,
        batches: Vec<(LogId, i64, Batch)>,
    ) -> Vec<Result<AppendAck, AppendError>> {
        match &*self.inner {
            Backend::Mem(m) => batches
                .into_iter()
                .map(|(log, ts, batch)| m.append(log, ts, batch.into_payloads()))
                .collect(),
            Backend::Disk(d) => d.append_many(batches).await,
        }
    }

    /// Up to `max_count` entries / about `max_bytes` of payload (at least one entry if any is visible and
    /// `max_count > 0`) starting at `from` (clamped up to the log's start).
    ///
    /// Reads the recent cache can answer (readers at a log's tip, the common case) are served on
    /// the calling task with no I/O and no thread hop; the others pread the journal, which can
    /// take milliseconds on a cold page cache, so they run on tokio's blocking pool and the
    /// runtime thread serves other tasks meanwhile (also on a current_thread runtime).
    pub async fn read(
        &self,
        log: LogId,
        from: Offset,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, ReadError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(m.read(log, from, max_count, max_bytes)),
            Backend::Disk(d) => {
                if max_count == 0 {
                    return Ok(Vec::new());
                }
                if let Some(out) = d.read_recent(log, from.0, max_count, max_bytes) {
                    return Ok(out);
                }
                let store = self.clone();
                self.off_runtime(move || {
                    #[cfg(test)]
                    let _gate = store.read_gate().map(|g| g.lock());
                    store.read_blocking(log, from, max_count, max_bytes)
                })
                .await
            }
        }
    }

    /// [`Store::read`] on the calling thread, I/O included: for code that is not on a runtime
    /// thread (opening, recovery, tools) and for tests.
    pub fn read_blocking(
        &self,
        log: LogId,
        from: Offset,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, ReadError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(m.read(log, from, max_count, max_bytes)),
            Backend::Disk(d) => d.read(log, from, max_count, max_bytes),
        }
    }

    #[cfg(test)]
    pub(crate) fn read_gate(&self) -> Option<&parking_lot::Mutex<()>> {
        match &*self.inner {
            Backend::Mem(_) => None,
            Backend::Disk(d) => Some(d.read_gate()),
        }
    }

    /// Runs a disk read on tokio's blocking pool (counted in [`StoreStats::blocking_reads`]).
    ///
    /// Why the shared blocking pool rather than a dedicated reader pool: cold reads are rare
    /// (catch-up consumers, AT_TIMESTAMP seeks), and the pool keeps idle threads for reuse so
    /// a burst costs one hand-off each. At most one cold read per core runs at once (see
    /// `disk::Shared::cold_reads`), which keeps the threads they use, and their memory, few.
    /// Outside a runtime (a plain thread) the read simply runs inline.
    async fn off_runtime<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
    ) -> Result<T, ReadError> {
        let Backend::Disk(d) = &*self.inner else {
            return f();
        };
        d.note_blocking_read();
        let Ok(h) = tokio::runtime::Handle::try_current() else {
            return f();
        };
        let _slot = d
            .cold_reads()
            .acquire()
            .await
            .map_err(|_| ReadError::Io("store closed".into()))?;
        h.spawn_blocking(f)
            .await
            .map_err(|e| ReadError::Io(format!("blocking read failed: {e}")))?
    }

    /// Waits, at most `max`, while entries at `from` of `log` have been appended but their group
    /// is still being made durable; returns at once when none are in flight.
    ///
    /// For readers at a log's tip: a read that arrives while the entries it would return are
    /// being written can wait for them instead of answering "nothing yet" and polling again.
    /// Nothing becomes readable before it is durable (per the policy).
    pub async fn wait_in_flight(&self, log: LogId, from: Offset, max: Duration) {
        match &*self.inner {
            Backend::Mem(_) => {}
            Backend::Disk(d) => d.wait_in_flight(log, from, max).await,
        }
    }

    /// Waits, at most `max`, until `log` holds an entry at or after `from` (its visible end is
    /// above `from`); returns at once if it does. For push readers at a log's tip, which must
    /// see each record the moment it is durable rather than on a polling tick: entries become
    /// visible only once durable, and every publish wakes the waiters.
    pub async fn wait_for_entries(&self, log: LogId, from: Offset, max: Duration) {
        let notify = match &*self.inner {
            Backend::Mem(m) => m.appended(),
            Backend::Disk(d) => d.published(),
        };
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so an append between the check and the await wakes us.
            notified.as_mut().enable();
            if self.bounds(log).is_ok_and(|b| b.end > from) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// The visible range of `log` (0..0 for an unknown log).
    pub fn bounds(&self, log: LogId) -> Result<LogBounds, ReadError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(m.bounds(log)),
            Backend::Disk(d) => Ok(d.bounds(log)),
        }
    }

    /// `from`, moved past any range of `log` that `fsck --repair` marked lost (as a read from `from` would). A
    /// reader that got nothing at `from` below the log's end uses it to step past a lost range at the end of what
    /// is stored.
    pub fn readable_from(&self, log: LogId, from: Offset) -> Offset {
        match &*self.inner {
            Backend::Mem(_) => from,
            Backend::Disk(d) => d.readable_from(log, from),
        }
    }

    /// First visible offset whose timestamp >= `timestamp_ms` (or `bounds.end` if none). On disk
    /// this scans journal frames, so it runs on the blocking pool (see [`Store::read`]).
    pub async fn seek_timestamp(&self, log: LogId, timestamp_ms: i64) -> Result<Offset, ReadError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(m.seek_timestamp(log, timestamp_ms)),
            Backend::Disk(_) => {
                let store = self.clone();
                self.off_runtime(move || store.seek_timestamp_blocking(log, timestamp_ms))
                    .await
            }
        }
    }

    /// [`Store::seek_timestamp`] on the calling thread, I/O included.
    pub fn seek_timestamp_blocking(
        &self,
        log: LogId,
        timestamp_ms: i64,
    ) -> Result<Offset, ReadError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(m.seek_timestamp(log, timestamp_ms)),
            Backend::Disk(d) => d.seek_timestamp(log, timestamp_ms),
        }
    }

    /// Makes entries with timestamp < `before_timestamp_ms` invisible. Not durable: re-apply after a restart.
    /// Disk space is reclaimed a whole segment at a time once no live log needs it. When something is older than
    /// the horizon, finding the new start scans the journal on the blocking pool (see [`Store::read`]).
    pub async fn trim(&self, log: LogId, before_timestamp_ms: i64) -> Result<(), ReadError> {
        match &*self.inner {
            Backend::Mem(m) => {
                m.trim(log, before_timestamp_ms);
                Ok(())
            }
            Backend::Disk(d) => {
                if d.trim_is_noop(log, before_timestamp_ms) {
                    return Ok(());
                }
                let store = self.clone();
                self.off_runtime(move || store.trim_blocking(log, before_timestamp_ms))
                    .await
            }
        }
    }

    /// [`Store::trim`] on the calling thread, I/O included.
    pub fn trim_blocking(&self, log: LogId, before_timestamp_ms: i64) -> Result<(), ReadError> {
        match &*self.inner {
            Backend::Mem(m) => {
                m.trim(log, before_timestamp_ms);
                Ok(())
            }
            Backend::Disk(d) => d.trim(log, before_timestamp_ms),
        }
    }

    /// Durably makes the entries of `log` below `offset` invisible ("consumed up to `offset`"); `offset` is clamped to
    /// the log's visible end, and a trim never moves the start back. The entries are invisible at once; once this
    /// returns the trim survives a crash (a trim frame in the journal, synced under every fsync policy). Disk space is
    /// reclaimed as for [`Store::trim`]. An unknown log is left alone.
    pub async fn trim_to_offset(&self, log: LogId, offset: Offset) -> Result<(), AppendError> {
        match &*self.inner {
            Backend::Mem(m) => {
                m.trim_to_offset(log, offset);
                Ok(())
            }
            Backend::Disk(d) => d.trim_to_offset(log, offset).await,
        }
    }

    /// Deletes `log` durably. A later append to the same id starts a new, empty log at offset 0.
    pub async fn delete_log(&self, log: LogId) -> Result<(), AppendError> {
        match &*self.inner {
            Backend::Mem(m) => {
                m.delete_log(log);
                Ok(())
            }
            Backend::Disk(d) => d.delete_log(log).await,
        }
    }

    /// Durably stores `value` under `key` (atomic replace).
    pub fn catalog_put(&self, key: &str, value: &[u8]) -> Result<(), CatalogError> {
        match &*self.inner {
            Backend::Mem(m) => {
                m.catalog_put(key, value);
                Ok(())
            }
            Backend::Disk(d) => d.catalog().put(key, value),
        }
    }

    /// The value stored under `key`, if any.
    pub fn catalog_get(&self, key: &str) -> Result<Option<Vec<u8>>, CatalogError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(m.catalog_get(key)),
            Backend::Disk(d) => d.catalog().get(key),
        }
    }

    /// Durably removes `key` (no error if absent).
    pub fn catalog_delete(&self, key: &str) -> Result<(), CatalogError> {
        match &*self.inner {
            Backend::Mem(m) => {
                m.catalog_delete(key);
                Ok(())
            }
            Backend::Disk(d) => d.catalog().delete(key),
        }
    }

    /// Copies the catalog file named `file` (as [`CatalogDamage::file`] names it) durably to
    /// `catalog-quarantine/` beside the catalog, before a repair replaces or removes it; the catalog file stays.
    /// Returns the copy's path relative to the store directory. In memory there are no files: an error.
    pub fn catalog_quarantine(&self, file: &str) -> Result<String, CatalogError> {
        match &*self.inner {
            Backend::Mem(_) => Err(CatalogError::Corrupt(format!(
                "no catalog file {file:?} in memory mode"
            ))),
            Backend::Disk(d) => d.catalog().quarantine(file),
        }
    }

    /// Durably removes the catalog file named `file` (a damaged file whose key is unknown). No error if absent.
    pub fn catalog_remove_file(&self, file: &str) -> Result<(), CatalogError> {
        match &*self.inner {
            Backend::Mem(_) => Ok(()),
            Backend::Disk(d) => d.catalog().remove_file(file),
        }
    }

    /// Every good entry whose key starts with `prefix` (sorted by key), and every damaged catalog file that is or
    /// may be under `prefix`, one by one: a damaged file never hides the others. Only failing to list the catalog
    /// at all is an error. In memory nothing is ever damaged.
    pub fn catalog_scan(&self, prefix: &str) -> Result<CatalogScan, CatalogError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(CatalogScan {
                entries: m.catalog_list(prefix),
                damaged: Vec::new(),
            }),
            Backend::Disk(d) => d.catalog().scan(prefix),
        }
    }

    /// All entries whose key starts with `prefix`, sorted by key; fails on the first damaged file (see
    /// [`Store::catalog_scan`] to go past damage).
    pub fn catalog_list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, CatalogError> {
        match &*self.inner {
            Backend::Mem(m) => Ok(m.catalog_list(prefix)),
            Backend::Disk(d) => d.catalog().list(prefix),
        }
    }

    /// Runs one garbage-collection round now and waits for it: deletes the sealed journal segments no live log
    /// needs, after relocating small logs that alone kept the oldest ones (see `docs/design/log-format.md`,
    /// "Retention / GC"). Rounds also run by themselves after trims and deletes; this makes them deterministic
    /// (tests, maintenance). A no-op in memory mode.
    pub async fn collect_garbage(&self) -> Result<(), AppendError> {
        match &*self.inner {
            Backend::Mem(_) => Ok(()),
            Backend::Disk(d) => d.collect_garbage().await,
        }
    }

    /// Waits until everything appended so far is fsynced (used on shutdown).
    pub async fn sync(&self) -> Result<(), AppendError> {
        match &*self.inner {
            Backend::Mem(_) => Ok(()),
            Backend::Disk(d) => d.sync().await,
        }
    }

    /// Damage events seen: damaged places found when the store was opened, plus corrupt frames met by reads since
    /// (each counted once). A metric for the server; 0 for an intact journal and in memory mode.
    pub fn corruption_events(&self) -> u64 {
        match &*self.inner {
            Backend::Mem(_) => 0,
            Backend::Disk(d) => d.corruption_events(),
        }
    }

    /// The damage recovery found when the store was opened (empty in memory mode).
    pub fn damage(&self) -> Vec<Damage> {
        match &*self.inner {
            Backend::Mem(_) => Vec::new(),
            Backend::Disk(d) => d.damage(),
        }
    }

    /// The journal's group-write histograms (empty in memory mode).
    pub fn group_stats(&self) -> &GroupStats {
        match &*self.inner {
            Backend::Mem(_) => &NO_GROUPS,
            Backend::Disk(d) => d.groups(),
        }
    }

    /// Bytes each live log holds in the journal, by log (in memory mode: payload bytes).
    pub fn log_bytes(&self) -> Vec<(LogId, u64)> {
        match &*self.inner {
            Backend::Mem(m) => m.log_bytes(),
            Backend::Disk(d) => d.log_bytes(),
        }
    }

    /// Counters for metrics and tests.
    pub fn stats(&self) -> StoreStats {
        match &*self.inner {
            Backend::Mem(m) => m.stats(),
            Backend::Disk(d) => d.stats(),
        }
    }
}

/// Opens a store whose only (active) journal segment holds `bytes`, then reads every recovered log. Must never
/// panic whatever the bytes are; meant to be wired to `cargo fuzz` and used by property tests.
pub fn fuzz_recover(bytes: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rheo-log-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let journal = dir.join("journal");
    if std::fs::create_dir_all(&journal).is_err()
        || std::fs::write(journal.join(format!("{:020}.seg", 1)), bytes).is_err()
    {
        return;
    }
    let config = StoreConfig {
        dir: Some(dir.clone()),
        fsync: FsyncPolicy::Never,
        ..StoreConfig::default()
    };
    if let Ok(store) = Store::open(config) {
        for log in store.log_ids() {
            if let Ok(b) = store.bounds(log) {
                let _ = store.read_blocking(log, b.start, usize::MAX, usize::MAX);
                let _ = store.seek_timestamp_blocking(log, i64::MIN);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The timestamp an append gets: the caller's clock, but never below the log's last timestamp.
pub(crate) fn effective_timestamp(requested: i64, last: Option<i64>) -> i64 {
    match last {
        Some(last) if last > requested => last,
        _ => requested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn store_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Store>();
    }

    #[test]
    fn effective_timestamp_never_decreases() {
        assert_eq!(effective_timestamp(5, None), 5);
        assert_eq!(effective_timestamp(5, Some(7)), 7);
        assert_eq!(effective_timestamp(9, Some(7)), 9);
    }

    #[test]
    fn memory_store_through_public_api() {
        let s = Store::open(StoreConfig::default()).unwrap();
        rt().block_on(async {
            let a = s.append(LogId(1), 100, vec![b("a"), b("b")]).await.unwrap();
            assert_eq!(
                a,
                AppendAck {
                    first: Offset(0),
                    count: 2,
                    timestamp_ms: 100
                }
            );
            let r = s
                .append_many(vec![
                    (LogId(1), 50, vec![b("c")]),
                    (LogId(2), 10, vec![b("x")]),
                ])
                .await;
            assert_eq!(
                r[0],
                Ok(AppendAck {
                    first: Offset(2),
                    count: 1,
                    timestamp_ms: 100
                })
            );
            assert_eq!(
                r[1],
                Ok(AppendAck {
                    first: Offset(0),
                    count: 1,
                    timestamp_ms: 10
                })
            );
            s.sync().await.unwrap();
        });
        let e = s.read_blocking(LogId(1), Offset(1), 10, 1 << 20).unwrap();
        assert_eq!(
            e.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(),
            vec![b("b"), b("c")]
        );
        assert_eq!(
            s.bounds(LogId(9)).unwrap(),
            LogBounds {
                start: Offset(0),
                end: Offset(0),
                last_timestamp_ms: None
            }
        );
        assert_eq!(s.stats().logs, 2);
    }
}
