//! Injected faults in the pipeline: an injected error or a partially failed PutRecords writes
//! nothing of what it fails, on the fast path and the generic one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{ctx, runtime};
use rheo_api_kinesis::faults::{FaultRule, Faults};
use rheo_api_kinesis::ops::{self, Failure};
use rheo_api_kinesis::Operation;
use rheo_http::middleware::Chain;
use rheo_http::RequestContext;
use rheo_proto::Protocol;
use rheo_streams::clock::ManualClock;
use rheo_streams::types::{CreateStream, Ctx};
use rheo_streams::{Config, Streams};

fn streams() -> Streams {
    Streams::open_in_memory(
        Config {
            create_stream_ms: 0,
            ..Config::default()
        },
        Arc::new(ManualClock::new(1_700_000_000_000)),
    )
    .unwrap()
}

async fn data_read(streams: &Streams, ctx: &Ctx, stream: &str) -> Vec<String> {
    let body = format!(
        r#"{{"StreamName":"{stream}","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}}"#
    );
    let it = ops::execute(
        streams,
        ctx,
        Operation::GetShardIterator,
        Protocol::Json,
        body.as_bytes(),
    )
    .await
    .unwrap();
    let it: serde_json::Value = serde_json::from_slice(&it).unwrap();
    let body = serde_json::json!({ "ShardIterator": it["ShardIterator"] }).to_string();
    let got = ops::execute(
        streams,
        ctx,
        Operation::GetRecords,
        Protocol::Json,
        body.as_bytes(),
    )
    .await
    .unwrap();
    let got: serde_json::Value = serde_json::from_slice(&got).unwrap();
    got["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Data"].as_str().unwrap().to_string())
        .collect()
}

fn put_body(name_member: &str, name: &str) -> String {
    // "r0".."r3" base64: cjA= cjE= cjI= cjM=
    format!(
        r#"{{"{name_member}":"{name}","Records":[{{"Data":"cjA=","PartitionKey":"k"}},{{"Data":"cjE=","PartitionKey":"k"}},{{"Data":"cjI=","PartitionKey":"k"}},{{"Data":"cjM=","PartitionKey":"k"}}]}}"#
    )
}

/// One rule's test rig: an in-memory domain, the pipeline's pieces and the rule.
struct Rig {
    streams: Streams,
    ctx: Ctx,
    rc: RequestContext,
    faults: Faults,
    chain: Chain,
}

impl Rig {
    fn new(rule: FaultRule) -> Self {
        let streams = streams();
        let rc = RequestContext::new(streams.default_account(), None);
        Rig {
            streams,
            ctx: ctx(),
            rc,
            faults: Faults::new(vec![rule]).unwrap(),
            chain: Chain::new(),
        }
    }

    /// Creates provisioned streams and lets them become ACTIVE.
    async fn create(&self, streams: &[(&str, u32)]) {
        for &(name, shards) in streams {
            self.streams
                .create_stream(&self.ctx, CreateStream::provisioned(name, shards))
                .await
                .unwrap();
        }
        self.streams.tick().await;
    }

    async fn handle(&self, op: Operation, body: &[u8]) -> Result<Vec<u8>, Failure> {
        ops::handle(
            &self.streams,
            &self.chain,
            &self.faults,
            &self.rc,
            &self.ctx,
            op,
            Protocol::Json,
            body,
        )
        .await
    }

    async fn data_read(&self, stream: &str) -> Vec<String> {
        data_read(&self.streams, &self.ctx, stream).await
    }
}

