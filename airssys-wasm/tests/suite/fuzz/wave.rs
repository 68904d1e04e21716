//! Target 2: WAVE text against a signature (`Value::parse_wave`,
//! `WaveCall::parse` and `WaveCall::args`), the form `airssys-wasm run
//! --invoke` reads.
//!
//! Inputs: random types (nested records, variants, lists, options, results,
//! flags, enums; case and field names that are WAVE keywords), random
//! values of them written with `Value::to_wave`, then mutated (tokens,
//! deep nesting, bytes), and parsed against their own type or another one;
//! call expressions `name(args)` built the same way.
//!
//! Property: nothing panics; a value that parses type-checks against its
//! type (`Value::check_type`) and writes back to text that parses to an
//! equal value; an unmutated value round-trips exactly; an unmutated call
//! gives back its name and arguments, and the arguments of any call that
//! parses type-check against the signature.

use std::sync::Arc;

use airssys_wasm::{FuncType, Value, ValueType, WaveCall};
use airssys_wasm_core::{Case, Field, ResourceType};

use crate::fuzz::harness::{self, Outcomes, Rng};

/// Labels for fields, cases and flags: plain ones, and WAVE keywords (which
/// the writer escapes with `%` where it must).
const LABELS: &[&str] = &[
    "a",
    "b",
    "c-d",
    "x1",
    "long-name-here",
    "true",
    "false",
    "some",
    "none",
    "ok",
    "err",
    "inf",
    "nan",
    "a-b-c",
    "q",
];

