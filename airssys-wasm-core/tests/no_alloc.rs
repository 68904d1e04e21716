//! `CapabilitySet::allows` must not allocate: it runs on every host call.
//! A counting global allocator proves it for every request kind, allowed
//! and denied, including paths that need normalising. Allocations are
//! counted per thread, so tests running beside each other do not count
//! each other's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use airssys_wasm_core::capability::{
    FileOp, FileRights, HostPattern, KvQuota, NetKind, PathGlob, TopicPattern,
};
use airssys_wasm_core::{Capability, CapabilitySet, Request};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // Not during the thread's teardown, when the counter is gone.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// Allocations made by this thread so far.
fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// bookkeeping around it touches no allocation.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn allows_does_not_allocate() {
    let caps = CapabilitySet::new()
        .with(Capability::Stdio)
        .with(Capability::env("APP_*"))
        .with(Capability::dir("/srv/mnt", "/mnt", true))
        .with(Capability::files(
            PathGlob::new("/srv/data/**/*.json").unwrap(),
            FileRights::READ,
        ))
        .with(Capability::network(
            HostPattern::new("*.example.com:443").unwrap(),
            NetKind::Http,
        ))
        .with(Capability::network(
            HostPattern::new("10.0.0.0/8:*").unwrap(),
            NetKind::Socket,
        ))
        .with(Capability::messaging(
            TopicPattern::new("orders.>").unwrap(),
            true,
            true,
        ))
        .with(Capability::key_value("cache", KvQuota::default()));
    let requests = [
        Request::Stdio,
        Request::Env("APP_MODE"),
        Request::Env("PATH"),
        Request::File {
            path: "/srv/data/a/b/c.json",
            op: FileOp::Read,
        },
        Request::File {
            path: "/srv/data/a/./../b//c.json",
            op: FileOp::Read,
        },
        Request::File {
            path: "/srv/data/../../etc/passwd",
            op: FileOp::Read,
        },
        Request::File {
            path: "/srv/mnt/x",
            op: FileOp::Write,
        },
        Request::Connect {
            host: "api.example.com",
            port: 443,
            kind: NetKind::Http,
        },
        Request::Connect {
            host: "10.2.3.4",
            port: 5432,
            kind: NetKind::Socket,
        },
        Request::Connect {
            host: "evil.net",
            port: 443,
            kind: NetKind::Http,
        },
        Request::Publish("orders.eu.created"),
        Request::Subscribe("orders.*"),
        Request::KeyValue("cache"),
        Request::Custom("nope"),
    ];
    // Warm up: the glob engine fills its caches on first use.
    let expected: Vec<bool> = requests
        .iter()
        .map(|r| caps.allows(r).is_allowed())
        .collect();
    assert_eq!(
        expected,
        [
            true, true, false, true, true, false, false, true, true, false, true, true, true, false
        ]
    );
    let before = allocations();
    let mut allowed = 0;
    for _ in 0..100 {
        for r in &requests {
            allowed += usize::from(caps.allows(r).is_allowed());
        }
    }
    let after = allocations();
    assert_eq!(allowed, 900);
    assert_eq!(after - before, 0, "allows() allocated");
}

#[test]
fn numeric_spellings_and_connect_checks_do_not_allocate() {
    let mut caps = CapabilitySet::new()
        .with(Capability::network(
            HostPattern::new("*:80").unwrap(),
            NetKind::Http,
        ))
        .with(Capability::network(
            HostPattern::new("localhost:*").unwrap(),
            NetKind::Http,
        ));
    caps.forbid(Capability::network(
        HostPattern::new("169.254.0.0/16:*").unwrap(),
        NetKind::Http,
    ));
    let hosts = [
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "[::ffff:169.254.169.254]",
        "::ffff:a9fe:a9fe",
        "example.com.",
    ];
    let addr: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    let local = Request::Connect {
        host: "localhost",
        port: 8080,
        kind: NetKind::Http,
    };
    let before = allocations();
    let mut allowed = 0;
    for _ in 0..100 {
        for host in hosts {
            let r = Request::Connect {
                host,
                port: 80,
                kind: NetKind::Http,
            };
            allowed += usize::from(caps.allows(&r).is_allowed());
        }
        allowed += usize::from(caps.allows_connection(&local, addr).is_allowed());
    }
    let after = allocations();
    assert_eq!(allowed, 200);
    assert_eq!(after - before, 0, "the checks allocated");
}
