//! Property: the PutRecords fast path and the generic path agree. Whenever the fast path accepts
//! a body, the generic decoder accepts it too with the same members, and running each on its own
//! fresh server gives byte-identical answers (or the same domain error). Plain bodies must be
//! taken by the fast path, so the property cannot pass by the fast path declining everything.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use base64::Engine as _;
use common::{ctx, runtime};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rheo_api_kinesis::fast::PutRecordsRequest;
use rheo_api_kinesis::Operation;
use rheo_api_kinesis::{fast, ops};
use rheo_proto::{decode_request, encode_error, encode_response, Protocol};
use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::{Config, Streams};

async fn fixture() -> Streams {
    let config = Config {
        create_stream_ms: 0,
        // Off: the property cases put and read in bulk with the clock standing still.
        throughput_limits: false,
        ..Config::default()
    };
    let streams =
        Streams::open_in_memory(config, Arc::new(ManualClock::new(1_790_000_000_000))).unwrap();
    streams
        .create_stream(
            &ctx(),
            CreateStream {
                name: "s".into(),
                shard_count: Some(3),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    streams
}

/// One record as JSON text, `plain` when nothing about it is unusual.
fn record() -> impl Strategy<Value = (String, bool)> {
    let data = prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| (base64::engine::general_purpose::STANDARD.encode(b), true)),
        1 => prop::sample::select(vec!["aGk", "a=Gk", "!!!!", "aGk=aGk=", "aGl=", "aB==", "aGk==", "a===", "===="])
            .prop_map(|s| (s.to_string(), false)),
    ];
    let key = prop_oneof![
        6 => "[a-z0-9]{1,12}".prop_map(|k| (k, true)),
        1 => prop::sample::select(vec!["", "\\u0041", "é", "a\\\"b"]).prop_map(|k| (k.to_string(), false)),
        1 => Just(("k".repeat(257), false)),
        1 => Just(("é".repeat(129), false)),
    ];
    let hash = prop_oneof![
        6 => Just((None, true)),
        1 => prop::sample::select(vec![
            "0", "12", "01", "340282366920938463463374607431768211455",
            "340282366920938463463374607431768211456", "x",
        ])
        .prop_map(|h| (Some(format!("\"{h}\"")), false)),
        1 => Just((Some("null".to_string()), false)),
    ];
    let extra = prop_oneof![8 => Just(None), 1 => Just(Some(r#""Other":1"#.to_string()))];
    (data, key, hash, extra).prop_map(|((d, dp), (k, kp), (h, hp), x)| {
        let mut members = vec![
            format!(r#""Data":"{d}""#),
            format!(r#""PartitionKey":"{k}""#),
        ];
        if let Some(h) = h {
            members.push(format!(r#""ExplicitHashKey":{h}"#));
        }
        let plain = dp && kp && hp && x.is_none();
        members.extend(x);
        (format!("{{{}}}", members.join(",")), plain)
    })
}

/// Half the bodies are plain throughout, half may be unusual anywhere.
fn body() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![plain_body().boxed(), any_body().boxed()]
}

fn plain_body() -> impl Strategy<Value = (String, bool)> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any::<u8>(), 0..40),
            "[a-z0-9]{1,12}",
        ),
        1..6,
    )
    .prop_map(|recs| {
        let list: Vec<String> = recs
            .into_iter()
            .map(|(d, k)| {
                let d = base64::engine::general_purpose::STANDARD.encode(d);
                format!(r#"{{"Data":"{d}","PartitionKey":"{k}"}}"#)
            })
            .collect();
        (
            format!(r#"{{"StreamName":"s","Records":[{}]}}"#, list.join(",")),
            true,
        )
    })
}

fn any_body() -> impl Strategy<Value = (String, bool)> {
    let name = prop_oneof![
        8 => Just(("\"s\"".to_string(), true)),
        1 => prop::sample::select(vec!["\"missing\"", "\"\"", "\"a b\"", "null", "1"])
            .prop_map(|n| (n.to_string(), false)),
    ];
    (name, proptest::collection::vec(record(), 0..6)).prop_map(|((n, np), recs)| {
        let plain = np && !recs.is_empty() && recs.iter().all(|r| r.1);
        let list: Vec<String> = recs.into_iter().map(|r| r.0).collect();
        (
            format!(r#"{{"StreamName":{n},"Records":[{}]}}"#, list.join(",")),
            plain,
        )
    })
}

/// The generic path's full answer: (status class, bytes).
async fn generic(streams: &Streams, body: &[u8]) -> Result<Vec<u8>, Vec<u8>> {
    let model = rheo_api_kinesis::model();
    let op = model.operation("PutRecords").unwrap();
    let input = match decode_request(model, op, Protocol::Json, body) {
        Ok(i) => i,
        Err(e) => return Err(e.to_response(Some(Protocol::Json)).2),
    };
    match ops::dispatch(streams, &ctx(), Operation::PutRecords, &input).await {
        Ok(out) => Ok(encode_response(Protocol::Json, &out)),
        Err(ops::Failure::Domain(e)) => Err(encode_error(
            Protocol::Json,
            ops::error_parts(&e).0,
            &e.to_string(),
        )),
        Err(other) => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn fast_and_generic_paths_agree((text, plain) in body()) {
        let rt = runtime();
        let bytes = text.as_bytes();
        let Some(req) = PutRecordsRequest::parse(bytes) else {
            prop_assert!(!plain, "the fast path declined a plain body: {}", text);
            return Ok(());
        };
        // Member by member first (the fuzz target's check), then whole answers.
        let model = rheo_api_kinesis::model();
        let input = decode_request(model, model.operation("PutRecords").unwrap(), Protocol::Json, bytes);
        prop_assert!(input.is_ok(), "the generic path rejected {}: {:?}", text, input);
        rheo_api_kinesis::fuzzing::assert_same_put_records(&req, &input.unwrap());
        let (g, f) = rt.block_on(async {
            let a = fixture().await;
            let b = fixture().await;
            let g = generic(&a, bytes).await;
            let f = fast::put_records(&b, &ctx(), &req).await.map_err(|e| {
                encode_error(Protocol::Json, ops::error_parts(&e).0, &e.to_string())
            });
            (g, f)
        });
        prop_assert_eq!(
            g.as_ref().map(|b| String::from_utf8_lossy(b).to_string()),
            f.as_ref().map(|b| String::from_utf8_lossy(b).to_string()),
            "body {}", text
        );
    }
}

#[test]
fn the_property_exercises_the_fast_path() {
    let mut runner = proptest::test_runner::TestRunner::default();
    let mut taken = 0;
    for _ in 0..200 {
        let (text, _) = body().new_tree(&mut runner).unwrap().current();
        if PutRecordsRequest::parse(text.as_bytes()).is_some() {
            taken += 1;
        }
    }
    assert!(
        taken > 80,
        "only {taken} of 200 generated bodies took the fast path"
    );
}
