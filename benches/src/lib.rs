//! Criterion benchmarks of airssys-wasm. Run them with `cargo bench -p
//! airssys-wasm-benches` (or `cargo xtask bench`, when the benchmark work
//! lands).
//!
//! - `capabilities`: the cost of [`CapabilitySet::allows`] for each kind of
//!   check, against a set of realistic size. The goal is at most 100 ns for
//!   glob and host-pattern checks.
//!
//! [`CapabilitySet::allows`]: https://docs.rs/airssys-wasm-core
