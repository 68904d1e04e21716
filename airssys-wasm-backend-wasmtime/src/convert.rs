//! Conversions between core [`Value`]s and wasmtime's [`Val`]s.
//!
//! Exported-function arguments and results are converted with their WIT
//! type in hand, so resource handles can be mapped through the instance's
//! handle table. Host-function values carry no resources and convert
//! structurally.

use std::sync::Arc;

use airssys_wasm_core::{ResourceHandle, Value, ValueType};
use wasmtime::component::{ResourceAny, Val};

/// The resources an instance has handed to its caller, by handle index.
#[derive(Default)]
pub(crate) struct HandleTable {
    slots: Vec<Option<ResourceAny>>,
}

impl HandleTable {
    fn insert(&mut self, r: ResourceAny) -> u32 {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            self.slots[i] = Some(r);
            i as u32
        } else {
            self.slots.push(Some(r));
            (self.slots.len() - 1) as u32
        }
    }
}

/// Converts a core value to a `Val` of type `ty`. Owned handles are taken out
/// of `handles` (the callee now owns them); borrowed ones stay.
pub(crate) fn to_val(v: &Value, ty: &ValueType, handles: &mut HandleTable) -> Result<Val, String> {
    Ok(match (v, ty) {
        (Value::Bytes(bytes), ValueType::List(_)) => byte_list(bytes),
        (Value::List(items), ValueType::List(elem)) => Val::List(
            items
                .iter()
                .map(|x| to_val(x, elem, handles))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Record(fields), ValueType::Record(decl)) => Val::Record(
            fields
                .iter()
                .zip(decl.iter())
                .map(|((n, x), f)| Ok((n.clone(), to_val(x, &f.ty, handles)?)))
                .collect::<Result<_, String>>()?,
        ),
        (Value::Tuple(items), ValueType::Tuple(tys)) => Val::Tuple(
            items
                .iter()
                .zip(tys.iter())
                .map(|(x, t)| to_val(x, t, handles))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Variant(case, payload), ValueType::Variant(cases)) => {
            let case_ty = cases
                .iter()
                .find(|c| c.name == *case)
                .and_then(|c| c.ty.as_ref());
            Val::Variant(
                case.clone(),
                match (payload, case_ty) {
                    (Some(x), Some(t)) => Some(Box::new(to_val(x, t, handles)?)),
                    _ => None,
                },
            )
        }
        (Value::Option(x), ValueType::Option(t)) => Val::Option(match x {
            Some(x) => Some(Box::new(to_val(x, t, handles)?)),
            None => None,
        }),
        (Value::Result(r), ValueType::Result { ok, err }) => {
            let side =
                |x: &Option<Box<Value>>, t: &Option<Arc<ValueType>>, h: &mut HandleTable| match (
                    x, t,
                ) {
                    (Some(x), Some(t)) => Ok(Some(Box::new(to_val(x, t, h)?))),
                    _ => Ok::<_, String>(None),
                };
            Val::Result(match r {
                Ok(x) => Ok(side(x, ok, handles)?),
                Err(x) => Err(side(x, err, handles)?),
            })
        }
        (Value::Resource(h), ValueType::Resource(r)) => {
            let slot = handles
                .slots
                .get_mut(h.index as usize)
                .ok_or_else(|| format!("unknown resource handle {}", h.index))?;
            let res = if r.owned { slot.take() } else { *slot };
            Val::Resource(res.ok_or_else(|| {
                format!(
                    "resource handle {} of `{}` was already moved into an earlier call",
                    h.index, h.ty.name
                )
            })?)
        }
        (v, _) => scalar_to_val(v)?,
    })
}

/// Converts a `Val` of type `ty` to a core value, registering resources.
pub(crate) fn from_val(v: Val, ty: &ValueType, handles: &mut HandleTable) -> Result<Value, String> {
    Ok(match (v, ty) {
        (Val::List(items), ValueType::List(elem)) if **elem == ValueType::U8 => bytes_of(&items)?,
        (Val::List(items), ValueType::List(elem)) => Value::List(
            items
                .into_iter()
                .map(|x| from_val(x, elem, handles))
                .collect::<Result<_, _>>()?,
        ),
        (Val::Record(fields), ValueType::Record(decl)) => Value::Record(
            fields
                .into_iter()
                .zip(decl.iter())
                .map(|((n, x), f)| Ok((n, from_val(x, &f.ty, handles)?)))
                .collect::<Result<_, String>>()?,
        ),
        (Val::Tuple(items), ValueType::Tuple(tys)) => Value::Tuple(
            items
                .into_iter()
                .zip(tys.iter())
                .map(|(x, t)| from_val(x, t, handles))
                .collect::<Result<_, _>>()?,
        ),
        (Val::Variant(case, payload), ValueType::Variant(cases)) => {
            let case_ty = cases
                .iter()
                .find(|c| c.name == case)
                .and_then(|c| c.ty.clone());
            let payload = match (payload, case_ty) {
                (Some(x), Some(t)) => Some(Box::new(from_val(*x, &t, handles)?)),
                _ => None,
            };
            Value::Variant(case, payload)
        }
        (Val::Option(x), ValueType::Option(t)) => Value::Option(match x {
            Some(x) => Some(Box::new(from_val(*x, t, handles)?)),
            None => None,
        }),
        (Val::Result(r), ValueType::Result { ok, err }) => {
            let side =
                |x: Option<Box<Val>>, t: &Option<Arc<ValueType>>, h: &mut HandleTable| match (x, t)
                {
                    (Some(x), Some(t)) => Ok(Some(Box::new(from_val(*x, t, h)?))),
                    _ => Ok::<_, String>(None),
                };
            Value::Result(match r {
                Ok(x) => Ok(side(x, ok, handles)?),
                Err(x) => Err(side(x, err, handles)?),
            })
        }
        (Val::Resource(res), ValueType::Resource(r)) => Value::Resource(ResourceHandle {
            index: handles.insert(res),
            ty: r.clone(),
        }),
        (v, _) => val_to_value(&v)?,
    })
}

