//! A new instance of an already compiled component (the `values` guest),
//! created and dropped:
//!
//! - `ours-on-demand` / `ours-pooling`: `Component::instantiate` through
//!   airssys-wasm, with a capability set and an audit identity (its
//!   `instantiated` and `dropped` events go to the default tracing sink),
//!   on wasmtime allocating on demand and with the pooling allocator;
//! - `raw-wasmtime-on-demand` / `raw-wasmtime-pooling`: wasmtime's
//!   `InstancePre::instantiate` in a new `Store`, on engines with our
//!   backend's configuration;
//! - `raw-wasmi`: the guest's core module instantiated in a new wasmi
//!   `Store`.

use std::hint::black_box;

use airssys_wasm::Runtime;
use airssys_wasm_backend_wasmtime::wasmtime::component::{Component, InstancePre, Linker};
use airssys_wasm_backend_wasmtime::{PoolingConfig, WasmtimeBackend, WasmtimeConfig};
use airssys_wasm_benches::{
    core_module, guest, load_with_grants, same_engine, same_store, trapping_linker,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn pooling() -> WasmtimeConfig {
    WasmtimeConfig {
        pooling: Some(PoolingConfig::default()),
        ..WasmtimeConfig::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("instantiation");
    for (name, config) in [
        ("ours-on-demand", WasmtimeConfig::default()),
        ("ours-pooling", pooling()),
    ] {
        let runtime = Runtime::builder().wasmtime_config(config).build().unwrap();
        let component = load_with_grants(&runtime, "values");
        group.bench_function(name, |b| b.iter(|| component.instantiate().unwrap()));
    }
    let on_wasmi = Runtime::builder()
        .backend(airssys_wasm::BackendKind::Wasmi)
        .build()
        .unwrap();
    let wasmi_component = load_with_grants(&on_wasmi, "values");
    group.bench_function("ours-wasmi", |b| {
        b.iter(|| wasmi_component.instantiate().unwrap())
    });
    for (name, config) in [
        ("raw-wasmtime-on-demand", WasmtimeConfig::default()),
        ("raw-wasmtime-pooling", pooling()),
    ] {
        let backend = WasmtimeBackend::with_config(config).unwrap();
        let engine = same_engine(&backend);
        let component = Component::from_file(engine, guest("values")).unwrap();
        let pre: InstancePre<()> = Linker::new(engine).instantiate_pre(&component).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut store = same_store(engine, ());
                let instance = pre.instantiate(&mut store).unwrap();
                black_box((store, instance))
            })
        });
    }
    let engine = wasmi::Engine::default();
    let module =
        wasmi::Module::new(&engine, std::fs::read(core_module("values")).unwrap()).unwrap();
    let linker = trapping_linker(&engine, &module);
    group.bench_function("raw-wasmi", |b| {
        b.iter(|| {
            let mut store = wasmi::Store::new(&engine, ());
            let instance = linker.instantiate_and_start(&mut store, &module).unwrap();
            black_box((store, instance))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
