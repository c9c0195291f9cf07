//! SubscribeToShard's domain side on the disk engine (issue 13): events carry every record in
//! order with the right continuation, a record written during the subscription arrives without
//! polling, a closed shard ends with its children, resuming AFTER the continuation misses and
//! repeats nothing, and AWS's one-subscription and ACTIVE rules hold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::{Config, KinesisError, Streams, SubscribeToShard};

use common::{ctx, open, open_with};

const T0: i64 = 1_700_000_000_000;
const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
const SHARD0: &str = "shardId-000000000000";
const HEARTBEAT: Duration = Duration::from_millis(50);

async fn setup(s: &Streams, clock: &ManualClock) -> String {
    s.create_stream(&ctx(), CreateStream::provisioned("s", 1))
        .await
        .unwrap();
    clock.advance_ms(101);
    s.tick().await;
    let c = s
        .register_stream_consumer(
            &ctx(),
            RegisterConsumer {
                stream_arn: ARN.into(),
                consumer_name: "app".into(),
                tags: Default::default(),
            },
        )
        .await
        .unwrap();
    clock.advance_ms(501);
    c.arn
}

async fn put(s: &Streams, range: std::ops::Range<u32>) {
    let entries = range
        .map(|i| PutEntry {
            data: Bytes::from(format!("r{i:04}")),
            partition_key: format!("k{i}"),
            explicit_hash_key: None,
        })
        .collect();
    s.put_records(&ctx(), &StreamTarget::name("s"), entries)
        .await
        .unwrap();
}

fn req(consumer: &str, kind: IteratorType, seq: Option<String>) -> SubscribeToShard {
    SubscribeToShard {
        consumer_arn: consumer.into(),
        shard_id: SHARD0.into(),
        kind,
        sequence_number: seq,
        timestamp_ms: None,
    }
}

