//! Connection counts for the server's metrics: process-wide atomics, since every listener of
//! the process (API port, TLS port, metrics port) adds to the same totals.

use std::sync::atomic::{AtomicU64, Ordering};

static OPEN: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);

/// Connections being served now.
pub fn open_connections() -> u64 {
    OPEN.load(Ordering::Relaxed)
}

/// Connections accepted since the process started.
pub fn accepted_connections() -> u64 {
    ACCEPTED.load(Ordering::Relaxed)
}

/// Held for as long as one connection is served; counts it open until dropped.
#[derive(Debug)]
pub struct OpenConnection(());

impl OpenConnection {
    pub fn new() -> Self {
        ACCEPTED.fetch_add(1, Ordering::Relaxed);
        OPEN.fetch_add(1, Ordering::Relaxed);
        OpenConnection(())
    }
}

impl Default for OpenConnection {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_open_until_dropped() {
        let before = accepted_connections();
        let c = OpenConnection::new();
        assert!(open_connections() >= 1);
        assert!(accepted_connections() > before);
        drop(c);
    }
}
