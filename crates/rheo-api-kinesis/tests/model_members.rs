//! Members of the current model that change what a request means: `DryRun` runs nothing, and
//! `PartitionKey`, no longer required by the model, is still required of every record here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{ctx, runtime};
use rheo_api_kinesis::ops::{self, Failure};
use rheo_api_kinesis::Operation;
use rheo_proto::{Protocol, WireError};
use rheo_streams::clock::ManualClock;
use rheo_streams::types::{CreateStream, StreamTarget};
use rheo_streams::{Config, Streams};

fn streams_with(name: &str) -> (tokio::runtime::Runtime, Streams, ManualClock) {
    let rt = runtime();
    let clock = ManualClock::new(1_700_000_000_000);
    let streams = Streams::open_in_memory(
        Config {
            create_stream_ms: 0,
            ..Config::default()
        },
        Arc::new(clock.clone()),
    )
    .unwrap();
    rt.block_on(streams.create_stream(&ctx(), CreateStream::provisioned(name, 1)))
        .unwrap();
    clock.advance_ms(1);
    (rt, streams, clock)
}

fn run(
    rt: &tokio::runtime::Runtime,
    s: &Streams,
    op: Operation,
    body: &str,
) -> Result<Vec<u8>, Failure> {
    rt.block_on(ops::execute(s, &ctx(), op, Protocol::Json, body.as_bytes()))
}

fn record_count(rt: &tokio::runtime::Runtime, s: &Streams, name: &str) -> u64 {
    let d = rt
        .block_on(s.describe_stream(&ctx(), &StreamTarget::name(name), None, None))
        .unwrap();
    let it = run(
        rt,
        s,
        Operation::GetShardIterator,
        &format!(
            r#"{{"StreamName":"{name}","ShardId":"{}","ShardIteratorType":"TRIM_HORIZON"}}"#,
            d.shards[0].shard_id
        ),
    )
    .unwrap();
    let it: serde_json::Value = serde_json::from_slice(&it).unwrap();
    let got = run(
        rt,
        s,
        Operation::GetRecords,
        &format!(
            r#"{{"ShardIterator":"{}"}}"#,
            it["ShardIterator"].as_str().unwrap()
        ),
    )
    .unwrap();
    let got: serde_json::Value = serde_json::from_slice(&got).unwrap();
    got["Records"].as_array().unwrap().len() as u64
}

#[test]
fn dry_runs_write_and_read_nothing() {
    let (rt, s, _clock) = streams_with("d");
    for (op, body) in [
        (
            Operation::PutRecord,
            r#"{"StreamName":"d","Data":"aGk=","PartitionKey":"k","DryRun":true}"#,
        ),
        (
            Operation::PutRecords,
            r#"{"StreamName":"d","Records":[{"Data":"aGk=","PartitionKey":"k"}],"DryRun":true}"#,
        ),
        (
            Operation::GetShardIterator,
            r#"{"StreamName":"d","ShardId":"shardId-000000000000","ShardIteratorType":"LATEST","DryRun":true}"#,
        ),
    ] {
        match run(&rt, &s, op, body) {
            Err(failure @ Failure::DryRun) => {
                let (ty, status, message) = failure.parts().unwrap();
                assert_eq!((ty, status), ("DryRunOperationException", 400), "{op:?}");
                assert!(message.contains("DryRun"), "{message}");
            }
            other => panic!("{op:?}: {other:?}"),
        }
    }
    assert_eq!(record_count(&rt, &s, "d"), 0);
    // DryRun false is an ordinary request.
    run(
        &rt,
        &s,
        Operation::PutRecord,
        r#"{"StreamName":"d","Data":"aGk=","PartitionKey":"k","DryRun":false}"#,
    )
    .unwrap();
    assert_eq!(record_count(&rt, &s, "d"), 1);
    // An invalid dry run is refused for what is wrong with it.
    let answer = run(
        &rt,
        &s,
        Operation::PutRecord,
        r#"{"StreamName":"d","Data":"aGk=","PartitionKey":"","DryRun":true}"#,
    );
    assert!(
        matches!(answer, Err(Failure::Wire(WireError::Validation(_)))),
        "{answer:?}"
    );
}

#[test]
fn partition_keys_are_still_required() {
    let (rt, s, _clock) = streams_with("p");
    let validation = |op, body: &str| match run(&rt, &s, op, body) {
        Err(Failure::Wire(WireError::Validation(m))) => m,
        other => panic!("{body}: {other:?}"),
    };
    assert_eq!(
        validation(Operation::PutRecord, r#"{"StreamName":"p","Data":"aGk="}"#),
        "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: \
         Member must not be null"
    );
    assert_eq!(
        validation(
            Operation::PutRecords,
            r#"{"StreamName":"p","Records":[{"Data":"aGk=","PartitionKey":"k"},{"Data":"aGk="},{"Data":""}]}"#
        ),
        "2 validation errors detected: Value null at 'records.2.member.partitionKey' failed to \
         satisfy constraint: Member must not be null; Value null at 'records.3.member.partitionKey' \
         failed to satisfy constraint: Member must not be null"
    );
    // The model's own checks come first.
    assert!(validation(Operation::PutRecord, r#"{"StreamName":"p"}"#).contains("'data'"));
    assert_eq!(record_count(&rt, &s, "p"), 0);
}