fn data(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.data.to_vec()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_every_record_and_resume_after_the_continuation() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    let consumer = setup(&s, &clock).await;

    // From TRIM_HORIZON of an empty shard: the first event is empty and continues from the
    // shard's start, so resuming AFTER it misses nothing.
    let mut sub = s
        .subscribe_to_shard(&ctx(), req(&consumer, IteratorType::TrimHorizon, None))
        .await
        .unwrap();
    let first = sub.next_event(HEARTBEAT).await.unwrap().unwrap();
    assert!(first.records.is_empty());
    let start = first.continuation_sequence_number.clone();

    // A record put while the subscriber waits at the tip arrives at once, not after a tick.
    let waiter = tokio::spawn(async move {
        let t = Instant::now();
        let ev = sub
            .next_event(Duration::from_secs(20))
            .await
            .unwrap()
            .unwrap();
        (t.elapsed(), ev, sub)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    put(&s, 0..3).await;
    let (waited, ev, mut sub) = waiter.await.unwrap();
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    assert_eq!(data(&ev.records), ["r0000", "r0001", "r0002"]);
    assert_eq!(
        ev.continuation_sequence_number,
        ev.records[2].sequence_number
    );
    assert_eq!(ev.millis_behind_latest, 0);
    put(&s, 3..5).await;
    let ev2 = sub.next_event(HEARTBEAT).await.unwrap().unwrap();
    assert_eq!(data(&ev2.records), ["r0003", "r0004"]);
    drop(sub);

    // A new subscription AFTER the first continuation sees everything; AFTER the last one,
    // nothing again.
    clock.advance_ms(6_000);
    let mut again = s
        .subscribe_to_shard(
            &ctx(),
            req(&consumer, IteratorType::AfterSequenceNumber, Some(start)),
        )
        .await
        .unwrap();
    let ev = again.next_event(HEARTBEAT).await.unwrap().unwrap();
    assert_eq!(data(&ev.records).len(), 5);
    drop(again);
    clock.advance_ms(6_000);
    let mut tail = s
        .subscribe_to_shard(
            &ctx(),
            req(
                &consumer,
                IteratorType::AfterSequenceNumber,
                Some(ev2.continuation_sequence_number),
            ),
        )
        .await
        .unwrap();
    let ev = tail.next_event(HEARTBEAT).await.unwrap().unwrap();
    assert!(ev.records.is_empty());

    // The subscription's time runs out.
    clock.advance_ms(300_001);
    assert!(tail.next_event(HEARTBEAT).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_subscription_per_consumer_and_shard_with_takeover_after_5_s() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    let consumer = setup(&s, &clock).await;
    let mut first = s
        .subscribe_to_shard(&ctx(), req(&consumer, IteratorType::Latest, None))
        .await
        .unwrap();
    first.next_event(HEARTBEAT).await.unwrap().unwrap();
    let refused = s
        .subscribe_to_shard(&ctx(), req(&consumer, IteratorType::Latest, None))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&refused, KinesisError::ResourceInUse(m) if m.contains("Another active subscription")),
        "{refused:?}"
    );
    clock.advance_ms(5_000);
    let mut second = s
        .subscribe_to_shard(&ctx(), req(&consumer, IteratorType::Latest, None))
        .await
        .unwrap();
    let ended = first.next_event(HEARTBEAT).await.unwrap_err();
    assert!(matches!(ended, KinesisError::ResourceInUse(_)), "{ended:?}");
    second.next_event(HEARTBEAT).await.unwrap().unwrap();
    drop(first);
    // The old subscription going away does not end the new one.
    second.next_event(HEARTBEAT).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_shard_ends_with_its_children_after_its_last_record() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    let consumer = setup(&s, &clock).await;
    put(&s, 0..4).await;
    let half = (u128::MAX / 2).to_string();
    s.split_shard(&ctx(), &StreamTarget::name("s"), SHARD0, &half)
        .await
        .unwrap();
    clock.advance_ms(600);
    s.tick().await;
    let mut sub = s
        .subscribe_to_shard(&ctx(), req(&consumer, IteratorType::TrimHorizon, None))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut children = None;
    for _ in 0..10 {
        let Some(ev) = sub.next_event(HEARTBEAT).await.unwrap() else {
            break;
        };
        got.extend(data(&ev.records));
        if ev.child_shards.is_some() {
            children = ev.child_shards;
        }
    }
    assert_eq!(got, ["r0000", "r0001", "r0002", "r0003"]);
    let children = children.expect("no ChildShards at the shard's end");
    assert_eq!(children.len(), 2);
    assert!(children
        .iter()
        .all(|c| c.parent_shards == vec![SHARD0.to_string()]));
    assert!(sub.next_event(HEARTBEAT).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_active_consumer_subscribes() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    s.create_stream(&ctx(), CreateStream::provisioned("s", 1))
        .await
        .unwrap();
    clock.advance_ms(101);
    let c = s
        .register_stream_consumer(
            &ctx(),
            RegisterConsumer {
                stream_arn: ARN.into(),
                consumer_name: "slow".into(),
                tags: Default::default(),
            },
        )
        .await
        .unwrap();
    let e = s
        .subscribe_to_shard(&ctx(), req(&c.arn, IteratorType::Latest, None))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&e, KinesisError::ResourceInUse(m) if m.contains("is not in ACTIVE status")),
        "{e:?}"
    );
    let unknown = format!("{ARN}/consumer/nobody:1");
    let e = s
        .subscribe_to_shard(&ctx(), req(&unknown, IteratorType::Latest, None))
        .await
        .err()
        .unwrap();
    assert!(matches!(e, KinesisError::ResourceNotFound(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistering_the_consumer_ends_its_subscription() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    let consumer = setup(&s, &clock).await;
    let mut sub = s
        .subscribe_to_shard(&ctx(), req(&consumer, IteratorType::Latest, None))
        .await
        .unwrap();
    sub.next_event(HEARTBEAT).await.unwrap().unwrap();
    s.deregister_stream_consumer(&ctx(), &ConsumerTarget::arn(&consumer))
        .await
        .unwrap();
    let e = sub.next_event(HEARTBEAT).await.unwrap_err();
    assert!(matches!(e, KinesisError::ResourceNotFound(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_throughput_limits_a_subscription_is_paced_at_2_mib_a_second() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let config = Config {
        throughput_limits: true,
        ..Config::default()
    };
    let s = open_with(d.path(), &clock, config);
    let consumer = setup(&s, &clock).await;
    // 6 MiB in 24 records of 256 KiB, written across several seconds of write budget.
    for i in 0..24u32 {
        if i % 4 == 0 {
            clock.advance_ms(1000);
        }
        s.put_record(
            &ctx(),
            &StreamTarget::name("s"),
            PutEntry {
                data: Bytes::from(vec![b'x'; 256 * 1024 - 8]),
                partition_key: format!("k{i}"),
                explicit_hash_key: None,
            },
        )
        .await
        .unwrap();
    }
    let mut sub = s
        .subscribe_to_shard(&ctx(), req(&consumer, IteratorType::TrimHorizon, None))
        .await
        .unwrap();
    let t = Instant::now();
    let mut got = 0;
    while got < 24 {
        let ev = sub.next_event(HEARTBEAT).await.unwrap().unwrap();
        got += ev.records.len();
    }
    // 5 MiB at 2 MiB/s: the third and fifth MiB each wait for a new second.
    assert!(
        t.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_account_registers_describes_and_subscribes_by_arn() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    let owned = setup(&s, &clock).await;
    put(&s, 0..2).await;
    let partner = Ctx::new("us-east-1", "222222222222".into());
    let granted = partner.granted_by("000000000000".into());
    // Without the owner's grant the owner's consumer is not found, in the owner's words.
    let Err(KinesisError::ResourceNotFound(m)) = s
        .describe_stream_consumer(&partner, &ConsumerTarget::arn(&owned))
        .await
    else {
        panic!("an ungranted consumer ARN of another account must name nothing");
    };
    assert!(m.contains("000000000000"), "{m}");
    assert!(s
        .subscribe_to_shard(&partner, req(&owned, IteratorType::TrimHorizon, None))
        .await
        .is_err());
    // Granted, the partner registers a consumer on the owner's stream; it is the owner's.
    let c = s
        .register_stream_consumer(
            &granted,
            RegisterConsumer {
                stream_arn: ARN.into(),
                consumer_name: "partner".into(),
                tags: Default::default(),
            },
        )
        .await
        .unwrap();
    assert!(
        c.arn.starts_with(&format!("{ARN}/consumer/partner:")),
        "{}",
        c.arn
    );
    assert_eq!(c.stream_arn, ARN);
    clock.advance_ms(501);
    let described = s
        .describe_stream_consumer(&granted, &ConsumerTarget::arn(&c.arn))
        .await
        .unwrap();
    assert_eq!(
        (described.arn.as_str(), described.stream_arn.as_str()),
        (c.arn.as_str(), ARN)
    );
    let mut sub = s
        .subscribe_to_shard(&granted, req(&c.arn, IteratorType::TrimHorizon, None))
        .await
        .unwrap();
    let ev = sub.next_event(HEARTBEAT).await.unwrap().unwrap();
    assert_eq!(data(&ev.records), ["r0000", "r0001"]);
}
