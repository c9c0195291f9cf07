//! awsQuery and JSON 1.0 against what botocore sends (`tests/fixtures/requests.json`, made by
//! `tests/fixtures/gen.py`) and answers botocore must parse (`tests/fixtures/responses/`,
//! checked by `tests/proto/test_botocore_parse.py`).

use std::path::PathBuf;

use super::*;
use crate::test_model::{dynamodb, monitoring};

fn fixtures() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/fixtures/requests.json")).unwrap()
}

fn cases(service: &str) -> Vec<serde_json::Value> {
    fixtures()[service].as_array().unwrap().clone()
}

fn field<'a>(case: &'a serde_json::Value, key: &str) -> &'a str {
    case[key].as_str().unwrap()
}

#[test]
fn new_models_load_with_their_protocol_metadata() {
    let cw = monitoring();
    assert_eq!(
        cw.xml_namespace,
        "http://monitoring.amazonaws.com/doc/2010-08-01/"
    );
    assert!(cw.speaks("query") && cw.aws_query_compatible);
    assert_eq!(
        cw.result_wrapper("GetMetricData"),
        Some("GetMetricDataResult")
    );
    assert_eq!(cw.result_wrapper("PutMetricData"), None);
    let rnf = cw.shape("ResourceNotFound").unwrap();
    assert_eq!(rnf.error_code.as_deref(), Some("ResourceNotFound"));
    assert_eq!((rnf.error_status, rnf.sender_fault), (Some(404), true));
    let ddb = dynamodb();
    assert_eq!(
        (ddb.json_version.as_str(), ddb.protocol.as_str()),
        ("1.0", "json")
    );
    assert_eq!(ddb.target_prefix, "DynamoDB_20120810");
    for op in [
        "CreateTable",
        "DescribeTable",
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Scan",
        "ListTables",
        "DeleteTable",
    ] {
        assert!(ddb.operation(op).is_some(), "{op}");
    }
}

