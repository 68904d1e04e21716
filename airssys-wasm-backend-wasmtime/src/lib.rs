//! The wasmtime (JIT) backend of airssys-wasm.
//!
//! [`WasmtimeBackend`] implements [`airssys_wasm_core::Backend`] on wasmtime
//! 48 with the component model:
//!
//! - **Fuel** is metered for components loaded with a fuel limit: one unit
//!   per executed WebAssembly instruction (wasmtime's accounting: `nop`,
//!   `drop`, `block`, `loop` and a few other structural instructions are
//!   free).
//! - **Timeouts** use epoch interruption with ONE ticker thread per backend
//!   (every [`TICK`]), not a thread per call: a call with timeout `t` is
//!   interrupted after `t` rounded up to the next tick.
//! - Fuel metering and epoch checks are compiled into the code, and cost
//!   compute-heavy guests a good part of their speed, so the backend
//!   compiles each component for what its limits need, on one of three
//!   engines: fuel and epochs (a fuel limit), epochs (a timeout, no fuel
//!   limit), neither (no fuel limit, no timeout). A component's limits are
//!   fixed when it is loaded, so each limit holds wherever it is set. The
//!   second and third engines are made on first use.
//! - **Memory and table limits** go through a `ResourceLimiter`: growing past
//!   the limit traps with [`Error::MemoryLimit`] / [`Error::TableLimit`].
//! - **Stack overflow** is wasmtime's native stack limit (512 KiB of wasm
//!   stack by default, [`WasmtimeConfig::max_wasm_stack`]).
//! - **Instantiation** reuses one `InstancePre` per compiled component; the
//!   optional pooling allocator ([`WasmtimeConfig::pooling`]) makes it a few
//!   microseconds.
//! - **Compiled-artifact cache**: with [`WasmtimeConfig::cache_dir`], compiled
//!   components are stored on disk keyed by the component's blake3 digest and
//!   the engine's compatibility hash, so a later load (in this process or
//!   the next) skips compilation. An artifact is native code that wasmtime
//!   runs without validating it again, so the cache trusts only what it
//!   wrote itself:
//!   - **Authenticated.** Each artifact starts with a keyed blake3 hash (a
//!     MAC) over a domain-separation string, the component's digest, the
//!     engine's compatibility hash, this crate's version and the artifact.
//!     The key is a per-host secret, 32 random bytes in `cache.key` inside
//!     the cache directory, created once with mode 0600 (linked into place
//!     whole, so concurrent starts agree on one key) and never replaced;
//!     an existing key that is a symbolic link, not a regular file of this
//!     user, readable or writable by group or others, or not 32 bytes is
//!     refused.
//!   - **Checked before use.** A load opens the artifact without following
//!     a symbolic link, reads it into memory, checks the MAC and
//!     deserialises exactly the bytes it checked. An artifact that fails
//!     (another component's artifact planted under this one's name, a
//!     changed or truncated file, one made with another host's key, a link,
//!     a FIFO) is refused: the component is compiled from its bytes, the
//!     file replaced, and the refusal reported by
//!     [`CompiledComponent::cache_refusal`], which the runtime audits as
//!     `cache-refused`.
//!   - **A private directory.** The directory is created with mode 0700 if
//!     it is missing. One that is a symbolic link, owned by another user or
//!     writable by group or others fails [`WasmtimeBackend::with_config`]
//!     with [`Error::Io`] naming the path and the cause, rather than running
//!     without the cache: a directory's mode and owner are the operator's
//!     configuration (nobody else can change them), so the mistake is
//!     reported once where it is made, instead of every load quietly
//!     compiling again (seconds for a JavaScript or Python component). The
//!     check is made once; what holds at each load is the MAC, with the key
//!     in memory, whatever happens to the directory later.
//!   - **No predictable temporary files.** An artifact is written to a file
//!     of a random name created with `O_EXCL` and mode 0600, then renamed
//!     into place (replacing a link there, not what it points to). A crash
//!     halfway leaves a file whose MAC fails, never a wrong artifact.
//!
//!   The checks use Unix owners and modes; on other platforms a cache
//!   directory is refused.
//! - **WASI p2** through `wasmtime-wasi`, with a context built only from the
//!   instance's capability set (see the `wasi` module docs in the source and
//!   the README): nothing is granted by default.
//! - **Host functions** from the runtime's [`HostFunctions`] table are linked
//!   with `func_new`; a host function that panics fails the call with
//!   [`Error::HostFailed`] instead of unwinding into the host.
//! - Calls use wasmtime's dynamic `Val` path; [`WasmtimeInstance::typed`]
//!   gives the typed fast path for embedders that know the signature.

