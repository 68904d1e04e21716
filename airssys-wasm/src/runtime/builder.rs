//! Building a runtime: the backend it runs on and what it shares.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use airssys_wasm_core::audit::DenialThrottle;
use airssys_wasm_core::{
    AuditSink, Backend, Error, HostFunctions, HostProvider, Providers, Result, TracingSink,
};

use super::{Runtime, RuntimeInner};
use crate::HostSettings;

/// Registers a provider added with [`RuntimeBuilder::provider`].
type Registration = Box<dyn FnOnce(&mut Providers) -> Result<()> + Send>;

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
    providers: Vec<Registration>,
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

    /// Adds a host provider: the interfaces it serves become importable by
    /// every component of the runtime, checked and audited as it says (see
    /// [`crate::provider`]). `build` fails when it serves an interface
    /// another provider (`airssys:host`'s included) or the host functions
    /// serve already.
    ///
    /// ```
    /// use airssys_wasm::provider::{Interface, LoadContext, ProviderTable};
    /// use airssys_wasm::{CapabilityKind, HostProvider, Runtime, Value};
    ///
    /// struct Answer;
    /// impl HostProvider for Answer {
    ///     type State = ();
    ///     fn name(&self) -> &'static str { "answer" }
    ///     fn interfaces(&self) -> &'static [Interface] {
    ///         const I: &[Interface] = &[Interface::new("example:app/answer", "0.1.0", None)];
    ///         I
    ///     }
    ///     fn configure(&self, _: &LoadContext<'_>) -> airssys_wasm::Result<()> { Ok(()) }
    ///     fn define(&self, table: &mut ProviderTable<'_, Self>) {
    ///         table.func("example:app/answer", "get", |_, _, _, _| Ok(Value::U32(42)));
    ///     }
    /// }
    ///
    /// let runtime = Runtime::builder().provider(Answer).build().unwrap();
    /// assert_eq!(runtime.providers().provider_of("example:app/answer@0.1.0"), Some("answer"));
    /// assert_eq!(
    ///     runtime.providers().capability_for("airssys:host/key-value@0.1.0"),
    ///     Some(CapabilityKind::KeyValue)
    /// );
    /// ```
    pub fn provider(mut self, provider: impl HostProvider) -> Self {
        self.providers
            .push(Box::new(move |all| all.register(provider).map(|_| ())));
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
    /// when two providers serve one interface, or when the host functions
    /// redefine an interface a provider serves (`airssys:host`'s included).
    pub fn build(mut self) -> Result<Runtime> {
        let mut providers = Providers::new();
        crate::host::register(&mut providers, &self.host_settings)?;
        for register in self.providers {
            register(&mut providers)?;
        }
        providers.define(&mut self.host)?;
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
                providers: Arc::new(providers),
                max_call_data: self.host_settings.max_call_data,
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
