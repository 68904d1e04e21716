//! A real workload: the `markdown` guest (pulldown-cmark compiled to a
//! component) renders a 100 KB document to HTML, against the same crate
//! with the same options run natively.
//!
//! - `ours-typed` / `ours-dynamic`: through airssys-wasm on wasmtime;
//!   `ours-wasmi-typed` / `ours-wasmi-dynamic` on the wasmi backend (where
//!   a string signature's typed call goes through values too);
//! - `raw-wasmtime-same-config`: wasmtime's `TypedFunc`, our engine
//!   configuration (fuel metering and epochs on);
//! - `raw-wasmtime-default`: the same on a default engine (neither);
//! - `raw-wasmi`: the guest's core module on wasmi;
//! - `native`: `pulldown_cmark` in this process.

use std::hint::black_box;

use airssys_wasm::{LoadOptions, Runtime, Value};
use airssys_wasm_backend_wasmtime::wasmtime::component::{Component, Linker, TypedFunc};
use airssys_wasm_backend_wasmtime::wasmtime::{Engine, Store};
use airssys_wasm_backend_wasmtime::{WasmtimeBackend, WasmtimeConfig};
use airssys_wasm_benches::{
    RawWasmi, guest, markdown_document, render_markdown, same_engine, same_store,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let doc = markdown_document(100 * 1024);
    let expected = render_markdown(&doc);
    let runtime = Runtime::builder().build().unwrap();
    let component = runtime
        .load(guest("markdown"), LoadOptions::new().name("markdown"))
        .unwrap();
    let on_wasmi = Runtime::builder()
        .backend(airssys_wasm::BackendKind::Wasmi)
        .build()
        .unwrap();
    let wasmi_component = on_wasmi
        .load(guest("markdown"), LoadOptions::new().name("markdown"))
        .unwrap();
    let mut ours = vec![
        ("ours", component.instantiate().unwrap()),
        ("ours-wasmi", wasmi_component.instantiate().unwrap()),
    ];

    let mut group = c.benchmark_group("markdown-100KB");
    let args = [Value::from(doc.as_str())];
    for (prefix, instance) in &mut ours {
        if let Ok(typed) = instance.typed::<(String,), (String,)>("render") {
            // The guest renders exactly what the crate renders natively.
            assert_eq!(
                instance.call_typed(&typed, (doc.clone(),)).unwrap().0,
                expected
            );
            group.bench_function(format!("{prefix}-typed"), |b| {
                b.iter(|| {
                    instance
                        .call_typed(&typed, black_box((doc.clone(),)))
                        .unwrap()
                })
            });
        }
        let func = instance.func("render").unwrap();
        group.bench_function(format!("{prefix}-dynamic"), |b| {
            b.iter(|| instance.call_func(&func, black_box(&args)).unwrap())
        });
    }

    let backend = WasmtimeBackend::with_config(WasmtimeConfig::default()).unwrap();
    let default_engine = Engine::default();
    for (name, engine, same_config) in [
        ("raw-wasmtime-same-config", same_engine(&backend), true),
        ("raw-wasmtime-default", &default_engine, false),
    ] {
        let raw = Component::from_file(engine, guest("markdown")).unwrap();
        let mut store = if same_config {
            same_store(engine, ())
        } else {
            Store::new(engine, ())
        };
        let instance = Linker::new(engine).instantiate(&mut store, &raw).unwrap();
        let render: TypedFunc<(String,), (String,)> =
            instance.get_typed_func(&mut store, "render").unwrap();
        group.bench_function(name, |b| {
            b.iter(|| render.call(&mut store, black_box((doc.clone(),))).unwrap())
        });
    }

    let mut wasmi = RawWasmi::new(&wasmi::Engine::default(), "markdown");
    let render = wasmi.bytes_export("render");
    assert_eq!(
        wasmi.call_bytes(&render, doc.as_bytes()),
        expected.as_bytes()
    );
    group.bench_function("raw-wasmi", |b| {
        b.iter(|| wasmi.call_bytes(&render, black_box(doc.as_bytes())))
    });

    group.bench_function("native", |b| b.iter(|| render_markdown(black_box(&doc))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
