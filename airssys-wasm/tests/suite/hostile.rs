//! Hostile guests: each attack fails its own call with the right typed
//! error and audit event, and the host keeps serving (guest `hostile`).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use airssys_wasm::{
    AuditKind, Error, ErrorClass, LimitKind, Limits, LoadOptions, MIB, MemorySink, Runtime, Value,
};

/// After an attack: the host still instantiates and runs the hostile
/// component and an unrelated one in the same runtime.
fn assert_host_alive(rt: &Runtime) {
    let c = common::load(rt, "hostile", LoadOptions::new());
    let mut fresh = c.instantiate().unwrap();
    assert_eq!(fresh.call("ok", &[]).unwrap(), vec![Value::from(42u32)]);
    let other = common::load(rt, "values", LoadOptions::new());
    let mut other = other.instantiate().unwrap();
    assert_eq!(
        other
            .call("echo-string", &[Value::from("still here")])
            .unwrap(),
        vec![Value::from("still here")]
    );
}

fn limit_events(audit: &MemorySink) -> Vec<(String, LimitKind)> {
    audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::LimitHit {
                function, limit, ..
            } => Some((function.to_string(), limit)),
            _ => None,
        })
        .collect()
}

fn attack(
    limits: Limits,
    export: &str,
    args: &[Value],
) -> (Error, Runtime, std::sync::Arc<MemorySink>) {
    let (rt, audit) = common::runtime();
    let c = common::load(&rt, "hostile", LoadOptions::new().limits(limits));
    let mut i = c.instantiate().unwrap();
    let err = i.call(export, args).unwrap_err();
    // The instance that trapped refuses further calls instead of running on
    // in an unknown state.
    let again = i.call("ok", &[]).unwrap_err();
    assert!(matches!(again, Error::InstancePoisoned(_)), "{again}");
    (err, rt, audit)
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    common::each_backend(|_| {
        let (err, rt, audit) = attack(Limits::default().with_fuel(5_000_000), "spin", &[]);
        assert!(
            matches!(err, Error::OutOfFuel { ref function, limit: 5_000_000 } if function == "spin"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "out of fuel after 5000000 units in export `spin`"
        );
        assert_eq!(err.class(), ErrorClass::OutOfFuel);
        assert_eq!(limit_events(&audit), vec![("spin".into(), LimitKind::Fuel)]);
        assert_host_alive(&rt);
    });
}

/// A runtime auditing into memory, and component `bytes` loaded in it as
/// `bad`.
fn load_bad(bytes: &[u8]) -> (Runtime, std::sync::Arc<MemorySink>, airssys_wasm::Component) {
    let (rt, audit) = common::runtime();
    let c = rt.load(bytes, LoadOptions::new().name("bad")).unwrap();
    (rt, audit, c)
}

#[test]
fn typed_calls_hold_the_same_limits() {
    common::each_backend(|kind| {
        let (rt, audit) = common::runtime();
        let limits = Limits::default()
            .with_fuel(5_000_000)
            .with_timeout(Duration::from_secs(30));
        let c = common::load(&rt, "hostile", LoadOptions::new().limits(limits));
        let mut i = c.instantiate().unwrap();
        // Fuel is counted per call: a typed call that fits its budget
        // works as often as it is made.
        let ok = i.typed::<(), (u32,)>("ok").unwrap();
        for _ in 0..3 {
            assert_eq!(i.call_typed(&ok, ()).unwrap(), (42,));
        }
        let spin = i.typed::<(), (u32,)>("spin").unwrap();
        let err = i.call_typed(&spin, ()).unwrap_err();
        assert!(
            matches!(err, Error::OutOfFuel { ref function, limit: 5_000_000 } if function == "spin"),
            "on {kind}: {err:?}"
        );
        let again = i.call_typed(&ok, ()).unwrap_err();
        assert!(matches!(again, Error::InstancePoisoned(_)), "{again}");
        assert_eq!(limit_events(&audit), vec![("spin".into(), LimitKind::Fuel)]);
        // With a timeout, wasmi runs the call in fuel slices; a stack
        // overflow still ends it.
        let mut deep = c.instantiate().unwrap();
        let recurse = deep.typed::<(u64,), (u64,)>("recurse").unwrap();
        let err = deep.call_typed(&recurse, (1,)).unwrap_err();
        assert!(
            matches!(err, Error::StackOverflow { .. } | Error::OutOfFuel { .. }),
            "on {kind}: {err:?}"
        );
        assert_host_alive(&rt);
    });
}

#[test]
fn an_invalid_scalar_result_of_a_typed_call_is_a_trap() {
    // The core function returns 0xD800, a surrogate, where the export's
    // WIT type says `char`; its `bool` sibling returns 2, which lifts as
    // `true`.
    let bytes = common::component_of(
        "package test:bad; world bad { export bad-char: func() -> char; export two: func() -> bool; }",
        "bad",
        r#"(module
            (func (export "bad-char") (result i32) i32.const 0xD800)
            (func (export "two") (result i32) i32.const 2)
            (memory (export "memory") 1))"#,
    );
    common::each_backend(|kind| {
        let (rt, audit, c) = load_bad(&bytes);
        let mut i = c.instantiate().unwrap();
        let two = i.typed::<(), (bool,)>("two").unwrap();
        assert_eq!(i.call_typed(&two, ()).unwrap(), (true,));
        let bad = i.typed::<(), (char,)>("bad-char").unwrap();
        let err = i.call_typed(&bad, ()).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Trap, "on {kind}: {err}");
        assert!(
            matches!(&err, Error::Trap { function, .. } if function == "bad-char"),
            "on {kind}: {err:?}"
        );
        assert!(
            audit.events().into_iter().any(|e| matches!(
                &e.kind,
                AuditKind::Trapped { function, .. } if &**function == "bad-char"
            )),
            "on {kind}: the trap is audited"
        );
        assert_host_alive(&rt);
    });
}

