//! Scenario tests of the domain over the in-memory store, with a manual clock.

use std::sync::Arc;

use bytes::Bytes;
use rheo_log::{Store, StoreConfig};

use crate::clock::ManualClock;
use crate::types::*;
use crate::{Config, KinesisError, StreamMode, StreamStatus, Streams};

const T0: i64 = 1_700_000_000_000;

fn setup() -> (Streams, ManualClock, Ctx) {
    let clock = ManualClock::new(T0);
    let store = Store::open(StoreConfig::default()).unwrap();
    let config = Config {
        create_stream_ms: 100,
        delete_stream_ms: 100,
        update_stream_ms: 100,
        shard_limit: 50,
        // Off: the clock stands still while these scenarios put and read in bulk, which AWS's
        // per-second limits would refuse (`setup_limited` tests them).
        throughput_limits: false,
        ..Config::default()
    };
    let streams = Streams::open(config, store, Arc::new(clock.clone())).unwrap();
    (streams, clock, Ctx::in_region("us-east-1"))
}

async fn create(s: &Streams, clock: &ManualClock, ctx: &Ctx, name: &str, shards: u32) {
    s.create_stream(ctx, CreateStream::provisioned(name, shards))
        .await
        .unwrap();
    clock.advance_ms(101);
}

/// An ACTIVE on-demand stream `name`.
async fn on_demand_stream(s: &Streams, clock: &ManualClock, ctx: &Ctx, name: &str) -> StreamTarget {
    s.create_stream(
        ctx,
        CreateStream {
            name: name.into(),
            mode: Some(StreamMode::OnDemand),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    clock.advance_ms(101);
    StreamTarget::name(name)
}

/// The stream is ACTIVE with `open` open shards (what a refused reshard must leave).
async fn assert_active_with_open_shards(s: &Streams, ctx: &Ctx, t: &StreamTarget, open: u32) {
    let sum = s.describe_stream_summary(ctx, t).await.unwrap();
    assert_eq!(
        (sum.status, sum.open_shard_count),
        (StreamStatus::Active, open)
    );
}

fn entry(pk: &str, data: &str) -> PutEntry {
    PutEntry {
        data: Bytes::from(data.to_string()),
        partition_key: pk.into(),
        explicit_hash_key: None,
    }
}

async fn read_all(
    s: &Streams,
    ctx: &Ctx,
    name: &str,
    shard: &str,
) -> (Vec<Record>, GetRecordsOutput) {
    let it = s
        .get_shard_iterator(
            ctx,
            GetShardIterator::trim_horizon(StreamTarget::name(name), shard),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    let mut it = Some(it);
    loop {
        let r = s
            .get_records(ctx, it.as_deref().unwrap(), None, None)
            .await
            .unwrap();
        out.extend(r.records.clone());
        if r.records.is_empty() || r.next_shard_iterator.is_none() {
            return (out, r);
        }
        it = r.next_shard_iterator.clone();
    }
}

#[tokio::test]
async fn create_describe_activates_after_delay() {
    let (s, clock, ctx) = setup();
    s.create_stream(&ctx, CreateStream::provisioned("a", 3))
        .await
        .unwrap();
    let d = s
        .describe_stream(&ctx, &StreamTarget::name("a"), None, None)
        .await
        .unwrap();
    assert_eq!(d.status, StreamStatus::Creating);
    // AWS lists no shards until the stream is ACTIVE.
    assert!(d.shards.is_empty());
    assert_eq!(d.arn, "arn:aws:kinesis:us-east-1:000000000000:stream/a");
    clock.advance_ms(101);
    let d = s
        .describe_stream(&ctx, &StreamTarget::name("a"), None, None)
        .await
        .unwrap();
    assert_eq!(d.status, StreamStatus::Active);
    let err = s
        .create_stream(&ctx, CreateStream::provisioned("a", 1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::ResourceInUse("Stream a under account 000000000000 already exists.".into())
    );
}

#[tokio::test]
async fn streams_are_namespaced_by_region() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let other = Ctx::in_region("eu-west-1");
    let err = s
        .describe_stream_summary(&other, &StreamTarget::name("a"))
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::ResourceNotFound(_)));
    create(&s, &clock, &other, "a", 2).await;
    let sum = s
        .describe_stream_summary(&other, &StreamTarget::name("a"))
        .await
        .unwrap();
    assert_eq!(sum.open_shard_count, 2);
    assert_eq!(sum.arn, "arn:aws:kinesis:eu-west-1:000000000000:stream/a");
}

/// The account is the request's, not a global: ARNs and messages name the context's account,
/// and an ARN of another account does not reach the stream.
#[tokio::test]
async fn the_account_comes_from_the_request_context() {
    let (s, clock, _) = setup();
    assert_eq!(&*s.default_account(), "000000000000");
    let ctx = Ctx::new("us-east-1", "111122223333".into());
    create(&s, &clock, &ctx, "a", 1).await;
    let sum = s
        .describe_stream_summary(&ctx, &StreamTarget::name("a"))
        .await
        .unwrap();
    assert_eq!(sum.arn, "arn:aws:kinesis:us-east-1:111122223333:stream/a");
    let by_arn = StreamTarget {
        name: None,
        arn: Some(sum.arn.clone()),
    };
    assert!(s.describe_stream_summary(&ctx, &by_arn).await.is_ok());
    let other = Ctx::new("us-east-1", "444455556666".into());
    let err = s
        .describe_stream_summary(&other, &by_arn)
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::ResourceNotFound(_)), "{err:?}");
    let err = s
        .describe_stream_summary(&ctx, &StreamTarget::name("missing"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("111122223333"), "{err}");

    // Granted by the owner's resource policy (the security layer marks the context), another
    // account reaches the stream by its ARN, and every answer names the owner.
    let granted = other.granted_by("111122223333".into());
    let sum = s.describe_stream_summary(&granted, &by_arn).await.unwrap();
    assert_eq!(sum.arn, "arn:aws:kinesis:us-east-1:111122223333:stream/a");
    s.put_record(&granted, &by_arn, entry("k", "from-partner"))
        .await
        .unwrap();
    let it = s
        .get_shard_iterator(
            &granted,
            GetShardIterator::trim_horizon(by_arn.clone(), "shardId-000000000000"),
        )
        .await
        .unwrap();
    let got = s.get_records(&granted, &it, None, None).await.unwrap();
    let data: Vec<&[u8]> = got.records.iter().map(|r| &r.data[..]).collect();
    assert_eq!(data, [&b"from-partner"[..]]);
    // The iterator names the owner's stream: its next one too, and the owner reads it as well.
    let next = got.next_shard_iterator.unwrap();
    assert!(s.get_records(&granted, &next, None, None).await.is_ok());
    assert_eq!(
        s.get_records(&ctx, &it, None, None)
            .await
            .unwrap()
            .records
            .len(),
        1
    );
    // Without the grant the same iterator leads nowhere, in the owner's words.
    let err = s.get_records(&other, &it, None, None).await.unwrap_err();
    assert!(
        matches!(&err, KinesisError::ResourceNotFound(m) if m.contains("111122223333")),
        "{err:?}"
    );
    // A grant of some other account opens nothing here.
    let elsewhere = other.granted_by("999999999999".into());
    let err = s
        .describe_stream_summary(&elsewhere, &by_arn)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KinesisError::ResourceNotFound(m) if m.contains("under account 111122223333")),
        "{err:?}"
    );
    // A stream named by name is always the caller's own.
    let err = s
        .describe_stream_summary(&granted, &StreamTarget::name("a"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KinesisError::ResourceNotFound(m) if m.contains("444455556666")),
        "{err:?}"
    );
    // Only what AWS lets a resource policy share crosses accounts: not tags, not deletion.
    let err = s
        .add_tags(&granted, &by_arn, vec![("t".into(), "v".into())])
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::ResourceNotFound(_)), "{err:?}");
    let err = s.delete_stream(&granted, &by_arn).await.unwrap_err();
    assert!(matches!(err, KinesisError::ResourceNotFound(_)), "{err:?}");
    assert!(s.describe_stream_summary(&ctx, &by_arn).await.is_ok());
}