#[test]
fn botocore_query_bodies_decode_like_their_json_twins() {
    let cw = monitoring();
    let cases = cases("cloudwatch");
    assert!(cases.len() >= 5);
    for case in cases {
        let (op, from_query) = decode(cw, field(&case, "body").as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", field(&case, "name")));
        assert_eq!(op.name, field(&case, "operation"));
        let from_json = crate::decode_request(
            cw,
            op,
            crate::Protocol::Json,
            field(&case, "json_body").as_bytes(),
        )
        .unwrap();
        assert_eq!(from_query, from_json, "{}", field(&case, "name"));
    }
}

#[test]
fn put_metric_data_decodes_into_the_expected_tree() {
    let cw = monitoring();
    let case = cases("cloudwatch")
        .into_iter()
        .find(|c| c["name"] == "put_metric_data")
        .unwrap();
    let (_, node) = decode(cw, field(&case, "body").as_bytes()).unwrap();
    let dim = |n: &str, v: &str| Node::map().with("Name", n).with("Value", v);
    let first = Node::map()
        .with("MetricName", "RecordsProcessed")
        .with(
            "Dimensions",
            vec![
                dim("Operation", "ProcessTask"),
                dim("ShardId", "shardId-000000000001"),
            ],
        )
        .with("Timestamp", Node::Timestamp(1_700_000_000_123))
        .with("Value", 42.5)
        .with("Unit", "Count")
        .with("StorageResolution", 60i64);
    let data = node.get("MetricData").and_then(Node::as_list).unwrap();
    assert_eq!(
        node.get("Namespace").and_then(Node::as_str),
        Some("KinesisClientLibrary")
    );
    assert_eq!(data.len(), 2);
    assert_eq!(data[0], first);
    let stats = data[1].get("StatisticValues").unwrap();
    assert_eq!(stats.get("SampleCount"), Some(&Node::Float(3.0)));
    assert_eq!(
        data[1].get("Values"),
        Some(&Node::List(vec![1.0.into(), 9.0.into(), 20.0.into()]))
    );
}

#[test]
fn query_errors_are_typed_and_validated() {
    let cw = monitoring();
    assert_eq!(
        decode(cw, b"Version=2010-08-01").unwrap_err(),
        WireError::UnknownOperation
    );
    assert_eq!(
        decode(cw, b"Action=Nope").unwrap_err(),
        WireError::UnknownOperation
    );
    // Required members missing: the shared validator, with AWS's paths.
    match decode(cw, b"Action=PutMetricData&Version=2010-08-01").unwrap_err() {
        WireError::Validation(m) => {
            assert!(m.starts_with("1 validation error detected"), "{m}");
            assert!(
                m.contains("at 'namespace' failed to satisfy constraint: Member must not be null"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    let bad_number = b"Action=GetMetricStatistics&Namespace=n&MetricName=m&StartTime=2023-01-01T00:00:00Z&EndTime=2023-01-01T01:00:00Z&Period=sixty";
    assert!(
        matches!(decode(cw, bad_number), Err(WireError::Serialization(m)) if m.contains("'sixty'"))
    );
    let bad_time = b"Action=GetMetricStatistics&Namespace=n&MetricName=m&StartTime=yesterday&EndTime=2023-01-01T01:00:00Z&Period=60";
    assert!(matches!(
        decode(cw, bad_time),
        Err(WireError::Serialization(_))
    ));
    let bad_index = b"Action=PutMetricData&Namespace=n&MetricData.member.0.MetricName=m";
    assert!(matches!(
        decode(cw, bad_index),
        Err(WireError::Serialization(_))
    ));
    let deep = format!("Action=ListMetrics&{}=1", vec!["a"; 40].join("."));
    assert!(matches!(
        decode(cw, deep.as_bytes()),
        Err(WireError::Serialization(_))
    ));
    // Percent-encoding and '+' are form encoding, not part of the value.
    let (_, node) = decode(cw, b"Action=ListMetrics&Namespace=My%2FNs+x").unwrap();
    assert_eq!(
        node.get("Namespace").and_then(Node::as_str),
        Some("My/Ns x")
    );
}

#[test]
fn botocore_json10_bodies_decode() {
    let ddb = dynamodb();
    for case in cases("dynamodb") {
        assert_eq!(field(&case, "content_type"), crate::json10::CONTENT_TYPE);
        assert!(crate::json10::is_content_type(Some(field(
            &case,
            "content_type"
        ))));
        let op = crate::parse_target(ddb, Some(field(&case, "target"))).unwrap();
        assert_eq!(op.name, field(&case, "operation"));
        crate::json10::decode_request(ddb, op, field(&case, "body").as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", field(&case, "name")));
    }
    let case = cases("dynamodb")
        .into_iter()
        .find(|c| c["name"] == "put_item_condition")
        .unwrap();
    let op = ddb.operation("PutItem").unwrap();
    let node = crate::json10::decode_request(ddb, op, field(&case, "body").as_bytes()).unwrap();
    let item = node.get("Item").unwrap();
    assert_eq!(
        item.get("blob")
            .and_then(|b| b.get("B"))
            .and_then(Node::as_bytes)
            .map(|b| &b[..]),
        Some(&[0u8, 1, 255][..])
    );
    assert_eq!(
        item.get("nested")
            .and_then(|n| n.get("M"))
            .and_then(|m| m.get("a")),
        Some(&Node::map().with(
            "L",
            vec![
                Node::map().with("BOOL", true),
                Node::map().with("NULL", true)
            ]
        ))
    );
    assert_eq!(
        node.get("ConditionExpression").and_then(Node::as_str),
        Some("attribute_not_exists(leaseKey)")
    );
    // A constraint of the DynamoDB model: a table name or ARN is 1 to 1024 characters.
    let err = crate::json10::decode_request(
        ddb,
        ddb.operation("DescribeTable").unwrap(),
        br#"{"TableName":""}"#,
    )
    .unwrap_err();
    assert!(matches!(err, WireError::Validation(m) if m.contains("at 'tableName'")));
}

/// The answers whose bytes are checked in under `tests/fixtures/responses/` and parsed by
/// botocore in `tests/proto/test_botocore_parse.py`.
fn responses() -> Vec<(&'static str, Vec<u8>)> {
    let cw = monitoring();
    let ddb = dynamodb();
    let op = |m: &'static Model, n: &str| m.operation(n).unwrap();
    let dim = Node::map()
        .with("Name", "ShardId")
        .with("Value", "shard<1>&\"x\"");
    let metric = Node::map()
        .with("Namespace", "KinesisClientLibrary")
        .with("MetricName", "RecordsProcessed")
        .with("Dimensions", vec![dim]);
    let list_metrics = Node::map()
        .with(
            "Metrics",
            vec![metric.clone(), Node::map().with("MetricName", "Time")],
        )
        .with("NextToken", "tok");
    let get_metric_data = Node::map()
        .with(
            "MetricDataResults",
            vec![Node::map()
                .with("Id", "m1")
                .with("Label", "RecordsProcessed")
                .with(
                    "Timestamps",
                    vec![
                        Node::Timestamp(1_700_000_000_123),
                        Node::Timestamp(1_700_000_060_000),
                    ],
                )
                .with("Values", vec![Node::Float(42.5), Node::Float(1e-3)])
                .with("StatusCode", "Complete")],
        )
        .with("Messages", Vec::<Node>::new());
    let get_metric_statistics = Node::map().with("Label", "RecordsProcessed").with(
        "Datapoints",
        vec![Node::map()
            .with("Timestamp", Node::Timestamp(1_700_000_000_000))
            .with("Sum", 84.0)
            .with("Average", 42.0)
            .with("Unit", "Count")
            .with("ExtendedStatistics", Node::map().with("p99", 41.5))],
    );
    let describe_table = Node::map().with(
        "Table",
        Node::map()
            .with("TableName", "kcl-leases")
            .with("TableStatus", "ACTIVE")
            .with("CreationDateTime", Node::Timestamp(1_700_000_000_123))
            .with("ItemCount", 3i64)
            .with(
                "KeySchema",
                vec![Node::map()
                    .with("AttributeName", "leaseKey")
                    .with("KeyType", "HASH")],
            ),
    );
    let get_item = Node::map().with(
        "Item",
        Node::map()
            .with("leaseKey", Node::map().with("S", "shardId-1"))
            .with("leaseCounter", Node::map().with("N", "7"))
            .with("b", Node::map().with("B", Bytes::from_static(b"\x00\xff"))),
    );
    vec![
        (
            "list_metrics.xml",
            encode_response(cw, op(cw, "ListMetrics"), &list_metrics, "req-1"),
        ),
        (
            "get_metric_data.xml",
            encode_response(cw, op(cw, "GetMetricData"), &get_metric_data, "req-2"),
        ),
        (
            "get_metric_statistics.xml",
            encode_response(
                cw,
                op(cw, "GetMetricStatistics"),
                &get_metric_statistics,
                "req-3",
            ),
        ),
        (
            "put_metric_data.xml",
            encode_response(cw, op(cw, "PutMetricData"), &Node::map(), "req-4"),
        ),
        (
            "error_resource_not_found.xml",
            modelled_error(cw, "ResourceNotFound", "No such dashboard & <x>", "req-5").1,
        ),
        (
            "error_validation.xml",
            error_response(
                cw,
                &WireError::Validation("1 validation error detected".into()),
                "req-6",
            )
            .1,
        ),
        (
            "describe_table.json",
            crate::json10::encode_response(&describe_table),
        ),
        ("get_item.json", crate::json10::encode_response(&get_item)),
        (
            "error_conditional.json",
            crate::json10::encode_error(
                &crate::json10::error_namespace(ddb),
                "ConditionalCheckFailedException",
                "The conditional request failed",
            ),
        ),
    ]
}

/// The encoded answers must be the checked-in ones (which botocore parses, see the pytest);
/// `RHEO_REGEN_FIXTURES=1 cargo test -p rheo-proto` rewrites them after an intended change.
#[test]
fn encoded_answers_match_the_fixtures_botocore_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/responses");
    let regen = std::env::var_os("RHEO_REGEN_FIXTURES").is_some();
    for (name, bytes) in responses() {
        let path = dir.join(name);
        if regen {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&want),
            "{name}"
        );
    }
}

#[test]
fn xml_timestamps_follow_the_timestamp_format_trait() {
    let doc = r#"{"metadata":{"xmlNamespace":"urn:x"},"operations":{"Op":{"output":{"shape":"O","resultWrapper":"OpResult"}}},
        "shapes":{"O":{"type":"structure","members":{"Iso":{"shape":"T"},"Epoch":{"shape":"E"},"Names":{"shape":"L","locationName":"name","flattened":true}}},
        "T":{"type":"timestamp"},"E":{"type":"timestamp","timestampFormat":"unixTimestamp"},
        "L":{"type":"list","member":{"shape":"S"}},"S":{"type":"string"}}}"#;
    let m = Model::from_json(doc).unwrap();
    let out = Node::map()
        .with("Iso", Node::Timestamp(1_700_000_000_123))
        .with("Epoch", Node::Timestamp(1_700_000_000_123))
        .with("Names", vec![Node::from("a"), Node::from("b")]);
    let xml =
        String::from_utf8(encode_response(&m, m.operation("Op").unwrap(), &out, "r")).unwrap();
    assert_eq!(
        xml,
        "<OpResponse xmlns=\"urn:x\"><OpResult><Iso>2023-11-14T22:13:20.123Z</Iso><Epoch>1700000000.123</Epoch><name>a</name><name>b</name></OpResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></OpResponse>"
    );
    // The flattened, renamed list reads back from `name.N`.
    let shape = m.shape("O").unwrap();
    let tree = Tree::from_body(b"name.2=b&name.1=a&Epoch=1700000000.123").unwrap();
    assert_eq!(
        structure(&m, shape, &tree).unwrap(),
        Node::map()
            .with("Epoch", Node::Timestamp(1_700_000_000_123))
            .with("Names", vec![Node::from("a"), Node::from("b")])
    );
}

#[test]
fn xml_answers_have_the_awsquery_envelope() {
    let cw = monitoring();
    let body = String::from_utf8(encode_response(
        cw,
        cw.operation("PutMetricData").unwrap(),
        &Node::map(),
        "r",
    ))
    .unwrap();
    assert_eq!(
        body,
        "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutMetricDataResponse>"
    );
    let (status, body) = modelled_error(cw, "ResourceNotFound", "gone", "r");
    assert_eq!(status, 404);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type><Code>ResourceNotFound</Code><Message>gone</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    );
    let (status, body) = modelled_error(cw, "InternalServiceFault", "", "r");
    assert_eq!(status, 500);
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("<Type>Receiver</Type><Code>InternalServiceError</Code></Error>"));
    let (status, body) = error_response(cw, &WireError::UnknownOperation, "r");
    assert_eq!(status, 400);
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("<Code>InvalidAction</Code>"));
    assert_eq!(
        query_error_header(cw, "ResourceNotFound"),
        Some(("x-amzn-query-error", "ResourceNotFound;Sender".to_string()))
    );
    assert_eq!(
        query_error_header(dynamodb(), "ResourceNotFoundException"),
        None
    );
}

