//! The canonical ABI: WIT values to and from core wasm values and linear
//! memory, for one direction of one call.
//!
//! Layouts (sizes, alignments, discriminant sizes, payload offsets) come from
//! `wasmtime-environ`'s [`ComponentTypes`]; the traversal runs the component
//! type ([`InterfaceType`]) and the core model's
//! [`ValueType`](airssys_wasm_core::ValueType) side by side, so lifted values
//! carry the names the embedder sees (resource names included) and lowered
//! values are checked against both.
//!
//! Every failure is a `String` naming what was wrong; callers turn it into a
//! trap of the guest (bad data from the guest) or an argument error (bad data
//! from the host).
//!
//! The flat layout itself is in the `layout` module. Here: the call
//! direction's context (memory access and the guest's `realloc`); lifting
//! (guest to host) in `lift`, lowering (host to guest) in `lower`, and the
//! typed calls' direct copies of Rust values in `direct`.

mod direct;
mod lift;
mod lower;

use wasmi::{AsContextMut, Func, Memory, StoreContextMut, Val};
use wasmtime_environ::component::{
    ComponentTypes, InterfaceType, RuntimeComponentInstanceIndex, StringEncoding,
    TypeResourceTable, VariantInfo,
};

use crate::store::StoreData;

pub(crate) use direct::{DirectLift, DirectLower};

/// The tag of a latin1+utf16 string length saying "UTF-16 code units".
const UTF16_TAG: u32 = 1 << 31;

type R<T> = std::result::Result<T, String>;

/// One direction of one call: a store, the canonical options' memory and
/// `realloc`, and the component instance on the guest side.
pub(crate) struct Cx<'a, 'b> {
    pub store: &'a mut StoreContextMut<'b, StoreData>,
    pub types: &'a ComponentTypes,
    pub memory: Option<Memory>,
    pub realloc: Option<Func>,
    /// The canonical options' `string-encoding`.
    pub encoding: StringEncoding,
    /// For a host call's arguments: the bytes of strings and lists that may
    /// still be copied out of the guest. Checked before each copy.
    pub budget: Option<u64>,
    /// Set when lifting stopped because the budget ran out.
    pub over_budget: bool,
    /// Set when the guest's `realloc` failed: the call fails as a trap of
    /// the guest, not as bad data from the host.
    pub fault: Option<Fault>,
}

/// How the guest's `realloc` failed.
pub(crate) enum Fault {
    /// It trapped, ran out of fuel, or was stopped.
    Wasm(wasmi::Error),
    /// It returned a pointer the allocation cannot be at (wasmtime's words).
    Trap(String),
}

/// The canonical options of a function that its calls need.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    pub memory: Option<Memory>,
    pub realloc: Option<Func>,
    /// `string-encoding`.
    pub encoding: StringEncoding,
}

impl<'a, 'b> Cx<'a, 'b> {
    /// A direction of a call with `options`.
    pub fn new(
        store: &'a mut StoreContextMut<'b, StoreData>,
        types: &'a ComponentTypes,
        options: Options,
    ) -> Self {
        Cx {
            store,
            types,
            memory: options.memory,
            realloc: options.realloc,
            encoding: options.encoding,
            budget: None,
            over_budget: false,
            fault: None,
        }
    }

    /// Takes `bytes` from the budget before they are copied.
    fn spend(&mut self, bytes: u64) -> R<()> {
        let Some(left) = self.budget else {
            return Ok(());
        };
        match left.checked_sub(bytes) {
            Some(rest) => {
                self.budget = Some(rest);
                Ok(())
            }
            None => {
                self.over_budget = true;
                Err(format!(
                    "its arguments hold more than the host takes in one call ({bytes} more bytes \
                     with {left} left)"
                ))
            }
        }
    }
}

impl Cx<'_, '_> {
    fn memory(&self) -> R<Memory> {
        self.memory.ok_or_else(|| {
            "the function passes data through memory but has no memory option".into()
        })
    }

    fn bytes(&self, ptr: u32, len: u32) -> R<&[u8]> {
        let mem = self.memory()?.data(&*self.store);
        let end = (ptr as usize)
            .checked_add(len as usize)
            .filter(|e| *e <= mem.len())
            .ok_or_else(|| {
                format!(
                    "pointer {ptr} + length {len} is outside linear memory ({} bytes)",
                    mem.len()
                )
            })?;
        Ok(&mem[ptr as usize..end])
    }

    fn write(&mut self, ptr: u32, bytes: &[u8]) -> R<()> {
        let memory = self.memory()?;
        let mem = memory.data_mut(&mut *self.store);
        let len = mem.len();
        let dst = (ptr as usize)
            .checked_add(bytes.len())
            .filter(|e| *e <= len)
            .map(|end| &mut mem[ptr as usize..end])
            .ok_or_else(|| {
                format!(
                    "pointer {ptr} + length {} is outside linear memory ({len} bytes)",
                    bytes.len()
                )
            })?;
        dst.copy_from_slice(bytes);
        Ok(())
    }

