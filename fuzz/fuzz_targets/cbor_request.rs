//! Fuzz target: arbitrary bytes as a CBOR body (see `rheo_api_kinesis::fuzzing::fuzz_cbor_request`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_api_kinesis::fuzzing::fuzz_cbor_request(data);
});
