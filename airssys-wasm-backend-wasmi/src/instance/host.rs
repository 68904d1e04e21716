//! Host calls: a guest calling a host import (lifting its arguments,
//! calling the host function or the WASI subset, lowering its results),
//! and the tuples passed through memory.

use airssys_wasm_core::{CallContext, HostError, Value, ValueType};
use wasmi::{AsContextMut, Caller, Val};
use wasmtime_environ::component::{InterfaceType, OptionsIndex, TypeFuncIndex};

use super::trampolines::i32_param;
use super::traps::{AbiViolation, HostCallFailed, Interrupted};
use super::{func_types, options_of};
use crate::abi::{self, Cx};
use crate::layout::{FlatSig, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS};
use crate::plan::Provider;
use crate::store::StoreData;
use crate::wasi::Stop;

/// A guest called a host import: lift the arguments, call the host
/// function, lower the results.
pub(super) fn host_call(
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
            airssys_wasm_core::kit::call_host(&**f, &mut hcx, &args, &mut outs).map_err(fail)?;
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
pub(super) fn tuple_layout(
    plan_types: &wasmtime_environ::component::ComponentTypes,
    tys: &[InterfaceType],
) -> (Vec<u32>, u32, u32) {
    let abis: Vec<_> = tys.iter().map(|t| plan_types.canonical_abi(t)).collect();
    let mut offset = 0;
    let offsets = abis.iter().map(|a| a.next_field32(&mut offset)).collect();
    let record = wasmtime_environ::component::CanonicalAbiInfo::record(abis.into_iter());
    (offsets, record.size32, record.align32)
}

pub(super) fn load_tuple<'v>(
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
