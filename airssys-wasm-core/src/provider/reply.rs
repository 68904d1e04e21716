//! The values provider functions return, and their arguments.

use std::borrow::Cow;

use crate::audit::{AuditKind, capped};
use crate::host::{CallContext, HostError};
use crate::value::Value;

/// `result::ok(value)`.
pub fn ok(value: Option<Value>) -> Value {
    Value::Result(Ok(value.map(Box::new)))
}

/// `result::err(error::<case>(message))`.
pub fn err(case: &str, message: impl Into<String>) -> Value {
    Value::Result(Err(Some(Box::new(Value::variant(
        case,
        Some(Value::String(message.into())),
    )))))
}

/// The string argument `i`.
pub fn string(args: &[Value], i: usize) -> Result<&str, HostError> {
    args.get(i)
        .and_then(Value::as_str)
        .ok_or_else(|| HostError::Failed(format!("argument {i} is not a string")))
}

/// A `list<u8>` argument, as bytes (a backend lifts byte lists as bytes).
pub fn bytes(v: &Value) -> Result<Cow<'_, [u8]>, HostError> {
    v.as_bytes()
        .ok_or_else(|| HostError::Failed("expected list<u8>".into()))
}

/// A `list<u8>` value, held as bytes.
pub fn bytes_value(data: Vec<u8>) -> Value {
    Value::Bytes(data)
}

/// A host limit refused the call: records a `host-limit` audit event and
/// returns `error::limit`. `what` is formatted [`capped`]: a limit's text
/// names what the guest sent (a namespace, a URL), which may be huge. Pass
/// `format_args!` rather than a `String` built whole.
pub fn limit(
    cx: &CallContext<'_>,
    function: &str,
    what: impl std::fmt::Display,
) -> Result<Value, HostError> {
    let what = capped(what);
    cx.record(AuditKind::HostLimit {
        function: function.to_owned(),
        limit: what.clone(),
    })?;
    Ok(err("limit", what))
}
