//! One live instance: its store, limits, calls and error classification.

use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airssys_wasm_core::{
    AuditSink, BackendInstance, CallContext, CapabilityKind, CapabilitySet, Error, FuncRef,
    FuncType, GrowthLimiter, HostData, HostError, HostFn, InstanceConfig, LimitExceeded, Result,
    Usage, Value, kit,
};
use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Func, Instance, Lift, LinkerInstance, Lower,
    ResourceTable, TypedFunc, Val,
};
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::convert::{self, HandleTable};
use crate::failure::HostCallFailed;
use crate::{Compiled, TICK, wasi};

/// The data of one store.
pub(crate) struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    http: wasmtime_wasi_http::WasiHttpCtx,
    pub(crate) http_hooks: crate::http::GatedHttp,
    limiter: Limiter,
    component: Arc<str>,
    capabilities: Arc<CapabilitySet>,
    audit: Arc<dyn AuditSink>,
    host_data: Option<HostData>,
    max_call_data: u64,
    /// The running call's deadline and the frozen clock's timers.
    waits: crate::blocking::Waits,
    /// The guest's filesystem.
    fs: airssys_wasm_core::wasi::fs::WasiFs,
}

impl StoreData {
    /// The view of the WASI waits this backend bounds.
    pub(crate) fn bounded(&mut self) -> crate::blocking::Bounded<'_> {
        crate::blocking::Bounded::new(&mut self.table, &mut self.waits, self.wasi.clocks())
    }
}

impl StoreData {
    /// The view of the filesystem this backend serves.
    pub(crate) fn fs(&mut self) -> crate::fs::FsView<'_> {
        crate::fs::FsView::new(&self.fs, &mut self.table)
    }
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for StoreData {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// Memory and table limits of one store: core's accounting, raised as a
/// wasmtime error that `classify` recognises.
struct Limiter(GrowthLimiter);

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.0.memory_growing(current, desired, maximum)?)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.0.table_growing(current, desired, maximum)?)
    }
}

/// Links one host function of the runtime's table.
pub(crate) fn define_host_func(
    inst: &mut LinkerInstance<'_, StoreData>,
    interface: &str,
    name: &str,
    func: Arc<HostFn>,
) -> Result<()> {
    let full: Arc<str> = if interface.is_empty() {
        name.into()
    } else {
        format!("{interface}#{name}").into()
    };
    let fail = {
        let full = full.clone();
        move |error: HostError| -> wasmtime::Error {
            HostCallFailed {
                function: full.clone(),
                error,
            }
            .into()
        }
    };
    let called = full.clone();
    inst.func_new(name, move |mut store, _ty, params, results| {
        let data = store.data_mut();
        if params.iter().map(call_data).sum::<u64>() > data.max_call_data {
            let cx = CallContext::new(&data.component, &data.capabilities, &*data.audit);
            return Err(fail(airssys_wasm_core::over_call_data(
                &cx,
                &called,
                data.max_call_data,
            )));
        }
        let args = params
            .iter()
            .map(convert::val_to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| fail(HostError::Failed(m)))?;
        let mut outs = vec![Value::Bool(false); results.len()];
        let mut cx = CallContext::new(&data.component, &data.capabilities, &*data.audit)
            .with_host_data(data.host_data.as_ref())
            .with_deadline(data.waits.deadline);
        kit::call_host(&*func, &mut cx, &args, &mut outs).map_err(&fail)?;
        for (slot, v) in results.iter_mut().zip(&outs) {
            *slot = convert::value_to_val(v).map_err(|m| fail(HostError::Failed(m)))?;
        }
        Ok(())
    })
    .map_err(|e| Error::Backend(format!("linking host function {full}: {e:#}")))
}

/// wasmtime's hostcall fuel for `max` bytes of guest data: it charges a
/// `Val` for each list element and a byte for each string byte.
fn hostcall_fuel(max: u64) -> usize {
    usize::try_from(max)
        .unwrap_or(usize::MAX)
        .saturating_mul(std::mem::size_of::<Val>())
}

