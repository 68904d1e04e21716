//! Security of airssys-wasm: audit sinks today; manifests, policy, capability
//! matching and signing are added by the security work (see the issue
//! "Security: manifests and policy, the airssys:host interface, tamper-evident
//! audit log, signed components").
#![deny(missing_docs)]

pub mod chain;
mod jsonl;

pub use chain::{ChainConfig, ChainedLog, FullPolicy, VerifyError, VerifyReport};
pub use jsonl::JsonLinesSink;