#[tokio::test]
async fn a_granted_account_pages_through_the_owner_s_shards() {
    let (s, clock, _) = setup();
    let owner = Ctx::new("us-east-1", "111122223333".into());
    create(&s, &clock, &owner, "a", 3).await;
    let arn = "arn:aws:kinesis:us-east-1:111122223333:stream/a";
    let partner = Ctx::new("us-east-1", "444455556666".into());
    let granted = partner.granted_by("111122223333".into());
    let first = s
        .list_shards(
            &granted,
            ListShards {
                target: StreamTarget::arn(arn),
                max_results: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.shards.len(), 2);
    let token = first.next_token.unwrap();
    // The token names the owner's stream, for the security layer too.
    assert_eq!(
        crate::list_shards_token_stream(&token),
        Some((Some("111122223333".to_string()), "a".to_string()))
    );
    let page = |ctx: Ctx| {
        let s = s.clone();
        let token = token.clone();
        async move {
            s.list_shards(
                &ctx,
                ListShards {
                    next_token: Some(token),
                    ..Default::default()
                },
            )
            .await
        }
    };
    let rest = page(granted.clone()).await.unwrap();
    assert_eq!(
        rest.shards
            .iter()
            .map(|s| s.shard_id.as_str())
            .collect::<Vec<_>>(),
        ["shardId-000000000002"]
    );
    assert_eq!(page(owner).await.unwrap().shards.len(), 1);
    // Without the grant the next page is not found, in the owner's words.
    let err = page(partner).await.unwrap_err();
    assert!(
        matches!(&err, KinesisError::ResourceNotFound(m) if m.contains("111122223333")),
        "{err:?}"
    );
}

#[tokio::test]
async fn put_routes_by_md5_and_reads_back_in_order() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 4).await;
    let mut by_shard: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for i in 0..200 {
        let pk = format!("key-{i}");
        let r = s
            .put_record(&ctx, &StreamTarget::name("a"), entry(&pk, &format!("v{i}")))
            .await
            .unwrap();
        let h = crate::hash::partition_key_hash(&pk);
        let expected = crate::hash::split_evenly(crate::hash::HashRange::FULL, 4)
            .iter()
            .position(|r| r.contains(h))
            .unwrap();
        assert_eq!(r.shard_id(), crate::meta::shard_id(expected as u64));
        by_shard
            .entry(r.shard_id())
            .or_default()
            .push((r.sequence_number(), format!("v{i}")));
    }
    for (shard, written) in by_shard {
        let (records, last) = read_all(&s, &ctx, "a", &shard).await;
        let got: Vec<(String, String)> = records
            .iter()
            .map(|r| {
                (
                    r.sequence_number.clone(),
                    String::from_utf8(r.data.to_vec()).unwrap(),
                )
            })
            .collect();
        assert_eq!(got, written);
        assert_eq!(last.millis_behind_latest, 0);
        assert!(last.next_shard_iterator.is_some());
    }
}

#[tokio::test]
async fn put_records_reports_per_record_results_in_request_order() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 2).await;
    let entries: Vec<PutEntry> = (0..50).map(|i| entry(&format!("k{i}"), "x")).collect();
    let out = s
        .put_records(&ctx, &StreamTarget::name("a"), entries)
        .await
        .unwrap();
    assert_eq!(out.failed_count, 0);
    assert_eq!(out.records.len(), 50);
    for (i, r) in out.records.iter().enumerate() {
        let PutRecordsEntry::Ok(r) = r else {
            panic!("failed")
        };
        let h = crate::hash::partition_key_hash(&format!("k{i}"));
        let expect = if h <= u128::MAX / 2 {
            "shardId-000000000000"
        } else {
            "shardId-000000000001"
        };
        assert_eq!(r.shard_id(), expect);
    }
}

#[tokio::test]
async fn explicit_hash_key_out_of_range_fails_whole_request() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let mut e = entry("k", "x");
    e.explicit_hash_key = Some("340282366920938463463374607431768211456".into());
    let err = s
        .put_records(&ctx, &StreamTarget::name("a"), vec![entry("a", "b"), e])
        .await
        .unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.starts_with("Invalid ExplicitHashKey."))
    );
    // Nothing was written.
    let (records, _) = read_all(&s, &ctx, "a", "shardId-000000000000").await;
    assert!(records.is_empty());
}

#[tokio::test]
async fn iterator_types_position_correctly() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let mut seqs = Vec::new();
    for i in 0..5 {
        clock.advance_ms(10);
        let r = s
            .put_record(&ctx, &StreamTarget::name("a"), entry("k", &i.to_string()))
            .await
            .unwrap();
        seqs.push(r.sequence_number());
    }
    let get = |kind, seq: Option<String>, ts: Option<i64>| {
        let s = s.clone();
        let ctx = ctx.clone();
        async move {
            let it = s
                .get_shard_iterator(
                    &ctx,
                    GetShardIterator {
                        target: StreamTarget::name("a"),
                        shard_id: "shardId-000000000000".into(),
                        kind,
                        starting_sequence_number: seq,
                        timestamp_ms: ts,
                    },
                )
                .await?;
            let r = s.get_records(&ctx, &it, None, None).await?;
            Ok::<Vec<String>, KinesisError>(
                r.records
                    .iter()
                    .map(|r| String::from_utf8(r.data.to_vec()).unwrap())
                    .collect(),
            )
        }
    };
    assert_eq!(
        get(IteratorType::TrimHorizon, None, None).await.unwrap(),
        ["0", "1", "2", "3", "4"]
    );
    assert!(get(IteratorType::Latest, None, None)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        get(IteratorType::AtSequenceNumber, Some(seqs[2].clone()), None)
            .await
            .unwrap(),
        ["2", "3", "4"]
    );
    assert_eq!(
        get(
            IteratorType::AfterSequenceNumber,
            Some(seqs[2].clone()),
            None
        )
        .await
        .unwrap(),
        ["3", "4"]
    );
    assert_eq!(
        get(IteratorType::AtTimestamp, None, Some(T0 + 101 + 30))
            .await
            .unwrap(),
        ["2", "3", "4"]
    );
    let err = get(IteratorType::AtSequenceNumber, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.ends_with("Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."))
    );
    let err = get(IteratorType::TrimHorizon, Some(seqs[0].clone()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.ends_with("and also a StartingSequenceNumber."))
    );
    // AT_TIMESTAMP up to the server's clock is fine (the last record arrived at it); later is
    // refused.
    let now = crate::clock::Clock::now_ms(&clock);
    assert_eq!(
        get(IteratorType::AtTimestamp, None, Some(now))
            .await
            .unwrap(),
        ["4"]
    );
    let err = get(IteratorType::AtTimestamp, None, Some(now + 1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::InvalidArgument(format!(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. \
             timestampInMillis: {}, currentTimestampInMillis: {now}",
            now + 1
        ))
    );
}

#[tokio::test]
async fn sequence_number_from_another_shard_is_refused() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 2).await;
    let mut e = entry("k", "x");
    e.explicit_hash_key = Some("0".into());
    let r = s
        .put_record(&ctx, &StreamTarget::name("a"), e)
        .await
        .unwrap();
    assert_eq!(r.shard_id(), "shardId-000000000000");
    let err = s
        .get_shard_iterator(
            &ctx,
            GetShardIterator {
                target: StreamTarget::name("a"),
                shard_id: "shardId-000000000001".into(),
                kind: IteratorType::AtSequenceNumber,
                starting_sequence_number: Some(r.sequence_number()),
                timestamp_ms: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::InvalidArgument(
            "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in \
             a call to a shard with shardId-000000000001"
                .into()
        )
    );
}

#[tokio::test]
async fn iterators_expire_after_five_minutes() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let it = s
        .get_shard_iterator(
            &ctx,
            GetShardIterator {
                target: StreamTarget::name("a"),
                shard_id: "shardId-000000000000".into(),
                kind: IteratorType::Latest,
                starting_sequence_number: None,
                timestamp_ms: None,
            },
        )
        .await
        .unwrap();
    clock.advance_ms(300_001);
    let err = s.get_records(&ctx, &it, None, None).await.unwrap_err();
    assert!(
        matches!(err, KinesisError::ExpiredIterator(m) if m.starts_with("Iterator expired. The iterator was created at time "))
    );
    let err = s
        .get_records(&ctx, "bm90IGFuIGl0ZXJhdG9y", None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::InvalidArgument("Invalid ShardIterator.".into())
    );
}

