//! Trampolines: the host functions behind the core imports the translator
//! synthesises (lowered host imports, resource intrinsics, string
//! transcoders, borrow scopes of calls between components, adapter traps).

use wasmi::{Caller, Func, Store, Val};
use wasmtime_environ::component::{
    ResourceIndex, RuntimeComponentInstanceIndex, Trampoline, TrampolineIndex,
};

use super::func_types;
use super::host::host_call;
use super::traps::AbiViolation;
use crate::layout::FlatSig;
use crate::plan::Plan;
use crate::resources::Slot;
use crate::store::{StoreData, refuel};

/// Creates the host function behind a trampoline.
pub(super) fn trampoline(
    store: &mut Store<StoreData>,
    plan: &Plan,
    index: TrampolineIndex,
) -> Func {
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

pub(super) fn i32_param(params: &[Val], k: usize) -> std::result::Result<i32, wasmi::Error> {
    match params.get(k) {
        Some(Val::I32(x)) => Ok(*x),
        _ => Err(wasmi::Error::new(
            "a canonical intrinsic got a non-i32 argument",
        )),
    }
}
