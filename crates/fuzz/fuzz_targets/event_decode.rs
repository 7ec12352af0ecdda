//! cargo-fuzz target `event_decode`: see docs/fuzzing.md and `tinledger_fuzz::event_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinledger_fuzz::event_decode(data));
