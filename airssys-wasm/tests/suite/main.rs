//! The facade's integration tests, as one test binary: each module is one
//! subject (one former `tests/*.rs` file). One binary links the engines once
//! instead of once per subject, which keeps a cold `cargo xtask test` within
//! CI's disk and time. `tests/typed_alloc.rs` stays a binary of its own: it
//! installs a counting global allocator.
//!
//! `cargo test -p airssys-wasm --test suite -- escapes::` runs one subject.

mod common;

mod bounded_audit;
mod conformance;
mod differential;
mod escapes;
mod fuzz;
mod host_functions;
mod host_interface;
mod host_memory;
mod hostile;
mod hostile_host;
mod identity;
mod lifecycle;
mod link;
mod polyglot;
mod providers;
mod shapes;
mod values;
mod wasi;
