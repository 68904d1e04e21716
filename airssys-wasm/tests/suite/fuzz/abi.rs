//! Target 4: the wasmi backend's canonical ABI lifting guest memory
//! (`abi.rs`: `Cx::lift_flat`, `load_value`, `lift_list`, `lift_string`),
//! with wasmtime's lifting of the same memory as the reference.
//!
//! A component built here exports functions `f(data: list<u8>) -> T` for
//! rich result types `T` (records, variants, lists of strings, options,
//! results, flags, enums, chars, floats). Each copies `data` into its
//! memory at `BASE` and returns the first four bytes of it: a flat result
//! itself, or the pointer to the result area. The fuzzer writes `data` as
//! the canonical ABI encoding of a random value of `T` (pointers into the
//! copy at `BASE`), then mutates it: bytes, and words replaced with
//! pointers and lengths at and past the edges of memory, misaligned, or
//! aliasing other data.
//!
//! Property, on each backend: a call returns a value that type-checks
//! against `T`, or fails with a trap (`ErrorClass::Trap`), after which the
//! instance refuses every call as poisoned; nothing panics. Across the
//! backends: both succeed with equal values, or both trap.

use airssys_wasm::{
    BackendKind, Component, Error, ErrorClass, LoadOptions, Runtime, Value, ValueType,
};

use crate::common;
use crate::fuzz::harness::{self, Outcomes, Rng};
use crate::fuzz::wave::{same, value};

/// Where the guest copies `data`.
const BASE: u32 = 0x1000;
/// The largest `data` the guest takes (its copy must stay below the
/// argument's own allocation at 0x20000).
const MAX_DATA: usize = 0x1_0000;

const WIT: &str = r#"package airssys:fuzz;
world abi {
  record point { x: s32, y: s32, label: string }
  variant shape { dot(point), line(list<point>), blob(list<u8>), empty }
  flags small { a, b, c }
  flags big { g0, g1, g2, g3, g4, g5, g6, g7, g8, g9, g10, g11, g12, g13, g14, g15, g16, g17,
    g18, g19, g20, g21, g22, g23, g24, g25, g26, g27, g28, g29, g30, g31 }
  enum color { red, green, blue }

  export flat-char: func(data: list<u8>) -> char;
  export flat-bool: func(data: list<u8>) -> bool;
  export flat-u8: func(data: list<u8>) -> u8;
  export flat-color: func(data: list<u8>) -> color;
  export flat-small: func(data: list<u8>) -> small;
  export flat-f32: func(data: list<u8>) -> f32;
  export mem-string: func(data: list<u8>) -> string;
  export mem-bytes: func(data: list<u8>) -> list<u8>;
  export mem-strings: func(data: list<u8>) -> list<string>;
  export mem-point: func(data: list<u8>) -> point;
  export mem-shape: func(data: list<u8>) -> shape;
  export mem-chars: func(data: list<u8>) -> option<list<char>>;
  export mem-result: func(data: list<u8>) -> result<tuple<u8, u64, f64>, list<option<string>>>;
  export mem-big: func(data: list<u8>) -> big;
  export mem-nested: func(data: list<u8>) -> list<result<shape, color>>;
  export mem-tuple: func(data: list<u8>) -> tuple<bool, s8, u16, char, string, small>;
}
"#;

const FLAT_I32: &[&str] = &[
    "flat-char",
    "flat-bool",
    "flat-u8",
    "flat-color",
    "flat-small",
];
const MEM: &[&str] = &[
    "mem-string",
    "mem-bytes",
    "mem-strings",
    "mem-point",
    "mem-shape",
    "mem-chars",
    "mem-result",
    "mem-big",
    "mem-nested",
    "mem-tuple",
];

