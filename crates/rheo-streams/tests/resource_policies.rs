//! Resource policies are stream metadata: they survive a restart of the disk engine, are
//! replaced and removed durably, and go with their stream when it is deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::KinesisError;

mod common;
use common::{ctx, open};

const T0: i64 = 1_700_000_000_000;
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kinesis:GetRecords","Resource":"*"}]}"#;

#[tokio::test]
async fn policies_are_durable_and_deleted_with_their_stream() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(dir.path(), &clock);
    for name in ["p", "other"] {
        s.create_stream(&ctx(), CreateStream::provisioned(name, 1))
            .await
            .unwrap();
    }
    clock.advance_ms(101);
    let arn = s.stream_arn(&ctx().region, ctx().account(), "p");
    let other = s.stream_arn(&ctx().region, ctx().account(), "other");
    assert_eq!(s.get_resource_policy(&ctx(), &arn).await.unwrap(), "{}");
    s.put_resource_policy(&ctx(), &arn, "{}").await.unwrap();
    s.put_resource_policy(&ctx(), &arn, POLICY).await.unwrap();
    // A refused document leaves the stored one in place.
    let refused = s.put_resource_policy(&ctx(), &arn, "[1]").await;
    assert!(
        matches!(refused, Err(KinesisError::InvalidArgument(_))),
        "{refused:?}"
    );
    s.store().sync().await.unwrap();
    drop(s);

    let s = open(dir.path(), &clock);
    assert_eq!(s.get_resource_policy(&ctx(), &arn).await.unwrap(), POLICY);
    assert_eq!(s.get_resource_policy(&ctx(), &other).await.unwrap(), "{}");
    s.delete_resource_policy(&ctx(), &arn).await.unwrap();
    // Deleting twice is not an error.
    s.delete_resource_policy(&ctx(), &arn).await.unwrap();
    s.put_resource_policy(&ctx(), &other, POLICY).await.unwrap();
    s.store().sync().await.unwrap();
    drop(s);

    let s = open(dir.path(), &clock);
    assert_eq!(s.get_resource_policy(&ctx(), &arn).await.unwrap(), "{}");
    assert_eq!(s.get_resource_policy(&ctx(), &other).await.unwrap(), POLICY);
    // The policy goes with its stream: a stream created again under the name has none.
    s.delete_stream(&ctx(), &StreamTarget::name("other"))
        .await
        .unwrap();
    clock.advance_ms(101);
    s.tick().await;
    let gone = s.get_resource_policy(&ctx(), &other).await;
    assert!(
        matches!(gone, Err(KinesisError::ResourceNotFound(_))),
        "{gone:?}"
    );
    s.create_stream(&ctx(), CreateStream::provisioned("other", 1))
        .await
        .unwrap();
    clock.advance_ms(101);
    assert_eq!(s.get_resource_policy(&ctx(), &other).await.unwrap(), "{}");
}

#[tokio::test]
async fn unknown_resources_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let s = open(dir.path(), &clock);
    s.create_stream(&ctx(), CreateStream::provisioned("s", 1))
        .await
        .unwrap();
    clock.advance_ms(101);
    let missing = s.stream_arn(&ctx().region, ctx().account(), "nope");
    let Err(KinesisError::ResourceNotFound(msg)) =
        s.put_resource_policy(&ctx(), &missing, POLICY).await
    else {
        panic!("a missing stream must be ResourceNotFound");
    };
    assert_eq!(
        msg,
        format!("Stream nope under account {} not found.", ctx().account())
    );
    let consumer = format!(
        "{}/consumer/c:1700000000",
        s.stream_arn(&ctx().region, ctx().account(), "s")
    );
    let Err(KinesisError::ResourceNotFound(msg)) = s.get_resource_policy(&ctx(), &consumer).await
    else {
        panic!("an unregistered consumer must be ResourceNotFound");
    };
    assert!(msg.contains(&consumer), "{msg}");
}

/// The authorizer reads policies by ARN: after a restart a stream of an account other than the
/// configured one must still be found under its own account's ARN (the index was rebuilt with
/// the configured account's, so a cross-account grant on such a stream vanished at restart).
#[tokio::test]
async fn a_restart_keeps_the_policy_of_another_account_s_stream_under_its_arn() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let owner = Ctx::new(ctx().region, "111111111111".into());
    let s = open(dir.path(), &clock);
    s.create_stream(&owner, CreateStream::provisioned("shared", 1))
        .await
        .unwrap();
    clock.advance_ms(101);
    let arn = s.stream_arn(&owner.region, owner.account(), "shared");
    s.put_resource_policy(&owner, &arn, POLICY).await.unwrap();
    assert_eq!(s.resource_policy_of(&arn).as_deref(), Some(POLICY));
    s.store().sync().await.unwrap();
    drop(s);

    let s = open(dir.path(), &clock);
    assert_eq!(s.resource_policy_of(&arn).as_deref(), Some(POLICY));
    let configured = s.stream_arn(&owner.region, ctx().account(), "shared");
    assert!(s.resource_policy_of(&configured).is_none());
}
