//! `wasi:http/outgoing-handler`, gated by the instance's network grants.
//!
//! Every outgoing request's host and port (80 / 443 by default) go through
//! the same check and audit as host functions, as an `http` network
//! request; a refused request fails with `HTTP-request-denied` before any
//! connection is made. Allowed requests use wasmtime-wasi-http's client.

use std::future::Future;
use std::sync::Arc;

use airssys_wasm_core::capability::NetKind;
use airssys_wasm_core::{AuditSink, CallContext, CapabilitySet, Request};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The hooks of one instance.
pub(crate) struct GatedHttp {
    pub component: Arc<str>,
    pub capabilities: Arc<CapabilitySet>,
    pub audit: Arc<dyn AuditSink>,
}

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send>;

impl GatedHttp {
    fn allowed(&self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTP) {
                80
            } else {
                443
            });
        let cx = CallContext::new(&self.component, &self.capabilities, &*self.audit);
        let request = Request::Connect {
            host: host.trim_start_matches('[').trim_end_matches(']'),
            port,
            kind: NetKind::Http,
        };
        cx.decide(request, "the request fails with HTTP-request-denied")
            .is_ok_and(|d| d.is_allowed())
    }
}

impl WasiHttpHooks for GatedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Io,
    ) -> Sent {
        _ = fut;
        if !self.allowed(request.uri()) {
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Io))
        })
    }
}
