//! Property: random requests, to every operation of the model, never panic the wire layer or the
//! domain, and a request that is rejected (by validation or by the domain) changes no state.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::cell::Cell;
use std::sync::Arc;

use common::{ctx, runtime};
use proptest::prelude::*;
use rheo_api_kinesis::ops;
use rheo_api_kinesis::Operation;
use rheo_proto::{decode_request, Protocol};
use rheo_streams::clock::ManualClock;
use rheo_streams::types::*;
use rheo_streams::{Config, Streams};

const T0: i64 = 1_790_000_000_000;

async fn fixture() -> Streams {
    let config = Config {
        create_stream_ms: 0,
        delete_stream_ms: 0,
        update_stream_ms: 0,
        shard_limit: 20,
        // Off: hundreds of generated requests arrive with the clock standing still, past the
        // control-plane rates, and a throttled request would not be the rejection under test.
        throughput_limits: false,
        ..Config::default()
    };
    let streams = Streams::open_in_memory(config, Arc::new(ManualClock::new(T0))).unwrap();
    let ctx = ctx();
    for name in ["s", "t"] {
        streams
            .create_stream(&ctx, CreateStream::provisioned(name, 2))
            .await
            .unwrap();
    }
    let entries = (0..6)
        .map(|i| PutEntry {
            data: bytes::Bytes::from(vec![i as u8; 3]),
            partition_key: format!("k{i}"),
            explicit_hash_key: None,
        })
        .collect();
    streams
        .put_records(&ctx, &StreamTarget::name("s"), entries)
        .await
        .unwrap();
    streams
}

/// Everything observable: streams, their descriptions, tags and every record.
async fn snapshot(streams: &Streams) -> String {
    let ctx = ctx();
    let mut out = String::new();
    let list = streams
        .list_streams(&ctx, ListStreams::default())
        .await
        .unwrap();
    for name in list.names {
        let t = StreamTarget::name(name.clone());
        let d = streams.describe_stream(&ctx, &t, None, None).await.unwrap();
        out.push_str(&format!(
            "{name} {:?} {:?} {} {:?}\n",
            d.status, d.mode, d.retention_hours, d.shards
        ));
        let tags = streams.list_tags(&ctx, &t, None, None).await.unwrap();
        out.push_str(&format!("tags {:?}\n", tags.tags));
        for shard in d.shards {
            let it = streams
                .get_shard_iterator(
                    &ctx,
                    GetShardIterator::trim_horizon(t.clone(), shard.shard_id.clone()),
                )
                .await
                .unwrap();
            let r = streams.get_records(&ctx, &it, None, None).await.unwrap();
            out.push_str(&format!("{} {:?}\n", shard.shard_id, r.records));
        }
    }
    out
}

/// Values that are often meaningful somewhere, mixed with junk.
fn value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    let leaf = prop_oneof![
        Just(json!("s")),
        Just(json!("s")),
        Just(json!("s")),
        Just(json!("t")),
        Just(json!("nope")),
        Just(json!("shardId-000000000000")),
        Just(json!("shardId-000000000001")),
        Just(json!("shardId-999")),
        Just(json!("0")),
        Just(json!("340282366920938463463374607431768211455")),
        Just(json!("340282366920938463463374607431768211456")),
        Just(json!("TRIM_HORIZON")),
        Just(json!("AT_SEQUENCE_NUMBER")),
        Just(json!("ON_DEMAND")),
        Just(json!("UNIFORM_SCALING")),
        Just(json!("arn:aws:kinesis:us-east-1:000000000000:stream/s")),
        Just(json!("arn:aws:kinesis:us-east-1:000000000000:stream/nope")),
        Just(json!("aGk=")),
        Just(json!("!!")),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(3)),
        Just(json!(24)),
        Just(json!(100000)),
        Just(json!(1.5)),
        Just(json!(true)),
        Just(json!(null)),
        Just(json!({"k": "v"})),
        Just(json!({"Type": "AT_LATEST"})),
        Just(json!({"StreamMode": "PROVISIONED"})),
        Just(json!([{"Data": "aGk=", "PartitionKey": "p"}])),
        Just(json!([{"Data": "aGk=", "PartitionKey": "p", "ExplicitHashKey": "-1"}])),
        Just(json!(["k"])),
        Just(json!([])),
        "\\PC{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[A-Z][a-zA-Z]{0,12}", inner, 0..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value of the model's shape `name`, drawn from pools of meaningful values, so that most
