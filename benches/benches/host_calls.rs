//! A guest calling its host: the `host-probe` guest loops over
//! `airssys:host` calls (logging, key-value set), so one criterion
//! iteration is one host call (the export's own call is spread over all of
//! them). Per call:
//!
//! - `ours`: through airssys-wasm: values converted, the capability checked
//!   (key-value), the effect (a `tracing` record with nothing listening; a
//!   write to the in-memory key-value store), audited where the host
//!   interface audits;
//! - `raw-wasmtime-noop-host`: the same guest on raw wasmtime (our engine
//!   configuration) with a host function that does nothing, defined like
//!   ours (`func_new`, dynamic values): the floor of any host call.

use std::time::Instant;

use airssys_wasm::{HostSettings, Runtime};
use airssys_wasm_backend_wasmtime::wasmtime::component::{Component, Linker, Val};
use airssys_wasm_backend_wasmtime::wasmtime::{Engine, Store};
use airssys_wasm_backend_wasmtime::{WasmtimeBackend, WasmtimeConfig};
use airssys_wasm_benches::{guest, load_with_grants, same_engine, same_store};
use criterion::{Criterion, criterion_group, criterion_main};

const LOG: &str = "airssys:host/logging@0.1.0";
const KV: &str = "airssys:host/key-value@0.1.0";

/// The guest on raw wasmtime, with `log` and `set` doing nothing.
fn raw(
    engine: &Engine,
) -> (
    Store<()>,
    airssys_wasm_backend_wasmtime::wasmtime::component::Instance,
) {
    let component = Component::from_file(engine, guest("host-probe")).unwrap();
    let mut linker = Linker::new(engine);
    for (interface, func) in [(LOG, "log"), (KV, "set")] {
        linker
            .instance(interface)
            .unwrap()
            .func_new(func, |_, _, _, results| {
                results[0] = Val::Result(Ok(None));
                Ok(())
            })
            .unwrap();
    }
    linker.define_unknown_imports_as_traps(&component).unwrap();
    let mut store = same_store(engine, ());
    let instance = linker.instantiate(&mut store, &component).unwrap();
    (store, instance)
}

fn bench(c: &mut Criterion) {
    let runtime = Runtime::builder()
        .host_settings(HostSettings {
            // Every record is taken: the rate limit is not what is measured.
            log_rate: u32::MAX,
            ..HostSettings::default()
        })
        .build()
        .unwrap();
    let mut ours = load_with_grants(&runtime, "host-probe")
        .instantiate()
        .unwrap();
    let log_many = ours
        .typed::<(u32, String), ((u32, Option<String>),)>("log-many")
        .unwrap();
    let kv_many = ours
        .typed::<(String, String, String, u32), (Result<(), String>,)>("kv-set-many")
        .unwrap();
    let backend = WasmtimeBackend::with_config(WasmtimeConfig::default()).unwrap();
    let (mut store, instance) = raw(same_engine(&backend));
    let raw_log = instance
        .get_typed_func::<(u32, String), ((u32, Option<String>),)>(&mut store, "log-many")
        .unwrap();
    let raw_kv = instance
        .get_typed_func::<(String, String, String, u32), (Result<(), String>,)>(
            &mut store,
            "kv-set-many",
        )
        .unwrap();

    let mut group = c.benchmark_group("host-call-log");
    let message = || "order 42 accepted".to_string();
    group.bench_function("ours", |b| {
        b.iter_custom(|n| {
            let start = Instant::now();
            let ((accepted, error),) = ours.call_typed(&log_many, (n as u32, message())).unwrap();
            let took = start.elapsed();
            assert_eq!((accepted, error), (n as u32, None));
            took
        })
    });
    group.bench_function("raw-wasmtime-noop-host", |b| {
        b.iter_custom(|n| {
            let start = Instant::now();
            let ((accepted, _),) = raw_log.call(&mut store, (n as u32, message())).unwrap();
            let took = start.elapsed();
            assert_eq!(accepted, n as u32);
            took
        })
    });
    group.finish();

    let mut group = c.benchmark_group("host-call-kv-set");
    let args = |n: u64| {
        let value = "x".repeat(64);
        (
            "host-probe".to_string(),
            "counter".to_string(),
            value,
            n as u32,
        )
    };
    group.bench_function("ours", |b| {
        b.iter_custom(|n| {
            let start = Instant::now();
            let (r,) = ours.call_typed(&kv_many, args(n)).unwrap();
            let took = start.elapsed();
            r.unwrap();
            took
        })
    });
    group.bench_function("raw-wasmtime-noop-host", |b| {
        b.iter_custom(|n| {
            let start = Instant::now();
            let (r,) = raw_kv.call(&mut store, args(n)).unwrap();
            let took = start.elapsed();
            r.unwrap();
            took
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
