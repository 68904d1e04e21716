//! WASI p2 for one instance, built only from its capability set.
//!
//! | capability | granted | not granted |
//! |---|---|---|
//! | stdio | host stdin/stdout/stderr (or the embedder's buffers) | stdin empty; writes to stdout/stderr fail with an error |
//! | env | the named variables, or every host variable with a granted prefix (`APP_*`) | an empty environment |
//! | dir | preopened directories | no directories |
//! | files `DIR/**` | `DIR` preopened at the same path: read-write with all four rights, else read-only | (other globs serve `airssys:host/filesystem` only) |
//! | clocks | host clocks | both clocks read 0 and never advance |
//! | random | host entropy | a fixed, deterministic byte sequence |
//! | network (socket) | connections to granted addresses, each checked and audited | every socket address and name lookup refused |
//! | network (http) | `wasi:http` requests to granted hosts, each checked and audited (see `http.rs`) | every request fails with `HTTP-request-denied` |
//!
//! Arguments are only the program name and what the embedder passes. When a
//! component imports a WASI interface whose capability is not granted, one
//! `capability-denied` audit event per kind is recorded at instantiation,
//! saying what the guest gets instead. Individual WASI filesystem calls are
//! not audited one by one; `airssys:host/filesystem` is the audited path.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use airssys_wasm_core::capability::{FileOp, FileRights, NetKind};
use airssys_wasm_core::{
    AuditEvent, AuditKind, AuditSink, CallContext, Capability, CapabilityKind, CapabilitySet,
    CaptureBuffer, InstanceConfig, OutputTarget, Request,
};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryInputPipe};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// What the guest gets instead of a capability it was not granted.
pub(crate) fn substitute(kind: CapabilityKind) -> &'static str {
    match kind {
        CapabilityKind::Stdio => "stdin is empty and writes to stdout/stderr fail",
        CapabilityKind::Env => "the environment is empty",
        CapabilityKind::Filesystem => "no directories are visible",
        CapabilityKind::Clocks => "the clocks read 0 and never advance",
        CapabilityKind::Random => "random bytes are a fixed deterministic sequence",
        CapabilityKind::Network => "every socket address and name lookup is refused",
        _ => "the host function refuses the call",
    }
}

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

    for grant in caps.iter() {
        match grant {
            Capability::Env { name, value } => match (name.strip_suffix('*'), value) {
                (Some(prefix), _) => {
                    for (k, v) in std::env::vars_os() {
                        if let (Some(k), Some(v)) = (k.to_str(), v.to_str())
                            && k.starts_with(prefix)
                        {
                            b.env(k, v);
                        }
                    }
                }
                (None, Some(v)) => {
                    b.env(name, v);
                }
                (None, None) => {
                    if let Ok(v) = std::env::var(name) {
                        b.env(name, v);
                    }
                }
            },
            Capability::Files { path, rights } => {
                // Only a whole tree (`dir/**`) can be a WASI preopen; other
                // globs are for `airssys:host/filesystem` alone.
                let Some(dir) = path.tree_root() else {
                    continue;
                };
                if !rights.allows(FileOp::Read) {
                    continue;
                }
                // WASI cannot separate write, create and delete: read-write
                // only with all four rights.
                let perms = if rights.contains(FileRights::ALL) {
                    FsPerms::ReadWrite
                } else {
                    FsPerms::ReadOnly
                };
                if std::path::Path::new(dir).is_dir() {
                    b.preopened_dir(dir, dir, perms).map_err(|e| {
                        wasmtime::format_err!("cannot open granted directory {dir}: {e}")
                    })?;
                }
            }
            Capability::Dir {
                host,
                guest,
                read_only,
            } => {
                let perms = if *read_only {
                    FsPerms::ReadOnly
                } else {
                    FsPerms::ReadWrite
                };
                b.preopened_dir(host, guest, perms).map_err(|e| {
                    wasmtime::format_err!("cannot open granted directory {}: {e}", host.display())
                })?;
            }
            _ => {}
        }
    }

    if !caps.has_kind(CapabilityKind::Clocks) {
        b.wall_clock(FrozenClock);
        b.monotonic_clock(FrozenClock);
    }
    if !caps.has_kind(CapabilityKind::Random) {
        b.secure_random(wasmtime_wasi::Deterministic::new(FIXED_BYTES.to_vec()));
        b.insecure_random(wasmtime_wasi::Deterministic::new(FIXED_BYTES.to_vec()));
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
        let ephemeral_bind = matches!(usage, SocketAddrUse::TcpBind | SocketAddrUse::UdpBind)
            && addr.port() == 0
            && addr.ip().is_unspecified();
        let allowed = ephemeral_bind || {
            let cx = CallContext::new(&component, &grants, &*audit);
            let ip = addr.ip().to_string();
            let request = Request::Connect {
                host: &ip,
                port: addr.port(),
                kind: NetKind::Socket,
            };
            cx.decide(request, "the socket operation fails")
                .is_ok_and(|d| d.is_allowed())
        };
        Box::pin(async move { allowed })
    });
    let sockets = wasi_granted(caps, CapabilityKind::Network);
    b.allow_tcp(sockets);
    b.allow_udp(sockets);
    b.allow_ip_name_lookup(false);
    Ok(b.build())
}

const FIXED_BYTES: [u8; 8] = [0x5a, 0x17, 0xc3, 0x88, 0x01, 0xfe, 0x42, 0x9d];

/// Does the set grant something WASI can use for this kind? For the
/// network that is a socket grant: HTTP grants serve the host's HTTP client.
fn wasi_granted(caps: &CapabilitySet, kind: CapabilityKind) -> bool {
    match kind {
        CapabilityKind::Network => caps.iter().any(|c| {
            matches!(
                c,
                Capability::Network {
                    net: NetKind::Socket,
                    ..
                }
            )
        }),
        kind => caps.has_kind(kind),
    }
}

/// Records, once per capability kind, that an instance imports WASI it was
/// not granted and what it gets instead.
pub(crate) fn audit_ungranted(
    config: &InstanceConfig,
    needed: &[CapabilityKind],
) -> Result<(), airssys_wasm_core::AuditError> {
    for &kind in needed {
        if !wasi_granted(&config.capabilities, kind) {
            config.audit.record(AuditEvent::new(
                config.component.clone(),
                AuditKind::CapabilityDenied {
                    capability: kind,
                    request: format!("wasi {kind}"),
                    outcome: substitute(kind).to_owned(),
                },
            ))?;
        }
    }
    Ok(())
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
            // An audit failure cannot be reported through a stream error any
            // better than the denial itself; the denial stands either way.
            let _ = self.audit.record(AuditEvent::new(
                self.component.clone(),
                AuditKind::CapabilityDenied {
                    capability: CapabilityKind::Stdio,
                    request: "write stdout/stderr".into(),
                    outcome: "the write failed (later attempts are not recorded again)".into(),
                },
            ));
        }
        StreamError::LastOperationFailed(wasmtime::format_err!(
            "stdio is not granted to this component (grant it with --allow-stdio)"
        ))
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
