//! Run untrusted WebAssembly components as plugins.
//!
//! airssys-wasm loads a component, grants it nothing unless you say so,
//! holds it to hard limits (memory, fuel, wall-clock time, tables,
//! instances), calls its exports with typed values, and writes every step and
//! every decision to an audit sink. A plugin that traps, loops or exhausts a
//! limit fails its own call with a typed [`Error`]; the host process and every
//! other component keep running.
//!
//! ```no_run
//! use airssys_wasm::{Capability, LoadOptions, Limits, Runtime, Value};
//!
//! # fn main() -> airssys_wasm::Result<()> {
//! let runtime = Runtime::new()?;
//! let plugin = runtime.load(
//!     "text-tools.wasm",
//!     LoadOptions::new()
//!         .name("text-tools")
//!         .limits(Limits::default().with_fuel(10_000_000))
//!         .grant(Capability::Clocks),
//! )?;
//! let mut instance = plugin.instantiate()?;
//! let out = instance.call("greet", &[Value::from("ada")])?;
//! assert_eq!(out, vec![Value::from("Hello, ada!")]);
//! # Ok(())
//! # }
//! ```
//!
//! Backends are chosen by cargo feature: `wasmtime` (JIT, default) and
//! `wasmi` (interpreter); with both on, [`RuntimeBuilder::backend`] picks one
//! ([`BackendKind`]).

mod link;
mod runtime;
pub mod typed;

/// Audit events, their text caps and display escaping, and the denial
/// throttle.
pub use airssys_wasm_core::audit;
pub use airssys_wasm_core::{
    AuditError, AuditEvent, AuditKind, AuditSink, Capability, CapabilityKind, CapabilitySet,
    CaptureBuffer, ComponentId, ComponentInfo, Decision, Digest, Error, ErrorClass, FuncType,
    HostError, HostFunctions, Item, ItemKind, LifecycleStep, LimitKind, Limits, MIB, MemorySink,
    NameError, OutputTarget, Request, Result, Stdio, TracingSink, Usage, Value, ValueType,
    WaveCall, WaveError, check_name, check_tenant, check_version,
};
pub use airssys_wasm_security::{ChainConfig, ChainedLog, FullPolicy, JsonLinesSink};

pub use airssys_wasm_core::capability;
/// Host capabilities as providers: write one to serve an interface of your
/// own ([`RuntimeBuilder::provider`]).
pub use airssys_wasm_core::provider;
pub use airssys_wasm_core::{HostProvider, OnDenied, Providers};
/// The providers of `airssys:host`, and their settings.
pub use airssys_wasm_providers as host;
pub use airssys_wasm_providers::HostSettings;
/// The security crate: audit logs and their verification.
pub use airssys_wasm_security as security;
pub use runtime::TypedFunc;
pub use runtime::{
    BackendChoice, BackendKind, Component, Func, Instance, LoadOptions, Runtime, RuntimeBuilder,
    Source,
};
pub use typed::{TypedParams, TypedResults};

/// The core crate, for everything not re-exported here.
pub use airssys_wasm_core as core;

/// The wasmtime backend and its settings.
#[cfg(feature = "wasmtime")]
pub use airssys_wasm_backend_wasmtime as wasmtime_backend;

/// The wasmi backend and its settings.
#[cfg(feature = "wasmi")]
pub use airssys_wasm_backend_wasmi as wasmi_backend;

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