#[tokio::test]
async fn split_closes_parent_and_lineage_is_reported() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    s.put_record(&ctx, &StreamTarget::name("a"), entry("k", "before"))
        .await
        .unwrap();
    let mid = (u128::MAX / 2).to_string();
    s.split_shard(&ctx, &StreamTarget::name("a"), "shardId-000000000000", &mid)
        .await
        .unwrap();
    let err = s
        .split_shard(&ctx, &StreamTarget::name("a"), "shardId-000000000000", &mid)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KinesisError::ResourceInUse(m) if m.ends_with("not ACTIVE, instead in state UPDATING"))
    );
    clock.advance_ms(101);
    let d = s
        .describe_stream(&ctx, &StreamTarget::name("a"), None, None)
        .await
        .unwrap();
    assert_eq!(d.status, StreamStatus::Active);
    assert_eq!(d.shards.len(), 3);
    assert!(d.shards[0].ending_sequence_number.is_some());
    assert_eq!(
        d.shards[1].parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    assert_eq!(d.shards[1].range.end + 1, d.shards[2].range.start);
    let (records, last) = read_all(&s, &ctx, "a", "shardId-000000000000").await;
    assert_eq!(records.len(), 1);
    assert!(last.next_shard_iterator.is_none());
    let children = last.child_shards.unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0].parent_shards, ["shardId-000000000000"]);
    // Writes now go to the children.
    let r = s
        .put_record(&ctx, &StreamTarget::name("a"), entry("k", "after"))
        .await
        .unwrap();
    assert_ne!(r.shard_id(), "shardId-000000000000");
    // Closed shards cannot be split again.
    let err = s
        .split_shard(&ctx, &StreamTarget::name("a"), "shardId-000000000000", &mid)
        .await
        .unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.contains("has already been merged or split"))
    );
}

#[tokio::test]
async fn merge_requires_adjacent_lower_first() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 3).await;
    let t = StreamTarget::name("a");
    let err = s
        .merge_shards(&ctx, &t, "shardId-000000000000", "shardId-000000000002")
        .await
        .unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.contains("are not an adjacent pair"))
    );
    s.merge_shards(&ctx, &t, "shardId-000000000001", "shardId-000000000002")
        .await
        .unwrap();
    clock.advance_ms(101);
    let d = s.describe_stream(&ctx, &t, None, None).await.unwrap();
    let merged = d.shards.last().unwrap();
    assert_eq!(
        merged.parent_shard_id.as_deref(),
        Some("shardId-000000000001")
    );
    assert_eq!(
        merged.adjacent_parent_shard_id.as_deref(),
        Some("shardId-000000000002")
    );
    assert_eq!(merged.range.end, u128::MAX);
}

#[tokio::test]
async fn update_shard_count_scales_uniformly_within_limits() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 2).await;
    let t = StreamTarget::name("a");
    let err = s.update_shard_count(&ctx, &t, 5).await.unwrap_err();
    assert!(
        matches!(err, KinesisError::LimitExceeded(m) if m.starts_with("UpdateShardCount cannot scale up over double"))
    );
    let out = s.update_shard_count(&ctx, &t, 4).await.unwrap();
    assert_eq!((out.current, out.target), (2, 4));
    clock.advance_ms(101);
    let sum = s.describe_stream_summary(&ctx, &t).await.unwrap();
    assert_eq!(sum.open_shard_count, 4);
    let shards = s
        .list_shards(
            &ctx,
            ListShards {
                target: t.clone(),
                filter: Some(ShardFilter {
                    kind: ShardFilterType::AtLatest,
                    shard_id: None,
                    timestamp_ms: None,
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .shards;
    assert_eq!(shards.len(), 4);
    assert_eq!(
        shards[0].parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    assert_eq!(
        shards[3].parent_shard_id.as_deref(),
        Some("shardId-000000000001")
    );
}

#[tokio::test]
async fn update_shard_count_goes_through_intermediate_shards_as_aws_does() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 4).await;
    let t = StreamTarget::name("a");
    // A record in shard 0 before the change, to follow its lineage afterwards.
    let mut e = entry("k", "old");
    e.explicit_hash_key = Some("0".into());
    s.put_record(&ctx, &t, e).await.unwrap();
    s.update_shard_count(&ctx, &t, 5).await.unwrap();
    clock.advance_ms(101);
    let all = s
        .list_shards(
            &ctx,
            ListShards {
                target: t.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .shards;
    // AWS: 4 -> 5 leaves 15 shards in all, 5 of them open.
    assert_eq!(all.len(), 15);
    let open: Vec<&str> = all
        .iter()
        .filter(|s| s.ending_sequence_number.is_none())
        .map(|s| s.shard_id.as_str())
        .collect();
    assert_eq!(
        open,
        [
            "shardId-000000000004",
            "shardId-000000000008",
            "shardId-000000000011",
            "shardId-000000000013",
            "shardId-000000000014"
        ]
    );
    let by_id = |id: &str| all.iter().find(|s| s.shard_id == id).unwrap().clone();
    let merged = by_id("shardId-000000000008");
    assert_eq!(
        (
            merged.parent_shard_id.as_deref(),
            merged.adjacent_parent_shard_id.as_deref()
        ),
        (Some("shardId-000000000005"), Some("shardId-000000000006"))
    );
    assert_eq!(
        by_id("shardId-000000000005").parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    // Shard 0's reader is sent to its two children, the intermediate one then to the merge.
    let (records, out) = read_all(&s, &ctx, "a", "shardId-000000000000").await;
    assert_eq!(records.len(), 1);
    let children: Vec<String> = out
        .child_shards
        .unwrap()
        .into_iter()
        .map(|c| c.shard_id)
        .collect();
    assert_eq!(children, ["shardId-000000000004", "shardId-000000000005"]);
    let (_, out) = read_all(&s, &ctx, "a", "shardId-000000000005").await;
    let child = out.child_shards.unwrap();
    assert_eq!(child.len(), 1);
    assert_eq!(child[0].shard_id, "shardId-000000000008");
    assert_eq!(
        child[0].parent_shards,
        ["shardId-000000000005", "shardId-000000000006"]
    );
    // Records go to the open shards only.
    let mut e = entry("k", "new");
    e.explicit_hash_key = Some("0".into());
    assert_eq!(
        s.put_record(&ctx, &t, e).await.unwrap().shard_id(),
        "shardId-000000000004"
    );
}

#[tokio::test]
async fn split_and_merge_are_refused_on_an_on_demand_stream() {
    let (s, clock, ctx) = setup();
    let t = on_demand_stream(&s, &clock, &ctx, "od").await;
    let refusal = |op: &str| {
        KinesisError::Validation(format!(
            "{op} is not supported for stream od under account {} in ON_DEMAND capacity mode. \
             This API is only supported for data streams with the provisioned capacity mode.",
            ctx.account()
        ))
    };
    let key = (u128::MAX / 8).to_string();
    let err = s
        .split_shard(&ctx, &t, "shardId-000000000000", &key)
        .await
        .unwrap_err();
    assert_eq!(err, refusal("SplitShard"));
    let err = s
        .merge_shards(&ctx, &t, "shardId-000000000000", "shardId-000000000001")
        .await
        .unwrap_err();
    assert_eq!(err, refusal("MergeShards"));
    assert_active_with_open_shards(&s, &ctx, &t, 4).await;
}

#[tokio::test]
async fn update_shard_count_is_refused_on_an_on_demand_stream() {
    let (s, clock, ctx) = setup();
    let t = on_demand_stream(&s, &clock, &ctx, "od").await;
    let err = s.update_shard_count(&ctx, &t, 8).await.unwrap_err();
    assert_eq!(
        err,
        KinesisError::Validation(format!(
            "UpdateShardCount is not supported for stream od under account {} in ON_DEMAND \
             capacity mode. This API is only supported for data streams with the provisioned \
             capacity mode.",
            ctx.account()
        ))
    );
    // Nothing changed: still ACTIVE with its 4 shards.
    assert_active_with_open_shards(&s, &ctx, &t, 4).await;
}

#[tokio::test]
async fn list_shards_pages_with_next_token() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 5).await;
    let first = s
        .list_shards(
            &ctx,
            ListShards {
                target: StreamTarget::name("a"),
                max_results: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(first.shards.len(), 2);
    let token = first.next_token.unwrap();
    let err = s
        .list_shards(
            &ctx,
            ListShards {
                target: StreamTarget::name("a"),
                next_token: Some(token.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::InvalidArgument(
            "NextToken and StreamName cannot be provided together.".into()
        )
    );
    let second = s
        .list_shards(
            &ctx,
            ListShards {
                next_token: Some(token.clone()),
                max_results: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        second
            .shards
            .iter()
            .map(|s| s.shard_id.as_str())
            .collect::<Vec<_>>(),
        [
            "shardId-000000000002",
            "shardId-000000000003",
            "shardId-000000000004"
        ]
    );
    assert!(second.next_token.is_none());
    clock.advance_ms(300_001);
    let err = s
        .list_shards(
            &ctx,
            ListShards {
                next_token: Some(token),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::ExpiredNextToken(_)));
}

#[tokio::test]
async fn retention_rules_and_trim() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let t = StreamTarget::name("a");
    let err = s.decrease_retention(&ctx, &t, 23).await.unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.starts_with("Minimum allowed retention period is 24 hours."))
    );
    let err = s.increase_retention(&ctx, &t, 8761).await.unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.starts_with("Maximum allowed retention period is 8760 hours."))
    );
    s.increase_retention(&ctx, &t, 48).await.unwrap();
    let err = s.increase_retention(&ctx, &t, 24).await.unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.contains("can not be shorter than existing retention period (48 hours)"))
    );
    s.put_record(&ctx, &t, entry("k", "old")).await.unwrap();
    clock.advance_ms(30 * 3_600_000);
    s.put_record(&ctx, &t, entry("k", "new")).await.unwrap();
    s.decrease_retention(&ctx, &t, 24).await.unwrap();
    let (records, _) = read_all(&s, &ctx, "a", "shardId-000000000000").await;
    let data: Vec<_> = records
        .iter()
        .map(|r| String::from_utf8(r.data.to_vec()).unwrap())
        .collect();
    assert_eq!(data, ["new"]);
}

#[tokio::test]
async fn delete_removes_stream_after_delay_and_names_free_again() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    s.delete_stream(&ctx, &StreamTarget::name("a"))
        .await
        .unwrap();
    let sum = s
        .describe_stream_summary(&ctx, &StreamTarget::name("a"))
        .await
        .unwrap();
    assert_eq!(sum.status, StreamStatus::Deleting);
    clock.advance_ms(101);
    let err = s
        .describe_stream_summary(&ctx, &StreamTarget::name("a"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::ResourceNotFound("Stream a under account 000000000000 not found.".into())
    );
    assert!(s
        .list_streams(&ctx, ListStreams::default())
        .await
        .unwrap()
        .names
        .is_empty());
    create(&s, &clock, &ctx, "a", 1).await;
}

#[tokio::test]
async fn shard_limit_is_enforced() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 40).await;
    let err = s
        .create_stream(&ctx, CreateStream::provisioned("b", 11))
        .await
        .unwrap_err();
    assert!(
        matches!(err, KinesisError::LimitExceeded(m) if m.contains("Current shard count for the account: 40. Limit: 50."))
    );
    let limits = s.describe_limits(&ctx).await.unwrap();
    assert_eq!((limits.shard_limit, limits.open_shard_count), (50, 40));
}

