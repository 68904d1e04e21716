//! Call overhead, like with like in one run: the `values` guest's
//! `add(u32, u32) -> u32`, `echo-string` with 1 KiB and `echo-bytes` with
//! 64 KiB, called
//!
//! - `ours-typed` / `ours-dynamic`: through airssys-wasm on wasmtime with
//!   the default audit sink (tracing; no subscriber is installed, so the
//!   sink keeps no call events and the runtime builds none), typed fast
//!   path and `Value` path; `ours-audited-*`: the same with a sink that
//!   takes every call's `called` and `returned` events;
//!   `ours-wasmi-typed` / `ours-wasmi-dynamic`: the default sink on the
//!   wasmi backend (its typed path is wasmi's own typed call for scalar
//!   signatures like `add`, values for the others);
//! - `raw-wasmtime-same-config`: wasmtime's `TypedFunc` on the engine our
//!   backend runs this component on (epochs; fuel metering is compiled in
//!   only for components with a fuel limit), no airssys-wasm in between;
//! - `raw-wasmtime-default`: wasmtime's `TypedFunc` on a default engine;
//! - `raw-wasmtime-dynamic` (64 KiB group): wasmtime's `Func` with `Val`s,
//!   the baseline of our dynamic path;
//! - `raw-wasmi`: the guest's core module (the same code, before it was
//!   made a component) on wasmi, arguments passed by a hand-written
//!   canonical ABI;
//! - `native`: the same work in Rust behind `dyn Fn`.
//!
//! Guests come from `cargo xtask guests` (`cargo xtask bench` builds them).

use std::hint::black_box;
use std::sync::Arc;

use airssys_wasm::{LoadOptions, Runtime, TypedParams, TypedResults, Value};
use airssys_wasm_backend_wasmtime::wasmtime::component::{
    Component, Instance, Linker, TypedFunc, Val,
};
use airssys_wasm_backend_wasmtime::wasmtime::{Config, Engine, Store};
use airssys_wasm_backend_wasmtime::{WasmtimeBackend, WasmtimeConfig};
use airssys_wasm_benches::{CountingSink, RawWasmi, guest, same_engine, same_store};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};

/// A raw wasmtime instance of the guest and a store ready for calls.
fn raw(engine: &Engine, same_config: bool) -> (Store<()>, Instance) {
    let component = Component::from_file(engine, guest("values")).unwrap();
    let mut store = if same_config {
        same_store(engine, ())
    } else {
        Store::new(engine, ())
    };
    let instance = Linker::new(engine)
        .instantiate(&mut store, &component)
        .unwrap();
    (store, instance)
}

/// The callers under comparison, each with its own instance of the guest.
struct Subjects {
    /// Our API, one instance per backend: `(row prefix, instance)`. Each
    /// gets a `-dynamic` row, and a `-typed` row where the backend has the
    /// typed fast path.
    ours: Vec<(&'static str, airssys_wasm::Instance)>,
    same_config: (Store<()>, Instance),
    default_config: (Store<()>, Instance),
    wasmi: RawWasmi,
}

/// Calls `export` every way, as group `name`: `params` makes the typed
/// arguments of one call, `args` are the same as `Value`s, `wasmi` makes
/// one call of the core module on raw wasmi, and `native` does the same
/// work in Rust. Returns the group for extra baselines.
#[allow(clippy::too_many_arguments)]
fn compare<'c, P, R>(
    c: &'c mut Criterion,
    s: &mut Subjects,
    name: &str,
    export: &str,
    params: impl Fn() -> P,
    args: &[Value],
    wasmi: &mut dyn FnMut(&mut RawWasmi),
    native: &dyn Fn(P) -> R,
) -> BenchmarkGroup<'c, WallTime>
where
    P: TypedParams,
    R: TypedResults,
{
    let mut group = c.benchmark_group(name);
    for (prefix, ours) in &mut s.ours {
        if let Ok(typed) = ours.typed::<P, R>(export) {
            group.bench_function(format!("{prefix}-typed"), |b| {
                b.iter(|| ours.call_typed(&typed, black_box(params())).unwrap())
            });
        }
        let func = ours.func(export).unwrap();
        group.bench_function(format!("{prefix}-dynamic"), |b| {
            b.iter(|| ours.call_func(&func, black_box(args)).unwrap())
        });
    }
    for (bench, (store, instance)) in [
        ("raw-wasmtime-same-config", &mut s.same_config),
        ("raw-wasmtime-default", &mut s.default_config),
    ] {
        let f: TypedFunc<P, R> = instance.get_typed_func(&mut *store, export).unwrap();
        group.bench_function(bench, |b| {
            b.iter(|| f.call(&mut *store, black_box(params())).unwrap())
        });
    }
    group.bench_function("raw-wasmi", |b| b.iter(|| wasmi(&mut s.wasmi)));
    group.bench_function("native", |b| b.iter(|| native(black_box(params()))));
    group
}

