//! Error types of the key-value tables.

use rheo_log::{AppendError, ReadError};

use crate::codec::DecodeError;

/// Failure of a table operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The write's condition did not hold; nothing was written. `current` is the key's version
    /// when the condition was evaluated (`None`: the key was absent). This is what a DynamoDB
    /// binding turns into `ConditionalCheckFailedException`.
    #[error("condition failed: current version {current:?}")]
    ConditionFailed {
        /// The key's version at the check (`None` if absent).
        current: Option<u64>,
    },
    /// Keys must hold 1 to [`crate::KEY_BYTES_MAX`] bytes.
    #[error("key of {bytes} bytes: keys hold 1 to {max} bytes", max = crate::KEY_BYTES_MAX)]
    KeyBounds {
        /// The key's size.
        bytes: usize,
    },
    /// Values hold at most [`crate::VALUE_BYTES_MAX`] bytes.
    #[error("value of {bytes} bytes exceeds {max} bytes", max = crate::VALUE_BYTES_MAX)]
    ValueTooLarge {
        /// The value's size.
        bytes: usize,
    },
    /// The journal refused or failed the write. The outcome is unknown to the caller only in
    /// the sense that a crash may still have made it durable; the table did not apply it.
    #[error("journal write failed: {0}")]
    Append(#[from] AppendError),
    /// Reading the table's log back at open failed.
    #[error("journal read failed: {0}")]
    Read(#[from] ReadError),
    /// An entry of the table's log is not a table record this build understands (another
    /// component wrote to the same log id, or the data is damaged): the table refuses to open
    /// rather than guess.
    #[error("table log entry at offset {offset} is not a valid record: {source}")]
    Corrupt {
        /// Offset of the entry in the table's log.
        offset: u64,
        /// What was wrong with it.
        source: DecodeError,
    },
    /// A record contradicts the table's history (a version that does not increase, a snapshot
    /// whose item count is wrong); the table refuses to open.
    #[error("table log entry at offset {offset} breaks the table's history: {reason}")]
    History {
        /// Offset of the entry in the table's log.
        offset: u64,
        /// What it contradicts.
        reason: &'static str,
    },
    /// The table's committer has stopped (the table is closing, or its runtime shut down).
    #[error("table is closed")]
    Closed,
}
