//! One live instance: its store (whose data is in the `store` module), the
//! replay of the plan's initializers, calls with fuel slices, and error
//! classification.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use airssys_wasm_core::typed::{ComponentParams, ComponentResults, FlatList};
use airssys_wasm_core::{
    BackendInstance, CallContext, Error, FuncRef, GrowthLimiter, HostError, InstanceConfig, Limits,
    Result, Usage, Value, ValueType,
};
use wasmi::{
    AsContextMut, Caller, Extern, Func, Global, Mutability, ResumableCall, Store, TrapCode,
    TypedFunc, TypedResumableCall, Val, WasmParams, WasmResults,
};
use wasmtime_environ::component::{
    CoreDef, ExportItem, GlobalInitializer, InstantiateModule, InterfaceType, OptionsIndex,
    ResourceIndex, RuntimeComponentInstanceIndex, Trampoline, TrampolineIndex, TypeFuncIndex,
};

use crate::abi::{self, Cx, Results};
use crate::layout::{self, FlatSig, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS};
use crate::plan::{Plan, Provider};
use crate::resources::{Resources, Slot};
use crate::store::{FuelMeter, Limiter, Runtime, StoreData, arm, refuel};
use crate::typed::{DirectCall, FlatCall, FlatParams, FlatResults};
use crate::wasi::Stop;

pub use crate::store::FUEL_SLICE;

/// A host function failed; carried through wasmi's error to `classify`.
#[derive(Debug)]
struct HostCallFailed {
    function: Arc<str>,
    error: HostError,
}

impl fmt::Display for HostCallFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host function `{}`: {}", self.function, self.error)
    }
}

impl wasmi::errors::HostError for HostCallFailed {}

/// The guest handed the host bad data (a bad pointer, invalid UTF-8, an
/// unknown handle): the call traps with this message.
#[derive(Debug)]
struct AbiViolation(String);

