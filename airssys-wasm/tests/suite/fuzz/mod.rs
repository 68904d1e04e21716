//! Fuzz targets for what parses adversary input, as deterministic loops
//! (this toolchain is stable Rust, which cargo-fuzz cannot drive): each
//! target makes inputs from a seed, checks a property on each, and counts
//! a panic or a broken property as a finding (see `harness`).
//!
//! - `config`: manifest and policy TOML (`Manifest::parse`, `Policy::parse`,
//!   `Policy::evaluate`).
//! - `wave`: WAVE values and call expressions against signatures.
//! - `component`: `ComponentInfo::parse` and `Runtime::load` on both
//!   backends, on mutated and generated components.
//! - `abi`: the wasmi backend's canonical ABI lifting guest memory the
//!   fuzzer fills, compared with wasmtime.
//!
//! `cargo xtask test` runs each with its default number of cases (a few
//! seconds in a debug build); `cargo xtask fuzz --cases N` runs each with N
//! cases in a release build.

mod harness;

#[cfg(all(feature = "wasmtime", feature = "wasmi"))]
mod abi;
#[cfg(all(feature = "wasmtime", feature = "wasmi"))]
mod component;
mod config;
mod wave;
