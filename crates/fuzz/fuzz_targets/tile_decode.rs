//! cargo-fuzz target `tile_decode`: see docs/fuzzing.md and `tinledger_fuzz::tile_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinledger_fuzz::tile_decode(data));
