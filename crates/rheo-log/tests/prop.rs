//! Property tests: the store against a simple Vec model (memory and disk, with reopens), recovery after cutting the
//! journal at an arbitrary byte, and the fuzz entry point on arbitrary bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use proptest::prelude::*;
use rheo_log::{FsyncPolicy, LogId, Offset, Store, StoreConfig};

#[derive(Clone, Debug)]
enum Op {
    Append {
        log: u64,
        ts: i64,
        payloads: Vec<Vec<u8>>,
    },
    Read {
        log: u64,
        from: u64,
        max_count: usize,
        max_bytes: usize,
    },
    Trim {
        log: u64,
        ts: i64,
    },
    Seek {
        log: u64,
        ts: i64,
    },
    TrimToOffset {
        log: u64,
        offset: u64,
    },
    Delete {
        log: u64,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3u64, 0..100i64, prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4))
            .prop_map(|(log, ts, payloads)| Op::Append { log, ts, payloads }),
        3 => (0..3u64, 0..30u64, 0..6usize, 0..100usize)
            .prop_map(|(log, from, max_count, max_bytes)| Op::Read { log, from, max_count, max_bytes }),
        1 => (0..3u64, 0..110i64).prop_map(|(log, ts)| Op::Trim { log, ts }),
        1 => (0..3u64, 0..110i64).prop_map(|(log, ts)| Op::Seek { log, ts }),
        1 => (0..3u64, 0..40u64).prop_map(|(log, offset)| Op::TrimToOffset { log, offset }),
        1 => (0..3u64).prop_map(|log| Op::Delete { log }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Default, Clone)]
struct ModelLog {
    entries: Vec<(i64, Bytes)>,
    start: u64,
    /// Largest trim requested: trims are not durable, so the caller re-applies it after a reopen.
    trim_ts: Option<i64>,
    /// Largest offset trim: durable, so it holds after a reopen without being re-applied.
    trim_off: u64,
}