    /// Checks that `size` bytes at `ptr`, aligned to `align`, are inside
    /// linear memory, as the canonical ABI does for a result area before
    /// reading any of it.
    pub fn area(&self, ptr: u32, size: u32, align: u32) -> R<()> {
        if !ptr.is_multiple_of(align) {
            return Err(format!("pointer {ptr} is not aligned to {align}"));
        }
        self.bytes(ptr, size).map(|_| ())
    }

    fn load<const N: usize>(&self, ptr: u32) -> R<[u8; N]> {
        let b = self.bytes(ptr, N as u32)?;
        Ok(b.try_into().expect("slice of length N"))
    }

    /// Allocates `size` bytes aligned to `align` in the guest with its
    /// `realloc`.
    pub fn alloc(&mut self, align: u32, size: u32) -> R<u32> {
        self.realloc(0, 0, align, size)
    }

    /// Calls the guest's `realloc(old, old_size, align, size)`: moves (or
    /// grows or shrinks) an allocation of this call.
    fn realloc(&mut self, old: u32, old_size: u32, align: u32, size: u32) -> R<u32> {
        let realloc = self
            .realloc
            .ok_or("the function passes data through memory but has no realloc option")?;
        let mut out = [Val::I32(0)];
        let args = [
            Val::I32(old as i32),
            Val::I32(old_size as i32),
            Val::I32(align as i32),
            Val::I32(size as i32),
        ];
        crate::store::refuel(self.store);
        // `realloc` runs with may-leave cleared: it cannot call imports.
        self.store.data_mut().may_not_leave += 1;
        let called = realloc.call(self.store.as_context_mut(), &args, &mut out);
        self.store.data_mut().may_not_leave -= 1;
        if let Err(e) = called {
            let message = format!("the guest's realloc failed: {e}");
            self.fault = Some(Fault::Wasm(e));
            return Err(message);
        }
        let Val::I32(ptr) = out[0] else {
            return Err("the guest's realloc returned a non-i32".into());
        };
        let ptr = ptr as u32;
        // Alignment first, then bounds (even of an empty allocation), in
        // wasmtime's words.
        let bad = if !ptr.is_multiple_of(align) {
            Some(format!(
                "realloc return: result not aligned ({ptr} is not a multiple of {align})"
            ))
        } else {
            self.bytes(ptr, size)
                .err()
                .map(|why| format!("realloc return: beyond end of memory ({why})"))
        };
        if let Some(message) = bad {
            self.fault = Some(Fault::Trap(message.clone()));
            return Err(message);
        }
        Ok(ptr)
    }
}

fn concrete(
    types: &ComponentTypes,
    table: wasmtime_environ::component::TypeResourceTableIndex,
) -> R<(
    RuntimeComponentInstanceIndex,
    wasmtime_environ::component::ResourceIndex,
)> {
    match &types[table] {
        TypeResourceTable::Concrete { ty, instance } => Ok((*instance, *ty)),
        TypeResourceTable::Abstract(_) => Err("abstract resource types are not supported".into()),
    }
}

fn len32(len: usize) -> R<u32> {
    u32::try_from(len).map_err(|_| format!("{len} bytes do not fit a 32-bit memory"))
}

fn variant_case_types<'a>(
    types: &'a ComponentTypes,
    ty: &InterfaceType,
) -> Vec<Option<&'a InterfaceType>> {
    match ty {
        InterfaceType::Variant(i) => types[*i].cases.values().map(|c| c.as_ref()).collect(),
        InterfaceType::Option(i) => vec![None, Some(&types[*i].ty)],
        InterfaceType::Result(i) => vec![types[*i].ok.as_ref(), types[*i].err.as_ref()],
        _ => Vec::new(),
    }
}

/// The layout of a variant, option or result type.
fn variant_info<'t>(types: &'t ComponentTypes, ty: &InterfaceType) -> &'t VariantInfo {
    match ty {
        InterfaceType::Variant(i) => &types[*i].info,
        InterfaceType::Option(i) => &types[*i].info,
        InterfaceType::Result(i) => &types[*i].info,
        other => unreachable!("only variant-like types have a variant layout: {other:?}"),
    }
}

/// Where an export's results are after the call: its flat results, or a
/// pointer to them in memory (more than
/// [`MAX_FLAT_RESULTS`](crate::layout::MAX_FLAT_RESULTS) flat values).
pub(crate) enum Results<'a> {
    Flat(&'a [Val]),
    Pointer(u32),
}