#[test]
fn fuzz_entries_hold_over_the_fixture_corpus_and_mutations() {
    let cw = monitoring();
    let ddb = dynamodb();
    let mut corpus: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"&&&==&".to_vec(),
        b"Action=ListMetrics&Dimensions.member.4294967296.Name=x".to_vec(),
        b"Action=PutMetricData&MetricData.member.1=x&MetricData.member.1.Value=%FF%FE".to_vec(),
        b"Action=GetMetricData&MetricDataQueries.member.1.MetricStat.Metric.Dimensions=".to_vec(),
    ];
    for case in cases("cloudwatch") {
        corpus.push(field(&case, "body").as_bytes().to_vec());
    }
    for body in &corpus {
        crate::fuzzing::decode_query_all(cw, body);
        // Every prefix: truncated bodies are the commonest malformed input.
        for cut in (0..body.len()).step_by(37) {
            crate::fuzzing::decode_query_all(cw, &body[..cut]);
        }
    }
    let mut json_corpus: Vec<Vec<u8>> =
        vec![b"{}".to_vec(), b"[]".to_vec(), b"{\"TableName\":[".to_vec()];
    for case in cases("dynamodb") {
        json_corpus.push(field(&case, "body").as_bytes().to_vec());
    }
    for body in &json_corpus {
        crate::fuzzing::decode_json10_all(ddb, body);
        for cut in (0..body.len()).step_by(53) {
            crate::fuzzing::decode_json10_all(ddb, &body[..cut]);
        }
    }
}

