//! The runtime: loading components, creating instances, calling exports, and
//! auditing each step.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use airssys_wasm_core::{
    AuditEvent, AuditKind, AuditSink, Backend, ComponentId, ComponentInfo, Error, HostFunctions,
    Limits, Providers, Result, name_from_file_stem,
};

mod builder;
mod call_audit;
mod component;
mod instance;
mod load;
mod options;
mod source;
mod typed_call;

pub use builder::{BackendChoice, BackendKind, RuntimeBuilder};
pub use component::{Component, Func};
pub use instance::Instance;
pub use options::LoadOptions;
pub use source::Source;
pub use typed_call::TypedFunc;

struct RuntimeInner {
    backend: Arc<dyn Backend>,
    audit: Arc<dyn AuditSink>,
    host: Arc<HostFunctions>,
    providers: Arc<Providers>,
    max_call_data: u64,
    next_instance: AtomicU64,
}

impl RuntimeInner {
    fn record(&self, component: &Arc<str>, kind: AuditKind) -> Result<()> {
        self.record_at(SystemTime::now(), component, kind)
    }

    fn record_at(&self, time: SystemTime, component: &Arc<str>, kind: AuditKind) -> Result<()> {
        self.audit
            .record(AuditEvent::at(time, component.clone(), kind))
            .map_err(Error::from)
    }
}

/// Who a load is, before its bytes are read: the parts of its
/// [`ComponentId`] but the digest, and its audit label.
pub(super) struct Identity {
    pub(super) tenant: Option<String>,
    pub(super) name: String,
    pub(super) version: Option<String>,
    pub(super) label: Arc<str>,
    /// Whether the operator gave the name (not a manifest or a file).
    pub(super) named_by_operator: bool,
}

