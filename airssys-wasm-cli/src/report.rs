//! What `run` tells the operator on stderr about audit events.
//!
//! By default, one human-readable line for each decision that changed what
//! the guest got during a call: a denial (`denied: …`), a host limit
//! (`limit: …`), a count of suppressed ones. WASI the component imports but
//! was not granted is recorded at instantiation as a denial with what the
//! guest gets instead; that is inert until the guest uses it, so it is
//! shown only with `-v`, which shows every event. `-q` shows none. The
//! audit log (`--audit FILE`) records everything either way.
//! `AIRSSYS_WASM_LOG` set: events go through `tracing` as before, with its
//! filter.
//!
//! Every line is escaped ([`Escaped`]): a guest's request cannot print a
//! line of its own or a terminal control sequence.

use std::io::Write;
use std::sync::Arc;

use airssys_wasm::audit::Escaped;
use airssys_wasm::{AuditError, AuditEvent, AuditKind, AuditSink, TracingSink};

/// How much `run` says on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only (`-q`).
    Quiet,
    /// Decisions that changed what the guest got (the default).
    Normal,
    /// Every audit event (`-v`).
    Verbose,
}

/// The stderr report, in front of the audit log if there is one.
pub struct Report {
    verbosity: Verbosity,
    log: Option<Arc<dyn AuditSink>>,
    /// `AIRSSYS_WASM_LOG` is set: tracing shows the events instead.
    tracing: Option<TracingSink>,
}

impl Report {
    /// A report at `verbosity`, passing every event on to `log`.
    pub fn new(verbosity: Verbosity, log: Option<Arc<dyn AuditSink>>) -> Self {
        let tracing = std::env::var_os("AIRSSYS_WASM_LOG").map(|_| TracingSink);
        Self {
            verbosity,
            log,
            tracing,
        }
    }

    /// The line shown for `event` at this verbosity, if any.
    fn line(&self, event: &AuditEvent) -> Option<String> {
        let component = &*event.component;
        let every = || {
            format!(
                "audit: {component}: {}",
                crate::audit::describe(&event.kind)
            )
        };
        let shown = match &event.kind {
            AuditKind::CapabilityDenied {
                capability,
                request,
                outcome,
            } if !is_inert(request) => Some(format!(
                "denied: {component}: {request} (needs {capability}): {outcome}"
            )),
            AuditKind::HostLimit { function, limit } => {
                Some(format!("limit: {component}: {function}: {limit}"))
            }
            AuditKind::HttpRequest {
                request,
                status: status @ 500..,
                error,
                ..
            } => Some(format!("http: {component}: {request}: {status}: {error}")),
            AuditKind::Suppressed { .. } => Some(every()),
            _ => None,
        };
        match self.verbosity {
            Verbosity::Quiet => None,
            Verbosity::Normal => shown,
            Verbosity::Verbose => shown.or_else(|| Some(every())),
        }
    }
}

/// A denial recorded at instantiation for WASI imported but not granted
/// (`wasi stdio`, `wasi filesystem`): what the guest gets instead, which
/// matters only if it uses the import.
fn is_inert(request: &str) -> bool {
    request.starts_with("wasi ")
}

impl AuditSink for Report {
    fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        match &self.tracing {
            Some(t) => t.record(event.clone())?,
            None => {
                if let Some(line) = self.line(&event) {
                    // stderr may be closed; the log below is what must not
                    // lose the event.
                    let _ = writeln!(std::io::stderr().lock(), "{}", Escaped(&line));
                }
            }
        }
        match &self.log {
            Some(log) => log.record(event),
            None => Ok(()),
        }
    }

    fn records_calls(&self) -> bool {
        self.verbosity == Verbosity::Verbose
            || self
                .tracing
                .as_ref()
                .is_some_and(TracingSink::records_calls)
            || self.log.as_ref().is_some_and(|l| l.records_calls())
    }

    fn flush(&self) -> Result<(), AuditError> {
        match &self.log {
            Some(log) => log.flush(),
            None => Ok(()),
        }
    }
}
