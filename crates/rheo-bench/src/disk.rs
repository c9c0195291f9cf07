//! Synced sequential write bandwidth of the disk under a directory: the
//! ceiling for any server that fsyncs before acknowledging. Paced (one chunk
//! per interval), the same loop gives the latency floor of one small durable
//! write at a given request rate, which bounds a durable server's put-to-get
//! latency from below.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::Serialize;

use crate::hist::{Latency, LatencySummary};

#[derive(Debug, Clone, Serialize)]
pub struct DiskReport {
    pub path: String,
    pub chunk_bytes: usize,
    pub chunks: u64,
    pub bytes: u64,
    pub elapsed_s: f64,
    pub mb_per_sec: f64,
    pub syncs_per_sec: f64,
    /// Pause target between chunk starts (0 = back to back).
    pub interval_ms: f64,
    /// write + fdatasync of one chunk.
    pub sync_latency: LatencySummary,
}

/// Writes `chunk`-sized blocks to a fresh file in `dir`, calling fdatasync
/// after each, until `total` bytes or `duration` elapse; removes the file.
/// With a non-zero `interval` a chunk starts once per interval (a schedule:
/// a slow sync delays the next chunk, never adds one).
pub fn run(
    dir: &Path,
    chunk: usize,
    total: u64,
    duration: Duration,
    interval: Duration,
) -> std::io::Result<DiskReport> {
    let path: PathBuf = dir.join(format!("rheo-bench-disk-{}.tmp", std::process::id()));
    let result = write_file(&path, chunk.max(1), total, duration, interval);
    let _ = std::fs::remove_file(&path);
    result
}

fn write_file(
    path: &Path,
    chunk: usize,
    total: u64,
    duration: Duration,
    interval: Duration,
) -> std::io::Result<DiskReport> {
    let mut f = OpenOptions::new().create_new(true).write(true).open(path)?;
    let mut buf = vec![0u8; chunk];
    rand::thread_rng().fill_bytes(&mut buf);
    let mut hist = Latency::new();
    let start = Instant::now();
    let mut written = 0u64;
    let mut chunks = 0u64;
    while written < total && start.elapsed() < duration {
        let t0 = Instant::now();
        f.write_all(&buf)?;
        f.sync_data()?;
        hist.record(t0.elapsed());
        written += chunk as u64;
        chunks += 1;
        if !interval.is_zero() {
            let next = start + interval.saturating_mul(u32::try_from(chunks).unwrap_or(u32::MAX));
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    Ok(DiskReport {
        path: path.display().to_string(),
        chunk_bytes: chunk,
        chunks,
        bytes: written,
        elapsed_s: secs,
        mb_per_sec: written as f64 / 1e6 / secs,
        syncs_per_sec: chunks as f64 / secs,
        interval_ms: interval.as_secs_f64() * 1e3,
        sync_latency: hist.summary(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_requested_amount_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(
            dir.path(),
            4096,
            10 * 4096,
            Duration::from_secs(30),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(r.chunks, 10);
        assert_eq!(r.bytes, 40_960);
        assert_eq!(r.sync_latency.count, 10);
        assert!(r.mb_per_sec > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn paced_chunks_follow_the_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let r = run(
            dir.path(),
            4096,
            u64::MAX,
            Duration::from_millis(200),
            Duration::from_millis(40),
        )
        .unwrap();
        // One chunk per 40 ms tick within 200 ms: about 5, never back to back
        // (unpaced, a 4 KiB write + fdatasync loop does hundreds in 200 ms).
        assert!((3..=6).contains(&r.chunks), "{} chunks", r.chunks);
        assert!(t.elapsed() >= Duration::from_millis(160));
        assert_eq!(r.interval_ms, 40.0);
    }
}
