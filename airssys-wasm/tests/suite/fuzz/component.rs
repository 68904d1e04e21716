//! Target 3: reading components (`ComponentInfo::parse`) and loading them
//! (`Runtime::load`, then `Component::instantiate`) on both backends.
//!
//! Inputs: the guests built by `cargo xtask guests` (those under 160 KB)
//! and small components built here from WAT, mutated: bytes flipped, set,
//! inserted, deleted and copied, and whole top-level sections removed,
//! repeated, swapped or taken from another component; and components
//! generated from a template whose import and export names and types are
//! drawn from every form the Component Model's names take (plain, interface,
//! `[method]`, `[constructor]`, `[static]`, `url=`, `integrity=`, `dep=`
//! forms), the names `wit-parser`'s decoder reads.
//!
//! Property: nothing panics; `parse` fails only with `InvalidComponent`;
//! `load` and `instantiate` fail only with a typed error of the classes
//! they document (`InvalidComponent`, `MissingImport`; limits and traps for
//! a start function). Where the backends disagree on whether a component
//! loads, the case is counted and the first few are printed, not failed:
//! wasmtime's validation of a component and the wasmi backend's
//! translation are different code.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use airssys_wasm::{
    BackendKind, ComponentInfo, Error, ErrorClass, Limits, LoadOptions, MIB, Runtime,
};

use crate::common;
use crate::fuzz::harness::{self, Outcomes, Rng};

