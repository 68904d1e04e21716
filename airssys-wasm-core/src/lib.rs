//! Engine-free types and traits of airssys-wasm.
//!
//! This crate is what every other airssys-wasm crate (and any AirsSys crate
//! that only needs the vocabulary) builds on. It knows no engine: a test
//! checks that neither wasmtime nor wasmi is in its dependency tree.
//!
//! - [`Value`] / [`ValueType`]: the WIT value model, with WAVE text form.
//! - [`ComponentInfo`]: a component's digest, imports and exports.
//! - [`Capability`], [`CapabilitySet`], [`Request`]: deny-by-default grants.
//! - [`Limits`], [`Usage`]: resource limits and what a call used.
//! - [`AuditEvent`], [`AuditSink`]: the audit trail.
//! - [`HostFunctions`], [`CallContext`]: host functions, defined once for
//!   every backend.
//! - [`provider`]: host capabilities as providers ([`HostProvider`]), the
//!   unit every host interface is served by.
//! - [`typed`]: the Rust types of typed calls, on every backend.
//! - [`files`]: host files resolved beneath directory handles, at the
//!   moment of use.
//! - [`Backend`]: what an engine implements.
//! - [`check_name`]: the character set of component names.
//! - [`Error`]: the typed error of every layer.

pub mod audit;
mod backend;
pub mod capability;
mod component;
mod error;
pub mod files;
mod host;
mod identity;
pub mod kit;
mod limits;
mod name;
pub mod provider;
pub mod typed;
mod value;
pub mod wasi;
mod wave;

pub use audit::{
    AuditClock, AuditError, AuditEvent, AuditKind, AuditSink, LifecycleStep, MemorySink,
    TracingSink,
};
pub use backend::{
    Backend, BackendInstance, CaptureBuffer, CompiledComponent, FuncRef, InstanceConfig,
    OutputTarget, Stdio,
};
pub use capability::{Capability, CapabilityKind, CapabilitySet, Decision, Request};
pub use component::{ComponentInfo, Digest, Item, ItemKind, MAX_TYPE_PARTS, interface_mismatches};
pub use error::{Error, ErrorClass, Result, panic_message};
pub use host::{
    CallContext, DEFAULT_MAX_CALL_DATA, HostData, HostError, HostFn, HostFunctions, over_call_data,
};
pub use identity::{ComponentId, DEFAULT_TENANT};
pub use limits::{GrowthLimiter, LimitExceeded, LimitKind, Limits, MIB, Usage};
pub use name::{
    MAX_NAME_LEN, NAME_RULE, NameError, TENANT_RULE, VERSION_RULE, check_name, check_tenant,
    check_version, did_you_mean, name_from_file_stem, suggest,
};
pub use provider::{HostProvider, OnDenied, Providers};
pub use value::{
    Case, ConversionError, Field, FuncType, ResourceHandle, ResourceType, Value, ValueType,
};
/// The set of WebAssembly features a backend's engine accepts
/// ([`Backend::features`]), as wasmparser names them.
pub use wasmparser::WasmFeatures;
pub use wave::{WaveCall, WaveError};
