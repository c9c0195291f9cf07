//! Stream lifecycle through the SDK: CreateStream, DescribeStream(Summary), ListStreams, DeleteStream.

use std::time::SystemTime;

use aws_sdk_kinesis::types::{StreamMode, StreamModeDetails, StreamStatus};
use aws_smithy_types::DateTime;

use crate::harness::{stream_arn, Server, ACCOUNT};
use crate::util::*;

fn now_secs() -> f64 {
    DateTime::from(SystemTime::now()).as_secs_f64()
}

#[tokio::test]
async fn create_describe_and_summary() {
    let server = Server::start();
    let client = server.client();
    let before = now_secs();
    client
        .create_stream()
        .stream_name("orders")
        .shard_count(3)
        .send()
        .await
        .unwrap();
    // The server delays activation by 50 ms, so the first look sees CREATING.
    let first = client
        .describe_stream_summary()
        .stream_name("orders")
        .send()
        .await
        .unwrap();
    assert_eq!(
        *first.stream_description_summary().unwrap().stream_status(),
        StreamStatus::Creating
    );
    let summary = wait_active(&client, "orders").await;
    let after = now_secs();

    assert_eq!(summary.stream_name(), "orders");
    assert_eq!(summary.stream_arn(), stream_arn("orders"));
    assert_eq!(summary.open_shard_count(), 3);
    assert_eq!(summary.retention_period_hours(), 24);
    assert_eq!(
        summary
            .stream_mode_details()
            .map(|m| m.stream_mode().clone()),
        Some(StreamMode::Provisioned)
    );
    let created = summary.stream_creation_timestamp().as_secs_f64();
    assert!(
        created >= before - 1.0 && created <= after + 1.0,
        "creation timestamp {created} outside [{before}, {after}]"
    );

    let desc = describe(&client, "orders").await;
    assert_eq!(desc.stream_name(), "orders");
    assert_eq!(desc.stream_arn(), stream_arn("orders"));
    assert_eq!(*desc.stream_status(), StreamStatus::Active);
    assert!(!desc.has_more_shards());
    assert_eq!(desc.retention_period_hours(), 24);
    assert_eq!(
        desc.stream_creation_timestamp(),
        summary.stream_creation_timestamp()
    );
    let ids: Vec<&str> = desc.shards().iter().map(|s| s.shard_id()).collect();
    assert_eq!(ids, [shard_id(0), shard_id(1), shard_id(2)]);
    // AWS splits the key space evenly: boundaries at multiples of floor(2^128 / 3).
    let expected = [
        ("0", "113427455640312821154458202477256070484"),
        (
            "113427455640312821154458202477256070485",
            "226854911280625642308916404954512140969",
        ),
        (
            "226854911280625642308916404954512140970",
            "340282366920938463463374607431768211455",
        ),
    ];
    for (shard, (lo, hi)) in desc.shards().iter().zip(expected) {
        let r = shard.hash_key_range().unwrap();
        assert_eq!((r.starting_hash_key(), r.ending_hash_key()), (lo, hi));
        assert!(shard.parent_shard_id().is_none());
        assert!(shard.adjacent_parent_shard_id().is_none());
        let seq = shard.sequence_number_range().unwrap();
        assert!(seq.ending_sequence_number().is_none());
        assert!(seq
            .starting_sequence_number()
            .bytes()
            .all(|c| c.is_ascii_digit()));
    }
    assert_open_shards_cover_keyspace(desc.shards());

    // DescribeStream pages shards with Limit / ExclusiveStartShardId.
    let page = client
        .describe_stream()
        .stream_name("orders")
        .limit(2)
        .send()
        .await
        .unwrap();
    let page = page.stream_description().unwrap();
    assert!(page.has_more_shards());
    let ids: Vec<&str> = page.shards().iter().map(|s| s.shard_id()).collect();
    assert_eq!(ids, [shard_id(0), shard_id(1)]);
    let rest = client
        .describe_stream()
        .stream_name("orders")
        .exclusive_start_shard_id(shard_id(1))
        .send()
        .await
        .unwrap();
    let rest = rest.stream_description().unwrap();
    assert!(!rest.has_more_shards());
    let ids: Vec<&str> = rest.shards().iter().map(|s| s.shard_id()).collect();
    assert_eq!(ids, [shard_id(2)]);

    // The ARN addresses the same stream.
    let by_arn = client
        .describe_stream_summary()
        .stream_arn(stream_arn("orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_arn.stream_description_summary().unwrap().stream_name(),
        "orders"
    );
}

#[tokio::test]
async fn list_streams_paginates_in_name_order() {
    let server = Server::start();
    let client = server.client();
    // Created out of order: the listing is sorted by name.
    for name in ["charlie", "alpha", "delta", "bravo"] {
        client
            .create_stream()
            .stream_name(name)
            .shard_count(1)
            .send()
            .await
            .unwrap();
    }
    for name in ["charlie", "alpha", "delta", "bravo"] {
        wait_active(&client, name).await;
    }

    let all = client.list_streams().send().await.unwrap();
    assert_eq!(all.stream_names(), ["alpha", "bravo", "charlie", "delta"]);
    assert!(!all.has_more_streams());
    let summaries = all.stream_summaries();
    assert_eq!(summaries.len(), 4);
    for (s, name) in summaries.iter().zip(["alpha", "bravo", "charlie", "delta"]) {
        assert_eq!(s.stream_name(), name);
        assert_eq!(s.stream_arn(), stream_arn(name));
        assert_eq!(*s.stream_status(), StreamStatus::Active);
        assert!(s.stream_creation_timestamp().is_some());
    }

    let page1 = client.list_streams().limit(3).send().await.unwrap();
    assert_eq!(page1.stream_names(), ["alpha", "bravo", "charlie"]);
    assert!(page1.has_more_streams());
    let token = page1
        .next_token()
        .expect("NextToken when HasMoreStreams")
        .to_string();
    let page2 = client
        .list_streams()
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(page2.stream_names(), ["delta"]);
    assert!(!page2.has_more_streams());
    assert!(page2.next_token().is_none());

    // The SDK's own paginator follows NextToken to the end.
    let mut pages = client.list_streams().into_paginator().page_size(1).send();
    let mut paged = Vec::new();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        page_count += 1;
        paged.extend(page.stream_names().iter().cloned());
    }
    assert_eq!(paged, ["alpha", "bravo", "charlie", "delta"]);
    assert_eq!(page_count, 4);

    let after = client
        .list_streams()
        .exclusive_start_stream_name("bravo")
        .limit(1)
        .send()
        .await
        .unwrap();
    assert_eq!(after.stream_names(), ["charlie"]);
    assert!(after.has_more_streams());
}

