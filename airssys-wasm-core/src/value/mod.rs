//! The WIT value model: [`Value`] and its type, [`ValueType`].
//!
//! Every value a component can take or return has a [`Value`] form, and every
//! WIT type a [`ValueType`]. Backends convert between these and their engine's
//! own representation; the CLI reads and prints them in WAVE, the standard
//! text form of WIT values (see [`Value::parse_wave`] and [`Value::to_wave`]).
//!
//! ```
//! use airssys_wasm_core::{Value, ValueType};
//!
//! let ty = ValueType::option(ValueType::String);
//! let v = Value::parse_wave(&ty, r#"some("hi")"#).unwrap();
//! assert_eq!(v, Value::from(Some("hi")));
//! assert_eq!(v.to_wave().unwrap(), r#"some("hi")"#);
//! ```

mod ty;

pub use ty::{Case, Field, FuncType, ResourceType, ValueType};

/// A handle to a resource living in a component instance.
///
/// The handle is only meaningful for the instance that returned it; the
/// backend keeps the table that maps it to the engine's resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceHandle {
    /// The backend's index for this handle within its instance.
    pub index: u32,
    /// The resource's name and whether this handle is owned.
    pub ty: ResourceType,
}

/// A WIT value.
///
/// `Value` mirrors the component model's value model one to one. Build values
/// with the `From` conversions (`Value::from(3u32)`, `Value::from("text")`,
/// `Value::from(vec![1u8, 2])`, `Value::from(Some(1u8))`) or the constructors,
/// and read them back with `TryFrom` or the `as_*` accessors.
///
/// A `list<u8>` may be held as [`Value::Bytes`] (one byte per element, as
/// backends lift byte lists) or as a [`Value::List`] of [`Value::U8`]: the
/// two are equal when their bytes are, and read alike with
/// [`Value::as_bytes`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Value {
    /// `bool`
    Bool(bool),
    /// `s8`
    S8(i8),
    /// `s16`
    S16(i16),
    /// `s32`
    S32(i32),
    /// `s64`
    S64(i64),
    /// `u8`
    U8(u8),
    /// `u16`
    U16(u16),
    /// `u32`
    U32(u32),
    /// `u64`
    U64(u64),
    /// `f32`
    F32(f32),
    /// `f64`
    F64(f64),
    /// `char`
    Char(char),
    /// `string`
    String(String),
    /// `list<T>`
    List(Vec<Value>),
    /// `list<u8>`, held as its bytes.
    Bytes(Vec<u8>),
    /// `record { .. }`: fields in declaration order.
    Record(Vec<(String, Value)>),
    /// `tuple<..>`
    Tuple(Vec<Value>),
    /// A variant case and its payload.
    Variant(String, Option<Box<Value>>),
    /// An enum case.
    Enum(String),
    /// `option<T>`
    Option(Option<Box<Value>>),
    /// `result<T, E>`
    Result(Result<Option<Box<Value>>, Option<Box<Value>>>),
    /// The names of the flags that are set.
    Flags(Vec<String>),
    /// A resource handle.
    Resource(ResourceHandle),
}

impl Value {
    /// A record value from `(name, value)` fields.
    pub fn record<N: Into<String>>(fields: impl IntoIterator<Item = (N, Value)>) -> Self {
        Self::Record(fields.into_iter().map(|(n, v)| (n.into(), v)).collect())
    }

    /// A variant case with an optional payload.
    pub fn variant(case: impl Into<String>, payload: Option<Value>) -> Self {
        Self::Variant(case.into(), payload.map(Box::new))
    }

    /// An enum case.
    pub fn enum_case(case: impl Into<String>) -> Self {
        Self::Enum(case.into())
    }

    /// A flags value with the given flags set.
    pub fn flags<N: Into<String>>(names: impl IntoIterator<Item = N>) -> Self {
        Self::Flags(names.into_iter().map(Into::into).collect())
    }

    /// `ok(value)` of a result.
    pub fn ok(value: Option<Value>) -> Self {
        Self::Result(Ok(value.map(Box::new)))
    }

