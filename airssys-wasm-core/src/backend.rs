//! The backend trait: what an engine must do for the runtime.
//!
//! A backend compiles a component ([`Backend::compile`]), instantiates it with
//! the runtime's host functions, a capability set and limits
//! ([`CompiledComponent::instantiate`]), and calls its exports with
//! [`Value`]s ([`BackendInstance::call`]). It never decides what is allowed:
//! host functions do that through [`crate::CallContext`], and backend-specific
//! features (WASI on wasmtime) read the same [`CapabilitySet`].

use std::any::Any;
use std::sync::{Arc, Mutex};

use crate::audit::AuditSink;
use crate::capability::CapabilitySet;
use crate::component::ComponentInfo;
use crate::error::Result;
use crate::host::HostFunctions;
use crate::identity::ComponentId;
use crate::limits::{Limits, Usage};
use crate::value::{FuncType, Value};
use wasmparser::WasmFeatures;

/// An engine that runs components.
pub trait Backend: Send + Sync + 'static {
    /// The backend's name (`wasmtime`, `wasmi`).
    fn name(&self) -> &'static str;

    /// Compiles a component whose bytes were validated and described by
    /// [`ComponentInfo::parse`], and links it against `host`. Imports that
    /// neither `host` nor the backend's own providers (WASI) satisfy fail
    /// here with [`crate::Error::MissingImport`].
    ///
    /// `limits` are the limits every instance of the component will have:
    /// a backend may compile differently for them (wasmtime compiles fuel
    /// metering in only for a component with a fuel limit).
    fn compile(
        &self,
        bytes: &[u8],
        info: &ComponentInfo,
        host: &Arc<HostFunctions>,
        limits: &Limits,
    ) -> Result<Arc<dyn CompiledComponent>>;

    /// Checks that the backend can compile the component for `limits`:
    /// everything [`Backend::compile`] checks except its imports, which
    /// are not resolved (a component may import what another host
    /// provides, or what it is composed with later). Nothing is kept.
    fn check(&self, bytes: &[u8], info: &ComponentInfo, limits: &Limits) -> Result<()>;

    /// The WebAssembly features the backend's engines accept.
    /// [`ComponentInfo::parse_for_compile`] validates with them, so a
    /// component's description and its compilation agree on what is valid.
    fn features(&self) -> WasmFeatures;
}

/// A compiled, linked component, ready to instantiate many times.
pub trait CompiledComponent: Send + Sync {
    /// Creates an instance.
    fn instantiate(&self, config: InstanceConfig) -> Result<Box<dyn BackendInstance>>;

    /// `true` when the backend loaded this component's compiled code from
    /// its artifact cache instead of compiling it.
    fn loaded_from_cache(&self) -> bool {
        false
    }

    /// Why the backend refused the compiled artifact it found in its cache
    /// for this component (and compiled it from its bytes instead), when it
    /// did: an artifact that fails its authentication (planted, altered,
    /// truncated, made with another host's key), a symbolic link, or one
    /// the engine would not load. `None` when there was nothing to refuse,
    /// which is every backend without a cache.
    ///
    /// Backends have no audit sink; the runtime records this at load as
    /// [`crate::AuditKind::CacheRefused`].
    fn cache_refusal(&self) -> Option<&str> {
        None
    }
}

/// Everything an instance is created with.
#[derive(Clone)]
pub struct InstanceConfig {
    /// The component's audit label (`tenant/name@version`, the label of
    /// [`InstanceConfig::id`]), which backends put into the events they
    /// record.
    pub component: Arc<str>,
    /// The identity of the load the instance is made from.
    pub id: ComponentId,
    /// The instance's number, unique within the runtime.
    pub instance: u64,
    /// What the instance may do.
    pub capabilities: Arc<CapabilitySet>,
    /// Its resource limits.
    pub limits: Limits,
    /// Where its capability decisions are recorded.
    pub audit: Arc<dyn AuditSink>,
    /// Where its stdio goes when [`crate::Capability::Stdio`] is granted.
    pub stdio: Stdio,
    /// Command-line arguments after the program name (for `wasi:cli`).
    pub args: Vec<String>,
    /// What the host functions keep for this load (handed to every
    /// [`crate::CallContext`] of the instance), if anything.
    pub host_data: Option<crate::host::HostData>,
    /// The most bytes of strings and lists one host call's arguments may
    /// hold ([`crate::DEFAULT_MAX_CALL_DATA`] by default). Checked before the
    /// backend copies them out of the guest: a call over it fails (a
    /// `host-limit` event) and the host allocates nothing for it.
    pub max_call_data: u64,
}

/// A callable export, resolved once by [`BackendInstance::func`].
#[derive(Clone, Debug)]
pub struct FuncRef {
    /// The backend's index for the function.
    pub index: u32,
    /// The export's call name (`greet`, `iface#func`).
    pub name: Arc<str>,
    /// Its signature.
    pub ty: Arc<FuncType>,
}

/// A live instance.
pub trait BackendInstance: Send {
    /// Resolves an export by its call name: `name` for a function exported at
    /// the world's root, `interface#name` for one inside an exported interface.
    fn func(&mut self, name: &str) -> Result<FuncRef>;

    /// Calls a function with arguments matching its signature and returns its
    /// results (zero or one value) and what the call used.
    fn call(&mut self, func: &FuncRef, args: &[Value]) -> Result<(Vec<Value>, Usage)>;

    /// The instance as [`Any`], for backend-specific fast paths.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// Where a guest's stdout and stderr go, and what its stdin holds, once
/// [`crate::Capability::Stdio`] is granted. Without the grant stdin is empty
/// and writes to stdout/stderr fail.
#[derive(Clone, Debug, Default)]
pub struct Stdio {
    /// Bytes the guest reads from stdin; `None` inherits the host's stdin.
    pub stdin: Option<Arc<[u8]>>,
    /// Where stdout goes.
    pub stdout: OutputTarget,
    /// Where stderr goes.
    pub stderr: OutputTarget,
}

/// A destination for guest output.
#[derive(Clone, Debug, Default)]
pub enum OutputTarget {
    /// The host process's own stream.
    #[default]
    Inherit,
    /// An in-memory buffer the embedding application reads.
    Capture(CaptureBuffer),
}

/// A shared, growable byte buffer that captures guest output.
#[derive(Clone, Debug, Default)]
pub struct CaptureBuffer(Arc<Mutex<Vec<u8>>>);

impl CaptureBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes.
    pub fn write(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
    }

    /// Everything written so far, as (lossy) UTF-8.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}
