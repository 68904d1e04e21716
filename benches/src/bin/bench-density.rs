//! How much memory an idle instance costs: creates N instances of the
//! `values` guest, keeps them alive, and reports the growth of this
//! process's resident set per instance, as one JSON line on stdout.
//!
//! ```text
//! bench-density SUBJECT [N]
//! ```
//!
//! SUBJECT is `ours-wasmtime` (airssys-wasm on wasmtime, allocating on
//! demand), `ours-wasmi` (airssys-wasm on wasmi), `raw-wasmtime` (wasmtime
//! `InstancePre`, our engine configuration) or `raw-wasmi` (the guest's
//! core module on wasmi, one store each). N defaults to 2000. Run each subject in a process of its
//! own (`cargo xtask bench` does): the measure is the process's RSS.

use std::hint::black_box;
use std::process::ExitCode;

use airssys_wasm::Runtime;
use airssys_wasm_backend_wasmtime::wasmtime::component::{Component, Linker};
use airssys_wasm_backend_wasmtime::{WasmtimeBackend, WasmtimeConfig};
use airssys_wasm_benches::{
    core_module, guest, load_with_grants, rss_bytes, same_engine, same_store, trapping_linker,
};

/// Makes `n` more instances (after one to warm up) and returns the RSS
/// growth they caused, in bytes.
fn grow<T>(n: usize, mut make: impl FnMut() -> T) -> u64 {
    let mut live = vec![make()];
    let before = rss_bytes().expect("reading /proc/self/statm");
    live.reserve(n);
    for _ in 0..n {
        live.push(make());
    }
    let after = rss_bytes().expect("reading /proc/self/statm");
    black_box(&live);
    after.saturating_sub(before)
}

fn measure(subject: &str, n: usize) -> Result<u64, String> {
    Ok(match subject {
        "ours-wasmtime" => {
            let runtime = Runtime::builder().build().map_err(|e| e.to_string())?;
            let component = load_with_grants(&runtime, "values");
            grow(n, || component.instantiate().expect("instantiating"))
        }
        "ours-wasmi" => {
            let runtime = Runtime::builder()
                .backend(airssys_wasm::BackendKind::Wasmi)
                .build()
                .map_err(|e| e.to_string())?;
            let component = load_with_grants(&runtime, "values");
            grow(n, || component.instantiate().expect("instantiating"))
        }
        "raw-wasmtime" => {
            let backend = WasmtimeBackend::with_config(WasmtimeConfig::default())
                .map_err(|e| e.to_string())?;
            let engine = same_engine(&backend);
            let component =
                Component::from_file(engine, guest("values")).map_err(|e| e.to_string())?;
            let pre = Linker::<()>::new(engine)
                .instantiate_pre(&component)
                .map_err(|e| e.to_string())?;
            grow(n, || {
                let mut store = same_store(engine, ());
                let instance = pre.instantiate(&mut store).expect("instantiating");
                (store, instance)
            })
        }
        "raw-wasmi" => {
            let engine = wasmi::Engine::default();
            let bytes = std::fs::read(core_module("values")).map_err(|e| e.to_string())?;
            let module = wasmi::Module::new(&engine, &bytes).map_err(|e| e.to_string())?;
            let linker = trapping_linker(&engine, &module);
            grow(n, || {
                let mut store = wasmi::Store::new(&engine, ());
                let instance = linker
                    .instantiate_and_start(&mut store, &module)
                    .expect("instantiating");
                (store, instance)
            })
        }
        other => {
            return Err(format!(
                "unknown subject `{other}`: use ours-wasmtime, ours-wasmi, raw-wasmtime or \
                 raw-wasmi"
            ));
        }
    })
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let subject = args.next().unwrap_or_default();
    let n = match args.next().map(|a| a.parse::<usize>()) {
        None => 2000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("bench-density: N must be a positive number");
            return ExitCode::from(2);
        }
    };
    match measure(&subject, n) {
        Ok(growth) => {
            println!(
                "{{\"subject\": \"{subject}\", \"instances\": {n}, \"rss_growth_bytes\": {growth}}}"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-density: {e}");
            ExitCode::FAILURE
        }
    }
}
