//! Fuzz target: a store whose active journal segment holds arbitrary bytes must open (or refuse
//! to) without panicking, and never surface a torn entry (see `rheo_log::fuzz_recover`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rheo_log::fuzz_recover(data);
});
