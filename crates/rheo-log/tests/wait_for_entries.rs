//! `Store::wait_for_entries`: a reader at a log's end wakes when an append becomes visible,
//! on both engines, and otherwise returns after its bound.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use rheo_log::{LogId, Offset, Store, StoreConfig};

async fn wakes_on_append(store: Store) {
    let log = LogId(1);
    store
        .append(log, 1, vec![Bytes::from_static(b"a")])
        .await
        .unwrap();
    // An entry at 0 exists: no wait.
    let t = Instant::now();
    store
        .wait_for_entries(log, Offset(0), Duration::from_secs(30))
        .await;
    assert!(t.elapsed() < Duration::from_secs(5));

    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            store
                .wait_for_entries(log, Offset(1), Duration::from_secs(30))
                .await;
            (t.elapsed(), store.bounds(log).unwrap().end)
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    store
        .append(log, 2, vec![Bytes::from_static(b"b")])
        .await
        .unwrap();
    let (waited, end) = waiter.await.unwrap();
    assert_eq!(end, Offset(2), "woke before the entry was visible");
    assert!(
        waited < Duration::from_secs(10),
        "waited {waited:?}: not woken by the append"
    );

    // Nothing comes: the bound ends the wait.
    let t = Instant::now();
    store
        .wait_for_entries(log, Offset(2), Duration::from_millis(100))
        .await;
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory() {
    wakes_on_append(Store::open(StoreConfig::default()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_disk() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig {
        dir: Some(d.path().to_path_buf()),
        ..StoreConfig::default()
    })
    .unwrap();
    wakes_on_append(store).await;
}
