//! Every WIT value type round-trips through a real component call
//! (guest `values`, built from guests/values by `cargo xtask guests`).

mod common;

use airssys_wasm::{LoadOptions, Value, ValueType};

fn echo(name: &str, v: Value) -> Value {
    let (rt, _) = common::runtime();
    let c = common::load(&rt, "values", LoadOptions::new());
    let mut i = c.instantiate().unwrap();
    let mut out = i
        .call(&format!("echo-{name}"), std::slice::from_ref(&v))
        .unwrap_or_else(|e| panic!("echo-{name}: {e}"));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn point(x: i32, y: i32, label: &str) -> Value {
    Value::record([
        ("x", Value::from(x)),
        ("y", Value::from(y)),
        ("label", Value::from(label)),
    ])
}

#[test]
fn scalars_round_trip() {
    common::each_backend(|_| {
        let cases = [
            ("bool", Value::from(true)),
            ("s8", Value::from(i8::MIN)),
            ("s16", Value::from(-12345i16)),
            ("s32", Value::from(i32::MIN)),
            ("s64", Value::from(i64::MAX)),
            ("u8", Value::from(u8::MAX)),
            ("u16", Value::from(65535u16)),
            ("u32", Value::from(u32::MAX)),
            ("u64", Value::from(u64::MAX)),
            ("f32", Value::from(-1.5f32)),
            ("f64", Value::from(std::f64::consts::PI)),
            ("char", Value::from('ß')),
            ("string", Value::from("héllo, wörld ✓")),
        ];
        for (name, v) in cases {
            assert_eq!(echo(name, v.clone()), v, "echo-{name}");
        }
    });
}

#[test]
fn compound_values_round_trip() {
    common::each_backend(|_| {
        let cases = [
            ("list", Value::from(vec![1u32, 2, 3, u32::MAX])),
            ("list", Value::List(vec![])),
            ("bytes", Value::from((0u8..=255).collect::<Vec<u8>>())),
            ("record", point(-3, 4, "p")),
            (
                "tuple",
                Value::Tuple(vec![
                    Value::from(7u8),
                    Value::from("seven"),
                    Value::from(7.5f64),
                ]),
            ),
            (
                "variant",
                Value::variant("circle", Some(Value::from(2.0f64))),
            ),
            (
                "variant",
                Value::variant("rect", Some(point(1, 2, "corner"))),
            ),
            ("variant", Value::variant("empty", None)),
            ("enum", Value::enum_case("green")),
            ("option", Value::from(Some("x"))),
            ("option", Value::Option(None)),
            ("result", Value::from(Ok::<u32, String>(9))),
            ("result", Value::from(Err::<u32, String>("bad".into()))),
            ("flags", Value::flags(["read", "exec"])),
            ("flags", Value::flags(Vec::<String>::new())),
            (
                "nested",
                Value::List(vec![
                    Value::from(Some(point(0, 0, "o"))),
                    Value::Option(None),
                ]),
            ),
        ];
        for (name, v) in cases {
            assert_eq!(echo(name, v.clone()), v, "echo-{name}");
        }
    });
}

#[test]
fn resources_are_handles_that_the_instance_keeps() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = common::load(&rt, "values", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let iface = "airssys:test/resources@0.1.0";
        let counter = i
            .call(
                &format!("{iface}#[constructor]counter"),
                &[Value::from(10u32)],
            )
            .unwrap()
            .remove(0);
        let Value::Resource(handle) = &counter else {
            panic!("constructor returned {counter:?}");
        };
        assert_eq!(&*handle.ty.name, "counter");
        assert!(handle.ty.owned);
        let after = i
            .call(
                &format!("{iface}#[method]counter.increment"),
                &[counter.clone(), Value::from(5u32)],
            )
            .unwrap();
        assert_eq!(after, vec![Value::from(15u32)]);
        // Passing the owned handle moves it into the guest...
        let done = i
            .call(&format!("{iface}#finish"), std::slice::from_ref(&counter))
            .unwrap();
        assert_eq!(done, vec![Value::from(15u32)]);
        // ...so using it again is refused with a clear error, not a crash.
        let err = i
            .call(&format!("{iface}#[method]counter.get"), &[counter])
            .unwrap_err();
        assert!(err.to_string().contains("already moved"), "{err}");
    });
}

#[test]
fn wrong_argument_types_are_refused_before_the_call() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let c = common::load(&rt, "values", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let err = i.call("echo-u8", &[Value::from("nope")]).unwrap_err();
        assert_eq!(err.class(), airssys_wasm::ErrorClass::BadCall);
        assert_eq!(
            err.to_string(),
            "bad arguments for `echo-u8`: argument `v`: expected u8, found string"
        );
        let err = i.call("echo-u8", &[]).unwrap_err();
        assert!(err.to_string().contains("expected 1 argument(s)"), "{err}");
        let err = i.call("no-such-thing", &[]).unwrap_err();
        assert!(err.to_string().contains("echo-u8"), "lists exports: {err}");
        // The instance is still usable after refused calls.
        assert_eq!(
            i.call("echo-u8", &[Value::from(3u8)]).unwrap(),
            vec![Value::from(3u8)]
        );
        assert!(common::event_names(&audit).contains(&"trapped"));
    });
}

#[test]
fn wave_text_round_trips_through_the_component_types() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = common::load(&rt, "values", LoadOptions::new());
        let info = c.info();
        let mut i = c.instantiate().unwrap();
        let cases = [
            ("echo-record", r#"{x: -1, y: 2, label: "a"}"#),
            ("echo-variant", "rect({x: 0, y: 0, label: \"r\"})"),
            ("echo-flags", "{read, write}"),
            ("echo-result", r#"err("no")"#),
            ("echo-nested", r#"[some({x: 1, y: 1, label: "z"}), none]"#),
            ("echo-tuple", r#"(1, "one", 1.5)"#),
        ];
        for (func, text) in cases {
            let ty = info.export_function(func).unwrap();
            let v = Value::parse_wave(&ty.params[0].1, text).unwrap();
            let out = i.call(func, &[v]).unwrap();
            assert_eq!(out[0].to_wave().unwrap(), text, "{func}");
            assert!(matches!(
                ty.result,
                Some(
                    ValueType::Record(_)
                        | ValueType::Variant(_)
                        | ValueType::Flags(_)
                        | ValueType::Result { .. }
                        | ValueType::List(_)
                        | ValueType::Tuple(_)
                )
            ));
        }
    });
}

#[test]
fn typed_fast_path_agrees_with_dynamic_calls() {
    let (rt, audit) = common::runtime();
    let c = common::load(&rt, "values", LoadOptions::new());
    let mut i = c.instantiate().unwrap();
    let add = i.typed::<(u32, u32), (u32,)>("add").unwrap();
    assert_eq!(i.call_typed(&add, (40, 2)).unwrap(), (42,));
    assert_eq!(
        i.call("add", &[Value::from(40u32), Value::from(2u32)])
            .unwrap(),
        vec![Value::from(42u32)]
    );
    let names = common::event_names(&audit);
    assert_eq!(names.iter().filter(|n| **n == "returned").count(), 2);
    let err = i.typed::<(String,), (u32,)>("add").map(|_| ()).unwrap_err();
    assert_eq!(err.class(), airssys_wasm::ErrorClass::BadCall);
}
