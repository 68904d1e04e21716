//! The lifecycle (`airssys-wasm-lifecycle`) on wasmtime with the pooling
//! allocator, on a component whose `version` returns a number:
//!
//! - `lifecycle-call`: `version` through a deployment (`deployment`:
//!   routing, a pool lease, the outcome window) against the same call on a
//!   bare instance (`bare-instance`);
//! - `lifecycle-swap`: an upgrade (compiled and warmed before, as an
//!   operator's upgrade is) from the decision to the first call the new
//!   version serves;
//! - `lifecycle-restart`: a call that traps, then the first call served by
//!   the fresh instance its restart makes (no backoff);
//! - `lifecycle-2-threads`: 2 threads calling through one deployment
//!   (`deployment`) against 2 threads on 2 bare instances
//!   (`bare-instances`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use airssys_wasm::{LoadOptions, Runtime, Value};
use airssys_wasm_backend_wasmtime::{PoolingConfig, WasmtimeConfig};
use airssys_wasm_lifecycle::{
    Backoff, DeployOptions, GroupSpec, Intensity, Lifecycle, Registration,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn app(n: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (core module $m
                (func (export "v") (result i32) i32.const {n})
                (func (export "crash") unreachable))
            (core instance $i (instantiate $m))
            (func (export "version") (result u32) (canon lift (core func $i "v")))
            (func (export "crash") (canon lift (core func $i "crash"))))"#
    ))
    .unwrap()
}

fn runtime() -> Runtime {
    Runtime::builder()
        .wasmtime_config(WasmtimeConfig {
            pooling: Some(PoolingConfig::default()),
            ..WasmtimeConfig::default()
        })
        .build()
        .unwrap()
}

fn lifecycle() -> Lifecycle {
    let spec = GroupSpec {
        intensity: Intensity {
            max_restarts: u32::MAX,
            within: Duration::from_secs(1),
        },
        backoff: Backoff::none(),
        ..GroupSpec::default()
    };
    let lc = Lifecycle::builder(runtime())
        .group("default", spec)
        .build()
        .unwrap();
    for n in 1..=2 {
        lc.register(Registration::new("app", app(n)).version(n.to_string()))
            .unwrap();
    }
    lc
}

fn bench(c: &mut Criterion) {
    let lc = lifecycle();
    let mut options = DeployOptions::default();
    options.passive.min_calls = u32::MAX;
    let dep = lc.deploy("app", "1", options).unwrap();
    let bare = runtime()
        .load(app(1), LoadOptions::new().name("app"))
        .unwrap();

    let mut group = c.benchmark_group("lifecycle-call");
    let mut instance = bare.instantiate().unwrap();
    group.bench_function("bare-instance", |b| {
        b.iter(|| black_box(instance.call("version", &[]).unwrap()))
    });
    group.bench_function("deployment", |b| {
        b.iter(|| black_box(dep.call("version", &[]).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("lifecycle-swap");
    let mut next = 2u32;
    group.bench_function("upgrade-to-first-call", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let version = next.to_string();
                let start = Instant::now();
                dep.upgrade(&version).unwrap();
                let served = dep.call("version", &[]).unwrap();
                total += start.elapsed();
                assert_eq!(served.values, vec![Value::U32(next)]);
                next = 3 - next;
            }
            total
        })
    });
    group.finish();

    let mut group = c.benchmark_group("lifecycle-restart");
    group.bench_function("trap-to-fresh-call", |b| {
        b.iter(|| {
            dep.call("crash", &[]).unwrap_err();
            black_box(dep.call("version", &[]).unwrap())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("lifecycle-2-threads");
    const CALLS: u64 = 1000;
    group.bench_function("deployment", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..iters * CALLS / 2 {
                            black_box(dep.call("version", &[]).unwrap());
                        }
                    });
                }
            });
            start.elapsed() / CALLS as u32
        })
    });
    group.bench_function("bare-instances", |b| {
        b.iter_custom(|iters| {
            let mut instances = [bare.instantiate().unwrap(), bare.instantiate().unwrap()];
            let start = Instant::now();
            std::thread::scope(|s| {
                for instance in &mut instances {
                    s.spawn(move || {
                        for _ in 0..iters * CALLS / 2 {
                            black_box(instance.call("version", &[]).unwrap());
                        }
                    });
                }
            });
            start.elapsed() / CALLS as u32
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
