//! The error a failed host function carries through wasmtime's error, for
//! the instance's `classify` to turn back into ours. A leaf: both the host
//! functions (`instance`) and the filesystem (`fs`) raise it.

use std::fmt;
use std::sync::Arc;

use airssys_wasm_core::HostError;

/// A host function failed; carried through wasmtime's error to `classify`.
#[derive(Debug)]
pub(crate) struct HostCallFailed {
    pub(crate) function: Arc<str>,
    pub(crate) error: HostError,
}

impl fmt::Display for HostCallFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host function `{}`: {}", self.function, self.error)
    }
}

impl std::error::Error for HostCallFailed {}