/// The bytes of strings and lists a lifted argument holds (each element by
/// its size in the guest).
fn call_data(v: &Val) -> u64 {
    match v {
        Val::String(s) => s.len() as u64,
        Val::List(items) | Val::Tuple(items) => items.iter().map(call_data).sum(),
        Val::Record(fields) => fields.iter().map(|(_, v)| call_data(v)).sum(),
        Val::Variant(_, Some(v)) | Val::Option(Some(v)) => call_data(v),
        Val::Result(Ok(Some(v)) | Err(Some(v))) => call_data(v),
        Val::Bool(_) | Val::S8(_) | Val::U8(_) => 1,
        Val::S16(_) | Val::U16(_) => 2,
        Val::S32(_) | Val::U32(_) | Val::Float32(_) | Val::Char(_) => 4,
        Val::S64(_) | Val::U64(_) | Val::Float64(_) => 8,
        _ => 0,
    }
}

/// A live wasmtime instance.
pub struct WasmtimeInstance {
    pub(crate) store: Store<StoreData>,
    pub(crate) instance: Instance,
    exports: Arc<HashMap<String, (ComponentExportIndex, Arc<FuncType>)>>,
    pub(crate) export_names: String,
    /// The component's `wasi:http/incoming-handler.handle`, if it has one.
    pub(crate) http_handler: Option<ComponentExportIndex>,
    /// Resolved exports with their types, by [`FuncRef`] index.
    funcs: Vec<(Func, Arc<FuncType>)>,
    by_name: HashMap<Arc<str>, u32>,
    /// This instance's token in its [`FuncRef`]s.
    owner: u64,
    handles: HandleTable,
    limits: airssys_wasm_core::Limits,
    poisoned: kit::Poison,
}

