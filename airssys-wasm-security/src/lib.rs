//! Security of airssys-wasm: what a component asks for ([`Manifest`]), what
//! an operator grants ([`Policy`]) and what it effectively gets
//! ([`Evaluation`]); and audit sinks, including the tamper-evident
//! [`ChainedLog`].
//!
//! Capability types and their matching live in `airssys-wasm-core`
//! (`capability`), because backends answer requests through core and must
//! not depend on this crate; this crate decides which capabilities a
//! component gets.

pub mod chain;
mod config;
mod jsonl;
pub mod manifest;
pub mod policy;
pub mod signing;

pub use config::{ConfigError, Located, Position, parse_size};
pub use manifest::Manifest;
pub use policy::{Evaluation, OnDenied, Policy, PolicyError, Row, Subject};

pub use chain::{
    Cadence, ChainConfig, ChainStats, ChainedLog, FullPolicy, VerifyError, VerifyOptions,
    VerifyReport,
};
pub use jsonl::JsonLinesSink;
