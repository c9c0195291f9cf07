//! Fuzz target: arbitrary bytes as a PutRecords body for the JSON fast path, checked against the
//! generic decoder whenever the fast path accepts (see `rheo_api_kinesis::fuzzing::fuzz_fast_put_records`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_api_kinesis::fuzzing::fuzz_fast_put_records(data);
});
