//! Exports that attack the host's limits. Each must fail its own call with
//! a typed error while the host keeps running.

use std::hint::black_box;

wit_bindgen::generate!({ path: "../wit/test.wit", world: "hostile" });

struct Hostile;

static mut HOARD: Vec<Vec<u8>> = Vec::new();

#[allow(unconditional_recursion)]
fn recurse_inner(depth: u64) -> u64 {
    // Not a tail call: the addition happens after the recursive call returns.
    black_box(recurse_inner(black_box(depth + 1))) + 1
}

impl Guest for Hostile {
    fn spin() -> u32 {
        let mut n: u32 = 0;
        loop {
            n = black_box(n.wrapping_add(1));
        }
    }

    fn grow_memory() -> u32 {
        loop {
            let block = vec![black_box(1u8); 1024 * 1024];
            // SAFETY: guests are single-threaded.
            unsafe { (*std::ptr::addr_of_mut!(HOARD)).push(block) };
        }
    }

    fn recurse(depth: u64) -> u64 {
        recurse_inner(depth)
    }

    fn crash() -> u32 {
        panic!("the hostile guest crashes on purpose")
    }

    fn huge_string(mib: u32) -> String {
        "x".repeat(mib as usize * 1024 * 1024)
    }

    fn ok() -> u32 {
        42
    }
}

export!(Hostile);
