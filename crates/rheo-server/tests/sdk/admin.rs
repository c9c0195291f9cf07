//! Stream administration through the SDK: retention, both tagging APIs, DescribeLimits.

use std::collections::BTreeMap;

use aws_sdk_kinesis::types::Tag;
use aws_sdk_kinesis::Client;

use crate::harness::{stream_arn, Server, ACCOUNT};
use crate::util::*;

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn stream_tags(client: &Client, name: &str) -> BTreeMap<String, String> {
    let out = client
        .list_tags_for_stream()
        .stream_name(name)
        .send()
        .await
        .unwrap();
    assert!(!out.has_more_tags());
    tag_map(out.tags())
}

async fn retention(client: &Client, name: &str) -> i32 {
    wait_active(client, name).await.retention_period_hours()
}

#[tokio::test]
async fn retention_increase_and_decrease() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "keep", 1).await;
    assert_eq!(retention(&client, "keep").await, 24);

    client
        .increase_stream_retention_period()
        .stream_name("keep")
        .retention_period_hours(48)
        .send()
        .await
        .unwrap();
    assert_eq!(retention(&client, "keep").await, 48);
    assert_eq!(describe(&client, "keep").await.retention_period_hours(), 48);

    // Increase below the current value, decrease above it: each API only goes one way.
    let (err, _) = service_error(
        client
            .increase_stream_retention_period()
            .stream_name("keep")
            .retention_period_hours(36)
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        "Requested retention period (36 hours) for stream keep can not be shorter than existing \
         retention period (48 hours). Use DecreaseRetentionPeriod API.",
    );
    let (err, _) = service_error(
        client
            .decrease_stream_retention_period()
            .stream_name("keep")
            .retention_period_hours(72)
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        "Requested retention period (72 hours) for stream keep can not be longer than existing \
         retention period (48 hours). Use IncreaseRetentionPeriod API.",
    );
    let (err, _) = service_error(
        client
            .decrease_stream_retention_period()
            .stream_name("keep")
            .retention_period_hours(12)
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        "Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short.",
    );
    // The maximum is 8760 hours (365 days); the exact wording for it is not confirmed, so only the type
    // and the key phrase are checked.
    let (err, _) = service_error(
        client
            .increase_stream_retention_period()
            .stream_name("keep")
            .retention_period_hours(8761)
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    let msg = err.meta().message().unwrap_or_default();
    assert!(
        msg.contains("8760") && msg.contains("(8761 hours) is too long"),
        "{msg}"
    );

    client
        .decrease_stream_retention_period()
        .stream_name("keep")
        .retention_period_hours(24)
        .send()
        .await
        .unwrap();
    assert_eq!(retention(&client, "keep").await, 24);
    client
        .increase_stream_retention_period()
        .stream_arn(stream_arn("keep"))
        .retention_period_hours(8760)
        .send()
        .await
        .unwrap();
    assert_eq!(retention(&client, "keep").await, 8760);

    let (err, _) = service_error(
        client
            .increase_stream_retention_period()
            .stream_name("missing")
            .retention_period_hours(48)
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!("Stream missing under account {ACCOUNT} not found."),
    );
}

