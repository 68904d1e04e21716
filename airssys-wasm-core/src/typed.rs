//! Rust types of typed calls, the same on every backend.
//!
//! A typed call names its parameters and result as Rust types:
//! `typed::<(u32, u32), (u32,)>("add")`. This module says which Rust type
//! stands for which WIT type ([`ComponentType`]), how a parameter list and
//! a result convert ([`ComponentParams`], [`ComponentResults`]), and, for
//! signatures of scalars only, their flat core WebAssembly form: a backend
//! passes those straight to the engine's own typed call, with no [`Value`]
//! in between. Other signatures go through [`Value`]s.
//!
//! | WIT | Rust |
//! |---|---|
//! | `bool`, `u8`…`u64`, `s8`…`s64`, `f32`, `f64`, `char` | `bool`, `u8`…`u64`, `i8`…`i64`, `f32`, `f64`, `char` |
//! | `string` | `String` |
//! | `list<T>` | `Vec<T>` |
//! | `option<T>` | `Option<T>` |
//! | `result<T, E>` (`result<_, E>`, …) | `Result<T, E>` (`Result<(), E>`, …) |
//! | `tuple<A, B, …>` | `(A, B, …)` |
//!
//! ```
//! use airssys_wasm_core::typed::{ComponentParams, ComponentResults, ComponentType, NotFlat};
//! use airssys_wasm_core::{Value, ValueType};
//!
//! // Scalars have a flat form: (u32, char) is (i32, i32) in core wasm.
//! assert_eq!((7u32, 'x').into_flat_list(), (7, 'x' as i32));
//! // A string does not: its call goes through values.
//! assert_eq!((String::from("hi"),).into_flat_list(), NotFlat);
//! assert_eq!(
//!     <(u32, String)>::types(),
//!     vec![ValueType::U32, ValueType::String]
//! );
//! assert_eq!(<Option<String>>::from_value(Value::Option(None)), Ok(None));
//! assert_eq!(<(char,)>::from_flat_result(0x78), Ok(('x',)));
//! assert!(<(char,)>::from_flat_result(0xD800).is_err());
//! ```

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::value::{FuncType, Value, ValueType};

mod sealed {
    pub trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for super::NotFlat {}
}

/// A core WebAssembly value type as its Rust type: `i32`, `i64`, `f32` or
/// `f64`.
pub trait CoreType: sealed::Sealed + Copy + Send + Sync + 'static {
    /// As a [`FlatValue`].
    fn into_flat_value(self) -> FlatValue;

    /// From a [`FlatValue`] of this type.
    fn from_flat_value(value: FlatValue) -> std::result::Result<Self, String>;
}

/// One core WebAssembly value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FlatValue {
    /// `i32`
    I32(i32),
    /// `i64`
    I64(i64),
    /// `f32`
    F32(f32),
    /// `f64`
    F64(f64),
}

macro_rules! core_type {
    ($($t:ident => $case:ident),*) => {$(
        impl CoreType for $t {
            #[inline]
            fn into_flat_value(self) -> FlatValue {
                FlatValue::$case(self)
            }

            #[inline]
            fn from_flat_value(value: FlatValue) -> std::result::Result<Self, String> {
                match value {
                    FlatValue::$case(v) => Ok(v),
                    other => Err(format!(
                        "the core value {other:?} is not the {} its type lowers to",
                        stringify!($t)
                    )),
                }
            }
        }
    )*};
}

core_type!(i32 => I32, i64 => I64, f32 => F32, f64 => F64);

/// A backend's side of lowering typed arguments straight from Rust values,
/// without [`Value`]s: for signatures of scalars, strings and byte lists
/// ([`ComponentParams::DIRECT`]). Each method appends the flat values of
/// one argument, copying data into the guest where needed.
pub trait Lowerer {
    /// A scalar.
    fn scalar(&mut self, value: FlatValue);

    /// A `string`, copied into the guest in the component's encoding.
    fn string(&mut self, s: &str) -> std::result::Result<(), String>;

