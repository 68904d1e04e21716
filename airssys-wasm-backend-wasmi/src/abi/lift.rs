//! Lifting: WIT values out of the guest, from flat core values or from
//! linear memory.

use airssys_wasm_core::{ResourceHandle, ResourceType, Value, ValueType};
use wasmi::Val;
use wasmtime_environ::component::{InterfaceType, StringEncoding};

use super::{Cx, R, UTF16_TAG, concrete, variant_case_types, variant_info};
use crate::layout::{Flat, flatten};

impl Cx<'_, '_> {
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

    pub(super) fn lift_string(&mut self, ptr: u32, len: u32) -> R<String> {
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
