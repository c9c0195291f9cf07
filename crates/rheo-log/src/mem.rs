//! In-memory backend (`StoreConfig::dir == None`): the same semantics as the disk engine with entries held in RAM.
//! Used by CI and tests of the crates above; nothing survives the process. Trimmed entries are dropped so memory
//! follows the visible data.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{
    effective_timestamp, AppendAck, AppendError, Entry, LogBounds, LogId, Offset, StoreStats,
};

#[derive(Debug, Default)]
struct MemLog {
    /// Offset of `entries[0]`; everything before it has been trimmed (so it is also the log's start).
    base: u64,
    entries: VecDeque<(i64, Bytes)>,
    last_ts: Option<i64>,
}

impl MemLog {
    fn end(&self) -> u64 {
        self.base + self.entries.len() as u64
    }
}

#[derive(Debug, Default)]
struct Inner {
    logs: HashMap<LogId, MemLog>,
    payload_bytes: u64,
    appends: u64,
}

#[derive(Debug, Default)]
pub(crate) struct MemStore {
    inner: Mutex<Inner>,
    catalog: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Woken after every append, for readers waiting at a log's end (`Store::wait_for_entries`).
    appended: tokio::sync::Notify,
}

impl MemStore {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn append(
        &self,
        log: LogId,
        ts: i64,
        payloads: Vec<Bytes>,
    ) -> Result<AppendAck, AppendError> {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let l = inner.logs.entry(log).or_default();
        let ts = effective_timestamp(ts, l.last_ts);
        let first = Offset(l.end());
        let count = payloads.len() as u32;
        if count == 0 {
            return Ok(AppendAck {
                first,
                count,
                timestamp_ms: ts,
            });
        }
        let mut bytes = 0u64;
        for p in payloads {
            bytes += p.len() as u64;
            l.entries.push_back((ts, p));
        }
        l.last_ts = Some(ts);
        inner.payload_bytes += bytes;
        inner.appends += 1;
        drop(g);
        self.appended.notify_waiters();
        Ok(AppendAck {
            first,
            count,
            timestamp_ms: ts,
        })
    }

    pub(crate) fn appended(&self) -> &tokio::sync::Notify {
        &self.appended
    }

    pub(crate) fn read(
        &self,
        log: LogId,
        from: Offset,
        max_count: usize,
        max_bytes: usize,
    ) -> Vec<Entry> {
        let g = self.inner.lock();
        let Some(l) = g.logs.get(&log) else {
            return Vec::new();
        };
        let from = from.0.max(l.base);
        let skip = usize::try_from(from - l.base).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (i, (ts, p)) in l.entries.iter().enumerate().skip(skip) {
            if out.len() >= max_count || (!out.is_empty() && bytes + p.len() > max_bytes) {
                break;
            }
            bytes += p.len();
            out.push(Entry {
                offset: Offset(l.base + i as u64),
                timestamp_ms: *ts,
                payload: p.clone(),
            });
        }
        out
    }

    pub(crate) fn bounds(&self, log: LogId) -> LogBounds {
        let g = self.inner.lock();
        match g.logs.get(&log) {
            None => LogBounds {
                start: Offset(0),
                end: Offset(0),
                last_timestamp_ms: None,
            },
            Some(l) => LogBounds {
                start: Offset(l.base),
                end: Offset(l.end()),
                last_timestamp_ms: l.last_ts,
            },
        }
    }

    pub(crate) fn seek_timestamp(&self, log: LogId, ts: i64) -> Offset {
        let g = self.inner.lock();
        let Some(l) = g.logs.get(&log) else {
            return Offset(0);
        };
        // Timestamps never decrease within a log, so the predicate is monotonic.
        let idx = l.entries.partition_point(|(t, _)| *t < ts);
        Offset(l.base + idx as u64)
    }