/// The core module: `cabi_realloc` hands out 0x20000 (one argument per
/// call); each export zeroes `BASE..BASE+MAX_DATA`, copies its argument
/// there and returns its first word.
fn module() -> String {
    let mut m = format!(
        r#"(module
  (memory (export "memory") 4)
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    local.get 3
    i32.const {MAX_DATA}
    i32.gt_u
    if unreachable end
    i32.const 0x20000)
  (func $copy (param $ptr i32) (param $len i32)
    (memory.fill (i32.const {BASE}) (i32.const 0) (i32.const {MAX_DATA}))
    (memory.copy (i32.const {BASE}) (local.get $ptr) (local.get $len)))
"#
    );
    for name in FLAT_I32.iter().chain(MEM) {
        m.push_str(&format!(
            "  (func (export \"{name}\") (param i32 i32) (result i32)
    (call $copy (local.get 0) (local.get 1))
    (i32.load (i32.const {BASE})))\n"
        ));
    }
    m.push_str(&format!(
        "  (func (export \"flat-f32\") (param i32 i32) (result f32)
    (call $copy (local.get 0) (local.get 1))
    (f32.load (i32.const {BASE})))\n)"
    ));
    m
}

// ----- the canonical ABI layout, to write valid encodings -----

fn align_to(x: u32, a: u32) -> u32 {
    x.div_ceil(a) * a
}

fn disc_size(cases: usize) -> u32 {
    match cases {
        0..=256 => 1,
        257..=65536 => 2,
        _ => 4,
    }
}

/// The cases of a variant-like type: payload types, in order.
fn cases(ty: &ValueType) -> Vec<Option<ValueType>> {
    match ty {
        ValueType::Variant(cs) => cs.iter().map(|c| c.ty.clone()).collect(),
        ValueType::Enum(names) => vec![None; names.len()],
        ValueType::Option(t) => vec![None, Some((**t).clone())],
        ValueType::Result { ok, err } => vec![ok.as_deref().cloned(), err.as_deref().cloned()],
        _ => Vec::new(),
    }
}

/// Size and alignment.
fn layout(ty: &ValueType) -> (u32, u32) {
    match ty {
        ValueType::Bool | ValueType::S8 | ValueType::U8 => (1, 1),
        ValueType::S16 | ValueType::U16 => (2, 2),
        ValueType::S32 | ValueType::U32 | ValueType::F32 | ValueType::Char => (4, 4),
        ValueType::S64 | ValueType::U64 | ValueType::F64 => (8, 8),
        ValueType::String | ValueType::List(_) => (8, 4),
        ValueType::Record(fields) => fields_layout(fields.iter().map(|f| &f.ty)).1,
        ValueType::Tuple(tys) => fields_layout(tys.iter()).1,
        ValueType::Flags(names) => match names.len() {
            0 => (0, 1),
            1..=8 => (1, 1),
            9..=16 => (2, 2),
            n => (4 * n.div_ceil(32) as u32, 4),
        },
        ValueType::Variant(_)
        | ValueType::Enum(_)
        | ValueType::Option(_)
        | ValueType::Result { .. } => {
            let (_, size, align) = variant_layout(ty);
            (size, align)
        }
        other => panic!("no layout for {other}"),
    }
}

/// Field offsets, then (size, alignment).
fn fields_layout<'a>(tys: impl Iterator<Item = &'a ValueType>) -> (Vec<u32>, (u32, u32)) {
    let (mut offset, mut align, mut offsets) = (0, 1, Vec::new());
    for t in tys {
        let (s, a) = layout(t);
        offset = align_to(offset, a);
        offsets.push(offset);
        offset += s;
        align = align.max(a);
    }
    (offsets, (align_to(offset, align), align))
}

/// Payload offset, size, alignment.
fn variant_layout(ty: &ValueType) -> (u32, u32, u32) {
    let cs = cases(ty);
    let d = disc_size(cs.len());
    let (mut size, mut align) = (0, d);
    for t in cs.iter().flatten() {
        let (s, a) = layout(t);
        size = size.max(s);
        align = align.max(a);
    }
    let payload = align_to(d, align);
    (payload, align_to(payload + size, align), align)
}