fn labels(rng: &mut Rng, max: usize) -> Vec<String> {
    let n = rng.range(1, max);
    let mut out: Vec<String> = Vec::new();
    for _ in 0..n * 2 {
        let l = rng.pick(LABELS).to_string();
        if !out.contains(&l) {
            out.push(l);
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// A random type, at most `depth` levels deep.
pub fn ty(rng: &mut Rng, depth: usize) -> ValueType {
    const LEAVES: &[ValueType] = &[
        ValueType::Bool,
        ValueType::S8,
        ValueType::S16,
        ValueType::S32,
        ValueType::S64,
        ValueType::U8,
        ValueType::U16,
        ValueType::U32,
        ValueType::U64,
        ValueType::F32,
        ValueType::F64,
        ValueType::Char,
        ValueType::String,
    ];
    if depth == 0 || rng.one_in(3) {
        return rng.pick(LEAVES).clone();
    }
    let d = depth - 1;
    match rng.below(10) {
        0 => ValueType::list(ty(rng, d)),
        1 => ValueType::Record(
            labels(rng, 4)
                .into_iter()
                .map(|name| Field {
                    name,
                    ty: ty(rng, d),
                })
                .collect::<Vec<_>>()
                .into(),
        ),
        2 => ValueType::tuple((0..rng.range(1, 4)).map(|_| ty(rng, d)).collect::<Vec<_>>()),
        3 => ValueType::Variant(
            labels(rng, 4)
                .into_iter()
                .map(|name| Case {
                    name,
                    ty: (!rng.one_in(3)).then(|| ty(rng, d)),
                })
                .collect::<Vec<_>>()
                .into(),
        ),
        4 => ValueType::enumeration(labels(rng, 5)),
        5 => ValueType::option(ty(rng, d)),
        6 => ValueType::result(
            (!rng.one_in(3)).then(|| ty(rng, d)),
            (!rng.one_in(3)).then(|| ty(rng, d)),
        ),
        7 => {
            // Flags beyond 32 span several words in the ABI; in WAVE they
            // are names all the same.
            let mut names = labels(rng, 8);
            if rng.one_in(4) {
                names.extend((0..rng.range(30, 40)).map(|i| format!("f{i}")));
            }
            ValueType::flags(names)
        }
        8 if rng.one_in(8) => ValueType::Resource(ResourceType {
            name: Arc::from("thing"),
            owned: rng.one_in(2),
        }),
        _ => ValueType::list(ValueType::U8),
    }
}

const CHARS: &[char] = &[
    'a',
    'Z',
    '\'',
    '\\',
    '"',
    '\n',
    '\t',
    '\r',
    '\0',
    '\u{7f}',
    '\u{1b}',
    'é',
    '😀',
    '\u{10ffff}',
    '\u{d7ff}',
    '\u{e000}',
    '\u{feff}',
    '\u{202e}',
    ' ',
    '{',
    '}',
    '%',
];

fn char_of(rng: &mut Rng) -> char {
    if rng.one_in(3) {
        char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('x')
    } else {
        *rng.pick(CHARS)
    }
}

fn float_bits(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.next(),
        1 => *rng.pick(&[
            0f64.to_bits(),
            (-0f64).to_bits(),
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            f64::NAN.to_bits(),
            f64::MIN_POSITIVE.to_bits(),
            1,
            f64::MAX.to_bits(),
        ]),
        _ => ((rng.below(2000) as f64 - 1000.0) / 8.0).to_bits(),
    }
}

fn int(rng: &mut Rng) -> u64 {
    match rng.below(3) {
        0 => rng.next(),
        1 => *rng.pick(&[
            0,
            1,
            u64::MAX,
            i64::MAX as u64,
            i64::MIN as u64,
            127,
            128,
            255,
        ]),
        _ => rng.below(100) as u64,
    }
}

/// A random value of `ty` (`None` for types without a value here:
/// resources).
pub fn value(rng: &mut Rng, ty: &ValueType) -> Option<Value> {
    Some(match ty {
        ValueType::Bool => Value::Bool(rng.one_in(2)),
        ValueType::S8 => Value::S8(int(rng) as i8),
        ValueType::S16 => Value::S16(int(rng) as i16),
        ValueType::S32 => Value::S32(int(rng) as i32),
        ValueType::S64 => Value::S64(int(rng) as i64),
        ValueType::U8 => Value::U8(int(rng) as u8),
        ValueType::U16 => Value::U16(int(rng) as u16),
        ValueType::U32 => Value::U32(int(rng) as u32),
        ValueType::U64 => Value::U64(int(rng)),
        ValueType::F32 => Value::F32(if rng.one_in(2) {
            f32::from_bits(rng.next() as u32)
        } else {
            f64::from_bits(float_bits(rng)) as f32
        }),
        ValueType::F64 => Value::F64(f64::from_bits(float_bits(rng))),
        ValueType::Char => Value::Char(char_of(rng)),
        ValueType::String => Value::String((0..rng.range(0, 8)).map(|_| char_of(rng)).collect()),
        ValueType::List(e) if **e == ValueType::U8 && rng.one_in(2) => {
            let n = rng.range(0, 8);
            Value::Bytes(rng.bytes(n))
        }
        ValueType::List(e) => Value::List(
            (0..rng.range(0, 4))
                .map(|_| value(rng, e))
                .collect::<Option<_>>()?,
        ),
        ValueType::Record(fields) => Value::Record(
            fields
                .iter()
                .map(|f| Some((f.name.clone(), value(rng, &f.ty)?)))
                .collect::<Option<_>>()?,
        ),
        ValueType::Tuple(tys) => {
            Value::Tuple(tys.iter().map(|t| value(rng, t)).collect::<Option<_>>()?)
        }
        ValueType::Variant(cases) => {
            let c = rng.pick(cases);
            let payload = match &c.ty {
                Some(t) => Some(Box::new(value(rng, t)?)),
                None => None,
            };
            Value::Variant(c.name.clone(), payload)
        }
        ValueType::Enum(cases) => Value::Enum(rng.pick(cases).clone()),
        ValueType::Option(t) => Value::Option(if rng.one_in(3) {
            None
        } else {
            Some(Box::new(value(rng, t)?))
        }),
        ValueType::Result { ok, err } => {
            let is_ok = rng.one_in(2);
            let payload = match if is_ok { ok } else { err } {
                Some(t) => Some(Box::new(value(rng, t)?)),
                None => None,
            };
            Value::Result(if is_ok { Ok(payload) } else { Err(payload) })
        }
        ValueType::Flags(names) => {
            Value::Flags(names.iter().filter(|_| rng.one_in(2)).cloned().collect())
        }
        _ => return None,
    })
}

/// Equal values, NaNs equal to NaNs (WAVE writes every NaN as `nan`).
pub fn same(a: &Value, b: &Value) -> bool {
    let opt = |x: &Option<Box<Value>>, y: &Option<Box<Value>>| match (x, y) {
        (Some(x), Some(y)) => same(x, y),
        (None, None) => true,
        _ => false,
    };
    let all =
        |x: &[Value], y: &[Value]| x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b));
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::F64(x), Value::F64(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => all(x, y),
        (Value::Record(x), Value::Record(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((n, a), (m, b))| n == m && same(a, b))
        }
        (Value::Variant(c, x), Value::Variant(d, y)) => c == d && opt(x, y),
        (Value::Option(x), Value::Option(y)) => opt(x, y),
        (Value::Result(Ok(x)), Value::Result(Ok(y)))
        | (Value::Result(Err(x)), Value::Result(Err(y))) => opt(x, y),
        _ => a == b,
    }
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ",",
    ":",
    "'",
    "\"",
    "\\",
    "\\u{",
    "\\u{110000}",
    "\\u{d800}",
    "some(",
    "none",
    "ok(",
    "err(",
    "%",
    "-",
    "0x10",
    "1e308",
    "1e-400",
    "nan",
    "inf",
    "-inf",
    "true",
    "\"\"\"",
    "\n",
    "é",
    "\u{0}",
    "99999999999999999999999",
    "-0",
    "{:}",
    "%true",
    "a-",
    "-a",
    "#",
    "//",
];

