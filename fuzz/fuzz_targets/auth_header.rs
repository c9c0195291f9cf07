//! Fuzz target: arbitrary bytes as a SigV4 header/query (see `rheo_wire::fuzzing::fuzz_auth_header`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_wire::fuzzing::fuzz_auth_header(data);
});
