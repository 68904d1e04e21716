//! Isolation cost: a fresh plugin instance and one call (`add` of the
//! `values` guest), against the native way to isolate the same work,
//! spawning a process (`bench-add`, a tiny binary of this crate) and
//! waiting for it to exit.
//!
//! - `ours-on-demand` / `ours-pooling`: `Component::instantiate` then a
//!   typed call, through airssys-wasm (grants, audit identity, limits);
//! - `native-process`: `std::process::Command`, output captured, exit
//!   awaited.

use std::process::Command;

use airssys_wasm::Runtime;
use airssys_wasm_backend_wasmtime::{PoolingConfig, WasmtimeConfig};
use airssys_wasm_benches::load_with_grants;
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("isolation");
    for (name, pooling) in [
        ("ours-on-demand", None),
        ("ours-pooling", Some(PoolingConfig::default())),
    ] {
        let runtime = Runtime::builder()
            .wasmtime_config(WasmtimeConfig {
                pooling,
                ..WasmtimeConfig::default()
            })
            .build()
            .unwrap();
        let component = load_with_grants(&runtime, "values");
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut instance = component.instantiate().unwrap();
                let add = instance.typed::<(u32, u32), (u32,)>("add").unwrap();
                let (sum,) = instance.call_typed(&add, (40, 2)).unwrap();
                assert_eq!(sum, 42);
            })
        });
    }
    let exe = env!("CARGO_BIN_EXE_bench-add");
    group.bench_function("native-process", |b| {
        b.iter(|| {
            let out = Command::new(exe).args(["40", "2"]).output().unwrap();
            assert!(out.status.success());
            assert_eq!(out.stdout, b"42\n");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
