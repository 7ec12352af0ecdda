//! cargo-fuzz target `checkpoint_parse`: see docs/fuzzing.md and `tinledger_fuzz::checkpoint_parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinledger_fuzz::checkpoint_parse(data));