impl WasmtimeInstance {
    pub(crate) fn new(c: &Compiled, config: InstanceConfig) -> Result<Self> {
        // A component's limits are fixed at load, and its code was compiled
        // for them: fuel and epoch checks only where a limit needs them.
        if crate::Metering::of(&config.limits) != c.metering {
            return Err(kit::compiled_for_other_limits(
                &config.component,
                "fuel and timeout are compiled in",
            ));
        }
        airssys_wasm_core::wasi::audit_ungranted(&config, &c.needed)?;
        let wasi_ctx = wasi::build(&config, &config.component)
            .map_err(|e| Error::Backend(format!("{e:#}")))?;
        let fs = airssys_wasm_core::wasi::fs::WasiFs::new(&config).map_err(Error::Backend)?;
        let limits = config.limits;
        let clocks = config.capabilities.has_kind(CapabilityKind::Clocks);
        let data = StoreData {
            wasi: wasi_ctx,
            table: ResourceTable::new(),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks: crate::http::GatedHttp {
                component: config.component.clone(),
                capabilities: config.capabilities.clone(),
                audit: config.audit.clone(),
                outbound: None,
            },
            limiter: Limiter(GrowthLimiter::new(&limits)),
            component: config.component,
            capabilities: config.capabilities,
            waits: crate::blocking::Waits {
                clocks,
                ..Default::default()
            },
            audit: config.audit,
            host_data: config.host_data,
            max_call_data: config.max_call_data,
            fs,
        };
        let mut store = Store::new(&c.engine, data);
        // wasmtime lifts a host call's arguments into its own values before
        // the host sees them; its hostcall fuel bounds that before it is
        // allocated (it counts a `Val` per list element).
        store.set_hostcall_fuel(hostcall_fuel(config.max_call_data));
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        // A deadline that never comes holds for every call without a
        // timeout; `arm` re-arms the limits that are set (fuel is metered
        // only for components with a fuel limit).
        if c.metering == crate::Metering::FuelAndEpochs {
            store
                .set_fuel(u64::MAX)
                .expect("the metered engine has fuel metering");
        }
        store.set_epoch_deadline(u64::MAX / 4);
        arm(&mut store, &limits);
        let instance = match c.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) if e.is::<wasmtime::PoolConcurrencyLimitError>() => {
                return Err(Error::InstanceLimit {
                    component: store.data().component.to_string(),
                    limit: c.pool_size.unwrap_or_default(),
                });
            }
            Err(e) => {
                let fuel = limits.fuel;
                return Err(classify(e, "<instantiate>", fuel, &limits, Duration::ZERO));
            }
        };
        Ok(Self {
            store,
            instance,
            exports: c.exports.clone(),
            export_names: c.export_names.clone(),
            http_handler: c.http_handler,
            funcs: Vec::new(),
            owner: FuncRef::new_owner(),
            by_name: HashMap::new(),
            handles: HandleTable::default(),
            limits,
            poisoned: kit::Poison::default(),
        })
    }

    /// Resolves an export for the typed fast path: wasmtime's `TypedFunc`
    /// with the same limits and error classification as dynamic calls.
    pub fn typed<P, R>(&mut self, name: &str) -> Result<TypedCall<P, R>>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let f = self.func(name)?;
        let (func, _) = self.funcs[f.index_in(self.owner, self.funcs.len())?];
        let typed = func
            .typed::<P, R>(&self.store)
            .map_err(|e| Error::InvalidArguments {
                function: name.to_owned(),
                detail: format!("{e:#} (the export's WIT type is {})", f.ty()),
            })?;
        Ok(TypedCall {
            func: typed,
            name: f.name().clone(),
            _types: PhantomData,
        })
    }

    /// Calls through the typed fast path.
    ///
    /// `start` is when the caller began the call (its `Instant::now()`),
    /// for a caller that wants the call's [`Usage`]: the elapsed time is
    /// measured from it, so a caller that needs the time too reads the
    /// clock once. With `None` the call reads no clock unless the component
    /// has a timeout (for the error's elapsed time), and returns no usage.
    pub fn call_typed<P, R>(
        &mut self,
        f: &TypedCall<P, R>,
        params: P,
        start: Option<Instant>,
    ) -> Result<(R, Option<Usage>)>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        self.check_poisoned()?;
        arm(&mut self.store, &self.limits);
        let timed = start.or_else(|| self.limits.timeout.map(|_| Instant::now()));
        let r = f.func.call(&mut self.store, params);
        match r {
            Ok(r) => Ok((r, start.map(|s| self.usage(s)))),
            Err(e) => {
                let elapsed = timed.map(|s| s.elapsed()).unwrap_or_default();
                Err(self.fail(e, &f.name, elapsed))
            }
        }
    }

    pub(crate) fn check_poisoned(&self) -> Result<()> {
        self.poisoned.check()
    }

    /// Arms the limits for the next entry into the guest, with `deadline`
    /// (if given) in place of the component's timeout: guest code (when it
    /// was compiled with epoch checks), host calls and WASI waits end there.
    pub(crate) fn arm_until(&mut self, deadline: Option<Instant>) {
        arm(&mut self.store, &self.limits);
        let Some(deadline) = deadline else { return };
        self.store.data_mut().waits.deadline = Some(deadline);
        if self.limits.timeout.is_some() {
            let left = deadline.saturating_duration_since(Instant::now());
            self.store.set_epoch_deadline(epoch_ticks(left));
        }
    }

    pub(crate) fn usage(&mut self, start: Instant) -> Usage {
        let elapsed = start.elapsed();
        let fuel_consumed = self
            .limits
            .fuel
            .map(|budget| budget - self.store.get_fuel().unwrap_or(budget).min(budget));
        Usage {
            fuel_consumed,
            peak_memory_bytes: self.store.data().limiter.0.peak_memory_bytes(),
            elapsed,
        }
    }

    pub(crate) fn fail(&mut self, e: wasmtime::Error, function: &str, elapsed: Duration) -> Error {
        let err = if e.downcast_ref::<crate::blocking::FrozenWait>().is_some() {
            let d = self.store.data();
            let cx = CallContext::new(&d.component, &d.capabilities, &*d.audit);
            Error::from_host(
                "wasi:io/poll",
                &airssys_wasm_core::wasi::deny_frozen_wait(&cx),
            )
        } else {
            classify(e, function, self.limits.fuel, &self.limits, elapsed)
        };
        self.poisoned.set(&err);
        err
    }
}

/// Sets the fuel budget and the epoch deadline for the next entry into the
/// guest, for the limits that are set (the others were armed for good at
/// instantiation, and re-arming them would only cost time on every call).
fn arm(store: &mut Store<StoreData>, limits: &airssys_wasm_core::Limits) {
    // Host calls and WASI waits end at the same deadline as guest code.
    store.data_mut().waits.deadline = limits.timeout.map(|t| Instant::now() + t);
    if let Some(fuel) = limits.fuel {
        store
            .set_fuel(fuel)
            .expect("a component with a fuel limit runs on the metered engine");
    }
    if let Some(t) = limits.timeout {
        store.set_epoch_deadline(epoch_ticks(t));
    }
}

/// The epoch deadline, in ticks, of a call that may run for `t`: one tick
/// more than `t` rounded up, since the first tick may come right after
/// arming, and a call must never be stopped before its limit.
fn epoch_ticks(t: Duration) -> u64 {
    t.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1
}

