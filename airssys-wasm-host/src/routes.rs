//! HTTP routes to deployments: `host.toml`'s `[http]` table served by
//! `airssys-wasm-http`, each request by the active version of its
//! route's deployment (an upgrade, a canary's promotion or a rollback
//! changes what the next request gets).

use std::sync::Arc;

use airssys_wasm::Component;
use airssys_wasm_http::{Deployments, ServeConfig, Server};

use crate::error::{HostError, Result};
use crate::service::Host;

/// The host's deployments, as the HTTP server finds them.
struct HostDeployments(Arc<Host>);

impl Deployments for HostDeployments {
    fn component(&self, deployment: &str) -> airssys_wasm::Result<Component> {
        self.0
            .lifecycle()
            .get(deployment)
            .map(|d| d.active_component())
            .map_err(|e| airssys_wasm::Error::Backend(e.to_string()))
    }
}

/// Starts serving `config`'s routes. Their deployments must exist and
/// serve `wasi:http` on the wasmtime backend; the audit events go into the
/// host's log.
pub(crate) fn start(host: &Arc<Host>, config: ServeConfig) -> Result<Server> {
    let runtime = host.lifecycle().runtime().clone();
    Server::start_with(
        config,
        runtime,
        Some(Arc::new(HostDeployments(host.clone()))),
    )
    .map_err(|e| HostError::Config(format!("[http]: {e}")))
}