#[tokio::test]
async fn delete_stream_goes_through_deleting() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "doomed", 1).await;
    client
        .delete_stream()
        .stream_name("doomed")
        .send()
        .await
        .unwrap();
    wait_gone(&client, "doomed").await;
    let listed = client.list_streams().send().await.unwrap();
    assert!(listed.stream_names().is_empty());
    // The name can be reused once the deletion completes.
    let again = create_active(&client, "doomed", 2).await;
    assert_eq!(again.open_shard_count(), 2);

    let (err, status) = service_error(client.delete_stream().stream_name("never").send().await);
    assert_eq!(status, 400);
    assert!(err.is_resource_not_found_exception());
    assert_code_message(
        &err,
        "ResourceNotFoundException",
        &format!("Stream never under account {ACCOUNT} not found."),
    );
}

#[tokio::test]
async fn on_demand_stream_and_mode_switch() {
    let server = Server::start();
    let client = server.client();
    client
        .create_stream()
        .stream_name("elastic")
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let summary = wait_active(&client, "elastic").await;
    assert_eq!(
        summary
            .stream_mode_details()
            .map(|m| m.stream_mode().clone()),
        Some(StreamMode::OnDemand)
    );
    // On-demand streams start with four shards.
    assert_eq!(summary.open_shard_count(), 4);

    // Switch a provisioned stream to on-demand and back; UpdateStreamMode takes only the ARN.
    create_active(&client, "fixed", 1).await;
    client
        .update_stream_mode()
        .stream_arn(stream_arn("fixed"))
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let s = wait_active(&client, "fixed").await;
    assert_eq!(
        s.stream_mode_details().map(|m| m.stream_mode().clone()),
        Some(StreamMode::OnDemand)
    );
    let listed = client.list_streams().send().await.unwrap();
    let fixed = listed
        .stream_summaries()
        .iter()
        .find(|s| s.stream_name() == "fixed")
        .unwrap();
    assert_eq!(
        fixed.stream_mode_details().map(|m| m.stream_mode().clone()),
        Some(StreamMode::OnDemand)
    );
    client
        .update_stream_mode()
        .stream_arn(stream_arn("fixed"))
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::Provisioned)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let s = wait_active(&client, "fixed").await;
    assert_eq!(
        s.stream_mode_details().map(|m| m.stream_mode().clone()),
        Some(StreamMode::Provisioned)
    );
}

/// Operations without output members answer an empty body, which the SDK reads as their
/// (empty) output; resource policies round-trip, `{}` standing for none, as on AWS.
#[tokio::test]
async fn empty_answers_and_resource_policies() {
    let server = Server::start();
    let client = server.client();
    create_active(&client, "policed", 1).await;
    client
        .add_tags_to_stream()
        .stream_name("policed")
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    let arn = stream_arn("policed");
    let got = policy_of(&client, &arn).await;
    assert_eq!(got, "{}");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kinesis:GetRecords","Resource":"*"}]}"#;
    client
        .put_resource_policy()
        .resource_arn(&arn)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let got = policy_of(&client, &arn).await;
    assert_eq!(got, policy);
    let (err, status) = service_error(
        client
            .put_resource_policy()
            .resource_arn(&arn)
            .policy("not json")
            .send()
            .await,
    );
    assert_eq!(status, 400);
    assert!(err.is_invalid_argument_exception(), "{err:?}");
    client
        .delete_resource_policy()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let got = policy_of(&client, &arn).await;
    assert_eq!(got, "{}");
}

async fn policy_of(client: &aws_sdk_kinesis::Client, arn: &str) -> String {
    client
        .get_resource_policy()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .policy()
        .to_string()
}
