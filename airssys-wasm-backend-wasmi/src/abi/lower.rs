//! Lowering: WIT values into the guest, as flat core values or into
//! linear memory (allocated with the guest's `realloc`).

use airssys_wasm_core::{ResourceHandle, Value, ValueType};
use wasmi::Val;
use wasmtime_environ::component::{ComponentTypes, InterfaceType, StringEncoding};

use super::{Cx, R, UTF16_TAG, concrete, len32, variant_case_types, variant_info};
use crate::layout::{Flat, flatten};
use crate::resources::Slot;

/// The longest string, in bytes, wasmtime copies into a guest.
const MAX_STRING_BYTE_LENGTH: usize = (1 << 31) - 1;

impl Cx<'_, '_> {
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
    pub(super) fn lower_string(&mut self, s: &str) -> R<(u32, u32)> {
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

fn mismatch(vty: &ValueType, v: &Value) -> String {
    format!("expected a value of type {vty}, got {v:?}")
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

fn flags_bits<'a>(names: impl Iterator<Item = &'a str> + Clone, set: &[String]) -> R<Vec<u32>> {
    let n = names.clone().count();
    let mut words = vec![0u32; n.div_ceil(32)];
    for flag in set {
        let k = case_index(names.clone(), flag)? as usize;
        words[k / 32] |= 1 << (k % 32);
    }
    Ok(words)
}

type Parts<'v, 't> = (
    u32,
    Option<(&'t InterfaceType, &'v Value)>,
    Option<&'t ValueType>,
);

/// The discriminant and payload of a variant, option or result value.
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