#[tokio::test]
async fn on_demand_gets_four_shards_and_mode_switches() {
    let (s, clock, ctx) = setup();
    let t = on_demand_stream(&s, &clock, &ctx, "od").await;
    let sum = s.describe_stream_summary(&ctx, &t).await.unwrap();
    assert_eq!((sum.mode, sum.open_shard_count), (StreamMode::OnDemand, 4));
    let arn = StreamTarget {
        name: None,
        arn: Some(sum.arn.clone()),
    };
    s.update_stream_mode(&ctx, &arn, StreamMode::Provisioned)
        .await
        .unwrap();
    assert_eq!(
        s.describe_stream_summary(&ctx, &arn).await.unwrap().status,
        StreamStatus::Updating
    );
    clock.advance_ms(101);
    let sum = s.describe_stream_summary(&ctx, &arn).await.unwrap();
    assert_eq!(
        (sum.mode, sum.status),
        (StreamMode::Provisioned, StreamStatus::Active)
    );
}

#[tokio::test]
async fn create_with_neither_count_nor_mode_is_on_demand_with_four_shards() {
    let (s, clock, ctx) = setup();
    s.create_stream(
        &ctx,
        CreateStream {
            name: "bare".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    clock.advance_ms(101);
    let sum = s
        .describe_stream_summary(&ctx, &StreamTarget::name("bare"))
        .await
        .unwrap();
    assert_eq!(
        (sum.mode, sum.open_shard_count, sum.status),
        (StreamMode::OnDemand, 4, StreamStatus::Active)
    );
    // PROVISIONED named explicitly still needs its ShardCount, as on AWS.
    let err = s
        .create_stream(
            &ctx,
            CreateStream {
                name: "p".into(),
                mode: Some(StreamMode::Provisioned),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::InvalidArgument("ShardCount is required for PROVISIONED streams.".into())
    );
}

#[tokio::test]
async fn tags_add_list_remove() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let t = StreamTarget::name("a");
    s.add_tags(
        &ctx,
        &t,
        vec![("b".into(), "2".into()), ("a".into(), "1".into())],
    )
    .await
    .unwrap();
    let l = s.list_tags(&ctx, &t, None, Some(1)).await.unwrap();
    assert_eq!(l.tags, [("a".to_string(), "1".to_string())]);
    assert!(l.has_more);
    s.remove_tags(&ctx, &t, vec!["a".into(), "zzz".into()])
        .await
        .unwrap();
    let l = s.list_tags(&ctx, &t, None, None).await.unwrap();
    assert_eq!(l.tags, [("b".to_string(), "2".to_string())]);
    let many: Vec<_> = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
    let err = s.add_tags(&ctx, &t, many).await.unwrap_err();
    assert!(
        matches!(err, KinesisError::InvalidArgument(m) if m.contains("cannot have more than 50 tags"))
    );
}

#[tokio::test]
async fn metadata_survives_reopen_of_a_durable_store() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let cfg = || StoreConfig {
        dir: Some(dir.path().to_path_buf()),
        ..StoreConfig::default()
    };
    let ctx = Ctx::in_region("us-east-1");
    let seq;
    {
        let s = Streams::open(
            Config {
                create_stream_ms: 0,
                ..Config::default()
            },
            Store::open(cfg()).unwrap(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        s.create_stream(
            &ctx,
            CreateStream {
                name: "a".into(),
                shard_count: Some(2),
                tags: [("t".to_string(), "v".to_string())].into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        seq = s
            .put_record(&ctx, &StreamTarget::name("a"), entry("k", "kept"))
            .await
            .unwrap();
        s.store().sync().await.unwrap();
    }
    let s = Streams::open(
        Config::default(),
        Store::open(cfg()).unwrap(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let sum = s
        .describe_stream_summary(&ctx, &StreamTarget::name("a"))
        .await
        .unwrap();
    assert_eq!(
        (sum.status, sum.open_shard_count),
        (StreamStatus::Active, 2)
    );
    assert_eq!(
        s.list_tags(&ctx, &StreamTarget::name("a"), None, None)
            .await
            .unwrap()
            .tags
            .len(),
        1
    );
    let (records, _) = read_all(&s, &ctx, "a", &seq.shard_id()).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].sequence_number, seq.sequence_number());
    assert_eq!(&records[0].data[..], b"kept");
}

#[tokio::test]
async fn sequence_number_for_ordering_must_be_ours() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let t = StreamTarget::name("a");
    let r = s.put_record(&ctx, &t, entry("k", "x")).await.unwrap();
    s.check_sequence_for_ordering(&ctx, &t, &r.sequence_number())
        .await
        .unwrap();
    let err = s
        .check_sequence_for_ordering(&ctx, &t, "12345")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::InvalidArgument(
            "ExclusiveMinimumSequenceNumber 12345 used in PutRecord on stream a under account \
             000000000000 is invalid."
                .into()
        )
    );
}

#[tokio::test]
async fn monitoring_and_encryption_are_recorded() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "a", 1).await;
    let t = StreamTarget::name("a");
    let (_, _, current, desired) = s
        .set_enhanced_monitoring(&ctx, &t, vec!["IncomingBytes".into()], true)
        .await
        .unwrap();
    assert!(current.is_empty());
    assert_eq!(desired, ["IncomingBytes"]);
    let (_, _, _, desired) = s
        .set_enhanced_monitoring(&ctx, &t, vec!["ALL".into()], true)
        .await
        .unwrap();
    assert_eq!(desired.len(), 7);
    let (_, _, _, desired) = s
        .set_enhanced_monitoring(&ctx, &t, vec!["ALL".into()], false)
        .await
        .unwrap();
    assert!(desired.is_empty());
    s.set_encryption(&ctx, &t, Some("alias/aws/kinesis".into()))
        .await
        .unwrap();
    let r = s.put_record(&ctx, &t, entry("k", "x")).await.unwrap();
    assert!(r.encrypted);
    let d = s.describe_stream_summary(&ctx, &t).await.unwrap();
    assert_eq!(d.encryption_key.as_deref(), Some("alias/aws/kinesis"));
    // StartStreamEncryption moves the stream through UPDATING, as in AWS: another change
    // waits for ACTIVE.
    assert_eq!(d.status, StreamStatus::Updating);
    assert!(matches!(
        s.set_encryption(&ctx, &t, None).await,
        Err(KinesisError::ResourceInUse(_))
    ));
    clock.advance_ms(101);
    s.set_encryption(&ctx, &t, None).await.unwrap();
    assert!(
        !s.put_record(&ctx, &t, entry("k", "y"))
            .await
            .unwrap()
            .encrypted
    );
}

/// GetRecords served from disk (no recent frames kept, store reopened) works on both runtime
/// flavours, and a put to the same stream completes between two such reads: the read no longer
/// holds the stream's lock while it preads.
async fn records_read_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let cfg = || StoreConfig {
        dir: Some(dir.path().to_path_buf()),
        direct_io: false,
        recent_bytes_max: 0,
        ..StoreConfig::default()
    };
    let ctx = Ctx::in_region("us-east-1");
    let config = || Config {
        create_stream_ms: 0,
        // Off: reads many pages back to back with the clock standing still.
        throughput_limits: false,
        ..Config::default()
    };
    {
        let s = Streams::open(
            config(),
            Store::open(cfg()).unwrap(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        create(&s, &clock, &ctx, "d", 1).await;
        let batch: Vec<_> = (0..200).map(|i| entry("k", &format!("r{i}"))).collect();
        s.put_records(&ctx, &StreamTarget::name("d"), batch)
            .await
            .unwrap();
        s.store().sync().await.unwrap();
    }
    let s = Streams::open(
        config(),
        Store::open(cfg()).unwrap(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let (records, _) = read_all(&s, &ctx, "d", "shardId-000000000000").await;
    let data: Vec<_> = records.iter().map(|r| r.data.clone()).collect();
    let want: Vec<_> = (0..200).map(|i| Bytes::from(format!("r{i}"))).collect();
    assert_eq!(data, want);
    let target = StreamTarget::name("d");
    let (reader, writer) = tokio::join!(
        read_all(&s, &ctx, "d", "shardId-000000000000"),
        s.put_record(&ctx, &target, entry("k", "late"))
    );
    writer.unwrap();
    assert!(reader.0.len() >= 200);
    let (records, _) = read_all(&s, &ctx, "d", "shardId-000000000000").await;
    assert_eq!(records.len(), 201);
}

#[tokio::test(flavor = "current_thread")]
async fn get_records_from_disk_on_a_current_thread_runtime() {
    records_read_from_disk().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_records_from_disk_on_a_multi_thread_runtime() {
    records_read_from_disk().await;
}

fn setup_limited() -> (Streams, ManualClock, Ctx) {
    let clock = ManualClock::new(T0);
    let store = Store::open(StoreConfig::default()).unwrap();
    let config = Config {
        create_stream_ms: 100,
        throughput_limits: true,
        ..Config::default()
    };
    let streams = Streams::open(config, store, Arc::new(clock.clone())).unwrap();
    (streams, clock, Ctx::in_region("us-east-1"))
}

#[tokio::test]
async fn write_limits_refuse_records_past_a_shards_budget_and_write_none_of_them() {
    let (s, clock, ctx) = setup_limited();
    create(&s, &clock, &ctx, "lim", 1).await;
    let t = StreamTarget::name("lim");
    let entries: Vec<PutEntry> = (0..1500).map(|i| entry(&format!("k{i}"), "x")).collect();
    let out = s
        .put_records(&ctx, &t, entries[..500].to_vec())
        .await
        .unwrap();
    assert_eq!(out.failed_count, 0);
    let out = s
        .put_records(&ctx, &t, entries[500..].to_vec())
        .await
        .unwrap();
    // 1,000 records a second per shard: of 1,500 at one instant, 500 are refused, in order.
    assert_eq!(out.failed_count, 500);
    for (i, r) in out.records.iter().enumerate() {
        match r {
            PutRecordsEntry::Ok(_) => assert!(i < 500, "record {i} admitted"),
            PutRecordsEntry::Failed { code, message } => {
                assert!(i >= 500, "record {i} refused");
                assert_eq!(code, "ProvisionedThroughputExceededException");
                assert_eq!(
                    message,
                    "Rate exceeded for shard shardId-000000000000 in stream lim under account 000000000000."
                );
            }
        }
    }
    let one = s
        .put_record(&ctx, &t, entry("k", "late"))
        .await
        .unwrap_err();
    assert!(
        matches!(one, KinesisError::ProvisionedThroughputExceeded(_)),
        "{one:?}"
    );
    // Nothing refused was written.
    let (records, _) = read_all(&s, &ctx, "lim", "shardId-000000000000").await;
    assert_eq!(records.len(), 1000);
    // A second later the budget is back.
    clock.advance_ms(1000);
    s.put_record(&ctx, &t, entry("k", "later")).await.unwrap();
}

#[tokio::test]
async fn shared_reads_are_limited_to_five_calls_a_second_per_shard() {
    let (s, clock, ctx) = setup_limited();
    create(&s, &clock, &ctx, "rd", 1).await;
    let t = StreamTarget::name("rd");
    let it = s
        .get_shard_iterator(
            &ctx,
            GetShardIterator::trim_horizon(t, "shardId-000000000000"),
        )
        .await
        .unwrap();
    for _ in 0..5 {
        s.get_records(&ctx, &it, None, None).await.unwrap();
    }
    let e = s.get_records(&ctx, &it, None, None).await.unwrap_err();
    assert_eq!(
        e,
        KinesisError::ProvisionedThroughputExceeded(
            "Rate exceeded for Shard - shardId-000000000000 in stream rd under account 000000000000."
                .into()
        )
    );
    clock.advance_ms(200);
    s.get_records(&ctx, &it, None, None).await.unwrap();
}

#[tokio::test]
async fn control_plane_calls_past_their_rate_are_limit_exceeded() {
    let (s, clock, ctx) = setup_limited();
    create(&s, &clock, &ctx, "cp", 1).await;
    let t = StreamTarget::name("cp");
    for _ in 0..10 {
        s.describe_stream(&ctx, &t, None, None).await.unwrap();
    }
    let e = s.describe_stream(&ctx, &t, None, None).await.unwrap_err();
    assert_eq!(
        e,
        KinesisError::LimitExceeded(
            "Rate exceeded for stream cp under account 000000000000.".into()
        )
    );
    clock.advance_ms(100);
    s.describe_stream(&ctx, &t, None, None).await.unwrap();
}

#[tokio::test]
async fn update_max_record_size_raises_the_record_and_request_limits() {
    let (s, clock, ctx) = setup();
    s.create_stream(&ctx, CreateStream::provisioned("big", 2))
        .await
        .unwrap();
    let t = StreamTarget::name("big");
    // Not while CREATING.
    let err = s.update_max_record_size(&ctx, &t, 2048).await.unwrap_err();
    assert!(matches!(err, KinesisError::ResourceInUse(_)), "{err:?}");
    clock.advance_ms(101);
    let mib = 1024 * 1024;
    let record = |n: usize| PutEntry {
        data: Bytes::from(vec![b'x'; n]),
        partition_key: "k".into(),
        explicit_hash_key: None,
    };
    // At the default, a record of 1 MiB + 1 byte (with its key) is refused.
    let err = s.put_record(&ctx, &t, record(mib)).await.unwrap_err();
    assert_eq!(
        err,
        KinesisError::InvalidArgument(
            "Record size exceeds the maximum allowed record size of 1024 KiB for stream big."
                .into()
        )
    );
    s.update_max_record_size(&ctx, &t, 10_240).await.unwrap();
    let sum = s.describe_stream_summary(&ctx, &t).await.unwrap();
    assert_eq!(
        (sum.max_record_size_kib, sum.status),
        (10_240, StreamStatus::Active)
    );
    // A record of exactly 10 MiB with its key is accepted, and reads back whole.
    let put = s.put_record(&ctx, &t, record(10 * mib - 1)).await.unwrap();
    let (read, _) = read_all(&s, &ctx, "big", &put.shard_id()).await;
    assert_eq!(read.last().map(|r| r.data.len()), Some(10 * mib - 1));
    // PutRecords: up to 10 MiB in all, not 5.
    let six = vec![
        record(2 * mib - 1),
        record(2 * mib - 1),
        record(2 * mib - 1),
    ];
    assert_eq!(s.put_records(&ctx, &t, six).await.unwrap().failed_count, 0);
    let eleven = vec![record(5 * mib), record(5 * mib), record(mib)];
    assert_eq!(
        s.put_records(&ctx, &t, eleven).await.unwrap_err(),
        KinesisError::InvalidArgument("Records size exceeds 10 MB limit".into())
    );
    // Back at the default, 5 MiB is the request limit again.
    s.update_max_record_size(&ctx, &t, 1024).await.unwrap();
    let six = vec![record(mib - 1); 6];
    assert_eq!(
        s.put_records(&ctx, &t, six).await.unwrap_err(),
        KinesisError::InvalidArgument("Records size exceeds 5 MB limit".into())
    );
    // Out of the model's range (the binding checks first; the domain too).
    let err = s
        .update_max_record_size(&ctx, &t, 10_241)
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::Validation(_)), "{err:?}");
}

#[tokio::test]
async fn max_record_size_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let open = || {
        let store = Store::open(StoreConfig {
            dir: Some(dir.path().to_path_buf()),
            ..StoreConfig::default()
        })
        .unwrap();
        let config = Config {
            create_stream_ms: 100,
            ..Config::default()
        };
        Streams::open(config, store, Arc::new(clock.clone())).unwrap()
    };
    let ctx = Ctx::in_region("us-east-1");
    {
        let s = open();
        s.create_stream(&ctx, CreateStream::provisioned("a", 1))
            .await
            .unwrap();
        clock.advance_ms(101);
        s.update_max_record_size(&ctx, &StreamTarget::name("a"), 4096)
            .await
            .unwrap();
    }
    let s = open();
    let sum = s
        .describe_stream_summary(&ctx, &StreamTarget::name("a"))
        .await
        .unwrap();
    assert_eq!(sum.max_record_size_kib, 4096);
}

#[tokio::test]
async fn billing_commitment_follows_its_minimum_duration() {
    use crate::{Commitment, CommitmentStatus as S};
    let (s, clock, ctx) = setup();
    let day = crate::limits::COMMITMENT_MS_MIN;
    let off = Commitment {
        status: S::Disabled,
        started_ms: None,
        ended_ms: None,
        earliest_allowed_end_ms: None,
    };
    assert_eq!(s.describe_account_settings(&ctx).await.unwrap(), off);
    // Disabling what was never enabled changes nothing.
    assert_eq!(s.update_account_settings(&ctx, false).await.unwrap(), off);
    let on = Commitment {
        status: S::Enabled,
        started_ms: Some(T0),
        ended_ms: None,
        earliest_allowed_end_ms: Some(T0 + day),
    };
    assert_eq!(s.update_account_settings(&ctx, true).await.unwrap(), on);
    clock.advance_ms(1000);
    // Enabling again keeps the running commitment.
    assert_eq!(s.update_account_settings(&ctx, true).await.unwrap(), on);
    // Disabling within the first 24 hours schedules the end at the earliest allowed time.
    let ending = Commitment {
        status: S::EnabledUntilEarliestAllowedEnd,
        ..on.clone()
    };
    assert_eq!(
        s.update_account_settings(&ctx, false).await.unwrap(),
        ending
    );
    assert_eq!(s.describe_account_settings(&ctx).await.unwrap(), ending);
    // Enabling before then cancels the scheduled end.
    assert_eq!(s.update_account_settings(&ctx, true).await.unwrap(), on);
    assert_eq!(
        s.update_account_settings(&ctx, false).await.unwrap(),
        ending
    );
    // At the earliest allowed end the commitment has ended.
    clock.set_ms(T0 + day);
    let ended = Commitment {
        status: S::Disabled,
        ended_ms: Some(T0 + day),
        ..on.clone()
    };
    assert_eq!(s.describe_account_settings(&ctx).await.unwrap(), ended);
    // Enabling after it ended starts a new commitment.
    clock.advance_ms(5);
    let t1 = T0 + day + 5;
    let renewed = Commitment {
        status: S::Enabled,
        started_ms: Some(t1),
        ended_ms: None,
        earliest_allowed_end_ms: Some(t1 + day),
    };
    assert_eq!(
        s.update_account_settings(&ctx, true).await.unwrap(),
        renewed
    );
    // Disabling after the minimum duration ends it at once.
    clock.set_ms(t1 + day + 7);
    assert_eq!(
        s.update_account_settings(&ctx, false).await.unwrap(),
        Commitment {
            status: S::Disabled,
            ended_ms: Some(t1 + day + 7),
            ..renewed.clone()
        }
    );
    // Settings are per region.
    let other = Ctx::in_region("eu-west-1");
    assert_eq!(s.describe_account_settings(&other).await.unwrap(), off);
}

#[tokio::test]
async fn account_settings_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let open = || {
        let store = Store::open(StoreConfig {
            dir: Some(dir.path().to_path_buf()),
            ..StoreConfig::default()
        })
        .unwrap();
        Streams::open(Config::default(), store, Arc::new(clock.clone())).unwrap()
    };
    let ctx = Ctx::in_region("us-east-1");
    let before = open().update_account_settings(&ctx, true).await.unwrap();
    let after = open().describe_account_settings(&ctx).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after.status, crate::CommitmentStatus::Enabled);
}