impl fmt::Display for AbiViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl wasmi::errors::HostError for AbiViolation {}

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
    poisoned: Option<String>,
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
            poisoned: None,
        })
    }

    #[inline]
    fn check_poisoned(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::InstancePoisoned(why.clone())),
            None => Ok(()),
        }
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
        self.poisoned = Some(err.to_string());
        err
    }

    /// Runs `func` to completion; with a timeout, in fuel slices, checking
    /// the deadline whenever a slice runs out.
    fn run(
        &mut self,
        func: Func,
        params: &[Val],
        results: &mut [Val],
    ) -> std::result::Result<(), wasmi::Error> {
        // Without a deadline the whole budget is granted at once: a plain
        // call, which costs less than a resumable one.
        if self.store.data().fuel.deadline.is_none() {
            return func.call(&mut self.store, params, results);
        }
        let mut call = func.call_resumable(&mut self.store, params, results)?;
        loop {
            match call {
                ResumableCall::Finished => return Ok(()),
                ResumableCall::HostTrap(trap) => return Err(trap.into_host_error()),
                ResumableCall::OutOfFuel(pending) => {
                    self.next_slice(pending.required_fuel())?;
                    call = pending.resume(&mut self.store, results)?;
                }
            }
        }
    }

    /// One call of resolved export `index`: arms the limits, lowers the
    /// arguments with `lower` (given the parameter types and the number of
    /// flat parameters), runs the export, lifts what it returned with
    /// `lift`, and runs the export's post-return function. The call is a
    /// borrow scope: lends of the guest's handles end with it, and a borrow
    /// handle given to the guest must be dropped before it returns. Bad
    /// arguments and invalid results poison the instance like a trap.
    fn call_with<T>(
        &mut self,
        index: u32,
        name: &str,
        lower: impl FnOnce(
            &mut Cx<'_, '_>,
            &[InterfaceType],
            usize,
        ) -> std::result::Result<Vec<Val>, String>,
        lift: impl FnOnce(
            &mut Cx<'_, '_>,
            &[InterfaceType],
            Results<'_>,
        ) -> std::result::Result<T, String>,
    ) -> Result<(T, Usage)> {
        let plan = self.store.data().plan.clone();
        let export = self.funcs[index as usize].clone();
        let func = export.func;
        let (ptys, rtys) = func_types(&plan, export.ty);
        let options = options_of(self.store.data(), &plan, export.options);
        let post_return = plan
            .options(export.options)
            .post_return
            .and_then(|p| self.store.data().rt.post_returns[p.as_u32() as usize]);

        let start = arm(&mut self.store, &self.limits);
        let depth = self.store.data_mut().resources.enter_scope();
        let mut ctx = self.store.as_context_mut();
        let mut cx = Cx::new(&mut ctx, &plan.types, options);
        let lowered = lower(&mut cx, ptys, export.flat.params);
        let fault = cx.fault.take();
        let flat_args = match lowered {
            Ok(v) => v,
            Err(detail) => {
                self.store.data_mut().resources.abandon_scopes(depth);
                // The guest's realloc failed: a trap of the guest, or the
                // limit it ran into.
                match fault {
                    Some(abi::Fault::Wasm(e)) => return Err(self.fail(&e, name, start.elapsed())),
                    Some(abi::Fault::Trap(message)) => {
                        let err = Error::Trap {
                            function: name.to_owned(),
                            message,
                        };
                        self.poisoned = Some(err.to_string());
                        return Err(err);
                    }
                    None => {}
                }
                // Bad arguments poison the instance too: lowering may have
                // run guest code (its realloc) and moved handles into it.
                let err = Error::InvalidArguments {
                    function: name.to_owned(),
                    detail,
                };
                self.poisoned = Some(err.to_string());
                return Err(err);
            }
        };
        let result_flat = &export.flat.results;
        // At most MAX_FLAT_RESULTS (one) flat result, or a pointer to them.
        let mut raw_slot = [Val::I32(0)];
        let raw: &mut [Val] = match result_flat.first() {
            Some(t) if result_flat.len() <= MAX_FLAT_RESULTS => {
                raw_slot[0] = flat_zero(*t);
                &mut raw_slot
            }
            Some(_) => &mut raw_slot,
            None => &mut [],
        };
        if let Err(e) = self.run(func, &flat_args, raw) {
            self.store.data_mut().resources.abandon_scopes(depth);
            return Err(self.fail(&e, name, start.elapsed()));
        }
        // The borrows given to the guest must be dropped by now, as the
        // canonical ABI (and wasmtime) check before lifting the results.
        if let Err(message) = self.store.data_mut().resources.exit_scope() {
            self.store.data_mut().resources.abandon_scopes(depth);
            let err = Error::Trap {
                function: name.to_owned(),
                message,
            };
            self.poisoned = Some(err.to_string());
            return Err(err);
        }
        let mut ctx = self.store.as_context_mut();
        let mut cx = Cx::new(&mut ctx, &plan.types, options);
        let lifted = if result_flat.len() > MAX_FLAT_RESULTS {
            match raw[0] {
                Val::I32(ptr) => lift(&mut cx, rtys, Results::Pointer(ptr as u32)),
                _ => Err("the export returned a non-i32 result pointer".into()),
            }
        } else {
            lift(&mut cx, rtys, Results::Flat(raw))
        };
        let out = match lifted {
            Ok(v) => v,
            Err(m) => {
                let err = self.invalid_result(name, m);
                tracing::debug!(elapsed = ?start.elapsed(), "{err}");
                return Err(err);
            }
        };
        if let Some(post) = post_return {
            refuel(&mut self.store);
            self.store.data_mut().may_not_leave += 1;
            let done = post.call(&mut self.store, raw, &mut []);
            self.store.data_mut().may_not_leave -= 1;
            if let Err(e) = done {
                return Err(self.fail(&e, name, start.elapsed()));
            }
        }
        Ok((out, self.usage(start.elapsed())))
    }

    /// Resolves export `name` for typed calls that lower and lift Rust
    /// values directly, without `Value`s, when every parameter and the
    /// result is a scalar, a string or a byte list and the parameters are
    /// passed flat. `Ok(None)` otherwise: call the export through values.
    /// Prefer [`WasmiInstance::flat_call`] where it applies (scalars only).
    pub fn direct_call<P: ComponentParams, R: ComponentResults>(
        &mut self,
        name: &str,
    ) -> Result<Option<DirectCall>> {
        if !P::DIRECT || !R::DIRECT {
            return Ok(None);
        }
        let f = self.func(name)?;
        if self.funcs[f.index as usize].flat.params > MAX_FLAT_PARAMS {
            return Ok(None);
        }
        Ok(Some(DirectCall {
            index: f.index,
            name: f.name,
            owner: self.id,
        }))
    }

    /// Calls through a [`DirectCall`], with the limits, fuel slices and
    /// error classification of dynamic calls; returns the result and what
    /// the call used.
    pub fn call_direct<P: ComponentParams, R: ComponentResults>(
        &mut self,
        f: &DirectCall,
        params: &P,
    ) -> Result<(R, Usage)> {
        self.check_handle(f.owner, &f.name, "DirectCall")?;
        self.call_with(
            f.index,
            &f.name,
            |cx, _, flat_params| {
                let mut l = abi::DirectLower {
                    cx,
                    out: Vec::with_capacity(flat_params),
                };
                params.lower_params(&mut l)?;
                Ok(l.out)
            },
            |cx, _, results| R::lift_result(&mut abi::DirectLift { cx, results }),
        )
    }

    /// [`WasmiInstance::run`] for a typed call: wasmi's `TypedFunc`, whose
    /// core signature was checked when it was resolved. A failure is
    /// classified, timed from `timer`, and poisons the instance.
    fn run_typed<P: WasmParams, R: WasmResults>(
        &mut self,
        func: &TypedFunc<P, R>,
        params: P,
        function: &str,
        timer: Option<Instant>,
    ) -> Result<R> {
        let elapsed = || timer.map(|t| t.elapsed()).unwrap_or_default();
        if self.store.data().fuel.deadline.is_none() {
            return func
                .call(&mut self.store, params)
                .map_err(|e| self.fail(&e, function, elapsed()));
        }
        let mut call = func
            .call_resumable(&mut self.store, params)
            .map_err(|e| self.fail(&e, function, elapsed()))?;
        loop {
            match call {
                TypedResumableCall::Finished(r) => return Ok(r),
                TypedResumableCall::HostTrap(trap) => {
                    return Err(self.fail(trap.host_error(), function, elapsed()));
                }
                TypedResumableCall::OutOfFuel(pending) => {
                    if let Err(e) = self.next_slice(pending.required_fuel()) {
                        return Err(self.fail(&e, function, elapsed()));
                    }
                    call = pending
                        .resume(&mut self.store)
                        .map_err(|e| self.fail(&e, function, elapsed()))?;
                }
            }
        }
    }

    /// After a fuel slice ran out: counts it and grants the next, or says
    /// why the call stops (its deadline passed, or its fuel, short of the
    /// `required` units, is spent).
    fn next_slice(&mut self, required: u64) -> std::result::Result<(), wasmi::Error> {
        refuel(&mut self.store);
        let meter = &self.store.data().fuel;
        if meter.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(wasmi::Error::host(Interrupted));
        }
        if meter.remaining() < required || meter.granted == 0 {
            return Err(TrapCode::OutOfFuel.into());
        }
        Ok(())
    }

    /// Resolves export `name` for typed calls of parameters `P` and result
    /// `R` through wasmi's own typed call, when their flat form allows it
    /// (scalars only, no post-return function). `Ok(None)` when it does
    /// not: call the export through values. The caller has checked `P` and
    /// `R` against the export's WIT type
    /// ([`check_signature`](airssys_wasm_core::typed::check_signature)).
    pub fn flat_call<P, R>(&mut self, name: &str) -> Result<Option<FlatCall<P::Flat, R::Flat>>>
    where
        P: ComponentParams<Flat: FlatParams>,
        R: ComponentResults<Flat: FlatResults>,
    {
        if !<P::Flat as FlatList>::FLAT || !<R::Flat as FlatResults>::FLAT {
            return Ok(None);
        }
        let f = self.func(name)?;
        let resolved = &self.funcs[f.index as usize];
        let plan = &self.store.data().plan;
        if plan.options(resolved.options).post_return.is_some() {
            return Ok(None);
        }
        let func = resolved
            .func
            .typed(&self.store)
            .map_err(|e| Error::InvalidArguments {
                function: name.to_owned(),
                detail: format!("its core signature does not fit `{}`: {e}", f.ty),
            })?;
        Ok(Some(FlatCall {
            func,
            name: f.name,
            owner: self.id,
        }))
    }

    /// Calls through the typed fast path, with the same limits, fuel
    /// slices and error classification as dynamic calls.
    ///
    /// `start` is when the caller began the call, for a caller that wants
    /// its [`Usage`] (the elapsed time is measured from it). With `None`,
    /// a component without fuel or timeout limits runs with no clock read
    /// and no fuel bookkeeping, and no usage is returned.
    pub fn call_flat<P, R>(
        &mut self,
        f: &FlatCall<P::Flat, R::Flat>,
        params: P,
        start: Option<Instant>,
    ) -> Result<(R, Option<Usage>)>
    where
        P: ComponentParams<Flat: FlatParams>,
        R: ComponentResults<Flat: FlatResults>,
    {
        self.check_handle(f.owner, &f.name, "FlatCall")?;
        // Without fuel or timeout limits the engine meters nothing, and
        // nothing needs arming.
        let armed = self
            .store
            .data()
            .fuel
            .metered
            .then(|| arm(&mut self.store, &self.limits));
        let flat = params.into_flat_list().into_wasmi();
        let out = self.run_typed(&f.func, flat, &f.name, start.or(armed))?;
        match R::from_flat_result(<R::Flat as FlatResults>::from_wasmi(out)) {
            Ok(r) => Ok((r, start.map(|s| self.usage(s.elapsed())))),
            Err(m) => Err(self.invalid_result(&f.name, m)),
        }
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
        self.poisoned = Some(err.to_string());
        err
    }
}

