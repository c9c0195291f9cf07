//! Enhanced fan-out consumers on the disk engine (issue 13): register, describe (by ARN and by
//! stream ARN + name), list with paging, deregister, tags, the per-stream limits, DeleteStream's
//! EnforceConsumerDeletion, and that all of it survives a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::{ConsumerStatus, KinesisError, Streams};

use common::{ctx, open};

const T0: i64 = 1_700_000_000_000;
/// `Config::default().consumer_status_ms` and a little more.
const SETTLE_MS: i64 = 501;
const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/s";

async fn stream(s: &Streams, clock: &ManualClock) {
    s.create_stream(&ctx(), CreateStream::provisioned("s", 1))
        .await
        .unwrap();
    clock.advance_ms(101);
    s.tick().await;
}

async fn register(s: &Streams, name: &str) -> Result<ConsumerInfo, KinesisError> {
    s.register_stream_consumer(
        &ctx(),
        RegisterConsumer {
            stream_arn: ARN.into(),
            consumer_name: name.into(),
            tags: [("team".to_string(), "a".to_string())].into(),
        },
    )
    .await
}

async fn list(s: &Streams, max: Option<u32>, token: Option<String>) -> ListConsumersOutput {
    s.list_stream_consumers(
        &ctx(),
        ListConsumers {
            stream_arn: ARN.into(),
            next_token: token,
            max_results: max,
            stream_creation_ms: None,
        },
    )
    .await
    .unwrap()
}

async fn summary_count(s: &Streams) -> u32 {
    s.describe_stream_summary(&ctx(), &StreamTarget::name("s"))
        .await
        .unwrap()
        .consumer_count
}

#[tokio::test]
async fn a_consumer_is_created_described_listed_and_deregistered_durably() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    stream(&s, &clock).await;

    let c = register(&s, "app-1").await.unwrap();
    assert_eq!(c.status, ConsumerStatus::Creating);
    assert_eq!(c.arn, format!("{ARN}/consumer/app-1:{}", (T0 + 101) / 1000));
    assert_eq!(c.stream_arn, ARN);
    assert_eq!(summary_count(&s).await, 1);
    let again = register(&s, "app-1").await.unwrap_err();
    assert!(
        matches!(&again, KinesisError::ResourceInUse(m) if m.contains("app-1") && m.contains("already exists")),
        "{again:?}"
    );

    clock.advance_ms(SETTLE_MS);
    let by_arn = s
        .describe_stream_consumer(&ctx(), &ConsumerTarget::arn(&c.arn))
        .await
        .unwrap();
    assert_eq!(by_arn.status, ConsumerStatus::Active);
    let by_name = s
        .describe_stream_consumer(&ctx(), &ConsumerTarget::named(ARN, "app-1"))
        .await
        .unwrap();
    assert_eq!(by_name, by_arn);
    // An ARN of another registration (another creation second) names nothing.
    let stale = format!("{ARN}/consumer/app-1:1");
    assert!(matches!(
        s.describe_stream_consumer(&ctx(), &ConsumerTarget::arn(&stale))
            .await
            .unwrap_err(),
        KinesisError::ResourceNotFound(_)
    ));
    let tags = s.list_consumer_tags(&ctx(), &c.arn).await.unwrap();
    assert_eq!(tags.tags, vec![("team".to_string(), "a".to_string())]);

    // Everything above is on disk: a new server over the same directory sees it.
    drop(s);
    let s = open(d.path(), &clock);
    let listed = list(&s, None, None).await;
    assert_eq!(listed.consumers, vec![by_arn.clone()]);
    assert!(listed.next_token.is_none());

    s.deregister_stream_consumer(&ctx(), &ConsumerTarget::arn(&c.arn))
        .await
        .unwrap();
    let deleting = s
        .describe_stream_consumer(&ctx(), &ConsumerTarget::arn(&c.arn))
        .await
        .unwrap();
    assert_eq!(deleting.status, ConsumerStatus::Deleting);
    drop(s);
    let s = open(d.path(), &clock);
    clock.advance_ms(SETTLE_MS);
    s.tick().await;
    assert!(list(&s, None, None).await.consumers.is_empty());
    assert_eq!(summary_count(&s).await, 0);
    assert!(matches!(
        s.describe_stream_consumer(&ctx(), &ConsumerTarget::arn(&c.arn))
            .await
            .unwrap_err(),
        KinesisError::ResourceNotFound(_)
    ));
    // The name is free again, under a new ARN.
    clock.advance_ms(1000);
    let c2 = register(&s, "app-1").await.unwrap();
    assert_ne!(c2.arn, c.arn);
}

#[tokio::test]
async fn limits_paging_and_delete_stream_with_consumers() {
    let d = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(d.path(), &clock);
    stream(&s, &clock).await;

    // Five at a time may be CREATING.
    for i in 0..5 {
        register(&s, &format!("c{i:02}")).await.unwrap();
    }
    let busy = register(&s, "c05").await.unwrap_err();
    assert!(matches!(busy, KinesisError::LimitExceeded(_)), "{busy:?}");
    for batch in 1..4 {
        clock.advance_ms(SETTLE_MS);
        s.tick().await;
        for i in batch * 5..batch * 5 + 5 {
            register(&s, &format!("c{i:02}")).await.unwrap();
        }
    }
    clock.advance_ms(SETTLE_MS);
    s.tick().await;
    // Twenty per stream.
    let full = register(&s, "c20").await.unwrap_err();
    assert!(
        matches!(&full, KinesisError::LimitExceeded(m) if m.contains("20")),
        "{full:?}"
    );
    assert_eq!(summary_count(&s).await, 20);

    // Pages of 7 visit every consumer once, in name order.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = list(&s, Some(7), token).await;
        assert!(page.consumers.len() <= 7);
        seen.extend(page.consumers.into_iter().map(|c| c.name));
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let want: Vec<String> = (0..20).map(|i| format!("c{i:02}")).collect();
    assert_eq!(seen, want);
    // Tokens expire after 300 s.
    let page = list(&s, Some(1), None).await;
    clock.advance_ms(300_001);
    let expired = s
        .list_stream_consumers(
            &ctx(),
            ListConsumers {
                stream_arn: ARN.into(),
                next_token: page.next_token,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(expired, KinesisError::ExpiredNextToken(_)),
        "{expired:?}"
    );

    // DeleteStream refuses while consumers are registered, unless told to take them along.
    let refused = s
        .delete_stream(&ctx(), &StreamTarget::name("s"))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, KinesisError::ResourceInUse(m) if m.contains("EnforceConsumerDeletion")),
        "{refused:?}"
    );
    s.delete_stream_with(&ctx(), &StreamTarget::name("s"), true)
        .await
        .unwrap();
    clock.advance_ms(101);
    s.tick().await;
    drop(s);
    // Recreated under the same name, the stream has no consumers.
    let s = open(d.path(), &clock);
    stream(&s, &clock).await;
    assert!(list(&s, None, None).await.consumers.is_empty());
}