    /// A `list<u8>`, copied into the guest.
    fn bytes(&mut self, bytes: &[u8]) -> std::result::Result<(), String>;
}

/// A backend's side of lifting a typed result straight into a Rust value
/// ([`ComponentResults::DIRECT`]), checking what the guest returned.
pub trait Lifter {
    /// A scalar result.
    fn scalar(&mut self) -> std::result::Result<FlatValue, String>;

    /// A `string` result.
    fn string(&mut self) -> std::result::Result<String, String>;

    /// A `list<u8>` result.
    fn bytes(&mut self) -> std::result::Result<Vec<u8>, String>;
}

/// Stands for a type or a list that is not a handful of core values: a
/// string, a list, an option… (or more than sixteen scalars). Calls with
/// one go through [`Value`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotFlat;

/// The flat form of one component type: a [`CoreType`], or [`NotFlat`].
pub trait Flat: sealed::Sealed + Send + Sync + 'static {
    /// `L` with this value in front; [`NotFlat`] if this is not flat.
    type Before<L: FlatList>: FlatList;

    /// Puts this value in front of `rest`.
    fn before<L: FlatList>(self, rest: L) -> Self::Before<L>;
}

macro_rules! flat_core {
    ($($t:ty),*) => {$(
        impl Flat for $t {
            type Before<L: FlatList> = L::Push<$t>;

            #[inline]
            fn before<L: FlatList>(self, rest: L) -> Self::Before<L> {
                rest.push(self)
            }
        }
    )*};
}

flat_core!(i32, i64, f32, f64);

impl Flat for NotFlat {
    type Before<L: FlatList> = NotFlat;

    #[inline]
    fn before<L: FlatList>(self, _rest: L) -> NotFlat {
        NotFlat
    }
}

/// The flat form of a parameter list: a tuple of [`CoreType`]s (at most
/// sixteen, the canonical ABI's limit for flat parameters), or [`NotFlat`].
pub trait FlatList: Send + Sync + 'static {
    /// `true` for a tuple of core values, `false` for [`NotFlat`].
    const FLAT: bool;

    /// The list with `H` in front; [`NotFlat`] past sixteen values.
    type Push<H: CoreType>: FlatList;

    /// Puts `head` in front of the list.
    fn push<H: CoreType>(self, head: H) -> Self::Push<H>;
}

impl FlatList for NotFlat {
    const FLAT: bool = false;
    type Push<H: CoreType> = NotFlat;

    #[inline]
    fn push<H: CoreType>(self, _head: H) -> NotFlat {
        NotFlat
    }
}

/// Invokes `$m` for the tuples of zero to fifteen elements, as type and
/// variable names (`A a B b ...`); the sixteen-element tuple is done apart
/// where it differs.
macro_rules! for_each_tuple {
    ($m:ident) => {
        $m!();
        $m!(A a);
        $m!(A a B b);
        $m!(A a B b C c);
        $m!(A a B b C c D d);
        $m!(A a B b C c D d E e);
        $m!(A a B b C c D d E e F f);
        $m!(A a B b C c D d E e F f G g);
        $m!(A a B b C c D d E e F f G g H h);
        $m!(A a B b C c D d E e F f G g H h I i);
        $m!(A a B b C c D d E e F f G g H h I i J j);
        $m!(A a B b C c D d E e F f G g H h I i J j K k);
        $m!(A a B b C c D d E e F f G g H h I i J j K k L l);
        $m!(A a B b C c D d E e F f G g H h I i J j K k L l M m);
        $m!(A a B b C c D d E e F f G g H h I i J j K k L l M m N n);
        $m!(A a B b C c D d E e F f G g H h I i J j K k L l M m N n O o);
    };
}

macro_rules! flat_list {
    ($($t:ident $v:ident)*) => {
        impl<$($t: CoreType),*> FlatList for ($($t,)*) {
            const FLAT: bool = true;
            type Push<Head: CoreType> = (Head, $($t,)*);

            #[inline]
            fn push<Head: CoreType>(self, head: Head) -> Self::Push<Head> {
                let ($($v,)*) = self;
                (head, $($v,)*)
            }
        }
    };
}