/// requests pass validation and reach the domain; now and then a junk value of any type.
fn shaped(name: &str, depth: u32) -> BoxedStrategy<serde_json::Value> {
    use rheo_proto::ShapeKind;
    use serde_json::json;
    let model = rheo_api_kinesis::model();
    let Some(shape) = model.shape(name) else {
        return value().boxed();
    };
    let typed: BoxedStrategy<serde_json::Value> = match &shape.kind {
        ShapeKind::String => {
            let mut pool: Vec<serde_json::Value> = [
                "s", "s", "t", "nope", "shardId-000000000000", "shardId-000000000001", "shardId-7",
                "0", "1", "340282366920938463463374607431768211455",
                "340282366920938463463374607431768211456",
                "arn:aws:kinesis:us-east-1:000000000000:stream/s",
                "arn:aws:kinesis:us-east-1:000000000000:stream/nope", "k", "bad<",
            ]
            .into_iter()
            .map(serde_json::Value::from)
            .collect();
            for v in shape.enum_values.iter().flatten() {
                pool.push(json!(v));
                pool.push(json!(v));
            }
            prop_oneof![
                4 => proptest::sample::select(pool),
                1 => "\\PC{0,12}".prop_map(serde_json::Value::from),
            ]
            .boxed()
        }
        ShapeKind::Integer | ShapeKind::Long => prop_oneof![
            4 => proptest::sample::select(vec![-1i64, 0, 1, 2, 3, 4, 24, 25, 48, 8760, 8761, 10_000, 100_000]),
            1 => any::<i32>().prop_map(i64::from),
        ]
        .prop_map(serde_json::Value::from)
        .boxed(),
        ShapeKind::Double => any::<f64>().prop_map(|f| json!(f)).boxed(),
        ShapeKind::Boolean => any::<bool>().prop_map(serde_json::Value::from).boxed(),
        ShapeKind::Blob => proptest::sample::select(vec!["aGk=", "", "AAAA", "////"])
            .prop_map(serde_json::Value::from)
            .boxed(),
        ShapeKind::Timestamp => proptest::sample::select(vec![
            (T0 / 1000) as f64 - 1.0,
            (T0 / 1000) as f64,
            (T0 / 1000) as f64 + 3600.0,
            0.0,
        ])
        .prop_map(|f| json!(f))
        .boxed(),
        ShapeKind::List { member } if depth < 3 => {
            proptest::collection::vec(shaped(member, depth + 1), 0..4)
                .prop_map(serde_json::Value::from)
                .boxed()
        }
        ShapeKind::Map { key, value } if depth < 3 => {
            proptest::collection::vec((shaped(key, depth + 1), shaped(value, depth + 1)), 0..4)
                .prop_map(|pairs| {
                    let map = pairs
                        .into_iter()
                        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
                        .collect();
                    serde_json::Value::Object(map)
                })
                .boxed()
        }
        ShapeKind::Structure { members } if depth < 3 => {
            let fields: Vec<BoxedStrategy<Option<(String, serde_json::Value)>>> = members
                .iter()
                .map(|m| {
                    let n = m.name.clone();
                    proptest::option::weighted(
                        if m.required { 0.95 } else { 0.5 },
                        shaped(&m.shape, depth + 1),
                    )
                    .prop_map(move |v| v.map(|v| (n.clone(), v)))
                    .boxed()
                })
                .collect();
            fields
                .prop_map(|fs| serde_json::Value::Object(fs.into_iter().flatten().collect()))
                .boxed()
        }
        _ => Just(json!(null)).boxed(),
    };
    prop_oneof![19 => typed, 1 => value()].boxed()
}

