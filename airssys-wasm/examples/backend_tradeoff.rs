//! Start-up, call speed and memory of the two backends on the same
//! component, measured in one run: the numbers behind the README's "Which
//! backend" table.
//!
//! ```sh
//! cargo xtask guests
//! cargo run --release -p airssys-wasm --features wasmtime,wasmi --example backend_tradeoff
//! ```

use std::time::{Duration, Instant};

use airssys_wasm::{BackendKind, LoadOptions, Runtime, Value};

fn guest(name: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run `cargo xtask guests`",
        p.display()
    );
    p
}

/// Resident memory of this process, in KiB (Linux).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

fn per(d: Duration, n: u32) -> String {
    let ns = d.as_nanos() as f64 / f64::from(n);
    if ns >= 1_000_000.0 {
        format!("{:.2} ms", ns / 1_000_000.0)
    } else if ns >= 1_000.0 {
        format!("{:.1} µs", ns / 1_000.0)
    } else {
        format!("{ns:.0} ns")
    }
}

fn main() -> airssys_wasm::Result<()> {
    println!(
        "| backend | load (compile) | instantiate | `add` call | 64 KiB `list<u8>` echo | memory per idle instance |"
    );
    println!("|---|---|---|---|---|---|");
    for &kind in BackendKind::ALL {
        let rt = Runtime::builder().backend(kind).build()?;
        let bytes = std::fs::read(guest("values")).expect("values guest");
        let loads = 5;
        let t = Instant::now();
        let mut component = None;
        for _ in 0..loads {
            component = Some(rt.load(bytes.clone(), LoadOptions::new().name("values"))?);
        }
        let load = per(t.elapsed(), loads);
        let component = component.expect("loaded");

        let n = 200;
        let before = rss_kib();
        let t = Instant::now();
        let mut idle = Vec::with_capacity(n as usize);
        for _ in 0..n {
            idle.push(component.instantiate()?);
        }
        let inst = per(t.elapsed(), n);
        let kib = (rss_kib().saturating_sub(before)) / u64::from(n);
        drop(idle);

        let mut i = component.instantiate()?;
        let add = i.func("add")?;
        let args = [Value::from(40u32), Value::from(2u32)];
        let calls = 20_000;
        let t = Instant::now();
        for _ in 0..calls {
            i.call_func(&add, &args)?;
        }
        let call = per(t.elapsed(), calls);

        let echo = i.func("echo-bytes")?;
        let data = [Value::List(vec![Value::U8(7); 64 * 1024])];
        let rounds = 20;
        let t = Instant::now();
        for _ in 0..rounds {
            i.call_func(&echo, &data)?;
        }
        let bytes_call = per(t.elapsed(), rounds);
        println!("| {kind} | {load} | {inst} | {call} | {bytes_call} | {kib} KiB |");
    }
    Ok(())
}