for_each_tuple!(flat_list);

/// Sixteen flat values are the most passed flat; one more goes through
/// memory.
impl<A, B, C, D, E, F, G, H2, I, J, K, L, M, N, O, P> FlatList
    for (A, B, C, D, E, F, G, H2, I, J, K, L, M, N, O, P)
where
    A: CoreType,
    B: CoreType,
    C: CoreType,
    D: CoreType,
    E: CoreType,
    F: CoreType,
    G: CoreType,
    H2: CoreType,
    I: CoreType,
    J: CoreType,
    K: CoreType,
    L: CoreType,
    M: CoreType,
    N: CoreType,
    O: CoreType,
    P: CoreType,
{
    const FLAT: bool = true;
    type Push<H: CoreType> = NotFlat;

    #[inline]
    fn push<H: CoreType>(self, _head: H) -> NotFlat {
        NotFlat
    }
}

/// A Rust type that stands for a WIT type in typed calls (see the table in
/// the [module docs](self)).
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

/// The flat form of types that have none.
macro_rules! not_flat {
    () => {
        #[inline]
        fn into_flat(self) -> NotFlat {
            NotFlat
        }

        fn from_flat(_: NotFlat) -> std::result::Result<Self, String> {
            Err(format!(
                "{} has no flat form",
                <Self as ComponentType>::ty()
            ))
        }
    };
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

fn expected<T: ComponentType>(found: &Value) -> String {
    format!("expected {}, got a {}", T::ty(), found.kind_name())
}

/// A function's parameters as a Rust tuple: `()`, `(u32,)`,
/// `(String, Vec<u8>)`… up to sixteen.
pub trait ComponentParams: Sized + Send + Sync + 'static {
    /// The flat core form: a tuple of [`CoreType`]s when every parameter is
    /// a scalar, [`NotFlat`] otherwise.
    type Flat: FlatList;

    /// The parameters' WIT types.
    fn types() -> Vec<ValueType>;

    /// As dynamic values.
    fn into_values(self) -> Vec<Value>;

    /// The flat form ([`NotFlat`] when there is none).
    fn into_flat_list(self) -> Self::Flat;

    /// `true` when every parameter is [`ComponentType::DIRECT`].
    const DIRECT: bool;

    /// Lowers every parameter with `l`, in order (when [`Self::DIRECT`]).
    fn lower_params(&self, l: &mut dyn Lowerer) -> std::result::Result<(), String>;
}

/// A function's result as a Rust tuple: `()` for none, `(T,)` for one.
pub trait ComponentResults: Sized + Send + Sync + 'static {
    /// The flat core form: `()`, one [`CoreType`], or [`NotFlat`].
    type Flat: Send + Sync + 'static;

    /// The result's WIT type, if there is one.
    fn result_type() -> Option<ValueType>;

    /// From the dynamic result (`None` when there is none).
    fn from_result(value: Option<Value>) -> std::result::Result<Self, String>;

    /// From the flat form, checked as [`ComponentType::from_flat`] says.
    fn from_flat_result(flat: Self::Flat) -> std::result::Result<Self, String>;

    /// `true` for no result or a [`ComponentType::DIRECT`] one.
    const DIRECT: bool;

    /// Lifts the result with `l` (when [`Self::DIRECT`]).
    fn lift_result(l: &mut dyn Lifter) -> std::result::Result<Self, String>;
}

impl ComponentResults for () {
    type Flat = ();

    fn result_type() -> Option<ValueType> {
        None
    }

    fn from_result(value: Option<Value>) -> std::result::Result<Self, String> {
        match value {
            None => Ok(()),
            Some(v) => Err(format!("expected no result, got a {}", v.kind_name())),
        }
    }

    #[inline]
    fn from_flat_result(_: ()) -> std::result::Result<Self, String> {
        Ok(())
    }

    const DIRECT: bool = true;

    fn lift_result(_: &mut dyn Lifter) -> std::result::Result<Self, String> {
        Ok(())
    }
}

