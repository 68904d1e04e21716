//! The canonical ABI: WIT values to and from core wasm values and linear
//! memory, for one direction of one call.
//!
//! Layouts (sizes, alignments, discriminant sizes, payload offsets) come from
//! `wasmtime-environ`'s [`ComponentTypes`]; the traversal runs the component
//! type ([`InterfaceType`]) and the core model's [`ValueType`] side by side,
//! so lifted values carry the names the embedder sees (resource names
//! included) and lowered values are checked against both.
//!
//! Every failure is a `String` naming what was wrong; callers turn it into a
//! trap of the guest (bad data from the guest) or an argument error (bad data
//! from the host).
//!
//! The flat layout itself (which core types a component type flattens to)
//! is in the `layout` module.

use airssys_wasm_core::{ResourceHandle, ResourceType, Value, ValueType};
use wasmi::{AsContextMut, Func, Memory, StoreContextMut, Val};
use wasmtime_environ::component::{
    ComponentTypes, InterfaceType, RuntimeComponentInstanceIndex, TypeResourceTable, VariantInfo,
};

use crate::layout::{Flat, flatten};
use crate::store::StoreData;
use wasmtime_environ::component::StringEncoding;

/// The tag of a latin1+utf16 string length saying "UTF-16 code units".
const UTF16_TAG: u32 = 1 << 31;
/// The longest string, in bytes, wasmtime copies into a guest.
const MAX_STRING_BYTE_LENGTH: usize = (1 << 31) - 1;
use crate::resources::Slot;

type R<T> = std::result::Result<T, String>;

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

/// Converts a flat value of the joined type `joined` into one of type `want`.
fn coerce_from_joined(v: Val, want: Flat) -> R<Val> {
    Ok(match (v, want) {
        (Val::I32(x), Flat::I32) => Val::I32(x),
        (Val::I32(x), Flat::F32) => Val::F32(f32::from_bits(x as u32).into()),
        (Val::I64(x), Flat::I64) => Val::I64(x),
        (Val::I64(x), Flat::I32) => Val::I32(x as i32),
        (Val::I64(x), Flat::F32) => Val::F32(f32::from_bits(x as u32).into()),
        (Val::I64(x), Flat::F64) => Val::F64(f64::from_bits(x as u64).into()),
        (Val::F32(x), Flat::F32) => Val::F32(x),
        (Val::F64(x), Flat::F64) => Val::F64(x),
        (v, want) => return Err(format!("core value {v:?} where {want:?} was expected")),
    })
}

