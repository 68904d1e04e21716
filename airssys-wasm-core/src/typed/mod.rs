//! Rust types of typed calls, the same on every backend.
//!
//! A typed call names its parameters and result as Rust types:
//! `typed::<(u32, u32), (u32,)>("add")`. This module says which Rust type
//! stands for which WIT type ([`ComponentType`]), how a parameter list and
//! a result convert ([`ComponentParams`], [`ComponentResults`]), and, for
//! signatures of scalars only, their flat core WebAssembly form: a backend
//! passes those straight to the engine's own typed call, with no
//! [`Value`](crate::Value) in between. Other signatures go through
//! [`Value`](crate::Value)s.
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
//!
//! The submodules: the flat core forms (`flat`), the direct lowering and
//! lifting traits a backend implements (`direct`), the Rust types that stand
//! for WIT types (`types`), and parameter and result lists (`signature`).

use crate::error::{Error, Result};
use crate::value::FuncType;

mod sealed {
    pub trait Sealed {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for super::NotFlat {}
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

mod direct;
mod flat;
mod signature;
mod types;

pub use direct::{Lifter, Lowerer};
pub use flat::{CoreType, Flat, FlatList, FlatValue, NotFlat};
pub use signature::{ComponentParams, ComponentResults};
pub use types::{ComponentType, Payload};

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
mod tests;
