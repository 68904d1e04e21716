//! The runtime: loading components, creating instances, calling exports, and
//! auditing each step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use airssys_wasm_security::signing::{Signature, SignatureError};
use airssys_wasm_security::{Evaluation, Manifest, OnDenied, Policy, Subject};

use crate::host::{ComponentHost, HostSettings, HostState};
use crate::typed::{TypedParams, TypedResults};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use airssys_wasm_core::{
    AuditClock, AuditEvent, AuditKind, AuditSink, Backend, BackendInstance, Capability,
    CapabilitySet, CompiledComponent, ComponentInfo, Error, FuncRef, FuncType, HostData,
    HostFunctions, InstanceConfig, Limits, Result, Stdio, TracingSink, Usage, Value,
};
use airssys_wasm_core::{audit::DenialThrottle, check_name, name_from_file_stem};

/// Where a component's bytes come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Bytes in memory.
    Bytes(Arc<[u8]>),
    /// A file.
    Path(PathBuf),
}

impl From<&Path> for Source {
    fn from(p: &Path) -> Self {
        Source::Path(p.to_owned())
    }
}

impl From<PathBuf> for Source {
    fn from(p: PathBuf) -> Self {
        Source::Path(p)
    }
}

impl From<&str> for Source {
    /// A path.
    fn from(p: &str) -> Self {
        Source::Path(p.into())
    }
}

impl Source {
    /// The bytes: those in memory, or the file's (an unreadable file is an
    /// [`Error::Io`] naming it).
    fn read(&self) -> Result<Arc<[u8]>> {
        match self {
            Source::Bytes(b) => Ok(b.clone()),
            Source::Path(p) => std::fs::read(p)
                .map(Into::into)
                .map_err(|source| Error::Io {
                    path: p.display().to_string(),
                    source,
                }),
        }
    }

    /// The path, or `(bytes)`, for messages.
    fn describe(&self) -> String {
        match self {
            Source::Path(p) => p.display().to_string(),
            Source::Bytes(_) => "(bytes)".into(),
        }
    }
}

impl From<Vec<u8>> for Source {
    fn from(b: Vec<u8>) -> Self {
        Source::Bytes(b.into())
    }
}

impl From<&[u8]> for Source {
    fn from(b: &[u8]) -> Self {
        Source::Bytes(b.into())
    }
}

/// How to load a component: its name, grants, limits, stdio and arguments.
///
/// ```
/// use airssys_wasm::{Capability, LoadOptions, Limits};
/// let opts = LoadOptions::new()
///     .name("greeter")
///     .grant(Capability::Stdio)
///     .limits(Limits::default().with_fuel(1_000_000));
/// assert_eq!(opts.capabilities().iter().count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    name: Option<String>,
    capabilities: CapabilitySet,
    limits: Option<Limits>,
    stdio: Stdio,
    args: Vec<String>,
    policy: Option<Arc<Policy>>,
    manifest: Option<Arc<Manifest>>,
    signature: Option<Signature>,
    config: BTreeMap<String, String>,
    linked: Vec<String>,
}

impl LoadOptions {
    /// Nothing granted, default [`Limits`], no name (the manifest's name,
    /// else the file stem, else `component`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The component's name: its identity in audit records and the key of
    /// its policy grants. It must be 1-64 characters of `A-Z a-z 0-9 - _ .`
    /// beginning with a letter or digit ([`airssys_wasm_core::check_name`]);
    /// [`Runtime::load`] refuses any other with [`Error::InvalidName`]
    /// (audited as `load-rejected` under the identity
    /// [`Runtime::INVALID_NAME`]).
    ///
    /// ```
    /// use airssys_wasm::{Error, LoadOptions, Runtime};
    /// let runtime = Runtime::new().unwrap();
    /// let refused = runtime.load(b"\0asm".to_vec(), LoadOptions::new().name("evil\nFAKE LINE"));
    /// assert!(matches!(refused, Err(Error::InvalidName(_))));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Grants one capability.
    pub fn grant(mut self, capability: Capability) -> Self {
        self.capabilities.grant(capability);
        self
    }

    /// Replaces the whole capability set.
    pub fn capabilities_set(mut self, capabilities: CapabilitySet) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The granted capabilities.
    pub fn capabilities(&self) -> &CapabilitySet {
        &self.capabilities
    }

