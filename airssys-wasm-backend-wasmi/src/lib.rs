//! The wasmi (interpreter) backend of airssys-wasm.
//!
//! [`WasmiBackend`] implements [`airssys_wasm_core::Backend`] on wasmi 2, an
//! interpreter: no JIT, no native code generated at run time, small memory
//! use per engine. It is for constrained and edge devices and for hosts where
//! JIT is not allowed. The same component binary runs here and on the
//! wasmtime backend with the same values, limits, errors and audit events.
//!
//! # How components run on an interpreter without component support
//!
//! wasmi runs core modules only. This crate adds the component layer:
//!
//! - **Translation** uses `wasmtime-environ`'s engine-free component
//!   translator (`component::Translator`). It validates the component,
//!   flattens nested components into a list of initializers (instantiate a
//!   core module with these imports, extract a memory, a `realloc`, a
//!   `post-return`, declare a resource) and gives canonical-ABI layouts of
//!   every type. It brings no JIT and no wasmtime runtime: only data crates.
//!   The alternative, `wasm_component_layer` with `wasmi_runtime_layer`, does
//!   not build against wasmi 2 and reads an early-2024 component format that
//!   today's toolchains no longer emit, so it was not an option.
//! - **Instantiation** replays the initializers on a wasmi `Store`
//!   (`instance` module; the store's data is in the `store` module).
//! - **The canonical ABI** (lifting and lowering every WIT value type:
//!   strings in UTF-8, UTF-16 or Latin-1+UTF-16, lists, records, tuples,
//!   variants, enums, options, results, flags, own/borrow handles with a
//!   per-instance handle table, `realloc` and `post-return`) is in the `abi`,
//!   `layout` (the flat layout) and `resources` modules; the string
//!   transcoding of fused adapters between components is in the `transcode`
//!   module. Components using async, streams, futures or error contexts are
//!   refused at load with an error naming what they use.
//!
//! # Limits, with the wasmtime backend's meaning
//!
//! - **Fuel**: wasmi charges one unit per executed instruction (its
//!   accounting: a few instructions cost more, e.g. bulk memory operations per
//!   byte copied). The same budget stops the same runaway loop on both
//!   backends; exact counts differ a little.
//! - **Timeouts** without a thread: a call with a timeout runs in fuel slices
//!   of [`FUEL_SLICE`] units (a resumable call); when a slice runs out the
//!   deadline is checked and the call resumes or stops with
//!   [`airssys_wasm_core::Error::Timeout`].
//! - **Only where needed**: fuel metering costs a little on every call and
//!   in every loop, so a component with neither a fuel limit nor a timeout
//!   is compiled on a second engine that meters nothing (made on first
//!   use). A component's limits are fixed when it is compiled.
//! - **Memory and tables** go through wasmi's `ResourceLimiter`.
//! - **Stack**: wasmi's recursion limit ([`WasmiConfig::max_recursion_depth`])
//!   turns runaway recursion into [`airssys_wasm_core::Error::StackOverflow`].
//! - **Host functions** come from the runtime's table, as on wasmtime; a
//!   host function that panics fails the call instead of unwinding.

mod abi;
mod features;
mod instance;
mod layout;
mod plan;
mod resources;
mod store;
mod transcode;
mod typed;
mod wasi;

use std::sync::{Arc, OnceLock};

use airssys_wasm_core::{
    Backend, CompiledComponent, ComponentInfo, Error, HostFunctions, InstanceConfig, Limits, Result,
};

pub use instance::{FUEL_SLICE, WasmiInstance};
pub use typed::{DirectCall, FlatCall, FlatParams, FlatResults};
/// The wasmi crate this backend is built on.
pub use wasmi;

/// Settings of the wasmi engine.
#[derive(Clone, Debug)]
pub struct WasmiConfig {
    /// Nested calls a guest may make before a stack overflow trap.
    /// Default 1024.
    pub max_recursion_depth: usize,
}

