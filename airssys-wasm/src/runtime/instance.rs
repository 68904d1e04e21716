//! A live instance: resolving exports and dynamic calls.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use airssys_wasm_core::{AuditClock, AuditKind, BackendInstance, Error, Result, Usage, Value};

use super::component::{ComponentInner, Func};

impl crate::link::LinkedInstance for Instance {
    fn call(&mut self, name: &str, args: &[Value]) -> Result<Vec<Value>> {
        Instance::call(self, name, args)
    }
}

/// A live instance of a component.
pub struct Instance {
    pub(super) id: u64,
    /// Bumped each time the backend instance is renewed after a failed
    /// host call; typed handles of an older generation are refused.
    pub(super) generation: u64,
    /// Stamps call events from the call's own start time.
    pub(super) clock: AuditClock,
    pub(super) backend: Box<dyn BackendInstance>,
    pub(super) component: Arc<ComponentInner>,
}

impl Instance {
    /// The instance's number, unique within the runtime.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The component's name.
    pub fn component_name(&self) -> &str {
        self.component.id.name()
    }

    /// The component's identity (see [`Component::id`](crate::Component::id)).
    pub fn component_id(&self) -> &airssys_wasm_core::ComponentId {
        &self.component.id
    }

    /// The wasmtime instance behind this one, for embedders that use
    /// wasmtime's own interfaces on it (serving `wasi:http`:
    /// `airssys-wasm-http`); `None` on another backend. Its calls hold the
    /// component's limits and grants, but are not audited as calls of
    /// this instance: the embedder records what they do.
    #[cfg(feature = "wasmtime")]
    pub fn wasmtime_mut(&mut self) -> Option<&mut airssys_wasm_backend_wasmtime::WasmtimeInstance> {
        self.backend.as_any_mut().downcast_mut()
    }

    /// Resolves an export by call name: `name` for a root function,
    /// `interface#name` inside an exported interface.
    pub fn func(&mut self, name: &str) -> Result<Func> {
        Ok(Func {
            instance: self.id,
            inner: self.backend.func(name)?,
        })
    }

    /// Calls an export by name and returns its results.
    pub fn call(&mut self, name: &str, args: &[Value]) -> Result<Vec<Value>> {
        let f = self.func(name)?;
        self.call_func(&f, args).map(|(r, _)| r)
    }

    /// Calls a resolved export; returns its results and what it used.
    pub fn call_func(&mut self, func: &Func, args: &[Value]) -> Result<(Vec<Value>, Usage)> {
        if func.instance != self.id {
            return Err(Error::InvalidArguments {
                function: func.name().to_owned(),
                detail: format!(
                    "this Func belongs to instance {}, not {}",
                    func.instance, self.id
                ),
            });
        }
        let name = &func.inner.name();
        let called = self.audit_called(name)?;
        let result = self.backend.call(&func.inner, args);
        self.audit_outcome(called, name, result.as_ref().map(|(_, u)| Some(*u)))?;
        if let Err(e) = &result {
            self.renew_after_host_failure(e)?;
        }
        result
    }

    /// Runs the component as a command (its `wasi:cli/run` export) and
    /// returns the exit code: 0 for success, 1 when `run` returned an error,
    /// or the code the guest passed to `exit`.
    pub fn run(&mut self) -> Result<i32> {
        let name = self
            .component
            .info
            .export_functions()
            .map(|(n, _)| n)
            .find(|n| n.starts_with("wasi:cli/run@") && n.ends_with("#run"))
            .ok_or_else(|| Error::NoSuchExport {
                name: "wasi:cli/run".into(),
                available: self.component.info.export_names(),
            })?;
        match self.call(&name, &[]) {
            Ok(v) if v.first() == Some(&Value::Result(Ok(None))) => Ok(0),
            Ok(_) => Ok(1),
            Err(Error::Exit { code }) => Ok(code),
            Err(e) => Err(e),
        }
    }

    /// A host function refused or failed, which traps the guest at its
    /// import call; the component model forbids entering a trapped instance
    /// again, so the instance continues as a fresh one (its state starts
    /// over), audited as `instantiated` with the same number.
    pub(super) fn renew_after_host_failure(&mut self, e: &Error) -> Result<()> {
        if !matches!(e, Error::HostDenied { .. } | Error::HostFailed { .. }) {
            return Ok(());
        }
        let c = &self.component;
        if let Ok(backend) = c.compiled.instantiate(c.instance_config(self.id)) {
            self.backend = backend;
            self.generation += 1;
            c.runtime
                .record(c.id.label(), AuditKind::Instantiated { instance: self.id })?;
        }
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.component.live.fetch_sub(1, Ordering::AcqRel);
        // Dropping cannot report a failure; the sink's own error handling
        // (for example a full queue) applies.
        let _ = self.component.runtime.record(
            self.component.id.label(),
            AuditKind::Dropped { instance: self.id },
        );
    }
}
