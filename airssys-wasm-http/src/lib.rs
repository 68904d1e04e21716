//! Multi-tenant `wasi:http` serving for airssys-wasm.
//!
//! Requests are routed by `Host` and path prefix ([`route`]) to components
//! exporting `wasi:http/incoming-handler`. Each route names a tenant; each
//! tenant has its own policy (what its components are granted, outbound
//! hosts included), limits (fuel, memory), one deadline for a whole
//! request (wasm and host time together), a request body limit, and
//! bounds on its requests at once and its outgoing requests in flight
//! ([`config`]). Every request gets a fresh instance of its route's
//! pre-instantiated component, so nothing leaks between requests or
//! tenants. A limit answers with a status ([`request`]: 413, 429, 503,
//! 504), never with the server's failure; each request is one
//! `http-request` audit event under the identity of its component
//! (`tenant/route`), and is counted per tenant and route ([`metrics`]).
//!
//! Handlers run on the wasmtime backend (wasmtime-wasi-http's bindings);
//! a runtime on another backend is refused at start, naming the route.
//!
//! ```no_run
//! use airssys_wasm_http::{ServeConfig, Server};
//!
//! let config = ServeConfig::load("serve.toml".as_ref())?;
//! let runtime = airssys_wasm_http::runtime_for(&config, None)?;
//! let server = Server::start(config, runtime)?;
//! println!("serving on http://{}", server.local_addr());
//! server.wait();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod body;
pub mod config;
pub mod error;
pub mod metrics;
pub mod request;
pub mod route;

mod app;
mod server;

use std::sync::Arc;

use airssys_wasm::wasmtime_backend::{PoolingConfig, WasmtimeConfig};
use airssys_wasm::{AuditSink, Runtime};

pub use app::Deployments;
pub use config::{RouteConfig, ServeConfig, TenantConfig};
pub use error::ServeError;
pub use server::{MAX_HEADER_BYTES, Server};

/// A wasmtime runtime for serving `config`: the pooling allocator, sized
/// for the handlers that can run at once (every request instantiates),
/// with linear memories as large as the largest tenant's limit. Audit
/// events go to `audit` (the runtime's default, tracing, when `None`).
pub fn runtime_for(
    config: &ServeConfig,
    audit: Option<Arc<dyn AuditSink>>,
) -> Result<Runtime, ServeError> {
    let largest = config
        .tenants
        .values()
        .map(|t| t.memory)
        .max()
        .unwrap_or(64 << 20);
    let instances = u32::try_from(config.workers.saturating_mul(2).max(16)).unwrap_or(u32::MAX);
    let wasmtime = WasmtimeConfig {
        pooling: Some(PoolingConfig {
            // Each request's instance, the probe made at start, and room
            // for instances still being torn down.
            total_component_instances: instances + config.routes.len() as u32,
            max_memory_size: usize::try_from(largest).unwrap_or(usize::MAX),
            ..PoolingConfig::default()
        }),
        ..WasmtimeConfig::default()
    };
    let mut builder = Runtime::builder().wasmtime_config(wasmtime);
    if let Some(a) = audit {
        builder = builder.audit(a);
    }
    builder
        .build()
        .map_err(|e| ServeError::Start(e.to_string()))
}