#[tokio::test]
async fn warm_throughput_needs_on_demand_and_the_commitment() {
    let (s, clock, ctx) = setup();
    let od = on_demand_stream(&s, &clock, &ctx, "od").await;
    create(&s, &clock, &ctx, "pr", 1).await;
    let pr = StreamTarget::name("pr");
    // No commitment yet.
    let err = s
        .update_stream_warm_throughput(&ctx, &od, 100)
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::InvalidArgument(_)), "{err:?}");
    s.update_account_settings(&ctx, true).await.unwrap();
    let err = s
        .update_stream_warm_throughput(&ctx, &pr, 100)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KinesisError::Validation(format!(
            "UpdateStreamWarmThroughput is not supported for stream pr under account {} in \
             PROVISIONED capacity mode. This API is only supported for data streams with the \
             on-demand capacity mode.",
            ctx.account()
        ))
    );
    let err = s
        .update_stream_warm_throughput(&ctx, &od, 10 * 1024 + 1)
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::LimitExceeded(_)), "{err:?}");
    assert_eq!(
        s.describe_stream_summary(&ctx, &od)
            .await
            .unwrap()
            .warm_throughput,
        None
    );
    let out = s
        .update_stream_warm_throughput(&ctx, &od, 100)
        .await
        .unwrap();
    let first = WarmThroughput {
        target_mibps: 100,
        current_mibps: None,
    };
    assert_eq!(out.name, "od");
    assert_eq!(out.warm_throughput, first);
    let sum = s.describe_stream_summary(&ctx, &od).await.unwrap();
    assert_eq!(
        (sum.status, sum.warm_throughput),
        (StreamStatus::Updating, Some(first))
    );
    // Not while UPDATING.
    let err = s
        .update_stream_warm_throughput(&ctx, &od, 200)
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::ResourceInUse(_)), "{err:?}");
    clock.advance_ms(101);
    let reached = WarmThroughput {
        target_mibps: 100,
        current_mibps: Some(100),
    };
    let sum = s.describe_stream_summary(&ctx, &od).await.unwrap();
    assert_eq!(
        (sum.status, sum.warm_throughput),
        (StreamStatus::Active, Some(reached))
    );
    // Lowering it: the new target, the old current value until the update completes.
    let out = s
        .update_stream_warm_throughput(&ctx, &od, 40)
        .await
        .unwrap();
    assert_eq!(
        out.warm_throughput,
        WarmThroughput {
            target_mibps: 40,
            current_mibps: Some(100),
        }
    );
    clock.advance_ms(101);
    let sum = s.describe_stream_summary(&ctx, &od).await.unwrap();
    assert_eq!(
        sum.warm_throughput,
        Some(WarmThroughput {
            target_mibps: 40,
            current_mibps: Some(40),
        })
    );
}