/// The deadline passed.
#[derive(Debug)]
struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted: the call's deadline passed")
    }
}

impl wasmi::errors::HostError for Interrupted {}

/// Replays the plan's initializers: instantiates the core modules in order
/// and collects memories, reallocs, post-returns and destructors.
fn initialize(store: &mut Store<StoreData>, plan: &Plan) -> std::result::Result<(), wasmi::Error> {
    for init in &plan.component.initializers {
        match init {
            GlobalInitializer::InstantiateModule(InstantiateModule::Static(module, args), _) => {
                // The arguments follow the binary's import order; wasmi
                // takes them in the order its `imports()` lists them.
                let mut by_name: HashMap<(&str, &str), Vec<Extern>> = HashMap::new();
                for ((m, n), d) in plan.import_names[*module].iter().zip(args.iter()).rev() {
                    by_name
                        .entry((m.as_str(), n.as_str()))
                        .or_default()
                        .push(core_def(store, plan, d)?);
                }
                let imports = plan.modules[*module]
                    .imports()
                    .map(|i| {
                        by_name
                            .get_mut(&(i.module(), i.name()))
                            .and_then(Vec::pop)
                            .ok_or_else(|| {
                                wasmi::Error::new(format!(
                                    "no definition for the core import {}::{}",
                                    i.module(),
                                    i.name()
                                ))
                            })
                    })
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let instance = wasmi::Instance::new(&mut *store, &plan.modules[*module], &imports)?;
                store.data_mut().rt.instances.push((instance, *module));
            }
            GlobalInitializer::InstantiateModule(InstantiateModule::Import(..), _) => {
                return Err(wasmi::Error::new(
                    "components that import core modules are not supported",
                ));
            }
            GlobalInitializer::LowerImport { .. } => {}
            GlobalInitializer::ExtractMemory(m) => {
                let def = CoreDef::Export(m.export.clone().map_index(Into::into));
                let memory = match core_def(store, plan, &def)? {
                    Extern::Memory(mem) => mem,
                    _ => {
                        return Err(wasmi::Error::new(
                            "a canonical memory option is not a memory",
                        ));
                    }
                };
                store.data_mut().rt.memories[m.index.as_u32() as usize] = Some(memory);
            }
            GlobalInitializer::ExtractRealloc(r) => {
                let f = core_func(store, plan, &r.def)?;
                store.data_mut().rt.reallocs[r.index.as_u32() as usize] = Some(f);
            }
            GlobalInitializer::ExtractPostReturn(p) => {
                let f = core_func(store, plan, &p.def)?;
                store.data_mut().rt.post_returns[p.index.as_u32() as usize] = Some(f);
            }
            GlobalInitializer::Resource(r) => {
                let dtor = r
                    .dtor
                    .as_ref()
                    .map(|d| core_func(store, plan, d))
                    .transpose()?;
                let index = plan.component.resource_index(r.index);
                store.data_mut().rt.dtors[index.as_u32() as usize] = dtor;
            }
            GlobalInitializer::ExtractCallback(_) | GlobalInitializer::ExtractTable(_) => {
                return Err(wasmi::Error::new(
                    "async callbacks and thread tables are not supported by the wasmi backend",
                ));
            }
        }
    }
    Ok(())
}

