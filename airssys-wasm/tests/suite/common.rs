//! Shared helpers of the facade's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use airssys_wasm::{AuditKind, BackendKind, HostFunctions, LoadOptions, MemorySink, Runtime};

/// The path of a guest built by `cargo xtask guests`.
pub fn guest(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "guest fixture {} is missing: run `cargo xtask guests` (or `cargo xtask test`) first",
        path.display()
    );
    path
}

thread_local! {
    static BACKEND: std::cell::Cell<BackendKind> = const { std::cell::Cell::new(BackendKind::ALL[0]) };
}

/// Runs `check` once on every backend this build has: the conformance
/// suite. Inside it, [`runtime`] and [`runtime_with_host`] build runtimes
/// on that backend. A failure names the backend it happened on.
pub fn each_backend(mut check: impl FnMut(BackendKind)) {
    for &kind in BackendKind::ALL {
        BACKEND.with(|b| b.set(kind));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(kind)));
        BACKEND.with(|b| b.set(BackendKind::ALL[0]));
        if let Err(panic) = outcome {
            let message = airssys_wasm::core::panic_message(&*panic);
            panic!("on the {kind} backend: {message}");
        }
    }
}

/// The backend [`runtime`] uses now.
pub fn backend() -> BackendKind {
    BACKEND.with(|b| b.get())
}

/// A component of `module` (a core module, or WAT) that exports the
/// functions of `world`, declared in `wit` (a package of its own).
pub fn component_of(wit: &str, world: &str, module: impl AsRef<[u8]>) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("test.wit", wit).expect("the WIT parses");
    let world = resolve
        .select_world(&[pkg], Some(world))
        .expect("the world exists");
    let mut module = wat::parse_bytes(module.as_ref())
        .expect("the module parses")
        .into_owned();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("the metadata embeds");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| e.validate(true).encode())
        .expect("the component encodes")
}

/// A runtime whose audit events are kept in memory.
pub fn runtime() -> (Runtime, Arc<MemorySink>) {
    runtime_with_host(HostFunctions::new())
}

/// A runtime with host functions, auditing into memory.
pub fn runtime_with_host(host: HostFunctions) -> (Runtime, Arc<MemorySink>) {
    let audit = Arc::new(MemorySink::new());
    let rt = Runtime::builder()
        .backend(backend())
        .audit(audit.clone())
        .host_functions(host)
        .build()
        .expect("runtime builds");
    assert_eq!(rt.backend_name(), backend().name());
    (rt, audit)
}

/// Load options granting exactly these capabilities.
pub fn granting(grants: Vec<airssys_wasm::Capability>) -> LoadOptions {
    grants
        .into_iter()
        .fold(LoadOptions::new(), LoadOptions::grant)
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
            AuditKind::CacheRefused { .. } => "cache-refused",
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
            AuditKind::LinkCall { .. } => "link-call",
            _ => "other",
        })
        .collect()
}

/// A tiny HTTP server on 127.0.0.1: answers each connection with the next
/// response and returns the requests it saw.
pub fn serve(responses: Vec<String>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for response in responses {
            use std::io::{Read, Write};
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            seen.push(String::from_utf8_lossy(&buf).into_owned());
            stream.write_all(response.as_bytes()).unwrap();
        }
        seen
    });
    (port, handle)
}

pub fn response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
}
