//! Fuzz target: arbitrary bytes as a JSON 1.0 body against the DynamoDB model
//! (see `rheo_proto::fuzzing::decode_json10_all`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rheo_proto::Model;

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::from_json(include_str!("../../models/dynamodb-2012-08-10.json")).unwrap()
});

fuzz_target!(|data: &[u8]| {
    rheo_proto::fuzzing::decode_json10_all(&MODEL, data);
});
