//! A loaded component and its instantiation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use airssys_wasm_core::{
    AuditClock, AuditKind, CapabilitySet, CompiledComponent, ComponentId, ComponentInfo, Error,
    FuncRef, FuncType, HostData, InstanceConfig, Limits, Result, Stdio,
};
use airssys_wasm_security::Evaluation;

use super::RuntimeInner;
use super::instance::Instance;

impl ComponentInner {
    pub(super) fn instance_config(&self, id: u64) -> InstanceConfig {
        InstanceConfig {
            component: self.id.label().clone(),
            id: self.id.clone(),
            instance: id,
            capabilities: self.capabilities.clone(),
            limits: self.limits,
            audit: self.runtime.audit.clone(),
            stdio: self.stdio.clone(),
            args: self.args.clone(),
            host_data: Some(self.host_data.clone()),
            max_call_data: self.runtime.max_call_data,
        }
    }
}

pub(super) struct ComponentInner {
    /// The load's identity; its label is the audit identity.
    pub(super) id: ComponentId,
    pub(super) info: ComponentInfo,
    pub(super) compiled: Arc<dyn CompiledComponent>,
    pub(super) capabilities: Arc<CapabilitySet>,
    pub(super) limits: Limits,
    pub(super) evaluation: Option<Arc<Evaluation>>,
    pub(super) links: BTreeMap<String, Arc<crate::link::LinkSlot>>,
    pub(super) stdio: Stdio,
    pub(super) args: Vec<String>,
    /// The host interface's state of this load.
    pub(super) host_data: HostData,
    pub(super) live: AtomicU32,
    pub(super) runtime: Arc<RuntimeInner>,
}

/// A loaded, compiled component with its grants and limits. Cheap to clone;
/// instantiate it as often as needed.
#[derive(Clone)]
pub struct Component {
    pub(super) inner: Arc<ComponentInner>,
}

impl Component {
    /// The component's name: the key of its policy grants.
    pub fn name(&self) -> &str {
        self.inner.id.name()
    }

    /// Its identity: tenant, name, version and digest. Its label
    /// (`tenant/name@version`) is the component's audit identity.
    pub fn id(&self) -> &ComponentId {
        &self.inner.id
    }

    /// Its digest, imports and exports.
    pub fn info(&self) -> &ComponentInfo {
        &self.inner.info
    }

    /// What it is granted.
    pub fn capabilities(&self) -> &CapabilitySet {
        &self.inner.capabilities
    }

    /// Its limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// What the policy gave this component and why not more (its warnings),
    /// when it was loaded with [`LoadOptions::policy`](crate::LoadOptions::policy).
    pub fn evaluation(&self) -> Option<&Evaluation> {
        self.inner.evaluation.as_deref()
    }

    /// `true` if the backend took its compiled code from the artifact cache.
    pub fn loaded_from_cache(&self) -> bool {
        self.inner.compiled.loaded_from_cache()
    }

    /// Creates an instance with the component's grants and limits.
    pub fn instantiate(&self) -> Result<Instance> {
        let c = &self.inner;
        let rt = &c.runtime;
        let live = c.live.fetch_add(1, Ordering::AcqRel) + 1;
        let guard = LiveGuard(&c.live);
        // A refused instantiation is audited, then returned.
        let failed = |e: Error| -> Result<Instance> {
            rt.record(
                c.id.label(),
                AuditKind::InstantiationFailed {
                    error: e.to_string(),
                    class: e.class(),
                },
            )?;
            Err(e)
        };
        if let Some(limit) = c.limits.max_instances
            && live > limit
        {
            return failed(Error::InstanceLimit {
                component: c.id.to_string(),
                limit,
            });
        }
        let id = rt.next_instance.fetch_add(1, Ordering::Relaxed);
        match c.compiled.instantiate(c.instance_config(id)) {
            Ok(backend) => {
                rt.record(c.id.label(), AuditKind::Instantiated { instance: id })?;
                std::mem::forget(guard);
                Ok(Instance {
                    id,
                    generation: 0,
                    clock: AuditClock::new(),
                    backend,
                    component: self.inner.clone(),
                })
            }
            Err(e) => failed(e),
        }
    }
}

/// Gives back a live-instance slot unless the instance was created (then
/// it is forgotten and the instance's `Drop` gives the slot back). It
/// borrows the counter, so forgetting it leaks nothing.
struct LiveGuard<'a>(&'a AtomicU32);

impl Drop for LiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An export resolved once, for repeated calls without a name lookup.
#[derive(Clone, Debug)]
pub struct Func {
    pub(super) instance: u64,
    pub(super) inner: FuncRef,
}

impl Func {
    /// The export's call name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Its signature.
    pub fn ty(&self) -> &FuncType {
        self.inner.ty()
    }
}

impl crate::link::Linkable for Component {
    fn name(&self) -> &str {
        Component::name(self)
    }

    fn instantiate(&self) -> Result<Box<dyn crate::link::LinkedInstance>> {
        Ok(Box::new(Component::instantiate(self)?))
    }
}
