//! SubscribeToShard through the Rust SDK's own event-stream decoder, over HTTP/1.1 and over
//! HTTP/2 (h2c): the initial response, then every record in order, pushed while the
//! subscription is open.

use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEventStream,
};
use aws_sdk_kinesis::Client;

use crate::harness::{stream_arn, Server};
use crate::util::*;

async fn active_consumer(client: &Client, stream: &str) -> String {
    let arn = stream_arn(stream);
    let c = client
        .register_stream_consumer()
        .stream_arn(&arn)
        .consumer_name("sdk")
        .send()
        .await
        .unwrap();
    let consumer_arn = c.consumer().unwrap().consumer_arn().to_string();
    for _ in 0..200 {
        let d = client
            .describe_stream_consumer()
            .consumer_arn(&consumer_arn)
            .send()
            .await
            .unwrap();
        if d.consumer_description().unwrap().consumer_status() == &ConsumerStatus::Active {
            return consumer_arn;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("consumer never became ACTIVE");
}

/// Subscribes from TRIM_HORIZON, writes `n` records once subscribed, and reads until all came.
async fn subscribe_and_receive(client: &Client, stream: &str, n: usize) -> Vec<Vec<u8>> {
    create_active(client, stream, 1).await;
    let consumer = active_consumer(client, stream).await;
    let mut out = client
        .subscribe_to_shard()
        .consumer_arn(&consumer)
        .shard_id(shard_id(0))
        .starting_position(
            StartingPosition::builder()
                .r#type(ShardIteratorType::TrimHorizon)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for i in 0..n {
        client
            .put_record()
            .stream_name(stream)
            .partition_key(format!("k{i}"))
            .data(Blob::new(format!("r{i:03}").into_bytes()))
            .send()
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < n {
        let event = tokio::time::timeout_at(deadline, out.event_stream.recv())
            .await
            .expect("records did not arrive in time")
            .unwrap()
            .expect("the stream ended early");
        if let SubscribeToShardEventStream::SubscribeToShardEvent(e) = event {
            assert!(!e.continuation_sequence_number().is_empty());
            got.extend(e.records().iter().map(|r| r.data().as_ref().to_vec()));
        }
    }
    got
}

fn want(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("r{i:03}").into_bytes()).collect()
}

#[tokio::test]
async fn subscribe_over_http1() {
    let server = Server::start();
    let client = server.client();
    assert_eq!(subscribe_and_receive(&client, "sub-h1", 20).await, want(20));
}

#[tokio::test]
async fn subscribe_over_h2c() {
    let server = Server::start();
    let (client, h2_answers) = crate::h2::h2c_client(&server);
    assert_eq!(subscribe_and_receive(&client, "sub-h2", 20).await, want(20));
    assert!(h2_answers.load(Ordering::SeqCst) >= 20);
}