    /// `err(value)` of a result.
    pub fn err(value: Option<Value>) -> Self {
        Self::Result(Err(value.map(Box::new)))
    }

    /// The name of this value's kind, as WIT spells it (`u32`, `list`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "bool",
            Self::S8(_) => "s8",
            Self::S16(_) => "s16",
            Self::S32(_) => "s32",
            Self::S64(_) => "s64",
            Self::U8(_) => "u8",
            Self::U16(_) => "u16",
            Self::U32(_) => "u32",
            Self::U64(_) => "u64",
            Self::F32(_) => "f32",
            Self::F64(_) => "f64",
            Self::Char(_) => "char",
            Self::String(_) => "string",
            Self::List(_) | Self::Bytes(_) => "list",
            Self::Record(_) => "record",
            Self::Tuple(_) => "tuple",
            Self::Variant(..) => "variant",
            Self::Enum(_) => "enum",
            Self::Option(_) => "option",
            Self::Result(_) => "result",
            Self::Flags(_) => "flags",
            Self::Resource(_) => "resource",
        }
    }

    /// The string, if this is a `string`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is a [`Value::List`] (a [`Value::Bytes`] has no
    /// items as values: read it with [`Value::as_bytes`]).
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Self::List(items) => Some(items),
            _ => None,
        }
    }

    /// The bytes of a `list<u8>`, held either way: borrowed from a
    /// [`Value::Bytes`], collected from a [`Value::List`] of `u8`s.
    ///
    /// ```
    /// use airssys_wasm_core::Value;
    /// assert_eq!(Value::bytes(vec![1, 2]).as_bytes().as_deref(), Some(&[1u8, 2][..]));
    /// assert_eq!(Value::from(vec![1u8, 2]).as_bytes().as_deref(), Some(&[1u8, 2][..]));
    /// assert_eq!(Value::bytes(vec![1, 2]), Value::from(vec![1u8, 2]));
    /// assert!(Value::from(vec![1u32]).as_bytes().is_none());
    /// ```
    pub fn as_bytes(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self {
            Self::Bytes(b) => Some(std::borrow::Cow::Borrowed(b)),
            Self::List(items) => items
                .iter()
                .map(|v| match v {
                    Self::U8(b) => Some(*b),
                    _ => None,
                })
                .collect::<Option<Vec<u8>>>()
                .map(std::borrow::Cow::Owned),
            _ => None,
        }
    }

    /// A `list<u8>` of these bytes, held as bytes.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Bytes(bytes.into())
    }

    /// The field named `name`, if this is a record that has it.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Self::Record(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Checks that this value has type `ty`, and says where it does not.
    ///
    /// ```
    /// use airssys_wasm_core::{Value, ValueType};
    /// let ty = ValueType::list(ValueType::U8);
    /// assert!(Value::from(vec![1u8]).check_type(&ty).is_ok());
    /// let err = Value::from(vec![1u32]).check_type(&ty).unwrap_err();
    /// assert_eq!(err, "[0]: expected u8, found u32");
    /// ```
    pub fn check_type(&self, ty: &ValueType) -> Result<(), String> {
        let mismatch = || Err(format!("expected {ty}, found {}", self.kind_name()));
        // The place is only formatted when there is an error to report.
        let at = |place: &dyn Fn() -> String, r: Result<(), String>| {
            r.map_err(|e| format!("{}: {e}", place()))
        };
        match (self, ty) {
            (Self::Bool(_), ValueType::Bool)
            | (Self::S8(_), ValueType::S8)
            | (Self::S16(_), ValueType::S16)
            | (Self::S32(_), ValueType::S32)
            | (Self::S64(_), ValueType::S64)
            | (Self::U8(_), ValueType::U8)
            | (Self::U16(_), ValueType::U16)
            | (Self::U32(_), ValueType::U32)
            | (Self::U64(_), ValueType::U64)
            | (Self::F32(_), ValueType::F32)
            | (Self::F64(_), ValueType::F64)
            | (Self::Char(_), ValueType::Char)
            | (Self::String(_), ValueType::String) => Ok(()),
            (Self::List(items), ValueType::List(elem)) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| at(&|| format!("[{i}]"), v.check_type(elem))),
            (Self::Bytes(_), ValueType::List(elem)) if **elem == ValueType::U8 => Ok(()),
            (Self::Record(fields), ValueType::Record(tys)) => {
                if fields.len() != tys.len() {
                    return Err(format!(
                        "expected {} record fields, found {}",
                        tys.len(),
                        fields.len()
                    ));
                }
                fields.iter().zip(tys.iter()).try_for_each(|((n, v), f)| {
                    if *n != f.name {
                        return Err(format!("expected field `{}`, found `{n}`", f.name));
                    }
                    at(&|| format!(".{n}"), v.check_type(&f.ty))
                })
            }
            (Self::Tuple(items), ValueType::Tuple(tys)) => {
                if items.len() != tys.len() {
                    return Err(format!(
                        "expected a tuple of {}, found {} items",
                        tys.len(),
                        items.len()
                    ));
                }
                items
                    .iter()
                    .zip(tys.iter())
                    .enumerate()
                    .try_for_each(|(i, (v, t))| at(&|| format!(".{i}"), v.check_type(t)))
            }
            (Self::Variant(case, payload), ValueType::Variant(cases)) => {
                let Some(c) = cases.iter().find(|c| c.name == *case) else {
                    return Err(format!("`{case}` is not a case of {ty}"));
                };
                match (payload, &c.ty) {
                    (None, None) => Ok(()),
                    (Some(v), Some(t)) => at(&|| format!("{case}(..)"), v.check_type(t)),
                    (None, Some(t)) => Err(format!("case `{case}` needs a {t} payload")),
                    (Some(_), None) => Err(format!("case `{case}` takes no payload")),
                }
            }
            (Self::Enum(case), ValueType::Enum(cases)) => {
                if cases.iter().any(|c| c == case) {
                    Ok(())
                } else {
                    Err(format!("`{case}` is not a case of {ty}"))
                }
            }
            (Self::Option(v), ValueType::Option(t)) => match v {
                None => Ok(()),
                Some(v) => at(&|| "some(..)".into(), v.check_type(t)),
            },
            (Self::Result(r), ValueType::Result { ok, err }) => {
                let (side, v, t) = match r {
                    Ok(v) => ("ok", v, ok),
                    Err(v) => ("err", v, err),
                };
                match (v, t) {
                    (None, None) => Ok(()),
                    (Some(v), Some(t)) => at(&|| format!("{side}(..)"), v.check_type(t)),
                    (None, Some(t)) => Err(format!("`{side}` needs a {t} payload")),
                    (Some(_), None) => Err(format!("`{side}` takes no payload")),
                }
            }
            (Self::Flags(set), ValueType::Flags(names)) => set.iter().try_for_each(|s| {
                if names.iter().any(|n| n == s) {
                    Ok(())
                } else {
                    Err(format!("`{s}` is not a flag of {ty}"))
                }
            }),
            (Self::Resource(h), ValueType::Resource(r)) if h.ty.name == r.name => Ok(()),
            _ => mismatch(),
        }
    }
}

