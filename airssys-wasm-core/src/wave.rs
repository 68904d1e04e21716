//! WAVE, the text form of WIT values, through the `wasm-wave` crate.
//!
//! [`Value`] implements `wasm_wave::wasm::WasmValue` and [`ValueType`]
//! implements `wasm_wave::wasm::WasmType`, so the crate's parser and writer
//! work on our values directly. Resource handles have no WAVE form: printing
//! one is an error, not a panic.

use std::borrow::Cow;

use wasm_wave::wasm::{WasmType, WasmTypeKind, WasmValue, WasmValueError};

use crate::value::{FuncType, Value, ValueType};

/// A WAVE text could not be read or a value could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WaveError {
    message: String,
}

impl WaveError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl Value {
    /// Parses `text` in WAVE as a value of type `ty`.
    pub fn parse_wave(ty: &ValueType, text: &str) -> Result<Value, WaveError> {
        wasm_wave::from_str::<Value>(ty, text)
            .map_err(|e| WaveError::new(describe_parse_error(text, 1, &e)))
    }

    /// Writes this value in WAVE.
    pub fn to_wave(&self) -> Result<String, WaveError> {
        if self.contains_resource() {
            return Err(WaveError::new(
                "resource handles have no WAVE text form; pass them through the Rust API",
            ));
        }
        wasm_wave::to_string(self).map_err(|e| WaveError::new(e.to_string()))
    }

    fn contains_resource(&self) -> bool {
        match self {
            Value::Resource(_) => true,
            Value::List(vs) | Value::Tuple(vs) => vs.iter().any(Value::contains_resource),
            Value::Record(fs) => fs.iter().any(|(_, v)| v.contains_resource()),
            Value::Variant(_, Some(v)) | Value::Option(Some(v)) => v.contains_resource(),
            Value::Result(Ok(Some(v)) | Err(Some(v))) => v.contains_resource(),
            _ => false,
        }
    }
}

/// A parsed call expression `name(arg, ...)`, as `airssys-wasm run --invoke` takes it.
///
/// The name is a plain export (`greet`, `%true` for a keyword) or a
/// function of an exported interface (`airssys:test/resources@0.1.0#finish`);
/// the arguments are WAVE.
#[derive(Debug)]
pub struct WaveCall {
    /// The function name (without a leading `%`).
    name: String,
    /// `f(args...)`: the arguments as a WAVE call of a plain name.
    call: String,
    /// Where `call`'s `(` is in the text as written.
    offset: usize,
}

impl WaveCall {
    /// Parses the function name out of `text`; arguments are parsed against
    /// the function's type by [`WaveCall::args`].
    ///
    /// ```
    /// use airssys_wasm_core::{FuncType, Value, ValueType, WaveCall};
    /// let call = WaveCall::parse(r#"greet("ada")"#).unwrap();
    /// assert_eq!(call.name(), "greet");
    /// let ty = FuncType { params: vec![("name".into(), ValueType::String)], result: None };
    /// assert_eq!(call.args(&ty).unwrap(), vec![Value::from("ada")]);
    /// let call = WaveCall::parse("airssys:test/resources@0.1.0#finish()").unwrap();
    /// assert_eq!(call.name(), "airssys:test/resources@0.1.0#finish");
    /// assert!(WaveCall::parse("two words()").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, WaveError> {
        let fail = |why: String| {
            WaveError::new(format!(
                "cannot read call `{text}`: {why} (write it as name(arg, ...) with arguments in WAVE, e.g. add(1, 2) or greet(\"ada\"))"
            ))
        };
        let Some(open) = text.find('(') else {
            return Err(fail("no `(` after the function name".into()));
        };
        let written = text[..open].trim();
        let name = written.strip_prefix('%').unwrap_or(written);
        if name.is_empty() {
            return Err(fail("no function name before `(`".into()));
        }
        if let Some(bad) = name
            .chars()
            .find(|&c| !c.is_ascii_graphic() || "(),\"'{}%".contains(c))
        {
            return Err(fail(format!(
                "the function name `{written}` contains {bad:?}"
            )));
        }
        let call = format!("f{}", &text[open..]);
        let offset = open;
        wasm_wave::untyped::UntypedFuncCall::parse(&call)
            .map_err(|e| fail(describe_parse_error(&call, offset, &e)))?;
        Ok(Self {
            name: name.to_owned(),
            call,
            offset,
        })
    }

    fn untyped(&self) -> wasm_wave::untyped::UntypedFuncCall<'_> {
        wasm_wave::untyped::UntypedFuncCall::parse(&self.call)
            .expect("parsed successfully in WaveCall::parse")
    }

    /// The function name, as written without a leading `%` (for example
    /// `greet` or `airssys:test/resources@0.1.0#finish`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments, parsed against the function's parameter types. An
    /// error says what the function expects, how the argument it is in is
    /// written, and where it is.
    pub fn args(&self, ty: &FuncType) -> Result<Vec<Value>, WaveError> {
        let types: Vec<ValueType> = ty.params.iter().map(|(_, t)| t.clone()).collect();
        self.untyped()
            .to_wasm_params::<Value>(types.iter())
            .map_err(|e| {
                // Which parameter the error is in, and how its type is
                // written, when the error points into one.
                let hint = argument_at(&self.call, e.span().start)
                    .and_then(|i| ty.params.get(i).map(|p| (i, p)))
                    .map(|(i, (name, t))| {
                        format!("; argument {} (`{name}`) is {}", i + 1, how_written(t))
                    })
                    .unwrap_or_default();
                WaveError::new(format!(
                    "expects {ty}{hint}; {}",
                    describe_parse_error(&self.call, self.offset, &e)
                ))
            })
    }
}

