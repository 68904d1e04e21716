//! Differential testing of the two backends: `wasm-smith` generates valid
//! modules exporting `run: () -> i32` and a memory; each runs
//!
//! - wrapped as a component (world `fuzz { export run: func() -> s32; }`)
//!   through airssys-wasm on the wasmtime and the wasmi backend: the result,
//!   or the class and message of the error, must agree;
//! - as the same core module on the raw engines underneath, with fuel: the
//!   result or trap and the final contents of memory must agree (our
//!   component API does not expose a guest's memory, so memory is compared
//!   there).
//!
//! Fuel accounting differs a little between the engines, as does the depth
//! at which a stack overflows, so a case where only one side ran out of fuel
//! or stack is re-run with 100 times the fuel and otherwise counted as
//! inconclusive; at most 5% of cases may be.
//!
//! `AIRSSYS_FUZZ_CASES=N` sets the number of cases (default 200) and
//! `AIRSSYS_FUZZ_SEED=S` the first seed (default 0); `cargo xtask fuzz
//! --cases N --seed S` runs this file in release mode, with the fuzz
//! targets of `tests/suite/fuzz/`.
#![cfg(all(feature = "wasmtime", feature = "wasmi"))]

use crate::common;

use std::hash::{Hash, Hasher};

use airssys_wasm::{BackendKind, ErrorClass, Limits, LoadOptions, MIB, Runtime};
use airssys_wasm::{wasmi_backend::wasmi, wasmtime_backend::wasmtime};

const TEMPLATE: &str =
    r#"(module (func (export "run") (result i32) unreachable) (memory (export "memory") 1))"#;
const FUEL: u64 = 200_000;

