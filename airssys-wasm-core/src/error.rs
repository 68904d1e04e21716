//! The typed error every layer returns.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limits::LimitKind;

/// Everything that can go wrong loading, instantiating or calling a
/// component. Each variant names what failed; [`Error::class`] groups them
/// for exit codes and audit records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a valid component.
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    /// The component imports something the host does not provide.
    #[error("missing import `{name}`: {hint}")]
    MissingImport {
        /// The import's name, e.g. `wasi:http/outgoing-handler@0.2.6`.
        name: String,
        /// What would provide it.
        hint: String,
    },
    /// The component has no such export.
    #[error(
        "no export named `{name}`{}; the component exports: {available}",
        did_you_mean(name, available)
    )]
    NoSuchExport {
        /// The name asked for.
        name: String,
        /// The callable exports, comma-separated.
        available: String,
    },
    /// Arguments do not match the export's signature.
    #[error("bad arguments for `{function}`: {detail}")]
    InvalidArguments {
        /// The export.
        function: String,
        /// What did not match.
        detail: String,
    },
    /// The call ran out of fuel.
    #[error("out of fuel after {limit} units in export `{function}`")]
    OutOfFuel {
        /// The export.
        function: String,
        /// The fuel budget of the call.
        limit: u64,
    },
    /// The call exceeded its wall-clock timeout.
    #[error("timed out after {} (limit {}) in export `{function}`", fmt_duration(*elapsed), fmt_duration(*limit))]
    Timeout {
        /// The export.
        function: String,
        /// The timeout.
        limit: Duration,
        /// How long it ran.
        elapsed: Duration,
    },
    /// The instance tried to grow its memory past the limit.
    #[error(
        "memory limit of {limit} bytes exceeded in export `{function}` (asked for {requested} bytes)"
    )]
    MemoryLimit {
        /// The export (or `<instantiate>`).
        function: String,
        /// The limit in bytes.
        limit: u64,
        /// The size the guest asked for.
        requested: u64,
    },
    /// The instance tried to grow a table past the limit.
    #[error(
        "table limit of {limit} elements exceeded in export `{function}` (asked for {requested})"
    )]
    TableLimit {
        /// The export (or `<instantiate>`).
        function: String,
        /// The limit in elements.
        limit: u64,
        /// The size the guest asked for.
        requested: u64,
    },
    /// Too many live instances of one component.
    #[error(
        "instance limit of {limit} reached for component `{component}`; drop an instance first"
    )]
    InstanceLimit {
        /// The component.
        component: String,
        /// The limit.
        limit: u32,
    },
    /// The guest's call stack overflowed.
    #[error("stack overflow in export `{function}`")]
    StackOverflow {
        /// The export.
        function: String,
    },
    /// The guest trapped (`unreachable`, a panic, an out-of-bounds access...).
    #[error("trap in export `{function}`: {message}")]
    Trap {
        /// The export.
        function: String,
        /// The engine's description, with the guest backtrace if any.
        message: String,
    },
    /// A host function refused a request the component's grants do not cover.
    #[error("capability denied: `{request}` (needs {capability}) in host function `{function}`")]
    HostDenied {
        /// The host function, `interface#name`.
        function: String,
        /// The kind of capability needed.
        capability: String,
        /// The request.
        request: String,
    },
    /// A host function failed.
    #[error("host function `{function}` failed: {message}")]
    HostFailed {
        /// The host function, `interface#name`.
        function: String,
        /// Why.
        message: String,
    },
    /// An earlier trap left the instance unusable; make a new one.
    #[error("instance can no longer be used: an earlier call trapped ({0}); create a new instance")]
    InstancePoisoned(String),
    /// The guest ended itself through `wasi:cli/exit` (a command's normal way
    /// to return a status). The instance cannot be used afterwards.
    #[error("the guest exited with code {code}")]
    Exit {
        /// The exit code.
        code: i32,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The audit sink could not record an event; the operation was stopped.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The backend failed in a way no other variant covers.
    #[error("backend error: {0}")]
    Backend(String),

    /// A manifest or policy file is invalid, or the policy refused the
    /// component (a forbidden capability, a missing or bad signature). The
    /// message names the file, line and rule.
    #[error("{0}")]
    Policy(String),

    /// A component name (`LoadOptions::name`, the CLI's `--name`) is not
    /// one: see [`crate::check_name`] for the character set. The message
    /// shows the name escaped.
    #[error(transparent)]
    InvalidName(#[from] crate::NameError),

    /// Components could not be composed (a plug that satisfies nothing,
    /// an interface whose types differ); the message says which and why.
    #[error("{0}")]
    Composition(String),
}

fn fmt_duration(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

/// Groups of errors, each with its own CLI exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// Invalid component bytes.
    InvalidComponent,
    /// An import the host does not provide.
    MissingImport,
    /// Wrong export name or arguments.
    BadCall,
    /// A guest trap.
    Trap,
    /// Stack overflow.
    StackOverflow,
    /// Out of fuel.
    OutOfFuel,
    /// Wall-clock timeout.
    Timeout,
    /// Memory, table or instance limit.
    ResourceLimit,
    /// A capability was denied.
    CapabilityDenied,
    /// A host function failed.
    HostError,
    /// File or audit I/O, or the backend itself.
    Io,
    /// An invalid manifest, policy or component name, or a refusal by
    /// policy.
    Policy,
    /// Components could not be composed.
    Composition,
}

impl ErrorClass {
    /// The exit code `airssys-wasm` uses for this class.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::InvalidComponent => 80,
            Self::MissingImport => 81,
            Self::BadCall => 82,
            Self::Trap => 83,
            Self::StackOverflow => 84,
            Self::OutOfFuel => 85,
            Self::Timeout => 86,
            Self::ResourceLimit => 87,
            Self::CapabilityDenied => 88,
            Self::HostError => 89,
            Self::Io => 90,
            Self::Policy => 91,
            Self::Composition => 92,
        }
    }

    /// Every class, in exit-code order.
    pub const ALL: [ErrorClass; 13] = [
        Self::InvalidComponent,
        Self::MissingImport,
        Self::BadCall,
        Self::Trap,
        Self::StackOverflow,
        Self::OutOfFuel,
        Self::Timeout,
        Self::ResourceLimit,
        Self::CapabilityDenied,
        Self::HostError,
        Self::Io,
        Self::Policy,
        Self::Composition,
    ];

    /// A short description for help texts.
    pub fn describe(self) -> &'static str {
        match self {
            Self::InvalidComponent => "the file is not a valid WebAssembly component",
            Self::MissingImport => "the component imports something the host does not provide",
            Self::BadCall => "no such export, or arguments that do not match its signature",
            Self::Trap => "the guest trapped (unreachable, panic, bad memory access)",
            Self::StackOverflow => "the guest overflowed its call stack",
            Self::OutOfFuel => "the fuel limit (--fuel) was used up",
            Self::Timeout => "the wall-clock limit (--timeout) was exceeded",
            Self::ResourceLimit => "the memory, table or instance limit was exceeded",
            Self::CapabilityDenied => "a host function refused an ungranted capability",
            Self::HostError => "a host function failed",
            Self::Io => {
                "reading an input or writing the audit log failed, or the cache directory (--cache-dir) or its key is not private"
            }
            Self::Policy => {
                "a manifest or policy is invalid (a name it gives included), or the policy refused the component (forbidden capability, signature)"
            }
            Self::Composition => {
                "components could not be composed or made (nothing plugged, types differ, a core module that does not fit its world)"
            }
        }
    }
}