fn scalar_to_val(v: &Value) -> Result<Val, String> {
    Ok(match v {
        Value::Bool(x) => Val::Bool(*x),
        Value::S8(x) => Val::S8(*x),
        Value::S16(x) => Val::S16(*x),
        Value::S32(x) => Val::S32(*x),
        Value::S64(x) => Val::S64(*x),
        Value::U8(x) => Val::U8(*x),
        Value::U16(x) => Val::U16(*x),
        Value::U32(x) => Val::U32(*x),
        Value::U64(x) => Val::U64(*x),
        Value::F32(x) => Val::Float32(*x),
        Value::F64(x) => Val::Float64(*x),
        Value::Char(x) => Val::Char(*x),
        Value::String(x) => Val::String(x.clone()),
        Value::Enum(x) => Val::Enum(x.clone()),
        Value::Flags(x) => Val::Flags(x.clone()),
        other => value_to_val(other)?,
    })
}

/// A core [`Value`] as a wasmtime [`Val`], structurally: for host
/// functions, and for embedders that call wasmtime beside the runtime (the
/// conformance runner's raw-wasmtime column). A resource handle is an error.
pub fn value_to_val(v: &Value) -> Result<Val, String> {
    let boxed = |x: &Option<Box<Value>>| -> Result<Option<Box<Val>>, String> {
        x.as_deref()
            .map(|x| value_to_val(x).map(Box::new))
            .transpose()
    };
    Ok(match v {
        Value::List(items) => Val::List(items.iter().map(value_to_val).collect::<Result<_, _>>()?),
        Value::Bytes(bytes) => byte_list(bytes),
        Value::Record(fields) => Val::Record(
            fields
                .iter()
                .map(|(n, x)| Ok((n.clone(), value_to_val(x)?)))
                .collect::<Result<_, String>>()?,
        ),
        Value::Tuple(items) => {
            Val::Tuple(items.iter().map(value_to_val).collect::<Result<_, _>>()?)
        }
        Value::Variant(case, payload) => Val::Variant(case.clone(), boxed(payload)?),
        Value::Option(x) => Val::Option(boxed(x)?),
        Value::Result(Ok(x)) => Val::Result(Ok(boxed(x)?)),
        Value::Result(Err(x)) => Val::Result(Err(boxed(x)?)),
        Value::Resource(_) => {
            return Err("resource handles cannot cross a host function".into());
        }
        scalar => scalar_to_val(scalar)?,
    })
}

/// A wasmtime [`Val`] as a core [`Value`], structurally (the inverse of
/// [`value_to_val`]). Takes the value by reference: a host call's arguments
/// are converted where wasmtime lifted them, never cloned first, and a byte
/// list becomes [`Value::Bytes`]. A resource handle is an error.
pub fn val_to_value(v: &Val) -> Result<Value, String> {
    let boxed = |x: &Option<Box<Val>>| -> Result<Option<Box<Value>>, String> {
        x.as_deref()
            .map(|x| val_to_value(x).map(Box::new))
            .transpose()
    };
    Ok(match v {
        Val::Bool(x) => Value::Bool(*x),
        Val::S8(x) => Value::S8(*x),
        Val::S16(x) => Value::S16(*x),
        Val::S32(x) => Value::S32(*x),
        Val::S64(x) => Value::S64(*x),
        Val::U8(x) => Value::U8(*x),
        Val::U16(x) => Value::U16(*x),
        Val::U32(x) => Value::U32(*x),
        Val::U64(x) => Value::U64(*x),
        Val::Float32(x) => Value::F32(*x),
        Val::Float64(x) => Value::F64(*x),
        Val::Char(x) => Value::Char(*x),
        Val::String(x) => Value::String(x.clone()),
        Val::Enum(x) => Value::Enum(x.clone()),
        Val::Flags(x) => Value::Flags(x.clone()),
        Val::List(items) if matches!(items.first(), Some(Val::U8(_))) => bytes_of(items)?,
        Val::List(items) => Value::List(items.iter().map(val_to_value).collect::<Result<_, _>>()?),
        Val::Record(fields) => Value::Record(
            fields
                .iter()
                .map(|(n, x)| Ok((n.clone(), val_to_value(x)?)))
                .collect::<Result<_, String>>()?,
        ),
        Val::Tuple(items) => {
            Value::Tuple(items.iter().map(val_to_value).collect::<Result<_, _>>()?)
        }
        Val::Variant(case, payload) => Value::Variant(case.clone(), boxed(payload)?),
        Val::Option(x) => Value::Option(boxed(x)?),
        Val::Result(Ok(x)) => Value::Result(Ok(boxed(x)?)),
        Val::Result(Err(x)) => Value::Result(Err(boxed(x)?)),
        Val::Resource(_) => return Err("resource handles cannot cross a host function".into()),
        other => return Err(format!("unsupported value {other:?}")),
    })
}

/// A `list<u8>` for wasmtime.
fn byte_list(bytes: &[u8]) -> Val {
    Val::List(bytes.iter().map(|b| Val::U8(*b)).collect())
}

/// The bytes of a lifted `list<u8>`.
fn bytes_of(items: &[Val]) -> Result<Value, String> {
    items
        .iter()
        .map(|v| match v {
            Val::U8(b) => Ok(*b),
            other => Err(format!("a byte list holds {other:?}")),
        })
        .collect::<Result<Vec<u8>, _>>()
        .map(Value::Bytes)
}