/// Writes values in the canonical ABI into a buffer that the guest will
/// copy to `BASE`.
struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn alloc(&mut self, size: u32, align: u32) -> u32 {
        let at = align_to(self.buf.len() as u32, align.max(1));
        self.buf.resize((at + size) as usize, 0);
        BASE + at
    }

    fn put(&mut self, addr: u32, bytes: &[u8]) {
        let at = (addr - BASE) as usize;
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn store(&mut self, ty: &ValueType, v: &Value, addr: u32) {
        match (ty, v) {
            (_, Value::Bool(b)) => self.put(addr, &[u8::from(*b)]),
            (_, Value::S8(x)) => self.put(addr, &x.to_le_bytes()),
            (_, Value::U8(x)) => self.put(addr, &[*x]),
            (_, Value::S16(x)) => self.put(addr, &x.to_le_bytes()),
            (_, Value::U16(x)) => self.put(addr, &x.to_le_bytes()),
            (_, Value::S32(x)) => self.put(addr, &x.to_le_bytes()),
            (_, Value::U32(x)) => self.put(addr, &x.to_le_bytes()),
            (_, Value::S64(x)) => self.put(addr, &x.to_le_bytes()),
            (_, Value::U64(x)) => self.put(addr, &x.to_le_bytes()),
            (_, Value::F32(x)) => self.put(addr, &x.to_bits().to_le_bytes()),
            (_, Value::F64(x)) => self.put(addr, &x.to_bits().to_le_bytes()),
            (_, Value::Char(c)) => self.put(addr, &(*c as u32).to_le_bytes()),
            (_, Value::String(s)) => {
                let p = self.alloc(s.len() as u32, 1);
                self.put(p, s.as_bytes());
                self.pair(addr, p, s.len() as u32);
            }
            (_, Value::Bytes(b)) => {
                let p = self.alloc(b.len() as u32, 1);
                self.put(p, b);
                self.pair(addr, p, b.len() as u32);
            }
            (ValueType::List(e), Value::List(items)) => {
                let (size, align) = layout(e);
                let p = self.alloc(size * items.len() as u32, align);
                for (i, item) in items.iter().enumerate() {
                    self.store(e, item, p + i as u32 * size);
                }
                self.pair(addr, p, items.len() as u32);
            }
            (ValueType::Record(fields), Value::Record(vs)) => {
                let (offsets, _) = fields_layout(fields.iter().map(|f| &f.ty));
                for ((f, (_, v)), off) in fields.iter().zip(vs).zip(offsets) {
                    self.store(&f.ty, v, addr + off);
                }
            }
            (ValueType::Tuple(tys), Value::Tuple(vs)) => {
                let (offsets, _) = fields_layout(tys.iter());
                for ((t, v), off) in tys.iter().zip(vs).zip(offsets) {
                    self.store(t, v, addr + off);
                }
            }
            (ValueType::Flags(names), Value::Flags(set)) => {
                let mut words = vec![0u32; names.len().div_ceil(32)];
                for (k, n) in names.iter().enumerate() {
                    if set.contains(n) {
                        words[k / 32] |= 1 << (k % 32);
                    }
                }
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                let size = layout(ty).0 as usize;
                self.put(addr, &bytes[..size]);
            }
            _ => {
                let (disc, payload) = match (ty, v) {
                    (ValueType::Variant(cs), Value::Variant(name, p)) => (
                        cs.iter().position(|c| &c.name == name).unwrap(),
                        p.as_deref(),
                    ),
                    (ValueType::Enum(names), Value::Enum(name)) => {
                        (names.iter().position(|n| n == name).unwrap(), None)
                    }
                    (_, Value::Option(p)) => (usize::from(p.is_some()), p.as_deref()),
                    (_, Value::Result(Ok(p))) => (0, p.as_deref()),
                    (_, Value::Result(Err(p))) => (1, p.as_deref()),
                    other => panic!("no encoding for {other:?}"),
                };
                let cs = cases(ty);
                let d = disc as u32;
                let bytes = d.to_le_bytes();
                self.put(addr, &bytes[..disc_size(cs.len()) as usize]);
                if let (Some(p), Some(pty)) = (payload, &cs[disc]) {
                    let (off, _, _) = variant_layout(ty);
                    self.store(pty, p, addr + off);
                }
            }
        }
    }

    fn pair(&mut self, addr: u32, ptr: u32, len: u32) {
        self.put(addr, &ptr.to_le_bytes());
        self.put(addr + 4, &len.to_le_bytes());
    }
}