impl ErrorClass {
    /// The class's name as audit records write it (`out-of-fuel`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidComponent => "invalid-component",
            Self::MissingImport => "missing-import",
            Self::BadCall => "bad-call",
            Self::Trap => "trap",
            Self::StackOverflow => "stack-overflow",
            Self::OutOfFuel => "out-of-fuel",
            Self::Timeout => "timeout",
            Self::ResourceLimit => "resource-limit",
            Self::CapabilityDenied => "capability-denied",
            Self::HostError => "host-error",
            Self::Io => "io",
            Self::Policy => "policy",
            Self::Composition => "composition",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The error a call fails with when host function `function` returned
    /// `error`: [`Error::HostDenied`] for a denial, [`Error::Audit`] when the
    /// decision could not be recorded, [`Error::HostFailed`] otherwise. Every
    /// backend maps host failures through this one function.
    pub fn from_host(function: &str, error: &crate::HostError) -> Error {
        match error {
            crate::HostError::Denied {
                capability,
                request,
            } => Error::HostDenied {
                function: function.to_owned(),
                capability: capability.to_string(),
                request: request.clone(),
            },
            crate::HostError::Audit(a) => Error::Audit(a.clone()),
            other => Error::HostFailed {
                function: function.to_owned(),
                message: other.to_string(),
            },
        }
    }

