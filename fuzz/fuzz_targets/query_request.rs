//! Fuzz target: arbitrary bytes as an awsQuery form body against the CloudWatch model
//! (see `rheo_proto::fuzzing::decode_query_all`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rheo_proto::Model;

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::from_json(include_str!("../../models/monitoring-2010-08-01.json")).unwrap()
});

fuzz_target!(|data: &[u8]| {
    rheo_proto::fuzzing::decode_query_all(&MODEL, data);
});
