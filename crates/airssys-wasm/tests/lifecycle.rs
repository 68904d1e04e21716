//! The audit trail of a normal life, and the artifact cache.

mod common;

use airssys_wasm::{AuditKind, LoadOptions, MemorySink, Runtime, Value};
use std::sync::Arc;

#[test]
fn a_call_is_audited_from_load_to_drop() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let c = common::load(&rt, "text-tools", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let out = i.call("greet", &[Value::from("ada")]).unwrap();
        assert_eq!(out, vec![Value::from("Hello, ada!")]);
        drop(i);
        assert_eq!(
            common::event_names(&audit),
            vec!["loaded", "instantiated", "called", "returned", "dropped"]
        );
        let events = audit.events();
        assert!(events.iter().all(|e| &*e.component == "text-tools"));
        let AuditKind::Loaded { digest, .. } = &events[0].kind else {
            unreachable!()
        };
        assert_eq!(digest, &c.info().digest().to_string());
    });
}

#[test]
fn usage_is_reported_per_call() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let c = common::load(
            &rt,
            "text-tools",
            LoadOptions::new().limits(airssys_wasm::Limits::default().with_fuel(10_000_000)),
        );
        let mut i = c.instantiate().unwrap();
        let f = i.func("stats").unwrap();
        let (_, usage) = i
            .call_func(&f, &[Value::from("a b a\nc"), Value::from(2u32)])
            .unwrap();
        let fuel = usage.fuel_consumed.expect("fuel is metered");
        assert!(fuel > 0 && fuel < 10_000_000, "{fuel}");
        assert!(usage.peak_memory_bytes >= 64 * 1024);
    });
}

#[test]
fn a_second_load_uses_the_artifact_cache() {
    common::each_backend(|_| {
        let cache = tempfile::tempdir().unwrap();
        let config = || airssys_wasm::wasmtime_backend::WasmtimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..Default::default()
        };
        let load = || {
            let rt = Runtime::builder()
                .audit(Arc::new(MemorySink::new()))
                .wasmtime_config(config())
                .build()
                .unwrap();
            rt.load(common::guest("wasi-probe"), LoadOptions::new())
                .unwrap()
        };
        let first = load();
        assert!(!first.loaded_from_cache());
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
        let second = load();
        assert!(
            second.loaded_from_cache(),
            "second load must skip compilation"
        );
        let mut i = second.instantiate().unwrap();
        let out = i.call("get-env", &[Value::from("X")]).unwrap();
        assert_eq!(out, vec![Value::Option(None)]);
    });
}

#[test]
fn the_pooling_allocator_runs_and_limits_instances() {
    common::each_backend(|_| {
        use airssys_wasm::wasmtime_backend::{PoolingConfig, WasmtimeConfig};
        let audit = Arc::new(MemorySink::new());
        let rt = Runtime::builder()
            .audit(audit)
            .wasmtime_config(WasmtimeConfig {
                pooling: Some(PoolingConfig {
                    total_component_instances: 4,
                    max_memory_size: 8 << 20,
                }),
                ..Default::default()
            })
            .build()
            .unwrap();
        let c = rt
            .load(common::guest("values"), LoadOptions::new())
            .unwrap();
        let mut live = Vec::new();
        for _ in 0..4 {
            let mut i = c.instantiate().unwrap();
            assert_eq!(
                i.call("add", &[Value::from(1u32), Value::from(2u32)])
                    .unwrap(),
                vec![Value::from(3u32)]
            );
            live.push(i);
        }
        // The pool is full: a fifth instance is refused with an error, not a crash.
        let err = c.instantiate().err().unwrap();
        assert!(
            matches!(err, airssys_wasm::Error::InstanceLimit { limit: 4, .. }),
            "{err:?}"
        );
        live.pop();
        c.instantiate().expect("a freed slot is reused");
    });
}
