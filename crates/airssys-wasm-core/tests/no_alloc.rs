//! `CapabilitySet::allows` must not allocate: it runs on every host call.
//! A counting global allocator proves it for every request kind, allowed
//! and denied, including paths that need normalising.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use airssys_wasm_core::capability::{
    FileOp, FileRights, HostPattern, KvQuota, NetKind, PathGlob, TopicPattern,
};
use airssys_wasm_core::{Capability, CapabilitySet, Request};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measuring thread counts: the test harness's own threads
    /// allocate when they like (a loaded machine makes them report slow
    /// tests, say).
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

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
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    let mut allowed = 0;
    for _ in 0..100 {
        for r in &requests {
            allowed += usize::from(caps.allows(r).is_allowed());
        }
    }
    COUNTING.with(|c| c.set(false));
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(allowed, 900);
    assert_eq!(after - before, 0, "allows() allocated");
}
