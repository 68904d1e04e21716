//! One live instance: the instance type, resolving exports and calling
//! them through values. Its store's data is in the `store` module; the
//! submodules hold the replay of the plan's initializers, the trampolines,
//! host calls, calls with fuel slices, and trap classification.

mod call;
mod host;
mod replay;
mod trampolines;
mod traps;

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use airssys_wasm_core::{
    BackendInstance, Error, FuncRef, GrowthLimiter, InstanceConfig, Limits, Result, Usage, Value,
};
use wasmi::{Func, Store};
use wasmtime_environ::component::{InterfaceType, OptionsIndex, ResourceIndex, TypeFuncIndex};

use self::call::lower_args;
use self::host::load_tuple;
use self::replay::{core_func, initialize};
use self::traps::classify;
use crate::abi::{self, Results};
use crate::layout::FlatSig;
use crate::plan::Plan;
use crate::resources::Resources;
use crate::store::{FuelMeter, Limiter, Runtime, StoreData, arm, refuel};

pub use crate::store::FUEL_SLICE;

/// An export resolved by [`BackendInstance::func`].
#[derive(Clone)]
struct Resolved {
    func: Func,
    ty: TypeFuncIndex,
    options: OptionsIndex,
    func_type: Arc<airssys_wasm_core::FuncType>,
    flat: Arc<FlatSig>,
}

/// A live wasmi instance.
pub struct WasmiInstance {
    /// Tells this instance's typed handles from other instances'.
    id: u64,
    store: Store<StoreData>,
    funcs: Vec<Resolved>,
    by_name: HashMap<Arc<str>, u32>,
    export_names: String,
    limits: Limits,
    poisoned: airssys_wasm_core::kit::Poison,
}

impl WasmiInstance {
    pub(crate) fn new(
        engine: &wasmi::Engine,
        plan: Arc<Plan>,
        export_names: String,
        config: InstanceConfig,
    ) -> Result<Self> {
        airssys_wasm_core::wasi::audit_ungranted(&config, &plan.wasi_needed)?;
        let wasi = crate::wasi::Wasi::new(&config).map_err(Error::Backend)?;
        let limits = config.limits;
        let data = StoreData {
            wasi,
            plan: plan.clone(),
            component: config.component,
            capabilities: config.capabilities,
            audit: config.audit,
            host_data: config.host_data,
            max_call_data: config.max_call_data,
            may_not_leave: 0,
            limiter: Limiter {
                growth: GrowthLimiter::new(&limits),
                exceeded: None,
            },
            fuel: FuelMeter {
                metered: crate::metered(&limits),
                ..FuelMeter::default()
            },
            resources: Resources::new(
                (0..plan.component.num_resources)
                    .map(|r| {
                        plan.component
                            .defined_resource_index(ResourceIndex::from_u32(r))
                            .is_none()
                    })
                    .collect(),
            ),
            rt: Runtime {
                memories: vec![None; plan.component.num_runtime_memories as usize],
                reallocs: vec![None; plan.component.num_runtime_reallocs as usize],
                post_returns: vec![None; plan.component.num_runtime_post_returns as usize],
                dtors: vec![None; plan.component.num_resources as usize],
                ..Runtime::default()
            },
        };
        let mut store = Store::new(engine, data);
        store.limiter(|d| &mut d.limiter);
        arm(&mut store, &limits);
        let start = Instant::now();
        if let Err(e) = initialize(&mut store, &plan) {
            return Err(classify(
                &mut store,
                &e,
                "<instantiate>",
                &limits,
                start.elapsed(),
            ));
        }
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            store,
            funcs: Vec::new(),
            by_name: HashMap::new(),
            export_names,
            limits,
            poisoned: Default::default(),
        })
    }

    #[inline]
    fn check_poisoned(&self) -> Result<()> {
        self.poisoned.check()
    }

    fn usage(&mut self, elapsed: Duration) -> Usage {
        refuel(&mut self.store);
        Usage {
            fuel_consumed: self.limits.fuel.map(|_| self.store.data().fuel.consumed),
            peak_memory_bytes: self.store.data().limiter.growth.peak_memory_bytes(),
            elapsed,
        }
    }

    fn fail(&mut self, e: &wasmi::Error, function: &str, elapsed: Duration) -> Error {
        let err = classify(&mut self.store, e, function, &self.limits, elapsed);
        self.poisoned.set(&err);
        err
    }

    /// Before a call through a typed handle: the instance is not poisoned,
    /// and the handle (a `kind`) was resolved on it.
    #[inline]
    fn check_handle(&self, owner: u64, function: &str, kind: &str) -> Result<()> {
        self.check_poisoned()?;
        if owner != self.id {
            return Err(Error::InvalidArguments {
                function: function.to_owned(),
                detail: format!("this {kind} was resolved on another instance"),
            });
        }
        Ok(())
    }

    /// The guest returned a result its type does not allow: a trap, and
    /// the instance is poisoned.
    fn invalid_result(&mut self, function: &str, message: String) -> Error {
        let err = Error::Trap {
            function: function.to_owned(),
            message: format!("the result is invalid: {message}"),
        };
        self.poisoned.set(&err);
        err
    }
}

