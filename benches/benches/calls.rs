//! Call overhead, like with like in one run: the `values` guest's
//! `add(u32, u32) -> u32`, `echo-string` with 1 KiB and `echo-bytes` with
//! 64 KiB, called
//!
//! - `ours-typed` / `ours-dynamic`: through airssys-wasm (limits armed,
//!   every call audited to the default tracing sink), typed fast path and
//!   `Value` path;
//! - `raw-wasmtime-same-config`: wasmtime's `TypedFunc` on an engine with
//!   our backend's configuration (fuel, epochs), no airssys-wasm in between;
//! - `raw-wasmtime-default`: wasmtime's `TypedFunc` on a default engine;
//! - `raw-wasmtime-dynamic` (64 KiB group): wasmtime's `Func` with `Val`s,
//!   the baseline of our dynamic path;
//! - `native`: the same work in Rust behind `dyn Fn`.
//!
//! Guests come from `cargo xtask guests` (`cargo xtask bench` builds them).

use std::hint::black_box;
use std::path::PathBuf;

use airssys_wasm::{LoadOptions, Runtime, Value};
use airssys_wasm_backend_wasmtime::wasmtime::component::{Component, Linker, TypedFunc, Val};
use airssys_wasm_backend_wasmtime::wasmtime::{Config, Engine, Store};
use airssys_wasm_backend_wasmtime::{WasmtimeBackend, WasmtimeConfig};
use criterion::{Criterion, criterion_group, criterion_main};

fn guest() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guests/values.wasm");
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask guests` (or `cargo xtask bench`)",
        path.display()
    );
    path
}

/// A raw wasmtime instance of the guest and a store ready for calls.
fn raw(
    engine: &Engine,
    fuel: bool,
) -> (
    Store<()>,
    airssys_wasm_backend_wasmtime::wasmtime::component::Instance,
) {
    let component = Component::from_file(engine, guest()).unwrap();
    let mut store = Store::new(engine, ());
    if fuel {
        store.set_fuel(u64::MAX).unwrap();
        store.set_epoch_deadline(u64::MAX / 4);
    }
    let instance = Linker::new(engine)
        .instantiate(&mut store, &component)
        .unwrap();
    (store, instance)
}

fn bench(c: &mut Criterion) {
    // The default audit sink (tracing; no subscriber is installed here).
    let runtime = Runtime::builder().build().unwrap();
    let component = runtime
        .load(guest(), LoadOptions::new().name("values"))
        .unwrap();
    let mut ours = component.instantiate().unwrap();

    let same = WasmtimeBackend::with_config(WasmtimeConfig::default()).unwrap();
    let (mut same_store, same_instance) = raw(same.engine(), true);
    let default_engine = Engine::new(&Config::new()).unwrap();
    let (mut default_store, default_instance) = raw(&default_engine, false);

    // add(u32, u32) -> u32
    {
        let mut group = c.benchmark_group("call-add");
        let typed = ours.typed::<(u32, u32), (u32,)>("add").unwrap();
        group.bench_function("ours-typed", |b| {
            b.iter(|| ours.call_typed(&typed, black_box((1, 2))).unwrap())
        });
        let func = ours.func("add").unwrap();
        let args = [Value::U32(1), Value::U32(2)];
        group.bench_function("ours-dynamic", |b| {
            b.iter(|| ours.call_func(&func, black_box(&args)).unwrap())
        });
        for (name, store, instance) in [
            ("raw-wasmtime-same-config", &mut same_store, &same_instance),
            (
                "raw-wasmtime-default",
                &mut default_store,
                &default_instance,
            ),
        ] {
            let f: TypedFunc<(u32, u32), (u32,)> =
                instance.get_typed_func(&mut *store, "add").unwrap();
            group.bench_function(name, |b| {
                b.iter(|| f.call(&mut *store, black_box((1, 2))).unwrap())
            });
        }
        let native: Box<dyn Fn(u32, u32) -> u32> = Box::new(|a, b| a.wrapping_add(b));
        group.bench_function("native", |b| b.iter(|| native(black_box(1), black_box(2))));
        group.finish();
    }

    // echo-string with 1 KiB and echo-bytes with 64 KiB
    let text = "x".repeat(1024);
    let bytes = vec![7u8; 64 * 1024];
    {
        let mut group = c.benchmark_group("call-echo-string-1KiB");
        let typed = ours.typed::<(String,), (String,)>("echo-string").unwrap();
        group.bench_function("ours-typed", |b| {
            b.iter(|| ours.call_typed(&typed, (text.clone(),)).unwrap())
        });
        let func = ours.func("echo-string").unwrap();
        let args = [Value::from(text.as_str())];
        group.bench_function("ours-dynamic", |b| {
            b.iter(|| ours.call_func(&func, &args).unwrap())
        });
        for (name, store, instance) in [
            ("raw-wasmtime-same-config", &mut same_store, &same_instance),
            (
                "raw-wasmtime-default",
                &mut default_store,
                &default_instance,
            ),
        ] {
            let f: TypedFunc<(String,), (String,)> =
                instance.get_typed_func(&mut *store, "echo-string").unwrap();
            group.bench_function(name, |b| {
                b.iter(|| f.call(&mut *store, (text.clone(),)).unwrap())
            });
        }
        let native: Box<dyn Fn(String) -> String> = Box::new(|s| s);
        group.bench_function("native", |b| b.iter(|| native(black_box(text.clone()))));
        group.finish();
    }
    {
        let mut group = c.benchmark_group("call-echo-bytes-64KiB");
        let typed = ours.typed::<(Vec<u8>,), (Vec<u8>,)>("echo-bytes").unwrap();
        group.bench_function("ours-typed", |b| {
            b.iter(|| ours.call_typed(&typed, (bytes.clone(),)).unwrap())
        });
        let func = ours.func("echo-bytes").unwrap();
        let args = [Value::List(bytes.iter().map(|b| Value::U8(*b)).collect())];
        group.bench_function("ours-dynamic", |b| {
            b.iter(|| ours.call_func(&func, &args).unwrap())
        });
        for (name, store, instance) in [
            ("raw-wasmtime-same-config", &mut same_store, &same_instance),
            (
                "raw-wasmtime-default",
                &mut default_store,
                &default_instance,
            ),
        ] {
            let f: TypedFunc<(Vec<u8>,), (Vec<u8>,)> =
                instance.get_typed_func(&mut *store, "echo-bytes").unwrap();
            group.bench_function(name, |b| {
                b.iter(|| f.call(&mut *store, (bytes.clone(),)).unwrap())
            });
        }
        // wasmtime's own dynamic path, to tell our conversion cost from its.
        let f = same_instance
            .get_func(&mut same_store, "echo-bytes")
            .unwrap();
        let vals = [Val::List(bytes.iter().map(|b| Val::U8(*b)).collect())];
        let mut out = [Val::Bool(false)];
        group.bench_function("raw-wasmtime-dynamic", |b| {
            b.iter(|| f.call(&mut same_store, &vals, &mut out).unwrap())
        });
        let native: Box<dyn Fn(Vec<u8>) -> Vec<u8>> = Box::new(|v| v);
        group.bench_function("native", |b| b.iter(|| native(black_box(bytes.clone()))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