mod blocking;
mod cache;
mod convert;
mod failure;
mod fs;
mod http;
mod instance;
mod serve;
mod wasi;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use airssys_wasm_core::{
    Backend, CapabilityKind, CompiledComponent, ComponentInfo, Error, FuncType, HostFunctions,
    InstanceConfig, Limits, Result, WasmFeatures,
};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::{Config, Engine};

pub use convert::{val_to_value, value_to_val};
pub use instance::{TypedCall, WasmtimeInstance};
pub use serve::{Answer, HANDLER as HTTP_HANDLER, HttpCall};
/// The wasmtime crate this backend is built on.
pub use wasmtime;
/// The wasmtime-wasi-http crate this backend serves `wasi:http` with.
pub use wasmtime_wasi_http;

/// How often the shared epoch ticker advances: the granularity of timeouts.
pub const TICK: Duration = Duration::from_millis(10);

/// Settings of the wasmtime engine.
#[derive(Clone, Debug)]
pub struct WasmtimeConfig {
    /// Use the pooling instance allocator (fast instantiation, memory
    /// reserved up front). `None` (the default) allocates on demand.
    pub pooling: Option<PoolingConfig>,
    /// Where compiled artifacts are cached; `None` disables the cache.
    /// The directory must belong to this process's user and be writable
    /// by nobody else (it is made with mode 0700 if missing); it holds the
    /// cache's key, `cache.key`. See the crate docs.
    pub cache_dir: Option<PathBuf>,
    /// Bytes of native stack WebAssembly may use before a stack overflow
    /// trap. Default 512 KiB.
    pub max_wasm_stack: usize,
}

impl Default for WasmtimeConfig {
    fn default() -> Self {
        Self {
            pooling: None,
            cache_dir: None,
            max_wasm_stack: 512 * 1024,
        }
    }
}

/// Sizes of the pooling allocator.
#[derive(Clone, Debug)]
pub struct PoolingConfig {
    /// Component instances that can be live at once, per engine: the
    /// backend has up to three engines, one per kind of limits (see the
    /// crate docs), and each has a pool of this size.
    pub total_component_instances: u32,
    /// Largest linear memory of a pooled instance, in bytes.
    pub max_memory_size: usize,
    /// Bytes of each linear memory kept resident when its slot is freed:
    /// the pages the instance touched below this size are reset in place
    /// (found with Linux's `PAGEMAP_SCAN` where the kernel has it) rather
    /// than given back to the kernel and faulted in again by the next
    /// instance. Most of a new instance's cost otherwise. 0 gives every page
    /// back.
    pub keep_resident: usize,
}

impl Default for PoolingConfig {
    fn default() -> Self {
        Self {
            total_component_instances: 1000,
            max_memory_size: 64 << 20,
            keep_resident: 2 << 20,
        }
    }
}

