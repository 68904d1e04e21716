//! Capabilities: what a component may do outside its own memory.
//!
//! A [`CapabilitySet`] starts empty and denies everything. Grants are added
//! one [`Capability`] at a time; at run time a host function describes what a
//! guest asks for as a [`Request`] and [`CapabilitySet::allows`] answers with a
//! [`Decision`]. Answering never allocates.
//!
//! ```
//! use airssys_wasm_core::{Capability, CapabilitySet, Decision, Request};
//!
//! let mut caps = CapabilitySet::new();
//! assert_eq!(caps.allows(&Request::Stdio), Decision::Denied);
//! caps.grant(Capability::Stdio);
//! caps.grant(Capability::env("HOME"));
//! assert!(caps.allows(&Request::Stdio).is_allowed());
//! assert!(caps.allows(&Request::Env("HOME")).is_allowed());
//! assert!(!caps.allows(&Request::Env("PATH")).is_allowed());
//! ```

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One grant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Capability {
    /// The host's stdin, stdout and stderr.
    Stdio,
    /// One environment variable. With `value: None` the host's own value is
    /// passed (if it has one); otherwise the given value.
    Env {
        /// The variable's name.
        name: String,
        /// The value the guest sees, or `None` for the host's value.
        value: Option<String>,
    },
    /// A host directory, visible to the guest at `guest` (WASI preopen).
    Dir {
        /// The directory on the host.
        host: PathBuf,
        /// Where the guest sees it, for example `/data`.
        guest: String,
        /// `true` to forbid writes.
        read_only: bool,
    },
    /// The wall clock and the monotonic clock.
    Clocks,
    /// Host entropy (`wasi:random`).
    Random,
    /// A capability an embedding application defines for its own host
    /// functions, by name (for example `secrets`).
    Custom {
        /// The capability's name.
        name: String,
    },
}

impl Capability {
    /// Grants the environment variable `name` with the host's value.
    pub fn env(name: impl Into<String>) -> Self {
        Self::Env {
            name: name.into(),
            value: None,
        }
    }

    /// Grants the environment variable `name` with the given value.
    pub fn env_value(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Env {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// Grants a host directory at a guest path.
    pub fn dir(host: impl Into<PathBuf>, guest: impl Into<String>, read_only: bool) -> Self {
        Self::Dir {
            host: host.into(),
            guest: guest.into(),
            read_only,
        }
    }

    /// A named capability of the embedding application.
    pub fn custom(name: impl Into<String>) -> Self {
        Self::Custom { name: name.into() }
    }

    /// The kind of this grant.
    pub fn kind(&self) -> CapabilityKind {
        match self {
            Self::Stdio => CapabilityKind::Stdio,
            Self::Env { .. } => CapabilityKind::Env,
            Self::Dir { .. } => CapabilityKind::Filesystem,
            Self::Clocks => CapabilityKind::Clocks,
            Self::Random => CapabilityKind::Random,
            Self::Custom { .. } => CapabilityKind::Custom,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdio => f.write_str("stdio"),
            Self::Env { name, .. } => write!(f, "env {name}"),
            Self::Dir {
                host,
                guest,
                read_only,
            } => write!(
                f,
                "dir {}::{guest}{}",
                host.display(),
                if *read_only { " (read-only)" } else { "" }
            ),
            Self::Clocks => f.write_str("clocks"),
            Self::Random => f.write_str("random"),
            Self::Custom { name } => write!(f, "custom {name}"),
        }
    }
}

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
    /// a capability of the embedding application
    Custom,
}

impl CapabilityKind {
    /// The capability an import needs, judged by its interface name
    /// (`wasi:filesystem/types@0.2.6` needs [`CapabilityKind::Filesystem`]).
    /// `None` for imports that need no grant (`wasi:io`, `wasi:cli/exit`) or
    /// that the host does not know.
    ///
    /// ```
    /// use airssys_wasm_core::CapabilityKind;
    /// assert_eq!(CapabilityKind::for_import("wasi:cli/stdout@0.2.6"), Some(CapabilityKind::Stdio));
    /// assert_eq!(CapabilityKind::for_import("wasi:io/streams@0.2.6"), None);
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