fn bench(c: &mut Criterion) {
    // The default audit sink (tracing; no subscriber is installed here).
    let runtime = Runtime::builder().build().unwrap();
    let component = runtime
        .load(guest("values"), LoadOptions::new().name("values"))
        .unwrap();
    let counted = Arc::new(CountingSink::default());
    let audited = Runtime::builder()
        .audit(counted.clone())
        .build()
        .unwrap()
        .load(guest("values"), LoadOptions::new().name("values"))
        .unwrap();
    let same = WasmtimeBackend::with_config(WasmtimeConfig::default()).unwrap();
    let default_engine = Engine::new(&Config::new()).unwrap();
    let on_wasmi = Runtime::builder()
        .backend(airssys_wasm::BackendKind::Wasmi)
        .build()
        .unwrap();
    let wasmi_component = on_wasmi
        .load(guest("values"), LoadOptions::new().name("values"))
        .unwrap();
    let mut s = Subjects {
        ours: vec![
            ("ours", component.instantiate().unwrap()),
            ("ours-audited", audited.instantiate().unwrap()),
            ("ours-wasmi", wasmi_component.instantiate().unwrap()),
        ],
        same_config: raw(same_engine(&same), true),
        default_config: raw(&default_engine, false),
        wasmi: RawWasmi::new(&wasmi::Engine::default(), "values"),
    };

    let add = s.wasmi.typed::<(i32, i32), i32>("add");
    let echo_string = s.wasmi.bytes_export("echo-string");
    let echo_bytes = s.wasmi.bytes_export("echo-bytes");
    compare(
        c,
        &mut s,
        "call-add",
        "add",
        || (1u32, 2u32),
        &[Value::U32(1), Value::U32(2)],
        &mut |w: &mut RawWasmi| {
            black_box(w.call(&add, black_box((1, 2))));
        },
        &|(a, b): (u32, u32)| (a.wrapping_add(b),),
    )
    .finish();

    let text = "x".repeat(1024);
    compare(
        c,
        &mut s,
        "call-echo-string-1KiB",
        "echo-string",
        || (text.clone(),),
        &[Value::from(text.as_str())],
        &mut |w: &mut RawWasmi| {
            black_box(w.call_bytes(&echo_string, black_box(text.as_bytes())));
        },
        &|t: (String,)| t,
    )
    .finish();

    let bytes = vec![7u8; 64 * 1024];
    let mut group = compare(
        c,
        &mut s,
        "call-echo-bytes-64KiB",
        "echo-bytes",
        || (bytes.clone(),),
        &[Value::List(bytes.iter().map(|b| Value::U8(*b)).collect())],
        &mut |w: &mut RawWasmi| {
            black_box(w.call_bytes(&echo_bytes, black_box(&bytes)));
        },
        &|v: (Vec<u8>,)| v,
    );
    // wasmtime's own dynamic path, to tell our conversion cost from its.
    let (store, instance) = &mut s.same_config;
    let f = instance.get_func(&mut *store, "echo-bytes").unwrap();
    let vals = [Val::List(bytes.iter().map(|b| Val::U8(*b)).collect())];
    let mut out = [Val::Bool(false)];
    group.bench_function("raw-wasmtime-dynamic", |b| {
        b.iter(|| f.call(&mut *store, &vals, &mut out).unwrap())
    });
    group.finish();
    assert!(
        counted.count() > 0,
        "the audited subjects' calls were recorded"
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
