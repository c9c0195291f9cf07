//! Fuzz target: arbitrary bytes read as a GetRecords output, written by the JSON fast path and by
//! the generic encoder, which must agree byte for byte (see
//! `rheo_api_kinesis::fuzzing::fuzz_fast_get_records_json`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_api_kinesis::fuzzing::fuzz_fast_get_records_json(data);
});
