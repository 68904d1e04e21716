//! The kinds of capability ([`CapabilityKind`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kinds of capability, for reports and for mapping imports to the grants
/// they need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CapabilityKind {
    /// stdin / stdout / stderr
    Stdio,
    /// environment variables
    Env,
    /// files and directories
    Filesystem,
    /// clocks
    Clocks,
    /// host entropy
    Random,
    /// network access
    Network,
    /// key-value storage
    KeyValue,
    /// messaging topics
    Messaging,
    /// a capability of the embedding application
    Custom,
}

impl CapabilityKind {
    /// The capability a WASI import needs, judged by its interface name
    /// (`wasi:filesystem/types@0.2.6` needs [`CapabilityKind::Filesystem`]).
    /// `None` for imports that need no grant (`wasi:io`, `wasi:cli/exit`)
    /// and for every interface outside WASI: those are served by host
    /// providers, which declare what they check
    /// ([`Providers::capability_for`](crate::Providers::capability_for)
    /// asks them).
    ///
    /// ```
    /// use airssys_wasm_core::CapabilityKind;
    /// assert_eq!(CapabilityKind::for_import("wasi:cli/stdout@0.2.6"), Some(CapabilityKind::Stdio));
    /// assert_eq!(CapabilityKind::for_import("wasi:io/streams@0.2.6"), None);
    /// assert_eq!(CapabilityKind::for_import("airssys:host/key-value@0.1.0"), None);
    /// ```
    pub fn for_import(name: &str) -> Option<Self> {
        let unversioned = name.split('@').next().unwrap_or(name);
        match unversioned {
            "wasi:cli/stdin" | "wasi:cli/stdout" | "wasi:cli/stderr" => Some(Self::Stdio),
            "wasi:cli/environment" => Some(Self::Env),
            n if n.starts_with("wasi:filesystem/") => Some(Self::Filesystem),
            n if n.starts_with("wasi:clocks/") => Some(Self::Clocks),
            n if n.starts_with("wasi:random/") => Some(Self::Random),
            n if n.starts_with("wasi:sockets/") || n.starts_with("wasi:http/") => {
                Some(Self::Network)
            }
            _ => None,
        }
    }

    /// How the kind is granted, in the words of manifests and policies
    /// (their `[capabilities]` and `[grant.NAME]` keys) and of `run`'s
    /// flags: the one vocabulary `inspect`, errors and the README use.
    ///
    /// ```
    /// use airssys_wasm_core::CapabilityKind;
    /// assert_eq!(
    ///     CapabilityKind::Filesystem.how_granted(),
    ///     "`dirs` or `files` (--dir HOST::GUEST)"
    /// );
    /// ```
    pub fn how_granted(self) -> &'static str {
        match self {
            Self::Stdio => "`stdio = true` (--allow-stdio)",
            Self::Env => "`env` (--env NAME)",
            Self::Filesystem => "`dirs` or `files` (--dir HOST::GUEST)",
            Self::Clocks => "`clocks = true` (--allow-clocks)",
            Self::Random => "`random = true` (--allow-random)",
            Self::Network => "`network` (a policy's grant)",
            Self::KeyValue => "`key-value` (a policy's grant)",
            Self::Messaging => "`messaging` (a policy's grant)",
            Self::Custom => "`custom` (a policy's grant)",
        }
    }

    /// The kind's name as the CLI and the audit log write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdio => "stdio",
            Self::Env => "env",
            Self::Filesystem => "filesystem",
            Self::Clocks => "clocks",
            Self::Random => "random",
            Self::Network => "network",
            Self::KeyValue => "key-value",
            Self::Messaging => "messaging",
            Self::Custom => "custom",
        }
    }
}

impl fmt::Display for CapabilityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