    /// The kind's name as the CLI and the audit log write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdio => "stdio",
            Self::Env => "env",
            Self::Filesystem => "filesystem",
            Self::Clocks => "clocks",
            Self::Random => "random",
            Self::Network => "network",
            Self::Custom => "custom",
        }
    }
}

impl fmt::Display for CapabilityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a guest asks for at run time. Borrows its strings, so building and
/// checking a request allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request<'a> {
    /// Use of stdin, stdout or stderr.
    Stdio,
    /// Reading an environment variable.
    Env(&'a str),
    /// Reading a file or listing a directory at a guest path.
    FileRead(&'a str),
    /// Writing, creating or deleting at a guest path.
    FileWrite(&'a str),
    /// Reading a clock.
    Clocks,
    /// Host entropy.
    Random,
    /// A capability of the embedding application, by name.
    Custom(&'a str),
}

impl Request<'_> {
    /// The kind of capability this request needs.
    pub fn kind(&self) -> CapabilityKind {
        match self {
            Self::Stdio => CapabilityKind::Stdio,
            Self::Env(_) => CapabilityKind::Env,
            Self::FileRead(_) | Self::FileWrite(_) => CapabilityKind::Filesystem,
            Self::Clocks => CapabilityKind::Clocks,
            Self::Random => CapabilityKind::Random,
            Self::Custom(_) => CapabilityKind::Custom,
        }
    }
}

impl fmt::Display for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdio => f.write_str("stdio"),
            Self::Env(n) => write!(f, "env {n}"),
            Self::FileRead(p) => write!(f, "read {p}"),
            Self::FileWrite(p) => write!(f, "write {p}"),
            Self::Clocks => f.write_str("clocks"),
            Self::Random => f.write_str("random"),
            Self::Custom(n) => write!(f, "custom {n}"),
        }
    }
}

/// The answer to a [`Request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A grant covers the request.
    Allowed,
    /// No grant covers the request.
    Denied,
}

impl Decision {
    /// `true` for [`Decision::Allowed`].
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// The grants of one component. Empty means nothing is allowed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitySet {
    grants: Vec<Capability>,
}

impl CapabilitySet {
    /// An empty set: everything is denied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a grant (a repeated grant is kept once).
    pub fn grant(&mut self, capability: Capability) -> &mut Self {
        if !self.grants.contains(&capability) {
            self.grants.push(capability);
        }
        self
    }

    /// Builder form of [`CapabilitySet::grant`].
    pub fn with(mut self, capability: Capability) -> Self {
        self.grant(capability);
        self
    }

    /// The grants, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.grants.iter()
    }

    /// `true` when nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// `true` when some grant of this kind exists.
    pub fn has_kind(&self, kind: CapabilityKind) -> bool {
        self.grants.iter().any(|g| g.kind() == kind)
    }

    /// Answers a request. Does not allocate.
    ///
    /// File requests are matched after lexical normalisation of the guest
    /// path: a path that climbs out of every granted directory with `..` is
    /// denied, whatever directory it names.
    pub fn allows(&self, request: &Request<'_>) -> Decision {
        let allowed = self.grants.iter().any(|g| match (g, request) {
            (Capability::Stdio, Request::Stdio)
            | (Capability::Clocks, Request::Clocks)
            | (Capability::Random, Request::Random) => true,
            (Capability::Env { name, .. }, Request::Env(asked)) => name == asked,
            (Capability::Custom { name }, Request::Custom(asked)) => name == asked,
            (Capability::Dir { guest, .. }, Request::FileRead(path)) => within(guest, path),
            (
                Capability::Dir {
                    guest, read_only, ..
                },
                Request::FileWrite(path),
            ) => !read_only && within(guest, path),
            _ => false,
        });
        if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::new();
        for c in iter {
            set.grant(c);
        }
        set
    }
}