/// The wasmtime backend. Cheap to share (`Arc`); one per process is typical.
pub struct WasmtimeBackend {
    config: WasmtimeConfig,
    /// The artifact cache's directory and key, checked at construction and
    /// shared by every engine's cache.
    cache_dir: Option<Arc<cache::CacheDir>>,
    /// Fuel metering and epochs: components loaded with a fuel limit.
    metered: Flavor,
    /// Made on first use: epochs only (a timeout, no fuel limit), and
    /// neither (no limit that needs them), in [`Metering`] order.
    others: Arc<[OnceLock<Flavor>; 2]>,
    pool_size: Option<u32>,
    ticker_stop: Arc<AtomicBool>,
}

/// An engine and what is tied to it: the linker with WASI, the artifact
/// cache (keyed by the engine's configuration).
struct Flavor {
    /// What code compiled on this engine checks.
    metering: Metering,
    engine: Engine,
    linker: Linker<instance::StoreData>,
    cache: Option<cache::ArtifactCache>,
}

/// What a component's code checks as it runs, decided by its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metering {
    /// Fuel and epochs: the component has a fuel limit.
    FuelAndEpochs = -1,
    /// Epochs only: a timeout and no fuel limit.
    Epochs = 0,
    /// Neither: no fuel limit and no timeout.
    Neither = 1,
}

impl Metering {
    pub(crate) fn of(limits: &Limits) -> Self {
        match (limits.fuel, limits.timeout) {
            (Some(_), _) => Self::FuelAndEpochs,
            (None, Some(_)) => Self::Epochs,
            (None, None) => Self::Neither,
        }
    }
}

