//! The host (`airssys-wasm-host`) serving `add(1, 2)`:
//!
//! - `admin-call`: one call through the admin API on its Unix socket
//!   (`admin-api`: a connection, HTTP/1.1, JSON, WAVE, the blocking pool,
//!   the deployment, every call audited into the signed chained log)
//!   against the host's operation called in process (`host-operation`: WAVE,
//!   the deployment, the audit) and the deployment alone (`deployment`);
//! - `admin-call-throughput`: 1 and 4 clients calling through the admin
//!   API at once, the time per call of the whole host (its inverse is the
//!   throughput).

use std::hint::black_box;
use std::time::Instant;

use airssys_wasm_host::api::{CallRequest, CallResult, Upload};
use airssys_wasm_host::{Client, Host, HostConfig, LogBook, StateDir};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};

fn adder() -> Vec<u8> {
    wat::parse_str(
        r#"(component
            (core module $m (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
            (core instance $i (instantiate $m))
            (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add"))))"#,
    )
    .unwrap()
}

fn request() -> CallRequest {
    CallRequest {
        name: "adder".into(),
        call: "add(1, 2)".into(),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path().join("state")).unwrap();
    let socket = state.socket();
    let host = Host::open(state, HostConfig::default(), LogBook::new()).unwrap();
    host.deploy(Upload {
        name: "adder".into(),
        component: base64::engine::general_purpose::STANDARD.encode(adder()),
        ..Upload::default()
    })
    .unwrap();
    let served = host.clone();
    let (ready, up) = std::sync::mpsc::channel();
    // The host serves until the benchmark's process ends.
    std::thread::spawn(move || {
        airssys_wasm_host::serve(served, |_| ready.send(()).unwrap()).unwrap();
    });
    up.recv().unwrap();
    let client = Client::socket(&socket);
    let answer: CallResult = client.post("call", &request()).unwrap();
    assert_eq!(answer.results, ["3"]);

    let mut group = c.benchmark_group("admin-call");
    group.bench_function("admin-api", |b| {
        b.iter(|| black_box(client.post::<_, CallResult>("call", &request()).unwrap()))
    });
    group.bench_function("host-operation", |b| {
        b.iter(|| black_box(host.call(request()).unwrap()))
    });
    let dep = host.lifecycle().get("adder").unwrap();
    let args = [airssys_wasm::Value::U32(1), airssys_wasm::Value::U32(2)];
    group.bench_function("deployment", |b| {
        b.iter(|| black_box(dep.call("add", &args).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("admin-call-throughput");
    // Each client keeps its connection, made before the measurement.
    let pool: Vec<Client> = (0..4).map(|_| Client::socket(&socket)).collect();
    for clients in [1u64, 4] {
        let name = if clients == 1 {
            "1-client".to_owned()
        } else {
            format!("{clients}-clients")
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(clients).max(1);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for client in &pool[..clients as usize] {
                        s.spawn(move || {
                            for _ in 0..per {
                                black_box(
                                    client.post::<_, CallResult>("call", &request()).unwrap(),
                                );
                            }
                        });
                    }
                });
                // The time per call of the whole host: its inverse is the
                // throughput.
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * clients) as f64)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
