//! Host functions: what the host offers to components, defined once for
//! every backend.
//!
//! A [`HostFunctions`] table maps `(interface, function)` to a closure over
//! [`Value`]s. A backend's only job is to expose the table to guests; what is
//! allowed is decided inside the closures through
//! [`CallContext::require`], which checks the caller's capability set and
//! records the decision in the audit log.
//!
//! ```
//! use airssys_wasm_core::{HostFunctions, Request, Value};
//!
//! let mut host = HostFunctions::new();
//! host.define("example:app/secrets@0.1.0", "get", |cx, _args, results| {
//!     cx.require(Request::Custom("secrets"))?;
//!     results[0] = Value::from("s3cr3t");
//!     Ok(())
//! });
//! assert!(host.provides_interface("example:app/secrets@0.1.0"));
//! ```

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::audit::{AuditError, AuditEvent, AuditKind, AuditSink, capped};
use crate::capability::{
    CapabilityKind, CapabilitySet, Decision, Request, canonical_ip, host_address,
};
use crate::value::Value;

/// Per-load data of the host functions ([`InstanceConfig::host_data`]):
/// what the host keeps for one loaded component, reached by the component's
/// calls without a lookup by name.
///
/// [`InstanceConfig::host_data`]: crate::InstanceConfig::host_data
pub type HostData = Arc<dyn Any + Send + Sync>;

/// What a host function knows about its caller.
pub struct CallContext<'a> {
    component: &'a Arc<str>,
    capabilities: &'a CapabilitySet,
    audit: &'a dyn AuditSink,
    host_data: Option<&'a HostData>,
    deadline: Option<Instant>,
}

impl<'a> CallContext<'a> {
    /// A context for a call made by `component` with the given grants.
    pub fn new(
        component: &'a Arc<str>,
        capabilities: &'a CapabilitySet,
        audit: &'a dyn AuditSink,
    ) -> Self {
        Self {
            component,
            capabilities,
            audit,
            host_data: None,
            deadline: None,
        }
    }

    /// The same context with the load's host data (see [`HostData`]).
    pub fn with_host_data(mut self, data: Option<&'a HostData>) -> Self {
        self.host_data = data;
        self
    }

    /// The same context with the call's deadline: when the guest's call
    /// must end (its timeout), which every blocking host operation must
    /// respect.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The load's host data of type `T`, if it has some.
    pub fn host_data<T: Any + Send + Sync>(&self) -> Option<&'a T> {
        self.host_data.and_then(|d| d.downcast_ref())
    }

    /// When the guest's call must end, if it has a timeout. A host function
    /// that waits (for the network, for a lock) waits at most until then.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The calling component's name.
    pub fn component(&self) -> &str {
        self.component
    }

    /// The calling component's grants.
    pub fn capabilities(&self) -> &CapabilitySet {
        self.capabilities
    }

    /// The audit sink of the runtime.
    pub fn audit(&self) -> &dyn AuditSink {
        self.audit
    }

    /// Records an event about this caller (for example
    /// [`AuditKind::HostLimit`]) in the audit log.
    pub fn record(&self, kind: AuditKind) -> Result<(), HostError> {
        self.audit
            .record(AuditEvent::new(self.component.clone(), kind))
            .map_err(HostError::Audit)
    }

    /// Checks `request` against the caller's grants and records the decision.
    ///
    /// Returns [`HostError::Denied`] when no grant covers it; the backend
    /// turns that into [`crate::Error::HostDenied`] for the caller.
    pub fn require(&self, request: Request<'_>) -> Result<(), HostError> {
        self.decide(request, "the host function refused the call")
            .and_then(|decision| match decision {
                Decision::Allowed => Ok(()),
                Decision::Denied => Err(HostError::Denied {
                    capability: request.kind(),
                    request: capped(request),
                }),
            })
    }

    /// Checks `request`, records the decision, and returns it. `outcome` says
    /// in the audit record what the guest gets when it is denied. The
    /// request is recorded as [`capped`] text: however long a path or
    /// namespace the guest sends, the record holds at most
    /// [`crate::audit::MAX_AUDIT_TEXT`] bytes, and formatting it never
    /// builds more.
    pub fn decide(&self, request: Request<'_>, outcome: &str) -> Result<Decision, HostError> {
        let decision = self.capabilities.allows(&request);
        let kind = match decision {
            Decision::Allowed => AuditKind::CapabilityAllowed {
                capability: request.kind(),
                request: capped(request),
            },
            Decision::Denied => AuditKind::CapabilityDenied {
                capability: request.kind(),
                request: capped(request),
                outcome: outcome.to_owned(),
            },
        };
        self.audit
            .record(AuditEvent::new(self.component.clone(), kind))
            .map_err(HostError::Audit)?;
        Ok(decision)
    }

    /// Checks at connect time that `request` (a [`Request::Connect`],
    /// already allowed by [`CallContext::decide`]) may connect to `addr`,
    /// an address its host resolved to, and records the decision with the
    /// address in the request text (`http api.example.com:443 resolved to
    /// 93.184.216.34`). See [`CapabilitySet::allows_connection`]. A caller
    /// connects only to addresses allowed here; a host written as an
    /// address is its own resolution and needs no second check.
    pub fn decide_connection(
        &self,
        request: Request<'_>,
        addr: IpAddr,
        outcome: &str,
    ) -> Result<Decision, HostError> {
        let decision = self.capabilities.allows_connection(&request, addr);
        let text = capped(format_args!("{request} resolved to {}", canonical_ip(addr)));
        let kind = match decision {
            Decision::Allowed => AuditKind::CapabilityAllowed {
                capability: request.kind(),
                request: text,
            },
            Decision::Denied => AuditKind::CapabilityDenied {
                capability: request.kind(),
                request: text,
                outcome: outcome.to_owned(),
            },
        };
        self.audit
            .record(AuditEvent::new(self.component.clone(), kind))
            .map_err(HostError::Audit)?;
        Ok(decision)
    }

    /// Checks at connect time that `request` (a [`Request::Connect`],
    /// already allowed by [`CallContext::decide`]) may connect to every one
    /// of `addrs`, the addresses its host resolved to: denied when there is
    /// none; for a host written as an address, allowed only if every
    /// address is that one (it was checked and recorded as written); for a
    /// name, each address through [`CallContext::decide_connection`],
    /// stopping at the first denial. HTTP clients call it before they
    /// connect, and connect only to addresses it allowed.
    pub fn decide_addresses(
        &self,
        request: Request<'_>,
        addrs: &[IpAddr],
        outcome: &str,
    ) -> Result<Decision, HostError> {
        let Request::Connect { host, .. } = request else {
            return Ok(Decision::Denied);
        };
        let allowed = if addrs.is_empty() {
            false
        } else if let Some(own) = host_address(host) {
            addrs.iter().all(|&a| canonical_ip(a) == own)
        } else {
            for &addr in addrs {
                if !self.decide_connection(request, addr, outcome)?.is_allowed() {
                    return Ok(Decision::Denied);
                }
            }
            true
        };
        Ok(if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        })
    }
}

