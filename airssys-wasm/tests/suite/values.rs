//! Every WIT value type round-trips through a real component call
//! (guest `values`, built from guests/values by `cargo xtask guests`).

use crate::common;

use airssys_wasm::{LoadOptions, Value, ValueType};

/// A runtime on the backend under test, auditing into memory, and an
/// instance of the `values` guest.
fn values_instance() -> (
    airssys_wasm::Runtime,
    std::sync::Arc<airssys_wasm::MemorySink>,
    airssys_wasm::Instance,
) {
    let (rt, audit) = common::runtime();
    let c = common::load(&rt, "values", LoadOptions::new());
    let i = c.instantiate().unwrap();
    (rt, audit, i)
}

fn echo(name: &str, v: Value) -> Value {
    let (_rt, _, mut i) = values_instance();
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
        let (_rt, _, mut i) = values_instance();
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
        let (_rt, audit, mut i) = values_instance();
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

/// Calls `echo-{name}` typed with `v` and dynamically with its value;
/// both must give `v` back.
fn echo_typed<T>(i: &mut airssys_wasm::Instance, name: &str, v: T)
where
    T: airssys_wasm::typed::ComponentType + Clone + PartialEq + std::fmt::Debug,
    (T,): airssys_wasm::TypedParams + airssys_wasm::TypedResults,
{
    let export = format!("echo-{name}");
    let f = i
        .typed::<(T,), (T,)>(&export)
        .unwrap_or_else(|e| panic!("{export}: {e}"));
    assert_eq!(
        i.call_typed(&f, (v.clone(),)).unwrap(),
        (v.clone(),),
        "{export}"
    );
    let value = airssys_wasm::typed::ComponentType::into_value(v);
    assert_eq!(
        i.call(&export, std::slice::from_ref(&value)).unwrap(),
        vec![value]
    );
}

#[test]
fn typed_calls_agree_with_dynamic_calls_on_every_backend() {
    common::each_backend(|_| {
        let (_rt, audit, mut i) = values_instance();
        let add = i.typed::<(u32, u32), (u32,)>("add").unwrap();
        assert_eq!(add.name(), "add");
        assert_eq!(i.call_typed(&add, (40, 2)).unwrap(), (42,));
        assert_eq!(i.call_typed(&add, (u32::MAX, 2)).unwrap(), (1,));
        echo_typed(&mut i, "bool", true);
        echo_typed(&mut i, "s8", i8::MIN);
        echo_typed(&mut i, "s16", -12345i16);
        echo_typed(&mut i, "s32", i32::MIN);
        echo_typed(&mut i, "s64", i64::MIN);
        echo_typed(&mut i, "u8", u8::MAX);
        echo_typed(&mut i, "u16", u16::MAX);
        echo_typed(&mut i, "u32", u32::MAX);
        echo_typed(&mut i, "u64", u64::MAX);
        echo_typed(&mut i, "f32", -1.5f32);
        echo_typed(&mut i, "f64", std::f64::consts::PI);
        echo_typed(&mut i, "char", 'ß');
        echo_typed(&mut i, "string", "héllo ✓".to_owned());
        echo_typed(&mut i, "list", vec![1u32, 2, u32::MAX]);
        echo_typed(&mut i, "bytes", (0u8..=255).collect::<Vec<u8>>());
        echo_typed(&mut i, "tuple", (7u8, "seven".to_owned(), 7.5f64));
        echo_typed(&mut i, "option", Some("x".to_owned()));
        echo_typed(&mut i, "option", None::<String>);
        echo_typed(&mut i, "result", Ok::<u32, String>(3));
        echo_typed(&mut i, "result", Err::<u32, String>("no".into()));
        // Typed calls are audited like dynamic ones: the two `add` calls
        // and one typed and one dynamic call per echo.
        let names = common::event_names(&audit);
        assert_eq!(
            names.iter().filter(|n| **n == "returned").count(),
            2 + 2 * 20
        );
    });
}

#[test]
fn typed_calls_with_the_wrong_rust_types_are_refused_at_resolution() {
    common::each_backend(|_| {
        let (_rt, _, mut i) = values_instance();
        let err = i.typed::<(String,), (u32,)>("add").map(|_| ()).unwrap_err();
        assert_eq!(err.class(), airssys_wasm::ErrorClass::BadCall);
        assert_eq!(
            err.to_string(),
            "bad arguments for `add`: the Rust types give `func(string) -> u32`, but the \
             export's WIT type is `func(a: u32, b: u32) -> u32`; use the Rust types of the \
             table in airssys_wasm::typed"
        );
        // Wrong result, wrong arity, and a record (no Rust type) are refused too.
        assert!(i.typed::<(u32, u32), (u64,)>("add").is_err());
        assert!(i.typed::<(u32, u32), ()>("add").is_err());
        assert!(i.typed::<(u32,), (u32,)>("add").is_err());
        assert!(i.typed::<(String,), (String,)>("echo-record").is_err());
        let err = i.typed::<(), ()>("no-such-thing").map(|_| ()).unwrap_err();
        assert!(
            matches!(err, airssys_wasm::Error::NoSuchExport { .. }),
            "{err}"
        );
        // Nothing was called: the instance still answers.
        let add = i.typed::<(u32, u32), (u32,)>("add").unwrap();
        assert_eq!(i.call_typed(&add, (1, 2)).unwrap(), (3,));
    });
}

#[test]
fn a_typed_handle_belongs_to_its_instance() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = common::load(&rt, "values", LoadOptions::new());
        let mut a = c.instantiate().unwrap();
        let mut b = c.instantiate().unwrap();
        let add = a.typed::<(u32, u32), (u32,)>("add").unwrap();
        let err = b.call_typed(&add, (1, 2)).unwrap_err();
        assert_eq!(err.class(), airssys_wasm::ErrorClass::BadCall);
        assert!(err.to_string().contains("belongs to instance"), "{err}");
        assert_eq!(a.call_typed(&add, (1, 2)).unwrap(), (3,));
    });
}

