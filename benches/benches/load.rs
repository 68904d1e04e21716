//! Loading a component: compiling it vs taking its compiled artifact from
//! the cache, for a tiny component (the `values` guest, ~18 KB) and a large
//! one (over 1 MB, generated here from text).
//!
//! - `ours-compile`: `Runtime::load` without an artifact cache (parse,
//!   validate, digest, compile, link);
//! - `ours-cached`: `Runtime::load` with a cache that holds the artifact
//!   (parse, validate, digest, read the artifact into memory and check its
//!   MAC, deserialise the checked bytes, link);
//! - `raw-wasmtime-compile`: wasmtime's `Component::new`;
//! - `raw-wasmtime-deserialize`: wasmtime's `Component::deserialize` of
//!   the artifact in memory.

use std::hint::black_box;
use std::time::Duration;

use airssys_wasm::{LoadOptions, Runtime};
use airssys_wasm_backend_wasmtime::wasmtime::component::Component;
use airssys_wasm_backend_wasmtime::{WasmtimeBackend, WasmtimeConfig};
use airssys_wasm_benches::{guest, large_component, same_engine};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let fresh = Runtime::builder().build().unwrap();
    let cached = Runtime::builder()
        .wasmtime_config(WasmtimeConfig {
            cache_dir: Some(cache.path().to_owned()),
            ..WasmtimeConfig::default()
        })
        .build()
        .unwrap();
    let raw = WasmtimeBackend::with_config(WasmtimeConfig::default()).unwrap();
    let engine = same_engine(&raw);
    let tiny = std::fs::read(guest("values")).unwrap();
    let large = large_component(1 << 20);
    // A smoke run (`--quick`) keeps criterion's short settings.
    let quick = std::env::args().any(|a| a == "--quick");

    for (group_name, bytes) in [("load-tiny", &tiny), ("load-large", &large)] {
        let mut group = c.benchmark_group(group_name);
        if bytes.len() > 1 << 20 && !quick {
            // A compile takes a good fraction of a second: ten samples of
            // one compile each (criterion takes longer than the measurement
            // time for those rows, as it must).
            group
                .sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .measurement_time(Duration::from_secs(4));
        }
        let load = |runtime: &Runtime| {
            runtime
                .load(bytes.as_slice(), LoadOptions::new().name(group_name))
                .unwrap()
        };
        group.bench_function("ours-compile", |b| b.iter(|| load(&fresh)));
        // The first load fills the cache.
        assert!(!load(&cached).loaded_from_cache());
        assert!(load(&cached).loaded_from_cache());
        group.bench_function("ours-cached", |b| b.iter(|| load(&cached)));
        group.bench_function("raw-wasmtime-compile", |b| {
            b.iter(|| Component::new(engine, black_box(bytes)).unwrap())
        });
        let artifact = engine.precompile_component(bytes).unwrap();
        #[allow(unsafe_code)]
        group.bench_function("raw-wasmtime-deserialize", |b| {
            // SAFETY: the artifact was made by this engine just above.
            b.iter(|| unsafe { Component::deserialize(engine, black_box(&artifact)) }.unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
