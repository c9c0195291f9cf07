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

/// Caps glibc's malloc arenas at `n` (at least 2), unless `MALLOC_ARENA_MAX` is set.
///
/// Why: cold reads run on tokio's blocking pool, and glibc gives each new thread its own arena
/// (up to 8 per core). A read buffer is allocated there and freed on a runtime thread, back
/// into the pool thread's arena, where it stays: measured with the repo's benchmark (1 KiB
/// records, 4 shards, 2 cores), peak RSS in the catch-up read was 153-200 MB with the default
/// and 142 MB with 2 arenas, and 50-136 MB against 28-32 MB in the following e2e phase, with
/// put and get throughput within run-to-run noise. Must run before any thread is spawned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn limit_malloc_arenas(n: usize) {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let n = libc::c_int::try_from(n.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt takes two integers and only sets an allocator parameter under the
    // allocator's own lock; M_ARENA_MAX is a documented parameter, and this runs on the main
    // thread before the runtime starts any other.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, n);
    }
}

/// Other allocators and C libraries: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_malloc_arenas(_n: usize) {}

/// The process's resident set size, from `/proc/self/statm` (Linux; `None` elsewhere or when
/// it cannot be read).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages.saturating_mul(page_size()))
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn page_size() -> u64 {
    // SAFETY: sysconf only reads a constant of the system; no memory is passed.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(4096)
}

#[cfg(not(unix))]
fn page_size() -> u64 {
    4096
}

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

    #[cfg(target_os = "linux")]
    #[test]
    fn resident_size_is_read() {
        let rss = super::resident_bytes().unwrap();
        assert!(
            rss > 1024 * 1024,
            "a test process holds more than 1 MiB: {rss}"
        );
    }

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