fn core_func(
    store: &mut Store<StoreData>,
    plan: &Plan,
    def: &CoreDef,
) -> std::result::Result<Func, wasmi::Error> {
    match core_def(store, plan, def)? {
        Extern::Func(f) => Ok(f),
        _ => Err(wasmi::Error::new(
            "a canonical function option is not a function",
        )),
    }
}

/// Resolves a core definition to a wasmi extern.
fn core_def(
    store: &mut Store<StoreData>,
    plan: &Plan,
    def: &CoreDef,
) -> std::result::Result<Extern, wasmi::Error> {
    match def {
        CoreDef::Export(e) => {
            let (instance, module) = store.data().rt.instances[e.instance.as_u32() as usize];
            let name = match &e.item {
                ExportItem::Name(n) => n.as_str(),
                ExportItem::Index(i) => plan.export_names_by_index[module]
                    .get(i)
                    .map(String::as_str)
                    .ok_or_else(|| {
                        wasmi::Error::new("a core export the component uses is missing")
                    })?,
            };
            instance
                .get_export(&*store, name)
                .ok_or_else(|| wasmi::Error::new(format!("core instance has no export `{name}`")))
        }
        CoreDef::Trampoline(t) => {
            if let Some(f) = store.data().rt.trampolines.get(t) {
                return Ok(Extern::Func(*f));
            }
            let f = trampoline(store, plan, *t);
            store.data_mut().rt.trampolines.insert(*t, f);
            Ok(Extern::Func(f))
        }
        CoreDef::InstanceFlags(i) => {
            if let Some(g) = store.data().rt.flags.get(i) {
                return Ok(Extern::Global(*g));
            }
            // may-leave | may-enter, as the adapters expect on entry.
            let g = Global::new(&mut *store, Val::I32(0b11), Mutability::Var);
            store.data_mut().rt.flags.insert(*i, g);
            Ok(Extern::Global(g))
        }
        CoreDef::UnsafeIntrinsic(_) | CoreDef::TaskMayBlock => Err(wasmi::Error::new(
            "the component uses an intrinsic the wasmi backend does not provide",
        )),
    }
}

