//! The request pipeline in stages: decode (fast path or generic) into a value that names its
//! action and resources; the middleware chain sees them and may refuse; run; encode.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::{ctx, runtime};
use rheo_api_kinesis::ops::{self, Decoded, Failure};
use rheo_api_kinesis::Operation;
use rheo_http::middleware::{Chain, Middleware, Refusal, Request, Resource};
use rheo_http::RequestContext;
use rheo_proto::Protocol;
use rheo_streams::clock::ManualClock;
use rheo_streams::types::CreateStream;
use rheo_streams::{Config, Streams};

fn empty_resources() -> [Resource<'static>; 2] {
    [Resource {
        service: "",
        kind: "",
        name: None,
        arn: None,
    }; 2]
}

#[test]
fn decoded_requests_name_their_resources() {
    let body = br#"{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"}]}"#;
    let decoded = ops::decode(Operation::PutRecords, Protocol::Json, body).unwrap();
    assert!(
        matches!(decoded, Decoded::PutRecords(_)),
        "the fast path decodes it"
    );
    let mut out = empty_resources();
    assert_eq!(decoded.resources(&mut out), 1);
    assert_eq!((out[0].kind, out[0].name), ("stream", Some("s")));

    let body = br#"{"ResourceARN":"arn:aws:kinesis:us-east-1:000000000000:stream/t"}"#;
    let decoded = ops::decode(Operation::ListTagsForResource, Protocol::Json, body).unwrap();
    let mut out = empty_resources();
    assert_eq!(decoded.resources(&mut out), 1);
    assert_eq!(
        out[0].arn,
        Some("arn:aws:kinesis:us-east-1:000000000000:stream/t")
    );

    let decoded = ops::decode(Operation::ListStreams, Protocol::Json, b"{}").unwrap();
    assert_eq!(decoded.resources(&mut empty_resources()), 0);
}

/// Refuses any request that touches stream `locked`, and records what it saw.
struct Lock(Arc<Mutex<Vec<String>>>);

impl Middleware for Lock {
    fn before(&self, request: &Request<'_>) -> Result<(), Refusal> {
        for r in request.resources {
            let arn = r.arn(request.context).unwrap().into_owned();
            self.0
                .lock()
                .unwrap()
                .push(format!("{} {arn}", request.action));
            if arn.ends_with(":stream/locked") {
                return Err(Refusal {
                    error_type: "AccessDeniedException",
                    status: 400,
                    message: "locked".into(),
                });
            }
        }
        Ok(())
    }
}

#[test]
fn the_chain_sees_action_and_arns_and_a_refusal_stops_the_request() {
    let rt = runtime();
    let streams = Streams::open_in_memory(
        Config {
            create_stream_ms: 0,
            ..Config::default()
        },
        Arc::new(ManualClock::new(1_700_000_000_000)),
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let chain = Chain::new().with(Lock(seen.clone()));
    let mut rc = RequestContext::new(streams.default_account(), None);
    rc.region = "us-east-1".into();
    let ctx = ctx();
    rt.block_on(async {
        for name in ["locked", "open"] {
            streams
                .create_stream(
                    &ctx,
                    CreateStream::provisioned(name, 1),
                )
                .await
                .unwrap();
        }
        streams.tick().await;
        let put = |name: &str| {
            format!(r#"{{"StreamName":"{name}","Records":[{{"Data":"aGk=","PartitionKey":"k"}}]}}"#)
        };
        let refused = ops::handle(
            &streams,
            &chain,
            &rheo_api_kinesis::faults::Faults::default(),
            &rc,
            &ctx,
            Operation::PutRecords,
            Protocol::Json,
            put("locked").as_bytes(),
        )
        .await;
        match refused {
            Err(f @ Failure::Refused(_)) => {
                assert_eq!(
                    f.parts().unwrap(),
                    ("AccessDeniedException", 400, "locked".to_string())
                )
            }
            other => panic!("{other:?}"),
        }
        let answer = ops::handle(
            &streams,
            &chain,
            &rheo_api_kinesis::faults::Faults::default(),
            &rc,
            &ctx,
            Operation::PutRecords,
            Protocol::Json,
            put("open").as_bytes(),
        )
        .await
        .unwrap();
        assert!(String::from_utf8(answer).unwrap().contains("\"FailedRecordCount\":0"));
        // Nothing was written to the locked stream.
        let it = ops::execute(
            &streams,
            &ctx,
            Operation::GetShardIterator,
            Protocol::Json,
            br#"{"StreamName":"locked","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#,
        )
        .await
        .unwrap();
        let it: serde_json::Value = serde_json::from_slice(&it).unwrap();
        let body = serde_json::json!({ "ShardIterator": it["ShardIterator"] }).to_string();
        let got = ops::execute(&streams, &ctx, Operation::GetRecords, Protocol::Json, body.as_bytes())
            .await
            .unwrap();
        let got: serde_json::Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(got["Records"].as_array().unwrap().len(), 0);
        // A GetRecords names its stream only inside the iterator: the chain still sees it.
        let refused = ops::handle(
            &streams,
            &chain,
            &rheo_api_kinesis::faults::Faults::default(),
            &rc,
            &ctx,
            Operation::GetRecords,
            Protocol::Json,
            body.as_bytes(),
        )
        .await;
        assert!(matches!(refused, Err(Failure::Refused(_))), "{refused:?}");
    });
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "kinesis:PutRecords arn:aws:kinesis:us-east-1:000000000000:stream/locked",
            "kinesis:PutRecords arn:aws:kinesis:us-east-1:000000000000:stream/open",
            "kinesis:GetRecords arn:aws:kinesis:us-east-1:000000000000:stream/locked",
        ]
    );
}
