//! cargo-fuzz target `entry_decode`: see docs/fuzzing.md and `tinledger_fuzz::entry_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinledger_fuzz::entry_decode(data));