    /// Sets the limits of every instance. Under a policy, the values set
    /// here (`Some`) replace the manifest's and are still clamped to the
    /// policy's maxima; start from [`Limits::unlimited`] to set only some.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Loads under an operator policy and the component's manifest (if
    /// any): the component gets what the manifest requests and the policy
    /// grants, plus the capabilities granted here directly; a request the
    /// policy forbids refuses the load (audited as `load-rejected`). The
    /// manifest's name is the component's name unless [`LoadOptions::name`]
    /// sets one. [`Component::evaluation`] tells what was granted and why
    /// not more.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use airssys_wasm::security::{Manifest, Policy};
    /// use airssys_wasm::LoadOptions;
    /// let policy = Policy::parse("policy.toml", "[grant.greeter]\nclocks = true\n").unwrap();
    /// let manifest = Manifest::parse(
    ///     "Component.toml",
    ///     "[component]\nname = \"greeter\"\n[capabilities]\nclocks = true\n",
    /// )
    /// .unwrap();
    /// let options = LoadOptions::new().policy(Arc::new(policy), Some(Arc::new(manifest)));
    /// ```
    pub fn policy(mut self, policy: Arc<Policy>, manifest: Option<Arc<Manifest>>) -> Self {
        self.policy = Some(policy);
        self.manifest = manifest;
        self
    }

    /// The component's signature, for components loaded from bytes (one
    /// loaded from a path is signed by the `.sig` file beside it). Checked
    /// under a policy: see [`Runtime::load`].
    pub fn signature(mut self, signature: Signature) -> Self {
        self.signature = Some(signature);
        self
    }

    /// Where stdio goes when [`Capability::Stdio`] is granted.
    pub fn stdio(mut self, stdio: Stdio) -> Self {
        self.stdio = stdio;
        self
    }

    /// Reserves an imported interface (`example:app/logger@0.1.0`) for a
    /// provider component linked later with [`Runtime::link`] (and
    /// replaceable by linking again). Until then, calling it fails with
    /// [`Error::HostFailed`].
    pub fn linked(mut self, interface: impl Into<String>) -> Self {
        self.linked.push(interface.into());
        self
    }

    /// A configuration value the component reads with
    /// `airssys:host/config`. Under a policy, the manifest's and policy's
    /// values come first and these are added over them.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Command-line arguments after the program name.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
}

/// A backend this build of airssys-wasm includes, chosen by name.
///
/// ```
/// use airssys_wasm::BackendKind;
/// let kind: BackendKind = "wasmtime".parse().unwrap();
/// assert_eq!(kind.name(), "wasmtime");
/// assert!("v8".parse::<BackendKind>().unwrap_err().to_string().contains("wasmtime"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// wasmtime: a JIT compiler, the fastest calls (feature `wasmtime`).
    #[cfg(feature = "wasmtime")]
    Wasmtime,
    /// wasmi: an interpreter, no JIT, fast start-up and small footprint
    /// (feature `wasmi`).
    #[cfg(feature = "wasmi")]
    Wasmi,
}

impl BackendKind {
    /// Every backend this build includes, the default first.
    pub const ALL: &'static [BackendKind] = &[
        #[cfg(feature = "wasmtime")]
        BackendKind::Wasmtime,
        #[cfg(feature = "wasmi")]
        BackendKind::Wasmi,
    ];

    /// The backend's name, as [`Runtime::backend_name`] gives it.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "wasmtime")]
            BackendKind::Wasmtime => "wasmtime",
            #[cfg(feature = "wasmi")]
            BackendKind::Wasmi => "wasmi",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BackendKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        BackendKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = BackendKind::ALL.iter().map(|k| k.name()).collect();
                Error::Backend(format!(
                    "unknown backend `{s}`; this build has: {} (cargo features of airssys-wasm \
                     add the others)",
                    known.join(", ")
                ))
            })
    }
}

/// What [`RuntimeBuilder::backend`] takes: a [`BackendKind`] this build
/// includes, or any [`Backend`] implementation built elsewhere.
pub enum BackendChoice {
    /// One of the built-in backends, with default settings (or those of
    /// [`RuntimeBuilder::wasmtime_config`]).
    Kind(BackendKind),
    /// A backend built by the caller.
    Custom(Arc<dyn Backend>),
}