/// The canonical options' memory and realloc.
fn options_of(data: &StoreData, plan: &Plan, options: OptionsIndex) -> abi::Options {
    let o = plan.options(options);
    let memory = o
        .memory()
        .and_then(|m| data.rt.memories[m.as_u32() as usize]);
    let realloc = match o.data_model {
        wasmtime_environ::component::CanonicalOptionsDataModel::LinearMemory(l) => l
            .realloc
            .and_then(|r| data.rt.reallocs[r.as_u32() as usize]),
        wasmtime_environ::component::CanonicalOptionsDataModel::Gc {} => None,
    };
    abi::Options {
        memory,
        realloc,
        encoding: o.string_encoding,
    }
}

/// Parameter and result types of a component function type.
fn func_types(plan: &Plan, ty: TypeFuncIndex) -> (&[InterfaceType], &[InterfaceType]) {
    let f = &plan.types[ty];
    (&plan.types[f.params].types, &plan.types[f.results].types)
}

impl BackendInstance for WasmiInstance {
    fn func(&mut self, name: &str) -> Result<FuncRef> {
        if let Some((key, &index)) = self.by_name.get_key_value(name) {
            let ty = self.funcs[index as usize].func_type.clone();
            return Ok(FuncRef::new(self.id, index, key.clone(), ty));
        }
        let plan = self.store.data().plan.clone();
        let Some(export) = plan.exports.get(name) else {
            return Err(Error::NoSuchExport {
                name: name.to_owned(),
                available: self.export_names.clone(),
            });
        };
        let func = core_func(&mut self.store, &plan, &export.func)
            .map_err(|e| Error::Backend(format!("resolving `{name}`: {e}")))?;
        let index = self.funcs.len() as u32;
        let key: Arc<str> = name.into();
        self.funcs.push(Resolved {
            func,
            ty: export.ty,
            options: export.options,
            func_type: export.func_type.clone(),
            flat: export.flat.clone(),
        });
        self.by_name.insert(key.clone(), index);
        Ok(FuncRef::new(self.id, index, key, export.func_type.clone()))
    }

    fn call(&mut self, f: &FuncRef, args: &[Value]) -> Result<(Vec<Value>, Usage)> {
        self.check_poisoned()?;
        let index = f.index_in(self.id, self.funcs.len())?;
        let ty = &self.funcs[index].func_type.clone();
        let name = f.name();
        airssys_wasm_core::kit::check_args(name, ty, args)?;
        let vparams = ty.params.iter().map(|(_, t)| t);
        let vresults = ty.result.as_slice();
        self.call_with(
            index as u32,
            name,
            |cx, ptys, flat_params| lower_args(cx, ptys, vparams, args, flat_params),
            |cx, rtys, results| match results {
                Results::Pointer(ptr) => load_tuple(cx, rtys, vresults, ptr),
                Results::Flat(raw) => {
                    let mut src = raw.iter();
                    rtys.iter()
                        .zip(vresults)
                        .map(|(t, vt)| cx.lift_flat(t, vt, &mut src))
                        .collect()
                }
            },
        )
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
