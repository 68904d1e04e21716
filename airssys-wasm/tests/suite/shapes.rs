//! Components the engine accepts but that are not shaped like a WIT world
//! load, describe and run on every backend (the Component Model's
//! reference tests have many: a type exported at the top level, plain
//! functions under interface names). Before, `load` refused them with
//! "cannot read its WIT", or panicked in the decoder.

use crate::common;

use airssys_wasm::{Error, LoadOptions, Value};

/// A record type exported at the top level beside a function and an
/// instance (reference tests: `values/` and `resources/` export types this
/// way, e.g. `(export "rec-t" (type $r))`).
const TYPE_EXPORT: &str = r#"(component
    (type $r (record (field "a" u8) (field "b" string)))
    (export $rt "rec-t" (type $r))
    (core module $m
        (memory (export "memory") 1)
        (func (export "double") (param i32) (result i32)
            local.get 0
            i32.const 2
            i32.mul))
    (core instance $i (instantiate $m))
    (func $double (param "x" u32) (result u32) (canon lift (core func $i "double")))
    (export "double" (func $double))
    (instance $inst (export "twice" (func $double)))
    (export "math" (instance $inst))
)"#;

#[test]
fn a_component_exporting_a_plain_type_loads_and_runs() {
    let bytes = wat::parse_str(TYPE_EXPORT).unwrap();
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = rt
            .load(bytes.clone(), LoadOptions::new().name("shapes"))
            .unwrap();
        assert_eq!(c.info().export_names(), "double, math#twice");
        let mut i = c.instantiate().unwrap();
        assert_eq!(
            i.call("double", &[Value::U32(21)]).unwrap(),
            [Value::U32(42)]
        );
        assert_eq!(
            i.call("math#twice", &[Value::U32(5)]).unwrap(),
            [Value::U32(10)]
        );
    });
}

/// Plain functions imported under interface names
/// (`validation/extern-names.wast`) panicked in wit-parser's decoder
/// inside `load`. Now the component is described; nothing provides the
/// imports, so the load is refused naming the first one.
#[test]
fn plain_functions_under_interface_names_are_refused_as_missing_not_a_panic() {
    let bytes = wat::parse_str(
        r#"(component
            (import "wasi:http/types" (func))
            (import "a:b/c@0.0.0+abcd" (func))
        )"#,
    )
    .unwrap();
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let outcome = rt
            .load(bytes.clone(), LoadOptions::new().name("names"))
            .and_then(|c| c.instantiate().map(|_| ()));
        match outcome {
            Err(Error::MissingImport { name, .. }) => assert_eq!(name, "wasi:http/types"),
            other => panic!("{other:?}"),
        }
    });
}

/// A component importing a core module (`validation/core-modules.wast`
/// line 7) is refused at load on both backends, in the same words: the
/// host provides no modules. The wasmi backend loaded it before.
#[test]
fn a_core_module_import_is_refused_at_load_in_the_same_words() {
    let bytes = wat::parse_str(
        r#"(component
            (core type $MT (module (export "f" (func))))
            (import "m" (core module (type $MT)))
        )"#,
    )
    .unwrap();
    let mut texts = Vec::new();
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        match rt.load(bytes.clone(), LoadOptions::new().name("modules")) {
            Err(e @ Error::MissingImport { .. }) => {
                let Error::MissingImport { name, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(name, "m");
                texts.push(e.to_string());
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("loaded"),
        }
    });
    texts.dedup();
    assert_eq!(texts.len(), 1, "{texts:?}");
}