/// The flat result of a value returned in one i32 or f32.
fn flat_word(ty: &ValueType, v: &Value) -> u32 {
    match (ty, v) {
        (_, Value::Char(c)) => *c as u32,
        (_, Value::Bool(b)) => u32::from(*b),
        (_, Value::U8(x)) => u32::from(*x),
        (_, Value::F32(x)) => x.to_bits(),
        (ValueType::Enum(names), Value::Enum(n)) => {
            names.iter().position(|m| m == n).unwrap() as u32
        }
        (ValueType::Flags(names), Value::Flags(set)) => names
            .iter()
            .enumerate()
            .filter(|(_, n)| set.contains(n))
            .fold(0, |w, (k, _)| w | 1 << k),
        other => panic!("not a flat result: {other:?}"),
    }
}

/// Replaces an aligned word of `data` with a pointer or length at or past
/// an edge: 0, the end of memory, the end of the data, misaligned, huge.
fn edge_word(rng: &mut Rng, data: &mut [u8]) {
    if data.len() < 4 {
        return;
    }
    let at = rng.below(data.len() / 4) * 4;
    let end = BASE + data.len() as u32;
    let small = rng.below(64) as u32;
    let word: u32 = *rng.pick(&[
        0,
        1,
        BASE,
        BASE + 1,
        BASE + 2,
        end,
        end - 1,
        4 * 65536 - 4,
        4 * 65536,
        4 * 65536 - 1,
        0x7fff_ffff,
        0x8000_0000,
        u32::MAX,
        u32::MAX - 3,
        0x1_0000,
        0x4000_0000,
        small,
    ]);
    data[at..at + 4].copy_from_slice(&word.to_le_bytes());
}

/// One call: an export, its result type and the data it copies.
pub struct Call {
    export: &'static str,
    data: Vec<u8>,
}

