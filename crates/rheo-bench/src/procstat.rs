//! Samples a process's CPU time and resident memory from /proc, so each
//! phase can report how many cores the server used and its peak RSS.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Linux reports utime/stime in USER_HZ units, which the kernel fixes at 100
/// for user space regardless of the internal tick rate.
const TICKS_PER_SEC: f64 = 100.0;

/// utime + stime (clock ticks) from the text of /proc/PID/stat.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is parenthesised and may contain spaces or
    // parentheses, so fields are counted from the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    // After ')': state is field 3; utime is field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// VmRSS in KiB from the text of /proc/PID/status.
pub fn parse_status_rss_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn read_cpu_ticks(pid: &str) -> Option<u64> {
    parse_stat_cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn read_rss_kb(pid: &str) -> Option<u64> {
    parse_status_rss_kb(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Resource use of one process over one phase.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    /// CPU seconds per wall second: 1.0 = one core busy all the time.
    pub cpu_cores: f64,
    pub peak_rss_mb: f64,
}

/// Watches a set of processes (the server's PIDs, plus optionally "self")
/// during a phase.
pub struct Sampler {
    pids: Vec<String>,
    start_ticks: u64,
    started: Instant,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<u64>>,
}

impl Sampler {
    /// Starts sampling; `pids` may contain "self". Peak RSS is the largest
    /// sum over the processes seen at one 100 ms sample.
    pub fn start(pids: Vec<String>) -> Self {
        let start_ticks = pids.iter().filter_map(|p| read_cpu_ticks(p)).sum();
        let (tx, mut rx) = oneshot::channel();
        let watched = pids.clone();
        let task = tokio::spawn(async move {
            let mut peak = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                let rss: u64 = watched.iter().filter_map(|p| read_rss_kb(p)).sum();
                peak = peak.max(rss);
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = &mut rx => break,
                }
            }
            peak
        });
        Self {
            pids,
            start_ticks,
            started: Instant::now(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn finish(mut self) -> Usage {
        let wall = self.started.elapsed().as_secs_f64();
        let end_ticks: u64 = self.pids.iter().filter_map(|p| read_cpu_ticks(p)).sum();
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let mut peak_kb = match self.task.take() {
            Some(t) => t.await.unwrap_or(0),
            None => 0,
        };
        peak_kb = peak_kb.max(self.pids.iter().filter_map(|p| read_rss_kb(p)).sum());
        let cpu_seconds = end_ticks.saturating_sub(self.start_ticks) as f64 / TICKS_PER_SEC;
        Usage {
            cpu_seconds,
            cpu_cores: if wall > 0.0 { cpu_seconds / wall } else { 0.0 },
            peak_rss_mb: peak_kb as f64 / 1024.0,
        }
    }
}

/// `(busy, iowait)` clock ticks summed over all CPUs, from the first line of
/// /proc/stat (`cpu  user nice system idle iowait irq softirq steal ...`).
/// Busy is everything but idle and iowait; steal counts as busy because the
/// benchmark cannot use it either.
pub fn parse_proc_stat_busy(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let vals: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = vals.iter().take(8).sum();
    let idle = *vals.get(3)?;
    let iowait = vals.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle + iowait), iowait))
}

fn read_host_ticks() -> Option<(u64, u64)> {
    parse_proc_stat_busy(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Whole-machine CPU use over one phase: on a shared host, what the server
/// and the client did not use may still have been taken by other processes.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct HostUsage {
    /// Cores busy (any process, kernel included).
    pub busy_cores: f64,
    /// Cores idle while some I/O was outstanding.
    pub iowait_cores: f64,
}

/// Samples /proc/stat at the start and end of a phase.
pub struct HostSampler {
    start: Option<(u64, u64)>,
    started: Instant,
}

impl HostSampler {
    pub fn start() -> Self {
        Self {
            start: read_host_ticks(),
            started: Instant::now(),
        }
    }

    /// `None` where /proc/stat is unreadable (not Linux).
    pub fn finish(self) -> Option<HostUsage> {
        let wall = self.started.elapsed().as_secs_f64();
        let (b0, w0) = self.start?;
        let (b1, w1) = read_host_ticks()?;
        if wall <= 0.0 {
            return None;
        }
        Some(HostUsage {
            busy_cores: b1.saturating_sub(b0) as f64 / TICKS_PER_SEC / wall,
            iowait_cores: w1.saturating_sub(w0) as f64 / TICKS_PER_SEC / wall,
        })
    }
}

/// Optional sampler: a no-op when no PIDs were given.
pub fn maybe_start(pids: &[String]) -> Option<Sampler> {
    (!pids.is_empty()).then(|| Sampler::start(pids.to_vec()))
}

pub async fn maybe_finish(s: Option<Sampler>) -> Option<Usage> {
    match s {
        Some(s) => Some(s.finish().await),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_name() {
        let stat = "4903 (node (x) y) S 1 4903 4903 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 11 0 \
                    12345 1000000 5000 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn parses_vmrss() {
        let status = "Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   81234 kB\nThreads:\t11\n";
        assert_eq!(parse_status_rss_kb(status), Some(81234));
        assert_eq!(parse_status_rss_kb("Name: x\n"), None);
    }

    #[test]
    fn parses_proc_stat_busy_and_iowait() {
        let stat = "cpu  100 5 50 1000 30 2 3 10 0 0\ncpu0 50 2 25 500 15 1 1 5 0 0\nintr 1\n";
        // total of the first 8 = 1200; minus idle 1000 and iowait 30.
        assert_eq!(parse_proc_stat_busy(stat), Some((170, 30)));
        assert_eq!(parse_proc_stat_busy("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_proc_stat_busy("cpu  1 x 3 4\n"), None);
        assert_eq!(parse_proc_stat_busy("cpu  1 2 3\n"), None);
        let h = HostSampler::start().finish().unwrap();
        assert!(h.busy_cores >= 0.0 && h.iowait_cores >= 0.0);
    }

    #[test]
    fn own_process_is_readable() {
        assert!(read_cpu_ticks("self").is_some());
        assert!(read_rss_kb("self").unwrap() > 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn sampler_reports_self_usage() {
        let s = Sampler::start(vec!["self".into()]);
        // Burn a little CPU so the figure is not trivially zero on most runs;
        // the assertion only relies on RSS, which is always positive.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert_ne!(x, 1);
        let u = s.finish().await;
        assert!(u.peak_rss_mb > 0.0);
        assert!(u.cpu_cores >= 0.0);
    }
}