/// Creates the host function behind a trampoline.
fn trampoline(store: &mut Store<StoreData>, plan: &Plan, index: TrampolineIndex) -> Func {
    let sig = &plan.trampoline_sigs[index];
    let ty = wasmi::FuncType::new(sig.params.iter().copied(), sig.results.iter().copied());
    match &plan.trampolines[index] {
        Trampoline::LowerImport {
            index,
            lower_ty,
            options,
        } => {
            let (lowered, lower_ty, options) = (index.as_u32() as usize, *lower_ty, *options);
            let (ptys, rtys) = func_types(plan, lower_ty);
            let flat = FlatSig::of(&plan.types, ptys, rtys);
            Func::new(&mut *store, ty, move |caller, params, results| {
                host_call(caller, lowered, lower_ty, &flat, options, params, results)
            })
        }
        Trampoline::ResourceNew { ty: table, .. } => {
            let (instance, resource) = concrete(plan, *table);
            Func::new(&mut *store, ty, move |mut caller, params, results| {
                let rep = i32_param(params, 0)? as u32;
                let h = caller
                    .data_mut()
                    .resources
                    .insert_guest(instance, Slot::Own { rep, resource })
                    .map_err(|m| wasmi::Error::host(AbiViolation(m)))?;
                results[0] = Val::I32(h as i32);
                Ok(())
            })
        }
        Trampoline::ResourceRep { ty: table, .. } => {
            let (instance, resource) = concrete(plan, *table);
            Func::new(&mut *store, ty, move |mut caller, params, results| {
                let h = i32_param(params, 0)? as u32;
                let slot = caller
                    .data_mut()
                    .resources
                    .get_guest(instance, h, resource)
                    .map_err(|m| wasmi::Error::host(AbiViolation(m)))?;
                results[0] = Val::I32(slot.rep() as i32);
                Ok(())
            })
        }
        Trampoline::ResourceDrop { ty: table, .. } => {
            let (instance, resource) = concrete(plan, *table);
            Func::new(&mut *store, ty, move |mut caller, params, _results| {
                let h = i32_param(params, 0)? as u32;
                let slot = caller
                    .data_mut()
                    .resources
                    .drop_guest(instance, h, resource)
                    .map_err(|m| wasmi::Error::host(AbiViolation(m)))?;
                let Slot::Own { rep, .. } = slot else {
                    // A borrow: nothing is destroyed.
                    return Ok(());
                };
                if caller.data().defining_instance(resource).is_none() {
                    // A WASI resource: the host's entry goes.
                    caller.data_mut().wasi.drop_rep(rep);
                } else if let Some(dtor) = caller.data().rt.dtors[resource.as_u32() as usize] {
                    refuel(&mut caller);
                    dtor.call(&mut caller, &[Val::I32(rep as i32)], &mut [])?;
                }
                Ok(())
            })
        }
        Trampoline::Transcoder { op, from, to, .. } => {
            // Copies or transcodes a string between two components'
            // memories (the fused adapters of composed components);
            // `plan::check_trampoline` refuses 64-bit memories.
            let (op, from, to) = (*op, from.as_u32() as usize, to.as_u32() as usize);
            Func::new(&mut *store, ty, move |caller, params, results| {
                transcode(caller, op, from, to, params, results)
            })
        }
        // A synchronous call between two components begins (before its
        // arguments are lifted) and ends (after the callee returned, before
        // its results are lifted): the borrow scope of the call.
        Trampoline::EnterSyncCall => Func::new(&mut *store, ty, |mut caller, _, _| {
            caller.data_mut().resources.enter_scope();
            Ok(())
        }),
        Trampoline::ExitSyncCall => Func::new(&mut *store, ty, |mut caller, _, _| {
            caller
                .data_mut()
                .resources
                .exit_scope()
                .map_err(|m| wasmi::Error::host(AbiViolation(m)))
        }),
        Trampoline::ResourceTransferOwn | Trampoline::ResourceTransferBorrow => {
            let own = matches!(&plan.trampolines[index], Trampoline::ResourceTransferOwn);
            Func::new(&mut *store, ty, move |mut caller, params, results| {
                let handle = i32_param(params, 0)? as u32;
                let tables = [i32_param(params, 1)? as u32, i32_param(params, 2)? as u32];
                let plan = caller.data().plan.clone();
                let [(src, resource), (dst, _)] = tables.map(|t| {
                    concrete(
                        &plan,
                        wasmtime_environ::component::TypeResourceTableIndex::from_u32(t),
                    )
                });
                let violation = |m: String| wasmi::Error::host(AbiViolation(m));
                let data = caller.data_mut();
                // Lifting an `own` moves it (never while it is lent);
                // lifting a `borrow` lends it for the current call.
                let out = if own {
                    let slot = data
                        .resources
                        .take_guest(src, handle, resource)
                        .map_err(violation)?;
                    data.resources
                        .insert_guest(
                            dst,
                            Slot::Own {
                                rep: slot.rep(),
                                resource,
                            },
                        )
                        .map_err(violation)?
                } else {
                    let slot = data
                        .resources
                        .lend_guest(src, handle, resource)
                        .map_err(violation)?;
                    if data.defining_instance(resource) == Some(dst) {
                        slot.rep()
                    } else {
                        data.resources
                            .insert_guest(
                                dst,
                                Slot::Borrow {
                                    rep: slot.rep(),
                                    resource,
                                },
                            )
                            .map_err(violation)?
                    }
                };
                results[0] = Val::I32(out as i32);
                Ok(())
            })
        }
        // A fused adapter found bad data (an unaligned pointer, an invalid
        // `char`, a discriminant out of range, a string or list outside
        // memory): it traps with a code, said in wasmtime's words.
        Trampoline::Trap => Func::new(&mut *store, ty, |_, params, _| {
            let code = i32_param(params, 0)?;
            Err(wasmi::Error::host(AbiViolation(adapter_trap(code))))
        }),
        // `plan::check_trampoline` refuses the others at load.
        _ => Func::new(&mut *store, ty, |_, _, _| {
            Err(wasmi::Error::new(
                "the component called an intrinsic the wasmi backend does not provide",
            ))
        }),
    }
}

/// Runs one transcoder call: reads its arguments, checks both regions
/// against their memories, converts, and returns the sizes the adapter
/// continues with.
fn transcode(
    mut caller: Caller<'_, StoreData>,
    op: wasmtime_environ::component::Transcode,
    from: usize,
    to: usize,
    params: &[Val],
    results: &mut [Val],
) -> std::result::Result<(), wasmi::Error> {
    let arg = |k: usize| i32_param(params, k).map(|x| x as u32 as usize);
    let (src, dst) = (arg(0)?, arg(2)?);
    let lens = if crate::transcode::has_dst_len(op) {
        crate::transcode::Lens {
            src: arg(1)?,
            dst: arg(3)?,
            extra: arg(4)?,
        }
    } else {
        let len = arg(1)?;
        crate::transcode::Lens {
            src: len,
            dst: len,
            extra: 0,
        }
    };
    let violation = |m: &str| wasmi::Error::host(AbiViolation(m.to_owned()));
    let oob = || violation("string transcode out of bounds of memory");
    let (src_bytes, dst_bytes) = crate::transcode::byte_sizes(op, lens).ok_or_else(oob)?;
    let mems = &caller.data().rt.memories;
    let (Some(src_mem), Some(dst_mem)) = (mems[from], mems[to]) else {
        return Err(wasmi::Error::new("a transcoder's memory is missing"));
    };
    // The source is copied out first: the destination may be in the same
    // memory.
    let data = src_mem
        .data(&caller)
        .get(src..src.checked_add(src_bytes).ok_or_else(oob)?)
        .ok_or_else(oob)?
        .to_vec();
    let out = dst_mem
        .data_mut(&mut caller)
        .get_mut(dst..dst.checked_add(dst_bytes).ok_or_else(oob)?)
        .ok_or_else(oob)?;
    let sizes = crate::transcode::run(op, &data, out, lens).map_err(violation)?;
    for (slot, size) in results.iter_mut().zip(sizes) {
        *slot = Val::I32(size as u32 as i32);
    }
    Ok(())
}