/// The most guest data one host call takes by default: 4 MiB of strings
/// and lists (see [`crate::InstanceConfig::max_call_data`]).
pub const DEFAULT_MAX_CALL_DATA: u64 = 4 << 20;

/// A host call's arguments hold more than `max` bytes of strings and lists:
/// records a `host-limit` event and gives the error that fails the call.
/// Backends check it before they copy the arguments out of the guest.
pub fn over_call_data(cx: &CallContext<'_>, function: &str, max: u64) -> HostError {
    let limit = format!(
        "the arguments hold more than {max} bytes of strings and lists, the most one host \
         call takes (HostSettings::max_call_data)"
    );
    if let Err(e) = cx.record(AuditKind::HostLimit {
        function: function.to_owned(),
        limit: limit.clone(),
    }) {
        return e;
    }
    HostError::Failed(limit)
}

/// Why a host function did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The caller's grants do not cover the request.
    #[error("capability denied: `{request}` needs {capability}")]
    Denied {
        /// The kind of capability needed.
        capability: CapabilityKind,
        /// The request.
        request: String,
    },
    /// The function failed for another reason.
    #[error("{0}")]
    Failed(String),
    /// The call's deadline ([`CallContext::deadline`]) came while the host
    /// function waited (for the network, say). The backend fails the
    /// guest's call with [`crate::Error::Timeout`], as when guest code runs
    /// past it.
    #[error("the call's deadline came while the host function waited")]
    Timeout,
    /// The audit sink could not record the decision.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// The signature of a host function: the caller's context, the arguments,
/// and result slots to fill (one per result; pre-filled with placeholders).
pub type HostFn =
    dyn Fn(&mut CallContext<'_>, &[Value], &mut [Value]) -> Result<(), HostError> + Send + Sync;

/// A table of host functions, keyed by interface name (as the component
/// imports it, with version, e.g. `example:app/log@0.1.0`; the empty string
/// for functions imported at the world's root) and function name.
#[derive(Clone, Default)]
pub struct HostFunctions {
    interfaces: BTreeMap<String, BTreeMap<String, Arc<HostFn>>>,
}

impl HostFunctions {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines (or replaces) `interface#name`.
    pub fn define<F>(
        &mut self,
        interface: impl Into<String>,
        name: impl Into<String>,
        func: F,
    ) -> &mut Self
    where
        F: Fn(&mut CallContext<'_>, &[Value], &mut [Value]) -> Result<(), HostError>
            + Send
            + Sync
            + 'static,
    {
        self.interfaces
            .entry(interface.into())
            .or_default()
            .insert(name.into(), Arc::new(func));
        self
    }

    /// The function `interface#name`, if defined.
    pub fn get(&self, interface: &str, name: &str) -> Option<&Arc<HostFn>> {
        self.interfaces.get(interface)?.get(name)
    }

    /// `true` if any function of `interface` is defined.
    pub fn provides_interface(&self, interface: &str) -> bool {
        self.interfaces.contains_key(interface)
    }

    /// Every interface and its functions.
    pub fn interfaces(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, Arc<HostFn>>)> {
        self.interfaces.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl fmt::Debug for HostFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for (iface, funcs) in &self.interfaces {
            for name in funcs.keys() {
                list.entry(&format_args!("{iface}#{name}"));
            }
        }
        list.finish()
    }
}