    pub(crate) fn trim(&self, log: LogId, before_ts: i64) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let Some(l) = inner.logs.get_mut(&log) else {
            return;
        };
        let n = l.entries.partition_point(|(t, _)| *t < before_ts);
        let freed: u64 = l.entries.drain(..n).map(|(_, p)| p.len() as u64).sum();
        l.base += n as u64;
        inner.payload_bytes -= freed;
    }

    /// Drops the entries of `log` below `offset` (clamped to its end), as the disk engine's durable trim does.
    pub(crate) fn trim_to_offset(&self, log: LogId, offset: Offset) {
        let mut g = self.inner.lock();
        let inner = &mut *g;
        let Some(l) = inner.logs.get_mut(&log) else {
            return;
        };
        let n = usize::try_from(offset.0.min(l.end()).saturating_sub(l.base)).unwrap_or(0);
        let freed: u64 = l.entries.drain(..n).map(|(_, p)| p.len() as u64).sum();
        l.base += n as u64;
        inner.payload_bytes -= freed;
    }

    pub(crate) fn delete_log(&self, log: LogId) {
        let mut g = self.inner.lock();
        if let Some(l) = g.logs.remove(&log) {
            let freed: u64 = l.entries.iter().map(|(_, p)| p.len() as u64).sum();
            g.payload_bytes -= freed;
        }
    }

    pub(crate) fn catalog_put(&self, key: &str, value: &[u8]) {
        self.catalog.lock().insert(key.to_string(), value.to_vec());
    }

    pub(crate) fn catalog_get(&self, key: &str) -> Option<Vec<u8>> {
        self.catalog.lock().get(key).cloned()
    }

    pub(crate) fn catalog_delete(&self, key: &str) {
        self.catalog.lock().remove(key);
    }

    pub(crate) fn catalog_list(&self, prefix: &str) -> Vec<(String, Vec<u8>)> {
        self.catalog
            .lock()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub(crate) fn log_ids(&self) -> Vec<LogId> {
        let mut v: Vec<LogId> = self.inner.lock().logs.keys().copied().collect();
        v.sort();
        v
    }

    /// Payload bytes each log holds (the memory store's "disk").
    pub(crate) fn log_bytes(&self) -> Vec<(LogId, u64)> {
        let g = self.inner.lock();
        let mut v: Vec<(LogId, u64)> = g
            .logs
            .iter()
            .map(|(id, l)| (*id, l.entries.iter().map(|(_, b)| b.len() as u64).sum()))
            .collect();
        v.sort_unstable();
        v
    }

    pub(crate) fn stats(&self) -> StoreStats {
        let g = self.inner.lock();
        StoreStats {
            segments: 0,
            disk_bytes: g.payload_bytes,
            logs: g.logs.len() as u64,
            index_points: 0,
            appends: g.appends,
            write_batches: 0,
            fsyncs: 0,
            ..StoreStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn payloads(e: &[Entry]) -> Vec<Bytes> {
        e.iter().map(|e| e.payload.clone()).collect()
    }

    #[test]
    fn offsets_are_dense_per_log_and_timestamps_monotonic() {
        let m = MemStore::new();
        let a = m.append(LogId(1), 10, vec![b("a"), b("b")]).unwrap();
        let c = m.append(LogId(1), 5, vec![b("c")]).unwrap();
        let x = m.append(LogId(2), 1, vec![b("x")]).unwrap();
        assert_eq!((a.first, a.count, a.timestamp_ms), (Offset(0), 2, 10));
        assert_eq!((c.first, c.count, c.timestamp_ms), (Offset(2), 1, 10));
        assert_eq!((x.first, x.timestamp_ms), (Offset(0), 1));
        let all = m.read(LogId(1), Offset(0), 100, 1000);
        assert_eq!(
            all.iter().map(|e| e.offset.0).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(all.iter().all(|e| e.timestamp_ms == 10));
    }

    #[test]
    fn empty_append_stores_nothing() {
        let m = MemStore::new();
        m.append(LogId(1), 10, vec![b("a")]).unwrap();
        let e = m.append(LogId(1), 20, vec![]).unwrap();
        assert_eq!((e.first, e.count, e.timestamp_ms), (Offset(1), 0, 20));
        assert_eq!(m.bounds(LogId(1)).last_timestamp_ms, Some(10));
    }

    #[test]
    fn read_limits() {
        let m = MemStore::new();
        m.append(LogId(1), 1, vec![b("aaaa"), b("bbbb"), b("cccc")])
            .unwrap();
        assert_eq!(
            payloads(&m.read(LogId(1), Offset(0), 2, 1000)),
            vec![b("aaaa"), b("bbbb")]
        );
        assert_eq!(
            payloads(&m.read(LogId(1), Offset(0), 10, 8)),
            vec![b("aaaa"), b("bbbb")]
        );
        // At least one entry even if it alone exceeds max_bytes.
        assert_eq!(
            payloads(&m.read(LogId(1), Offset(1), 10, 1)),
            vec![b("bbbb")]
        );
        assert!(m.read(LogId(1), Offset(3), 10, 10).is_empty());
        assert!(m.read(LogId(1), Offset(0), 0, 10).is_empty());
        assert!(m.read(LogId(7), Offset(0), 10, 10).is_empty());
    }

    #[test]
    fn trim_and_seek() {
        let m = MemStore::new();
        m.append(LogId(1), 10, vec![b("a")]).unwrap();
        m.append(LogId(1), 20, vec![b("b"), b("c")]).unwrap();
        m.append(LogId(1), 30, vec![b("d")]).unwrap();
        assert_eq!(m.seek_timestamp(LogId(1), 0), Offset(0));
        assert_eq!(m.seek_timestamp(LogId(1), 15), Offset(1));
        assert_eq!(m.seek_timestamp(LogId(1), 20), Offset(1));
        assert_eq!(m.seek_timestamp(LogId(1), 31), Offset(4));
        m.trim(LogId(1), 20);
        assert_eq!(
            m.bounds(LogId(1)),
            LogBounds {
                start: Offset(1),
                end: Offset(4),
                last_timestamp_ms: Some(30)
            }
        );
        // Reads before start are clamped up to it.
        assert_eq!(m.read(LogId(1), Offset(0), 10, 100)[0].offset, Offset(1));
        assert_eq!(m.seek_timestamp(LogId(1), 0), Offset(1));
        // Trimming backwards is a no-op.
        m.trim(LogId(1), 0);
        assert_eq!(m.bounds(LogId(1)).start, Offset(1));
        m.trim(LogId(1), 1000);
        assert_eq!(
            m.bounds(LogId(1)),
            LogBounds {
                start: Offset(4),
                end: Offset(4),
                last_timestamp_ms: Some(30)
            }
        );
        assert_eq!(m.stats().disk_bytes, 0);
    }

    #[test]
    fn trim_to_offset_clamps_and_never_moves_back() {
        let m = MemStore::new();
        m.append(LogId(1), 10, vec![b("a"), b("bb"), b("ccc")])
            .unwrap();
        m.trim_to_offset(LogId(1), Offset(2));
        assert_eq!(m.bounds(LogId(1)).start, Offset(2));
        assert_eq!(m.read(LogId(1), Offset(0), 10, 100)[0].payload, b("ccc"));
        assert_eq!(m.stats().disk_bytes, 3);
        m.trim_to_offset(LogId(1), Offset(1));
        assert_eq!(m.bounds(LogId(1)).start, Offset(2));
        m.trim_to_offset(LogId(1), Offset(99));
        assert_eq!(
            m.bounds(LogId(1)),
            LogBounds {
                start: Offset(3),
                end: Offset(3),
                last_timestamp_ms: Some(10)
            }
        );
        let a = m.append(LogId(1), 11, vec![b("d")]).unwrap();
        assert_eq!(a.first, Offset(3));
        m.trim_to_offset(LogId(9), Offset(5));
        assert_eq!(m.stats().logs, 1);
    }

    #[test]
    fn delete_resets_log() {
        let m = MemStore::new();
        m.append(LogId(1), 10, vec![b("a")]).unwrap();
        m.delete_log(LogId(1));
        assert_eq!(
            m.bounds(LogId(1)),
            LogBounds {
                start: Offset(0),
                end: Offset(0),
                last_timestamp_ms: None
            }
        );
        let a = m.append(LogId(1), 5, vec![b("z")]).unwrap();
        assert_eq!((a.first, a.timestamp_ms), (Offset(0), 5));
        assert_eq!(m.stats().logs, 1);
    }

    #[test]
    fn catalog_crud_and_prefix_list() {
        let m = MemStore::new();
        m.catalog_put("stream/a", b"1");
        m.catalog_put("stream/b", b"2");
        m.catalog_put("streamz", b"3");
        m.catalog_put("other", b"4");
        m.catalog_put("stream/a", b"11");
        assert_eq!(m.catalog_get("stream/a"), Some(b"11".to_vec()));
        assert_eq!(
            m.catalog_list("stream/"),
            vec![
                ("stream/a".to_string(), b"11".to_vec()),
                ("stream/b".to_string(), b"2".to_vec())
            ]
        );
        m.catalog_delete("stream/a");
        m.catalog_delete("missing");
        assert_eq!(m.catalog_get("stream/a"), None);
        assert_eq!(m.catalog_list("").len(), 3);
    }
}
