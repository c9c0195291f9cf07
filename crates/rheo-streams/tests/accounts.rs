//! Streams are namespaced by account and region: two accounts each have their own stream of one
//! name, see only their own, and keep them apart across a restart; the configured account's
//! streams keep the catalog key every earlier build wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::KinesisError;

mod common;
use common::{open, REGION};

const T0: i64 = 1_700_000_000_000;

fn in_account(account: &str) -> Ctx {
    Ctx::new(REGION, Arc::from(account))
}

#[tokio::test]
async fn two_accounts_have_their_own_streams_of_one_name_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let default = Ctx::in_region(REGION);
    let alice = in_account("111111111111");
    let bob = in_account("222222222222");
    {
        let s = open(dir.path(), &clock);
        s.create_stream(&alice, CreateStream::provisioned("shared", 1))
            .await
            .unwrap();
        // Not "already exists": Bob's namespace has no such stream.
        s.create_stream(&bob, CreateStream::provisioned("shared", 2))
            .await
            .unwrap();
        s.create_stream(&default, CreateStream::provisioned("shared", 3))
            .await
            .unwrap();
        let again = s
            .create_stream(&alice, CreateStream::provisioned("shared", 1))
            .await
            .unwrap_err();
        assert!(matches!(again, KinesisError::ResourceInUse(_)), "{again:?}");
        clock.advance_ms(101);
        s.tick().await;
        s.put_records(
            &alice,
            &StreamTarget::name("shared"),
            vec![PutEntry {
                data: Bytes::from_static(b"alice's"),
                partition_key: "p".into(),
                explicit_hash_key: None,
            }],
        )
        .await
        .unwrap();
        // The configured account's stream is stored where every earlier build stored it.
        assert!(s
            .store()
            .catalog_get(&common::key("shared"))
            .unwrap()
            .is_some());
        s.store().sync().await.unwrap();
    }
    let s = open(dir.path(), &clock);
    for (ctx, account, shards) in [
        (&alice, "111111111111", 1),
        (&bob, "222222222222", 2),
        (&default, "000000000000", 3),
    ] {
        let listed = s.list_streams(ctx, ListStreams::default()).await.unwrap();
        assert_eq!(listed.names, ["shared"], "{account}");
        let d = s
            .describe_stream_summary(ctx, &StreamTarget::name("shared"))
            .await
            .unwrap();
        assert_eq!(d.open_shard_count, shards, "{account}");
        assert_eq!(
            d.arn,
            format!("arn:aws:kinesis:{REGION}:{account}:stream/shared")
        );
    }
    // Bob's stream has none of Alice's records.
    let read = |ctx: Ctx| {
        let s = s.clone();
        async move {
            let it = s
                .get_shard_iterator(
                    &ctx,
                    GetShardIterator::trim_horizon(
                        StreamTarget::name("shared"),
                        "shardId-000000000000",
                    ),
                )
                .await
                .unwrap();
            s.get_records(&ctx, &it, None, None)
                .await
                .unwrap()
                .records
                .len()
        }
    };
    assert_eq!(read(alice.clone()).await, 1);
    assert_eq!(read(bob.clone()).await, 0);
    // Deleting Alice's stream leaves Bob's.
    s.delete_stream(&alice, &StreamTarget::name("shared"))
        .await
        .unwrap();
    clock.advance_ms(101);
    s.tick().await;
    assert!(s
        .list_streams(&alice, ListStreams::default())
        .await
        .unwrap()
        .names
        .is_empty());
    assert_eq!(
        s.list_streams(&bob, ListStreams::default())
            .await
            .unwrap()
            .names,
        ["shared"]
    );
}

#[tokio::test]
async fn an_arn_of_another_account_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(dir.path(), &clock);
    let alice = in_account("111111111111");
    s.create_stream(&alice, CreateStream::provisioned("mine", 1))
        .await
        .unwrap();
    let arn = format!("arn:aws:kinesis:{REGION}:111111111111:stream/mine");
    let e = s
        .describe_stream_summary(&in_account("222222222222"), &StreamTarget::arn(&arn))
        .await
        .unwrap_err();
    assert!(matches!(e, KinesisError::ResourceNotFound(_)), "{e:?}");
}
