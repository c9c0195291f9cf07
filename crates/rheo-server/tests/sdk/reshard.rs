//! Resharding through the SDK: SplitShard, MergeShards, UpdateShardCount, lineage, ChildShards at
//! the end of closed shards, and ListShards filters and pagination on a resharded stream.

use std::time::{Duration, SystemTime};

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ChildShard, Record, ScalingType, Shard, ShardFilter, ShardFilterType, ShardIteratorType,
    StreamStatus,
};
use aws_sdk_kinesis::Client;
use aws_smithy_types::DateTime;

use crate::harness::{Server, ACCOUNT};
use crate::util::*;

const HALF: u128 = 1u128 << 127;

/// Reads a closed shard from TRIM_HORIZON to its end; returns its records and the ChildShards of
/// the final page (the one whose NextShardIterator is null).
async fn read_closed_shard(
    client: &Client,
    stream: &str,
    shard: &str,
) -> (Vec<Record>, Vec<ChildShard>) {
    let mut it = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_string();
    let mut records = Vec::new();
    for _ in 0..50 {
        let page = client
            .get_records()
            .shard_iterator(&it)
            .send()
            .await
            .unwrap();
        records.extend(page.records().iter().cloned());
        match page.next_shard_iterator() {
            Some(next) => {
                assert!(
                    page.child_shards().is_empty(),
                    "ChildShards only come with the page that ends the shard"
                );
                it = next.to_string();
            }
            None => return (records, page.child_shards().to_vec()),
        }
    }
    panic!("closed shard {shard} never returned a null NextShardIterator");
}

fn ids(shards: &[Shard]) -> Vec<String> {
    shards.iter().map(|s| s.shard_id().to_string()).collect()
}

fn child_summary(children: &[ChildShard]) -> Vec<(String, Vec<String>, (u128, u128))> {
    let mut out: Vec<_> = children
        .iter()
        .map(|c| {
            let r = c.hash_key_range().expect("ChildShard HashKeyRange");
            (
                c.shard_id().to_string(),
                c.parent_shards().to_vec(),
                (hash(r.starting_hash_key()), hash(r.ending_hash_key())),
            )
        })
        .collect();
    out.sort();
    out
}

async fn list_filtered(client: &Client, stream: &str, filter: ShardFilter) -> Vec<String> {
    let out = client
        .list_shards()
        .stream_name(stream)
        .shard_filter(filter.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("list_shards with {filter:?}: {e:?}"));
    ids(out.shards())
}

fn filter(kind: ShardFilterType) -> ShardFilter {
    ShardFilter::builder().r#type(kind).build().unwrap()
}

fn filter_at(kind: ShardFilterType, ts: DateTime) -> ShardFilter {
    ShardFilter::builder()
        .r#type(kind)
        .timestamp(ts)
        .build()
        .unwrap()
}

