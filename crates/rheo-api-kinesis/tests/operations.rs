//! The operation table: `src/operation.rs` is generated from the vendored model, and every
//! operation of it has a stated implementation state.
//!
//! `UPDATE_GENERATED=1 cargo test -p rheo-api-kinesis --test operations` rewrites the generated
//! file after the model changes; without it, a stale file fails the test.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use rheo_api_kinesis::ops::{self, OperationState};
use rheo_api_kinesis::Operation;
use rheo_proto::codegen::{check_generated, operation_table, TableSource};
use rheo_proto::Protocol;
use rheo_streams::clock::ManualClock;
use rheo_streams::types::Ctx;
use rheo_streams::{Config, Streams};

const GENERATED_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/operation.rs");

const SOURCE: TableSource<'static> = TableSource {
    crate_name: "rheo-api-kinesis",
    model_file: "kinesis-2013-12-02.json",
    service: "Kinesis",
    iam_prefix: "kinesis",
};

#[test]
fn generated_operation_ids_match_the_vendored_model() {
    let want = operation_table(rheo_api_kinesis::model(), &SOURCE);
    check_generated(GENERATED_PATH, &want, &SOURCE).unwrap();
    for op in Operation::ALL {
        assert_eq!(Operation::from_name(op.name()), Some(op));
        assert!(rheo_api_kinesis::model().operation(op.name()).is_some());
    }
    assert_eq!(
        Operation::ALL.len(),
        rheo_api_kinesis::model().operations().count()
    );
}

/// Every operation of every model Rheo serves, with the state it is in. A new operation in a
/// model (or a change of state) must be written here: nothing answers by accident.
const TABLE: &[(&str, OperationState)] = {
    use OperationState::{Implemented as I, NotImplemented as N};
    &[
        ("AcknowledgeDeadLetterQueueRecords", N),
        ("AcknowledgeQueueRecords", N),
        ("AddTagsToStream", I),
        ("CreateChannel", N),
        ("CreateQueue", N),
        ("CreateStream", I),
        ("DecreaseStreamRetentionPeriod", I),
        ("DeleteChannel", N),
        ("DeleteQueue", N),
        ("DeleteResourcePolicy", I),
        ("DeleteStream", I),
        ("DeregisterStreamConsumer", I),
        ("DescribeAccountSettings", I),
        ("DescribeChannel", N),
        ("DescribeLimits", I),
        ("DescribeQueue", N),
        ("DescribeStream", I),
        ("DescribeStreamConsumer", I),
        ("DescribeStreamSummary", I),
        ("DisableEnhancedMonitoring", I),
        ("EnableEnhancedMonitoring", I),
        ("GetRecords", I),
        ("GetResourcePolicy", I),
        ("GetShardIterator", I),
        ("IncreaseStreamRetentionPeriod", I),
        ("ListChannels", N),
        ("ListQueues", N),
        ("ListShards", I),
        ("ListStreamConsumers", I),
        ("ListStreams", I),
        ("ListTagsForResource", I),
        ("ListTagsForStream", I),
        ("MergeShards", I),
        ("PutRecord", I),
        ("PutRecords", I),
        ("PutResourcePolicy", I),
        ("ReceiveDeadLetterQueueRecords", N),
        ("ReceiveQueueRecords", N),
        ("RegisterStreamConsumer", I),
        ("RemoveTagsFromStream", I),
        ("RestoreDeadLetterQueueRecords", N),
        ("SplitShard", I),
        ("StartStreamEncryption", I),
        ("StopStreamEncryption", I),
        ("SubscribeToShard", I),
        ("TagResource", I),
        ("UntagResource", I),
        ("UpdateAccountSettings", I),
        ("UpdateChannel", N),
        ("UpdateDeadLetterQueueRecordsVisibility", N),
        ("UpdateMaxRecordSize", I),
        ("UpdateQueue", N),
        ("UpdateQueueRecordsVisibility", N),
        ("UpdateShardCount", I),
        ("UpdateStreamMode", I),
        ("UpdateStreamRecordDistributionStrategy", I),
        ("UpdateStreamWarmThroughput", I),
    ]
};

#[test]
fn every_operation_of_every_served_model_has_its_stated_state() {
    let listed: Vec<&str> = TABLE.iter().map(|(n, _)| *n).collect();
    let all: Vec<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
    assert_eq!(
        listed, all,
        "the table must list exactly the model's operations"
    );
    for (name, state) in TABLE {
        let op = Operation::from_name(name).unwrap();
        assert_eq!(ops::state(op), *state, "{name}");
    }
}

fn runtime_and_streams() -> (tokio::runtime::Runtime, Streams, Ctx) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let streams = Streams::open_in_memory(
        Config::default(),
        Arc::new(ManualClock::new(1_700_000_000_000)),
    )
    .unwrap();
    (rt, streams, Ctx::in_region("us-east-1"))
}

