//! Fuzz target: a key-value table record decoder fed arbitrary bytes must refuse them with a
//! typed error or decode a record that re-encodes to the same bytes; never panic (see
//! `rheo_kv::codec::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_kv::codec::fuzz_decode(data);
});
