//! cargo-fuzz target `signals_ipc`: the body is [`omega_fuzz::checks::signals_ipc`] (shared with the
//! libFuzzer-free run in crates/loop/tests/fuzz_inputs.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| omega_fuzz::checks::signals_ipc(data));
