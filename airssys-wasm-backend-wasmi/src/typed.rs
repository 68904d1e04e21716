//! The typed fast path's flat forms as wasmi takes them.
//!
//! [`airssys_wasm_core::typed`] gives a signature of scalars its flat core
//! form: a tuple of `i32`/`i64`/`f32`/`f64` for the parameters and one of
//! those (or `()`) for the result. These traits hand that form to wasmi's
//! own `TypedFunc`, which checks the core signature once, when the export
//! is resolved, instead of on every call. A list or result without a flat
//! form ([`NotFlat`]) never reaches wasmi's typed call: strings and byte
//! lists are lowered directly ([`DirectCall`]), other types go through
//! values.

use std::sync::Arc;

use airssys_wasm_core::typed::NotFlat;
use wasmi::{TypedFunc, WasmParams, WasmResults, WasmTy};

/// A flat parameter list: a tuple of core values, or [`NotFlat`] (which
/// one, core's [`FlatList::FLAT`](airssys_wasm_core::typed::FlatList::FLAT)
/// says).
pub trait FlatParams: Sized + Send + Sync + 'static {
    /// The list as wasmi's typed call takes it (`()` for [`NotFlat`],
    /// which is never passed).
    type Wasmi: WasmParams;

    /// The list as wasmi takes it.
    fn into_wasmi(self) -> Self::Wasmi;
}

impl FlatParams for NotFlat {
    type Wasmi = ();

    fn into_wasmi(self) {}
}

macro_rules! flat_params {
    ($($t:ident)*) => {
        impl<$($t: WasmTy + Sync + 'static),*> FlatParams for ($($t,)*) {
            type Wasmi = Self;

            #[inline]
            fn into_wasmi(self) -> Self {
                self
            }
        }
    };
}

flat_params!();
flat_params!(A);
flat_params!(A B);
flat_params!(A B C);
flat_params!(A B C D);
flat_params!(A B C D E);
flat_params!(A B C D E F);
flat_params!(A B C D E F G);
flat_params!(A B C D E F G H);
flat_params!(A B C D E F G H I);
flat_params!(A B C D E F G H I J);
flat_params!(A B C D E F G H I J K);
flat_params!(A B C D E F G H I J K L);
flat_params!(A B C D E F G H I J K L M);
flat_params!(A B C D E F G H I J K L M N);
flat_params!(A B C D E F G H I J K L M N O);
flat_params!(A B C D E F G H I J K L M N O P);

/// A flat result: `()`, one core value, or [`NotFlat`].
pub trait FlatResults: Sized + Send + Sync + 'static {
    /// `true` unless [`NotFlat`].
    const FLAT: bool;

    /// The result as wasmi's typed call returns it.
    type Wasmi: WasmResults;

    /// The result from wasmi's.
    fn from_wasmi(w: Self::Wasmi) -> Self;
}

impl FlatResults for NotFlat {
    const FLAT: bool = false;
    type Wasmi = ();

    fn from_wasmi(_: ()) -> Self {
        NotFlat
    }
}

macro_rules! flat_results {
    ($($t:ty),*) => {$(
        impl FlatResults for $t {
            const FLAT: bool = true;
            type Wasmi = $t;

            #[inline]
            fn from_wasmi(w: $t) -> $t {
                w
            }
        }
    )*};
}

flat_results!((), i32, i64, f32, f64);

/// An export resolved for typed calls of flat form `P -> R`
/// ([`WasmiInstance::flat_call`](crate::WasmiInstance::flat_call)).
pub struct FlatCall<P: FlatParams, R: FlatResults> {
    pub(crate) func: TypedFunc<P::Wasmi, R::Wasmi>,
    pub(crate) name: Arc<str>,
    /// The instance it was resolved on.
    pub(crate) owner: u64,
}

impl<P: FlatParams, R: FlatResults> FlatCall<P, R> {
    /// The export's call name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// An export resolved for typed calls that lower and lift Rust values
/// directly ([`WasmiInstance::direct_call`](crate::WasmiInstance::direct_call)).
pub struct DirectCall {
    pub(crate) index: u32,
    pub(crate) name: Arc<str>,
    /// The instance it was resolved on.
    pub(crate) owner: u64,
}

impl DirectCall {
    /// The export's call name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
