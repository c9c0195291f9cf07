//! Store configuration: where data lives and when an append counts as durable.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// When an append is acknowledged relative to `fdatasync`.
///
/// The policy trades latency/throughput against what survives power loss; `kill -9` of the process alone never loses
/// a written frame because the data is already in the kernel page cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// One write + one fdatasync per append call, no grouping (slowest, simplest to reason about).
    Always,
    /// Default: all appends queued while the previous sync was running share one write and one fdatasync, and are
    /// acknowledged after it.
    #[default]
    Group,
    /// Acknowledge after the write; fdatasync at most every interval (power loss may lose up to one interval).
    Interval(Duration),
    /// Acknowledge after the write, never fsync except when sealing segments and on [`crate::Store::sync`].
    Never,
}

impl FsyncPolicy {
    /// Whether readers may only see data that has been fsynced (as opposed to merely written).
    #[allow(dead_code)] // used by the disk engine
    pub(crate) fn reads_wait_for_sync(self) -> bool {
        matches!(self, FsyncPolicy::Always | FsyncPolicy::Group)
    }
}

/// Error from parsing an [`FsyncPolicy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fsync policy {0:?}: expected always | group | interval:MS | never")]
pub struct ParseFsyncPolicyError(pub String);

impl FromStr for FsyncPolicy {
    type Err = ParseFsyncPolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "group" => Ok(FsyncPolicy::Group),
            "never" => Ok(FsyncPolicy::Never),
            other => {
                let ms = other
                    .strip_prefix("interval:")
                    .and_then(|ms| ms.trim().parse::<u64>().ok())
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| ParseFsyncPolicyError(s.to_string()))?;
                Ok(FsyncPolicy::Interval(Duration::from_millis(ms)))
            }
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str("always"),
            FsyncPolicy::Group => f.write_str("group"),
            FsyncPolicy::Interval(d) => write!(f, "interval:{}", d.as_millis()),
            FsyncPolicy::Never => f.write_str("never"),
        }
    }
}

/// Configuration for [`crate::Store::open`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Data directory; `None` keeps everything in RAM (same API and semantics, nothing survives the process).
    pub dir: Option<PathBuf>,
    /// Durability policy for appends.
    pub fsync: FsyncPolicy,
    /// Soft cap on a journal segment's size: a new segment is started once the active one would exceed it.
    pub segment_bytes_max: u64,
    /// Write journal segments with `O_DIRECT` where the file system allows it (falls back to
    /// buffered writes where it does not). Durability is the same either way: acknowledgement
    /// still waits for `fdatasync` per the policy.
    pub direct_io: bool,
    /// Memory for the newest frames of each log, so readers at a log's tip get them without
    /// I/O (direct writes leave nothing in the page cache). 0 turns this off.
    pub recent_bytes_max: usize,
    /// Copy budget of one garbage-collection round's segment reclamation: logs that keep the oldest sealed
    /// segments alive are copied to the journal's end when their live bytes together are at most this (and at most
    /// half of what deleting those segments frees). 0 turns reclamation off (only whole dead prefixes are deleted).
    pub relocate_bytes_max: u64,
    /// Bound on the payload bytes queued for the writer thread and not yet taken by it: appends
    /// wait (in arrival order) while the queue holds more, so a burst of puts faster than the
    /// disk waits in its callers instead of growing memory. One request larger than the bound
    /// is still admitted once the queue is empty. Clamped to 1..=4 GiB.
    pub writer_queue_bytes_max: u64,
}

/// Default bound on the writer's queue (64 MiB): a dozen of the largest PutRecords, far more
/// than one group commit takes at the measured rates (about 2 MB per group at 300 MB/s), so
/// batching is unaffected, and a burst from many connections is held in their callers.
pub const WRITER_QUEUE_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;

/// Default copy budget of one reclamation round (4 MiB).
pub const DEFAULT_RELOCATE_BYTES_MAX: u64 = 4 * 1024 * 1024;

/// Default segment size cap (128 MiB).
pub const DEFAULT_SEGMENT_BYTES_MAX: u64 = 128 * 1024 * 1024;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: None,
            fsync: FsyncPolicy::Group,
            segment_bytes_max: DEFAULT_SEGMENT_BYTES_MAX,
            direct_io: true,
            recent_bytes_max: crate::recent::DEFAULT_RECENT_BYTES_MAX,
            relocate_bytes_max: DEFAULT_RELOCATE_BYTES_MAX,
            writer_queue_bytes_max: WRITER_QUEUE_BYTES_MAX_DEFAULT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for p in [
            FsyncPolicy::Always,
            FsyncPolicy::Group,
            FsyncPolicy::Never,
            FsyncPolicy::Interval(Duration::from_millis(25)),
        ] {
            assert_eq!(p.to_string().parse::<FsyncPolicy>(), Ok(p));
        }
        assert_eq!("GROUP".parse::<FsyncPolicy>(), Ok(FsyncPolicy::Group));
        assert_eq!(
            "interval:5".parse::<FsyncPolicy>(),
            Ok(FsyncPolicy::Interval(Duration::from_millis(5)))
        );
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "",
            "sometimes",
            "interval:",
            "interval:abc",
            "interval:0",
            "interval:-1",
        ] {
            assert!(bad.parse::<FsyncPolicy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn default_config() {
        let c = StoreConfig::default();
        assert!(c.dir.is_none());
        assert_eq!(c.fsync, FsyncPolicy::Group);
        assert_eq!(c.segment_bytes_max, 128 * 1024 * 1024);
    }
}