fn request() -> impl Strategy<Value = (String, Vec<u8>)> {
    let model = rheo_api_kinesis::model();
    // Only operations that run: the others answer before the domain (tests/operations.rs), and
    // the model's many unimplemented shapes would starve the domain of requests.
    let ops: Vec<(String, Option<String>)> = model
        .operations()
        .filter(|o| {
            Operation::from_name(&o.name)
                .is_some_and(|id| ops::state(id) == ops::OperationState::Implemented)
        })
        .map(|o| (o.name.clone(), o.input.clone()))
        .collect();
    (
        proptest::sample::select(ops),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_flat_map(|((op, input), mode, junk)| {
            let body: BoxedStrategy<Vec<u8>> = match input {
                // One request in sixteen is raw bytes, to exercise the parsers too.
                _ if mode % 16 == 0 => Just(junk).boxed(),
                Some(shape) => shaped(&shape, 0)
                    .prop_map(|v| serde_json::to_vec(&v).unwrap())
                    .boxed(),
                None => Just(b"{}".to_vec()).boxed(),
            };
            (Just(op), body)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn rejected_requests_change_nothing(reqs in proptest::collection::vec(request(), 1..8)) {
        let rt = runtime();
        rt.block_on(async {
            let streams = fixture().await;
            let model = rheo_api_kinesis::model();
            for (op_name, body) in reqs {
                let op = model.operation(&op_name).unwrap();
                let Ok(input) = decode_request(model, op, Protocol::Json, &body) else {
                    continue;
                };
                let before = snapshot(&streams).await;
                let id = Operation::from_name(&op_name).unwrap();
                let result = ops::dispatch(&streams, &ctx(), id, &input).await;
                if let Err(e) = result {
                    let (ty, status, _) = e.parts().unwrap();
                    prop_assert!(status == 400, "{op_name} gave {ty} {status}: {e:?}");
                    let after = snapshot(&streams).await;
                    prop_assert_eq!(before, after, "{} rejected with {} but changed state", op_name, ty);
                }
            }
            Ok(())
        })?;
    }
}

#[test]
fn the_generator_reaches_the_domain() {
    // Run the property on its own runner so the counters are ours to read: local to this test,
    // not shared with the property running beside it (whose share made the totals depend on
    // scheduling), with enough cases that the thresholds hold by a wide margin (about 0.25
    // domain rejections and 0.25 acceptances a case).
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 800,
        ..ProptestConfig::default()
    });
    let (rejections, accepted) = (Cell::new(0usize), Cell::new(0usize));
    let rt = runtime();
    runner
        .run(&proptest::collection::vec(request(), 1..8), |reqs| {
            rt.block_on(async {
                let streams = fixture().await;
                let model = rheo_api_kinesis::model();
                for (op_name, body) in reqs {
                    let op = model.operation(&op_name).unwrap();
                    if let Ok(input) = decode_request(model, op, Protocol::Json, &body) {
                        let id = Operation::from_name(&op_name).unwrap();
                        match ops::dispatch(&streams, &ctx(), id, &input).await {
                            Ok(_) => accepted.set(accepted.get() + 1),
                            Err(_) => rejections.set(rejections.get() + 1),
                        }
                    }
                }
            });
            Ok(())
        })
        .unwrap();
    let (rejected, accepted) = (rejections.get(), accepted.get());
    eprintln!("domain rejections {rejected}, accepted {accepted}");
    assert!(
        rejected >= 100,
        "only {rejected} requests reached a domain rejection"
    );
    assert!(accepted >= 5, "only {accepted} requests were accepted");
}
