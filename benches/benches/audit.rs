//! What one audit event costs the caller (the guest's call waits for it),
//! per sink, for the event every call records (`called`), made as the
//! runtime makes it (each benchmark includes making the event):
//!
//! - `memory`: [`MemorySink`] (a mutex and a `Vec` push);
//! - `tracing-no-subscriber`: [`TracingSink`] with nothing listening, the
//!   default of a runtime;
//! - `tracing-fmt`: [`TracingSink`] into a `tracing-subscriber` fmt layer
//!   that writes to nowhere: formatting is the cost;
//! - `chained-jsonl`: the hash-chained log ([`ChainedLog`]): the caller
//!   encodes the event and queues it, a writer thread hashes and writes.
//!   Sustained, the queue fills and the caller waits for the writer, so the
//!   figure is the log's throughput, not just the hand-off.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use airssys_wasm_core::{AuditEvent, AuditKind, AuditSink, MemorySink, TracingSink};
use airssys_wasm_security::{ChainConfig, ChainedLog};
use criterion::{Criterion, criterion_group, criterion_main};

/// The event of a call, as `Instance::call_func` records it. Its time
/// comes from the reading the call takes for its elapsed time anyway, so
/// the clock is not part of the audit's cost here.
fn event(component: &Arc<str>, function: &Arc<str>) -> AuditEvent {
    AuditEvent::at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000),
        component.clone(),
        AuditKind::Called {
            instance: 7,
            function: function.clone(),
        },
    )
}

/// Times `iters` calls of `record` in chunks of at most `chunk`, running
/// `settle` after each chunk, untimed.
fn in_chunks(
    iters: u64,
    chunk: u64,
    mut record: impl FnMut(),
    mut settle: impl FnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(chunk);
        let start = Instant::now();
        for _ in 0..n {
            record();
        }
        total += start.elapsed();
        settle();
        left -= n;
    }
    total
}

fn bench(c: &mut Criterion) {
    let component: Arc<str> = "orders-plugin".into();
    let function: Arc<str> = "handle-order".into();
    let mut group = c.benchmark_group("audit-event");

    // Recorded in chunks, drained between them (untimed), so the sink's
    // memory stays bounded however many iterations criterion asks for.
    let memory = MemorySink::new();
    group.bench_function("memory", |b| {
        b.iter_custom(|iters| {
            in_chunks(
                iters,
                100_000,
                || memory.record(event(&component, &function)).unwrap(),
                || drop(memory.take()),
            )
        })
    });

    group.bench_function("tracing-no-subscriber", |b| {
        b.iter(|| TracingSink.record(black_box(event(&component, &function))))
    });

    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .with_max_level(tracing::Level::INFO)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("tracing-fmt", |b| {
            b.iter(|| TracingSink.record(black_box(event(&component, &function))))
        });
    });

    let dir = tempfile::tempdir().unwrap();
    let log = ChainedLog::open(dir.path().join("audit.jsonl"), ChainConfig::default()).unwrap();
    // The caller's cost while the writer keeps up: bursts of 1000 events
    // (the queue holds 4096), each followed by an untimed flush.
    group.bench_function("chained-jsonl-burst", |b| {
        b.iter_custom(|iters| {
            in_chunks(
                iters,
                1000,
                || log.record(event(&component, &function)).unwrap(),
                || log.flush().unwrap(),
            )
        })
    });
    // A sustained flood: the queue stays full, so this is the writer's
    // throughput (encode, hash, write) as the caller sees it.
    group.bench_function("chained-jsonl", |b| {
        b.iter(|| log.record(black_box(event(&component, &function))))
    });
    group.finish();
    log.flush().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