    /// The error for an import `name` nothing provides, with a hint: a host
    /// function missing from an interface the host defines
    /// (`interface_known`), a WASI interface `backend` does not provide, or
    /// an import to define or compose.
    pub fn missing_import(name: &str, interface_known: bool, backend: &str) -> Error {
        let hint = if interface_known {
            "the host defines this interface but not this function; add it with \
             HostFunctions::define"
                .to_owned()
        } else if name.starts_with("wasi:") {
            format!("this WASI interface or version is not provided by the {backend} backend")
        } else {
            "no host function provides it; define it with HostFunctions::define, or compose the \
             component with a provider first"
                .to_owned()
        };
        Error::MissingImport {
            name: name.to_owned(),
            hint,
        }
    }

    /// The class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidComponent(_) => ErrorClass::InvalidComponent,
            Self::MissingImport { .. } => ErrorClass::MissingImport,
            Self::NoSuchExport { .. } | Self::InvalidArguments { .. } => ErrorClass::BadCall,
            Self::Trap { .. } | Self::InstancePoisoned(_) | Self::Exit { .. } => ErrorClass::Trap,
            Self::StackOverflow { .. } => ErrorClass::StackOverflow,
            Self::OutOfFuel { .. } => ErrorClass::OutOfFuel,
            Self::Timeout { .. } => ErrorClass::Timeout,
            Self::MemoryLimit { .. } | Self::TableLimit { .. } | Self::InstanceLimit { .. } => {
                ErrorClass::ResourceLimit
            }
            Self::HostDenied { .. } => ErrorClass::CapabilityDenied,
            Self::HostFailed { .. } => ErrorClass::HostError,
            Self::Io { .. } | Self::Audit(_) | Self::Backend(_) => ErrorClass::Io,
            Self::Policy(_) | Self::InvalidName(_) => ErrorClass::Policy,
            Self::Composition(_) => ErrorClass::Composition,
        }
    }

    /// The limit this error reports hitting, if it is a limit error.
    pub fn limit(&self) -> Option<LimitKind> {
        match self {
            Self::OutOfFuel { .. } => Some(LimitKind::Fuel),
            Self::Timeout { .. } => Some(LimitKind::Timeout),
            Self::MemoryLimit { .. } => Some(LimitKind::Memory),
            Self::TableLimit { .. } => Some(LimitKind::TableElements),
            Self::InstanceLimit { .. } => Some(LimitKind::Instances),
            Self::StackOverflow { .. } => Some(LimitKind::Stack),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text of a caught panic's payload: what `panic!` was given, or
/// `no message` for a payload that is not a string. Both backends use it
/// for a host function that panicked, and `ComponentInfo::parse` for a
/// decoder that did.
///
/// ```
/// use airssys_wasm_core::panic_message;
/// let caught = std::panic::catch_unwind(|| panic!("at {}", 3)).unwrap_err();
/// assert_eq!(panic_message(&*caught), "at 3");
/// let caught = std::panic::catch_unwind(|| std::panic::panic_any(7_u8)).unwrap_err();
/// assert_eq!(panic_message(&*caught), "no message");
/// ```
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "no message"
    }
}

/// A sink could not record an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit sink failed: {0}")]
pub struct AuditError(pub String);

/// ` (did you mean `x`?)` for a name close to one of the comma-separated
/// `available` names.
fn did_you_mean(name: &str, available: &str) -> String {
    crate::did_you_mean(name, available.split(", "))
}