#[test]
fn invalid_string_and_list_results_of_typed_calls_are_traps() {
    // A string result with bytes that are not UTF-8, and a byte list
    // pointing past the end of memory: the guest's result areas at 16 and
    // 32 say where they are.
    let bytes = common::component_of(
        "package test:bad; world bad { \
           export bad-utf8: func() -> string; \
           export out-of-bounds: func() -> list<u8>; \
           export fine: func() -> string; }",
        "bad",
        r#"(module
            (memory (export "memory") 1)
            (global $next (mut i32) (i32.const 1024))
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
              (local $p i32)
              global.get $next
              local.set $p
              global.get $next
              local.get 3
              i32.add
              global.set $next
              local.get $p)
            (data (i32.const 16) "\64\00\00\00\02\00\00\00")
            (data (i32.const 32) "\00\00\ff\ff\64\00\00\00")
            (data (i32.const 48) "\80\00\00\00\02\00\00\00")
            (data (i32.const 100) "\ff\fe")
            (data (i32.const 128) "ok")
            (func (export "bad-utf8") (result i32) i32.const 16)
            (func (export "out-of-bounds") (result i32) i32.const 32)
            (func (export "fine") (result i32) i32.const 48))"#,
    );
    common::each_backend(|kind| {
        let (rt, audit, c) = load_bad(&bytes);
        let mut i = c.instantiate().unwrap();
        let fine = i.typed::<(), (String,)>("fine").unwrap();
        assert_eq!(i.call_typed(&fine, ()).unwrap(), ("ok".to_owned(),));
        for export in ["bad-utf8", "out-of-bounds"] {
            let mut i = c.instantiate().unwrap();
            let err = if export == "bad-utf8" {
                let f = i.typed::<(), (String,)>(export).unwrap();
                i.call_typed(&f, ()).map(|_| ()).unwrap_err()
            } else {
                let f = i.typed::<(), (Vec<u8>,)>(export).unwrap();
                i.call_typed(&f, ()).map(|_| ()).unwrap_err()
            };
            assert_eq!(err.class(), ErrorClass::Trap, "{export} on {kind}: {err}");
            assert!(
                matches!(&err, Error::Trap { function, .. } if function == export),
                "{export} on {kind}: {err:?}"
            );
            let again = i.call_typed(&fine, ()).unwrap_err();
            assert!(matches!(again, Error::InvalidArguments { .. }), "{again}");
            let f = i.typed::<(), (String,)>("fine").unwrap();
            let again = i.call_typed(&f, ()).unwrap_err();
            assert!(matches!(again, Error::InstancePoisoned(_)), "{again}");
            assert!(
                audit.events().into_iter().any(|e| matches!(
                    &e.kind,
                    AuditKind::Trapped { function, .. } if &**function == export
                )),
                "{export} on {kind}: the trap is audited"
            );
        }
        assert_host_alive(&rt);
    });
}

#[test]
fn infinite_loop_hits_the_wall_clock_timeout() {
    common::each_backend(|_| {
        let timeout = Duration::from_millis(200);
        let (err, rt, audit) = attack(Limits::default().with_timeout(timeout), "spin", &[]);
        let Error::Timeout { elapsed, limit, .. } = &err else {
            panic!("expected a timeout, got {err:?}");
        };
        assert_eq!(*limit, timeout);
        assert!(
            *elapsed >= timeout,
            "stopped after {elapsed:?}, before the limit"
        );
        assert_eq!(
            limit_events(&audit),
            vec![("spin".into(), LimitKind::Timeout)]
        );
        assert_host_alive(&rt);
    });
}