#[test]
fn partial_put_records_fails_and_skips_the_chosen_records_on_both_paths() {
    let rig = Rig::new(FaultRule {
        operation: "PutRecords".into(),
        partial_fraction: Some(0.5),
        ..FaultRule::default()
    });
    runtime().block_on(async {
        rig.create(&[("fast", 1), ("generic", 1)]).await;
        let arn = format!(
            "arn:aws:kinesis:{}:{}:stream/generic",
            rig.ctx.region, rig.ctx.account
        );
        // A StreamARN makes the fast path decline: the generic path runs.
        for (stream, body) in [
            ("fast", put_body("StreamName", "fast")),
            ("generic", put_body("StreamARN", &arn)),
        ] {
            let answer = rig
                .handle(Operation::PutRecords, body.as_bytes())
                .await
                .unwrap();
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            assert_eq!(answer["FailedRecordCount"], 2, "{stream}: {answer}");
            let records = answer["Records"].as_array().unwrap();
            assert_eq!(records.len(), 4);
            for (i, r) in records.iter().enumerate() {
                if i % 2 == 1 {
                    assert_eq!(r["ErrorCode"], "ProvisionedThroughputExceededException");
                    assert!(r["ErrorMessage"].as_str().unwrap().contains(stream));
                    assert!(r.get("SequenceNumber").is_none());
                } else {
                    assert!(r["SequenceNumber"].is_string(), "{stream}: {r}");
                }
            }
            assert_eq!(
                rig.data_read(stream).await,
                ["cjA=", "cjI="],
                "{stream}: only the records answered OK were written"
            );
        }
    });
}

#[test]
fn an_injected_error_writes_nothing_and_stops_after_count() {
    let rig = Rig::new(FaultRule {
        operation: "PutRecord".into(),
        stream: Some("s".into()),
        error: Some("ProvisionedThroughputExceededException".into()),
        count: Some(1),
        ..FaultRule::default()
    });
    runtime().block_on(async {
        rig.create(&[("s", 1)]).await;
        let body = br#"{"StreamName":"s","Data":"cjA=","PartitionKey":"k"}"#;
        match rig.handle(Operation::PutRecord, body).await {
            Err(f @ Failure::Refused(_)) => {
                let (ty, status, _) = f.parts().unwrap();
                assert_eq!(
                    (ty, status),
                    ("ProvisionedThroughputExceededException", 400)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(rig.data_read("s").await.is_empty());
        rig.handle(Operation::PutRecord, body).await.unwrap();
        assert_eq!(rig.data_read("s").await, ["cjA="]);
    });
}

#[test]
fn a_partial_rule_for_a_shard_fails_only_the_records_bound_for_it() {
    let rig = Rig::new(FaultRule {
        operation: "PutRecords".into(),
        shard_id: Some("shardId-000000000001".into()),
        partial_fraction: Some(1.0),
        ..FaultRule::default()
    });
    runtime().block_on(async {
        rig.create(&[("two", 2)]).await;
        let high = u128::MAX.to_string();
        let body = format!(
            r#"{{"StreamName":"two","Records":[{{"Data":"cjA=","PartitionKey":"k","ExplicitHashKey":"0"}},{{"Data":"cjE=","PartitionKey":"k","ExplicitHashKey":"{high}"}},{{"Data":"cjI=","PartitionKey":"k","ExplicitHashKey":"1"}}]}}"#
        );
        let answer = rig
            .handle(Operation::PutRecords, body.as_bytes())
            .await
            .unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["FailedRecordCount"], 1, "{answer}");
        let records = answer["Records"].as_array().unwrap();
        assert_eq!(records[0]["ShardId"], "shardId-000000000000");
        assert_eq!(records[1]["ErrorCode"], "ProvisionedThroughputExceededException");
        assert_eq!(records[2]["ShardId"], "shardId-000000000000");
        assert_eq!(rig.data_read("two").await, ["cjA=", "cjI="]);

        // A missing stream is refused as the write would refuse it, even if every record
        // would have failed.
        let missing = br#"{"StreamName":"nope","Records":[{"Data":"cjA=","PartitionKey":"k"}]}"#;
        match rig.handle(Operation::PutRecords, missing).await {
            Err(f @ Failure::Domain(_)) => {
                assert_eq!(f.parts().unwrap().0, "ResourceNotFoundException")
            }
            other => panic!("{other:?}"),
        }
    });
}