/// The guest's `point` record as an application's own Rust type: it
/// implements airssys-wasm's `ComponentType` (through values, on every
/// backend) and, for wasmtime's typed call, wasmtime's derives.
#[cfg(feature = "wasmtime")]
mod own_record {
    use airssys_wasm::typed::{ComponentType, NotFlat};
    use airssys_wasm::wasmtime_backend::wasmtime;
    use airssys_wasm::{Value, ValueType};

    #[derive(
        Clone,
        Debug,
        PartialEq,
        wasmtime::component::ComponentType,
        wasmtime::component::Lift,
        wasmtime::component::Lower,
    )]
    #[component(record)]
    #[component(wasmtime_crate = airssys_wasm::wasmtime_backend::wasmtime)]
    pub struct Point {
        pub x: i32,
        pub y: i32,
        pub label: String,
    }

    impl ComponentType for Point {
        type Flat = NotFlat;

        fn ty() -> ValueType {
            ValueType::record([
                ("x", ValueType::S32),
                ("y", ValueType::S32),
                ("label", ValueType::String),
            ])
        }

        fn into_value(self) -> Value {
            super::point(self.x, self.y, &self.label)
        }

        fn from_value(value: Value) -> Result<Self, String> {
            let Value::Record(fields) = value else {
                return Err(format!("expected a point, got a {}", value.kind_name()));
            };
            match <[(String, Value); 3]>::try_from(fields) {
                Ok(
                    [
                        (_, Value::S32(x)),
                        (_, Value::S32(y)),
                        (_, Value::String(label)),
                    ],
                ) => Ok(Point { x, y, label }),
                _ => Err("expected a point's three fields".into()),
            }
        }

        fn into_flat(self) -> NotFlat {
            NotFlat
        }

        fn from_flat(_: NotFlat) -> Result<Self, String> {
            Err("a record has no flat form".into())
        }
    }
}

#[cfg(feature = "wasmtime")]
#[test]
fn an_application_record_type_can_be_typed_on_every_backend() {
    use own_record::Point;
    common::each_backend(|kind| {
        let (_rt, _, mut i) = values_instance();
        let p = Point {
            x: -3,
            y: 4,
            label: "p".into(),
        };
        let echo = i.typed::<(Point,), (Point,)>("echo-record").unwrap();
        assert_eq!(
            i.call_typed(&echo, (p.clone(),)).unwrap(),
            (p,),
            "on {kind}"
        );
    });
}
