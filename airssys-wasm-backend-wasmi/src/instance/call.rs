//! Calls of resolved exports: arming the limits, lowering the arguments,
//! running the export in fuel slices, lifting its results and running its
//! post-return; and the typed fast paths (`direct_call`, `flat_call`).

use std::time::Instant;

use airssys_wasm_core::typed::{ComponentParams, ComponentResults, FlatList};
use airssys_wasm_core::{BackendInstance, Error, Result, Usage, Value, ValueType};
use wasmi::{
    AsContextMut, Func, ResumableCall, TrapCode, TypedFunc, TypedResumableCall, Val, WasmParams,
    WasmResults,
};
use wasmtime_environ::component::InterfaceType;

use super::host::tuple_layout;
use super::traps::Interrupted;
use super::{WasmiInstance, func_types, options_of};
use crate::abi::{self, Cx, Results};
use crate::layout::{self, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS};
use crate::store::{arm, refuel};
use crate::typed::{DirectCall, FlatCall, FlatParams, FlatResults};

impl WasmiInstance {
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
    pub(super) fn call_with<T>(
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
                        self.poisoned.set(&err);
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
                self.poisoned.set(&err);
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
            self.poisoned.set(&err);
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
        let index = f.index_in(self.id, self.funcs.len())?;
        if self.funcs[index].flat.params > MAX_FLAT_PARAMS {
            return Ok(None);
        }
        Ok(Some(DirectCall {
            index: index as u32,
            name: f.name().clone(),
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
        let resolved = &self.funcs[f.index_in(self.id, self.funcs.len())?];
        let plan = &self.store.data().plan;
        if plan.options(resolved.options).post_return.is_some() {
            return Ok(None);
        }
        let func = resolved
            .func
            .typed(&self.store)
            .map_err(|e| Error::InvalidArguments {
                function: name.to_owned(),
                detail: format!("its core signature does not fit `{}`: {e}", f.ty()),
            })?;
        Ok(Some(FlatCall {
            func,
            name: f.name().clone(),
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
pub(super) fn lower_args<'v>(
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
