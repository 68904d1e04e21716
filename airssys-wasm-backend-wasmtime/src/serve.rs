//! Serving `wasi:http/incoming-handler`: one HTTP request handed to one
//! instance, with the instance's limits and grants.
//!
//! The request and the response's out-parameter are the resources of
//! wasmtime-wasi-http's sync bindings; the response reaches the server
//! through the callback it gives, as soon as the guest sets it (the
//! guest may go on writing the body). The server's HTTP layer (hyper,
//! routing, per-tenant bounds) lives in `airssys-wasm-http`.

use std::sync::Arc;
use std::time::Instant;

use airssys_wasm_core::{Error, Result, Usage};
use wasmtime::Engine;
use wasmtime::component::{Component, ComponentExportIndex, Resource};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};

use crate::instance::WasmtimeInstance;

/// The handler's call name, as errors and audit events name it.
pub const HANDLER: &str = "wasi:http/incoming-handler#handle";

/// What the guest answers: a response whose body it may still be writing,
/// or the error code it gave instead.
pub type Answer = std::result::Result<hyper::Response<HyperOutgoingBody>, ErrorCode>;

/// The `handle` function of the component's `wasi:http/incoming-handler`
/// export (any 0.2 version), if it has one.
pub(crate) fn handler_export(
    component: &Component,
    engine: &Engine,
) -> Option<ComponentExportIndex> {
    let ty = component.component_type();
    let name = ty
        .exports(engine)
        .map(|(name, _)| name)
        .find(|name| name.starts_with("wasi:http/incoming-handler@0.2."))?;
    let iface = component.get_export_index(None, name)?;
    component.get_export_index(Some(&iface), "handle")
}

/// One request for [`WasmtimeInstance::handle_http`].
pub struct HttpCall<B> {
    /// The request as the server received it, its body bounded by the
    /// server.
    pub request: hyper::Request<B>,
    /// `http` or `https`, as the guest's `incoming-request.scheme` says.
    pub scheme: Scheme,
    /// When the request must be answered by: guest code and every host
    /// call and wait end there (the component's timeout is not used; a
    /// component serving HTTP must be loaded with a timeout, or its code
    /// has no epoch checks and only host waits end at the deadline).
    pub deadline: Option<Instant>,
    /// The outgoing requests in flight the instance shares (see
    /// `WasiHttpHooks`): `None` for no bound.
    pub outbound: Option<Arc<tokio::sync::Semaphore>>,
}

impl WasmtimeInstance {
    /// Whether the component exports `wasi:http/incoming-handler`.
    pub fn serves_http(&self) -> bool {
        self.http_handler.is_some()
    }

    /// Calls the component's `wasi:http/incoming-handler.handle` with
    /// `call`'s request. `respond` gets the response when the guest sets
    /// it (or its error code); it is dropped unsent if the guest never
    /// does. Returns what the call used, measured from `start`, or why the
    /// guest failed, as other calls fail: [`Error::OutOfFuel`],
    /// [`Error::MemoryLimit`], [`Error::Timeout`], [`Error::Trap`], ...
    pub fn handle_http<B>(
        &mut self,
        call: HttpCall<B>,
        respond: impl FnOnce(Answer) + Send + Sync + 'static,
        start: Instant,
    ) -> Result<Usage>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        self.check_poisoned()?;
        let Some(index) = self.http_handler else {
            return Err(Error::NoSuchExport {
                name: HANDLER.to_owned(),
                available: self.export_names.clone(),
            });
        };
        let handle = self
            .instance
            .get_typed_func::<(
                Resource<HostIncomingRequest>,
                Resource<HostResponseOutparam>,
            ), ()>(&mut self.store, index)
            .map_err(|e| Error::Backend(format!("{HANDLER}: {e:#}")))?;
        let data = self.store.data_mut();
        data.http_hooks.outbound = call.outbound;
        let mut http = data.http();
        let request = http
            .new_incoming_request(call.scheme, call.request)
            .map_err(|e| Error::InvalidArguments {
                function: HANDLER.to_owned(),
                detail: format!("{e:#}"),
            })?;
        let out = http
            .new_response_outparam_from_callback(respond)
            .map_err(|e| Error::Backend(format!("{HANDLER}: {e:#}")))?;
        self.arm_until(call.deadline);
        match handle.call(&mut self.store, (request, out)) {
            Ok(()) => Ok(self.usage(start)),
            Err(e) => {
                let elapsed = start.elapsed();
                Err(self.fail(e, HANDLER, elapsed))
            }
        }
    }
}