fn mutate(rng: &mut Rng, text: &mut String) {
    let boundary = |rng: &mut Rng, t: &str| {
        let mut i = rng.below(t.len() + 1);
        while !t.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match rng.below(5) {
        0 | 1 => {
            let i = boundary(rng, text);
            text.insert_str(i, rng.word(TOKENS));
        }
        2 => {
            let i = boundary(rng, text);
            let j = boundary(rng, text);
            text.replace_range(i.min(j)..i.max(j), "");
        }
        3 => {
            // Deep nesting around a piece of the text, past the parser's
            // depth limit or not.
            let depth = rng.range(1, 400);
            let (open, close) = *rng.pick(&[("[", "]"), ("some(", ")"), ("(", ")"), ("ok(", ")")]);
            *text = format!("{}{text}{}", open.repeat(depth), close.repeat(depth));
        }
        _ => {
            let mut bytes = std::mem::take(text).into_bytes();
            harness::mutate_bytes(rng, &mut bytes, b"[]{}(),:'\"\\%");
            *text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
}

/// One case of the WAVE target.
pub struct WaveCase {
    ty: ValueType,
    /// The value the text was written from, when it was not mutated.
    original: Option<Value>,
    text: String,
    call: CallCase,
}

/// A call expression and the signature to read it against.
pub struct CallCase {
    ty: FuncType,
    text: String,
    /// The name and arguments, when the text was not mutated.
    expected: Option<(String, Vec<Value>)>,
}

const FUNC_NAMES: &[&str] = &[
    "f",
    "greet",
    "a-b",
    "airssys:test/resources@0.1.0#finish",
    "wasi:cli/run@0.2.6#run",
    "%true",
];

fn call_case(rng: &mut Rng) -> CallCase {
    let ty = FuncType {
        params: (0..rng.range(0, 4))
            .map(|i| (format!("p{i}"), ty(rng, 3)))
            .collect(),
        result: None,
    };
    let args: Option<Vec<Value>> = ty.params.iter().map(|(_, t)| value(rng, t)).collect();
    let texts: Option<Vec<String>> = args
        .as_ref()
        .and_then(|a| a.iter().map(|v| v.to_wave().ok()).collect());
    let name = if !rng.one_in(8) {
        rng.pick(FUNC_NAMES).to_string()
    } else {
        rng.pick(&["", "a b", "日本", "1f", "f-", "(", "f#"])
            .to_string()
    };
    let mut text = format!("{name}({})", texts.unwrap_or_default().join(", "));
    let mutated = rng.one_in(2);
    if mutated {
        for _ in 0..rng.range(1, 3) {
            mutate(rng, &mut text);
        }
    }
    let expected = match (mutated, FUNC_NAMES.contains(&name.as_str()), args) {
        (false, true, Some(args)) => Some((name.trim_start_matches('%').to_owned(), args)),
        _ => None,
    };
    CallCase { ty, text, expected }
}

fn generate(rng: &mut Rng) -> WaveCase {
    let ty = ty(rng, 4);
    let original = value(rng, &ty);
    let mut text = match &original {
        Some(v) => v.to_wave().unwrap_or_default(),
        None => "1".to_owned(),
    };
    let mutated = rng.one_in(2);
    if mutated {
        for _ in 0..rng.range(1, 4) {
            mutate(rng, &mut text);
        }
    }
    // Sometimes read against another type altogether.
    let ty = if mutated && rng.one_in(4) {
        self::ty(rng, 4)
    } else {
        ty
    };
    WaveCase {
        original: original.filter(|_| !mutated),
        ty,
        text,
        call: call_case(rng),
    }
}

fn check_value(c: &WaveCase, outcomes: &mut Outcomes) -> Result<(), String> {
    let parsed = match Value::parse_wave(&c.ty, &c.text) {
        Ok(v) => v,
        Err(e) => {
            outcomes.count("value-refused");
            if let Some(original) = &c.original {
                return Err(format!(
                    "`{}`, written by to_wave from {original:?}, does not parse as {}: {e}",
                    c.text, c.ty
                ));
            }
            return Ok(());
        }
    };
    outcomes.count("value-parsed");
    parsed.check_type(&c.ty).map_err(|e| {
        format!(
            "`{}` parsed as {} to {parsed:?}, which is not of it: {e}",
            c.text, c.ty
        )
    })?;
    if let Some(original) = &c.original
        && !same(original, &parsed)
    {
        return Err(format!(
            "{original:?} wrote `{}`, which parses back as {parsed:?}",
            c.text
        ));
    }
    let again = parsed
        .to_wave()
        .map_err(|e| format!("the parsed value {parsed:?} cannot be written: {e}"))?;
    let back = Value::parse_wave(&c.ty, &again)
        .map_err(|e| format!("`{}` parsed; its rewrite `{again}` does not: {e}", c.text))?;
    if !same(&parsed, &back) {
        return Err(format!(
            "`{}` parsed to {parsed:?}, written as `{again}`, read back as {back:?}",
            c.text
        ));
    }
    Ok(())
}

fn check_call(c: &CallCase, outcomes: &mut Outcomes) -> Result<(), String> {
    let call = match WaveCall::parse(&c.text) {
        Ok(call) => call,
        Err(e) => {
            outcomes.count("call-refused");
            if c.expected.is_some() {
                return Err(format!("the call `{}` does not parse: {e}", c.text));
            }
            return Ok(());
        }
    };
    let name = call.name();
    if !c.text.contains(name) {
        return Err(format!("`{}` has the name `{name}`", c.text));
    }
    let args = match call.args(&c.ty) {
        Ok(args) => args,
        Err(e) => {
            outcomes.count("call-args-refused");
            if c.expected.is_some() {
                return Err(format!(
                    "the arguments of `{}` ({}) do not parse: {e}",
                    c.text, c.ty
                ));
            }
            return Ok(());
        }
    };
    outcomes.count("call-parsed");
    if args.len() != c.ty.params.len() {
        return Err(format!(
            "`{}` against {} gave {} arguments",
            c.text,
            c.ty,
            args.len()
        ));
    }
    for (arg, (pname, pty)) in args.iter().zip(&c.ty.params) {
        arg.check_type(pty).map_err(|e| {
            format!(
                "`{}`: argument `{pname}` {arg:?} is not a {pty}: {e}",
                c.text
            )
        })?;
    }
    if let Some((want_name, want_args)) = &c.expected {
        if name != want_name {
            return Err(format!("`{}` gave the name `{name}`", c.text));
        }
        if !(want_args.len() == args.len() && want_args.iter().zip(&args).all(|(a, b)| same(a, b)))
        {
            return Err(format!("`{}` gave {args:?}, not {want_args:?}", c.text));
        }
    }
    Ok(())
}

#[test]
fn wave_arguments_against_a_signature() {
    let outcomes = harness::run(
        "wave",
        3000,
        generate,
        |c| format!("{}\n{}\n{}\n{}", c.ty, c.text, c.call.ty, c.call.text).into_bytes(),
        |c, outcomes| {
            check_value(c, outcomes)?;
            check_call(&c.call, outcomes)
        },
    );
    if harness::cases(3000) >= 100 {
        assert!(outcomes.get("value-parsed") > 0 && outcomes.get("call-parsed") > 0);
    }
}
