//! WASI p2 for one instance, built only from its capability set.
//!
//! What each grant gives is decided in `airssys_wasm_core::wasi` (shared
//! with the wasmi backend); this module turns it into a `WasiCtx`. Socket
//! addresses are checked and audited one by one, and `wasi:http` requests
//! in `http.rs`. `wasi:filesystem` is not wasmtime-wasi's: `fs.rs` serves
//! it, each open, create and delete checked and audited.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use airssys_wasm_core::capability::{NetKind, canonical_ip};
use airssys_wasm_core::wasi::{self, FIXED_RANDOM, WasiGrants};
use airssys_wasm_core::{
    AuditKind, AuditSink, CallContext, CapabilityKind, CapabilitySet, CaptureBuffer,
    InstanceConfig, OutputTarget, Request,
};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryInputPipe};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// Builds the WASI context of one instance.
pub(crate) fn build(config: &InstanceConfig, program: &str) -> wasmtime::Result<WasiCtx> {
    let caps: &CapabilitySet = &config.capabilities;
    let mut b = WasiCtxBuilder::new();
    b.arg(program);
    for a in &config.args {
        b.arg(a);
    }

    if caps.has_kind(CapabilityKind::Stdio) {
        match &config.stdio.stdin {
            Some(bytes) => {
                b.stdin(MemoryInputPipe::new(bytes.to_vec()));
            }
            None => {
                b.inherit_stdin();
            }
        }
        match &config.stdio.stdout {
            OutputTarget::Inherit => b.inherit_stdout(),
            OutputTarget::Capture(buf) => b.stdout(Captured(buf.clone())),
        };
        match &config.stdio.stderr {
            OutputTarget::Inherit => b.inherit_stderr(),
            OutputTarget::Capture(buf) => b.stderr(Captured(buf.clone())),
        };
    } else {
        b.stdin(ClosedStdin);
        let denied = DeniedOutput::new(config);
        b.stdout(denied.clone());
        b.stderr(denied);
    }

    let wasi_grants = WasiGrants::from_capabilities(caps);
    for (k, v) in &wasi_grants.env {
        b.env(k, v);
    }
    // No preopens here: `wasi:filesystem` is served by `fs.rs`.

    if !wasi_grants.clocks {
        b.wall_clock(FrozenClock);
        b.monotonic_clock(FrozenClock);
    }
    if !wasi_grants.random {
        b.secure_random(wasmtime_wasi::Deterministic::new(FIXED_RANDOM.to_vec()));
        b.insecure_random(wasmtime_wasi::Deterministic::new(FIXED_RANDOM.to_vec()));
        b.insecure_random_seed(0);
    }
    // Network: nothing is inherited. Every socket address goes through the
    // same check and audit as host functions; only socket grants can pass.
    // Name lookup stays off (it would leak queries to DNS), so socket grants
    // are matched by address: grant `10.0.0.5:5432` or `10.0.0.0/8:*`.
    // A client socket first binds an ephemeral port (port 0): that is part
    // of connecting and is not checked on its own. Binding a fixed port is
    // checked like a connection to that address.
    let component = config.component.clone();
    let grants = config.capabilities.clone();
    let audit = config.audit.clone();
    b.socket_addr_check(move |addr, usage| {
        let cx = CallContext::new(&component, &grants, &*audit);
        let allowed = socket_allowed(&cx, addr, usage);
        Box::pin(async move { allowed })
    });
    b.allow_tcp(wasi_grants.sockets);
    b.allow_udp(wasi_grants.sockets);
    b.allow_ip_name_lookup(false);
    Ok(b.build())
}

/// May the guest use `addr` for `usage`? Checked and audited as a
/// `socket` network request on the address in its canonical form
/// ([`canonical_ip`]: an IPv4-mapped IPv6 address, which the system
/// connects to over IPv4, is checked as that IPv4 address, so grants and
/// forbids of IPv4 hold for it). An IPv4-compatible IPv6 address
/// (`::a.b.c.d`) would be checked as `a.b.c.d` but connected to as IPv6:
/// it is refused. A client socket first binds an ephemeral port (port 0
/// of the unspecified address): that is part of connecting and is not
/// checked on its own.
pub(crate) fn socket_allowed(cx: &CallContext<'_>, addr: SocketAddr, usage: SocketAddrUse) -> bool {
    let ephemeral_bind = matches!(usage, SocketAddrUse::TcpBind | SocketAddrUse::UdpBind)
        && addr.port() == 0
        && addr.ip().is_unspecified();
    if ephemeral_bind {
        return true;
    }
    let ip = canonical_ip(addr.ip());
    let text = ip.to_string();
    let request = Request::Connect {
        host: &text,
        port: addr.port(),
        kind: NetKind::Socket,
    };
    let outcome = "the socket operation fails";
    let compatible =
        matches!(addr.ip(), IpAddr::V6(v6) if ip.is_ipv4() && v6.to_ipv4_mapped().is_none());
    if compatible {
        let _ = cx.record(AuditKind::CapabilityDenied {
            capability: CapabilityKind::Network,
            request: format!("socket {addr} (an IPv4-compatible IPv6 address)"),
            outcome: outcome.to_owned(),
        });
        return false;
    }
    cx.decide(request, outcome).is_ok_and(|d| d.is_allowed())
}

struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

struct ClosedStdin;

impl wasmtime_wasi::cli::IsTerminal for ClosedStdin {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdinStream for ClosedStdin {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::InputStream> {
        Box::new(ClosedInputStream)
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncRead + Send + Sync> {
        Box::new(tokio::io::empty())
    }
}

/// Guest output into an embedder's [`CaptureBuffer`].
#[derive(Clone)]
struct Captured(CaptureBuffer);

impl wasmtime_wasi::cli::IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Captured {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.0.write(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

/// stdout/stderr of an instance without the stdio capability: every write
/// fails, and the first attempt is audited.
#[derive(Clone)]
struct DeniedOutput {
    component: Arc<str>,
    audit: Arc<dyn AuditSink>,
    reported: Arc<AtomicBool>,
}

impl DeniedOutput {
    fn new(config: &InstanceConfig) -> Self {
        Self {
            component: config.component.clone(),
            audit: config.audit.clone(),
            reported: Arc::new(AtomicBool::new(false)),
        }
    }

    fn deny(&self) -> StreamError {
        if !self.reported.swap(true, Ordering::Relaxed) {
            wasi::audit_stdio_denied(&self.component, &*self.audit);
        }
        StreamError::LastOperationFailed(wasmtime::format_err!("{}", wasi::STDIO_DENIED))
    }
}

impl wasmtime_wasi::cli::IsTerminal for DeniedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for DeniedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for DeniedOutput {
    fn write(&mut self, _bytes: bytes::Bytes) -> Result<(), StreamError> {
        Err(self.deny())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Err(self.deny())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for DeniedOutput {
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use airssys_wasm_core::capability::HostPattern;
    use airssys_wasm_core::{Capability, MemorySink};

    fn sock(pattern: &str) -> Capability {
        Capability::network(HostPattern::new(pattern).unwrap(), NetKind::Socket)
    }

    fn requests(audit: &MemorySink, allowed: bool) -> Vec<String> {
        audit
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                AuditKind::CapabilityAllowed { request, .. } if allowed => Some(request),
                AuditKind::CapabilityDenied { request, .. } if !allowed => Some(request),
                _ => None,
            })
            .collect()
    }

    /// The system connects to an IPv4-mapped IPv6 address over IPv4, so it
    /// is checked as that IPv4 address: forbids and grants of IPv4 hold.
    #[test]
    fn a_mapped_ipv6_address_is_checked_as_its_ipv4_address() {
        let mut caps = CapabilitySet::new()
            .with(sock("*:*"))
            .with(sock("10.0.0.0/8:5432"));
        caps.forbid(sock("169.254.169.254:*"));
        let audit = MemorySink::new();
        let component: Arc<str> = "probe".into();
        let cx = CallContext::new(&component, &caps, &audit);
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        let connect = SocketAddrUse::TcpConnect;
        assert!(!socket_allowed(
            &cx,
            addr("[::ffff:169.254.169.254]:80"),
            connect
        ));
        assert!(!socket_allowed(&cx, addr("[::ffff:a9fe:a9fe]:80"), connect));
        assert!(!socket_allowed(&cx, addr("169.254.169.254:80"), connect));
        assert!(socket_allowed(&cx, addr("[::ffff:10.1.2.3]:5432"), connect));
        // Checked as IPv4 but connected to as IPv6: refused.
        assert!(!socket_allowed(&cx, addr("[::10.1.2.3]:5432"), connect));
        // The ephemeral bind before a connection is not a request.
        assert!(socket_allowed(&cx, addr("[::]:0"), SocketAddrUse::TcpBind));
        assert_eq!(
            requests(&audit, false),
            [
                "socket 169.254.169.254:80",
                "socket 169.254.169.254:80",
                "socket 169.254.169.254:80",
                "socket [::a01:203]:5432 (an IPv4-compatible IPv6 address)",
            ]
        );
        assert_eq!(requests(&audit, true), ["socket 10.1.2.3:5432"]);
    }
}