#[tokio::test]
async fn auto_distribution_spreads_records_whatever_their_keys() {
    let (s, clock, ctx) = setup();
    let od = on_demand_stream(&s, &clock, &ctx, "od").await;
    create(&s, &clock, &ctx, "pr", 2).await;
    let pr = StreamTarget::name("pr");
    let err = s
        .update_record_distribution(&ctx, &pr, RecordDistribution::Auto)
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::InvalidArgument(_)), "{err:?}");
    let err = s
        .create_stream(
            &ctx,
            CreateStream {
                record_distribution: Some(RecordDistribution::Auto),
                ..CreateStream::provisioned("pr2", 1)
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::InvalidArgument(_)), "{err:?}");
    // By key (the default): one key, one shard.
    let sum = s.describe_stream_summary(&ctx, &od).await.unwrap();
    assert_eq!(
        sum.record_distribution,
        RecordDistribution::UserPartitionKey
    );
    let mut shards = std::collections::BTreeSet::new();
    for i in 0..8 {
        let r = s.put_record(&ctx, &od, entry("same", &i.to_string())).await;
        shards.insert(r.unwrap().shard_id());
    }
    assert_eq!(shards.len(), 1);
    s.update_record_distribution(&ctx, &od, RecordDistribution::Auto)
        .await
        .unwrap();
    let sum = s.describe_stream_summary(&ctx, &od).await.unwrap();
    assert_eq!(
        (sum.record_distribution, sum.status),
        (RecordDistribution::Auto, StreamStatus::Active)
    );
    // AUTO: the same key (and an explicit hash key) land on every shard, evenly.
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..8 {
        let mut e = entry("same", &format!("p{i}"));
        e.explicit_hash_key = Some("0".into());
        let r = s.put_record(&ctx, &od, e).await.unwrap();
        *counts.entry(r.shard_id()).or_insert(0) += 1;
    }
    let out = s
        .put_records(
            &ctx,
            &od,
            (0..8).map(|i| entry("same", &format!("b{i}"))).collect(),
        )
        .await
        .unwrap();
    for r in &out.records {
        match r {
            PutRecordsEntry::Ok(r) => *counts.entry(r.shard_id()).or_insert(0) += 1,
            PutRecordsEntry::Failed { .. } => panic!("{r:?}"),
        }
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
    assert!(counts.values().all(|&n| n == 4), "{counts:?}");
    // Each answer is truthful: the record is in the shard it names, at its sequence number.
    let PutRecordsEntry::Ok(last) = out.records.last().unwrap() else {
        panic!()
    };
    let (records, _) = read_all(&s, &ctx, "od", &last.shard_id()).await;
    let found = records
        .iter()
        .find(|r| r.sequence_number == last.sequence_number())
        .unwrap();
    assert_eq!(found.data, Bytes::from("b7"));
    // SequenceNumberForOrdering does not apply to AUTO.
    let err = s
        .check_sequence_for_ordering(&ctx, &od, &last.sequence_number())
        .await
        .unwrap_err();
    assert!(matches!(err, KinesisError::InvalidArgument(_)), "{err:?}");
    // Back to keys.
    s.update_record_distribution(&ctx, &od, RecordDistribution::UserPartitionKey)
        .await
        .unwrap();
    let mut shards = std::collections::BTreeSet::new();
    for i in 0..4 {
        let r = s.put_record(&ctx, &od, entry("same", &i.to_string())).await;
        shards.insert(r.unwrap().shard_id());
    }
    assert_eq!(shards.len(), 1);
}

