//! A typed call of scalars takes the backend's own typed path: with the
//! default audit sink (no subscriber, so no call events), it allocates
//! nothing on any backend. A typed call of a byte list copies the bytes,
//! not one `Value` per byte. A counting allocator proves both; a call
//! through `Value`s would allocate its argument and result vectors.

#[path = "suite/common.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use airssys_wasm::{LoadOptions, Runtime};

struct Counting;

thread_local! {
    /// Allocations made by this thread (the runtime's own threads, such as
    /// wasmtime's epoch ticker, are not counted).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread allocated.
    static BYTES: Cell<usize> = const { Cell::new(0) };
}

fn count(size: usize) {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|c| c.set(c.get() + size));
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// bookkeeping around it touches no allocation.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn typed_scalar_calls_allocate_nothing_on_any_backend() {
    common::each_backend(|kind| {
        let rt = Runtime::builder().backend(kind).build().unwrap();
        let c = common::load(&rt, "values", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let add = i.typed::<(u32, u32), (u32,)>("add").unwrap();
        let echo = i.typed::<(char,), (char,)>("echo-char").unwrap();
        // The first calls may set up what the engine keeps for later ones.
        assert_eq!(i.call_typed(&add, (1, 2)).unwrap(), (3,));
        assert_eq!(i.call_typed(&echo, ('ß',)).unwrap(), ('ß',));
        let before = allocations();
        for n in 0..100u32 {
            assert_eq!(i.call_typed(&add, (n, 1)).unwrap(), (n + 1,));
            assert_eq!(i.call_typed(&echo, ('ß',)).unwrap(), ('ß',));
        }
        assert_eq!(
            allocations() - before,
            0,
            "allocations in 200 typed calls on {kind}"
        );
        // The same export called with values allocates: the count sees it.
        let before = allocations();
        i.call("add", &[1u32.into(), 2u32.into()]).unwrap();
        assert!(allocations() > before);
    });
}

#[test]
fn typed_byte_lists_and_strings_are_copied_not_converted_value_by_value() {
    common::each_backend(|kind| {
        let rt = Runtime::builder().backend(kind).build().unwrap();
        let c = common::load(&rt, "values", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let echo = i.typed::<(Vec<u8>,), (Vec<u8>,)>("echo-bytes").unwrap();
        let text = i.typed::<(String,), (String,)>("echo-string").unwrap();
        let data = vec![7u8; 64 * 1024];
        let s = "x".repeat(64 * 1024);
        assert_eq!(i.call_typed(&echo, (data.clone(),)).unwrap().0, data);
        assert_eq!(i.call_typed(&text, (s.clone(),)).unwrap().0, s);
        let bytes = || BYTES.with(Cell::get);
        let before = bytes();
        let out = i.call_typed(&echo, (data.clone(),)).unwrap();
        let out2 = i.call_typed(&text, (s.clone(),)).unwrap();
        let used = bytes() - before;
        assert_eq!((out.0.len(), out2.0.len()), (data.len(), s.len()));
        // Each call: the caller's copy and the result (64 KiB each). One
        // `Value` per byte would be over 2 MiB per direction.
        assert!(
            used <= 4 * 64 * 1024 + 4096,
            "{used} bytes allocated on {kind}"
        );
    });
}
