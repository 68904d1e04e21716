//! Typed calls: an export's parameters and result as Rust types, on every
//! backend ([`Instance::typed`](crate::Instance::typed)).
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
//! Parameters are a tuple of these (`(u32, String)`, `()`), the result is
//! `(T,)` or `()`. Records, variants, enums, flags and resources have no
//! Rust type here: call those exports with [`Value`](crate::Value)s, or
//! implement [`ComponentType`] for an application type of your own (its
//! WIT type and its conversion to and from a value); with the wasmtime
//! backend in the build, derive wasmtime's `ComponentType`, `Lift` and
//! `Lower` for it too (`#[component(record)]`). Such types go through
//! values on wasmi.
//!
//! How each backend runs a typed call:
//!
//! - wasmtime: its own typed call (`TypedFunc`), any of the types above.
//! - wasmi: wasmi's own typed call when every parameter and the result
//!   are scalars (their flat form, [`ComponentParams::Flat`], is a tuple
//!   of core values); Rust values lowered and lifted directly, with no
//!   [`Value`](crate::Value)s, when they are scalars, strings and byte
//!   lists ([`ComponentParams::DIRECT`]); otherwise through values, as a
//!   dynamic call.
//!
//! Either way a typed call has the limits, audit events and errors of a
//! dynamic call.

pub use airssys_wasm_core::typed::{
    ComponentParams, ComponentResults, ComponentType, NotFlat, Payload, check_signature,
};

/// A parameter list typed calls take on the backends this build has: a
/// tuple of [`ComponentType`]s.
pub trait TypedParams: ComponentParams + backend::WasmtimeParams + backend::WasmiParams {}

impl<T: ComponentParams + backend::WasmtimeParams + backend::WasmiParams> TypedParams for T {}

/// A result typed calls return on the backends this build has: `()` or
/// `(T,)`.
pub trait TypedResults:
    ComponentResults + backend::WasmtimeResults + backend::WasmiResults
{
}

impl<T: ComponentResults + backend::WasmtimeResults + backend::WasmiResults> TypedResults for T {}

/// What each backend of this build asks of typed parameters and results;
/// a backend left out of the build asks nothing. Every tuple of the types
/// in the [table](self) meets them.
pub mod backend {
    #[cfg(feature = "wasmi")]
    use airssys_wasm_backend_wasmi::{FlatParams, FlatResults};
    #[cfg(feature = "wasmtime")]
    use airssys_wasm_backend_wasmtime::wasmtime::component::{ComponentNamedList, Lift, Lower};

    #[cfg(feature = "wasmi")]
    use super::{ComponentParams, ComponentResults};

    /// Parameters wasmtime's typed call takes.
    #[cfg(feature = "wasmtime")]
    pub trait WasmtimeParams: ComponentNamedList + Lower + Send + Sync + 'static {}
    #[cfg(feature = "wasmtime")]
    impl<T: ComponentNamedList + Lower + Send + Sync + 'static> WasmtimeParams for T {}

    /// Results wasmtime's typed call returns.
    #[cfg(feature = "wasmtime")]
    pub trait WasmtimeResults: ComponentNamedList + Lift + Send + Sync + 'static {}
    #[cfg(feature = "wasmtime")]
    impl<T: ComponentNamedList + Lift + Send + Sync + 'static> WasmtimeResults for T {}

    /// Nothing: this build has no wasmtime backend.
    #[cfg(not(feature = "wasmtime"))]
    pub trait WasmtimeParams {}
    #[cfg(not(feature = "wasmtime"))]
    impl<T> WasmtimeParams for T {}

    /// Nothing: this build has no wasmtime backend.
    #[cfg(not(feature = "wasmtime"))]
    pub trait WasmtimeResults {}
    #[cfg(not(feature = "wasmtime"))]
    impl<T> WasmtimeResults for T {}

    /// Parameters whose flat form wasmi's typed call takes.
    #[cfg(feature = "wasmi")]
    pub trait WasmiParams: ComponentParams<Flat: FlatParams> {}
    #[cfg(feature = "wasmi")]
    impl<T: ComponentParams<Flat: FlatParams>> WasmiParams for T {}

    /// Results whose flat form wasmi's typed call returns.
    #[cfg(feature = "wasmi")]
    pub trait WasmiResults: ComponentResults<Flat: FlatResults> {}
    #[cfg(feature = "wasmi")]
    impl<T: ComponentResults<Flat: FlatResults>> WasmiResults for T {}

    /// Nothing: this build has no wasmi backend.
    #[cfg(not(feature = "wasmi"))]
    pub trait WasmiParams {}
    #[cfg(not(feature = "wasmi"))]
    impl<T> WasmiParams for T {}

    /// Nothing: this build has no wasmi backend.
    #[cfg(not(feature = "wasmi"))]
    pub trait WasmiResults {}
    #[cfg(not(feature = "wasmi"))]
    impl<T> WasmiResults for T {}
}