#[tokio::test]
async fn mode_switches_twice_a_day_at_most() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "m", 1).await;
    let t = StreamTarget::name("m");
    let switch = |mode| {
        let (s, t, ctx) = (&s, &t, &ctx);
        async move { s.update_stream_mode(ctx, t, mode).await }
    };
    switch(StreamMode::OnDemand).await.unwrap();
    clock.advance_ms(10_101);
    switch(StreamMode::Provisioned).await.unwrap();
    clock.advance_ms(101);
    let err = switch(StreamMode::OnDemand).await.unwrap_err();
    assert_eq!(
        err,
        KinesisError::LimitExceeded(format!(
            "Stream m under account {} has already switched its capacity mode 2 times in the \
             last 24 hours, the most allowed.",
            ctx.account()
        ))
    );
    let sum = s.describe_stream_summary(&ctx, &t).await.unwrap();
    assert_eq!(
        (sum.mode, sum.status),
        (StreamMode::Provisioned, StreamStatus::Active)
    );
    // 24 hours after the first switch, one switch is allowed again; then the second one's window
    // still holds.
    clock.set_ms(T0 + 101 + crate::limits::MODE_SWITCH_WINDOW_MS);
    switch(StreamMode::OnDemand).await.unwrap();
    clock.advance_ms(101);
    let err = switch(StreamMode::Provisioned).await.unwrap_err();
    assert!(matches!(err, KinesisError::LimitExceeded(_)), "{err:?}");
}

#[tokio::test]
async fn a_10_mib_get_records_answer_throttles_the_shard_for_5_seconds() {
    let (s, clock, ctx) = setup_limited();
    create(&s, &clock, &ctx, "big", 1).await;
    let t = StreamTarget::name("big");
    s.update_max_record_size(&ctx, &t, 10_240).await.unwrap();
    clock.advance_ms(501);
    // One record whose stored entry (version, key length, key, data) is exactly 10 MiB; a full
    // byte bucket admits it (a large record bursts past the rate, then the bucket is in debt).
    let data = vec![b'x'; 10 * 1024 * 1024 - 3 - 1];
    s.put_record(
        &ctx,
        &t,
        PutEntry {
            data: Bytes::from(data),
            partition_key: "k".into(),
            explicit_hash_key: None,
        },
    )
    .await
    .unwrap();
    let it = s
        .get_shard_iterator(
            &ctx,
            GetShardIterator::trim_horizon(t.clone(), "shardId-000000000000"),
        )
        .await
        .unwrap();
    let out = s.get_records(&ctx, &it, None, None).await.unwrap();
    assert_eq!(out.records.len(), 1);
    let next = out.next_shard_iterator.unwrap();
    let start = crate::clock::Clock::now_ms(&clock);
    for after in [1, 1_000, 4_000, 4_999] {
        clock.set_ms(start + after);
        let e = s.get_records(&ctx, &next, None, None).await.unwrap_err();
        assert_eq!(
            e,
            KinesisError::ProvisionedThroughputExceeded(
                "Rate exceeded for Shard - shardId-000000000000 in stream big under account \
                 000000000000."
                    .into()
            ),
            "{after} ms after"
        );
    }
    clock.set_ms(start + 5_000);
    s.get_records(&ctx, &next, None, None).await.unwrap();
}