macro_rules! scalar_conversions {
    ($($rust:ty => $case:ident),* $(,)?) => {$(
        impl From<$rust> for Value {
            fn from(v: $rust) -> Self {
                Value::$case(v)
            }
        }

        impl TryFrom<Value> for $rust {
            type Error = ConversionError;
            fn try_from(v: Value) -> Result<Self, ConversionError> {
                match v {
                    Value::$case(x) => Ok(x),
                    other => Err(ConversionError::new(stringify!($rust), &other)),
                }
            }
        }

        impl TryFrom<&Value> for $rust {
            type Error = ConversionError;
            fn try_from(v: &Value) -> Result<Self, ConversionError> {
                match v {
                    Value::$case(x) => Ok(x.clone()),
                    other => Err(ConversionError::new(stringify!($rust), other)),
                }
            }
        }
    )*};
}

scalar_conversions! {
    bool => Bool, i8 => S8, i16 => S16, i32 => S32, i64 => S64,
    u8 => U8, u16 => U16, u32 => U32, u64 => U64, f32 => F32, f64 => F64,
    char => Char, String => String,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        Value::Option(v.map(|x| Box::new(x.into())))
    }
}

impl<T: Into<Value>, E: Into<Value>> From<Result<T, E>> for Value {
    fn from(v: Result<T, E>) -> Self {
        Value::Result(match v {
            Ok(x) => Ok(Some(Box::new(x.into()))),
            Err(e) => Err(Some(Box::new(e.into()))),
        })
    }
}