impl Flavor {
    fn new(
        config: &WasmtimeConfig,
        cache_dir: Option<&Arc<cache::CacheDir>>,
        metering: Metering,
    ) -> Result<Self> {
        let mut c = Config::new();
        c.wasm_component_model(true)
            .consume_fuel(metering == Metering::FuelAndEpochs)
            .epoch_interruption(metering != Metering::Neither)
            .concurrency_support(false)
            .max_wasm_stack(config.max_wasm_stack);
        if let Some(p) = &config.pooling {
            let mut pool = wasmtime::PoolingAllocationConfig::default();
            pool.total_component_instances(p.total_component_instances)
                .total_core_instances(p.total_component_instances * 4)
                .total_memories(p.total_component_instances * 2)
                .total_tables(p.total_component_instances * 4)
                .max_memory_size(p.max_memory_size)
                .linear_memory_keep_resident(p.keep_resident)
                .table_keep_resident(p.keep_resident.min(64 << 10))
                .pagemap_scan(wasmtime::Enabled::Auto);
            c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&c).map_err(|e| Error::Backend(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| Error::Backend(format!("linking WASI: {e:#}")))?;
        blocking::add_to_linker(&mut linker, instance::StoreData::bounded)
            .map_err(|e| Error::Backend(format!("linking bounded WASI waits: {e:#}")))?;
        fs::add_to_linker(&mut linker, instance::StoreData::fs)
            .map_err(|e| Error::Backend(format!("linking wasi:filesystem: {e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(|e| Error::Backend(format!("linking wasi:http: {e:#}")))?;
        let cache = cache_dir.map(|dir| cache::ArtifactCache::new(dir.clone(), &engine));
        Ok(Self {
            metering,
            engine,
            linker,
            cache,
        })
    }
}

impl WasmtimeBackend {
    /// A backend with default settings.
    pub fn new() -> Result<Self> {
        Self::with_config(WasmtimeConfig::default())
    }

    /// A backend with the given settings.
    ///
    /// With [`WasmtimeConfig::cache_dir`], the directory is checked (and
    /// made, and given a key) here: one that is not private to this user
    /// fails with [`Error::Io`] naming it and the cause (see the crate
    /// docs).
    pub fn with_config(config: WasmtimeConfig) -> Result<Self> {
        let cache_dir = config
            .cache_dir
            .clone()
            .map(|dir| cache::CacheDir::open(dir).map(Arc::new))
            .transpose()?;
        let metered = Flavor::new(&config, cache_dir.as_ref(), Metering::FuelAndEpochs)?;
        let others = Arc::new([OnceLock::new(), OnceLock::new()]);
        let ticker_stop = Arc::new(AtomicBool::new(false));
        spawn_ticker(metered.engine.clone(), others.clone(), ticker_stop.clone());
        Ok(Self {
            pool_size: config.pooling.as_ref().map(|p| p.total_component_instances),
            config,
            cache_dir,
            metered,
            others,
            ticker_stop,
        })
    }

    /// The engine with fuel metering, on which components with a fuel
    /// limit run.
    pub fn engine(&self) -> &Engine {
        &self.metered.engine
    }

    /// The engine a component with these limits runs on (made now if it
    /// was not yet): fuel metering and epochs for a fuel limit, epochs for a
    /// timeout, neither without those limits.
    pub fn engine_for(&self, limits: &Limits) -> Result<&Engine> {
        Ok(&self.flavor(limits)?.engine)
    }

    fn flavor(&self, limits: &Limits) -> Result<&Flavor> {
        let metering = Metering::of(limits);
        let slot = match metering {
            Metering::FuelAndEpochs => return Ok(&self.metered),
            other => &self.others[other as usize],
        };
        if let Some(f) = slot.get() {
            return Ok(f);
        }
        let made = Flavor::new(&self.config, self.cache_dir.as_ref(), metering)?;
        // Two threads may both make one; the first stored is kept.
        Ok(slot.get_or_init(|| made))
    }

    fn component(
        &self,
        flavor: &Flavor,
        bytes: &[u8],
        info: &ComponentInfo,
    ) -> Result<cache::Loaded> {
        match &flavor.cache {
            Some(cache) => cache.load_or_compile(&flavor.engine, bytes, info.digest()),
            None => Component::new(&flavor.engine, bytes)
                .map(|component| cache::Loaded {
                    component,
                    from_cache: false,
                    refusal: None,
                })
                .map_err(|e| Error::InvalidComponent(format!("{e:#}"))),
        }
    }

    fn link_host(
        &self,
        flavor: &Flavor,
        info: &ComponentInfo,
        host: &Arc<HostFunctions>,
    ) -> Result<Linker<instance::StoreData>> {
        let mut linker = flavor.linker.clone();
        for import in airssys_wasm_core::kit::resolve_host_imports(info, host, "wasmtime")? {
            let name = import.interface;
            if name.is_empty() {
                for (func, f) in import.functions {
                    instance::define_host_func(&mut linker.root(), "", func, f)?;
                }
                continue;
            }
            // An interface that only shares types is defined empty.
            let mut inst = linker
                .instance(name)
                .map_err(|e| Error::Backend(format!("linking {name}: {e:#}")))?;
            for (func, f) in import.functions {
                instance::define_host_func(&mut inst, name, func, f)?;
            }
        }
        Ok(linker)
    }
}

impl Drop for WasmtimeBackend {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

fn spawn_ticker(metered: Engine, others: Arc<[OnceLock<Flavor>; 2]>, stop: Arc<AtomicBool>) {
    thread::Builder::new()
        .name("airssys-wasm-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(TICK);
                metered.increment_epoch();
                if let Some(f) = others[Metering::Epochs as usize].get() {
                    f.engine.increment_epoch();
                }
            }
        })
        .expect("spawning the epoch ticker thread");
}

/// The WebAssembly features of the engines this backend builds: what
/// wasmtime 48 enables by default (`WASM3`) with the crate features it is
/// built with here (no `gc`, so neither GC types nor exceptions; no
/// `threads`) and the component model without async
/// (`concurrency_support(false)`). wasmtime does not expose its engine's
/// set; a test compiles one probe component per proposal and checks that
/// the engine and this set agree on each.
pub const FEATURES: WasmFeatures = WasmFeatures::WASM3
    .union(WasmFeatures::COMPONENT_MODEL)
    .difference(
        WasmFeatures::GC_TYPES
            .union(WasmFeatures::EXCEPTIONS)
            .union(WasmFeatures::THREADS),
    );

impl Backend for WasmtimeBackend {
    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn features(&self) -> WasmFeatures {
        FEATURES
    }

    fn check(&self, bytes: &[u8], _info: &ComponentInfo, limits: &Limits) -> Result<()> {
        let flavor = self.flavor(limits)?;
        Component::new(&flavor.engine, bytes)
            .map(drop)
            .map_err(|e| Error::InvalidComponent(format!("{e:#}")))
    }

    fn compile(
        &self,
        bytes: &[u8],
        info: &ComponentInfo,
        host: &Arc<HostFunctions>,
        limits: &Limits,
    ) -> Result<Arc<dyn CompiledComponent>> {
        let flavor = self.flavor(limits)?;
        let metering = flavor.metering;
        let cache::Loaded {
            component,
            from_cache,
            refusal,
        } = self.component(flavor, bytes, info)?;
        tracing::debug!(digest = %info.digest(), from_cache, ?metering, "compiled component");
        let linker = self.link_host(flavor, info, host)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| import_error(&format!("{e:#}")))?;
        let mut exports = HashMap::new();
        for (name, ty) in info.export_functions() {
            let index = match name.split_once('#') {
                Some((iface, func)) => component
                    .get_export_index(None, iface)
                    .and_then(|i| component.get_export_index(Some(&i), func)),
                None => component.get_export_index(None, &name),
            };
            if let Some(index) = index {
                exports.insert(name, (index, ty.clone()));
            }
        }
        // The WASI imports whose capability decides what WASI gives the
        // instance (host-interface calls are checked one by one instead).
        let needed =
            airssys_wasm_core::wasi::needed_kinds(info.imports().iter().map(|i| i.name.as_str()));
        Ok(Arc::new(Compiled {
            engine: flavor.engine.clone(),
            metering,
            pre,
            exports: Arc::new(exports),
            export_names: info.export_names(),
            needed,
            from_cache,
            cache_refusal: refusal,
            pool_size: self.pool_size,
            http_handler: serve::handler_export(&component, &flavor.engine),
        }))
    }
}

fn import_error(message: &str) -> Error {
    // wasmtime: "component imports instance `x`, but a matching
    // implementation was not found in the linker".
    if message.contains("matching implementation was not found") {
        let name = message.split('`').nth(1).unwrap_or("an import").to_owned();
        let hint = if name.starts_with("wasi:") {
            format!(
                "this WASI interface or version is not provided by the wasmtime backend ({message})"
            )
        } else {
            message.to_owned()
        };
        return Error::MissingImport { name, hint };
    }
    Error::InvalidComponent(message.to_owned())
}

/// A compiled component with its `InstancePre`.
pub(crate) struct Compiled {
    engine: Engine,
    /// What the code was compiled to check, for the component's limits.
    metering: Metering,
    pre: InstancePre<instance::StoreData>,
    exports: Arc<HashMap<String, (ComponentExportIndex, Arc<FuncType>)>>,
    export_names: String,
    needed: Vec<CapabilityKind>,
    from_cache: bool,
    /// Why the cache's artifact was refused, if it was.
    cache_refusal: Option<String>,
    pool_size: Option<u32>,
    /// The `wasi:http/incoming-handler.handle` export, if there is one.
    http_handler: Option<ComponentExportIndex>,
}

impl CompiledComponent for Compiled {
    fn instantiate(
        &self,
        config: InstanceConfig,
    ) -> Result<Box<dyn airssys_wasm_core::BackendInstance>> {
        instance::WasmtimeInstance::new(self, config)
            .map(|i| Box::new(i) as Box<dyn airssys_wasm_core::BackendInstance>)
    }

    fn loaded_from_cache(&self) -> bool {
        self.from_cache
    }

    fn cache_refusal(&self) -> Option<&str> {
        self.cache_refusal.as_deref()
    }
}