#[tokio::test]
async fn update_shard_count_scales_ten_times_a_day_and_remembers_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let open = |limits: bool| {
        let store = Store::open(StoreConfig {
            dir: Some(dir.path().to_path_buf()),
            ..StoreConfig::default()
        })
        .unwrap();
        let config = Config {
            create_stream_ms: 100,
            update_stream_ms: 100,
            throughput_limits: limits,
            ..Config::default()
        };
        Streams::open(config, store, Arc::new(clock.clone())).unwrap()
    };
    let ctx = Ctx::in_region("us-east-1");
    let t = StreamTarget::name("sc");
    let first_at;
    {
        let s = open(true);
        create(&s, &clock, &ctx, "sc", 1).await;
        first_at = crate::clock::Clock::now_ms(&clock);
        for i in 0..6 {
            s.update_shard_count(&ctx, &t, if i % 2 == 0 { 2 } else { 1 })
                .await
                .unwrap();
            clock.advance_ms(1_000);
        }
        // A request that changes nothing is no scaling.
        s.update_shard_count(&ctx, &t, 1).await.unwrap();
    }
    let s = open(true);
    for i in 0..4 {
        s.update_shard_count(&ctx, &t, if i % 2 == 0 { 2 } else { 1 })
            .await
            .unwrap();
        clock.advance_ms(1_000);
    }
    // The eleventh within 24 hours, after a restart, is refused.
    let e = s.update_shard_count(&ctx, &t, 2).await.unwrap_err();
    assert_eq!(
        e,
        KinesisError::LimitExceeded(
            "UpdateShardCount cannot scale stream sc under account 000000000000 more than 10 \
             times in a rolling 24-hour period."
                .into()
        )
    );
    // With the limits off there is no quota.
    drop(s);
    let s = open(false);
    s.update_shard_count(&ctx, &t, 2).await.unwrap();
    clock.advance_ms(1_000);
    drop(s);
    // That one was counted too (the newest ten are kept): 24 hours after the second scaling,
    // one is allowed again, and the next is refused, the others being younger.
    let s = open(true);
    clock.set_ms(first_at + 1_000 + crate::limits::SCALING_WINDOW_MS);
    s.update_shard_count(&ctx, &t, 1).await.unwrap();
    clock.advance_ms(101);
    let e = s.update_shard_count(&ctx, &t, 2).await.unwrap_err();
    assert!(matches!(e, KinesisError::LimitExceeded(_)), "{e:?}");
}

/// The one stream's metrics view.
async fn metrics_of(s: &Streams, name: &str) -> crate::metrics::StreamMetricsView {
    s.metrics_views()
        .await
        .into_iter()
        .find(|v| v.name == name)
        .unwrap()
}

#[tokio::test]
async fn puts_and_gets_are_counted_under_cloudwatch_names() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "m", 2).await;
    let t = StreamTarget::name("m");
    for i in 0..4 {
        s.put_record(&ctx, &t, entry(&format!("k{i}"), "abcd"))
            .await
            .unwrap();
    }
    let batch: Vec<PutEntry> = (0..6).map(|i| entry(&format!("p{i}"), "xyz")).collect();
    s.put_records(&ctx, &t, batch).await.unwrap();
    let v = metrics_of(&s, "m").await;
    let m = &v.stream;
    // Bytes are data plus partition key, the size the write limits count: 4 * (2 + 4), 6 * (2 + 3).
    assert_eq!(m.incoming_records.get(), 10);
    assert_eq!(m.incoming_bytes.get(), 24 + 30);
    assert_eq!(m.put_record_bytes.get(), 24);
    assert_eq!(m.put_records_bytes.get(), 30);
    assert_eq!(
        (m.put_record.attempts.get(), m.put_record.successes.get()),
        (4, 4)
    );
    assert_eq!(m.put_record.latency_us.snapshot().count, 4);
    assert_eq!(
        (m.put_records_total.get(), m.put_records_successful.get()),
        (6, 6)
    );
    assert_eq!(
        m.put_records_throttled.get() + m.put_records_failed.get(),
        0
    );
    let per_shard: u64 = v.shards.iter().map(|(_, s)| s.incoming_records.get()).sum();
    assert_eq!(per_shard, 10);
    assert_eq!(v.logs.len(), 2);

    let mut read = 0;
    for (shard, _) in &v.shards {
        let it = s
            .get_shard_iterator(&ctx, GetShardIterator::trim_horizon(t.clone(), shard))
            .await
            .unwrap();
        clock.advance_ms(250);
        read += s
            .get_records(&ctx, &it, None, None)
            .await
            .unwrap()
            .records
            .len();
    }
    assert_eq!(read, 10);
    assert_eq!(m.get_records_records.get(), 10);
    assert_eq!(m.get_records_bytes.get(), 54);
    assert_eq!(m.get_records.successes.get(), 2);
    let age = m.get_records_iterator_age_ms.snapshot();
    assert_eq!(age.count, 2);
    assert!(
        age.sum >= 250,
        "records read 250 ms after they arrived: {age:?}"
    );
    let out: u64 = v.shards.iter().map(|(_, s)| s.outgoing_bytes.get()).sum();
    assert_eq!(out, 54);
}

#[tokio::test]
async fn a_failed_call_counts_against_success_and_throttling_is_counted() {
    let (s, clock, ctx) = setup_limited();
    create(&s, &clock, &ctx, "th", 1).await;
    let t = StreamTarget::name("th");
    let entries: Vec<PutEntry> = (0..1200).map(|i| entry(&format!("k{i}"), "x")).collect();
    let out = s.put_records(&ctx, &t, entries).await.unwrap();
    assert_eq!(out.failed_count, 200);
    s.put_record(&ctx, &t, entry("k", "late"))
        .await
        .unwrap_err();
    let v = metrics_of(&s, "th").await;
    let m = &v.stream;
    assert_eq!(m.put_records_throttled.get(), 200);
    assert_eq!(m.put_records_successful.get(), 1000);
    assert_eq!(m.put_records_total.get(), 1200);
    assert_eq!(m.write_throttled.get(), 201);
    assert_eq!(
        (m.put_record.attempts.get(), m.put_record.successes.get()),
        (1, 0)
    );
    assert_eq!(v.shards[0].1.write_throttled.get(), 201);
    let it = s
        .get_shard_iterator(
            &ctx,
            GetShardIterator::trim_horizon(t, "shardId-000000000000"),
        )
        .await
        .unwrap();
    for _ in 0..5 {
        s.get_records(&ctx, &it, Some(1), None).await.unwrap();
    }
    s.get_records(&ctx, &it, Some(1), None).await.unwrap_err();
    assert_eq!(m.read_throttled.get(), 1);
    assert_eq!(v.shards[0].1.read_throttled.get(), 1);
    assert_eq!(
        (m.get_records.attempts.get(), m.get_records.successes.get()),
        (6, 5)
    );
}

#[tokio::test]
async fn shard_metrics_follow_resharding_and_enhanced_monitoring() {
    let (s, clock, ctx) = setup();
    create(&s, &clock, &ctx, "sh", 1).await;
    let t = StreamTarget::name("sh");
    s.put_record(&ctx, &t, entry("k", "v")).await.unwrap();
    assert!(metrics_of(&s, "sh").await.enhanced.is_empty());
    s.set_enhanced_monitoring(&ctx, &t, vec!["ALL".into()], true)
        .await
        .unwrap();
    let v = metrics_of(&s, "sh").await;
    assert!(v.enhanced("IncomingBytes") && v.enhanced("IteratorAgeMilliseconds"));
    s.set_enhanced_monitoring(&ctx, &t, vec!["IncomingBytes".into()], false)
        .await
        .unwrap();
    let v = metrics_of(&s, "sh").await;
    assert!(!v.enhanced("IncomingBytes") && v.enhanced("IncomingRecords"));
    s.update_shard_count(&ctx, &t, 2).await.unwrap();
    clock.advance_ms(101);
    // Looking the stream up applies the due reshard (the server's ticker does it too).
    s.describe_stream_summary(&ctx, &t).await.unwrap();
    let v = metrics_of(&s, "sh").await;
    assert_eq!(v.shards.len(), 3, "the parent and its two children");
    // The parent keeps what it counted before the split.
    assert_eq!(v.shards[0].1.incoming_records.get(), 1);
}