/// The reason of a fused adapter's trap `code` (a
/// `wasmtime_environ::Trap`), as wasmtime words it ("wasm trap: ..."), as
/// the wasmtime backend reports it.
fn adapter_trap(code: i32) -> String {
    match u8::try_from(code)
        .ok()
        .and_then(wasmtime_environ::Trap::from_u8)
    {
        Some(trap) => trap.to_string(),
        None => format!("a fused adapter trapped with unknown code {code}"),
    }
}

fn concrete(
    plan: &Plan,
    table: wasmtime_environ::component::TypeResourceTableIndex,
) -> (RuntimeComponentInstanceIndex, ResourceIndex) {
    match &plan.types[table] {
        wasmtime_environ::component::TypeResourceTable::Concrete { ty, instance } => {
            (*instance, *ty)
        }
        // The plan refuses abstract resources at load.
        wasmtime_environ::component::TypeResourceTable::Abstract(_) => (
            RuntimeComponentInstanceIndex::from_u32(u32::MAX),
            ResourceIndex::from_u32(u32::MAX),
        ),
    }
}

fn i32_param(params: &[Val], k: usize) -> std::result::Result<i32, wasmi::Error> {
    match params.get(k) {
        Some(Val::I32(x)) => Ok(*x),
        _ => Err(wasmi::Error::new(
            "a canonical intrinsic got a non-i32 argument",
        )),
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

/// A guest called a host import: lift the arguments, call the host
/// function, lower the results.
fn host_call(
    mut caller: Caller<'_, StoreData>,
    lowered: usize,
    lower_ty: TypeFuncIndex,
    flat: &FlatSig,
    options: OptionsIndex,
    params: &[Val],
    results: &mut [Val],
) -> std::result::Result<(), wasmi::Error> {
    if caller.data().may_not_leave > 0 {
        // What wasmtime says, for the same guest.
        return Err(wasmi::Error::host(AbiViolation(
            "cannot leave component instance".into(),
        )));
    }
    let plan = caller.data().plan.clone();
    let import = &plan.lowered[lowered];
    let (ptys, rtys) = func_types(&plan, lower_ty);
    let vparams = import.func_type.params.iter().map(|(_, t)| t);
    let options = options_of(caller.data(), &plan, options);
    let mut ctx = caller.as_context_mut();
    let max_call_data = ctx.data().max_call_data;
    // The call is a borrow scope: handles the guest lends it stay lent
    // until it returns. (A failure ends the outer call, which drops the
    // scope.)
    ctx.data_mut().resources.enter_scope();
    let mut cx = Cx::new(&mut ctx, &plan.types, options);
    cx.budget = Some(max_call_data);
    let violation =
        |m: String| wasmi::Error::host(AbiViolation(format!("calling `{}`: {m}", import.name)));
    let flat_params = flat.params;
    let lifted = if flat_params > MAX_FLAT_PARAMS {
        let ptr = i32_param(params, 0)? as u32;
        load_tuple(&mut cx, ptys, vparams, ptr)
    } else {
        let mut src = params.iter();
        ptys.iter()
            .zip(vparams)
            .map(|(t, vt)| cx.lift_flat(t, vt, &mut src))
            .collect::<std::result::Result<Vec<_>, _>>()
    };
    let args = match lifted {
        Ok(args) => args,
        // Refused before anything was copied out of the guest.
        Err(_) if cx.over_budget => {
            let data = cx.store.data();
            let hcx = CallContext::new(&data.component, &data.capabilities, &*data.audit);
            return Err(wasmi::Error::host(HostCallFailed {
                function: import.name.clone(),
                error: airssys_wasm_core::over_call_data(&hcx, &import.name, max_call_data),
            }));
        }
        Err(m) => return Err(violation(m)),
    };
    cx.budget = None;
    let outs = match &import.func {
        Provider::Wasi(f) => {
            let data = cx.store.data_mut();
            data.wasi.deadline = data.fuel.deadline;
            match f(&mut data.wasi, &args) {
                Ok(v) => v.into_iter().collect(),
                Err(Stop::Exit(code)) => return Err(wasmi::Error::i32_exit(code)),
                Err(Stop::Trap(m)) => return Err(violation(m)),
                Err(Stop::Timeout) => return Err(wasmi::Error::host(Interrupted)),
                Err(Stop::FrozenClock) => {
                    let data = cx.store.data();
                    let hcx = CallContext::new(&data.component, &data.capabilities, &*data.audit);
                    return Err(wasmi::Error::host(HostCallFailed {
                        function: import.name.clone(),
                        error: airssys_wasm_core::wasi::deny_frozen_wait(&hcx),
                    }));
                }
            }
        }
        Provider::Host(f) => {
            let mut outs = vec![Value::Bool(false); rtys.len()];
            let data = cx.store.data();
            let mut hcx = CallContext::new(&data.component, &data.capabilities, &*data.audit)
                .with_host_data(data.host_data.as_ref())
                .with_deadline(data.fuel.deadline);
            let fail = |error: HostError| {
                wasmi::Error::host(HostCallFailed {
                    function: import.name.clone(),
                    error,
                })
            };
            match catch_unwind(AssertUnwindSafe(|| f(&mut hcx, &args, &mut outs))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(fail(e)),
                Err(panic) => {
                    return Err(fail(HostError::Failed(format!(
                        "panicked: {}",
                        airssys_wasm_core::panic_message(&*panic)
                    ))));
                }
            }
            outs
        }
    };
    cx.store
        .data_mut()
        .resources
        .exit_scope()
        .map_err(violation)?;
    // A result the host function returned that does not fit its type, or
    // the guest's realloc failing while the results are copied in (a trap
    // of the guest, or the limit it ran into).
    let bad_result = |cx: &mut Cx<'_, '_>, m: String| match cx.fault.take() {
        Some(abi::Fault::Wasm(e)) => e,
        Some(abi::Fault::Trap(m)) => wasmi::Error::host(AbiViolation(m)),
        None => wasmi::Error::host(HostCallFailed {
            function: import.name.clone(),
            error: HostError::Failed(format!("returned a bad value: {m}")),
        }),
    };
    let vresults = import.func_type.result.as_slice();
    let lowered = if outs.len() != vresults.len() {
        Err(format!(
            "{} result(s) where {} were expected",
            outs.len(),
            vresults.len()
        ))
    } else if flat.results.len() > MAX_FLAT_RESULTS {
        let at = if flat_params > MAX_FLAT_PARAMS {
            1
        } else {
            flat_params
        };
        let retptr = i32_param(params, at)? as u32;
        store_tuple(&mut cx, rtys, vresults, &outs, retptr)
    } else {
        let mut flat = Vec::with_capacity(1);
        let done = rtys
            .iter()
            .zip(vresults)
            .zip(&outs)
            .try_for_each(|((t, vt), v)| {
                v.check_type(vt)?;
                cx.lower_flat(t, vt, v, &mut flat)
            });
        for (slot, v) in results.iter_mut().zip(flat) {
            *slot = v;
        }
        done
    };
    lowered.map_err(|m| bad_result(&mut cx, m))
}

/// Field offsets of a tuple of `tys`, and its size and alignment.
fn tuple_layout(
    plan_types: &wasmtime_environ::component::ComponentTypes,
    tys: &[InterfaceType],
) -> (Vec<u32>, u32, u32) {
    let abis: Vec<_> = tys.iter().map(|t| plan_types.canonical_abi(t)).collect();
    let mut offset = 0;
    let offsets = abis.iter().map(|a| a.next_field32(&mut offset)).collect();
    let record = wasmtime_environ::component::CanonicalAbiInfo::record(abis.into_iter());
    (offsets, record.size32, record.align32)
}

fn load_tuple<'v>(
    cx: &mut Cx<'_, '_>,
    tys: &[InterfaceType],
    vtys: impl IntoIterator<Item = &'v ValueType>,
    ptr: u32,
) -> std::result::Result<Vec<Value>, String> {
    let (offsets, size, align) = tuple_layout(cx.types, tys);
    // The whole area first: a value at its start must not be read when
    // the rest is outside memory.
    cx.area(ptr, size, align)?;
    tys.iter()
        .zip(vtys)
        .zip(offsets)
        .map(|((t, vt), off)| cx.load_value(t, vt, ptr + off))
        .collect()
}

fn store_tuple<'v>(
    cx: &mut Cx<'_, '_>,
    tys: &[InterfaceType],
    vtys: impl IntoIterator<Item = &'v ValueType>,
    values: &[Value],
    ptr: u32,
) -> std::result::Result<(), String> {
    let (offsets, _, _) = tuple_layout(cx.types, tys);
    for (((t, vt), v), off) in tys.iter().zip(vtys).zip(values).zip(offsets) {
        v.check_type(vt)?;
        cx.store_value(t, vt, v, ptr + off)?;
    }
    Ok(())
}