#[test]
fn memory_grow_bomb_hits_the_memory_limit() {
    common::each_backend(|_| {
        let (err, rt, audit) = attack(
            Limits::default().with_memory_bytes(16 * MIB),
            "grow-memory",
            &[],
        );
        let Error::MemoryLimit {
            limit, requested, ..
        } = err
        else {
            panic!("expected a memory limit error, got {err:?}");
        };
        assert_eq!(limit, 16 * MIB);
        assert!(requested > limit);
        assert_eq!(
            limit_events(&audit),
            vec![("grow-memory".into(), LimitKind::Memory)]
        );
        assert_host_alive(&rt);
    });
}

#[test]
fn unbounded_recursion_overflows_the_stack() {
    common::each_backend(|_| {
        let (err, rt, audit) = attack(Limits::default(), "recurse", &[Value::from(0u64)]);
        assert!(matches!(err, Error::StackOverflow { .. }), "{err:?}");
        assert_eq!(err.class(), ErrorClass::StackOverflow);
        assert_eq!(
            limit_events(&audit),
            vec![("recurse".into(), LimitKind::Stack)]
        );
        assert_host_alive(&rt);
    });
}

#[test]
fn unreachable_is_a_trap_with_a_message() {
    common::each_backend(|_| {
        let (err, rt, audit) = attack(Limits::default(), "crash", &[]);
        let Error::Trap { function, message } = &err else {
            panic!("expected a trap, got {err:?}");
        };
        assert_eq!(function, "crash");
        assert!(message.contains("unreachable"), "{message}");
        let trapped = audit.events().into_iter().any(|e| {
            matches!(e.kind, AuditKind::Trapped { ref function, class: ErrorClass::Trap, .. } if &**function == "crash")
        });
        assert!(
            trapped,
            "no trapped event: {:?}",
            common::event_names(&audit)
        );
        assert_host_alive(&rt);
    });
}

#[test]
fn a_100_mib_string_return_hits_the_memory_limit() {
    common::each_backend(|_| {
        let (err, rt, audit) = attack(
            Limits::default().with_memory_bytes(64 * MIB),
            "huge-string",
            &[Value::from(100u32)],
        );
        assert!(
            matches!(err, Error::MemoryLimit { limit, .. } if limit == 64 * MIB),
            "{err:?}"
        );
        assert_eq!(
            limit_events(&audit),
            vec![("huge-string".into(), LimitKind::Memory)]
        );
        assert_host_alive(&rt);
    });
}

#[test]
fn a_small_string_return_within_the_limit_works() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = common::load(&rt, "hostile", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let out = i.call("huge-string", &[Value::from(1u32)]).unwrap();
        assert_eq!(out[0].as_str().map(str::len), Some(1024 * 1024));
    });
}

#[test]
fn an_invalid_function_body_is_refused_at_load_and_audited() {
    // Well-formed, but the body returns an i64 where its type says i32.
    // Loading leaves bodies to the backend's compilation, which must
    // refuse it.
    let bytes = wat::parse_str(
        r#"(component
            (core module $m (func (export "f") (result i32) i64.const 7))
            (core instance $i (instantiate $m))
            (func (export "f") (result s32) (canon lift (core func $i "f"))))"#,
    )
    .unwrap();
    assert!(
        airssys_wasm::ComponentInfo::parse_for_compile(
            &bytes,
            airssys_wasm::core::WasmFeatures::default()
        )
        .is_ok()
    );
    assert!(airssys_wasm::ComponentInfo::parse(&bytes).is_err());
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let err = rt
            .load(bytes.as_slice(), LoadOptions::new().name("bad-body"))
            .err()
            .expect("an invalid body must not load");
        assert_eq!(err.class(), ErrorClass::InvalidComponent, "{err}");
        assert!(err.to_string().contains("type mismatch"), "{err}");
        assert!(audit.events().into_iter().any(|e| matches!(
            e.kind,
            AuditKind::LoadRejected {
                class: ErrorClass::InvalidComponent,
                ..
            }
        ) && &*e.component == "bad-body"));
        assert_host_alive(&rt);
    });
}

