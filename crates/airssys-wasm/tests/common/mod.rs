//! Shared helpers of the facade's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use airssys_wasm::{AuditKind, HostFunctions, LoadOptions, MemorySink, Runtime};

/// The path of a guest built by `cargo xtask guests`.
pub fn guest(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "guest fixture {} is missing: run `cargo xtask guests` (or `cargo xtask test`) first",
        path.display()
    );
    path
}

/// A runtime whose audit events are kept in memory.
pub fn runtime() -> (Runtime, Arc<MemorySink>) {
    runtime_with_host(HostFunctions::new())
}

/// A runtime with host functions, auditing into memory.
pub fn runtime_with_host(host: HostFunctions) -> (Runtime, Arc<MemorySink>) {
    let audit = Arc::new(MemorySink::new());
    let rt = Runtime::builder()
        .audit(audit.clone())
        .host_functions(host)
        .build()
        .expect("runtime builds");
    (rt, audit)
}

/// Loads a guest fixture with the given options.
pub fn load(rt: &Runtime, name: &str, options: LoadOptions) -> airssys_wasm::Component {
    rt.load(guest(name), options.name(name))
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// The event names (`called`, `limit-hit`, ...) recorded so far, in order.
pub fn event_names(audit: &MemorySink) -> Vec<&'static str> {
    audit
        .events()
        .iter()
        .map(|e| match e.kind {
            AuditKind::Loaded { .. } => "loaded",
            AuditKind::LoadRejected { .. } => "load-rejected",
            AuditKind::Instantiated { .. } => "instantiated",
            AuditKind::InstantiationFailed { .. } => "instantiation-failed",
            AuditKind::Dropped { .. } => "dropped",
            AuditKind::Called { .. } => "called",
            AuditKind::Returned { .. } => "returned",
            AuditKind::Trapped { .. } => "trapped",
            AuditKind::LimitHit { .. } => "limit-hit",
            AuditKind::CapabilityAllowed { .. } => "capability-allowed",
            AuditKind::CapabilityDenied { .. } => "capability-denied",
            AuditKind::HostLimit { .. } => "host-limit",
            _ => "other",
        })
        .collect()
}