impl From<BackendKind> for BackendChoice {
    fn from(k: BackendKind) -> Self {
        BackendChoice::Kind(k)
    }
}

impl From<Arc<dyn Backend>> for BackendChoice {
    fn from(b: Arc<dyn Backend>) -> Self {
        BackendChoice::Custom(b)
    }
}

/// Builds a [`Runtime`].
///
/// ```
/// use std::sync::Arc;
/// use airssys_wasm::{MemorySink, Runtime};
/// let audit = Arc::new(MemorySink::new());
/// let runtime = Runtime::builder().audit(audit.clone()).build().unwrap();
/// assert_eq!(runtime.backend_name(), "wasmtime");
/// ```
#[derive(Default)]
pub struct RuntimeBuilder {
    backend: Option<BackendChoice>,
    audit: Option<Arc<dyn AuditSink>>,
    host: HostFunctions,
    host_settings: HostSettings,
    #[cfg(feature = "wasmtime")]
    wasmtime: airssys_wasm_backend_wasmtime::WasmtimeConfig,
}

impl RuntimeBuilder {
    /// Where audit events go. Default: [`TracingSink`].
    ///
    /// The runtime records into the sink through a
    /// [`DenialThrottle`](airssys_wasm_core::audit::DenialThrottle): at most
    /// [`DENIAL_BURST`](airssys_wasm_core::audit::DENIAL_BURST) denials
    /// (and as many host-limit refusals) per component per second are
    /// recorded one by one, the rest as a count in a `suppressed` event.
    /// Every string of an event is capped at
    /// [`MAX_AUDIT_TEXT`](airssys_wasm_core::audit::MAX_AUDIT_TEXT) bytes.
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// The host functions components may import.
    pub fn host_functions(mut self, host: HostFunctions) -> Self {
        self.host = host;
        self
    }

    /// Settings of the `airssys:host` interface every component may import
    /// (the key-value store's file, HTTP timeout and response limit, log
    /// rate).
    pub fn host_settings(mut self, settings: HostSettings) -> Self {
        self.host_settings = settings;
        self
    }

    /// Chooses the backend: a [`BackendKind`] (`wasmtime` is the default
    /// when the feature is on, `wasmi` otherwise), or a backend built
    /// elsewhere (any [`Backend`] implementation, as `Arc<dyn Backend>`).
    ///
    /// ```
    /// use airssys_wasm::{BackendKind, Runtime};
    /// let runtime = Runtime::builder().backend(BackendKind::ALL[0]).build().unwrap();
    /// assert_eq!(runtime.backend_name(), BackendKind::ALL[0].name());
    /// ```
    pub fn backend(mut self, backend: impl Into<BackendChoice>) -> Self {
        self.backend = Some(backend.into());
        self
    }

    /// Settings of the default wasmtime backend (cache directory, pooling).
    #[cfg(feature = "wasmtime")]
    pub fn wasmtime_config(
        mut self,
        config: airssys_wasm_backend_wasmtime::WasmtimeConfig,
    ) -> Self {
        self.wasmtime = config;
        self
    }

    /// Builds the runtime. Fails when the key-value store cannot be opened,
    /// or when the host functions redefine `airssys:host`.
    pub fn build(mut self) -> Result<Runtime> {
        let host_state = Arc::new(HostState::new(self.host_settings.clone())?);
        crate::host::define(&mut self.host, host_state.clone())?;
        let backend = match self.backend {
            Some(BackendChoice::Custom(b)) => b,
            Some(BackendChoice::Kind(kind)) => built_in(
                kind,
                #[cfg(feature = "wasmtime")]
                self.wasmtime,
            )?,
            None => match BackendKind::ALL.first() {
                Some(kind) => built_in(
                    *kind,
                    #[cfg(feature = "wasmtime")]
                    self.wasmtime,
                )?,
                None => {
                    return Err(Error::Backend(
                        "no backend: enable the `wasmtime` or `wasmi` feature of airssys-wasm, \
                         or pass one with RuntimeBuilder::backend"
                            .into(),
                    ));
                }
            },
        };
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                backend,
                // The throttle is put around every sink, the caller's
                // included: the host-function layer and WASI's hooks all
                // record through it.
                audit: Arc::new(DenialThrottle::new(
                    self.audit.unwrap_or_else(|| Arc::new(TracingSink)),
                )),
                host: Arc::new(self.host),
                host_state,
                next_instance: AtomicU64::new(1),
            }),
        })
    }
}