impl ModelLog {
    fn seek(&self, ts: i64) -> u64 {
        let i = self.entries.partition_point(|(t, _)| *t < ts) as u64;
        i.max(self.start)
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn run_model(ops: Vec<Op>, dir: Option<&Path>) {
    let cfg = StoreConfig {
        dir: dir.map(Path::to_path_buf),
        fsync: FsyncPolicy::Group,
        segment_bytes_max: 512,
        direct_io: true,
        // Small enough that reads are served both from kept frames and from the files.
        recent_bytes_max: 1024,
        relocate_bytes_max: rheo_log::DEFAULT_RELOCATE_BYTES_MAX,
        writer_queue_bytes_max: rheo_log::WRITER_QUEUE_BYTES_MAX_DEFAULT,
    };
    let mut store = Store::open(cfg.clone()).unwrap();
    let mut model: HashMap<u64, ModelLog> = HashMap::new();
    let r = rt();
    for op in ops {
        match op {
            Op::Append { log, ts, payloads } => {
                let m = model.entry(log).or_default();
                let payloads: Vec<Bytes> = payloads.into_iter().map(Bytes::from).collect();
                let ack = r
                    .block_on(store.append(LogId(log), ts, payloads.clone()))
                    .unwrap();
                let last = m.entries.last().map(|e| e.0);
                let want_ts = last.map_or(ts, |l| l.max(ts));
                assert_eq!(ack.first, Offset(m.entries.len() as u64));
                assert_eq!(ack.count as usize, payloads.len());
                assert_eq!(ack.timestamp_ms, want_ts);
                m.entries.extend(payloads.into_iter().map(|p| (want_ts, p)));
            }
            Op::Read {
                log,
                from,
                max_count,
                max_bytes,
            } => {
                let m = model.get(&log).cloned().unwrap_or_default();
                let got = store
                    .read_blocking(LogId(log), Offset(from), max_count, max_bytes)
                    .unwrap();
                let mut want = Vec::new();
                let mut bytes = 0;
                for (i, (ts, p)) in m
                    .entries
                    .iter()
                    .enumerate()
                    .skip(from.max(m.start) as usize)
                {
                    if want.len() >= max_count || (!want.is_empty() && bytes + p.len() > max_bytes)
                    {
                        break;
                    }
                    bytes += p.len();
                    want.push((i as u64, *ts, p.clone()));
                }
                let got: Vec<_> = got
                    .into_iter()
                    .map(|e| (e.offset.0, e.timestamp_ms, e.payload))
                    .collect();
                assert_eq!(got, want);
            }
            Op::Trim { log, ts } => {
                store.trim_blocking(LogId(log), ts).unwrap();
                if let Some(m) = model.get_mut(&log) {
                    m.start = m.seek(ts);
                    m.trim_ts = Some(m.trim_ts.map_or(ts, |t| t.max(ts)));
                }
            }
            Op::Seek { log, ts } => {
                let m = model.get(&log).cloned().unwrap_or_default();
                assert_eq!(
                    store.seek_timestamp_blocking(LogId(log), ts).unwrap(),
                    Offset(m.seek(ts))
                );
            }
            Op::TrimToOffset { log, offset } => {
                r.block_on(store.trim_to_offset(LogId(log), Offset(offset)))
                    .unwrap();
                if let Some(m) = model.get_mut(&log) {
                    let to = offset.min(m.entries.len() as u64);
                    m.start = m.start.max(to);
                    m.trim_off = m.trim_off.max(to);
                }
            }
            Op::Delete { log } => {
                r.block_on(store.delete_log(LogId(log))).unwrap();
                model.remove(&log);
            }
            Op::Reopen => {
                if dir.is_some() {
                    drop(store);
                    store = Store::open(cfg.clone()).unwrap();
                    for (log, m) in model.iter_mut() {
                        // Only the offset trim survived; time retention is re-applied by the caller.
                        m.start = m.trim_off;
                        if let Some(ts) = m.trim_ts {
                            store.trim_blocking(LogId(*log), ts).unwrap();
                            // Re-applied retention also hides entries appended (with older timestamps) since.
                            m.start = m.seek(ts);
                        }
                    }
                }
            }
        }
        for (log, m) in &model {
            let b = store.bounds(LogId(*log)).unwrap();
            assert_eq!(
                (b.start.0, b.end.0),
                (m.start, m.entries.len() as u64),
                "bounds of log {log}"
            );
            assert_eq!(
                b.last_timestamp_ms,
                m.entries.last().map(|e| e.0),
                "last ts of log {log}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        run_model(ops, None);
    }

    #[test]
    fn disk_store_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let d = tempfile::tempdir().unwrap();
        run_model(ops, Some(d.path()));
    }

    /// Cutting the journal at any byte recovers exactly the frames that ended before the cut.
    #[test]
    fn recovery_after_cut_yields_exact_prefix(
        sizes in prop::collection::vec(prop::collection::vec(0..50usize, 1..4), 1..20),
        cut_frac in 0.0f64..1.0,
    ) {
        let d = tempfile::tempdir().unwrap();
        let cfg = StoreConfig { dir: Some(d.path().to_path_buf()), ..StoreConfig::default() };
        let store = Store::open(cfg.clone()).unwrap();
        let r = rt();
        let mut ends = Vec::new(); // (journal length after the append, entries so far)
        let mut appended: Vec<Bytes> = Vec::new();
        for (i, s) in sizes.iter().enumerate() {
            let payloads: Vec<Bytes> = s.iter().map(|n| Bytes::from(vec![i as u8; *n])).collect();
            r.block_on(store.append(LogId(9), i as i64, payloads.clone())).unwrap();
            appended.extend(payloads);
            ends.push((store.stats().disk_bytes, appended.len()));
        }
        drop(store);
        let seg = d.path().join("journal").join(format!("{:020}.seg", 1));
        let total = std::fs::metadata(&seg).unwrap().len();
        let cut = (total as f64 * cut_frac) as u64;
        std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(cut).unwrap();
        let want = ends.iter().rev().find(|(end, _)| *end <= cut).map_or(0, |(_, n)| *n);
        let store = Store::open(cfg).unwrap();
        let got = store.read_blocking(LogId(9), Offset(0), usize::MAX, usize::MAX).unwrap();
        prop_assert_eq!(got.len(), want);
        for (e, p) in got.iter().zip(&appended) {
            prop_assert_eq!(&e.payload, p);
        }
    }

    #[test]
    fn fuzz_recover_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        rheo_log::fuzz_recover(&bytes);
    }

    /// Valid journals with a few bytes flipped: recovery keeps a prefix and never panics.
    #[test]
    fn fuzz_recover_on_mutated_journals(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let d = tempfile::tempdir().unwrap();
        let cfg = StoreConfig { dir: Some(d.path().to_path_buf()), ..StoreConfig::default() };
        let store = Store::open(cfg).unwrap();
        let r = rt();
        for i in 0..10u64 {
            r.block_on(store.append(LogId(i % 2), i as i64, vec![Bytes::from(vec![1u8; 20])])).unwrap();
        }
        drop(store);
        let seg = d.path().join("journal").join(format!("{:020}.seg", 1));
        let mut b = std::fs::read(seg).unwrap();
        for (i, x) in flips {
            let at = i.index(b.len());
            b[at] ^= x;
        }
        rheo_log::fuzz_recover(&b);
    }
}
