//! Setup shared by the disk-engine tests of this crate: a store in a directory, the domain over it with a
//! manual clock and short CREATING/DELETING transitions, and the path of a stream's catalog entry.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rheo_log::{Store, StoreConfig};
use rheo_streams::clock::ManualClock;
use rheo_streams::types::{Ctx, GetShardIterator, IteratorType, Record, StreamTarget};
use rheo_streams::{Config, Streams};

pub const REGION: &str = "us-east-1";

pub fn ctx() -> Ctx {
    Ctx::in_region(REGION)
}

pub fn store(dir: &Path) -> Store {
    Store::open(StoreConfig {
        dir: Some(dir.to_path_buf()),
        ..StoreConfig::default()
    })
    .unwrap()
}

/// The domain on the disk engine in `dir`; streams become ACTIVE (or go) 100 ms after Create/DeleteStream.
/// AWS's limits are off: the manual clock stands still while the tests register, put and read
/// in bulk, which the per-second limits would refuse.
pub fn open(dir: &Path, clock: &ManualClock) -> Streams {
    open_with(
        dir,
        clock,
        Config {
            throughput_limits: false,
            ..Config::default()
        },
    )
}

/// [`open`] with `config` (its CREATING/DELETING times replaced by 100 ms).
pub fn open_with(dir: &Path, clock: &ManualClock, config: Config) -> Streams {
    let config = Config {
        create_stream_ms: 100,
        delete_stream_ms: 100,
        ..config
    };
    Streams::open(config, store(dir), Arc::new(clock.clone())).unwrap()
}

/// The catalog key of a stream's metadata.
pub fn key(name: &str) -> String {
    format!("stream/{REGION}/{name}")
}

/// The file that holds a stream's catalog entry.
pub fn catalog_file(dir: &Path, name: &str) -> PathBuf {
    dir.join("catalog")
        .join(rheo_log::catalog_file_name(&key(name)))
}

/// Every record of every shard of the stream, read from TRIM_HORIZON `limit` records per GetRecords (small
/// limits make the reads cross segment and frame boundaries), shard by shard in DescribeStream's order.
pub async fn read_all(s: &Streams, name: &str, limit: u32) -> Vec<Record> {
    let shards = s
        .describe_stream(&ctx(), &StreamTarget::name(name), None, None)
        .await
        .unwrap()
        .shards;
    let mut got = Vec::new();
    for shard in shards {
        let mut it = s
            .get_shard_iterator(
                &ctx(),
                GetShardIterator {
                    target: StreamTarget::name(name),
                    shard_id: shard.shard_id.clone(),
                    kind: IteratorType::TrimHorizon,
                    starting_sequence_number: None,
                    timestamp_ms: None,
                },
            )
            .await
            .unwrap();
        for _ in 0..50 {
            let out = s.get_records(&ctx(), &it, Some(limit), None).await.unwrap();
            got.extend(out.records);
            match out.next_shard_iterator {
                Some(n) if out.millis_behind_latest > 0 || n != it => it = n,
                _ => break,
            }
        }
    }
    got
}
