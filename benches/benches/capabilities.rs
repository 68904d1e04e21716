//! The cost of a capability check, per request kind, against a grant set
//! of realistic size (a dozen grants of mixed kinds). Each check is also
//! measured denied, which walks every grant.

use std::hint::black_box;

use airssys_wasm_core::capability::{
    FileOp, FileRights, HostPattern, KvQuota, NetKind, PathGlob, TopicPattern,
};
use airssys_wasm_core::{Capability, CapabilitySet, Request};
use criterion::{Criterion, criterion_group, criterion_main};

fn grants() -> CapabilitySet {
    let glob = |p: &str| PathGlob::new(p).unwrap();
    let host = |p: &str| HostPattern::new(p).unwrap();
    CapabilitySet::new()
        .with(Capability::Stdio)
        .with(Capability::Clocks)
        .with(Capability::env("APP_*"))
        .with(Capability::env("HOME"))
        .with(Capability::files(
            glob("/srv/conf/*.toml"),
            FileRights::READ,
        ))
        .with(Capability::files(
            glob("/srv/data/**/*.json"),
            FileRights::ALL,
        ))
        .with(Capability::files(
            glob("/var/cache/app/**"),
            FileRights::ALL,
        ))
        .with(Capability::network(
            host("api.example.com:443"),
            NetKind::Http,
        ))
        .with(Capability::network(
            host("*.cdn.example.org:443"),
            NetKind::Http,
        ))
        .with(Capability::network(
            host("10.0.0.0/8:5432"),
            NetKind::Socket,
        ))
        .with(Capability::messaging(
            TopicPattern::new("orders.*.created").unwrap(),
            true,
            false,
        ))
        .with(Capability::key_value("cache", KvQuota::default()))
}

fn bench(c: &mut Criterion) {
    let caps = grants();
    let cases: [(&str, Request<'_>); 10] = [
        ("stdio", Request::Stdio),
        ("env-prefix", Request::Env("APP_MODE")),
        (
            "glob-allowed",
            Request::File {
                path: "/srv/data/2026/11/orders.json",
                op: FileOp::Read,
            },
        ),
        (
            "glob-traversal-denied",
            Request::File {
                path: "/srv/data/../../etc/passwd",
                op: FileOp::Read,
            },
        ),
        (
            "glob-denied",
            Request::File {
                path: "/home/user/.ssh/id_ed25519",
                op: FileOp::Read,
            },
        ),
        (
            "host-exact",
            Request::Connect {
                host: "api.example.com",
                port: 443,
                kind: NetKind::Http,
            },
        ),
        (
            "host-wildcard",
            Request::Connect {
                host: "img.cdn.example.org",
                port: 443,
                kind: NetKind::Http,
            },
        ),
        (
            "host-cidr",
            Request::Connect {
                host: "10.20.30.40",
                port: 5432,
                kind: NetKind::Socket,
            },
        ),
        (
            "host-denied",
            Request::Connect {
                host: "evil.example.net",
                port: 443,
                kind: NetKind::Http,
            },
        ),
        ("topic", Request::Publish("orders.eu.created")),
    ];
    let mut group = c.benchmark_group("capability-check");
    for (name, request) in cases {
        group.bench_function(name, |b| {
            b.iter(|| black_box(&caps).allows(black_box(&request)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