fn assert_not_implemented(answer: Result<Vec<u8>, ops::Failure>, op: Operation) {
    let name = op.name();
    match answer {
        Err(failure @ ops::Failure::NotImplemented(got)) => {
            assert_eq!(got, op);
            let (ty, status, message) = failure.parts().unwrap();
            assert_eq!((ty, status), ("UnknownOperationException", 400), "{name}");
            assert!(message.contains(name), "{name}: {message}");
        }
        other => panic!("{name}: {other:?}"),
    }
}

/// A known but unimplemented operation validates its input like any other: `{}` is refused
/// with AWS's ValidationException when the input has required members, and only a valid
/// request gets the not-implemented answer naming the operation.
#[test]
fn a_not_implemented_operation_validates_then_answers_the_aws_shaped_error() {
    let (rt, streams, ctx) = runtime_and_streams();
    let model = rheo_api_kinesis::model();
    let mut checked = 0;
    for (name, state) in TABLE {
        if *state != OperationState::NotImplemented {
            continue;
        }
        let op = rheo_api_kinesis::resolve(Some(&format!("Kinesis_20131202.{name}"))).unwrap();
        let required = model
            .operation(name)
            .and_then(|o| o.input.as_deref())
            .and_then(|i| model.shape(i))
            .map(|s| s.members().iter().filter(|m| m.required).count())
            .unwrap_or(0);
        let answer = rt.block_on(ops::execute(&streams, &ctx, op, Protocol::Json, b"{}"));
        if required == 0 {
            assert_not_implemented(answer, op);
        } else {
            match answer {
                Err(ops::Failure::Wire(rheo_proto::WireError::Validation(msg))) => {
                    assert!(msg.contains("Member must not be null"), "{name}: {msg}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        // Not JSON at all: the wire layer's error, not the not-implemented one.
        let answer = rt.block_on(ops::execute(&streams, &ctx, op, Protocol::Json, b"[1"));
        assert!(
            matches!(answer, Err(ops::Failure::Wire(_))),
            "{name}: {answer:?}"
        );
        checked += 1;
    }
    // The channel (5) and queue (12) operations are all that is left unimplemented.
    assert!(checked >= 17, "{checked}");
}

/// Valid requests of the channel operations (in the model, not run yet) get the
/// not-implemented answer; invalid ones, and an invalid UpdateStreamRecordDistributionStrategy,
/// AWS's validation text.
#[test]
fn channel_and_distribution_operations_are_known() {
    let (rt, streams, ctx) = runtime_and_streams();
    let stream = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
    let channel = "arn:aws:kinesis:us-east-1:000000000000:channel/c";
    let valid: &[(Operation, String)] = &[
        (
            Operation::CreateChannel,
            format!(
                r#"{{"ChannelName":"c","ServiceExecutionRoleARN":"arn:aws:iam::000000000000:role/r","StreamConfigurationList":[{{"StreamARN":"{stream}","RecordConfiguration":{{"RecordFormatType":"JSON"}}}}]}}"#
            ),
        ),
        (
            Operation::DescribeChannel,
            format!(r#"{{"ChannelARN":"{channel}"}}"#),
        ),
        (Operation::ListChannels, "{}".to_string()),
        (
            Operation::UpdateChannel,
            format!(r#"{{"ChannelARN":"{channel}"}}"#),
        ),
        (
            Operation::DeleteChannel,
            format!(r#"{{"ChannelARN":"{channel}"}}"#),
        ),
    ];
    for (op, body) in valid {
        let answer = rt.block_on(ops::execute(
            &streams,
            &ctx,
            *op,
            Protocol::Json,
            body.as_bytes(),
        ));
        assert_not_implemented(answer, *op);
        // The same request in CBOR.
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        let mut cbor = Vec::new();
        ciborium::into_writer(&doc, &mut cbor).unwrap();
        let answer = rt.block_on(ops::execute(&streams, &ctx, *op, Protocol::Cbor, &cbor));
        assert_not_implemented(answer, *op);
    }
    let answer = rt.block_on(ops::execute(
        &streams,
        &ctx,
        Operation::UpdateStreamRecordDistributionStrategy,
        Protocol::Json,
        format!(r#"{{"StreamARN":"{stream}","RecordDistributionStrategy":"RANDOM"}}"#).as_bytes(),
    ));
    match answer {
        Err(ops::Failure::Wire(rheo_proto::WireError::Validation(msg))) => assert_eq!(
            msg,
            "1 validation error detected: Value 'RANDOM' at 'recordDistributionStrategy' failed \
             to satisfy constraint: Member must satisfy enum value set: [AUTO, USER_PARTITION_KEY]"
        ),
        other => panic!("{other:?}"),
    }
    let answer = rt.block_on(ops::execute(
        &streams,
        &ctx,
        Operation::DescribeChannel,
        Protocol::Json,
        format!(r#"{{"ChannelARN":"{stream}"}}"#).as_bytes(),
    ));
    assert!(
        matches!(&answer, Err(ops::Failure::Wire(rheo_proto::WireError::Validation(m))) if m.contains("channelARN")),
        "{answer:?}"
    );
}
