//! The canonical ABI's flat layout: the core value types a component type
//! flattens to, how many travel directly, and which types this backend
//! supports. A leaf: computed at compile time by the `plan` module and used
//! on every call by the `abi` and `instance` modules.

use wasmi::Val;
use wasmtime_environ::component::{ComponentTypes, InterfaceType};

/// At most this many flat parameters are passed directly; more go through
/// memory.
pub(crate) const MAX_FLAT_PARAMS: usize = 16;
/// At most this many flat results of a lifted export are returned directly.
pub(crate) const MAX_FLAT_RESULTS: usize = 1;

/// A core value type of the flattened ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flat {
    I32,
    I64,
    F32,
    F64,
}

impl Flat {
    fn join(self, other: Flat) -> Flat {
        match (self, other) {
            (a, b) if a == b => a,
            (Flat::I32, Flat::F32) | (Flat::F32, Flat::I32) => Flat::I32,
            _ => Flat::I64,
        }
    }

    pub(crate) fn zero(self) -> Val {
        match self {
            Flat::I32 => Val::I32(0),
            Flat::I64 => Val::I64(0),
            Flat::F32 => Val::F32(0f32.into()),
            Flat::F64 => Val::F64(0f64.into()),
        }
    }
}

/// `true` for the types this backend lifts and lowers (everything but
/// maps, fixed-length lists, futures, streams and error contexts).
pub(crate) fn supported(types: &ComponentTypes, ty: &InterfaceType) -> bool {
    use InterfaceType as I;
    match ty {
        I::Record(i) => types[*i].fields.iter().all(|f| supported(types, &f.ty)),
        I::Tuple(i) => types[*i].types.iter().all(|t| supported(types, t)),
        I::Variant(i) => types[*i]
            .cases
            .values()
            .flatten()
            .all(|t| supported(types, t)),
        I::List(i) => supported(types, &types[*i].element),
        I::Option(i) => supported(types, &types[*i].ty),
        I::Result(i) => {
            let r = &types[*i];
            r.ok.iter().chain(r.err.iter()).all(|t| supported(types, t))
        }
        I::Map(_) | I::FixedLengthList(_) | I::Future(_) | I::Stream(_) | I::ErrorContext(_) => {
            false
        }
        _ => true,
    }
}

/// Appends the flat core types of `ty`.
pub(crate) fn flatten(types: &ComponentTypes, ty: &InterfaceType, out: &mut Vec<Flat>) {
    use InterfaceType as I;
    match ty {
        I::Bool
        | I::S8
        | I::U8
        | I::S16
        | I::U16
        | I::S32
        | I::U32
        | I::Char
        | I::Enum(_)
        | I::Own(_)
        | I::Borrow(_) => out.push(Flat::I32),
        I::S64 | I::U64 => out.push(Flat::I64),
        I::Float32 => out.push(Flat::F32),
        I::Float64 => out.push(Flat::F64),
        I::String | I::List(_) => out.extend([Flat::I32, Flat::I32]),
        I::Record(i) => {
            for f in types[*i].fields.iter() {
                flatten(types, &f.ty, out);
            }
        }
        I::Tuple(i) => {
            for t in types[*i].types.iter() {
                flatten(types, t, out);
            }
        }
        I::Flags(i) => {
            let n = types[*i].names.len();
            out.extend(std::iter::repeat_n(Flat::I32, n.div_ceil(32)));
        }
        I::Variant(i) => flatten_variant(types, types[*i].cases.values().map(|c| c.as_ref()), out),
        I::Option(i) => flatten_variant(types, [None, Some(&types[*i].ty)].into_iter(), out),
        I::Result(i) => {
            let r = &types[*i];
            flatten_variant(types, [r.ok.as_ref(), r.err.as_ref()].into_iter(), out)
        }
        I::Map(_) | I::FixedLengthList(_) | I::Future(_) | I::Stream(_) | I::ErrorContext(_) => {}
    }
}

fn flatten_variant<'a>(
    types: &ComponentTypes,
    cases: impl Iterator<Item = Option<&'a InterfaceType>>,
    out: &mut Vec<Flat>,
) {
    out.push(Flat::I32);
    let start = out.len();
    let mut case_flat = Vec::new();
    for case in cases.flatten() {
        case_flat.clear();
        flatten(types, case, &mut case_flat);
        for (i, f) in case_flat.iter().enumerate() {
            match out.get_mut(start + i) {
                Some(joined) => *joined = joined.join(*f),
                None => out.push(*f),
            }
        }
    }
}

/// How a function's parameters and results travel as core values,
/// computed once per function rather than on every call.
#[derive(Clone, Debug)]
pub(crate) struct FlatSig {
    /// How many flat core values the parameters take.
    pub params: usize,
    /// The flat core types of the results.
    pub results: Vec<Flat>,
}

impl FlatSig {
    pub fn of(types: &ComponentTypes, params: &[InterfaceType], results: &[InterfaceType]) -> Self {
        Self {
            params: flatten_all(types, params).len(),
            results: flatten_all(types, results),
        }
    }
}

/// The flat types of a list of types.
pub(crate) fn flatten_all<'a>(
    types: &ComponentTypes,
    tys: impl IntoIterator<Item = &'a InterfaceType>,
) -> Vec<Flat> {
    let mut out = Vec::new();
    for t in tys {
        flatten(types, t, &mut out);
    }
    out
}