/// Maps a wasmi error to the core error of the limit, trap or host failure
/// behind it.
fn classify(
    store: &mut Store<StoreData>,
    e: &wasmi::Error,
    function: &str,
    limits: &Limits,
    elapsed: Duration,
) -> Error {
    let function = function.to_owned();
    if let Some(hit) = store.data_mut().limiter.exceeded.take() {
        return hit.into_error(function);
    }
    if let Some(h) = e.downcast_ref::<HostCallFailed>() {
        // A host function that waited until the call's deadline ends the
        // call as guest code running past it does.
        if h.error == HostError::Timeout {
            return Error::Timeout {
                function,
                limit: limits.timeout.unwrap_or_default(),
                elapsed,
            };
        }
        return Error::from_host(&h.function, &h.error);
    }
    if e.downcast_ref::<Interrupted>().is_some() {
        return Error::Timeout {
            function,
            limit: limits.timeout.unwrap_or_default(),
            elapsed,
        };
    }
    if let Some(code) = e.i32_exit_status() {
        return Error::Exit { code };
    }
    if let Some(a) = e.downcast_ref::<AbiViolation>() {
        return Error::Trap {
            function,
            message: a.0.clone(),
        };
    }
    if let Some(message) = instantiation_trap(e) {
        return Error::Trap {
            function,
            message: message.to_owned(),
        };
    }
    match e.as_trap_code() {
        Some(TrapCode::OutOfFuel) => Error::OutOfFuel {
            function,
            limit: limits.fuel.unwrap_or(u64::MAX),
        },
        Some(TrapCode::StackOverflow) => Error::StackOverflow { function },
        Some(code) => Error::Trap {
            function,
            message: trap_message(code).to_owned(),
        },
        None => Error::Trap {
            function,
            message: e.to_string(),
        },
    }
}

