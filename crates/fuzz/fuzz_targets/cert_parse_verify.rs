//! cargo-fuzz target `cert_parse_verify`: see docs/fuzzing.md and `tinledger_fuzz::cert_parse_verify`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinledger_fuzz::cert_parse_verify(data));
