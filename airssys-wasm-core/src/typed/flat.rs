//! The flat core forms of typed calls: core value types, the flat form of
//! one component type, and flat parameter lists (up to sixteen values).

use super::sealed;

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

/// Stands for a type or a list that is not a handful of core values: a
/// string, a list, an option… (or more than sixteen scalars). Calls with
/// one go through [`Value`](crate::Value)s.
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
