//! The table against the engine: leases, concurrency, throughput, a model, crash cuts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rheo_kv::{Expected, KvConfig, KvError, KvTable};
use rheo_log::{FsyncPolicy, LogId, Store, StoreConfig};

const LOG: LogId = LogId(1 << 40);

fn disk(dir: &std::path::Path, fsync: FsyncPolicy, segment: u64) -> Store {
    Store::open(StoreConfig {
        dir: Some(dir.to_path_buf()),
        fsync,
        segment_bytes_max: segment,
        direct_io: false,
        ..StoreConfig::default()
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_renewals_keep_the_journal_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = disk(dir.path(), FsyncPolicy::Never, 64 * 1024);
    let config = KvConfig {
        snapshot_factor: 4,
        snapshot_min_bytes: 16 * 1024,
    };
    let table = Arc::new(KvTable::open(store.clone(), LOG, config).await.unwrap());
    let mut tasks = Vec::new();
    for lease in 0..10 {
        let t = Arc::clone(&table);
        tasks.push(tokio::spawn(async move {
            let key = format!("lease/shardId-{lease:012}");
            let mut v = t
                .put(
                    key.as_bytes(),
                    format!("owner=w{lease};counter=0"),
                    Expected::Absent,
                )
                .await
                .unwrap();
            for n in 1..=1000 {
                v = t
                    .put(
                        key.as_bytes(),
                        format!("owner=w{lease};counter={n}"),
                        Expected::Version(v),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    let mut max_disk = 0;
    for t in tasks {
        t.await.unwrap();
        max_disk = max_disk.max(store.stats().disk_bytes);
    }
    let stats = table.stats();
    assert_eq!(stats.items, 10);
    assert!(stats.snapshots > 0, "{stats:?}");
    // About 10,010 records of ~50 bytes were written (~500 KB): without snapshots and trims
    // the journal would hold them all. With them it holds a few segments at most.
    let disk_bytes = store.stats().disk_bytes;
    assert!(
        disk_bytes <= 4 * 64 * 1024,
        "journal holds {disk_bytes} bytes"
    );
    assert!(store.stats().segments <= 4);
    for lease in 0..10 {
        let v = table
            .get(format!("lease/shardId-{lease:012}").as_bytes())
            .unwrap();
        assert_eq!(v.value, Bytes::from(format!("owner=w{lease};counter=1000")));
    }
    let before: Vec<_> = table.scan_prefix(b"lease/", 100);
    Arc::try_unwrap(table).unwrap().close().await;
    drop(store);
    let store = disk(dir.path(), FsyncPolicy::Never, 64 * 1024);
    let table = KvTable::open(store, LOG, config).await.unwrap();
    assert_eq!(table.scan_prefix(b"lease/", 100), before);
    println!("lease test: max journal {max_disk} bytes, final {disk_bytes} bytes, {stats:?}");
    table.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cas_increments_lose_no_update() {
    let store = Store::open(StoreConfig::default()).unwrap();
    let table = Arc::new(
        KvTable::open(store, LOG, KvConfig::default())
            .await
            .unwrap(),
    );
    table.put(b"counter", "0", Expected::Absent).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let t = Arc::clone(&table);
        tasks.push(tokio::spawn(async move {
            let mut won = 0u64;
            for _ in 0..50 {
                let cur = t.get(b"counter").unwrap();
                let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                match t
                    .put(
                        b"counter",
                        (n + 1).to_string(),
                        Expected::Version(cur.version),
                    )
                    .await
                {
                    Ok(_) => won += 1,
                    Err(KvError::ConditionFailed { current }) => {
                        assert!(current.unwrap() > cur.version)
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            won
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += t.await.unwrap();
    }
    let v = table.get(b"counter").unwrap();
    assert!(won > 0);
    assert_eq!(std::str::from_utf8(&v.value).unwrap(), won.to_string());
}

async fn throughput(writers: usize, total: usize) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = disk(dir.path(), FsyncPolicy::Group, 128 * 1024 * 1024);
    let table = Arc::new(
        KvTable::open(store.clone(), LOG, KvConfig::default())
            .await
            .unwrap(),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let t = Arc::clone(&table);
        tasks.push(tokio::spawn(async move {
            let key = format!("lease/{w}");
            let mut expected = Expected::Absent;
            for _ in 0..total / writers {
                let v = t
                    .put(key.as_bytes(), "owner=worker", expected)
                    .await
                    .unwrap();
                expected = Expected::Version(v);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    (rate, store.stats().fsyncs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_with_1_and_64_writers() {
    // Printed, not asserted: the machine is shared. Debug build, fsync policy `group`.
    let (one, fsyncs_one) = throughput(1, 500).await;
    let (many, fsyncs_many) = throughput(64, 6400).await;
    println!("kv throughput: 1 writer {one:.0} CAS writes/s ({fsyncs_one} fsyncs for 500), 64 writers {many:.0} CAS writes/s ({fsyncs_many} fsyncs for 6400)");
}

/// The model: key -> (version, value).
type Model = BTreeMap<Vec<u8>, (u64, Vec<u8>)>;

fn snapshot_of(table: &KvTable) -> Model {
    table
        .scan(
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            usize::MAX,
        )
        .into_iter()
        .map(|i| (i.key, (i.version, i.value.to_vec())))
        .collect()
}

/// Applies one op to the table and the model; both must agree on the outcome.
async fn step(table: &KvTable, model: &mut Model, counter: &mut u64, op: (u8, u8, u8, u8)) {
    let (kind, k, cond, val) = op;
    let key = vec![b'k', k % 6];
    let current = model.get(&key).map(|(v, _)| *v);
    let expected = match cond % 4 {
        0 => Expected::Any,
        1 => Expected::Absent,
        2 => Expected::Version(current.unwrap_or(1)),
        _ => Expected::Version(u64::from(val)),
    };
    let holds = match expected {
        Expected::Any => true,
        Expected::Absent => current.is_none(),
        Expected::Version(v) => current == Some(v),
    };
    if kind % 3 == 0 {
        let got = table.delete(&key, expected).await;
        if !holds {
            assert_eq!(got, Err(KvError::ConditionFailed { current }));
        } else {
            assert_eq!(got, Ok(current));
            if current.is_some() {
                *counter += 1;
                model.remove(&key);
            }
        }
    } else {
        let value = vec![val; usize::from(val % 50)];
        let got = table.put(&key, value.clone(), expected).await;
        if !holds {
            assert_eq!(got, Err(KvError::ConditionFailed { current }));
        } else {
            let v = got.unwrap();
            assert!(v > *counter, "version {v} not above {counter}");
            *counter = v;
            model.insert(key, (v, value));
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn the_table_matches_a_btreemap_across_reopens(
        ops in proptest::collection::vec((0u8..255, 0u8..255, 0u8..255, 0u8..255, proptest::bool::weighted(0.05)), 1..200),
        on_disk in proptest::bool::ANY,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let open_store = || if on_disk {
                disk(dir.path(), FsyncPolicy::Never, 8 * 1024)
            } else {
                Store::open(StoreConfig::default()).unwrap()
            };
            let config = KvConfig { snapshot_factor: 2, snapshot_min_bytes: 256 };
            let mut store = open_store();
            let mut table = KvTable::open(store.clone(), LOG, config).await.unwrap();
            let mut model = Model::new();
            let mut counter = 0;
            for (a, b, c, d, reopen) in ops {
                step(&table, &mut model, &mut counter, (a, b, c, d)).await;
                if reopen && on_disk {
                    table.close().await;
                    drop(store);
                    store = open_store();
                    table = KvTable::open(store.clone(), LOG, config).await.unwrap();
                }
                assert_eq!(snapshot_of(&table), model);
                assert_eq!(table.len(), model.len());
            }
            table.close().await;
        });
    }
}

/// Writes ops, closes, then cuts the journal segment at many byte positions: each reopened
/// table equals the model after some prefix of the ops (never a torn item), the prefix grows
/// with the cut, and a new write gets a version above every surviving one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_cuts_leave_a_prefix_of_the_writes() {
    let dir = tempfile::tempdir().unwrap();
    let config = KvConfig {
        snapshot_factor: 2,
        snapshot_min_bytes: 512,
    };
    let mut prefixes: Vec<Model> = vec![Model::new()];
    // Journal length when each prefix was acknowledged: with policy `never` and buffered
    // writes the segment file ends where the last written frame ends.
    let mut acked_at: Vec<u64> = vec![0];
    let first_segment = dir.path().join("journal").join(format!("{:020}.seg", 1));
    {
        let store = disk(dir.path(), FsyncPolicy::Never, 128 * 1024 * 1024);
        let table = KvTable::open(store.clone(), LOG, config).await.unwrap();
        let mut model = Model::new();
        let mut counter = 0;
        for i in 0..300u32 {
            let b = i.to_le_bytes();
            step(
                &table,
                &mut model,
                &mut counter,
                (b[0].wrapping_mul(7), b[0] / 3, b[0] % 3, b[0]),
            )
            .await;
            if prefixes.last() != Some(&model) {
                prefixes.push(model.clone());
                acked_at.push(std::fs::metadata(&first_segment).unwrap().len());
            }
        }
        assert!(table.stats().snapshots > 0);
        table.close().await;
    }
    let journal = dir.path().join("journal");
    let seg = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let bytes = std::fs::read(&seg).unwrap();
    assert_eq!(seg, first_segment);
    assert!(acked_at.windows(2).all(|w| w[0] <= w[1]));
    assert!(*acked_at.last().unwrap() <= bytes.len() as u64);
    assert!(*acked_at.last().unwrap() > 0);
    let mut last_prefix = 0;
    let step_by = (bytes.len() / 150).max(1);
    let cuts: Vec<usize> = (0..bytes.len())
        .step_by(step_by)
        .chain([bytes.len()])
        .collect();
    for cut in cuts {
        let copy = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(copy.path().join("journal")).unwrap();
        for e in std::fs::read_dir(&journal).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "seg") {
                std::fs::write(
                    copy.path().join("journal").join(p.file_name().unwrap()),
                    &bytes[..cut],
                )
                .unwrap();
            }
        }
        let store = disk(copy.path(), FsyncPolicy::Never, 128 * 1024 * 1024);
        let table = KvTable::open(store, LOG, config).await.unwrap();
        let state = snapshot_of(&table);
        // Every write acknowledged before the cut's position survives, and the prefix never
        // goes back as the cut grows. Non-empty states never repeat (every write gives a new
        // version); the empty one may (everything deleted), hence the search from the floor.
        let required = acked_at.iter().rposition(|&p| p <= cut as u64).unwrap_or(0);
        let floor = required.max(last_prefix);
        let at = prefixes
            .iter()
            .skip(floor)
            .position(|m| *m == state)
            .map(|i| i + floor)
            .unwrap_or_else(|| {
                panic!("cut at {cut}: state is no prefix at or after {floor} (acknowledged: {required})")
            });
        last_prefix = at;
        let top = state.values().map(|(v, _)| *v).max().unwrap_or(0);
        let v = table.put(b"fresh", "x", Expected::Any).await.unwrap();
        assert!(v > top, "cut at {cut}: version {v} reused (<= {top})");
        table.close().await;
    }
    assert_eq!(
        last_prefix,
        prefixes.len() - 1,
        "the uncut journal holds every write"
    );
}
