//! The backend trait: what an engine must do for the runtime.
//!
//! A backend compiles a component ([`Backend::compile`]), instantiates it with
//! the runtime's host functions, a capability set and limits
//! ([`CompiledComponent::instantiate`]), and calls its exports with
//! [`Value`]s ([`BackendInstance::call`]). It never decides what is allowed:
//! host functions do that through [`crate::CallContext`], and backend-specific
//! features (WASI on wasmtime) read the same [`CapabilitySet`].

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
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
///
/// Opaque: a backend finds the function with [`FuncRef::index_in`], which
/// answers only the instance that made the reference (one from another
/// instance, or made up, is refused with [`crate::Error::InvalidArguments`],
/// never an out-of-bounds index), and calls it with its own record of the
/// function's type, not the one the reference shows.
#[derive(Clone, Debug)]
pub struct FuncRef {
    owner: u64,
    index: u32,
    name: Arc<str>,
    ty: Arc<FuncType>,
}

impl FuncRef {
    /// For backends: export number `index` of the instance whose token
    /// ([`FuncRef::new_owner`]) is `owner`.
    pub fn new(owner: u64, index: u32, name: Arc<str>, ty: Arc<FuncType>) -> Self {
        Self {
            owner,
            index,
            name,
            ty,
        }
    }

    /// A token no other instance in the process has, for an instance's
    /// references.
    pub fn new_owner() -> u64 {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    /// The export's call name (`greet`, `iface#func`).
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Its signature.
    pub fn ty(&self) -> &Arc<FuncType> {
        &self.ty
    }

    /// For backends: the index of the function among the `len` the
    /// instance with token `owner` resolved, when this reference is one of
    /// them.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use airssys_wasm_core::{FuncRef, FuncType};
    /// let ty = Arc::new(FuncType { params: vec![], result: None });
    /// let (mine, other) = (FuncRef::new_owner(), FuncRef::new_owner());
    /// let f = FuncRef::new(mine, 0, "run".into(), ty.clone());
    /// assert_eq!(f.index_in(mine, 1).unwrap(), 0);
    /// assert!(f.index_in(other, 1).is_err());
    /// assert!(FuncRef::new(mine, 7, "run".into(), ty).index_in(mine, 1).is_err());
    /// ```
    pub fn index_in(&self, owner: u64, len: usize) -> crate::error::Result<usize> {
        let index = self.index as usize;
        if self.owner != owner || index >= len {
            return Err(crate::Error::InvalidArguments {
                function: self.name.to_string(),
                detail: "this function was resolved on another instance: resolve it on this one"
                    .into(),
            });
        }
        Ok(index)
    }
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
