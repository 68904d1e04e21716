//! WIT types: [`ValueType`] and its parts, and [`FuncType`].

use std::fmt;
use std::sync::Arc;

/// One field of a record type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Field {
    /// The field's name, in kebab-case as WIT spells it.
    pub name: String,
    /// The field's type.
    pub ty: ValueType,
}

/// One case of a variant type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Case {
    /// The case's name.
    pub name: String,
    /// The payload type, if the case carries one.
    pub ty: Option<ValueType>,
}

/// The type of a resource handle: the resource's name and whether the handle
/// is owned or borrowed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceType {
    /// The resource's name as WIT declares it (for example `counter`).
    pub name: Arc<str>,
    /// `true` for `own<T>`, `false` for `borrow<T>`.
    pub owned: bool,
}

/// A WIT type.
///
/// Compound types share their parts through [`Arc`], so cloning a type is
/// cheap.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// `bool`
    Bool,
    /// `s8`
    S8,
    /// `s16`
    S16,
    /// `s32`
    S32,
    /// `s64`
    S64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// `char`
    Char,
    /// `string`
    String,
    /// `list<T>`
    List(Arc<ValueType>),
    /// `record { .. }`
    Record(Arc<[Field]>),
    /// `tuple<..>`
    Tuple(Arc<[ValueType]>),
    /// `variant { .. }`
    Variant(Arc<[Case]>),
    /// `enum { .. }`
    Enum(Arc<[String]>),
    /// `option<T>`
    Option(Arc<ValueType>),
    /// `result<T, E>`, either side optional.
    Result {
        /// The `ok` payload type.
        ok: Option<Arc<ValueType>>,
        /// The `err` payload type.
        err: Option<Arc<ValueType>>,
    },
    /// `flags { .. }`
    Flags(Arc<[String]>),
    /// `own<R>` or `borrow<R>`
    Resource(ResourceType),
}

impl ValueType {
    /// `true` when a value of this type holds a resource handle (`own` or
    /// `borrow`) anywhere inside it.
    ///
    /// ```
    /// use airssys_wasm_core::{ResourceType, ValueType};
    /// let handle = ValueType::Resource(ResourceType { name: "file".into(), owned: true });
    /// assert!(ValueType::list(ValueType::option(handle)).has_resource());
    /// assert!(!ValueType::list(ValueType::String).has_resource());
    /// ```
    pub fn has_resource(&self) -> bool {
        match self {
            Self::Resource(_) => true,
            Self::List(t) | Self::Option(t) => t.has_resource(),
            Self::Record(fs) => fs.iter().any(|f| f.ty.has_resource()),
            Self::Tuple(ts) => ts.iter().any(Self::has_resource),
            Self::Variant(cs) => cs
                .iter()
                .filter_map(|c| c.ty.as_ref())
                .any(Self::has_resource),
            Self::Result { ok, err } => ok.iter().chain(err.iter()).any(|t| t.has_resource()),
            _ => false,
        }
    }

    /// `list<element>`
    pub fn list(element: ValueType) -> Self {
        Self::List(Arc::new(element))
    }

    /// `option<some>`
    pub fn option(some: ValueType) -> Self {
        Self::Option(Arc::new(some))
    }

    /// `result<ok, err>`
    pub fn result(ok: Option<ValueType>, err: Option<ValueType>) -> Self {
        Self::Result {
            ok: ok.map(Arc::new),
            err: err.map(Arc::new),
        }
    }

    /// A record with the given `(name, type)` fields.
    pub fn record<N: Into<String>>(fields: impl IntoIterator<Item = (N, ValueType)>) -> Self {
        Self::Record(
            fields
                .into_iter()
                .map(|(name, ty)| Field {
                    name: name.into(),
                    ty,
                })
                .collect(),
        )
    }

    /// A tuple of the given types.
    pub fn tuple(types: impl IntoIterator<Item = ValueType>) -> Self {
        Self::Tuple(types.into_iter().collect())
    }