/// Guests larger than this are left out (they make each case slow in a
/// debug build; their shape is the same as the small ones').
const MAX_GUEST: u64 = 160 * 1024;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests");
    let mut guests: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask guests`", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_GUEST))
        .collect();
    guests.sort();
    assert!(
        guests.len() >= 5,
        "too few guests in {}: run `cargo xtask guests`",
        dir.display()
    );
    let mut out: Vec<Vec<u8>> = guests.iter().map(|p| std::fs::read(p).unwrap()).collect();
    out.push(common::component_of(
        "package airssys:fuzz;\nworld fuzz { export run: func() -> s32; }",
        "fuzz",
        r#"(module (func (export "run") (result i32) i32.const 7) (memory (export "memory") 1))"#,
    ));
    out.push(common::component_of(RICH_WIT, "rich", RICH_MODULE));
    out.push(wat::parse_str(HAND_WRITTEN).unwrap());
    // Valid, but the WIT decoder panics on it (contained as
    // InvalidComponent): the Component Model's validation/extern-names.wast.
    out.push(wat::parse_str(EXTERN_NAMES).unwrap());
    out
}

/// A world with an imported interface, a resource and rich types.
const RICH_WIT: &str = r#"package airssys:fuzz;
interface host {
  record point { x: s32, y: s32, label: string }
  variant shape { dot(point), line(list<point>), none }
  flags mode { read, write, exec }
  enum color { red, green, blue }
  log: func(msg: string, level: u8);
  resource counter { constructor(start: u64); next: func() -> u64; }
}
world rich {
  import host;
  use host.{point, shape, mode, color};
  export pick: func(s: shape, m: mode, c: color) -> result<option<point>, string>;
  export chars: func(c: char, s: list<string>) -> tuple<char, f64>;
}
"#;

const RICH_MODULE: &str = r#"(module
  (import "airssys:fuzz/host" "log" (func (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    global.get $heap
    local.set $p
    global.get $heap
    local.get 3
    i32.add
    global.set $heap
    local.get $p)
  (func (export "pick") (param i32 i32 i32 i32 i32 i32 i32) (result i32) i32.const 64)
  (func (export "chars") (param i32 i32 i32) (result i32) i32.const 64)
)"#;

/// A component written by hand: nested component, aliases, an instance
/// import and export, a type export.
const HAND_WRITTEN: &str = r#"(component
  (import "a:b/c" (instance $c (export "f" (func (param "x" u32) (result u32)))))
  (type $r (record (field "a" u8) (field "b" string)))
  (export "r" (type $r))
  (component $inner
    (import "g" (func $g (param "x" u32) (result u32)))
    (export "g2" (func $g))
  )
  (instance $i (instantiate $inner (with "g" (func $c "f"))))
  (export "a:b/d" (instance $i))
)"#;

/// Plain functions imported under interface names.
const EXTERN_NAMES: &str = r#"(component
  (import "wasi:http/types" (func))
  (import "wasi:http/types@1.0.0" (func))
  (import "wasi:http/types@2.0.0" (func))
  (import "a-b:c-d/e-f@123456.7890.488" (func))
  (import "a:b/c@0.0.0-abcd.1.2+efg.4.ee.5" (func))
)"#;

/// The names an import or export may be given: each form the Component
/// Model defines, and near misses.
const NAMES: &[&str] = &[
    "f",
    "run",
    "a-b",
    "a:b/c",
    "a:b/c@1.0.0",
    "a:b/c@1.0.0-rc.1+build",
    "wasi:cli/run@0.2.6",
    "a:b/c#d",
    "[method]r.m",
    "[constructor]r",
    "[static]r.s",
    "[resource-drop]r",
    "url=<https://example.com/x>",
    "integrity=<sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=>",
    "locked-dep=<a:b@1.0.0>",
    "unlocked-dep=<a:b@{>=1.0.0}>",
    "A",
    "%f",
    "a:b",
    "a/b",
    "r",
];

const TYPES: &[&str] = &[
    "u32",
    "string",
    "(list u8)",
    "(option string)",
    "(result u32 (error string))",
    "(tuple char f64)",
    "(flags \"a\" \"b\")",
    "(enum \"x\" \"y\")",
    "(variant (case \"p\" u8) (case \"q\"))",
    "(record (field \"a\" u8))",
];

/// A component from the template: imports of functions, instances and
/// resource types under random names, and exports of lifted functions,
/// instances and types under random names.
fn generated(rng: &mut Rng) -> Vec<u8> {
    let mut w = String::from("(component\n");
    let n_imports = rng.range(0, 3);
    for i in 0..n_imports {
        let name = rng.pick(NAMES);
        let item = match rng.below(4) {
            0 => format!("(func $imp{i} (param \"x\" {}))", rng.pick(TYPES)),
            1 => format!(
                "(instance $imp{i} (export {:?} (func (result {}))))",
                rng.pick(NAMES),
                rng.pick(TYPES)
            ),
            2 => format!("(type $imp{i} (sub resource))"),
            _ => format!("(func $imp{i})"),
        };
        w.push_str(&format!("  (import {name:?} {item})\n"));
    }
    w.push_str(
        r#"  (core module $m
    (memory (export "memory") 1)
    (func (export "f") (result i32) i32.const 0)
    (func (export "g"))
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 64)
  )
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (func $g (canon lift (core func $i "g")))
  (func $s (result string) (canon lift (core func $i "f") (memory $i "memory") (realloc (func $i "cabi_realloc"))))
"#,
    );
    for k in 0..rng.range(0, 3) {
        let name = rng.pick(NAMES);
        let item = match rng.below(5) {
            0 => "(func $f)".to_owned(),
            1 => "(func $g)".to_owned(),
            2 => "(func $s)".to_owned(),
            3 => {
                w.push_str(&format!("  (type $t{k} {})\n", rng.pick(TYPES)));
                format!("(type $t{k})")
            }
            _ => {
                w.push_str(&format!(
                    "  (instance $e{k} (export {:?} (func $f)))\n",
                    rng.pick(NAMES)
                ));
                format!("(instance $e{k})")
            }
        };
        w.push_str(&format!("  (export {name:?} {item})\n"));
    }
    w.push(')');
    // A template that does not assemble (a name `wat` refuses) is a case
    // of an empty input: still parsed, and refused.
    wat::parse_str(&w).unwrap_or_default()
}

/// The top-level sections of a component: each whole (id, size, content).
fn sections(bytes: &[u8]) -> Option<Vec<Range<usize>>> {
    let mut out = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let start = at;
        at += 1;
        let (mut size, mut shift) = (0usize, 0);
        loop {
            let b = *bytes.get(at)?;
            at += 1;
            size |= usize::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
            if shift > 28 {
                return None;
            }
        }
        at = at.checked_add(size).filter(|e| *e <= bytes.len())?;
        out.push(start..at);
    }
    Some(out)
}

fn mutate_sections(rng: &mut Rng, bytes: &mut Vec<u8>, donor: &[u8]) {
    let (Some(mine), Some(theirs)) = (sections(bytes), sections(donor)) else {
        return;
    };
    if mine.is_empty() {
        return;
    }
    let pick = |rng: &mut Rng| mine[rng.below(mine.len())].clone();
    match rng.below(4) {
        0 => {
            let s = pick(rng);
            bytes.drain(s);
        }
        1 => {
            let s = pick(rng);
            let copy = bytes[s.clone()].to_vec();
            let at = pick(rng).start;
            bytes.splice(at..at, copy);
        }
        2 => {
            let (a, b) = (pick(rng), pick(rng));
            let (first, second) = if a.start <= b.start { (a, b) } else { (b, a) };
            if first.end <= second.start {
                let mut out = bytes[..first.start].to_vec();
                out.extend_from_slice(&bytes[second.clone()]);
                out.extend_from_slice(&bytes[first.end..second.start]);
                out.extend_from_slice(&bytes[first.clone()]);
                out.extend_from_slice(&bytes[second.end..]);
                *bytes = out;
            }
        }
        _ if !theirs.is_empty() => {
            let s = pick(rng);
            let other = theirs[rng.below(theirs.len())].clone();
            bytes.splice(s, donor[other].iter().copied());
        }
        _ => {}
    }
}

fn generate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    if rng.one_in(3) {
        let mut bytes = generated(rng);
        if rng.one_in(3) {
            harness::mutate_bytes(rng, &mut bytes, &[]);
        }
        return bytes;
    }
    let mut bytes = rng.pick(corpus).clone();
    let donor = rng.pick(corpus);
    for _ in 0..rng.range(1, 4) {
        if rng.one_in(4) {
            mutate_sections(rng, &mut bytes, donor);
        } else {
            harness::mutate_bytes(rng, &mut bytes, donor);
        }
    }
    bytes
}

fn class_name(e: &Error) -> String {
    format!("{:?}", e.class())
}

/// Loads and instantiates `bytes` on `rt`: `Ok(true)` if it loaded,
/// `Ok(false)` if refused with a typed error of the right class.
fn load(
    rt: &Runtime,
    backend: &str,
    bytes: &[u8],
    outcomes: &mut Outcomes,
) -> Result<bool, String> {
    let limits = Limits::default()
        .with_fuel(1_000_000)
        .with_memory_bytes(64 * MIB)
        .with_timeout(std::time::Duration::from_secs(2));
    // `check` (all of load's checks but the imports) fails only as an
    // invalid component, and accepts whatever loads.
    let checked = match rt.check(bytes.to_vec()) {
        Ok(_) => true,
        Err(e) if e.class() == ErrorClass::InvalidComponent => false,
        Err(e) => return Err(format!("{backend}: check failed with {:?}: {e}", e.class())),
    };
    let component = match rt.load(
        bytes.to_vec(),
        LoadOptions::new().name("fuzz").limits(limits),
    ) {
        Ok(_) if !checked => {
            return Err(format!("{backend}: loaded a component `check` refused"));
        }
        Ok(c) => c,
        Err(e) => {
            outcomes.count(format!("{backend}-load-{}", class_name(&e)));
            return match e.class() {
                ErrorClass::InvalidComponent | ErrorClass::MissingImport => Ok(false),
                _ => Err(format!("{backend}: load failed with {:?}: {e}", e.class())),
            };
        }
    };
    outcomes.count(format!("{backend}-loaded"));
    match component.instantiate() {
        Ok(_) => outcomes.count(format!("{backend}-instantiated")),
        Err(e) => {
            outcomes.count(format!("{backend}-instantiate-{}", class_name(&e)));
            // A start function may trap or hit a limit; the host's own
            // failures (`Io`: the backend) are not what a bad component
            // should cause.
            if matches!(e.class(), ErrorClass::Io) {
                return Err(format!("{backend}: instantiation failed in the host: {e}"));
            }
        }
    }
    Ok(true)
}

static DIVERGENCES_SHOWN: AtomicUsize = AtomicUsize::new(0);

#[test]
fn components_parse_and_load_without_panics() {
    let corpus = corpus();
    let wasmtime = Runtime::builder()
        .backend(BackendKind::Wasmtime)
        .build()
        .unwrap();
    let wasmi = Runtime::builder()
        .backend(BackendKind::Wasmi)
        .build()
        .unwrap();
    let outcomes = harness::run(
        "component",
        150,
        |rng| generate(rng, &corpus),
        |bytes| bytes.clone(),
        |bytes, outcomes| {
            match ComponentInfo::parse(bytes) {
                Ok(_) => outcomes.count("parsed"),
                Err(Error::InvalidComponent(_)) => outcomes.count("parse-InvalidComponent"),
                Err(e) => return Err(format!("parse failed with a {:?}: {e}", e.class())),
            }
            let a = load(&wasmtime, "wasmtime", bytes, outcomes)?;
            let b = load(&wasmi, "wasmi", bytes, outcomes)?;
            if a != b {
                outcomes.count("backends-disagree-on-load");
                if DIVERGENCES_SHOWN.fetch_add(1, Ordering::Relaxed) < 3 {
                    let why = |rt: &Runtime| {
                        rt.load(bytes.clone(), LoadOptions::new().name("fuzz"))
                            .err()
                            .map_or("loads".to_owned(), |e| e.to_string())
                    };
                    eprintln!(
                        "component: the backends disagree on a {}-byte component: wasmtime: {}; wasmi: {}",
                        bytes.len(),
                        why(&wasmtime),
                        why(&wasmi)
                    );
                }
            }
            Ok(())
        },
    );
    if harness::cases(150) >= 100 {
        assert!(outcomes.get("parsed") > 0, "no mutated component was valid");
    }
}
