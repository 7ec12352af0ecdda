//! cargo-fuzz target `proof_check`: see docs/fuzzing.md and `tinledger_fuzz::proof_check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinledger_fuzz::proof_check(data));