fn classify(
    e: wasmtime::Error,
    function: &str,
    fuel: Option<u64>,
    limits: &airssys_wasm_core::Limits,
    elapsed: Duration,
) -> Error {
    let function = function.to_owned();
    if let Some(l) = e.downcast_ref::<LimitExceeded>() {
        return l.into_error(function);
    }
    if let Some(h) = e.downcast_ref::<HostCallFailed>() {
        return kit::host_call_error(function, &h.function, &h.error, limits, elapsed);
    }
    if e.downcast_ref::<crate::blocking::CallDeadline>().is_some() {
        return Error::Timeout {
            function,
            limit: limits.timeout.unwrap_or_default(),
            elapsed,
        };
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Error::Exit { code: exit.0 };
    }
    // wasmtime's own bound on what a host call copies out of the guest
    // (set from the same limit) stopped it before the host saw it.
    if format!("{e:#}").contains("fuel allocated for hostcalls has been exhausted") {
        return Error::HostFailed {
            function,
            message: "the arguments hold more bytes of strings and lists than the host takes \
                      in one call (HostSettings::max_call_data)"
                .into(),
        };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Error::OutOfFuel {
            function,
            limit: fuel.unwrap_or(u64::MAX),
        },
        Some(Trap::Interrupt) => Error::Timeout {
            function,
            limit: limits.timeout.unwrap_or_default(),
            elapsed,
        },
        Some(Trap::StackOverflow) => Error::StackOverflow { function },
        Some(trap) => {
            tracing::debug!(function, error = ?e, "guest trapped");
            // wasmtime's own words, "wasm trap: " included: what users of
            // wasmtime and the Component Model's tests expect to read.
            Error::Trap {
                function,
                message: trap.to_string(),
            }
        }
        None => Error::Trap {
            function,
            message: format!("{e:#}"),
        },
    }
}

impl BackendInstance for WasmtimeInstance {
    fn func(&mut self, name: &str) -> Result<FuncRef> {
        if let Some((key, &index)) = self.by_name.get_key_value(name) {
            let ty = self.funcs[index as usize].1.clone();
            return Ok(FuncRef::new(self.owner, index, key.clone(), ty));
        }
        let Some((export, ty)) = self.exports.get(name) else {
            return Err(Error::NoSuchExport {
                name: name.to_owned(),
                available: self.export_names.clone(),
            });
        };
        let func = self
            .instance
            .get_func(&mut self.store, export)
            .ok_or_else(|| Error::NoSuchExport {
                name: name.to_owned(),
                available: self.export_names.clone(),
            })?;
        let index = self.funcs.len() as u32;
        self.funcs.push((func, ty.clone()));
        let name: Arc<str> = name.into();
        self.by_name.insert(name.clone(), index);
        Ok(FuncRef::new(self.owner, index, name, ty.clone()))
    }

    fn call(&mut self, f: &FuncRef, args: &[Value]) -> Result<(Vec<Value>, Usage)> {
        self.check_poisoned()?;
        let (func, ty) = self.funcs[f.index_in(self.owner, self.funcs.len())?].clone();
        let name = f.name();
        kit::check_args(name, &ty, args)?;
        let mut vals = Vec::with_capacity(args.len());
        for (arg, (pname, pty)) in args.iter().zip(&ty.params) {
            let bad = |detail: String| Error::InvalidArguments {
                function: name.to_string(),
                detail: format!("argument `{pname}`: {detail}"),
            };
            vals.push(convert::to_val(arg, pty, &mut self.handles).map_err(bad)?);
        }
        let mut results = vec![Val::Bool(false); usize::from(ty.result.is_some())];
        arm(&mut self.store, &self.limits);
        let start = Instant::now();
        let r = func.call(&mut self.store, &vals, &mut results);
        let usage = self.usage(start);
        if let Err(e) = r {
            return Err(self.fail(e, name, usage.elapsed));
        }
        let out = match (&ty.result, results.pop()) {
            (Some(rty), Some(v)) => vec![
                convert::from_val(v, rty, &mut self.handles)
                    .map_err(|m| Error::Backend(format!("result of `{name}`: {m}")))?,
            ],
            _ => Vec::new(),
        };
        Ok((out, usage))
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// An export resolved for the typed fast path
/// ([`WasmtimeInstance::typed`]).
pub struct TypedCall<P, R> {
    func: TypedFunc<P, R>,
    name: Arc<str>,
    _types: PhantomData<fn(P) -> R>,
}

impl<P, R> TypedCall<P, R> {
    /// The export's call name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