/// Loads components and owns what they share: the backend, the host
/// functions and the audit sink. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime with the default backend and a [`TracingSink`](crate::TracingSink).
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// A builder.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// The host providers of this runtime: `airssys:host`'s and those
    /// added with [`RuntimeBuilder::provider`]. They say which capability
    /// each import needs ([`Providers::capability_for`]).
    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    /// Reads, validates and compiles a component.
    ///
    /// Refusals (unreadable file, invalid bytes, missing imports, a name
    /// outside the character set of [`LoadOptions::name`]) are audited as
    /// `load-rejected` and returned as typed errors. Without a name given
    /// or in the manifest, a file's stem is the name, with every character
    /// outside the set replaced by `_`
    /// ([`airssys_wasm_core::name_from_file_stem`]): a file name never puts
    /// control characters into an audit identity.
    /// A compiled artifact the backend's cache refused (see the README,
    /// "Embedding") is audited as `cache-refused`; the load goes on with
    /// the component compiled from its bytes.
    pub fn load(&self, source: impl Into<Source>, options: LoadOptions) -> Result<Component> {
        let source = source.into();
        let named_by_operator = options.name.is_some();
        let chosen = options
            .name
            .clone()
            .or_else(|| options.manifest.as_ref().map(|m| m.name.clone()));
        let name: String = match chosen {
            Some(name) => name,
            None => match &source {
                Source::Path(p) => p.file_stem().map_or_else(
                    || "component".into(),
                    |s| name_from_file_stem(&s.to_string_lossy()),
                ),
                Source::Bytes(_) => "component".into(),
            },
        };
        let version = options
            .version
            .clone()
            .or_else(|| options.manifest.as_ref().and_then(|m| m.version.clone()));
        let label =
            match ComponentId::label_of(options.tenant.as_deref(), &name, version.as_deref()) {
                Ok(label) => label,
                Err(e) => {
                    let e = Error::InvalidName(e);
                    self.inner.record(
                        &Self::INVALID_NAME.into(),
                        AuditKind::LoadRejected {
                            reason: e.to_string(),
                            class: e.class(),
                        },
                    )?;
                    return Err(e);
                }
            };
        let identity = Identity {
            tenant: options.tenant.clone(),
            name,
            version,
            label,
            named_by_operator,
        };
        match self.load_inner(&source, &identity, options) {
            Ok(c) => Ok(c),
            Err(e) => {
                self.inner.record(
                    &identity.label,
                    AuditKind::LoadRejected {
                        reason: e.to_string(),
                        class: e.class(),
                    },
                )?;
                Err(e)
            }
        }
    }

    /// Checks that `source` is a component this runtime's backend can
    /// compile, without loading it, and describes it: what [`Runtime::load`]
    /// checks (valid bytes, for the backend's WebAssembly features; a shape
    /// the runtime can call; code the backend can compile) except its
    /// imports, which are not resolved: the component may import what
    /// another host provides, or what it is composed with later. Nothing is
    /// loaded, granted or run, so nothing is audited.
    ///
    /// ```
    /// # let runtime = airssys_wasm::Runtime::new().unwrap();
    /// // A component that imports a resource type: no host of this
    /// // runtime provides one, so it does not load; it is still valid.
    /// let bytes = wat::parse_str(r#"(component (import "r" (type (sub resource))))"#).unwrap();
    /// assert!(runtime.load(bytes.clone(), airssys_wasm::LoadOptions::new()).is_err());
    /// let info = runtime.check(bytes).unwrap();
    /// assert_eq!(info.imports()[0].name, "r");
    /// ```
    pub fn check(&self, source: impl Into<Source>) -> Result<ComponentInfo> {
        let bytes = source.into().read()?;
        let backend = &self.inner.backend;
        let info = ComponentInfo::parse_for_compile(&bytes, backend.features())?;
        backend.check(&bytes, &info, &Limits::default())?;
        Ok(info)
    }

    /// The audit identity of a load refused because the name it was given
    /// is not a component name: no component can have it (`<` is not in
    /// the names' character set), so the refusal is never attributed to a
    /// real component. The event's reason shows the name, escaped.
    pub const INVALID_NAME: &'static str = "<invalid-name>";

    /// Records what the audit layer still holds (the counts of suppressed
    /// refusals) and flushes the audit sink. Dropping the last handle of the
    /// runtime (and of its components and instances) does the same, except
    /// the sink's own flush.
    pub fn flush_audit(&self) -> Result<()> {
        self.inner.audit.flush().map_err(Error::from)
    }

    /// Records an event about a loaded component in this runtime's audit
    /// sink, under the component's identity: for layers built on the
    /// runtime (the lifecycle's swaps, restarts and health) whose decisions
    /// belong in the same trail as the runtime's own. A sink's refusal is
    /// returned as [`Error::Audit`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use airssys_wasm::{AuditKind, LifecycleStep, LoadOptions, MemorySink, Runtime};
    /// let audit = Arc::new(MemorySink::new());
    /// let runtime = Runtime::builder().audit(audit.clone()).build().unwrap();
    /// let bytes = wat::parse_str("(component)").unwrap();
    /// let c = runtime.load(bytes, LoadOptions::new().name("app").version("2")).unwrap();
    /// let step = AuditKind::Lifecycle { step: LifecycleStep::Promoted, detail: "from 1".into() };
    /// runtime.record(c.id(), step.clone()).unwrap();
    /// let last = audit.events().pop().unwrap();
    /// assert_eq!((&*last.component, last.kind), ("app@2", step));
    /// ```
    pub fn record(&self, component: &ComponentId, kind: AuditKind) -> Result<()> {
        self.inner.record(component.label(), kind)
    }

    /// Links `app`'s imported `interface` (reserved with
    /// [`LoadOptions::linked`]) to the same interface exported by
    /// `provider`, replacing any earlier provider; the app is not reloaded.
    /// Each keeps its own grants, limits, fuel and audit identity; calls
    /// across the link are audited as `link-call` with the app's identity.
    /// Fails when the app did not reserve the import, the provider does not
    /// export it, a function's types differ (both named in WIT), or the
    /// interface passes resources.
    pub fn link(&self, app: &Component, interface: &str, provider: &Component) -> Result<()> {
        let slot = app.inner.links.get(interface).ok_or_else(|| {
            Error::Composition(format!(
                "`{}` was not loaded with LoadOptions::linked(\"{interface}\")",
                app.name()
            ))
        })?;
        // The app's load refused interfaces that pass resources, so only
        // the types remain to compare.
        let wanted = app.info().imported_interface(interface).unwrap_or_default();
        let given = provider
            .info()
            .exported_interface(interface)
            .ok_or_else(|| {
                Error::Composition(format!(
                    "`{}` does not export `{interface}`",
                    provider.name()
                ))
            })?;
        let problems = airssys_wasm_core::interface_mismatches(wanted, given);
        if !problems.is_empty() {
            return Err(Error::Composition(format!(
                "cannot link `{}` to `{}` for `{interface}`:\n  {}",
                app.name(),
                provider.name(),
                problems.join("\n  ")
            )));
        }
        slot.set(Box::new(provider.clone()));
        Ok(())
    }
}