fn generate(rng: &mut Rng, types: &[(&'static str, ValueType)]) -> Call {
    let (export, ty) = rng.pick(types);
    let mut data = if rng.one_in(10) {
        let n = rng.range(0, 64);
        rng.bytes(n)
    } else if let Some(v) = value(rng, ty) {
        if FLAT_I32.contains(export) || *export == "flat-f32" {
            flat_word(ty, &v).to_le_bytes().to_vec()
        } else {
            let mut enc = Encoder { buf: vec![0; 4] };
            let (size, align) = layout(ty);
            let area = enc.alloc(size, align);
            enc.put(BASE, &area.to_le_bytes());
            enc.store(ty, &v, area);
            enc.buf
        }
    } else {
        Vec::new()
    };
    if !rng.one_in(3) {
        for _ in 0..rng.range(1, 3) {
            if rng.one_in(2) {
                edge_word(rng, &mut data);
            } else {
                harness::mutate_bytes(rng, &mut data, &[]);
            }
        }
    }
    data.truncate(MAX_DATA);
    Call { export, data }
}

/// One backend's runtime and loaded component.
struct Side {
    backend: &'static str,
    component: Component,
}

impl Side {
    fn new(kind: BackendKind, bytes: &[u8]) -> Self {
        let rt = Runtime::builder().backend(kind).build().unwrap();
        let component = rt
            .load(bytes.to_vec(), LoadOptions::new().name("abi"))
            .unwrap_or_else(|e| panic!("the abi component loads on {kind}: {e}"));
        Side {
            backend: kind.name(),
            component,
        }
    }

    /// Calls on a fresh instance; after a failure, checks that the instance
    /// is poisoned. `Err` for a broken property.
    fn call(
        &self,
        call: &Call,
        ty: &ValueType,
        outcomes: &mut Outcomes,
    ) -> Result<Option<Value>, String> {
        let b = self.backend;
        let mut instance = self
            .component
            .instantiate()
            .map_err(|e| format!("{b}: instantiation failed: {e}"))?;
        match instance.call(call.export, &[Value::Bytes(call.data.clone())]) {
            Ok(mut values) => {
                outcomes.count(format!("{b}-returned"));
                let v = match (values.pop(), values.is_empty()) {
                    (Some(v), true) => v,
                    _ => {
                        return Err(format!(
                            "{b}: `{}` returned {} values",
                            call.export,
                            values.len() + 1
                        ));
                    }
                };
                v.check_type(ty).map_err(|e| {
                    format!("{b}: `{}` returned {v:?}, not a {ty}: {e}", call.export)
                })?;
                Ok(Some(v))
            }
            Err(e) if e.class() == ErrorClass::Trap => {
                outcomes.count(format!("{b}-trapped"));
                match instance.call(call.export, &[Value::Bytes(Vec::new())]) {
                    Err(Error::InstancePoisoned(_)) => Ok(None),
                    Err(again) => Err(format!(
                        "{b}: after the trap `{e}` the next call failed with `{again}`, not as poisoned"
                    )),
                    Ok(v) => Err(format!(
                        "{b}: after the trap `{e}` the next call returned {v:?}"
                    )),
                }
            }
            Err(e) => Err(format!(
                "{b}: `{}` failed with a {:?}, not a trap: {e}",
                call.export,
                e.class()
            )),
        }
    }
}

#[test]
fn the_canonical_abi_lifts_arbitrary_guest_memory() {
    let bytes = common::component_of(WIT, "abi", module());
    let wasmi = Side::new(BackendKind::Wasmi, &bytes);
    let wasmtime = Side::new(BackendKind::Wasmtime, &bytes);
    let info = wasmi.component.info();
    let types: Vec<(&'static str, ValueType)> = FLAT_I32
        .iter()
        .chain(MEM)
        .chain(&["flat-f32"])
        .map(|name| {
            let f = info
                .export_function(name)
                .unwrap_or_else(|| panic!("export {name}"));
            (*name, f.result.clone().expect("a result"))
        })
        .collect();
    let outcomes = harness::run(
        "abi",
        1500,
        |rng| generate(rng, &types),
        |c| {
            let mut out = c.export.as_bytes().to_vec();
            out.push(b'\n');
            out.extend_from_slice(&c.data);
            out
        },
        |c, outcomes| {
            let ty = &types.iter().find(|(n, _)| *n == c.export).unwrap().1;
            let a = wasmi.call(c, ty, outcomes)?;
            let b = wasmtime.call(c, ty, outcomes)?;
            match (&a, &b) {
                (Some(x), Some(y)) if !same(x, y) => Err(format!(
                    "`{}`: wasmi returned {x:?}, wasmtime {y:?}",
                    c.export
                )),
                (Some(x), None) => Err(format!(
                    "`{}`: wasmi returned {x:?}, wasmtime trapped",
                    c.export
                )),
                (None, Some(y)) => Err(format!(
                    "`{}`: wasmi trapped, wasmtime returned {y:?}",
                    c.export
                )),
                _ => Ok(()),
            }
        },
    );
    if harness::cases(1500) >= 100 {
        assert!(outcomes.get("wasmi-returned") > 0 && outcomes.get("wasmi-trapped") > 0);
    }
}
