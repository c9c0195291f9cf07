//! Fuzz target: arbitrary bytes as a SigV4 header/query (see `rheo_api_kinesis::fuzzing::fuzz_auth_header`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_api_kinesis::fuzzing::fuzz_auth_header(data);
});
