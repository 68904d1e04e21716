//! Typed calls: each backend's fast path, or values.

use std::sync::Arc;

use airssys_wasm_core::{Error, FuncRef, Result, Usage};

use super::instance::Instance;
use crate::typed::{TypedParams, TypedResults};

impl Instance {
    /// Resolves an export for typed calls: its parameters and result as
    /// Rust tuples, on every backend (the types are in
    /// [`crate::typed`]). `P` and `R` are checked against the export's WIT
    /// type here, once; a mismatch is [`Error::InvalidArguments`] showing
    /// both signatures.
    ///
    /// ```
    /// # use airssys_wasm::{LoadOptions, Runtime};
    /// # fn main() -> airssys_wasm::Result<()> {
    /// # let bytes = wat::parse_str(r#"(component
    /// #   (core module $m (func (export "add") (param i32 i32) (result i32)
    /// #     local.get 0 local.get 1 i32.add))
    /// #   (core instance $i (instantiate $m))
    /// #   (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    /// #     (canon lift (core func $i "add"))))"#).unwrap();
    /// let runtime = Runtime::new()?;
    /// let mut instance = runtime.load(bytes, LoadOptions::new())?.instantiate()?;
    /// let add = instance.typed::<(u32, u32), (u32,)>("add")?;
    /// assert_eq!(instance.call_typed(&add, (40, 2))?, (42,));
    /// assert!(instance.typed::<(String,), (u32,)>("add").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn typed<P: TypedParams, R: TypedResults>(
        &mut self,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        let f = self.backend.func(name)?;
        crate::typed::check_signature::<P, R>(f.name(), f.ty())?;
        let inner = self.typed_inner::<P, R>(&f)?;
        Ok(TypedFunc {
            instance: self.id,
            generation: self.generation,
            name: f.name().clone(),
            inner,
        })
    }

    /// The backend's typed call of `f`, or the path through values.
    fn typed_inner<P: TypedParams, R: TypedResults>(
        &mut self,
        f: &FuncRef,
    ) -> Result<TypedInner<P, R>> {
        let any = self.backend.as_any_mut();
        #[cfg(feature = "wasmtime")]
        if let Some(w) = any.downcast_mut::<airssys_wasm_backend_wasmtime::WasmtimeInstance>() {
            return Ok(TypedInner::Wasmtime(w.typed::<P, R>(f.name())?));
        }
        #[cfg(feature = "wasmi")]
        if let Some(w) = any.downcast_mut::<airssys_wasm_backend_wasmi::WasmiInstance>() {
            if let Some(flat) = w.flat_call::<P, R>(f.name())? {
                return Ok(TypedInner::Wasmi(flat));
            }
            if let Some(direct) = w.direct_call::<P, R>(f.name())? {
                return Ok(TypedInner::WasmiDirect(direct));
            }
        }
        let _ = any;
        Ok(TypedInner::Dynamic(f.clone()))
    }

    /// Calls through a typed export, with the limits, audit events and
    /// errors of [`Instance::call_func`].
    pub fn call_typed<P: TypedParams, R: TypedResults>(
        &mut self,
        func: &TypedFunc<P, R>,
        params: P,
    ) -> Result<R> {
        if func.instance != self.id {
            return Err(Error::InvalidArguments {
                function: func.name.to_string(),
                detail: format!("this TypedFunc belongs to instance {}", func.instance),
            });
        }
        if func.generation != self.generation {
            return Err(Error::InvalidArguments {
                function: func.name.to_string(),
                detail:
                    "the instance was renewed after a failed host call: get the TypedFunc again"
                        .into(),
            });
        }
        let called = self.audit_called(&func.name)?;
        let start = called.map(|(start, _)| start);
        let result = match &func.inner {
            #[cfg(feature = "wasmtime")]
            TypedInner::Wasmtime(inner) => self
                .backend_of::<airssys_wasm_backend_wasmtime::WasmtimeInstance>()
                .call_typed(inner, params, start),
            #[cfg(feature = "wasmi")]
            TypedInner::Wasmi(inner) => self
                .backend_of::<airssys_wasm_backend_wasmi::WasmiInstance>()
                .call_flat::<P, R>(inner, params, start),
            #[cfg(feature = "wasmi")]
            TypedInner::WasmiDirect(inner) => self
                .backend_of::<airssys_wasm_backend_wasmi::WasmiInstance>()
                .call_direct::<P, R>(inner, &params)
                .map(|(r, usage)| (r, Some(usage))),
            TypedInner::Dynamic(f) => self.call_through_values(f, params),
        };
        match result {
            Ok((r, usage)) => {
                self.audit_outcome(called, &func.name, Ok(usage))?;
                Ok(r)
            }
            Err(e) => {
                self.audit_outcome(called, &func.name, Err(&e))?;
                self.renew_after_host_failure(&e)?;
                Err(e)
            }
        }
    }

    /// The backend instance behind a typed handle of this generation,
    /// which was made on a `B`.
    #[cfg(any(feature = "wasmtime", feature = "wasmi"))]
    fn backend_of<B: 'static>(&mut self) -> &mut B {
        self.backend
            .as_any_mut()
            .downcast_mut()
            .expect("a typed handle of this generation was made on this backend")
    }

    /// A typed call of a signature the backend has no typed path for.
    fn call_through_values<P: TypedParams, R: TypedResults>(
        &mut self,
        f: &FuncRef,
        params: P,
    ) -> Result<(R, Option<Usage>)> {
        let (mut out, usage) = self.backend.call(f, &params.into_values())?;
        let value = out.pop();
        if !out.is_empty() {
            return Err(Error::Trap {
                function: f.name().to_string(),
                message: format!("the export returned {} results", out.len() + 1),
            });
        }
        R::from_result(value)
            .map(|r| (r, Some(usage)))
            .map_err(|m| Error::Trap {
                function: f.name().to_string(),
                message: format!("the result does not convert to its Rust type: {m}"),
            })
    }
}

/// An export resolved for typed calls ([`Instance::typed`]).
pub struct TypedFunc<P: TypedParams, R: TypedResults> {
    instance: u64,
    generation: u64,
    /// The export's name for audit records, made once.
    name: Arc<str>,
    inner: TypedInner<P, R>,
}

impl<P: TypedParams, R: TypedResults> TypedFunc<P, R> {
    /// The export's call name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// How the backend runs a typed call.
enum TypedInner<P: TypedParams, R: TypedResults> {
    /// wasmtime's typed call.
    #[cfg(feature = "wasmtime")]
    Wasmtime(airssys_wasm_backend_wasmtime::TypedCall<P, R>),
    /// wasmi's typed call of the flat form.
    #[cfg(feature = "wasmi")]
    Wasmi(airssys_wasm_backend_wasmi::FlatCall<P::Flat, R::Flat>),
    /// Rust values lowered and lifted directly on wasmi (strings, bytes).
    #[cfg(feature = "wasmi")]
    WasmiDirect(airssys_wasm_backend_wasmi::DirectCall),
    /// Through values.
    Dynamic(FuncRef),
}
