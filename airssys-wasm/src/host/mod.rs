//! `airssys:host@0.1.0` (`wit/host.wit`), implemented once over core's
//! host-function table, so every backend gets the same behaviour.
//!
//! Each call goes: capability check → audit event → effect. A denial
//! reaches the guest as `error::denied` (or traps, when the component's
//! policy says `on-denied = "trap"`); a host limit (key-value quota,
//! response size, log rate) as `error::limit`, recorded as a `host-limit`
//! audit event. One module per interface, each small: [`kv`], [`fs`],
//! [`http`], and [`misc`] for logging, config, clocks and random.

mod fs;
mod http;
mod kv;
mod misc;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airssys_wasm_core::audit::capped;
use airssys_wasm_core::{
    AuditKind, CallContext, ComponentId, Decision, Error, HostError, HostFunctions, Request,
    Result, Value,
};
use airssys_wasm_security::OnDenied;

/// The version of `airssys:host` this runtime provides.
pub const HOST_PACKAGE: &str = "airssys:host";
const VERSION: &str = "0.1.0";

fn iface(name: &str) -> String {
    format!("{HOST_PACKAGE}/{name}@{VERSION}")
}

/// Settings of the host interface, shared by every component of a runtime.
#[derive(Clone, Debug)]
pub struct HostSettings {
    /// The key-value store's file (one per host; data survives restarts).
    /// `None` keeps the store in memory, for this runtime only.
    pub kv_path: Option<PathBuf>,
    /// Longest an HTTP request may take, name resolution included (also
    /// capped by the time left until the call's deadline, which fails the
    /// call when it comes first). Default 30 s.
    pub http_timeout: Duration,
    /// Largest HTTP response body. Default 10 MiB.
    pub http_max_response: u64,
    /// Log records per second per component (and the burst). Default 100.
    pub log_rate: u32,
    /// Largest log message, in bytes. Default 8 KiB.
    pub log_max_message: usize,
    /// Largest file `filesystem.read` returns, in bytes; a larger file is
    /// `error::limit`. Default 16 MiB.
    pub fs_max_read: u64,
    /// The most bytes of strings and lists the arguments of one host call
    /// may hold, for every host function (`airssys:host` and the
    /// embedder's). Checked before the arguments are copied out of the
    /// guest; a call over it fails (`HostFailed`) and is audited as a
    /// `host-limit`. Default 4 MiB ([`airssys_wasm_core::DEFAULT_MAX_CALL_DATA`]).
    pub max_call_data: u64,
}

impl Default for HostSettings {
    fn default() -> Self {
        Self {
            kv_path: None,
            http_timeout: Duration::from_secs(30),
            http_max_response: 10 << 20,
            log_rate: 100,
            log_max_message: 8 << 10,
            fs_max_read: 16 << 20,
            max_call_data: airssys_wasm_core::DEFAULT_MAX_CALL_DATA,
        }
    }
}

/// What the host knows about one loaded component: handed to its
/// instances as their [`airssys_wasm_core::HostData`].
#[derive(Debug)]
pub(crate) struct ComponentHost {
    /// The load's identity (none for instances made outside the runtime).
    pub id: Option<ComponentId>,
    pub config: BTreeMap<String, String>,
    pub on_denied: OnDenied,
    pub log: Mutex<misc::LogBucket>,
}

impl ComponentHost {
    pub fn new(
        id: ComponentId,
        config: BTreeMap<String, String>,
        on_denied: OnDenied,
        rate: u32,
    ) -> Self {
        Self {
            id: Some(id),
            ..Self::unknown(config, on_denied, rate)
        }
    }

    fn unknown(config: BTreeMap<String, String>, on_denied: OnDenied, rate: u32) -> Self {
        Self {
            id: None,
            config,
            on_denied,
            log: Mutex::new(misc::LogBucket::new(rate)),
        }
    }

    /// The tenant whose key-value namespaces the component reaches.
    pub fn tenant(&self) -> &str {
        self.id
            .as_ref()
            .map_or(airssys_wasm_core::DEFAULT_TENANT, |id| id.tenant())
    }
}

/// The host interface's state: settings, the key-value store, and what it
/// knows of each loaded component.
pub(crate) struct HostState {
    pub settings: HostSettings,
    pub kv: kv::Store,
    pub started: Instant,
    /// For callers that carry no host data (instances made outside the
    /// runtime): no config, denials as errors, no timeout.
    unknown: ComponentHost,
}

impl HostState {
    pub fn new(settings: HostSettings) -> Result<Self> {
        let kv = kv::Store::open(settings.kv_path.as_deref())?;
        let unknown = ComponentHost::unknown(BTreeMap::new(), OnDenied::Error, settings.log_rate);
        Ok(Self {
            settings,
            kv,
            started: Instant::now(),
            unknown,
        })
    }
}