/// Is `path` inside `root` once both are normalised lexically? A `..` that
/// climbs above `root` makes the answer `false`. Allocation-free.
fn within(root: &str, path: &str) -> bool {
    let mut root_parts = Path::new(root).components().filter(|c| is_named(c));
    let mut depth: usize = 0;
    let mut path_parts = Path::new(path).components();
    // Both must be absolute or both relative.
    if Path::new(root).is_absolute() != Path::new(path).is_absolute() {
        return false;
    }
    // First the path must walk through every part of the root.
    for part in path_parts.by_ref() {
        match part {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => continue,
            Component::ParentDir => return false,
            Component::Normal(name) => match root_parts.next() {
                Some(Component::Normal(r)) if r == name => continue,
                Some(_) => return false,
                None => {
                    depth = 1;
                    break;
                }
            },
        }
    }
    if root_parts.next().is_some() {
        return false;
    }
    // Below the root, `..` may not climb above it.
    for part in path_parts {
        match part {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    true
}

fn is_named(c: &Component<'_>) -> bool {
    matches!(c, Component::Normal(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_set_denies_everything() {
        let caps = CapabilitySet::new();
        for r in [
            Request::Stdio,
            Request::Env("HOME"),
            Request::FileRead("/data/x"),
            Request::FileWrite("/data/x"),
            Request::Clocks,
            Request::Random,
            Request::Custom("secrets"),
        ] {
            assert_eq!(caps.allows(&r), Decision::Denied, "{r}");
        }
    }

    #[test]
    fn directory_grants_match_paths_inside_only() {
        let caps = CapabilitySet::new()
            .with(Capability::dir("/srv/data", "/data", false))
            .with(Capability::dir("/srv/conf", "/conf", true));
        let cases = [
            (Request::FileRead("/data"), true),
            (Request::FileRead("/data/a/b.txt"), true),
            (Request::FileRead("/data/a/../b.txt"), true),
            (Request::FileRead("/data/../etc/passwd"), false),
            (Request::FileRead("/data/a/../../etc"), false),
            (Request::FileRead("/database"), false),
            (Request::FileRead("/etc/passwd"), false),
            (Request::FileRead("data/x"), false),
            (Request::FileWrite("/data/new.txt"), true),
            (Request::FileRead("/conf/app.toml"), true),
            (Request::FileWrite("/conf/app.toml"), false),
        ];
        for (request, expected) in cases {
            assert_eq!(
                caps.allows(&request).is_allowed(),
                expected,
                "{request} should be {}",
                if expected { "allowed" } else { "denied" }
            );
        }
    }

    #[test]
    fn named_grants_match_exact_names() {
        let caps = CapabilitySet::new()
            .with(Capability::env("HOME"))
            .with(Capability::custom("secrets"));
        assert!(caps.allows(&Request::Env("HOME")).is_allowed());
        assert!(!caps.allows(&Request::Env("HOMEX")).is_allowed());
        assert!(!caps.allows(&Request::Env("home")).is_allowed());
        assert!(caps.allows(&Request::Custom("secrets")).is_allowed());
        assert!(!caps.allows(&Request::Custom("secret")).is_allowed());
    }

    #[test]
    fn imports_map_to_capability_kinds() {
        let cases = [
            (
                "wasi:filesystem/preopens@0.2.6",
                Some(CapabilityKind::Filesystem),
            ),
            ("wasi:cli/environment@0.2.0", Some(CapabilityKind::Env)),
            ("wasi:cli/stderr@0.2.6", Some(CapabilityKind::Stdio)),
            ("wasi:clocks/wall-clock@0.2.6", Some(CapabilityKind::Clocks)),
            (
                "wasi:random/insecure-seed@0.2.6",
                Some(CapabilityKind::Random),
            ),
            ("wasi:sockets/tcp@0.2.6", Some(CapabilityKind::Network)),
            ("wasi:cli/exit@0.2.6", None),
            ("airssys:test/host-fns@0.1.0", None),
        ];
        for (import, kind) in cases {
            assert_eq!(CapabilityKind::for_import(import), kind, "{import}");
        }
    }
}