    /// A variant with the given `(name, payload)` cases.
    pub fn variant<N: Into<String>>(
        cases: impl IntoIterator<Item = (N, Option<ValueType>)>,
    ) -> Self {
        Self::Variant(
            cases
                .into_iter()
                .map(|(name, ty)| Case {
                    name: name.into(),
                    ty,
                })
                .collect(),
        )
    }

    /// An enum with the given case names.
    pub fn enumeration<N: Into<String>>(cases: impl IntoIterator<Item = N>) -> Self {
        Self::Enum(cases.into_iter().map(Into::into).collect())
    }

    /// Flags with the given names.
    pub fn flags<N: Into<String>>(names: impl IntoIterator<Item = N>) -> Self {
        Self::Flags(names.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for ValueType {
    /// Writes the type in WIT syntax; records, variants, enums and flags are
    /// written structurally (`record { x: s32 }`) since a value type carries
    /// no declared name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool => f.write_str("bool"),
            Self::S8 => f.write_str("s8"),
            Self::S16 => f.write_str("s16"),
            Self::S32 => f.write_str("s32"),
            Self::S64 => f.write_str("s64"),
            Self::U8 => f.write_str("u8"),
            Self::U16 => f.write_str("u16"),
            Self::U32 => f.write_str("u32"),
            Self::U64 => f.write_str("u64"),
            Self::F32 => f.write_str("f32"),
            Self::F64 => f.write_str("f64"),
            Self::Char => f.write_str("char"),
            Self::String => f.write_str("string"),
            Self::List(t) => write!(f, "list<{t}>"),
            Self::Option(t) => write!(f, "option<{t}>"),
            Self::Result { ok, err } => match (ok, err) {
                (None, None) => f.write_str("result"),
                (Some(o), None) => write!(f, "result<{o}>"),
                (None, Some(e)) => write!(f, "result<_, {e}>"),
                (Some(o), Some(e)) => write!(f, "result<{o}, {e}>"),
            },
            Self::Tuple(ts) => {
                f.write_str("tuple<")?;
                write_joined(f, ts.iter(), |f, t| write!(f, "{t}"))?;
                f.write_str(">")
            }
            Self::Record(fields) => {
                f.write_str("record { ")?;
                write_joined(f, fields.iter(), |f, fl| {
                    write!(f, "{}: {}", fl.name, fl.ty)
                })?;
                f.write_str(" }")
            }
            Self::Variant(cases) => {
                f.write_str("variant { ")?;
                write_joined(f, cases.iter(), |f, c| match &c.ty {
                    Some(t) => write!(f, "{}({t})", c.name),
                    None => f.write_str(&c.name),
                })?;
                f.write_str(" }")
            }
            Self::Enum(cases) => {
                f.write_str("enum { ")?;
                write_joined(f, cases.iter(), |f, c| f.write_str(c))?;
                f.write_str(" }")
            }
            Self::Flags(names) => {
                f.write_str("flags { ")?;
                write_joined(f, names.iter(), |f, c| f.write_str(c))?;
                f.write_str(" }")
            }
            Self::Resource(r) if r.owned => write!(f, "own<{}>", r.name),
            Self::Resource(r) => write!(f, "borrow<{}>", r.name),
        }
    }
}

fn write_joined<T>(
    f: &mut fmt::Formatter<'_>,
    items: impl Iterator<Item = T>,
    mut each: impl FnMut(&mut fmt::Formatter<'_>, T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    Ok(())
}

/// A function's signature in WIT terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncType {
    /// Parameter names and types, in order.
    pub params: Vec<(String, ValueType)>,
    /// The result type, if the function returns one.
    pub result: Option<ValueType>,
}

impl FuncType {
    /// `true` when a parameter or the result holds a resource handle.
    pub fn has_resource(&self) -> bool {
        self.params
            .iter()
            .map(|(_, t)| t)
            .chain(self.result.iter())
            .any(ValueType::has_resource)
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("func(")?;
        write_joined(f, self.params.iter(), |f, (n, t)| write!(f, "{n}: {t}"))?;
        f.write_str(")")?;
        if let Some(r) = &self.result {
            write!(f, " -> {r}")?;
        }
        Ok(())
    }
}