fn cases() -> u64 {
    std::env::var("AIRSSYS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn first_seed() -> u64 {
    std::env::var("AIRSSYS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Deterministic bytes for case `seed` (xorshift64*).
fn entropy(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

fn config() -> wasm_smith::Config {
    wasm_smith::Config {
        exports: Some(wat::parse_str(TEMPLATE).unwrap()),
        max_imports: 0,
        allow_start_export: false,
        // What both engines run the same way: no SIMD (the wasmi backend
        // is built without it), no GC, exceptions, threads or memory64, and
        // NaNs canonicalised (their bit patterns may differ by engine).
        simd_enabled: false,
        relaxed_simd_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        memory64_enabled: false,
        reference_types_enabled: false,
        wide_arithmetic_enabled: false,
        canonicalize_nans: true,
        max_memory32_bytes: 16 * MIB,
        max_instructions: 300,
        ..wasm_smith::Config::default()
    }
}

/// The module of case `seed`, if the entropy makes one.
fn module(seed: u64) -> Option<Vec<u8>> {
    let bytes = entropy(seed, 8192);
    let mut u = arbitrary::Unstructured::new(&bytes);
    wasm_smith::Module::new(config(), &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

fn component(module: &[u8]) -> Vec<u8> {
    common::component_of(
        "package airssys:fuzz;\nworld fuzz { export run: func() -> s32; }",
        "fuzz",
        module,
    )
}

/// What a call came to.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Value(i32),
    Failed(ErrorClass, String),
}

impl Outcome {
    fn resource_bound(&self) -> bool {
        matches!(
            self,
            Outcome::Failed(ErrorClass::OutOfFuel | ErrorClass::StackOverflow, _)
        )
    }
}

fn through(rt: &Runtime, component: &[u8], fuel: u64) -> Outcome {
    let limits = Limits::default()
        .with_fuel(fuel)
        .with_memory_bytes(64 * MIB);
    let result = rt
        .load(
            component.to_vec(),
            LoadOptions::new().name("fuzz").limits(limits),
        )
        .and_then(|c| c.instantiate())
        .and_then(|mut i| i.call("run", &[]));
    match result {
        Ok(v) => match v.as_slice() {
            [airssys_wasm::Value::S32(x)] => Outcome::Value(*x),
            other => panic!("run returned {other:?}"),
        },
        // Fuel and stack errors carry the engine's own counts; the class
        // is what must agree.
        Err(e) if matches!(e.class(), ErrorClass::OutOfFuel | ErrorClass::StackOverflow) => {
            Outcome::Failed(e.class(), String::new())
        }
        Err(e) => Outcome::Failed(e.class(), e.to_string()),
    }
}

/// A raw engine's outcome and a digest of the final memory.
#[derive(Debug, PartialEq)]
struct Raw {
    outcome: Result<i32, String>,
    memory: Option<u64>,
}

impl Raw {
    fn resource_bound(&self) -> bool {
        matches!(&self.outcome, Err(t) if t == "OutOfFuel" || t == "StackOverflow")
    }
}

fn digest(bytes: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn raw_wasmtime(module: &[u8], fuel: u64) -> Raw {
    use wasmtime::{Config, Engine, Instance, Module, Store, Trap};
    let engine = Engine::new(Config::new().consume_fuel(true)).unwrap();
    let module = Module::new(&engine, module).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(fuel).unwrap();
    let trap = |e: wasmtime::Error| match e.downcast_ref::<Trap>() {
        Some(t) => format!("{t:?}"),
        None => format!("{e:#}"),
    };
    let instance = match Instance::new(&mut store, &module, &[]) {
        Ok(i) => i,
        Err(e) => {
            return Raw {
                outcome: Err(trap(e)),
                memory: None,
            };
        }
    };
    let run = instance
        .get_typed_func::<(), i32>(&mut store, "run")
        .unwrap();
    let outcome = run.call(&mut store, ()).map_err(trap);
    let memory = instance
        .get_memory(&mut store, "memory")
        .map(|m| digest(m.data(&store)));
    Raw { outcome, memory }
}

fn raw_wasmi(module: &[u8], fuel: u64) -> Raw {
    use wasmi::{Config, Engine, Instance, Module, Store};
    let mut config = Config::default();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, module).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(fuel).unwrap();
    // Segments that do not fit are instantiation errors in wasmi and
    // traps in wasmtime: name them as wasmtime does.
    let trap = |e: wasmi::Error| {
        use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
        match (e.as_trap_code(), e.kind()) {
            (Some(t), _) => format!("{t:?}"),
            (_, ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. }))
            | (_, ErrorKind::Table(TableError::InitOutOfBounds)) => "TableOutOfBounds".into(),
            (_, ErrorKind::Memory(MemoryError::OutOfBoundsAccess)) => "MemoryOutOfBounds".into(),
            _ => e.to_string(),
        }
    };
    let instance = match Instance::new(&mut store, &module, &[]) {
        Ok(i) => i,
        Err(e) => {
            return Raw {
                outcome: Err(trap(e)),
                memory: None,
            };
        }
    };
    let run = instance.get_typed_func::<(), i32>(&store, "run").unwrap();
    let outcome = run.call(&mut store, ()).map_err(trap);
    let memory = instance
        .get_memory(&store, "memory")
        .map(|m| digest(m.data(&store)));
    Raw { outcome, memory }
}

#[test]
fn generated_modules_behave_the_same_on_both_backends() {
    let wasmtime_rt = Runtime::builder()
        .backend(BackendKind::Wasmtime)
        .build()
        .unwrap();
    let wasmi_rt = Runtime::builder()
        .backend(BackendKind::Wasmi)
        .build()
        .unwrap();
    let (mut ran, mut inconclusive, mut values) = (0u64, 0u64, 0u64);
    let first = first_seed();
    for seed in first..first.saturating_add(cases()) {
        let Some(module) = module(seed) else {
            continue;
        };
        ran += 1;
        let comp = component(&module);

        // Through airssys-wasm.
        let mut a = through(&wasmtime_rt, &comp, FUEL);
        let mut b = through(&wasmi_rt, &comp, FUEL);
        if a != b && (a.resource_bound() || b.resource_bound()) {
            a = through(&wasmtime_rt, &comp, FUEL * 100);
            b = through(&wasmi_rt, &comp, FUEL * 100);
        }
        if a != b && (a.resource_bound() || b.resource_bound()) {
            inconclusive += 1;
            continue;
        }
        assert_eq!(
            a,
            b,
            "case {seed}: wasmtime vs wasmi through airssys-wasm\n{}",
            wasmprinter::print_bytes(&module).unwrap_or_default()
        );
        values += u64::from(matches!(a, Outcome::Value(_)));

        // The raw engines, with the final memory.
        let mut x = raw_wasmtime(&module, FUEL);
        let mut y = raw_wasmi(&module, FUEL);
        if x != y && (x.resource_bound() || y.resource_bound()) {
            x = raw_wasmtime(&module, FUEL * 100);
            y = raw_wasmi(&module, FUEL * 100);
        }
        if x != y && (x.resource_bound() || y.resource_bound()) {
            inconclusive += 1;
            continue;
        }
        assert_eq!(
            x, y,
            "case {seed}: raw wasmtime vs raw wasmi (result, memory)"
        );
    }
    eprintln!("{ran} modules, {values} returned a value, {inconclusive} inconclusive");
    assert!(
        ran >= cases() / 2,
        "only {ran} of {} seeds made a module",
        cases()
    );
    assert!(
        inconclusive * 20 <= ran,
        "{inconclusive} of {ran} cases were inconclusive (fuel or stack)"
    );
}
