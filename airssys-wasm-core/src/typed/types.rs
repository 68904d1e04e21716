//! The Rust types that stand for WIT types in typed calls: scalars,
//! `String`, `Vec<T>`, `Option<T>`, `Result<T, E>` (tuples are in
//! `signature`, with the parameter lists they share their macros with).

use std::sync::Arc;

use super::{CoreType, Flat, Lifter, Lowerer, NotFlat};
use crate::value::{Value, ValueType};

/// A Rust type that stands for a WIT type in typed calls (see the table in
/// the [module docs](crate::typed)).
pub trait ComponentType: Sized + Send + Sync + 'static {
    /// Its flat core form when it is one core value (`u32` is `i32`),
    /// [`NotFlat`] otherwise.
    type Flat: Flat;

    /// Its WIT type.
    fn ty() -> ValueType;

    /// As a dynamic value.
    fn into_value(self) -> Value;

    /// From a dynamic value of its WIT type; the error says what was found.
    fn from_value(value: Value) -> std::result::Result<Self, String>;

    /// Its flat form ([`NotFlat`] for types without one).
    fn into_flat(self) -> Self::Flat;

    /// From its flat form, checked as the canonical ABI lifts it: `bool`
    /// is any non-zero value, small integers keep their low bits, and a
    /// `char` must be a Unicode scalar value.
    fn from_flat(flat: Self::Flat) -> std::result::Result<Self, String>;

    /// `true` for the types a [`Lowerer`] and a [`Lifter`] handle without
    /// [`Value`]s: scalars, `String` and `Vec<u8>`.
    const DIRECT: bool = false;

    /// `true` when a list of this type is lowered as bytes (`u8`).
    const DIRECT_LIST: bool = false;

    /// Lowers this value with `l` (only called when [`Self::DIRECT`]).
    fn lower(&self, l: &mut dyn Lowerer) -> std::result::Result<(), String> {
        let _ = l;
        Err(format!("{} is lowered through values", Self::ty()))
    }

    /// Lifts a value with `l` (only called when [`Self::DIRECT`]).
    fn lift(l: &mut dyn Lifter) -> std::result::Result<Self, String> {
        let _ = l;
        Err(format!("{} is lifted through values", Self::ty()))
    }

    /// Lowers a list of this type with `l` (when [`Self::DIRECT_LIST`]).
    fn lower_list(items: &[Self], l: &mut dyn Lowerer) -> std::result::Result<(), String> {
        let _ = (items, l);
        Err(format!("list<{}> is lowered through values", Self::ty()))
    }

    /// Lifts a list of this type with `l` (when [`Self::DIRECT_LIST`]).
    fn lift_list(l: &mut dyn Lifter) -> std::result::Result<Vec<Self>, String> {
        let _ = l;
        Err(format!("list<{}> is lifted through values", Self::ty()))
    }
}

/// The direct lowering of a scalar: its flat value.
macro_rules! direct_scalar {
    () => {
        const DIRECT: bool = true;

        #[inline]
        fn lower(&self, l: &mut dyn Lowerer) -> std::result::Result<(), String> {
            l.scalar(self.into_flat().into_flat_value());
            Ok(())
        }

        #[inline]
        fn lift(l: &mut dyn Lifter) -> std::result::Result<Self, String> {
            Self::from_flat(CoreType::from_flat_value(l.scalar()?)?)
        }
    };
}

/// The conversions every type with a `From`/`TryFrom` pair to [`Value`]
/// shares.
macro_rules! value_conversions {
    () => {
        #[inline]
        fn into_value(self) -> Value {
            Value::from(self)
        }

        fn from_value(value: Value) -> std::result::Result<Self, String> {
            Self::try_from(value).map_err(|e| e.to_string())
        }
    };
}

/// A scalar: its WIT case, its core type, and how its flat value lifts
/// (by default, an `as` conversion: small integers keep their low bits).
macro_rules! scalar {
    ($($rust:ident => $case:ident as $core:ty $(, lift $lift:expr)?);* $(;)?) => {$(
        impl ComponentType for $rust {
            type Flat = $core;

            fn ty() -> ValueType {
                ValueType::$case
            }

            value_conversions!();

            #[inline]
            fn into_flat(self) -> $core {
                self as $core
            }

            #[inline]
            fn from_flat(flat: $core) -> std::result::Result<Self, String> {
                scalar!(@lift $rust, flat $(, $lift)?)
            }

            direct_scalar!();
            direct_list!($rust);
        }
    )*};
    (@lift $rust:ident, $flat:ident) => { Ok($flat as $rust) };
    (@lift $rust:ident, $flat:ident, $lift:expr) => { ($lift)($flat) };
}

/// `list<u8>` is lowered and lifted as bytes; other lists go through
/// values.
macro_rules! direct_list {
    (u8) => {
        const DIRECT_LIST: bool = true;

        fn lower_list(items: &[u8], l: &mut dyn Lowerer) -> std::result::Result<(), String> {
            l.bytes(items)
        }

        fn lift_list(l: &mut dyn Lifter) -> std::result::Result<Vec<u8>, String> {
            l.bytes()
        }
    };
    ($other:ty) => {};
}