/// The index of the top-level argument of `call` (`f(a, b)`) that the
/// byte `at` is in: commas inside strings, chars and brackets do not count.
fn argument_at(call: &str, at: usize) -> Option<usize> {
    let open = call.find('(')?;
    if at <= open {
        return None;
    }
    let (mut depth, mut index, mut quote, mut escaped) = (0usize, 0usize, None, false);
    for (i, c) in call.char_indices().skip_while(|(i, _)| *i <= open) {
        if i >= at {
            return Some(index);
        }
        match (quote, c) {
            (Some(_), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => index += 1,
            _ => {}
        }
        escaped = false;
    }
    Some(index)
}

/// How a value of `ty` is written in WAVE, for error messages.
fn how_written(ty: &ValueType) -> String {
    match ty {
        ValueType::String => "a string, written in double quotes: \"ada\"".into(),
        ValueType::Char => "a char, written in single quotes: 'a'".into(),
        ValueType::Bool => "a bool: true or false".into(),
        ValueType::F32 | ValueType::F64 => format!("{ty}, a number: 1.5, -2, nan, inf"),
        ValueType::List(_) => format!("{ty}, written in brackets: [a, b]"),
        ValueType::Tuple(_) => format!("{ty}, written in parentheses: (a, b)"),
        ValueType::Record(_) => format!("{ty}, written in braces: {{field: value, ...}}"),
        ValueType::Option(_) => format!("{ty}, written some(value) or none"),
        ValueType::Result { .. } => format!("{ty}, written ok(value) or err(value)"),
        ValueType::Enum(cases) => format!("{ty}, one of: {}", cases.join(", ")),
        ValueType::Variant(_) => format!("{ty}, written case or case(value)"),
        ValueType::Flags(_) => format!("{ty}, written in braces: {{flag, ...}}"),
        ValueType::S8
        | ValueType::S16
        | ValueType::S32
        | ValueType::S64
        | ValueType::U8
        | ValueType::U16
        | ValueType::U32
        | ValueType::U64 => format!("{ty}, an integer: 42"),
        _ => ty.to_string(),
    }
}

/// `e` at its place in `call` (`f(...)`), whose `(` is at `offset` in the
/// text as written.
fn describe_parse_error(call: &str, offset: usize, e: &wasm_wave::parser::ParserError) -> String {
    let span = e.span();
    let snippet = call.get(span.clone()).unwrap_or("");
    let mut msg = e.kind().to_string();
    if let Some(detail) = e.detail() {
        msg.push_str(": ");
        msg.push_str(detail);
    }
    let at = (span.start + offset).saturating_sub(1);
    if snippet.is_empty() {
        format!("{msg} at offset {at}")
    } else {
        format!("{msg} at `{snippet}` (offset {at})")
    }
}

fn field_types(ty: &ValueType) -> impl Iterator<Item = (Cow<'_, str>, ValueType)> {
    let fields = match ty {
        ValueType::Record(f) => &f[..],
        _ => &[],
    };
    fields
        .iter()
        .map(|f| (Cow::Borrowed(f.name.as_str()), f.ty.clone()))
}

impl WasmType for ValueType {
    fn kind(&self) -> WasmTypeKind {
        match self {
            ValueType::Bool => WasmTypeKind::Bool,
            ValueType::S8 => WasmTypeKind::S8,
            ValueType::S16 => WasmTypeKind::S16,
            ValueType::S32 => WasmTypeKind::S32,
            ValueType::S64 => WasmTypeKind::S64,
            ValueType::U8 => WasmTypeKind::U8,
            ValueType::U16 => WasmTypeKind::U16,
            ValueType::U32 => WasmTypeKind::U32,
            ValueType::U64 => WasmTypeKind::U64,
            ValueType::F32 => WasmTypeKind::F32,
            ValueType::F64 => WasmTypeKind::F64,
            ValueType::Char => WasmTypeKind::Char,
            ValueType::String => WasmTypeKind::String,
            ValueType::List(_) => WasmTypeKind::List,
            ValueType::Record(_) => WasmTypeKind::Record,
            ValueType::Tuple(_) => WasmTypeKind::Tuple,
            ValueType::Variant(_) => WasmTypeKind::Variant,
            ValueType::Enum(_) => WasmTypeKind::Enum,
            ValueType::Option(_) => WasmTypeKind::Option,
            ValueType::Result { .. } => WasmTypeKind::Result,
            ValueType::Flags(_) => WasmTypeKind::Flags,
            ValueType::Resource(_) => WasmTypeKind::Unsupported,
        }
    }

    fn list_element_type(&self) -> Option<Self> {
        match self {
            ValueType::List(t) => Some((**t).clone()),
            _ => None,
        }
    }

    fn record_fields(&self) -> Box<dyn Iterator<Item = (Cow<'_, str>, Self)> + '_> {
        Box::new(field_types(self))
    }

    fn tuple_element_types(&self) -> Box<dyn Iterator<Item = Self> + '_> {
        match self {
            ValueType::Tuple(ts) => Box::new(ts.iter().cloned()),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn variant_cases(&self) -> Box<dyn Iterator<Item = (Cow<'_, str>, Option<Self>)> + '_> {
        match self {
            ValueType::Variant(cs) => Box::new(
                cs.iter()
                    .map(|c| (Cow::Borrowed(c.name.as_str()), c.ty.clone())),
            ),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn enum_cases(&self) -> Box<dyn Iterator<Item = Cow<'_, str>> + '_> {
        match self {
            ValueType::Enum(cs) => Box::new(cs.iter().map(|c| Cow::Borrowed(c.as_str()))),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn option_some_type(&self) -> Option<Self> {
        match self {
            ValueType::Option(t) => Some((**t).clone()),
            _ => None,
        }
    }

    fn result_types(&self) -> Option<(Option<Self>, Option<Self>)> {
        match self {
            ValueType::Result { ok, err } => {
                Some((ok.as_deref().cloned(), err.as_deref().cloned()))
            }
            _ => None,
        }
    }

    fn flags_names(&self) -> Box<dyn Iterator<Item = Cow<'_, str>> + '_> {
        match self {
            ValueType::Flags(ns) => Box::new(ns.iter().map(|n| Cow::Borrowed(n.as_str()))),
            _ => Box::new(std::iter::empty()),
        }
    }
}

fn wrong_kind(expected: &str, ty: &ValueType) -> WasmValueError {
    WasmValueError::WrongTypeKind {
        kind: ty.kind(),
        ty: format!("{ty} (expected {expected})"),
    }
}

macro_rules! unwrap_as {
    ($self:expr, $case:ident) => {
        match $self {
            Value::$case(v) => v.clone(),
            other => panic!(
                "WAVE writer asked for {} of a {} value",
                stringify!($case),
                other.kind_name()
            ),
        }
    };
}

impl WasmValue for Value {
    type Type = ValueType;

    fn kind(&self) -> WasmTypeKind {
        match self {
            Value::Bool(_) => WasmTypeKind::Bool,
            Value::S8(_) => WasmTypeKind::S8,
            Value::S16(_) => WasmTypeKind::S16,
            Value::S32(_) => WasmTypeKind::S32,
            Value::S64(_) => WasmTypeKind::S64,
            Value::U8(_) => WasmTypeKind::U8,
            Value::U16(_) => WasmTypeKind::U16,
            Value::U32(_) => WasmTypeKind::U32,
            Value::U64(_) => WasmTypeKind::U64,
            Value::F32(_) => WasmTypeKind::F32,
            Value::F64(_) => WasmTypeKind::F64,
            Value::Char(_) => WasmTypeKind::Char,
            Value::String(_) => WasmTypeKind::String,
            Value::List(_) | Value::Bytes(_) => WasmTypeKind::List,
            Value::Record(_) => WasmTypeKind::Record,
            Value::Tuple(_) => WasmTypeKind::Tuple,
            Value::Variant(..) => WasmTypeKind::Variant,
            Value::Enum(_) => WasmTypeKind::Enum,
            Value::Option(_) => WasmTypeKind::Option,
            Value::Result(_) => WasmTypeKind::Result,
            Value::Flags(_) => WasmTypeKind::Flags,
            Value::Resource(_) => WasmTypeKind::Unsupported,
        }
    }

    fn make_bool(v: bool) -> Self {
        Value::Bool(v)
    }
    fn make_s8(v: i8) -> Self {
        Value::S8(v)
    }
    fn make_s16(v: i16) -> Self {
        Value::S16(v)
    }
    fn make_s32(v: i32) -> Self {
        Value::S32(v)
    }
    fn make_s64(v: i64) -> Self {
        Value::S64(v)
    }
    fn make_u8(v: u8) -> Self {
        Value::U8(v)
    }
    fn make_u16(v: u16) -> Self {
        Value::U16(v)
    }
    fn make_u32(v: u32) -> Self {
        Value::U32(v)
    }
    fn make_u64(v: u64) -> Self {
        Value::U64(v)
    }
    fn make_f32(v: f32) -> Self {
        Value::F32(v)
    }
    fn make_f64(v: f64) -> Self {
        Value::F64(v)
    }
    fn make_char(v: char) -> Self {
        Value::Char(v)
    }
    fn make_string(v: Cow<str>) -> Self {
        Value::String(v.into_owned())
    }

    fn make_list(
        ty: &Self::Type,
        vals: impl IntoIterator<Item = Self>,
    ) -> Result<Self, WasmValueError> {
        match ty {
            ValueType::List(_) => Ok(Value::List(vals.into_iter().collect())),
            _ => Err(wrong_kind("list", ty)),
        }
    }

    fn make_record<'a>(
        ty: &Self::Type,
        fields: impl IntoIterator<Item = (&'a str, Self)>,
    ) -> Result<Self, WasmValueError> {
        let ValueType::Record(decl) = ty else {
            return Err(wrong_kind("record", ty));
        };
        let mut given: Vec<(&str, Value)> = fields.into_iter().collect();
        let mut out = Vec::with_capacity(decl.len());
        for field in decl.iter() {
            let pos = given
                .iter()
                .position(|(n, _)| *n == field.name)
                .ok_or_else(|| WasmValueError::MissingField(field.name.clone()))?;
            let (_, v) = given.swap_remove(pos);
            out.push((field.name.clone(), v));
        }
        if let Some((extra, _)) = given.first() {
            return Err(WasmValueError::UnknownField((*extra).to_owned()));
        }
        Ok(Value::Record(out))
    }

    fn make_tuple(
        ty: &Self::Type,
        vals: impl IntoIterator<Item = Self>,
    ) -> Result<Self, WasmValueError> {
        let ValueType::Tuple(tys) = ty else {
            return Err(wrong_kind("tuple", ty));
        };
        let vals: Vec<Value> = vals.into_iter().collect();
        if vals.len() != tys.len() {
            return Err(WasmValueError::WrongNumberOfTupleValues {
                want: tys.len(),
                got: vals.len(),
            });
        }
        Ok(Value::Tuple(vals))
    }

    fn make_variant(
        ty: &Self::Type,
        case: &str,
        val: Option<Self>,
    ) -> Result<Self, WasmValueError> {
        let ValueType::Variant(cases) = ty else {
            return Err(wrong_kind("variant", ty));
        };
        let c = cases
            .iter()
            .find(|c| c.name == case)
            .ok_or_else(|| WasmValueError::UnknownCase(case.to_owned()))?;
        match (&c.ty, &val) {
            (Some(_), None) => Err(WasmValueError::MissingPayload(case.to_owned())),
            (None, Some(_)) => Err(WasmValueError::UnexpectedPayload(case.to_owned())),
            _ => Ok(Value::Variant(case.to_owned(), val.map(Box::new))),
        }
    }

    fn make_enum(ty: &Self::Type, case: &str) -> Result<Self, WasmValueError> {
        let ValueType::Enum(cases) = ty else {
            return Err(wrong_kind("enum", ty));
        };
        if cases.iter().any(|c| c == case) {
            Ok(Value::Enum(case.to_owned()))
        } else {
            Err(WasmValueError::UnknownCase(case.to_owned()))
        }
    }

    fn make_option(ty: &Self::Type, val: Option<Self>) -> Result<Self, WasmValueError> {
        match ty {
            ValueType::Option(_) => Ok(Value::Option(val.map(Box::new))),
            _ => Err(wrong_kind("option", ty)),
        }
    }

    fn make_result(
        ty: &Self::Type,
        val: Result<Option<Self>, Option<Self>>,
    ) -> Result<Self, WasmValueError> {
        let ValueType::Result { ok, err } = ty else {
            return Err(wrong_kind("result", ty));
        };
        let (side, has_ty, payload) = match &val {
            Ok(v) => ("ok", ok.is_some(), v.is_some()),
            Err(v) => ("err", err.is_some(), v.is_some()),
        };
        match (has_ty, payload) {
            (true, false) => Err(WasmValueError::MissingPayload(side.to_owned())),
            (false, true) => Err(WasmValueError::UnexpectedPayload(side.to_owned())),
            _ => Ok(Value::Result(match val {
                Ok(v) => Ok(v.map(Box::new)),
                Err(v) => Err(v.map(Box::new)),
            })),
        }
    }

    fn make_flags<'a>(
        ty: &Self::Type,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, WasmValueError> {
        let ValueType::Flags(decl) = ty else {
            return Err(wrong_kind("flags", ty));
        };
        let given: Vec<&str> = names.into_iter().collect();
        if let Some(bad) = given.iter().find(|g| !decl.iter().any(|d| d == *g)) {
            return Err(WasmValueError::UnknownCase((*bad).to_owned()));
        }
        // Keep declaration order so equal flag sets compare equal.
        Ok(Value::Flags(
            decl.iter()
                .filter(|d| given.contains(&d.as_str()))
                .cloned()
                .collect(),
        ))
    }

    fn unwrap_bool(&self) -> bool {
        unwrap_as!(self, Bool)
    }
    fn unwrap_s8(&self) -> i8 {
        unwrap_as!(self, S8)
    }
    fn unwrap_s16(&self) -> i16 {
        unwrap_as!(self, S16)
    }
    fn unwrap_s32(&self) -> i32 {
        unwrap_as!(self, S32)
    }
    fn unwrap_s64(&self) -> i64 {
        unwrap_as!(self, S64)
    }
    fn unwrap_u8(&self) -> u8 {
        unwrap_as!(self, U8)
    }
    fn unwrap_u16(&self) -> u16 {
        unwrap_as!(self, U16)
    }
    fn unwrap_u32(&self) -> u32 {
        unwrap_as!(self, U32)
    }
    fn unwrap_u64(&self) -> u64 {
        unwrap_as!(self, U64)
    }
    fn unwrap_f32(&self) -> f32 {
        unwrap_as!(self, F32)
    }
    fn unwrap_f64(&self) -> f64 {
        unwrap_as!(self, F64)
    }
    fn unwrap_char(&self) -> char {
        unwrap_as!(self, Char)
    }
    fn unwrap_string(&self) -> Cow<'_, str> {
        match self {
            Value::String(s) => Cow::Borrowed(s),
            other => panic!("WAVE writer asked for a string of a {}", other.kind_name()),
        }
    }
    fn unwrap_list(&self) -> Box<dyn Iterator<Item = Cow<'_, Self>> + '_> {
        match self {
            Value::List(vs) => Box::new(vs.iter().map(Cow::Borrowed)),
            Value::Bytes(bs) => Box::new(bs.iter().map(|b| Cow::Owned(Value::U8(*b)))),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn unwrap_record(&self) -> Box<dyn Iterator<Item = (Cow<'_, str>, Cow<'_, Self>)> + '_> {
        match self {
            Value::Record(fs) => Box::new(
                fs.iter()
                    .map(|(n, v)| (Cow::Borrowed(n.as_str()), Cow::Borrowed(v))),
            ),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn unwrap_tuple(&self) -> Box<dyn Iterator<Item = Cow<'_, Self>> + '_> {
        match self {
            Value::Tuple(vs) => Box::new(vs.iter().map(Cow::Borrowed)),
            _ => Box::new(std::iter::empty()),
        }
    }
    fn unwrap_variant(&self) -> (Cow<'_, str>, Option<Cow<'_, Self>>) {
        match self {
            Value::Variant(c, v) => (Cow::Borrowed(c), v.as_deref().map(Cow::Borrowed)),
            other => panic!("WAVE writer asked for a variant of a {}", other.kind_name()),
        }
    }
    fn unwrap_enum(&self) -> Cow<'_, str> {
        match self {
            Value::Enum(c) => Cow::Borrowed(c),
            other => panic!("WAVE writer asked for an enum of a {}", other.kind_name()),
        }
    }
    fn unwrap_option(&self) -> Option<Cow<'_, Self>> {
        match self {
            Value::Option(v) => v.as_deref().map(Cow::Borrowed),
            other => panic!("WAVE writer asked for an option of a {}", other.kind_name()),
        }
    }
    fn unwrap_result(&self) -> Result<Option<Cow<'_, Self>>, Option<Cow<'_, Self>>> {
        match self {
            Value::Result(Ok(v)) => Ok(v.as_deref().map(Cow::Borrowed)),
            Value::Result(Err(v)) => Err(v.as_deref().map(Cow::Borrowed)),
            other => panic!("WAVE writer asked for a result of a {}", other.kind_name()),
        }
    }
    fn unwrap_flags(&self) -> Box<dyn Iterator<Item = Cow<'_, str>> + '_> {
        match self {
            Value::Flags(ns) => Box::new(ns.iter().map(|n| Cow::Borrowed(n.as_str()))),
            _ => Box::new(std::iter::empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_an_error_is_in_skips_commas_in_strings_and_brackets() {
        let call = r#"f("a,b", [1, 2], ',', {x: "y,"}, 5)"#;
        let at = |needle: &str| argument_at(call, call.rfind(needle).unwrap());
        assert_eq!(at("\"a,b\""), Some(0));
        assert_eq!(at("2]"), Some(1));
        assert_eq!(at("','"), Some(2));
        assert_eq!(at("\"y,\""), Some(3));
        assert_eq!(at("5)"), Some(4));
        assert_eq!(argument_at(r#"f("\"", 1)"#, 7), Some(1));
    }

    #[test]
    fn an_argument_error_says_how_the_argument_is_written() {
        let ty = FuncType {
            params: vec![
                ("name".into(), ValueType::String),
                ("c".into(), ValueType::Char),
            ],
            result: None,
        };
        let e = WaveCall::parse(r#"f("a", b)"#)
            .unwrap()
            .args(&ty)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("argument 2 (`c`) is a char, written in single quotes: 'a'"),
            "{e}"
        );
    }
}