#[test]
fn malformed_binary_is_refused_and_audited() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let mut bytes = std::fs::read(common::guest("hostile")).unwrap();
        bytes.truncate(bytes.len() / 2);
        let err = rt
            .load(bytes, LoadOptions::new().name("broken"))
            .err()
            .unwrap();
        assert_eq!(err.class(), ErrorClass::InvalidComponent, "{err}");
        let rejected = audit.events().into_iter().any(|e| {
            matches!(
                e.kind,
                AuditKind::LoadRejected {
                    class: ErrorClass::InvalidComponent,
                    ..
                }
            ) && &*e.component == "broken"
        });
        assert!(rejected);
        assert_host_alive(&rt);
    });
}

#[test]
fn a_core_module_is_refused_with_advice() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let module = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
        let err = rt.load(module, LoadOptions::new()).err().unwrap();
        assert!(matches!(err, Error::InvalidComponent(_)));
        assert!(
            err.to_string()
                .contains("core WebAssembly module, not a component"),
            "{err}"
        );
        assert_eq!(common::event_names(&audit), vec!["load-rejected"]);
        assert_host_alive(&rt);
    });
}

#[test]
fn instance_limit_is_enforced_and_released_on_drop() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = common::load(
            &rt,
            "hostile",
            LoadOptions::new().limits(Limits::default().with_max_instances(2)),
        );
        let a = c.instantiate().unwrap();
        let _b = c.instantiate().unwrap();
        let err = c.instantiate().err().unwrap();
        assert!(
            matches!(err, Error::InstanceLimit { limit: 2, .. }),
            "{err:?}"
        );
        drop(a);
        c.instantiate().expect("a slot is free again after a drop");
    });
}

/// A runaway guest must not keep the runtime's audit sink (or anything else
/// it owns) alive: once the caller drops everything, the sink's last
/// reference is the caller's, so a file sink is closed and flushed.
#[test]
fn nothing_is_leaked_after_a_limit_hit() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let c = common::load(
            &rt,
            "hostile",
            LoadOptions::new().limits(Limits::default().with_fuel(100_000)),
        );
        let mut i = c.instantiate().unwrap();
        assert!(i.call("spin", &[]).is_err());
        drop(i);
        drop(c);
        drop(rt);
        assert_eq!(std::sync::Arc::strong_count(&audit), 1);
        assert_eq!(
            common::event_names(&audit),
            ["loaded", "instantiated", "called", "limit-hit", "dropped"]
        );
    });
}

/// An embedder driving a backend directly cannot make it index out of
/// bounds or call with the wrong type: a `FuncRef` from another instance,
/// or one made up with any index, is refused with a typed error, and the
/// instance keeps serving its own references.
#[test]
fn a_function_reference_of_another_instance_or_made_up_is_refused() {
    use airssys_wasm::core::{
        Backend, CapabilitySet, ComponentId, ComponentInfo, FuncRef, HostFunctions, InstanceConfig,
        Stdio,
    };
    let backends: Vec<Box<dyn Backend>> = vec![
        #[cfg(feature = "wasmtime")]
        Box::new(airssys_wasm::wasmtime_backend::WasmtimeBackend::new().unwrap()),
        #[cfg(feature = "wasmi")]
        Box::new(airssys_wasm::wasmi_backend::WasmiBackend::new().unwrap()),
    ];
    let bytes = std::fs::read(common::guest("hostile")).unwrap();
    let info = ComponentInfo::parse(&bytes).unwrap();
    for backend in &backends {
        let limits = Limits::default();
        let compiled = backend
            .compile(&bytes, &info, &Arc::new(HostFunctions::new()), &limits)
            .unwrap();
        let config = InstanceConfig {
            component: "hostile".into(),
            id: ComponentId::new(None, "hostile", None, info.digest()).unwrap(),
            instance: 1,
            capabilities: Arc::new(CapabilitySet::new()),
            limits,
            audit: Arc::new(airssys_wasm::MemorySink::new()),
            stdio: Stdio::default(),
            args: Vec::new(),
            host_data: None,
            max_call_data: airssys_wasm::core::DEFAULT_MAX_CALL_DATA,
        };
        let mut a = compiled.instantiate(config.clone()).unwrap();
        let mut b = compiled.instantiate(config).unwrap();
        let ok = a.func("ok").unwrap();
        let e = b.call(&ok, &[]).unwrap_err();
        assert!(
            e.to_string().contains("resolved on another instance"),
            "{e}"
        );
        let made_up = FuncRef::new(FuncRef::new_owner(), 9_999, "ok".into(), ok.ty().clone());
        let e = a.call(&made_up, &[]).unwrap_err();
        assert!(
            matches!(e, airssys_wasm::Error::InvalidArguments { .. }),
            "{e}"
        );
        assert_eq!(
            a.call(&ok, &[]).unwrap().0,
            vec![Value::U32(42)],
            "{}",
            backend.name()
        );
    }
}
