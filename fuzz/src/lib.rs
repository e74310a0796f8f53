//! Fuzz target bodies of omega_engine (see fuzz/README.md). The module is plain Rust with no
//! libFuzzer dependency, so `crates/loop/tests/fuzz_inputs.rs` includes the same file (`#[path]`)
//! and drives it on stable Rust from `cargo test`.
pub mod checks;