impl<T: TryFrom<Value, Error = ConversionError>> TryFrom<Value> for Vec<T> {
    type Error = ConversionError;
    fn try_from(v: Value) -> Result<Self, ConversionError> {
        match v {
            Value::List(items) => items.into_iter().map(T::try_from).collect(),
            Value::Bytes(bytes) => bytes
                .into_iter()
                .map(|b| T::try_from(Value::U8(b)))
                .collect(),
            other => Err(ConversionError::new("Vec", &other)),
        }
    }
}

impl<T: TryFrom<Value, Error = ConversionError>> TryFrom<Value> for Option<T> {
    type Error = ConversionError;
    fn try_from(v: Value) -> Result<Self, ConversionError> {
        match v {
            Value::Option(None) => Ok(None),
            Value::Option(Some(x)) => T::try_from(*x).map(Some),
            other => Err(ConversionError::new("Option", &other)),
        }
    }
}

impl<T, E> TryFrom<Value> for Result<T, E>
where
    T: TryFrom<Value, Error = ConversionError>,
    E: TryFrom<Value, Error = ConversionError>,
{
    type Error = ConversionError;
    fn try_from(v: Value) -> Result<Self, ConversionError> {
        match v {
            Value::Result(Ok(Some(x))) => T::try_from(*x).map(Ok),
            Value::Result(Err(Some(e))) => E::try_from(*e).map(Err),
            other => Err(ConversionError::new("Result with payloads", &other)),
        }
    }
}

impl PartialEq for Value {
    /// Structural equality; a [`Value::Bytes`] equals a [`Value::List`] of
    /// the same `u8`s.
    fn eq(&self, other: &Self) -> bool {
        use Value as V;
        match (self, other) {
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::S8(a), V::S8(b)) => a == b,
            (V::S16(a), V::S16(b)) => a == b,
            (V::S32(a), V::S32(b)) => a == b,
            (V::S64(a), V::S64(b)) => a == b,
            (V::U8(a), V::U8(b)) => a == b,
            (V::U16(a), V::U16(b)) => a == b,
            (V::U32(a), V::U32(b)) => a == b,
            (V::U64(a), V::U64(b)) => a == b,
            (V::F32(a), V::F32(b)) => a == b,
            (V::F64(a), V::F64(b)) => a == b,
            (V::Char(a), V::Char(b)) => a == b,
            (V::String(a), V::String(b)) => a == b,
            (V::List(a), V::List(b)) => a == b,
            (V::Bytes(a), V::Bytes(b)) => a == b,
            (V::Bytes(bytes), V::List(items)) | (V::List(items), V::Bytes(bytes)) => {
                bytes.len() == items.len()
                    && items
                        .iter()
                        .zip(bytes)
                        .all(|(v, b)| matches!(v, V::U8(x) if x == b))
            }
            (V::Record(a), V::Record(b)) => a == b,
            (V::Tuple(a), V::Tuple(b)) => a == b,
            (V::Variant(a, x), V::Variant(b, y)) => a == b && x == y,
            (V::Enum(a), V::Enum(b)) => a == b,
            (V::Option(a), V::Option(b)) => a == b,
            (V::Result(a), V::Result(b)) => a == b,
            (V::Flags(a), V::Flags(b)) => a == b,
            (V::Resource(a), V::Resource(b)) => a == b,
            _ => false,
        }
    }
}

/// A [`Value`] did not have the Rust type it was converted to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot convert a WIT {found} value into {expected}")]
pub struct ConversionError {
    expected: &'static str,
    found: &'static str,
}

impl ConversionError {
    fn new(expected: &'static str, found: &Value) -> Self {
        Self {
            expected,
            found: found.kind_name(),
        }
    }
}