impl<T: ComponentType> ComponentResults for (T,) {
    type Flat = T::Flat;

    fn result_type() -> Option<ValueType> {
        Some(T::ty())
    }

    fn from_result(value: Option<Value>) -> std::result::Result<Self, String> {
        match value {
            Some(v) => T::from_value(v).map(|v| (v,)),
            None => Err(format!("expected a {} result, got none", T::ty())),
        }
    }

    #[inline]
    fn from_flat_result(flat: T::Flat) -> std::result::Result<Self, String> {
        T::from_flat(flat).map(|v| (v,))
    }

    const DIRECT: bool = T::DIRECT;

    fn lift_result(l: &mut dyn Lifter) -> std::result::Result<Self, String> {
        T::lift(l).map(|v| (v,))
    }
}

/// The flat form of a list of component types, built from the back.
macro_rules! flat_chain {
    () => { () };
    ($t:ident $($rest:ident)*) => {
        <<$t as ComponentType>::Flat as Flat>::Before<flat_chain!($($rest)*)>
    };
}

macro_rules! into_flat_chain {
    () => { () };
    ($v:ident $($rest:ident)*) => {
        $v.into_flat().before(into_flat_chain!($($rest)*))
    };
}

macro_rules! tuples {
    ($($t:ident $v:ident)*) => {
        impl<$($t: ComponentType),*> ComponentParams for ($($t,)*) {
            type Flat = flat_chain!($($t)*);

            fn types() -> Vec<ValueType> {
                vec![$($t::ty()),*]
            }

            fn into_values(self) -> Vec<Value> {
                let ($($v,)*) = self;
                vec![$($v.into_value()),*]
            }

            #[inline]
            fn into_flat_list(self) -> Self::Flat {
                let ($($v,)*) = self;
                into_flat_chain!($($v)*)
            }

            const DIRECT: bool = true $(&& $t::DIRECT)*;

            #[allow(unused_variables)]
            fn lower_params(&self, l: &mut dyn Lowerer) -> std::result::Result<(), String> {
                let ($($v,)*) = self;
                $($v.lower(l)?;)*
                Ok(())
            }
        }

        tuple_type!($($t $v)*);
    };
}

/// A non-empty Rust tuple is a WIT `tuple<..>`.
macro_rules! tuple_type {
    () => {};
    ($($t:ident $v:ident)+) => {
        impl<$($t: ComponentType),*> ComponentType for ($($t,)*) {
            type Flat = NotFlat;

            fn ty() -> ValueType {
                ValueType::Tuple(vec![$($t::ty()),*].into())
            }

            fn into_value(self) -> Value {
                let ($($v,)*) = self;
                Value::Tuple(vec![$($v.into_value()),*])
            }

            fn from_value(value: Value) -> std::result::Result<Self, String> {
                let Value::Tuple(items) = value else {
                    return Err(expected::<Self>(&value));
                };
                let count = items.len();
                let mut items = items.into_iter();
                let tuple = ($(match items.next() {
                    Some(v) => $t::from_value(v)?,
                    None => return Err(format!("expected {}, got {count} item(s)", <Self as ComponentType>::ty())),
                },)*);
                match items.next() {
                    None => Ok(tuple),
                    Some(_) => Err(format!("expected {}, got {count} item(s)", <Self as ComponentType>::ty())),
                }
            }

            not_flat!();
        }
    };
}

for_each_tuple!(tuples);
tuples!(A a B b C c D d E e F f G g H h I i J j K k L l M m N n O o P p);