/// Segment initialisation failures at instantiation, in the words wasmtime
/// uses for the same traps.
fn instantiation_trap(e: &wasmi::Error) -> Option<&'static str> {
    use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
    match e.kind() {
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. })
        | ErrorKind::Table(
            TableError::InitOutOfBounds
            | TableError::SetOutOfBounds
            | TableError::CopyOutOfBounds
            | TableError::FillOutOfBounds,
        ) => Some(trap_message(TrapCode::TableOutOfBounds)),
        ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => {
            Some(trap_message(TrapCode::MemoryOutOfBounds))
        }
        _ => None,
    }
}

/// The same words wasmtime uses for each trap, its "wasm trap: " prefix
/// included, so messages match across backends.
fn trap_message(code: TrapCode) -> &'static str {
    match code {
        TrapCode::UnreachableCodeReached => "wasm trap: wasm `unreachable` instruction executed",
        TrapCode::MemoryOutOfBounds => "wasm trap: out of bounds memory access",
        TrapCode::TableOutOfBounds => "wasm trap: undefined element: out of bounds table access",
        TrapCode::IndirectCallToNull => "wasm trap: uninitialized element",
        TrapCode::IntegerDivisionByZero => "wasm trap: integer divide by zero",
        TrapCode::IntegerOverflow => "wasm trap: integer overflow",
        TrapCode::BadConversionToInteger => "wasm trap: invalid conversion to integer",
        TrapCode::StackOverflow => "wasm trap: call stack exhausted",
        TrapCode::BadSignature => "wasm trap: indirect call type mismatch",
        TrapCode::OutOfFuel => "wasm trap: all fuel consumed by WebAssembly",
        TrapCode::GrowthOperationLimited => "wasm trap: growth operation limited",
        TrapCode::OutOfSystemMemory => "wasm trap: out of system memory",
    }
}

impl BackendInstance for WasmiInstance {
    fn func(&mut self, name: &str) -> Result<FuncRef> {
        if let Some((key, &index)) = self.by_name.get_key_value(name) {
            return Ok(FuncRef {
                index,
                name: key.clone(),
                ty: self.funcs[index as usize].func_type.clone(),
            });
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
        Ok(FuncRef {
            index,
            name: key,
            ty: export.func_type.clone(),
        })
    }

    fn call(&mut self, f: &FuncRef, args: &[Value]) -> Result<(Vec<Value>, Usage)> {
        self.check_poisoned()?;
        let ty = &f.ty;
        if args.len() != ty.params.len() {
            return Err(Error::InvalidArguments {
                function: f.name.to_string(),
                detail: format!(
                    "expected {} argument(s) ({ty}), got {}",
                    ty.params.len(),
                    args.len()
                ),
            });
        }
        for (arg, (pname, pty)) in args.iter().zip(&ty.params) {
            arg.check_type(pty)
                .map_err(|detail| Error::InvalidArguments {
                    function: f.name.to_string(),
                    detail: format!("argument `{pname}`: {detail}"),
                })?;
        }
        let vparams = ty.params.iter().map(|(_, t)| t);
        let vresults = ty.result.as_slice();
        self.call_with(
            f.index,
            &f.name,
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

fn flat_zero(t: layout::Flat) -> Val {
    match t {
        layout::Flat::I32 => Val::I32(0),
        layout::Flat::I64 => Val::I64(0),
        layout::Flat::F32 => Val::F32(0f32.into()),
        layout::Flat::F64 => Val::F64(0f64.into()),
    }
}

/// Lowers the arguments of an export call: flat, or through memory when
/// there are too many.
fn lower_args<'v>(
    cx: &mut Cx<'_, '_>,
    ptys: &[InterfaceType],
    vparams: impl IntoIterator<Item = &'v ValueType>,
    args: &[Value],
    flat_params: usize,
) -> std::result::Result<Vec<Val>, String> {
    if flat_params > MAX_FLAT_PARAMS {
        let (offsets, size, align) = tuple_layout(cx.types, ptys);
        let ptr = cx.alloc(align, size)?;
        for (((t, vt), v), off) in ptys.iter().zip(vparams).zip(args).zip(offsets) {
            cx.store_value(t, vt, v, ptr + off)?;
        }
        return Ok(vec![Val::I32(ptr as i32)]);
    }
    let mut out = Vec::with_capacity(flat_params);
    for ((t, vt), v) in ptys.iter().zip(vparams).zip(args) {
        cx.lower_flat(t, vt, v, &mut out)?;
    }
    Ok(out)
}
