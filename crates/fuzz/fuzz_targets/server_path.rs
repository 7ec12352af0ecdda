//! cargo-fuzz target `server_path`: see docs/fuzzing.md and `tinledger_server::paths::fuzzing::server_path`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tinledger_server::paths::fuzzing::server_path(data));