impl Default for WasmiConfig {
    fn default() -> Self {
        Self {
            max_recursion_depth: 1024,
        }
    }
}

/// The wasmi backend. Cheap to share (`Arc`); one per process is typical.
pub struct WasmiBackend {
    /// Meters fuel: for components with a fuel limit or a timeout (checked
    /// whenever a fuel slice runs out).
    metered: wasmi::Engine,
    /// Meters nothing: for components with neither, made on first use.
    plain: OnceLock<wasmi::Engine>,
    config: WasmiConfig,
}

/// Whether components with `limits` run on the fuel-metering engine.
pub(crate) fn metered(limits: &Limits) -> bool {
    limits.fuel.is_some() || limits.timeout.is_some()
}

fn engine(config: &WasmiConfig, metered: bool) -> wasmi::Engine {
    let mut c = wasmi::Config::default();
    c.consume_fuel(metered)
        .set_max_recursion_depth(config.max_recursion_depth);
    wasmi::Engine::new(&c)
}

impl WasmiBackend {
    /// A backend with default settings.
    pub fn new() -> Result<Self> {
        Self::with_config(WasmiConfig::default())
    }

    /// A backend with the given settings.
    pub fn with_config(config: WasmiConfig) -> Result<Self> {
        Ok(Self {
            metered: engine(&config, true),
            plain: OnceLock::new(),
            config,
        })
    }

    /// The fuel-metering wasmi engine (components with a fuel limit or a
    /// timeout run on it), for embedders that need it.
    pub fn engine(&self) -> &wasmi::Engine {
        &self.metered
    }

    /// The engine for components with `limits`.
    fn engine_for(&self, limits: &Limits) -> &wasmi::Engine {
        if metered(limits) {
            &self.metered
        } else {
            self.plain.get_or_init(|| engine(&self.config, false))
        }
    }
}

pub(crate) fn missing(name: &str, interface_known: bool) -> Error {
    Error::missing_import(name, interface_known, "wasmi")
}

impl Backend for WasmiBackend {
    fn name(&self) -> &'static str {
        "wasmi"
    }

    fn features(&self) -> airssys_wasm_core::WasmFeatures {
        features::features()
    }

    fn check(&self, bytes: &[u8], info: &ComponentInfo, limits: &Limits) -> Result<()> {
        plan::build(self.engine_for(limits), bytes, info, None).map(drop)
    }

    fn compile(
        &self,
        bytes: &[u8],
        info: &ComponentInfo,
        host: &Arc<HostFunctions>,
        limits: &Limits,
    ) -> Result<Arc<dyn CompiledComponent>> {
        let engine = self.engine_for(limits);
        let plan = plan::build(engine, bytes, info, Some(host))?;
        let metered = metered(limits);
        tracing::debug!(digest = %info.digest(), metered, "compiled component for wasmi");
        Ok(Arc::new(Compiled {
            engine: engine.clone(),
            metered,
            plan: Arc::new(plan),
            export_names: info.export_names(),
        }))
    }
}

/// A component translated and compiled for wasmi.
struct Compiled {
    engine: wasmi::Engine,
    /// Whether `engine` meters fuel.
    metered: bool,
    plan: Arc<plan::Plan>,
    export_names: String,
}

impl CompiledComponent for Compiled {
    fn instantiate(
        &self,
        config: InstanceConfig,
    ) -> Result<Box<dyn airssys_wasm_core::BackendInstance>> {
        if metered(&config.limits) != self.metered {
            return Err(airssys_wasm_core::kit::compiled_for_other_limits(
                &config.component,
                "fuel metering is compiled in for a fuel limit or a timeout",
            ));
        }
        WasmiInstance::new(
            &self.engine,
            self.plan.clone(),
            self.export_names.clone(),
            config,
        )
        .map(|i| Box::new(i) as Box<dyn airssys_wasm_core::BackendInstance>)
    }
}
