//! Error types of the storage engine. Append errors are `Clone` because one failed group commit fails every append
//! that was waiting on it.

use std::path::PathBuf;

/// Failure to open a store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// On-disk state that recovery cannot repair (a sealed segment is unreadable, ...).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// Another process (or another open store in this one) holds the directory's lock.
    #[error("store directory {0} is in use by another process")]
    Locked(PathBuf),
    /// A journal segment was written in a newer format than this code reads. Nothing is changed: an older binary must
    /// not open (and could otherwise truncate) a newer store.
    #[error(
        "journal segment {path} has format version {version}; this build reads versions up to {supported}          (it was written by a newer rheo)"
    )]
    UnsupportedVersion {
        /// The segment file.
        path: PathBuf,
        /// The version its header declares.
        version: u64,
        /// The newest version this code reads.
        supported: u64,
    },
    /// The writer thread could not be started.
    #[error("cannot start writer thread: {0}")]
    Thread(std::io::Error),
}

/// Failure of an append, delete or sync.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// An earlier write or fsync failed: the store refuses all appends until it is reopened.
    #[error("store is poisoned by an earlier I/O failure; reopen it")]
    Poisoned,
    /// This append's write or fsync failed (the store is now poisoned).
    #[error("journal I/O error: {0}")]
    Io(String),
    /// The append is larger than one frame can hold.
    #[error("append too large: {0} bytes")]
    TooLarge(u64),
    /// The store is shutting down (its writer thread is gone).
    #[error("store is closed")]
    Closed,
}

/// Failure of a read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Reading a segment file failed.
    #[error("journal read error: {0}")]
    Io(String),
    /// A segment holds data that fails validation where the index says a valid frame must be.
    #[error("journal corrupt: {0}")]
    Corrupt(String),
    /// The entries `from..to` (end exclusive) of `log` lie in a damaged part of the journal: they are refused, never
    /// guessed. `rheo fsck --repair` marks them lost, after which readers move past them as past trimmed data.
    #[error(
        "log {log} entries {from}..{to} are damaged (journal segment {segment}, byte {position}); \
         `rheo fsck --repair` marks them lost"
    )]
    Damaged {
        /// The log.
        log: u64,
        /// First damaged offset.
        from: u64,
        /// One past the last damaged offset.
        to: u64,
        /// Journal segment holding (or that held) the damage.
        segment: u64,
        /// Byte position of the damage in that segment.
        position: u64,
    },
}

/// Failure of a catalog operation.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Reading or writing a catalog file failed.
    #[error("catalog I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A catalog file failed validation.
    #[error("catalog entry corrupt: {0}")]
    Corrupt(String),
}