scalar! {
    u8 => U8 as i32; i8 => S8 as i32; u16 => U16 as i32; i16 => S16 as i32;
    u32 => U32 as i32; i32 => S32 as i32; u64 => U64 as i64; i64 => S64 as i64;
    f32 => F32 as f32; f64 => F64 as f64;
    bool => Bool as i32, lift |flat: i32| Ok(flat != 0);
    char => Char as i32, lift |flat: i32| char::from_u32(flat as u32)
        .ok_or_else(|| format!("{:#x} is not a Unicode scalar value", flat as u32));
}

impl ComponentType for String {
    type Flat = NotFlat;

    fn ty() -> ValueType {
        ValueType::String
    }

    value_conversions!();
    not_flat!();

    const DIRECT: bool = true;

    fn lower(&self, l: &mut dyn Lowerer) -> std::result::Result<(), String> {
        l.string(self)
    }

    fn lift(l: &mut dyn Lifter) -> std::result::Result<Self, String> {
        l.string()
    }
}

impl<T: ComponentType> ComponentType for Vec<T> {
    type Flat = NotFlat;

    fn ty() -> ValueType {
        ValueType::List(Arc::new(T::ty()))
    }

    fn into_value(self) -> Value {
        Value::List(self.into_iter().map(T::into_value).collect())
    }

    fn from_value(value: Value) -> std::result::Result<Self, String> {
        match value {
            Value::List(items) => items.into_iter().map(T::from_value).collect(),
            Value::Bytes(bytes) => bytes
                .into_iter()
                .map(|b| T::from_value(Value::U8(b)))
                .collect(),
            other => Err(expected::<Self>(&other)),
        }
    }

    not_flat!();

    const DIRECT: bool = T::DIRECT_LIST;

    fn lower(&self, l: &mut dyn Lowerer) -> std::result::Result<(), String> {
        T::lower_list(self, l)
    }

    fn lift(l: &mut dyn Lifter) -> std::result::Result<Self, String> {
        T::lift_list(l)
    }
}

impl<T: ComponentType> ComponentType for Option<T> {
    type Flat = NotFlat;

    fn ty() -> ValueType {
        ValueType::Option(Arc::new(T::ty()))
    }

    fn into_value(self) -> Value {
        Value::Option(self.map(|v| Box::new(v.into_value())))
    }

    fn from_value(value: Value) -> std::result::Result<Self, String> {
        match value {
            Value::Option(v) => v.map(|v| T::from_value(*v)).transpose(),
            other => Err(expected::<Self>(&other)),
        }
    }

    not_flat!();
}

/// A payload of `result`: a [`ComponentType`], or `()` for none
/// (`Result<(), String>` is `result<_, string>`).
pub trait Payload: Sized + Send + Sync + 'static {
    /// Its WIT type; `None` for `()`.
    fn payload_type() -> Option<ValueType>;

    /// As a payload value.
    fn into_payload(self) -> Option<Box<Value>>;

    /// From a payload value.
    fn from_payload(value: Option<Box<Value>>) -> std::result::Result<Self, String>;
}

impl Payload for () {
    fn payload_type() -> Option<ValueType> {
        None
    }

    fn into_payload(self) -> Option<Box<Value>> {
        None
    }

    fn from_payload(value: Option<Box<Value>>) -> std::result::Result<Self, String> {
        match value {
            None => Ok(()),
            Some(v) => Err(format!("expected no payload, got a {}", v.kind_name())),
        }
    }
}

impl<T: ComponentType> Payload for T {
    fn payload_type() -> Option<ValueType> {
        Some(T::ty())
    }

    fn into_payload(self) -> Option<Box<Value>> {
        Some(Box::new(self.into_value()))
    }

    fn from_payload(value: Option<Box<Value>>) -> std::result::Result<Self, String> {
        match value {
            Some(v) => T::from_value(*v),
            None => Err(format!("expected a {} payload, got none", T::ty())),
        }
    }
}

impl<T: Payload, E: Payload> ComponentType for std::result::Result<T, E> {
    type Flat = NotFlat;

    fn ty() -> ValueType {
        ValueType::Result {
            ok: T::payload_type().map(Arc::new),
            err: E::payload_type().map(Arc::new),
        }
    }

    fn into_value(self) -> Value {
        Value::Result(match self {
            Ok(v) => Ok(v.into_payload()),
            Err(e) => Err(e.into_payload()),
        })
    }

    fn from_value(value: Value) -> std::result::Result<Self, String> {
        match value {
            Value::Result(Ok(v)) => T::from_payload(v).map(Ok),
            Value::Result(Err(e)) => E::from_payload(e).map(Err),
            other => Err(expected::<Self>(&other)),
        }
    }

    not_flat!();
}

pub(super) fn expected<T: ComponentType>(found: &Value) -> String {
    format!("expected {}, got a {}", T::ty(), found.kind_name())
}