/// A test-only awsQuery request encoder, written from the protocol rules (the same ones botocore
/// follows), for the round-trip property below.
fn encode_query(
    model: &Model,
    shape: &Shape,
    node: &Node,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) {
    let join = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match (&shape.kind, node) {
        (ShapeKind::Structure { .. }, Node::Map(_)) => {
            for m in shape.members() {
                if let Some(v) = node.get(&m.name) {
                    encode_query(
                        model,
                        model.shape(&m.shape).unwrap(),
                        v,
                        &join(m.wire_name()),
                        out,
                    );
                }
            }
        }
        (ShapeKind::List { member }, Node::List(items)) => {
            if items.is_empty() {
                out.push((prefix.to_string(), String::new()));
            }
            let member_shape = model.shape(member).unwrap();
            for (i, item) in items.iter().enumerate() {
                encode_query(
                    model,
                    member_shape,
                    item,
                    &format!("{prefix}.member.{}", i + 1),
                    out,
                );
            }
        }
        (ShapeKind::Map { value, .. }, Node::Map(entries)) => {
            let value_shape = model.shape(value).unwrap();
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push((format!("{prefix}.entry.{}.key", i + 1), k.clone()));
                encode_query(
                    model,
                    value_shape,
                    v,
                    &format!("{prefix}.entry.{}.value", i + 1),
                    out,
                );
            }
        }
        (_, leaf) => out.push((prefix.to_string(), scalar_text(leaf).unwrap())),
    }
}