/// Converts a case's flat value into the joined type `joined`.
fn coerce_to_joined(v: Val, joined: Flat) -> Val {
    match (v, joined) {
        (Val::F32(x), Flat::I32) => Val::I32(f32::from(x).to_bits() as i32),
        (Val::I32(x), Flat::I64) => Val::I64(i64::from(x as u32)),
        (Val::F32(x), Flat::I64) => Val::I64(i64::from(f32::from(x).to_bits())),
        (Val::F64(x), Flat::I64) => Val::I64(f64::from(x).to_bits() as i64),
        (v, _) => v,
    }
}

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

    // ----- lifting: guest to host -----

    /// Lifts a value of type `ty` from flat core values.
    pub fn lift_flat(
        &mut self,
        ty: &InterfaceType,
        vty: &ValueType,
        src: &mut std::slice::Iter<'_, Val>,
    ) -> R<Value> {
        use InterfaceType as I;
        Ok(match (ty, vty) {
            (I::Bool, _) => Value::Bool(i32_of(take(src)?)? != 0),
            (I::S8, _) => Value::S8(i32_of(take(src)?)? as i8),
            (I::U8, _) => Value::U8(i32_of(take(src)?)? as u8),
            (I::S16, _) => Value::S16(i32_of(take(src)?)? as i16),
            (I::U16, _) => Value::U16(i32_of(take(src)?)? as u16),
            (I::S32, _) => Value::S32(i32_of(take(src)?)?),
            (I::U32, _) => Value::U32(i32_of(take(src)?)? as u32),
            (I::S64, _) => Value::S64(i64_of(take(src)?)?),
            (I::U64, _) => Value::U64(i64_of(take(src)?)? as u64),
            (I::Float32, _) => match take(src)? {
                Val::F32(x) => Value::F32(x.into()),
                v => return Err(format!("expected f32, got {v:?}")),
            },
            (I::Float64, _) => match take(src)? {
                Val::F64(x) => Value::F64(x.into()),
                v => return Err(format!("expected f64, got {v:?}")),
            },
            (I::Char, _) => Value::Char(char_of(i32_of(take(src)?)? as u32)?),
            (I::String, _) => {
                let ptr = i32_of(take(src)?)? as u32;
                let len = i32_of(take(src)?)? as u32;
                Value::String(self.lift_string(ptr, len)?)
            }
            (I::List(i), ValueType::List(ety)) => {
                let ptr = i32_of(take(src)?)? as u32;
                let len = i32_of(take(src)?)? as u32;
                let types = self.types;
                self.lift_list(&types[*i].element, ety, ptr, len)?
            }
            (I::Record(i), ValueType::Record(fields)) => {
                let types = self.types;
                let mut out = Vec::with_capacity(fields.len());
                for (f, vf) in types[*i].fields.iter().zip(fields.iter()) {
                    out.push((vf.name.clone(), self.lift_flat(&f.ty, &vf.ty, src)?));
                }
                Value::Record(out)
            }
            (I::Tuple(i), ValueType::Tuple(vts)) => {
                let types = self.types;
                let mut out = Vec::with_capacity(vts.len());
                for (t, vt) in types[*i].types.iter().zip(vts.iter()) {
                    out.push(self.lift_flat(t, vt, src)?);
                }
                Value::Tuple(out)
            }
            (I::Flags(i), ValueType::Flags(names)) => {
                let words = self.types[*i].names.len().div_ceil(32);
                let mut bits = Vec::with_capacity(words);
                for _ in 0..words {
                    bits.push(i32_of(take(src)?)? as u32);
                }
                flags_value(names, &bits)
            }
            (I::Enum(_), ValueType::Enum(names)) => {
                let d = i32_of(take(src)?)? as u32;
                Value::Enum(case_name(names.iter().map(String::as_str), d)?.to_owned())
            }
            (I::Variant(_) | I::Option(_) | I::Result(_), _) => {
                let disc = i32_of(take(src)?)? as u32;
                let mut joined = Vec::new();
                flatten(self.types, ty, &mut joined);
                let payload: Vec<Val> = (1..joined.len()).map(|_| take(src)).collect::<R<_>>()?;
                let cases = variant_case_types(self.types, ty);
                let case_ty = cases
                    .get(disc as usize)
                    .ok_or_else(|| format!("variant discriminant {disc} out of range"))?;
                let payload_value =
                    |cx: &mut Self, pvty: Option<&ValueType>| -> R<Option<Box<Value>>> {
                        let (Some(pty), Some(pvty)) = (case_ty, pvty) else {
                            return Ok(None);
                        };
                        let mut want = Vec::new();
                        flatten(cx.types, pty, &mut want);
                        let vals = payload
                            .iter()
                            .zip(&want)
                            .map(|(v, w)| coerce_from_joined(v.clone(), *w))
                            .collect::<R<Vec<_>>>()?;
                        Ok(Some(Box::new(cx.lift_flat(pty, pvty, &mut vals.iter())?)))
                    };
                variant_value(self, vty, disc, payload_value)?
            }
            (I::Own(t) | I::Borrow(t), ValueType::Resource(r)) => {
                let h = i32_of(take(src)?)? as u32;
                self.lift_resource(*t, r, h)?
            }
            _ => return Err(format!("cannot lift a value of type {vty}")),
        })
    }

    fn lift_string(&mut self, ptr: u32, len: u32) -> R<String> {
        // The representation: UTF-8 bytes, UTF-16 code units, or for
        // latin1+utf16 Latin-1 bytes or (length tagged) UTF-16 code units.
        let (units, utf16, align) = match self.encoding {
            StringEncoding::Utf8 => (len, false, 1),
            StringEncoding::Utf16 => (len, true, 2),
            StringEncoding::CompactUtf16 if len & UTF16_TAG == 0 => (len, false, 2),
            StringEncoding::CompactUtf16 => (len ^ UTF16_TAG, true, 2),
        };
        self.spend(u64::from(units) * if utf16 { 2 } else { 1 })?;
        // wasmtime's words: alignment first, then bounds.
        let oob = |why: String| format!("string pointer/length out of bounds of memory ({why})");
        if !ptr.is_multiple_of(align) {
            return Err(format!("string pointer not aligned to {align} ({ptr})"));
        }
        if utf16 {
            let bytes = units
                .checked_mul(2)
                .ok_or_else(|| format!("{units} utf-16 code units"))
                .and_then(|n| self.bytes(ptr, n))
                .map_err(oob)?;
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]));
            return char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .map_err(|e| format!("invalid utf-16 string at {ptr}: {e}"));
        }
        let bytes = self.bytes(ptr, units).map_err(oob)?;
        if matches!(self.encoding, StringEncoding::CompactUtf16) {
            // Every byte is a Latin-1 character.
            return Ok(bytes.iter().map(|b| char::from(*b)).collect());
        }
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|e| format!("invalid utf-8 string at {ptr}: {e}"))
    }

    fn lift_list(&mut self, ety: &InterfaceType, evty: &ValueType, ptr: u32, len: u32) -> R<Value> {
        // wasmtime's words: bounds first, then alignment.
        let oob = |why: String| format!("list pointer/length out of bounds of memory ({why})");
        if matches!(ety, InterfaceType::U8) {
            self.spend(u64::from(len))?;
            // One copy, one byte per element.
            return Ok(Value::Bytes(self.bytes(ptr, len).map_err(oob)?.to_vec()));
        }
        let abi = self.types.canonical_abi(ety);
        let (size, align) = (abi.size32, abi.align32);
        self.spend(u64::from(len) * u64::from(size))?;
        len.checked_mul(size)
            .ok_or_else(|| format!("{len} elements of {size} bytes"))
            .and_then(|total| self.bytes(ptr, total))
            .map_err(oob)?;
        if !ptr.is_multiple_of(align) {
            return Err(format!(
                "list pointer is not aligned ({ptr} is not a multiple of {align})"
            ));
        }
        let mut out = Vec::with_capacity(len as usize);
        for i in 0..len {
            out.push(self.load_value(ety, evty, ptr + i * size)?);
        }
        Ok(Value::List(out))
    }

    /// Lifts a value of type `ty` stored at `ptr`.
    pub fn load_value(&mut self, ty: &InterfaceType, vty: &ValueType, ptr: u32) -> R<Value> {
        use InterfaceType as I;
        let types = self.types;
        let abi = types.canonical_abi(ty);
        if !ptr.is_multiple_of(abi.align32) {
            return Err(format!("pointer {ptr} is not aligned to {}", abi.align32));
        }
        Ok(match (ty, vty) {
            (I::Bool, _) => Value::Bool(self.load::<1>(ptr)?[0] != 0),
            (I::S8, _) => Value::S8(self.load::<1>(ptr)?[0] as i8),
            (I::U8, _) => Value::U8(self.load::<1>(ptr)?[0]),
            (I::S16, _) => Value::S16(i16::from_le_bytes(self.load(ptr)?)),
            (I::U16, _) => Value::U16(u16::from_le_bytes(self.load(ptr)?)),
            (I::S32, _) => Value::S32(i32::from_le_bytes(self.load(ptr)?)),
            (I::U32, _) => Value::U32(u32::from_le_bytes(self.load(ptr)?)),
            (I::S64, _) => Value::S64(i64::from_le_bytes(self.load(ptr)?)),
            (I::U64, _) => Value::U64(u64::from_le_bytes(self.load(ptr)?)),
            (I::Float32, _) => Value::F32(f32::from_le_bytes(self.load(ptr)?)),
            (I::Float64, _) => Value::F64(f64::from_le_bytes(self.load(ptr)?)),
            (I::Char, _) => Value::Char(char_of(u32::from_le_bytes(self.load(ptr)?))?),
            (I::String, _) => {
                let p = u32::from_le_bytes(self.load(ptr)?);
                let l = u32::from_le_bytes(self.load(ptr + 4)?);
                Value::String(self.lift_string(p, l)?)
            }
            (I::List(i), ValueType::List(ety)) => {
                let p = u32::from_le_bytes(self.load(ptr)?);
                let l = u32::from_le_bytes(self.load(ptr + 4)?);
                self.lift_list(&types[*i].element, ety, p, l)?
            }
            (I::Record(i), ValueType::Record(fields)) => {
                let mut offset = 0;
                let mut out = Vec::with_capacity(fields.len());
                for (f, vf) in types[*i].fields.iter().zip(fields.iter()) {
                    let at = types.canonical_abi(&f.ty).next_field32(&mut offset);
                    out.push((vf.name.clone(), self.load_value(&f.ty, &vf.ty, ptr + at)?));
                }
                Value::Record(out)
            }
            (I::Tuple(i), ValueType::Tuple(vts)) => {
                let mut offset = 0;
                let mut out = Vec::with_capacity(vts.len());
                for (t, vt) in types[*i].types.iter().zip(vts.iter()) {
                    let at = types.canonical_abi(t).next_field32(&mut offset);
                    out.push(self.load_value(t, vt, ptr + at)?);
                }
                Value::Tuple(out)
            }
            (I::Flags(i), ValueType::Flags(names)) => {
                let n = types[*i].names.len();
                let bits = match n {
                    0 => vec![],
                    1..=8 => vec![u32::from(self.load::<1>(ptr)?[0])],
                    9..=16 => vec![u32::from(u16::from_le_bytes(self.load(ptr)?))],
                    _ => (0..n.div_ceil(32) as u32)
                        .map(|w| self.load(ptr + 4 * w).map(u32::from_le_bytes))
                        .collect::<R<_>>()?,
                };
                flags_value(names, &bits)
            }
            (I::Enum(i), ValueType::Enum(names)) => {
                let d = self.load_disc(u32::from(types[*i].info.size), ptr)?;
                Value::Enum(case_name(names.iter().map(String::as_str), d)?.to_owned())
            }
            (I::Variant(_) | I::Option(_) | I::Result(_), _) => {
                let info = variant_info(types, ty);
                let disc = self.load_disc(u32::from(info.size), ptr)?;
                let payload_at = ptr + info.payload_offset32;
                let cases = variant_case_types(types, ty);
                let case_ty = *cases
                    .get(disc as usize)
                    .ok_or_else(|| format!("variant discriminant {disc} out of range"))?;
                variant_value(self, vty, disc, |cx, pvty| match (case_ty, pvty) {
                    (Some(pty), Some(pvty)) => {
                        Ok(Some(Box::new(cx.load_value(pty, pvty, payload_at)?)))
                    }
                    _ => Ok(None),
                })?
            }
            (I::Own(t) | I::Borrow(t), ValueType::Resource(r)) => {
                let h = u32::from_le_bytes(self.load(ptr)?);
                self.lift_resource(*t, r, h)?
            }
            _ => return Err(format!("cannot lift a value of type {vty}")),
        })
    }

    fn load_disc(&self, size: u32, ptr: u32) -> R<u32> {
        Ok(match size {
            1 => u32::from(self.load::<1>(ptr)?[0]),
            2 => u32::from(u16::from_le_bytes(self.load(ptr)?)),
            _ => u32::from_le_bytes(self.load(ptr)?),
        })
    }

    /// Moves an owned handle out of the guest's table into the host's.
    fn lift_resource(
        &mut self,
        table: wasmtime_environ::component::TypeResourceTableIndex,
        r: &ResourceType,
        h: u32,
    ) -> R<Value> {
        let (instance, resource) = concrete(self.types, table)?;
        if self.store.data().defining_instance(resource).is_none() {
            // A resource the host implements (WASI): the handle's rep is
            // the host's own index.
            let data = self.store.data_mut();
            let slot = if r.owned {
                data.resources.take_guest(instance, h, resource)?
            } else {
                data.resources.lend_guest(instance, h, resource)?
            };
            return Ok(Value::Resource(ResourceHandle {
                index: slot.rep(),
                ty: r.clone(),
            }));
        }
        if !r.owned {
            return Err(format!(
                "a borrow of `{}` cannot be returned to the host",
                r.name
            ));
        }
        let data = self.store.data_mut();
        let rep = data.resources.take_guest(instance, h, resource)?.rep();
        let index = data.resources.insert_host(resource, rep);
        Ok(Value::Resource(ResourceHandle {
            index,
            ty: r.clone(),
        }))
    }

    // ----- lowering: host to guest -----

    /// Lowers `v` of type `ty` to flat core values.
    pub fn lower_flat(
        &mut self,
        ty: &InterfaceType,
        vty: &ValueType,
        v: &Value,
        out: &mut Vec<Val>,
    ) -> R<()> {
        use InterfaceType as I;
        let types = self.types;
        match (ty, v) {
            (I::Bool, Value::Bool(b)) => out.push(Val::I32(i32::from(*b))),
            (I::S8, Value::S8(x)) => out.push(Val::I32(i32::from(*x))),
            (I::U8, Value::U8(x)) => out.push(Val::I32(i32::from(*x))),
            (I::S16, Value::S16(x)) => out.push(Val::I32(i32::from(*x))),
            (I::U16, Value::U16(x)) => out.push(Val::I32(i32::from(*x))),
            (I::S32, Value::S32(x)) => out.push(Val::I32(*x)),
            (I::U32, Value::U32(x)) => out.push(Val::I32(*x as i32)),
            (I::S64, Value::S64(x)) => out.push(Val::I64(*x)),
            (I::U64, Value::U64(x)) => out.push(Val::I64(*x as i64)),
            (I::Float32, Value::F32(x)) => out.push(Val::F32((*x).into())),
            (I::Float64, Value::F64(x)) => out.push(Val::F64((*x).into())),
            (I::Char, Value::Char(c)) => out.push(Val::I32(*c as i32)),
            (I::String, Value::String(s)) => {
                let (ptr, len) = self.lower_string(s)?;
                out.extend([Val::I32(ptr as i32), Val::I32(len as i32)]);
            }
            (I::List(i), Value::List(items)) => {
                let ValueType::List(evty) = vty else {
                    return Err(mismatch(vty, v));
                };
                let ptr = self.lower_list(&types[*i].element, evty, items)?;
                out.extend([Val::I32(ptr as i32), Val::I32(items.len() as i32)]);
            }
            (I::List(i), Value::Bytes(bytes)) if matches!(types[*i].element, I::U8) => {
                let ptr = self.lower_bytes(bytes)?;
                out.extend([Val::I32(ptr as i32), Val::I32(bytes.len() as i32)]);
            }
            (I::Record(i), Value::Record(fields)) => {
                let ValueType::Record(vfields) = vty else {
                    return Err(mismatch(vty, v));
                };
                for ((f, vf), (_, fv)) in types[*i].fields.iter().zip(vfields.iter()).zip(fields) {
                    self.lower_flat(&f.ty, &vf.ty, fv, out)?;
                }
            }
            (I::Tuple(i), Value::Tuple(items)) => {
                let ValueType::Tuple(vts) = vty else {
                    return Err(mismatch(vty, v));
                };
                for ((t, vt), item) in types[*i].types.iter().zip(vts.iter()).zip(items) {
                    self.lower_flat(t, vt, item, out)?;
                }
            }
            (I::Flags(i), Value::Flags(set)) => {
                let names = &types[*i].names;
                for word in flags_bits(names.iter().map(String::as_str), set)? {
                    out.push(Val::I32(word as i32));
                }
            }
            (I::Enum(i), Value::Enum(case)) => {
                let d = case_index(types[*i].names.iter().map(String::as_str), case)?;
                out.push(Val::I32(d as i32));
            }
            (I::Variant(_) | I::Option(_) | I::Result(_), _) => {
                let (disc, payload, pvty) = variant_parts(types, ty, vty, v)?;
                let mut joined = Vec::new();
                flatten(types, ty, &mut joined);
                out.push(Val::I32(disc as i32));
                let start = out.len();
                if let (Some((pty, pv)), Some(pvty)) = (payload, pvty) {
                    self.lower_flat(pty, pvty, pv, out)?;
                }
                for (k, j) in joined[1..].iter().enumerate() {
                    match out.get_mut(start + k) {
                        Some(slot) => *slot = coerce_to_joined(slot.clone(), *j),
                        None => out.push(j.zero()),
                    }
                }
            }
            (I::Own(t) | I::Borrow(t), Value::Resource(h)) => {
                let owned = matches!(ty, I::Own(_));
                out.push(Val::I32(self.lower_resource(*t, h, owned)? as i32));
            }
            _ => return Err(mismatch(vty, v)),
        }
        Ok(())
    }

    /// Copies a string into the guest in its encoding; returns the pointer
    /// and the length in code units (tagged for UTF-16 in latin1+utf16).
    /// The allocations are wasmtime's: UTF-8 exactly; UTF-16 for the worst
    /// case, shrunk to the code units written; latin1+utf16 one byte per
    /// UTF-8 byte, grown to two per byte at the first character beyond
    /// Latin-1, then shrunk to what was written.
    fn lower_string(&mut self, s: &str) -> R<(u32, u32)> {
        let too_long = || format!("string length of {} too large to copy into wasm", s.len());
        match self.encoding {
            StringEncoding::Utf8 => {
                if s.len() > MAX_STRING_BYTE_LENGTH {
                    return Err(too_long());
                }
                let ptr = self.alloc(1, len32(s.len())?)?;
                self.write(ptr, s.as_bytes())?;
                Ok((ptr, len32(s.len())?))
            }
            StringEncoding::Utf16 => {
                let size = s.len() * 2;
                if size > MAX_STRING_BYTE_LENGTH {
                    return Err(too_long());
                }
                let mut ptr = self.alloc(2, len32(size)?)?;
                let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                self.write(ptr, &units)?;
                if units.len() < size {
                    ptr = self.realloc(ptr, len32(size)?, 2, len32(units.len())?)?;
                }
                Ok((ptr, len32(units.len() / 2)?))
            }
            StringEncoding::CompactUtf16 => {
                // What wasmtime does (the canonical ABI's
                // `store_string_to_latin1_or_utf16`).
                let size = len32(s.len())?;
                let mut ptr = self.alloc(2, size)?;
                let latin1: Option<Vec<u8>> =
                    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
                if let Some(bytes) = latin1 {
                    self.write(ptr, &bytes)?;
                    let written = len32(bytes.len())?;
                    if written < size {
                        ptr = self.realloc(ptr, size, 2, written)?;
                    }
                    return Ok((ptr, written));
                }
                // The Latin-1 prefix is written before the allocation grows.
                let prefix = s
                    .chars()
                    .take_while(|c| u32::from(*c) <= 0xff)
                    .map(|c| u32::from(c) as u8)
                    .collect::<Vec<u8>>();
                self.write(ptr, &prefix)?;
                let worst = s.len().checked_mul(2).ok_or("byte length overflow")?;
                if worst > MAX_STRING_BYTE_LENGTH {
                    return Err("byte length too large".into());
                }
                let worst = len32(worst)?;
                ptr = self.realloc(ptr, size, 2, worst)?;
                let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                self.write(ptr, &units)?;
                let written = len32(units.len())?;
                if written < worst {
                    ptr = self.realloc(ptr, worst, 2, written)?;
                }
                Ok((ptr, (written / 2) | UTF16_TAG))
            }
        }
    }

    /// Copies a byte list into the guest in one piece.
    fn lower_bytes(&mut self, bytes: &[u8]) -> R<u32> {
        let ptr = self.alloc(1, len32(bytes.len())?)?;
        self.write(ptr, bytes)?;
        Ok(ptr)
    }

    fn lower_list(&mut self, ety: &InterfaceType, evty: &ValueType, items: &[Value]) -> R<u32> {
        let abi = self.types.canonical_abi(ety);
        let (size, align) = (abi.size32, abi.align32);
        let total = len32(items.len())?
            .checked_mul(size)
            .ok_or("list too large for a 32-bit memory")?;
        let ptr = self.alloc(align, total)?;
        if matches!(ety, InterfaceType::U8) {
            let bytes = items
                .iter()
                .map(|b| match b {
                    Value::U8(b) => Ok(*b),
                    other => Err(mismatch(evty, other)),
                })
                .collect::<R<Vec<u8>>>()?;
            self.write(ptr, &bytes)?;
            return Ok(ptr);
        }
        for (k, item) in items.iter().enumerate() {
            self.store_value(ety, evty, item, ptr + k as u32 * size)?;
        }
        Ok(ptr)
    }

    /// Lowers `v` of type `ty` into memory at `ptr`.
    pub fn store_value(
        &mut self,
        ty: &InterfaceType,
        vty: &ValueType,
        v: &Value,
        ptr: u32,
    ) -> R<()> {
        use InterfaceType as I;
        let types = self.types;
        match (ty, v) {
            (I::Bool, Value::Bool(b)) => self.write(ptr, &[u8::from(*b)]),
            (I::S8, Value::S8(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::U8, Value::U8(x)) => self.write(ptr, &[*x]),
            (I::S16, Value::S16(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::U16, Value::U16(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::S32, Value::S32(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::U32, Value::U32(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::S64, Value::S64(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::U64, Value::U64(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::Float32, Value::F32(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::Float64, Value::F64(x)) => self.write(ptr, &x.to_le_bytes()),
            (I::Char, Value::Char(c)) => self.write(ptr, &(*c as u32).to_le_bytes()),
            (I::String, Value::String(s)) => {
                let (p, len) = self.lower_string(s)?;
                self.write(ptr, &p.to_le_bytes())?;
                self.write(ptr + 4, &len.to_le_bytes())
            }
            (I::List(i), Value::List(items)) => {
                let ValueType::List(evty) = vty else {
                    return Err(mismatch(vty, v));
                };
                let p = self.lower_list(&types[*i].element, evty, items)?;
                self.write(ptr, &p.to_le_bytes())?;
                self.write(ptr + 4, &(items.len() as u32).to_le_bytes())
            }
            (I::List(i), Value::Bytes(bytes)) if matches!(types[*i].element, I::U8) => {
                let p = self.lower_bytes(bytes)?;
                self.write(ptr, &p.to_le_bytes())?;
                self.write(ptr + 4, &len32(bytes.len())?.to_le_bytes())
            }
            (I::Record(i), Value::Record(fields)) => {
                let ValueType::Record(vfields) = vty else {
                    return Err(mismatch(vty, v));
                };
                let mut offset = 0;
                for ((f, vf), (_, fv)) in types[*i].fields.iter().zip(vfields.iter()).zip(fields) {
                    let at = types.canonical_abi(&f.ty).next_field32(&mut offset);
                    self.store_value(&f.ty, &vf.ty, fv, ptr + at)?;
                }
                Ok(())
            }
            (I::Tuple(i), Value::Tuple(items)) => {
                let ValueType::Tuple(vts) = vty else {
                    return Err(mismatch(vty, v));
                };
                let mut offset = 0;
                for ((t, vt), item) in types[*i].types.iter().zip(vts.iter()).zip(items) {
                    let at = types.canonical_abi(t).next_field32(&mut offset);
                    self.store_value(t, vt, item, ptr + at)?;
                }
                Ok(())
            }
            (I::Flags(i), Value::Flags(set)) => {
                let names = &types[*i].names;
                let words = flags_bits(names.iter().map(String::as_str), set)?;
                match names.len() {
                    0 => Ok(()),
                    1..=8 => self.write(ptr, &[words[0] as u8]),
                    9..=16 => self.write(ptr, &(words[0] as u16).to_le_bytes()),
                    _ => {
                        for (w, word) in words.iter().enumerate() {
                            self.write(ptr + 4 * w as u32, &word.to_le_bytes())?;
                        }
                        Ok(())
                    }
                }
            }
            (I::Enum(i), Value::Enum(case)) => {
                let d = case_index(types[*i].names.iter().map(String::as_str), case)?;
                self.store_disc(u32::from(types[*i].info.size), ptr, d)
            }
            (I::Variant(_) | I::Option(_) | I::Result(_), _) => {
                let info = variant_info(types, ty);
                let (disc, payload, pvty) = variant_parts(types, ty, vty, v)?;
                self.store_disc(u32::from(info.size), ptr, disc)?;
                match (payload, pvty) {
                    (Some((pty, pv)), Some(pvty)) => {
                        self.store_value(pty, pvty, pv, ptr + info.payload_offset32)
                    }
                    _ => Ok(()),
                }
            }
            (I::Own(t) | I::Borrow(t), Value::Resource(h)) => {
                let owned = matches!(ty, I::Own(_));
                let handle = self.lower_resource(*t, h, owned)?;
                self.write(ptr, &handle.to_le_bytes())
            }
            _ => Err(mismatch(vty, v)),
        }
    }

    fn store_disc(&mut self, size: u32, ptr: u32, d: u32) -> R<()> {
        match size {
            1 => self.write(ptr, &[d as u8]),
            2 => self.write(ptr, &(d as u16).to_le_bytes()),
            _ => self.write(ptr, &d.to_le_bytes()),
        }
    }

    /// Passes a host-held resource to the guest: an owned handle moves into
    /// the guest's table; a borrow is the representation itself when the
    /// guest defines the resource, and a handle lent for the call otherwise.
    fn lower_resource(
        &mut self,
        table: wasmtime_environ::component::TypeResourceTableIndex,
        h: &ResourceHandle,
        owned: bool,
    ) -> R<u32> {
        let (instance, resource) = concrete(self.types, table)?;
        let defining = self.store.data().defining_instance(resource);
        let defines = defining == Some(instance);
        let data = self.store.data_mut();
        if defining.is_none() {
            // A resource the host implements: its index is the rep.
            let slot = if owned {
                Slot::Own {
                    rep: h.index,
                    resource,
                }
            } else {
                Slot::Borrow {
                    rep: h.index,
                    resource,
                }
            };
            return data.resources.insert_guest(instance, slot);
        }
        if owned {
            let rep = data.resources.take_host(h.index, resource, &h.ty.name)?;
            return data
                .resources
                .insert_guest(instance, Slot::Own { rep, resource });
        }
        let rep = data.resources.host_rep(h.index, resource, &h.ty.name)?;
        if defines {
            return Ok(rep);
        }
        data.resources
            .insert_guest(instance, Slot::Borrow { rep, resource })
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

fn mismatch(vty: &ValueType, v: &Value) -> String {
    format!("expected a value of type {vty}, got {v:?}")
}

fn take(src: &mut std::slice::Iter<'_, Val>) -> R<Val> {
    src.next()
        .cloned()
        .ok_or_else(|| "too few core values".to_string())
}

fn i32_of(v: Val) -> R<i32> {
    match v {
        Val::I32(x) => Ok(x),
        other => Err(format!("expected an i32, got {other:?}")),
    }
}

fn i64_of(v: Val) -> R<i64> {
    match v {
        Val::I64(x) => Ok(x),
        other => Err(format!("expected an i64, got {other:?}")),
    }
}

fn char_of(c: u32) -> R<char> {
    char::from_u32(c).ok_or_else(|| format!("{c:#x} is not a Unicode scalar value"))
}

fn case_name<'a>(mut names: impl Iterator<Item = &'a str>, d: u32) -> R<&'a str> {
    names
        .nth(d as usize)
        .ok_or_else(|| format!("discriminant {d} out of range"))
}

fn case_index<'a>(names: impl Iterator<Item = &'a str>, case: &str) -> R<u32> {
    let mut known = Vec::new();
    for (k, n) in names.enumerate() {
        if n == case {
            return Ok(k as u32);
        }
        known.push(n);
    }
    Err(format!("no case `{case}` (cases: {})", known.join(", ")))
}

fn flags_value(names: &[String], bits: &[u32]) -> Value {
    Value::Flags(
        names
            .iter()
            .enumerate()
            .filter(|(k, _)| bits.get(k / 32).is_some_and(|w| w & (1 << (k % 32)) != 0))
            .map(|(_, n)| n.clone())
            .collect(),
    )
}

fn flags_bits<'a>(names: impl Iterator<Item = &'a str> + Clone, set: &[String]) -> R<Vec<u32>> {
    let n = names.clone().count();
    let mut words = vec![0u32; n.div_ceil(32)];
    for flag in set {
        let k = case_index(names.clone(), flag)? as usize;
        words[k / 32] |= 1 << (k % 32);
    }
    Ok(words)
}

/// Builds a variant, option or result value from its discriminant; the
/// payload comes from `payload(cx, payload value type)`.
fn variant_value<'a, 'b, 'v>(
    cx: &mut Cx<'a, 'b>,
    vty: &'v ValueType,
    disc: u32,
    payload: impl FnOnce(&mut Cx<'a, 'b>, Option<&'v ValueType>) -> R<Option<Box<Value>>>,
) -> R<Value> {
    Ok(match vty {
        ValueType::Variant(cases) => {
            let case = cases
                .get(disc as usize)
                .ok_or_else(|| format!("variant discriminant {disc} out of range"))?;
            Value::Variant(case.name.clone(), payload(cx, case.ty.as_ref())?)
        }
        ValueType::Option(t) => match disc {
            0 => Value::Option(None),
            1 => Value::Option(payload(cx, Some(t))?),
            d => return Err(format!("option discriminant {d} out of range")),
        },
        ValueType::Result { ok, err } => match disc {
            0 => Value::Result(Ok(payload(cx, ok.as_deref())?)),
            1 => Value::Result(Err(payload(cx, err.as_deref())?)),
            d => return Err(format!("result discriminant {d} out of range")),
        },
        other => return Err(format!("cannot lift a value of type {other}")),
    })
}

type Parts<'v, 't> = (
    u32,
    Option<(&'t InterfaceType, &'v Value)>,
    Option<&'t ValueType>,
);

/// The discriminant and payload of a variant, option or result value.
/// The layout of a variant, option or result type.
fn variant_info<'t>(types: &'t ComponentTypes, ty: &InterfaceType) -> &'t VariantInfo {
    match ty {
        InterfaceType::Variant(i) => &types[*i].info,
        InterfaceType::Option(i) => &types[*i].info,
        InterfaceType::Result(i) => &types[*i].info,
        other => unreachable!("only variant-like types have a variant layout: {other:?}"),
    }
}

fn variant_parts<'v, 't>(
    types: &'t ComponentTypes,
    ty: &'t InterfaceType,
    vty: &'t ValueType,
    v: &'v Value,
) -> R<Parts<'v, 't>> {
    let cases = variant_case_types(types, ty);
    let (disc, payload, pvty): (u32, Option<&Value>, Option<&ValueType>) = match (vty, v) {
        (ValueType::Variant(vcases), Value::Variant(name, p)) => {
            let d = case_index(vcases.iter().map(|c| c.name.as_str()), name)?;
            (d, p.as_deref(), vcases[d as usize].ty.as_ref())
        }
        (ValueType::Option(_), Value::Option(None)) => (0, None, None),
        (ValueType::Option(t), Value::Option(Some(p))) => (1, Some(p), Some(t)),
        (ValueType::Result { ok, .. }, Value::Result(Ok(p))) => (0, p.as_deref(), ok.as_deref()),
        (ValueType::Result { err, .. }, Value::Result(Err(p))) => (1, p.as_deref(), err.as_deref()),
        _ => return Err(mismatch(vty, v)),
    };
    let case_ty = cases.get(disc as usize).copied().flatten();
    match (case_ty, payload) {
        (Some(t), Some(p)) => Ok((disc, Some((t, p)), pvty)),
        (None, None) => Ok((disc, None, None)),
        (Some(_), None) => Err(format!("case {disc} of {vty} needs a payload")),
        (None, Some(_)) => Err(format!("case {disc} of {vty} has no payload")),
    }
}

/// Where an export's results are after the call: its flat results, or a
/// pointer to them in memory (more than
/// [`MAX_FLAT_RESULTS`](crate::layout::MAX_FLAT_RESULTS) flat values).
pub(crate) enum Results<'a> {
    Flat(&'a [Val]),
    Pointer(u32),
}

/// Lowers typed arguments straight from Rust values (strings and byte
/// lists copied once into the guest), for signatures of scalars, strings
/// and byte lists.
pub(crate) struct DirectLower<'c, 'a, 'b> {
    pub cx: &'c mut Cx<'a, 'b>,
    pub out: Vec<Val>,
}

impl airssys_wasm_core::typed::Lowerer for DirectLower<'_, '_, '_> {
    fn scalar(&mut self, value: airssys_wasm_core::typed::FlatValue) {
        use airssys_wasm_core::typed::FlatValue as F;
        self.out.push(match value {
            F::I32(v) => Val::I32(v),
            F::I64(v) => Val::I64(v),
            F::F32(v) => Val::F32(v.into()),
            F::F64(v) => Val::F64(v.into()),
        });
    }

    fn string(&mut self, s: &str) -> R<()> {
        let (ptr, len) = self.cx.lower_string(s)?;
        self.out
            .extend([Val::I32(ptr as i32), Val::I32(len as i32)]);
        Ok(())
    }

    fn bytes(&mut self, bytes: &[u8]) -> R<()> {
        let ptr = self.cx.alloc(1, len32(bytes.len())?)?;
        self.cx.write(ptr, bytes)?;
        self.out
            .extend([Val::I32(ptr as i32), Val::I32(bytes.len() as i32)]);
        Ok(())
    }
}

/// Lifts a typed result straight into a Rust value, with the checks of
/// [`Cx::lift_flat`].
pub(crate) struct DirectLift<'c, 'a, 'b, 'r> {
    pub cx: &'c mut Cx<'a, 'b>,
    pub results: Results<'r>,
}

impl DirectLift<'_, '_, '_, '_> {
    /// The pointer and length of a string or list returned through memory.
    fn pointer_and_length(&self) -> R<(u32, u32)> {
        let Results::Pointer(at) = self.results else {
            return Err("a string or list result must come through a result pointer".into());
        };
        if !at.is_multiple_of(4) {
            return Err(format!("result pointer {at} is not aligned to 4"));
        }
        let pair: [u8; 8] = self.cx.load(at)?;
        Ok((
            u32::from_le_bytes(pair[..4].try_into().expect("4 bytes")),
            u32::from_le_bytes(pair[4..].try_into().expect("4 bytes")),
        ))
    }
}

impl airssys_wasm_core::typed::Lifter for DirectLift<'_, '_, '_, '_> {
    fn scalar(&mut self) -> R<airssys_wasm_core::typed::FlatValue> {
        use airssys_wasm_core::typed::FlatValue as F;
        let Results::Flat([value]) = self.results else {
            return Err("a scalar result must come as one flat value".into());
        };
        Ok(match value {
            Val::I32(v) => F::I32(*v),
            Val::I64(v) => F::I64(*v),
            Val::F32(v) => F::F32((*v).into()),
            Val::F64(v) => F::F64((*v).into()),
            other => return Err(format!("the export returned {other:?}")),
        })
    }

    fn string(&mut self) -> R<String> {
        let (ptr, len) = self.pointer_and_length()?;
        self.cx.lift_string(ptr, len)
    }

    fn bytes(&mut self) -> R<Vec<u8>> {
        let (ptr, len) = self.pointer_and_length()?;
        self.cx
            .bytes(ptr, len)
            .map(<[u8]>::to_vec)
            .map_err(|why| format!("list pointer/length out of bounds of memory ({why})"))
    }
}