/// Adds `airssys:host` to a host-function table.
pub(crate) fn define(table: &mut HostFunctions, state: Arc<HostState>) -> Result<()> {
    if let Some((name, _)) = table
        .interfaces()
        .find(|(name, _)| name.starts_with(&format!("{HOST_PACKAGE}/")))
    {
        return Err(Error::Backend(format!(
            "`{name}` is provided by the runtime; host functions may not redefine airssys:host"
        )));
    }
    misc::define(table, &state);
    kv::define(table, &state);
    fs::define(table, &state);
    http::define(table, &state);
    Ok(())
}

/// `result::ok(value)`.
pub(crate) fn ok(value: Option<Value>) -> Value {
    Value::Result(Ok(value.map(Box::new)))
}

/// `result::err(error::<case>(message))`.
pub(crate) fn err(case: &str, message: impl Into<String>) -> Value {
    Value::Result(Err(Some(Box::new(Value::variant(
        case,
        Some(Value::String(message.into())),
    )))))
}

/// A string argument.
pub(crate) fn string(args: &[Value], i: usize) -> Result<&str, HostError> {
    args.get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| HostError::Failed(format!("argument {i} is not a string")))
}

/// A `list<u8>` argument, as bytes (a backend lifts byte lists as bytes).
pub(crate) fn bytes(v: &Value) -> Result<std::borrow::Cow<'_, [u8]>, HostError> {
    v.as_bytes()
        .ok_or_else(|| HostError::Failed("expected list<u8>".into()))
}

/// A `list<u8>` value, held as bytes.
pub(crate) fn bytes_value(data: Vec<u8>) -> Value {
    Value::Bytes(data)
}

/// Checks and audits a request. `Ok(None)`: allowed, go on. `Ok(Some(e))`:
/// denied, return `e` to the guest. `Err`: denied and the policy says trap
/// (or the audit log failed).
pub(crate) fn gate(
    cx: &CallContext<'_>,
    host: &ComponentHost,
    request: Request<'_>,
) -> Result<Option<Value>, HostError> {
    gate_as(cx, host, request, &capped(request))
}

/// [`gate`], where a denial shows the guest `shown` instead of the request
/// (so that, say, a write denial reads the same whether the file exists).
pub(crate) fn gate_as(
    cx: &CallContext<'_>,
    host: &ComponentHost,
    request: Request<'_>,
    shown: &str,
) -> Result<Option<Value>, HostError> {
    let decision = cx.decide(request, denied_outcome(host))?;
    answer(host, request, shown, decision)
}

/// What the audit record says the guest gets for a denial.
pub(crate) fn denied_outcome(host: &ComponentHost) -> &'static str {
    match host.on_denied {
        OnDenied::Error => "the guest gets error::denied",
        OnDenied::Trap => "the call traps",
    }
}

/// The guest's answer to a decision: go on, `error::denied`, or a trap.
pub(crate) fn answer(
    host: &ComponentHost,
    request: Request<'_>,
    shown: &str,
    decision: Decision,
) -> Result<Option<Value>, HostError> {
    match decision {
        Decision::Allowed => Ok(None),
        Decision::Denied => match host.on_denied {
            OnDenied::Trap => Err(HostError::Denied {
                capability: request.kind(),
                request: capped(shown),
            }),
            OnDenied::Error => Ok(Some(err("denied", capped(shown)))),
        },
    }
}

/// A host limit refused the call: audit it and return `error::limit`.
/// `what` is formatted [`capped`]: a limit's text names what the guest
/// sent (a namespace, a URL), which may be huge. Pass `format_args!`
/// rather than a `String` built whole.
pub(crate) fn limit(
    cx: &CallContext<'_>,
    function: &str,
    what: impl std::fmt::Display,
) -> Result<Value, HostError> {
    let what = capped(what);
    cx.record(AuditKind::HostLimit {
        function: function.to_owned(),
        limit: what.clone(),
    })?;
    Ok(err("limit", what))
}

/// Defines `function` of `interface` with access to the caller's host
/// record and the shared state; `body` returns the result value.
pub(crate) fn func<F>(
    table: &mut HostFunctions,
    state: &Arc<HostState>,
    interface: &str,
    function: &'static str,
    body: F,
) where
    F: Fn(&mut CallContext<'_>, &HostState, &ComponentHost, &[Value]) -> Result<Value, HostError>
        + Send
        + Sync
        + 'static,
{
    let state = state.clone();
    table.define(iface(interface), function, move |cx, args, results| {
        let host = cx.host_data::<ComponentHost>().unwrap_or(&state.unknown);
        results[0] = body(cx, &state, host, args)?;
        Ok(())
    });
}