/// Checks that `P` and `R` are the parameter and result types of
/// `function`, whose WIT type is `ty`; the error shows both signatures.
///
/// ```
/// use airssys_wasm_core::typed::check_signature;
/// use airssys_wasm_core::{FuncType, ValueType};
/// let add = FuncType {
///     params: vec![("a".into(), ValueType::U32), ("b".into(), ValueType::U32)],
///     result: Some(ValueType::U32),
/// };
/// assert!(check_signature::<(u32, u32), (u32,)>("add", &add).is_ok());
/// let err = check_signature::<(String,), (u32,)>("add", &add).unwrap_err();
/// assert!(err.to_string().contains("func(string) -> u32"), "{err}");
/// ```
pub fn check_signature<P: ComponentParams, R: ComponentResults>(
    function: &str,
    ty: &FuncType,
) -> Result<()> {
    let params = P::types();
    let result = R::result_type();
    if params.len() == ty.params.len()
        && params.iter().zip(&ty.params).all(|(p, (_, t))| p == t)
        && result == ty.result
    {
        return Ok(());
    }
    // The Rust side has no parameter names: its types only.
    let types: Vec<String> = params.iter().map(ToString::to_string).collect();
    let wanted = match result {
        Some(r) => format!("func({}) -> {r}", types.join(", ")),
        None => format!("func({})", types.join(", ")),
    };
    Err(Error::InvalidArguments {
        function: function.to_owned(),
        detail: format!(
            "the Rust types give `{wanted}`, but the export's WIT type is `{ty}`; \
             use the Rust types of the table in airssys_wasm::typed"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lift<R: ComponentResults>(flat: R::Flat) -> std::result::Result<R, String> {
        R::from_flat_result(flat)
    }

    fn flat_list_of<L: FlatList>(_: L) -> bool {
        L::FLAT
    }

    fn flat_of<P: ComponentParams>(p: P) -> (bool, P::Flat) {
        (<P::Flat as FlatList>::FLAT, p.into_flat_list())
    }

    #[test]
    fn scalar_lists_have_a_flat_form_and_others_do_not() {
        assert_eq!(flat_of(()), (true, ()));
        assert_eq!(
            flat_of((true, -1i8, u16::MAX, 'a', u64::MAX, 1.5f32, 2.5f64)),
            (true, (1, -1, 65535, 97, -1i64, 1.5f32, 2.5f64))
        );
        assert_eq!(flat_of((1u32, String::new())), (false, NotFlat));
        assert_eq!(flat_of((Some(1u32),)), (false, NotFlat));
        assert_eq!(flat_of(((1u32, 2u32),)), (false, NotFlat));
        // Sixteen scalars are passed flat; the canonical ABI passes a
        // seventeenth parameter's list through memory.
        let sixteen = (
            1u8, 2u8, 3u8, 4u8, 5u8, 6u8, 7u8, 8u8, 9u8, 10u8, 11u8, 12u8, 13u8, 14u8, 15u8, 16u8,
        );
        assert!(flat_of(sixteen).0);
        fn push_one<L: FlatList>(list: L) -> L::Push<i32> {
            list.push(0)
        }
        assert!(!flat_list_of(push_one(sixteen.into_flat_list())));
    }

    #[test]
    fn flat_results_lift_as_the_canonical_abi_says() {
        assert_eq!(lift::<(u8,)>(0x1ff), Ok((0xff,)));
        assert_eq!(lift::<(i8,)>(0xff), Ok((-1,)));
        assert_eq!(lift::<(u16,)>(-1), Ok((u16::MAX,)));
        assert_eq!(lift::<(u32,)>(-1), Ok((u32::MAX,)));
        assert_eq!(lift::<(bool,)>(7), Ok((true,)));
        assert_eq!(lift::<(bool,)>(0), Ok((false,)));
        assert_eq!(lift::<(char,)>(0x1F600), Ok(('😀',)));
        assert_eq!(
            lift::<(char,)>(0x110000),
            Err("0x110000 is not a Unicode scalar value".into())
        );
        assert_eq!(lift::<()>(()), Ok(()));
        assert!(lift::<(String,)>(NotFlat).is_err());
    }

    #[test]
    fn values_convert_both_ways_and_mismatches_say_what_was_found() {
        type Mixed = (u8, Result<(), String>, Vec<Option<char>>);
        let v: Mixed = (1, Err("no".into()), vec![Some('x'), None]);
        let value = v.clone().into_value();
        assert_eq!(<Mixed as ComponentType>::from_value(value), Ok(v));
        assert_eq!(
            <Mixed as ComponentType>::ty().to_string(),
            "tuple<u8, result<_, string>, list<option<char>>>"
        );
        assert_eq!(<Result<u32, ()>>::ty().to_string(), "result<u32>");
        assert_eq!(
            <(u8, u8) as ComponentType>::from_value(Value::Tuple(vec![Value::U8(1)])),
            Err("expected tuple<u8, u8>, got 1 item(s)".into())
        );
        assert_eq!(
            <Vec<u8>>::from_value(Value::String("x".into())),
            Err("expected list<u8>, got a string".into())
        );
        assert_eq!(
            <Result<(), String>>::from_value(Value::Result(Ok(Some(Box::new(Value::U8(1)))))),
            Err("expected no payload, got a u8".into())
        );
        assert_eq!(
            <()>::from_result(Some(Value::U8(1))),
            Err("expected no result, got a u8".into())
        );
        assert!(<(u8,)>::from_result(None).is_err());
    }

    #[test]
    fn signatures_are_checked_by_type_and_arity() {
        let f = FuncType {
            params: vec![("s".into(), ValueType::String)],
            result: None,
        };
        assert!(check_signature::<(String,), ()>("log", &f).is_ok());
        let err = check_signature::<(String,), (u32,)>("log", &f).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bad arguments for `log`: the Rust types give `func(string) -> u32`, but the \
             export's WIT type is `func(s: string)`; use the Rust types of the table in \
             airssys_wasm::typed"
        );
        assert!(check_signature::<(), ()>("log", &f).is_err());
        assert!(check_signature::<(String, String), ()>("log", &f).is_err());
    }

    /// Records what it is asked to lower, and lifts from a script.
    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Lowerer for Recorder {
        fn scalar(&mut self, value: FlatValue) {
            self.0.push(format!("{value:?}"));
        }
        fn string(&mut self, s: &str) -> std::result::Result<(), String> {
            self.0.push(format!("string {s}"));
            Ok(())
        }
        fn bytes(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
            self.0.push(format!("bytes {bytes:?}"));
            Ok(())
        }
    }

    impl Lifter for Recorder {
        fn scalar(&mut self) -> std::result::Result<FlatValue, String> {
            Ok(FlatValue::I32(0xD800))
        }
        fn string(&mut self) -> std::result::Result<String, String> {
            Ok("lifted".into())
        }
        fn bytes(&mut self) -> std::result::Result<Vec<u8>, String> {
            Ok(vec![9])
        }
    }

    #[test]
    fn scalars_strings_and_byte_lists_lower_and_lift_directly() {
        type Direct = (bool, u64, String, Vec<u8>, f32);
        const { assert!(<Direct as ComponentParams>::DIRECT) };
        const { assert!(!<(Vec<u32>,) as ComponentParams>::DIRECT) };
        const { assert!(!<(Option<u8>,) as ComponentParams>::DIRECT) };
        const { assert!(!<((u8, u8),) as ComponentParams>::DIRECT) };
        const { assert!(<(String,) as ComponentResults>::DIRECT) };
        const { assert!(!<(Result<u8, u8>,) as ComponentResults>::DIRECT) };
        let mut r = Recorder::default();
        (true, u64::MAX, "hi".to_owned(), vec![1u8, 2], 0.5f32)
            .lower_params(&mut r)
            .unwrap();
        assert_eq!(
            r.0,
            ["I32(1)", "I64(-1)", "string hi", "bytes [1, 2]", "F32(0.5)"]
        );
        assert_eq!(<(String,)>::lift_result(&mut r), Ok(("lifted".to_owned(),)));
        assert_eq!(<(Vec<u8>,)>::lift_result(&mut r), Ok((vec![9],)));
        assert_eq!(<(u16,)>::lift_result(&mut r), Ok((0xD800,)));
        // The lifted scalar is checked like a flat one.
        assert!(<(char,)>::lift_result(&mut r).is_err());
        assert!(
            <(u64,)>::lift_result(&mut r).is_err(),
            "an i32 where an i64 belongs"
        );
    }
}
