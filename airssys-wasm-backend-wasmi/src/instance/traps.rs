//! Trap classification: the host errors carried through wasmi's error, and
//! the mapping of a wasmi error to the core error of the limit, trap or
//! host failure behind it, in wasmtime's words.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use airssys_wasm_core::{Error, HostError, Limits};
use wasmi::{Store, TrapCode};

use crate::store::StoreData;

/// A host function failed; carried through wasmi's error to `classify`.
#[derive(Debug)]
pub(super) struct HostCallFailed {
    pub(super) function: Arc<str>,
    pub(super) error: HostError,
}

impl fmt::Display for HostCallFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host function `{}`: {}", self.function, self.error)
    }
}

impl wasmi::errors::HostError for HostCallFailed {}

/// The guest handed the host bad data (a bad pointer, invalid UTF-8, an
/// unknown handle): the call traps with this message.
#[derive(Debug)]
pub(super) struct AbiViolation(pub(super) String);

impl fmt::Display for AbiViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl wasmi::errors::HostError for AbiViolation {}

/// The deadline passed.
#[derive(Debug)]
pub(super) struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted: the call's deadline passed")
    }
}

impl wasmi::errors::HostError for Interrupted {}

/// Maps a wasmi error to the core error of the limit, trap or host failure
/// behind it.
pub(super) fn classify(
    store: &mut Store<StoreData>,
    e: &wasmi::Error,
    function: &str,
    limits: &Limits,
    elapsed: Duration,
) -> Error {
    let function = function.to_owned();
    if let Some(hit) = store.data_mut().limiter.exceeded.take() {
        return hit.into_error(function);
    }
    if let Some(h) = e.downcast_ref::<HostCallFailed>() {
        return airssys_wasm_core::kit::host_call_error(
            function,
            &h.function,
            &h.error,
            limits,
            elapsed,
        );
    }
    if e.downcast_ref::<Interrupted>().is_some() {
        return Error::Timeout {
            function,
            limit: limits.timeout.unwrap_or_default(),
            elapsed,
        };
    }
    if let Some(code) = e.i32_exit_status() {
        return Error::Exit { code };
    }
    if let Some(a) = e.downcast_ref::<AbiViolation>() {
        return Error::Trap {
            function,
            message: a.0.clone(),
        };
    }
    if let Some(message) = instantiation_trap(e) {
        return Error::Trap {
            function,
            message: message.to_owned(),
        };
    }
    match e.as_trap_code() {
        Some(TrapCode::OutOfFuel) => Error::OutOfFuel {
            function,
            limit: limits.fuel.unwrap_or(u64::MAX),
        },
        Some(TrapCode::StackOverflow) => Error::StackOverflow { function },
        Some(code) => Error::Trap {
            function,
            message: trap_message(code).to_owned(),
        },
        None => Error::Trap {
            function,
            message: e.to_string(),
        },
    }
}

/// Segment initialisation failures at instantiation, in the words wasmtime
/// uses for the same traps.
fn instantiation_trap(e: &wasmi::Error) -> Option<&'static str> {
    use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
    match e.kind() {
        ErrorKind::Instantiation(InstantiationError::ElementSegmentDoesNotFit { .. })
        | ErrorKind::Table(
            TableError::InitOutOfBounds
            | TableError::SetOutOfBounds
            | TableError::CopyOutOfBounds
            | TableError::FillOutOfBounds,
        ) => Some(trap_message(TrapCode::TableOutOfBounds)),
        ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => {
            Some(trap_message(TrapCode::MemoryOutOfBounds))
        }
        _ => None,
    }
}

/// The same words wasmtime uses for each trap, its "wasm trap: " prefix
/// included, so messages match across backends.
fn trap_message(code: TrapCode) -> &'static str {
    match code {
        TrapCode::UnreachableCodeReached => "wasm trap: wasm `unreachable` instruction executed",
        TrapCode::MemoryOutOfBounds => "wasm trap: out of bounds memory access",
        TrapCode::TableOutOfBounds => "wasm trap: undefined element: out of bounds table access",
        TrapCode::IndirectCallToNull => "wasm trap: uninitialized element",
        TrapCode::IntegerDivisionByZero => "wasm trap: integer divide by zero",
        TrapCode::IntegerOverflow => "wasm trap: integer overflow",
        TrapCode::BadConversionToInteger => "wasm trap: invalid conversion to integer",
        TrapCode::StackOverflow => "wasm trap: call stack exhausted",
        TrapCode::BadSignature => "wasm trap: indirect call type mismatch",
        TrapCode::OutOfFuel => "wasm trap: all fuel consumed by WebAssembly",
        TrapCode::GrowthOperationLimited => "wasm trap: growth operation limited",
        TrapCode::OutOfSystemMemory => "wasm trap: out of system memory",
    }
}
