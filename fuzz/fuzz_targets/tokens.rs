//! Fuzz target: client-supplied tokens (shard iterators, sequence numbers, shard ids, hash keys,
//! NextTokens) decode without panicking and round-trip (see `rheo_streams::fuzzing`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_streams::fuzzing::fuzz_tokens(data);
});
