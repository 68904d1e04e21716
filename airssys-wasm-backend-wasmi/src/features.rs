//! The WebAssembly features the wasmi backend accepts: those of the wasmi
//! engine it builds (wasmi's defaults for the crate features it is built
//! with: `std`, `validate`; neither `simd` nor `memory64`), plus the
//! component model. The component translator and
//! [`airssys_wasm_core::ComponentInfo::parse_for_compile`] validate with
//! them, so a component is refused at validation, naming the proposal,
//! exactly when wasmi would refuse one of its core modules.

use wasmparser::WasmFeatures as F;

/// The features; a test holds them to what the engine compiles.
pub(crate) fn features() -> F {
    F::MUTABLE_GLOBAL
        | F::SATURATING_FLOAT_TO_INT
        | F::SIGN_EXTENSION
        | F::MULTI_VALUE
        | F::BULK_MEMORY
        | F::REFERENCE_TYPES
        // wasmi enables it with reference types: `externref` needs it.
        | F::GC_TYPES
        | F::TAIL_CALL
        | F::EXTENDED_CONST
        | F::MULTI_MEMORY
        | F::FLOATS
        | F::COMPONENT_MODEL
}

#[cfg(test)]
mod tests {
    /// For each proposal, the engine compiles a module using it exactly
    /// when the validator with [`super::features`] accepts it.
    #[test]
    fn the_features_are_the_engines() {
        let engine = wasmi::Engine::default();
        let probes = [
            (
                "sign extension",
                "(func (param i32) (result i32) local.get 0 i32.extend8_s)",
                true,
            ),
            (
                "bulk memory",
                "(memory 1) (func i32.const 0 i32.const 0 i32.const 0 memory.copy)",
                true,
            ),
            (
                "multi-value",
                "(func (result i32 i32) i32.const 1 i32.const 2)",
                true,
            ),
            (
                "reference types",
                "(table 1 funcref) (table 1 funcref)",
                true,
            ),
            ("externref", "(table 1 externref)", true),
            ("tail calls", "(func $f return_call $f)", true),
            (
                "extended constants",
                "(global i32 (i32.add (i32.const 1) (i32.const 2)))",
                true,
            ),
            ("multi-memory", "(memory 1) (memory 1)", true),
            ("simd", "(func (result v128) v128.const i64x2 0 0)", false),
            ("memory64", "(memory i64 1)", false),
            ("custom page sizes", "(memory 1 (pagesize 1))", false),
            (
                "wide arithmetic",
                "(func (param i64 i64 i64 i64) (result i64 i64) \
                 local.get 0 local.get 1 local.get 2 local.get 3 i64.add128)",
                false,
            ),
            ("threads", "(memory 1 1 shared)", false),
            ("exceptions", "(tag)", false),
            ("GC", "(type (struct))", false),
            (
                "function references",
                "(type $t (func)) (func (param (ref $t)))",
                false,
            ),
        ];
        for (proposal, module, accepted) in probes {
            let bytes = wat::parse_str(format!("(module {module})")).unwrap();
            let engine_ok = wasmi::Module::new(&engine, &bytes[..]).is_ok();
            let ours = wasmparser::Validator::new_with_features(super::features())
                .validate_all(&bytes)
                .is_ok();
            assert_eq!(engine_ok, accepted, "wasmi on {proposal}");
            assert_eq!(ours, engine_ok, "the feature set and wasmi on {proposal}");
        }
    }
}