#[tokio::test]
async fn split_then_merge_with_lineage_and_child_shards() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "reshape", 1).await;
    let before = client
        .put_record()
        .stream_name("reshape")
        .partition_key("before-split")
        .data(Blob::new(b"parent data".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(before.shard_id(), shard_id(0));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pre_split = DateTime::from(SystemTime::now());
    tokio::time::sleep(Duration::from_millis(200)).await;

    client
        .split_shard()
        .stream_name("reshape")
        .shard_to_split(shard_id(0))
        .new_starting_hash_key(HALF.to_string())
        .send()
        .await
        .unwrap();
    // While the split is in progress (50 ms) the stream is UPDATING and refuses more resharding.
    let (err, _) = service_error(
        client
            .split_shard()
            .stream_name("reshape")
            .shard_to_split(shard_id(0))
            .new_starting_hash_key("12345")
            .send()
            .await,
    );
    assert!(err.is_resource_in_use_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceInUseException",
        &format!("Stream reshape under account {ACCOUNT} not ACTIVE, instead in state UPDATING"),
    );
    let summary = wait_active(&client, "reshape").await;
    assert_eq!(summary.open_shard_count(), 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_split = DateTime::from(SystemTime::now());

    let shards = list_all_shards(&client, "reshape").await;
    assert_eq!(ids(&shards), [shard_id(0), shard_id(1), shard_id(2)]);
    assert!(!is_open(&shards[0]), "the split parent is closed");
    assert_eq!(range_of(&shards[0]), (0, MAX_HASH));
    assert_eq!(range_of(&shards[1]), (0, HALF - 1));
    assert_eq!(range_of(&shards[2]), (HALF, MAX_HASH));
    for child in &shards[1..] {
        assert!(is_open(child));
        assert_eq!(child.parent_shard_id(), Some(shard_id(0).as_str()));
        assert!(child.adjacent_parent_shard_id().is_none());
    }
    let parent_range = shards[0].sequence_number_range().unwrap();
    let parent_end = parent_range.ending_sequence_number().unwrap();
    assert!(
        !seq_lt(parent_end, before.sequence_number()),
        "parent's range covers its records"
    );
    assert_open_shards_cover_keyspace(&shards);

    // The closed parent still serves its data, then hands over to both children.
    let (records, children) = read_closed_shard(&client, "reshape", &shard_id(0)).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sequence_number(), before.sequence_number());
    assert_eq!(records[0].data().as_ref(), b"parent data");
    assert_eq!(
        child_summary(&children),
        [
            (shard_id(1), vec![shard_id(0)], (0, HALF - 1)),
            (shard_id(2), vec![shard_id(0)], (HALF, MAX_HASH)),
        ]
    );

    // New writes go to the children.
    for (key, expected) in [
        ("0".to_string(), shard_id(1)),
        (MAX_HASH.to_string(), shard_id(2)),
    ] {
        let out = client
            .put_record()
            .stream_name("reshape")
            .partition_key("x")
            .explicit_hash_key(key)
            .data(Blob::new(b"child".to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.shard_id(), expected);
    }
    let routed = client
        .put_record()
        .stream_name("reshape")
        .partition_key("after-split")
        .data(Blob::new(b"y".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        routed.shard_id(),
        owning_shard(&shards, md5_hash_key("after-split"))
    );

    // A closed shard cannot be split again.
    let (err, _) = service_error(
        client
            .split_shard()
            .stream_name("reshape")
            .shard_to_split(shard_id(0))
            .new_starting_hash_key("1000")
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        &format!(
            "Shard {} in stream reshape under account {ACCOUNT} has already been merged or split, \
             and thus is not eligible for merging or splitting.",
            shard_id(0)
        ),
    );

    // ListShards filters on the split stream.
    let all = [shard_id(0), shard_id(1), shard_id(2)];
    let kids = [shard_id(1), shard_id(2)];
    assert_eq!(
        list_filtered(&client, "reshape", filter(ShardFilterType::AtLatest)).await,
        kids
    );
    assert_eq!(
        list_filtered(&client, "reshape", filter(ShardFilterType::FromTrimHorizon)).await,
        all
    );
    assert_eq!(
        list_filtered(&client, "reshape", filter(ShardFilterType::AtTrimHorizon)).await,
        [shard_id(0)]
    );
    let after0 = ShardFilter::builder()
        .r#type(ShardFilterType::AfterShardId)
        .shard_id(shard_id(0))
        .build()
        .unwrap();
    assert_eq!(list_filtered(&client, "reshape", after0).await, kids);
    assert_eq!(
        list_filtered(
            &client,
            "reshape",
            filter_at(ShardFilterType::AtTimestamp, pre_split)
        )
        .await,
        [shard_id(0)]
    );
    assert_eq!(
        list_filtered(
            &client,
            "reshape",
            filter_at(ShardFilterType::AtTimestamp, after_split)
        )
        .await,
        kids
    );
    assert_eq!(
        list_filtered(
            &client,
            "reshape",
            filter_at(ShardFilterType::FromTimestamp, pre_split)
        )
        .await,
        all
    );
    assert_eq!(
        list_filtered(
            &client,
            "reshape",
            filter_at(ShardFilterType::FromTimestamp, after_split)
        )
        .await,
        kids
    );

    // ListShards pagination: MaxResults, then NextToken alone.
    let p1 = client
        .list_shards()
        .stream_name("reshape")
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(ids(p1.shards()), [shard_id(0)]);
    let mut token = p1.next_token().expect("NextToken").to_string();
    let p2 = client
        .list_shards()
        .next_token(&token)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(ids(p2.shards()), [shard_id(1)]);
    token = p2.next_token().expect("NextToken").to_string();
    let p3 = client
        .list_shards()
        .next_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ids(p3.shards()), [shard_id(2)]);
    assert!(p3.next_token().is_none());
    let (err, _) = service_error(
        client
            .list_shards()
            .stream_name("reshape")
            .next_token(&token)
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        "NextToken and StreamName cannot be provided together.",
    );
    let tail = client
        .list_shards()
        .stream_name("reshape")
        .exclusive_start_shard_id(shard_id(1))
        .send()
        .await
        .unwrap();
    assert_eq!(ids(tail.shards()), [shard_id(2)]);

    // Merge the two children back into one.
    client
        .merge_shards()
        .stream_name("reshape")
        .shard_to_merge(shard_id(1))
        .adjacent_shard_to_merge(shard_id(2))
        .send()
        .await
        .unwrap();
    assert_eq!(
        *client
            .describe_stream_summary()
            .stream_name("reshape")
            .send()
            .await
            .unwrap()
            .stream_description_summary()
            .unwrap()
            .stream_status(),
        StreamStatus::Updating
    );
    let summary = wait_active(&client, "reshape").await;
    assert_eq!(summary.open_shard_count(), 1);
    let shards = list_all_shards(&client, "reshape").await;
    assert_eq!(
        ids(&shards),
        [shard_id(0), shard_id(1), shard_id(2), shard_id(3)]
    );
    let merged = &shards[3];
    assert!(is_open(merged));
    assert_eq!(range_of(merged), (0, MAX_HASH));
    assert_eq!(merged.parent_shard_id(), Some(shard_id(1).as_str()));
    assert_eq!(
        merged.adjacent_parent_shard_id(),
        Some(shard_id(2).as_str())
    );
    assert!(!is_open(&shards[1]) && !is_open(&shards[2]));

    for parent in [shard_id(1), shard_id(2)] {
        let (records, children) = read_closed_shard(&client, "reshape", &parent).await;
        assert!(!records.is_empty(), "{parent} kept its records");
        assert_eq!(
            child_summary(&children),
            [(shard_id(3), vec![shard_id(1), shard_id(2)], (0, MAX_HASH))]
        );
    }
}

#[tokio::test]
async fn update_shard_count_uniform_scaling() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "scale", 2).await;
    let out = client
        .update_shard_count()
        .stream_name("scale")
        .target_shard_count(4)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    assert_eq!(out.stream_name(), Some("scale"));
    assert_eq!(out.current_shard_count(), Some(2));
    assert_eq!(out.target_shard_count(), Some(4));
    let summary = wait_active(&client, "scale").await;
    assert_eq!(summary.open_shard_count(), 4);

    let shards = list_all_shards(&client, "scale").await;
    assert_open_shards_cover_keyspace(&shards);
    let open: Vec<&Shard> = shards.iter().filter(|s| is_open(s)).collect();
    assert_eq!(open.len(), 4);
    // Uniform scaling: four equal quarters of the key space.
    let quarter = 1u128 << 126;
    for (i, s) in open.iter().enumerate() {
        let i = i as u128;
        assert_eq!(range_of(s), (i * quarter, i * quarter + (quarter - 1)));
    }
    for old in [shard_id(0), shard_id(1)] {
        let s = shards.iter().find(|s| s.shard_id() == old).unwrap();
        assert!(!is_open(s), "{old} is closed after scaling");
    }
    // Every new shard descends from the old shard(s) whose keys it took over.
    for s in &open {
        let (lo, hi) = range_of(s);
        let parents: Vec<&str> = s
            .parent_shard_id()
            .into_iter()
            .chain(s.adjacent_parent_shard_id())
            .collect();
        assert!(!parents.is_empty(), "{} has no parent", s.shard_id());
        for p in parents {
            let parent = shards.iter().find(|x| x.shard_id() == p).unwrap();
            let (plo, phi) = range_of(parent);
            assert!(
                plo <= hi && lo <= phi,
                "parent {p} does not overlap {}",
                s.shard_id()
            );
        }
    }
    // The old shards end with ChildShards naming the new ones.
    let (_, children) = read_closed_shard(&client, "scale", &shard_id(0)).await;
    assert!(!children.is_empty());
    for c in &children {
        assert!(c.parent_shards().contains(&shard_id(0)));
        assert!(open.iter().any(|s| s.shard_id() == c.shard_id()));
    }

    // Scaling limits (exact AWS texts).
    let (err, _) = service_error(
        client
            .update_shard_count()
            .stream_name("scale")
            .target_shard_count(9)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert!(err.is_limit_exceeded_exception(), "{err:?}");
    assert_code_message(
        &err,
        "LimitExceededException",
        "UpdateShardCount cannot scale up over double your current open shard count. \
         Current open shard count: 4, Target shard count: 9",
    );
    let (err, _) = service_error(
        client
            .update_shard_count()
            .stream_name("scale")
            .target_shard_count(1)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await,
    );
    assert!(err.is_limit_exceeded_exception(), "{err:?}");
    assert_code_message(
        &err,
        "LimitExceededException",
        "UpdateShardCount cannot scale down below half your current open shard count. \
         Current open shard count: 4, Target shard count: 1",
    );

    // Scale back down to 2.
    client
        .update_shard_count()
        .stream_name("scale")
        .target_shard_count(2)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .unwrap();
    let summary = wait_active(&client, "scale").await;
    assert_eq!(summary.open_shard_count(), 2);
    let shards = list_all_shards(&client, "scale").await;
    assert_open_shards_cover_keyspace(&shards);
    let open: Vec<&Shard> = shards.iter().filter(|s| is_open(s)).collect();
    assert_eq!(range_of(open[0]), (0, HALF - 1));
    assert_eq!(range_of(open[1]), (HALF, MAX_HASH));
}

#[tokio::test]
async fn reshard_argument_errors() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "trio", 3).await;

    let (err, _) = service_error(
        client
            .merge_shards()
            .stream_name("trio")
            .shard_to_merge(shard_id(0))
            .adjacent_shard_to_merge(shard_id(2))
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        &format!(
            "Shards {} and {} in stream trio under account {ACCOUNT} are not an adjacent pair of shards eligible for merging",
            shard_id(0),
            shard_id(2)
        ),
    );

    let (err, _) = service_error(
        client
            .split_shard()
            .stream_name("trio")
            .shard_to_split(shard_id(0))
            .new_starting_hash_key("1")
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        &format!(
            "NewStartingHashKey 1 used in SplitShard() on shard {} in stream trio under account {ACCOUNT} \
             is not both greater than one plus the shard's StartingHashKey 0 and less than the shard's \
             EndingHashKey 113427455640312821154458202477256070484.",
            shard_id(0)
        ),
    );

    let (err, _) = service_error(
        client
            .split_shard()
            .stream_name("trio")
            .shard_to_split(shard_id(7))
            .new_starting_hash_key("10")
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!(
            "Could not find shard {} in stream trio under account {ACCOUNT}.",
            shard_id(7)
        ),
    );

    let (err, _) = service_error(
        client
            .merge_shards()
            .stream_name("nowhere")
            .shard_to_merge(shard_id(0))
            .adjacent_shard_to_merge(shard_id(1))
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!("Stream nowhere under account {ACCOUNT} not found."),
    );
}
