//! Parameter and result lists as Rust tuples, and tuples as WIT
//! `tuple<..>` types.

use super::types::expected;
use super::{ComponentType, Flat, FlatList, Lifter, Lowerer, NotFlat};
use crate::value::{Value, ValueType};

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
