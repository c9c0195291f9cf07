//! Returning memory to the kernel once a burst of traffic is over.
//!
//! glibc keeps freed memory in its arenas for reuse; after a catch-up read (answers of up to
//! ~13 MB each) or a heavy put load an idle server held 65-83 MiB that nothing used. Trimming
//! on every free would cost the hot path page faults again, so the server trims once, when it
//! has gone quiet after activity (see `main.rs`).

use std::sync::atomic::{AtomicU64, Ordering};

/// Requests served, counted by the HTTP front; read by the idle watcher.
pub static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Decides when to trim: once per quiet spell, after a period with requests.
#[derive(Debug, Default)]
pub struct IdleTrim {
    last_seen: u64,
    trimmed_at: u64,
}

impl IdleTrim {
    /// Called periodically with the current request count; true when the count has not moved
    /// since the last call but has moved since the last trim.
    pub fn due(&mut self, count: u64) -> bool {
        let quiet = count == self.last_seen;
        self.last_seen = count;
        if quiet && count != self.trimmed_at {
            self.trimmed_at = count;
            return true;
        }
        false
    }
}

/// Hands free memory in every malloc arena back to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    // SAFETY: malloc_trim takes an integer, touches only the allocator's own free lists under
    // its own locks, and is documented as callable from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators and C libraries: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}

/// Counts one request.
pub fn count_request() {
    REQUESTS.fetch_add(1, Ordering::Relaxed);
}

/// The current request count.
pub fn requests() -> u64 {
    REQUESTS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::IdleTrim;

    #[test]
    fn trims_once_per_quiet_spell_after_activity() {
        let mut t = IdleTrim::default();
        assert!(!t.due(0), "never trims before any request");
        assert!(!t.due(5), "busy");
        assert!(t.due(5), "quiet after activity");
        assert!(!t.due(5), "already trimmed for this spell");
        assert!(!t.due(9), "busy again");
        assert!(t.due(9), "quiet again");
    }
}