fn built_in(
    kind: BackendKind,
    #[cfg(feature = "wasmtime")] wasmtime: airssys_wasm_backend_wasmtime::WasmtimeConfig,
) -> Result<Arc<dyn Backend>> {
    Ok(match kind {
        #[cfg(feature = "wasmtime")]
        BackendKind::Wasmtime => Arc::new(
            airssys_wasm_backend_wasmtime::WasmtimeBackend::with_config(wasmtime)?,
        ),
        #[cfg(feature = "wasmi")]
        BackendKind::Wasmi => Arc::new(airssys_wasm_backend_wasmi::WasmiBackend::new()?),
    })
}

struct RuntimeInner {
    backend: Arc<dyn Backend>,
    audit: Arc<dyn AuditSink>,
    host: Arc<HostFunctions>,
    host_state: Arc<HostState>,
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

/// Loads components and owns what they share: the backend, the host
/// functions and the audit sink. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

impl Runtime {
    /// A runtime with the default backend and a [`TracingSink`].
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
        let name: Arc<str> = match chosen {
            Some(name) => {
                if let Err(e) = check_name(&name) {
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
                name.into()
            }
            None => match &source {
                Source::Path(p) => p.file_stem().map_or_else(
                    || "component".into(),
                    |s| name_from_file_stem(&s.to_string_lossy()),
                ),
                Source::Bytes(_) => "component".into(),
            }
            .into(),
        };
        match self.load_inner(&source, &name, named_by_operator, options) {
            Ok(c) => Ok(c),
            Err(e) => {
                self.inner.record(
                    &name,
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

    fn load_inner(
        &self,
        source: &Source,
        name: &Arc<str>,
        named_by_operator: bool,
        options: LoadOptions,
    ) -> Result<Component> {
        let bytes = source.read()?;
        // The signature is checked before the bytes are parsed: under
        // `require-signed`, an unsigned file is not even described.
        let signature = match &options.policy {
            Some(policy) => Some(check_signature(source, &bytes, &options, policy)?),
            None => None,
        };
        let info = ComponentInfo::parse_for_compile(&bytes, self.inner.backend.features())?;
        let (capabilities, limits, evaluation) = match (&options.policy, signature) {
            (Some(policy), Some((signer, warning))) => {
                let direct: Vec<Capability> = options.capabilities.iter().cloned().collect();
                let direct_limits = options.limits.unwrap_or_else(Limits::unlimited);
                let subject = Subject {
                    name,
                    named_by_operator,
                    signer: signer.as_deref(),
                };
                let mut e = policy
                    .evaluate(
                        &subject,
                        options.manifest.as_deref(),
                        &direct,
                        &direct_limits,
                    )
                    .map_err(|e| Error::Policy(e.to_string()))?;
                e.warnings.extend(warning);
                (e.capabilities.clone(), e.limits, Some(Arc::new(e)))
            }
            _ => (
                options.capabilities,
                options.limits.unwrap_or_default(),
                None,
            ),
        };
        let mut links = BTreeMap::new();
        let compiled = if options.linked.is_empty() {
            self.inner
                .backend
                .compile(&bytes, &info, &self.inner.host, &limits)?
        } else {
            let mut table = (*self.inner.host).clone();
            for interface in &options.linked {
                let functions = info.imported_interface(interface).ok_or_else(|| {
                    Error::Composition(format!(
                        "`{interface}` is not an interface this component imports; it imports: {}",
                        info.imports()
                            .iter()
                            .map(|i| i.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                if let Some((f, ty)) = functions.iter().find(|(_, ty)| ty.has_resource()) {
                    return Err(Error::Composition(format!(
                        "`{interface}` passes resources (`{f}: {ty}`), which do not cross a \
                         run-time link; compose the components statically instead"
                    )));
                }
                let slot = Arc::new(crate::link::LinkSlot::default());
                crate::link::define_forwarders(&mut table, interface, functions, &slot);
                links.insert(interface.clone(), slot);
            }
            self.inner
                .backend
                .compile(&bytes, &info, &Arc::new(table), &limits)?
        };
        // The backend compiled the component itself because its cache held
        // an artifact it would not trust: someone wrote to the cache.
        if let Some(reason) = compiled.cache_refusal() {
            self.inner.record(
                name,
                AuditKind::CacheRefused {
                    reason: reason.to_owned(),
                },
            )?;
        }
        let mut config = evaluation
            .as_ref()
            .map(|e| e.config.clone())
            .unwrap_or_default();
        config.extend(options.config);
        let on_denied = options
            .policy
            .as_ref()
            .map_or(OnDenied::default(), |p| p.on_denied);
        // What the host keeps for this load: reached by its instances'
        // calls directly, never looked up by name, so two loads of one name
        // never share or replace each other's state.
        let host_data: HostData = Arc::new(ComponentHost::new(
            config,
            on_denied,
            self.inner.host_state.settings.log_rate,
        ));
        self.inner.record(
            name,
            AuditKind::Loaded {
                digest: info.digest().to_string(),
                size: info.size(),
                backend: self.inner.backend.name().into(),
            },
        )?;
        Ok(Component {
            inner: Arc::new(ComponentInner {
                name: name.clone(),
                info,
                compiled,
                capabilities: Arc::new(capabilities),
                limits,
                evaluation,
                links,
                stdio: options.stdio,
                args: options.args,
                host_data,
                live: AtomicU32::new(0),
                runtime: self.inner.clone(),
            }),
        })
    }
}

/// Under a policy: a component that must be signed is refused unless a
/// trusted key signed exactly these bytes; one that need not be is refused
/// only when its signature is broken (an untrusted key is a warning).
/// Returns the trusted signer's name, if any, and a warning.
fn check_signature(
    source: &Source,
    bytes: &[u8],
    options: &LoadOptions,
    policy: &Policy,
) -> Result<(Option<String>, Option<String>)> {
    let refuse = |e: SignatureError| {
        Error::Policy(format!(
            "{}: refused: {e}{}",
            source.describe(),
            if policy.require_signed {
                format!(" (require-signed = true in {})", policy.file().display())
            } else {
                String::new()
            }
        ))
    };
    let signature = match (&options.signature, source) {
        (Some(s), _) => Ok(s.clone()),
        (None, Source::Path(p)) => Signature::load_for(p),
        (None, Source::Bytes(_)) => Err(SignatureError::Missing {
            component: PathBuf::from("(bytes)"),
            sig: PathBuf::from("(none given with LoadOptions::signature)"),
        }),
    };
    let signature = match signature {
        Err(SignatureError::Missing { .. }) if !policy.require_signed => return Ok((None, None)),
        Err(e) => return Err(refuse(e)),
        Ok(s) => s,
    };
    let signer = options.manifest.as_ref().and_then(|m| m.signer.as_deref());
    match signature.verify_trusted(bytes, &policy.trusted_keys, signer) {
        Ok(key) => Ok((Some(key.name.clone()), None)),
        Err(e @ SignatureError::Untrusted { .. }) if !policy.require_signed => {
            Ok((None, Some(e.to_string())))
        }
        Err(e) => Err(refuse(e)),
    }
}

impl ComponentInner {
    fn instance_config(&self, id: u64) -> InstanceConfig {
        InstanceConfig {
            component: self.name.clone(),
            instance: id,
            capabilities: self.capabilities.clone(),
            limits: self.limits,
            audit: self.runtime.audit.clone(),
            stdio: self.stdio.clone(),
            args: self.args.clone(),
            host_data: Some(self.host_data.clone()),
            max_call_data: self.runtime.host_state.settings.max_call_data,
        }
    }
}

struct ComponentInner {
    name: Arc<str>,
    info: ComponentInfo,
    compiled: Arc<dyn CompiledComponent>,
    capabilities: Arc<CapabilitySet>,
    limits: Limits,
    evaluation: Option<Arc<Evaluation>>,
    links: BTreeMap<String, Arc<crate::link::LinkSlot>>,
    stdio: Stdio,
    args: Vec<String>,
    /// The host interface's state of this load.
    host_data: HostData,
    live: AtomicU32,
    runtime: Arc<RuntimeInner>,
}

/// A loaded, compiled component with its grants and limits. Cheap to clone;
/// instantiate it as often as needed.
#[derive(Clone)]
pub struct Component {
    inner: Arc<ComponentInner>,
}

impl Component {
    /// The component's name (its audit identity).
    pub fn name(&self) -> &str {
        &self.inner.name
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
    /// when it was loaded with [`LoadOptions::policy`].
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
        if let Some(limit) = c.limits.max_instances
            && live > limit
        {
            let e = Error::InstanceLimit {
                component: c.name.to_string(),
                limit,
            };
            rt.record(
                &c.name,
                AuditKind::InstantiationFailed {
                    error: e.to_string(),
                    class: e.class(),
                },
            )?;
            return Err(e);
        }
        let id = rt.next_instance.fetch_add(1, Ordering::Relaxed);
        match c.compiled.instantiate(c.instance_config(id)) {
            Ok(backend) => {
                rt.record(&c.name, AuditKind::Instantiated { instance: id })?;
                std::mem::forget(guard);
                Ok(Instance {
                    id,
                    generation: 0,
                    clock: AuditClock::new(),
                    backend,
                    component: self.inner.clone(),
                })
            }
            Err(e) => {
                rt.record(
                    &c.name,
                    AuditKind::InstantiationFailed {
                        error: e.to_string(),
                        class: e.class(),
                    },
                )?;
                Err(e)
            }
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
    instance: u64,
    inner: FuncRef,
}

impl Func {
    /// The export's call name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Its signature.
    pub fn ty(&self) -> &FuncType {
        &self.inner.ty
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

impl crate::link::LinkedInstance for Instance {
    fn call(&mut self, name: &str, args: &[Value]) -> Result<Vec<Value>> {
        Instance::call(self, name, args)
    }
}

/// A live instance of a component.
pub struct Instance {
    id: u64,
    /// Bumped each time the backend instance is renewed after a failed
    /// host call; typed handles of an older generation are refused.
    generation: u64,
    /// Stamps call events from the call's own start time.
    clock: AuditClock,
    backend: Box<dyn BackendInstance>,
    component: Arc<ComponentInner>,
}

impl Instance {
    /// The instance's number, unique within the runtime.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The component's name.
    pub fn component_name(&self) -> &str {
        &self.component.name
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
        let name = &func.inner.name;
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
    fn renew_after_host_failure(&mut self, e: &Error) -> Result<()> {
        if !matches!(e, Error::HostDenied { .. } | Error::HostFailed { .. }) {
            return Ok(());
        }
        let c = &self.component;
        if let Ok(backend) = c.compiled.instantiate(c.instance_config(self.id)) {
            self.backend = backend;
            self.generation += 1;
            c.runtime
                .record(&c.name, AuditKind::Instantiated { instance: self.id })?;
        }
        Ok(())
    }

    /// Records that `function` is about to be called, when the sink keeps
    /// call events ([`AuditSink::records_calls`]); returns the call's start
    /// time and its stamp, or `None` when call events are not kept (then no
    /// clock is read).
    #[inline]
    fn audit_called(&mut self, function: &Arc<str>) -> Result<Option<(Instant, SystemTime)>> {
        if !self.component.runtime.audit.records_calls() {
            return Ok(None);
        }
        let start = Instant::now();
        let time = self.clock.wall(start);
        self.component.runtime.record_at(
            time,
            &self.component.name,
            AuditKind::Called {
                instance: self.id,
                function: function.clone(),
            },
        )?;
        Ok(Some((start, time)))
    }

    /// Records how a call ended. A return is recorded when its call was
    /// (`called` is `Some`), stamped at the call's stamp plus its elapsed
    /// time: no second clock reading. A trap or limit hit is always
    /// recorded.
    #[inline]
    fn audit_outcome(
        &mut self,
        called: Option<(Instant, SystemTime)>,
        function: &Arc<str>,
        outcome: Result<Option<Usage>, &Error>,
    ) -> Result<()> {
        // Kept inline: the common case, a return nobody records, costs a
        // comparison.
        if called.is_none() && outcome.is_ok() {
            return Ok(());
        }
        self.record_outcome(called, function, outcome)
    }

    fn record_outcome(
        &mut self,
        called: Option<(Instant, SystemTime)>,
        function: &Arc<str>,
        outcome: Result<Option<Usage>, &Error>,
    ) -> Result<()> {
        let (time, kind) = match outcome {
            Ok(usage) => {
                let (Some((_, called)), Some(usage)) = (called, usage) else {
                    return Ok(());
                };
                (
                    called + usage.elapsed,
                    AuditKind::Returned {
                        instance: self.id,
                        function: function.clone(),
                        usage,
                    },
                )
            }
            Err(e) => (
                self.clock.wall(Instant::now()),
                match e.limit() {
                    Some(limit) => AuditKind::LimitHit {
                        instance: self.id,
                        function: function.clone(),
                        limit,
                        error: e.to_string(),
                    },
                    None => AuditKind::Trapped {
                        instance: self.id,
                        function: function.clone(),
                        error: e.to_string(),
                        class: e.class(),
                    },
                },
            ),
        };
        self.component
            .runtime
            .record_at(time, &self.component.name, kind)
    }

    /// Resolves an export for typed calls: its parameters and result as
    /// Rust tuples, on every backend (the types are in
    /// [`crate::typed`]). `P` and `R` are checked against the export's WIT
    /// type here, once; a mismatch is [`Error::InvalidArguments`] showing
    /// both signatures.
    ///
    /// ```
    /// # use airssys_wasm::{LoadOptions, Runtime};
    /// # fn main() -> airssys_wasm::Result<()> {
    /// # let bytes = wat::parse_str(r#"(component
    /// #   (core module $m (func (export "add") (param i32 i32) (result i32)
    /// #     local.get 0 local.get 1 i32.add))
    /// #   (core instance $i (instantiate $m))
    /// #   (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    /// #     (canon lift (core func $i "add"))))"#).unwrap();
    /// let runtime = Runtime::new()?;
    /// let mut instance = runtime.load(bytes, LoadOptions::new())?.instantiate()?;
    /// let add = instance.typed::<(u32, u32), (u32,)>("add")?;
    /// assert_eq!(instance.call_typed(&add, (40, 2))?, (42,));
    /// assert!(instance.typed::<(String,), (u32,)>("add").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn typed<P: TypedParams, R: TypedResults>(
        &mut self,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        let f = self.backend.func(name)?;
        crate::typed::check_signature::<P, R>(&f.name, &f.ty)?;
        let inner = self.typed_inner::<P, R>(&f)?;
        Ok(TypedFunc {
            instance: self.id,
            generation: self.generation,
            name: f.name,
            inner,
        })
    }

    /// The backend's typed call of `f`, or the path through values.
    fn typed_inner<P: TypedParams, R: TypedResults>(
        &mut self,
        f: &FuncRef,
    ) -> Result<TypedInner<P, R>> {
        let any = self.backend.as_any_mut();
        #[cfg(feature = "wasmtime")]
        if let Some(w) = any.downcast_mut::<airssys_wasm_backend_wasmtime::WasmtimeInstance>() {
            return Ok(TypedInner::Wasmtime(w.typed::<P, R>(&f.name)?));
        }
        #[cfg(feature = "wasmi")]
        if let Some(w) = any.downcast_mut::<airssys_wasm_backend_wasmi::WasmiInstance>() {
            if let Some(flat) = w.flat_call::<P, R>(&f.name)? {
                return Ok(TypedInner::Wasmi(flat));
            }
            if let Some(direct) = w.direct_call::<P, R>(&f.name)? {
                return Ok(TypedInner::WasmiDirect(direct));
            }
        }
        let _ = any;
        Ok(TypedInner::Dynamic(f.clone()))
    }

    /// Calls through a typed export, with the limits, audit events and
    /// errors of [`Instance::call_func`].
    pub fn call_typed<P: TypedParams, R: TypedResults>(
        &mut self,
        func: &TypedFunc<P, R>,
        params: P,
    ) -> Result<R> {
        if func.instance != self.id {
            return Err(Error::InvalidArguments {
                function: func.name.to_string(),
                detail: format!("this TypedFunc belongs to instance {}", func.instance),
            });
        }
        if func.generation != self.generation {
            return Err(Error::InvalidArguments {
                function: func.name.to_string(),
                detail:
                    "the instance was renewed after a failed host call: get the TypedFunc again"
                        .into(),
            });
        }
        let called = self.audit_called(&func.name)?;
        let start = called.map(|(start, _)| start);
        let result = match &func.inner {
            #[cfg(feature = "wasmtime")]
            TypedInner::Wasmtime(inner) => self
                .backend_of::<airssys_wasm_backend_wasmtime::WasmtimeInstance>()
                .call_typed(inner, params, start),
            #[cfg(feature = "wasmi")]
            TypedInner::Wasmi(inner) => self
                .backend_of::<airssys_wasm_backend_wasmi::WasmiInstance>()
                .call_flat::<P, R>(inner, params, start),
            #[cfg(feature = "wasmi")]
            TypedInner::WasmiDirect(inner) => self
                .backend_of::<airssys_wasm_backend_wasmi::WasmiInstance>()
                .call_direct::<P, R>(inner, &params)
                .map(|(r, usage)| (r, Some(usage))),
            TypedInner::Dynamic(f) => self.call_through_values(f, params),
        };
        match result {
            Ok((r, usage)) => {
                self.audit_outcome(called, &func.name, Ok(usage))?;
                Ok(r)
            }
            Err(e) => {
                self.audit_outcome(called, &func.name, Err(&e))?;
                self.renew_after_host_failure(&e)?;
                Err(e)
            }
        }
    }

    /// The backend instance behind a typed handle of this generation,
    /// which was made on a `B`.
    #[cfg(any(feature = "wasmtime", feature = "wasmi"))]
    fn backend_of<B: 'static>(&mut self) -> &mut B {
        self.backend
            .as_any_mut()
            .downcast_mut()
            .expect("a typed handle of this generation was made on this backend")
    }

    /// A typed call of a signature the backend has no typed path for.
    fn call_through_values<P: TypedParams, R: TypedResults>(
        &mut self,
        f: &FuncRef,
        params: P,
    ) -> Result<(R, Option<Usage>)> {
        let (mut out, usage) = self.backend.call(f, &params.into_values())?;
        let value = out.pop();
        if !out.is_empty() {
            return Err(Error::Trap {
                function: f.name.to_string(),
                message: format!("the export returned {} results", out.len() + 1),
            });
        }
        R::from_result(value)
            .map(|r| (r, Some(usage)))
            .map_err(|m| Error::Trap {
                function: f.name.to_string(),
                message: format!("the result does not convert to its Rust type: {m}"),
            })
    }
}

/// An export resolved for typed calls ([`Instance::typed`]).
pub struct TypedFunc<P: TypedParams, R: TypedResults> {
    instance: u64,
    generation: u64,
    /// The export's name for audit records, made once.
    name: Arc<str>,
    inner: TypedInner<P, R>,
}

impl<P: TypedParams, R: TypedResults> TypedFunc<P, R> {
    /// The export's call name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// How the backend runs a typed call.
enum TypedInner<P: TypedParams, R: TypedResults> {
    /// wasmtime's typed call.
    #[cfg(feature = "wasmtime")]
    Wasmtime(airssys_wasm_backend_wasmtime::TypedCall<P, R>),
    /// wasmi's typed call of the flat form.
    #[cfg(feature = "wasmi")]
    Wasmi(airssys_wasm_backend_wasmi::FlatCall<P::Flat, R::Flat>),
    /// Rust values lowered and lifted directly on wasmi (strings, bytes).
    #[cfg(feature = "wasmi")]
    WasmiDirect(airssys_wasm_backend_wasmi::DirectCall),
    /// Through values.
    Dynamic(FuncRef),
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.component.live.fetch_sub(1, Ordering::AcqRel);
        // Dropping cannot report a failure; the sink's own error handling
        // (for example a full queue) applies.
        let _ = self.component.runtime.record(
            &self.component.name,
            AuditKind::Dropped { instance: self.id },
        );
    }
}