#[tokio::test]
async fn tags_via_stream_and_resource_apis() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "tagged", 1).await;
    assert!(stream_tags(&client, "tagged").await.is_empty());

    client
        .add_tags_to_stream()
        .stream_name("tagged")
        .tags("team", "data")
        .tags("env", "test")
        .tags("cost-center", "42")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream_tags(&client, "tagged").await,
        expect(&[("team", "data"), ("env", "test"), ("cost-center", "42")])
    );

    // Adding an existing key replaces its value.
    client
        .add_tags_to_stream()
        .stream_name("tagged")
        .tags("env", "prod")
        .send()
        .await
        .unwrap();

    // ListTagsForStream pages with Limit / ExclusiveStartTagKey.
    let page1 = client
        .list_tags_for_stream()
        .stream_name("tagged")
        .limit(2)
        .send()
        .await
        .unwrap();
    assert_eq!(page1.tags().len(), 2);
    assert!(page1.has_more_tags());
    let last = page1.tags()[1].key().to_string();
    let page2 = client
        .list_tags_for_stream()
        .stream_name("tagged")
        .exclusive_start_tag_key(last)
        .send()
        .await
        .unwrap();
    assert!(!page2.has_more_tags());
    let mut both = tag_map(page1.tags());
    both.extend(tag_map(page2.tags()));
    assert_eq!(
        page1.tags().len() + page2.tags().len(),
        3,
        "pages must not overlap"
    );
    assert_eq!(
        both,
        expect(&[("team", "data"), ("env", "prod"), ("cost-center", "42")])
    );

    // Removing absent keys is silently ignored.
    client
        .remove_tags_from_stream()
        .stream_name("tagged")
        .tag_keys("cost-center")
        .tag_keys("not-there")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream_tags(&client, "tagged").await,
        expect(&[("team", "data"), ("env", "prod")])
    );

    // The ARN-based API sees and edits the same tags.
    let arn = stream_arn("tagged");
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags("owner", "alice")
        .send()
        .await
        .unwrap();
    let by_arn = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tag_map(by_arn.tags()),
        expect(&[("team", "data"), ("env", "prod"), ("owner", "alice")])
    );
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let via_stream_arn = client
        .list_tags_for_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tag_map(via_stream_arn.tags()),
        expect(&[("env", "prod"), ("owner", "alice")])
    );
    client
        .add_tags_to_stream()
        .stream_arn(&arn)
        .tags("via", "stream-arn")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream_tags(&client, "tagged").await,
        expect(&[("env", "prod"), ("owner", "alice"), ("via", "stream-arn")])
    );

    let (err, _) = service_error(
        client
            .add_tags_to_stream()
            .stream_name("tagged")
            .tags("bad;key", "v")
            .send()
            .await,
    );
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    assert_code_message(
        &err,
        "InvalidArgumentException",
        "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.",
    );
    let (err, _) = service_error(
        client
            .list_tags_for_stream()
            .stream_name("untagged-and-absent")
            .send()
            .await,
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!("Stream untagged-and-absent under account {ACCOUNT} not found."),
    );
    // Nothing changed after the failed calls.
    assert_eq!(
        stream_tags(&client, "tagged").await,
        expect(&[("env", "prod"), ("owner", "alice"), ("via", "stream-arn")])
    );
}

#[tokio::test]
async fn describe_limits_and_account_shard_limit() {
    let server = Server::start_with(&["--shard-limit", "12"]);
    let client = server.client();
    let empty = client.describe_limits().send().await.unwrap();
    assert_eq!(empty.shard_limit(), 12);
    assert_eq!(empty.open_shard_count(), 0);
    assert_eq!(empty.on_demand_stream_count(), 0);

    create_active(&client, "first", 3).await;
    create_active(&client, "second", 4).await;
    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.shard_limit(), 12);
    assert_eq!(limits.open_shard_count(), 7);
    assert_eq!(limits.on_demand_stream_count(), 0);
    assert_eq!(limits.on_demand_stream_count_limit(), 50);

    let (err, _) = service_error(
        client
            .create_stream()
            .stream_name("third")
            .shard_count(6)
            .send()
            .await,
    );
    assert!(err.is_limit_exceeded_exception(), "{err:?}");
    assert_code_message(
        &err,
        "LimitExceededException",
        &format!(
            "This request would exceed the shard limit for the account {ACCOUNT} in us-east-1. \
             Current shard count for the account: 7. Limit: 12. Number of additional shards that would \
             have resulted from this request: 6. Refer to the AWS Service Limits page \
             (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits \
             and how to request higher limits."
        ),
    );
    // A split adds one open shard and shows up in the count.
    client
        .split_shard()
        .stream_name("first")
        .shard_to_split(shard_id(0))
        .new_starting_hash_key("1000")
        .send()
        .await
        .unwrap();
    wait_active(&client, "first").await;
    assert_eq!(
        client
            .describe_limits()
            .send()
            .await
            .unwrap()
            .open_shard_count(),
        8
    );
}
