//! The value model: conversions and WAVE text, without any engine.

use airssys_wasm_core::{ConversionError, Value, ValueType};

fn all_types() -> Vec<(ValueType, &'static str)> {
    let point = ValueType::record([("x", ValueType::S32), ("label", ValueType::String)]);
    vec![
        (ValueType::Bool, "true"),
        (ValueType::S8, "-128"),
        (ValueType::S16, "-32768"),
        (ValueType::S32, "-7"),
        (ValueType::S64, "-9223372036854775808"),
        (ValueType::U8, "255"),
        (ValueType::U16, "65535"),
        (ValueType::U32, "4294967295"),
        (ValueType::U64, "18446744073709551615"),
        (ValueType::F32, "1.5"),
        (ValueType::F64, "-0.25"),
        (ValueType::F64, "nan"),
        (ValueType::F32, "inf"),
        (ValueType::Char, "'☃'"),
        (ValueType::String, r#""tab\there \"quoted\"""#),
        (ValueType::list(ValueType::U8), "[1, 2, 3]"),
        (ValueType::list(ValueType::String), "[]"),
        (point.clone(), r#"{x: 1, label: "p"}"#),
        (
            ValueType::tuple([ValueType::U8, ValueType::Bool]),
            "(1, false)",
        ),
        (
            ValueType::variant([("none", None), ("some-point", Some(point.clone()))]),
            r#"some-point({x: -1, label: ""})"#,
        ),
        (ValueType::enumeration(["red", "green"]), "green"),
        (ValueType::option(ValueType::U32), "some(5)"),
        (ValueType::option(ValueType::U32), "none"),
        (
            ValueType::result(Some(ValueType::U32), Some(ValueType::String)),
            r#"err("x")"#,
        ),
        (ValueType::result(None, None), "ok"),
        (ValueType::flags(["read", "write", "exec"]), "{read, exec}"),
        (ValueType::flags(["read"]), "{}"),
    ]
}

#[test]
fn wave_parses_and_prints_every_type() {
    for (ty, text) in all_types() {
        let v = Value::parse_wave(&ty, text).unwrap_or_else(|e| panic!("{ty}: {text}: {e}"));
        v.check_type(&ty).unwrap_or_else(|e| panic!("{ty}: {e}"));
        let printed = v.to_wave().unwrap();
        assert_eq!(printed, text, "{ty}");
        assert_eq!(
            Value::parse_wave(&ty, &printed).unwrap().to_wave().unwrap(),
            printed
        );
    }
}

#[test]
fn wave_errors_name_the_problem() {
    let err = Value::parse_wave(&ValueType::U8, "256").unwrap_err();
    assert!(err.to_string().contains("256"), "{err}");
    let ty = ValueType::record([("x", ValueType::S32)]);
    let err = Value::parse_wave(&ty, "{y: 1}").unwrap_err();
    assert!(err.to_string().contains('y'), "{err}");
    let err = Value::parse_wave(&ValueType::enumeration(["a"]), "b").unwrap_err();
    assert!(err.to_string().contains('b'), "{err}");
}

#[test]
fn rust_conversions_round_trip() {
    assert_eq!(u32::try_from(Value::from(7u32)), Ok(7));
    assert_eq!(String::try_from(Value::from("s")), Ok("s".to_owned()));
    assert_eq!(
        Vec::<u8>::try_from(Value::from(vec![1u8, 2])),
        Ok(vec![1, 2])
    );
    assert_eq!(
        Option::<i64>::try_from(Value::from(Some(-1i64))),
        Ok(Some(-1))
    );
    assert_eq!(
        Result::<u32, String>::try_from(Value::from(Err::<u32, String>("e".into()))),
        Ok(Err("e".to_owned()))
    );
    let err: ConversionError = u8::try_from(Value::from("x")).unwrap_err();
    assert_eq!(err.to_string(), "cannot convert a WIT string value into u8");
}

#[test]
fn type_checks_point_at_the_mismatch() {
    let ty = ValueType::list(ValueType::record([("x", ValueType::U8)]));
    let v = Value::List(vec![
        Value::record([("x", Value::from(1u8))]),
        Value::record([("x", Value::from(1u16))]),
    ]);
    assert_eq!(
        v.check_type(&ty).unwrap_err(),
        "[1]: .x: expected u8, found u16"
    );
    let e = ValueType::enumeration(["a", "b"]);
    assert_eq!(
        Value::enum_case("c").check_type(&e).unwrap_err(),
        "`c` is not a case of enum { a, b }"
    );
}

#[test]
fn resource_handles_have_no_wave_form() {
    let v = Value::Resource(airssys_wasm_core::ResourceHandle {
        index: 0,
        ty: airssys_wasm_core::ResourceType {
            name: "counter".into(),
            owned: true,
        },
    });
    let err = Value::List(vec![v]).to_wave().unwrap_err();
    assert!(
        err.to_string().contains("resource handles have no WAVE"),
        "{err}"
    );
}

#[test]
fn types_print_as_wit() {
    let ty = ValueType::result(Some(ValueType::list(ValueType::U8)), None);
    assert_eq!(ty.to_string(), "result<list<u8>>");
    let ty = ValueType::tuple([ValueType::option(ValueType::Char), ValueType::String]);
    assert_eq!(ty.to_string(), "tuple<option<char>, string>");
}

/// A component the validator accepts but the WIT decoder was not written
/// for (plain functions imported under interface names, from the
/// Component Model's `validation/extern-names.wast`) never panics: the
/// decoder's panic is contained and the component is described as the
/// validator typed it.
#[test]
fn a_component_that_breaks_the_wit_decoder_is_described_not_a_panic() {
    use airssys_wasm_core::ItemKind;
    let bytes = wat::parse_str(
        r#"(component
            (import "wasi:http/types" (func))
            (import "wasi:http/types@1.0.0" (func))
            (import "a:b/c@0.0.0+abcd" (func (param "x" u32) (result string)))
        )"#,
    )
    .unwrap();
    let info = airssys_wasm_core::ComponentInfo::parse(&bytes).unwrap();
    let imports: Vec<(String, String)> = info
        .imports()
        .iter()
        .map(|i| match &i.kind {
            ItemKind::Function(ty) => (i.name.clone(), ty.to_string()),
            other => panic!("{}: {other:?}", i.name),
        })
        .collect();
    assert_eq!(
        imports,
        [
            ("wasi:http/types".to_owned(), "func()".to_owned()),
            ("wasi:http/types@1.0.0".to_owned(), "func()".to_owned()),
            (
                "a:b/c@0.0.0+abcd".to_owned(),
                "func(x: u32) -> string".to_owned()
            ),
        ]
    );
    assert!(
        info.wit().contains("not shaped like a WIT world"),
        "{}",
        info.wit()
    );
}

/// A component exporting a plain type at the top level (not WIT-shaped:
/// the decoder refuses it) is described: its function export has its
/// type, the type export is a type, a nested core module import is named.
#[test]
fn a_component_that_is_not_wit_shaped_is_described_structurally() {
    use airssys_wasm_core::ItemKind;
    let bytes = wat::parse_str(
        r#"(component
            (import "m" (core module))
            (type $r (record (field "a" u8) (field "b" string)))
            (export $rt "rec-t" (type $r))
            (core module $m
                (memory (export "memory") 1)
                (func (export "f") (param i32) (result i32) local.get 0))
            (core instance $i (instantiate $m))
            (func $f (param "x" u32) (result u32) (canon lift (core func $i "f")))
            (export "f" (func $f))
            (instance $inst (export "g" (func $f)))
            (export "i" (instance $inst))
        )"#,
    )
    .unwrap();
    let info = airssys_wasm_core::ComponentInfo::parse(&bytes).unwrap();
    assert!(matches!(
        info.imports()[0].kind,
        ItemKind::Other("core module")
    ));
    let kinds: Vec<String> = info
        .exports()
        .iter()
        .map(|e| format!("{}={:?}", e.name, std::mem::discriminant(&e.kind)))
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(matches!(info.exports()[0].kind, ItemKind::Type));
    assert_eq!(
        info.export_function("f").unwrap().to_string(),
        "func(x: u32) -> u32"
    );
    assert_eq!(
        info.export_function("i#g").unwrap().to_string(),
        "func(x: u32) -> u32"
    );
    assert_eq!(info.export_names(), "f, i#g");
}