mod round_trip {
    use proptest::prelude::*;

    use super::*;

    /// Shape-conforming values without empty structures or maps: those send no keys at all, so
    /// they come back absent (as on AWS).
    fn value(model: &'static Model, shape: &'static Shape, depth: u32) -> BoxedStrategy<Node> {
        match &shape.kind {
            ShapeKind::Structure { members } => {
                let members: Vec<_> = members
                    .iter()
                    .filter(|m| depth < 6 || !is_container(model, &m.shape))
                    .filter(|m| !is_empty_structure(model, &m.shape))
                    .collect();
                if members.is_empty() {
                    return Just(Node::map()).boxed();
                }
                let n = members.len();
                (0..n)
                    .prop_flat_map(move |forced| {
                        let parts: Vec<BoxedStrategy<Option<(String, Node)>>> = members
                            .iter()
                            .enumerate()
                            .map(|(i, m)| {
                                let name = m.name.clone();
                                let v = value(model, model.shape(&m.shape).unwrap(), depth + 1)
                                    .prop_map(move |v| (name.clone(), v));
                                if i == forced {
                                    v.prop_map(Some).boxed()
                                } else {
                                    proptest::option::weighted(0.3, v).boxed()
                                }
                            })
                            .collect();
                        parts
                    })
                    .prop_map(|parts| Node::Map(parts.into_iter().flatten().collect()))
                    .boxed()
            }
            ShapeKind::List { member } => proptest::collection::vec(
                value(model, model.shape(member).unwrap(), depth + 1),
                0..3,
            )
            .prop_map(Node::List)
            .boxed(),
            ShapeKind::Map { value: v, .. } => proptest::collection::btree_map(
                text(),
                value(model, model.shape(v).unwrap(), depth + 1),
                1..3,
            )
            .prop_map(|m| Node::Map(m.into_iter().collect()))
            .boxed(),
            ShapeKind::String => text().prop_map(Node::Str).boxed(),
            ShapeKind::Integer => any::<i32>().prop_map(Node::from).boxed(),
            ShapeKind::Long => any::<i64>().prop_map(Node::Int).boxed(),
            ShapeKind::Double => any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Node::Float)
                .boxed(),
            ShapeKind::Boolean => any::<bool>().prop_map(Node::Bool).boxed(),
            ShapeKind::Blob => proptest::collection::vec(any::<u8>(), 0..8)
                .prop_map(|b| Node::Bytes(Bytes::from(b)))
                .boxed(),
            ShapeKind::Timestamp => (crate::decode::MIN_TIMESTAMP_MS
                ..=crate::decode::MAX_TIMESTAMP_MS)
                .prop_map(Node::Timestamp)
                .boxed(),
        }
    }

    fn is_empty_structure(model: &Model, name: &str) -> bool {
        model.shape(name).is_some_and(
            |s| matches!(&s.kind, ShapeKind::Structure { members } if members.is_empty()),
        )
    }

    fn is_container(model: &Model, name: &str) -> bool {
        model.shape(name).is_some_and(|s| {
            matches!(
                s.kind,
                ShapeKind::Structure { .. } | ShapeKind::List { .. } | ShapeKind::Map { .. }
            )
        })
    }

    /// Text with the characters form encoding must protect (`&`, `=`, `+`, `%`, `.`) and non-ASCII.
    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 &=+%./é日\u{1F600}-]{0,8}"
    }

    fn input(op: &str) -> &'static Shape {
        let cw = monitoring();
        cw.shape(cw.operation(op).unwrap().input.as_deref().unwrap())
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn shape_conforming_values_survive_query_encode_then_decode(
            (op, node) in prop_oneof![
                Just("PutMetricData"), Just("GetMetricData"), Just("ListMetrics"),
                Just("GetMetricStatistics"), Just("PutMetricAlarm"),
            ].prop_flat_map(|op| (Just(op), value(monitoring(), input(op), 0)))
        ) {
            let cw = monitoring();
            let shape = input(op);
            let mut pairs = vec![("Action".to_string(), op.to_string())];
            encode_query(cw, shape, &node, "", &mut pairs);
            let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            let decoded = structure(cw, shape, &Tree::from_body(body.as_bytes()).unwrap()).unwrap();
            // Structures come back in model order, as the generator builds them.
            prop_assert_eq!(decoded, node, "{}", body);
        }
    }
}
