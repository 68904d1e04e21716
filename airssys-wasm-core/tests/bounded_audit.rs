//! A capability decision about a huge request records a capped request and
//! never builds the request's full text: a counting allocator watches the
//! largest allocation made while 50 MiB namespaces are decided on.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use airssys_wasm_core::audit::MAX_AUDIT_TEXT;
use airssys_wasm_core::{
    AuditKind, CallContext, CapabilitySet, Decision, HostError, MemorySink, Request,
};

struct Largest;

static WATCHING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; the
// bookkeeping around it touches no allocation.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHING.load(Ordering::SeqCst) {
            LARGEST.fetch_max(layout.size(), Ordering::SeqCst);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if WATCHING.load(Ordering::SeqCst) {
            LARGEST.fetch_max(new_size, Ordering::SeqCst);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

// One test in this binary: the allocator's watch is process-wide.
#[test]
fn a_50_mib_namespace_is_recorded_capped_without_building_it() {
    let namespace = "n".repeat(50 << 20);
    let memory = MemorySink::new();
    let component: Arc<str> = "greedy".into();
    let caps = CapabilitySet::new();
    let cx = CallContext::new(&component, &caps, &memory);

    WATCHING.store(true, Ordering::SeqCst);
    let decision = cx.decide(
        Request::KeyValue(&namespace),
        "the guest gets error::denied",
    );
    let required = cx.require(Request::KeyValue(&namespace));
    WATCHING.store(false, Ordering::SeqCst);
    let largest = LARGEST.load(Ordering::SeqCst);

    assert_eq!(decision.unwrap(), Decision::Denied);
    let Err(HostError::Denied { request, .. }) = required else {
        panic!("{required:?}")
    };
    assert!(request.len() <= MAX_AUDIT_TEXT, "{}", request.len());
    assert!(
        largest < 64 << 10,
        "deciding allocated {largest} bytes at once"
    );
    let events = memory.events();
    assert_eq!(events.len(), 2);
    for e in events {
        let AuditKind::CapabilityDenied { request, .. } = e.kind else {
            panic!("{:?}", e.kind)
        };
        assert!(request.len() <= MAX_AUDIT_TEXT, "{}", request.len());
        let (kept, marker) = request.split_once('…').expect("the cut is marked");
        assert!(kept.starts_with("kv nnnn"), "{kept}");
        assert_eq!(
            marker,
            format!("[cut {} bytes]", "kv ".len() + namespace.len() - kept.len())
        );
    }
}
