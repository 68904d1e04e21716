//! Capabilities: what a component may do outside its own memory.
//!
//! A [`CapabilitySet`] starts empty and denies everything. Grants are added
//! one [`Capability`] at a time; at run time a host function describes what a
//! guest asks for as a [`Request`] and [`CapabilitySet::allows`] answers with a
//! [`Decision`]. Answering never allocates: patterns are compiled when the
//! grant is made.
//!
//! ```
//! use airssys_wasm_core::capability::{FileOp, FileRights, HostPattern, NetKind, PathGlob};
//! use airssys_wasm_core::{Capability, CapabilitySet, Decision, Request};
//!
//! let mut caps = CapabilitySet::new();
//! assert_eq!(caps.allows(&Request::Stdio), Decision::Denied);
//! caps.grant(Capability::Stdio);
//! caps.grant(Capability::env("APP_*"));
//! caps.grant(Capability::files(PathGlob::new("/srv/data/**").unwrap(), FileRights::READ));
//! caps.grant(Capability::network(HostPattern::new("*.example.com:443").unwrap(), NetKind::Http));
//! assert!(caps.allows(&Request::Env("APP_MODE")).is_allowed());
//! assert!(!caps.allows(&Request::Env("PATH")).is_allowed());
//! assert!(caps.allows(&Request::File { path: "/srv/data/a.txt", op: FileOp::Read }).is_allowed());
//! assert!(!caps.allows(&Request::File { path: "/srv/data/../../etc/passwd", op: FileOp::Read }).is_allowed());
//! assert!(!caps.allows(&Request::File { path: "/srv/data/a.txt", op: FileOp::Write }).is_allowed());
//! let api = Request::Connect { host: "api.example.com", port: 443, kind: NetKind::Http };
//! assert!(caps.allows(&api).is_allowed());
//! ```
//!
//! Beyond answering requests, capabilities compare with each other:
//! [`Capability::covers`], [`Capability::intersect`] and
//! [`Capability::overlaps`] are what an operator's policy uses to compute
//! what a component effectively gets.

/// The traits every pattern type has: equality, hashing and serde by its
/// text, `Debug`, `Display` and `FromStr` (through `new`).
macro_rules! text_pattern {
    ($ty:ident, $label:literal) => {
        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }
        impl Eq for $ty {}
        impl std::hash::Hash for $ty {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", $label, self.as_str())
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = PatternError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

mod net;
mod path;
mod topic;

/// Splits `s` at every `sep` byte; like `str::split`, but cheaper on the
/// short strings capability checks see.
pub(crate) fn tokens(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use net::{HostPattern, NetKind, canonical_ip, host_address};
pub use path::{
    FileOp, FileRights, MAX_PATH, PathGlob, at_or_below, is_normal, normal_path, normalise,
};
pub use topic::TopicPattern;

/// A pattern that does not parse: which kind, the text, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} pattern `{pattern}`: {why}")]
pub struct PatternError {
    /// `path`, `host`, `topic` or `env`.
    pub kind: &'static str,
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub why: String,
}

impl PatternError {
    pub(crate) fn new(kind: &'static str, pattern: &str, why: &str) -> Self {
        Self {
            kind,
            pattern: pattern.to_owned(),
            why: why.to_owned(),
        }
    }
}

/// Whether two capabilities can allow one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// No request is allowed by both.
    Disjoint,
    /// Some request is allowed by both.
    Overlapping,
    /// It cannot be decided from the patterns (a host name against an
    /// address block, two globs of shapes not compared exactly). Policy
    /// treats it as overlapping a forbidden rule, except a host name
    /// against a forbidden address, which is checked on the resolved
    /// address at connect time instead.
    Undecided,
}

impl Overlap {
    fn of(yes: bool) -> Self {
        if yes {
            Overlap::Overlapping
        } else {
            Overlap::Disjoint
        }
    }
}

/// Limits of a key-value namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KvQuota {
    /// Total bytes of keys and values the namespace may hold.
    pub bytes: u64,
    /// Longest key, in bytes.
    pub max_key_bytes: u32,
    /// Largest value, in bytes.
    pub max_value_bytes: u32,
}

impl Default for KvQuota {
    /// 1 MiB in total, keys up to 256 bytes, values up to 64 KiB.
    fn default() -> Self {
        Self {
            bytes: 1 << 20,
            max_key_bytes: 256,
            max_value_bytes: 64 << 10,
        }
    }
}

impl KvQuota {
    /// The smaller of each limit.
    pub fn min(self, other: KvQuota) -> KvQuota {
        KvQuota {
            bytes: self.bytes.min(other.bytes),
            max_key_bytes: self.max_key_bytes.min(other.max_key_bytes),
            max_value_bytes: self.max_value_bytes.min(other.max_value_bytes),
        }
    }
}

/// One grant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Capability {
    /// The host's stdin, stdout and stderr.
    Stdio,
    /// Environment variables: one by name, or every name with a prefix
    /// when `name` ends with `*` (`APP_*`). With `value: None` the host's
    /// own value is passed (if it has one); otherwise the given value (not
    /// allowed with a prefix).
    Env {
        /// The variable's name, or a prefix followed by `*`.
        name: String,
        /// The value the guest sees, or `None` for the host's value.
        value: Option<String>,
    },
    /// A host directory mounted for WASI at `guest` (a preopen). Host-side
    /// file requests at or below `host` match it too: reads always, other
    /// operations unless `read_only`.
    Dir {
        /// The directory on the host.
        host: PathBuf,
        /// Where the guest sees it, for example `/data`.
        guest: String,
        /// `true` to forbid writes.
        read_only: bool,
    },
    /// Host files matching a glob, with some rights
    /// (`airssys:host/filesystem`).
    Files {
        /// The paths.
        path: PathGlob,
        /// What may be done to them.
        rights: FileRights,
    },
    /// Outgoing connections to matching destinations.
    Network {
        /// The destinations.
        host: HostPattern,
        /// HTTP client use or raw sockets.
        net: NetKind,
    },
    /// A key-value namespace with its quota.
    KeyValue {
        /// The namespace's name.
        namespace: String,
        /// Its limits.
        quota: KvQuota,
    },
    /// Messaging topics.
    Messaging {
        /// The topics.
        topic: TopicPattern,
        /// May publish to them.
        publish: bool,
        /// May subscribe to them.
        subscribe: bool,
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
    /// Grants the environment variable `name` (or prefix `APP_*`) with the
    /// host's value.
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

    /// Mounts a host directory at a guest path.
    pub fn dir(host: impl Into<PathBuf>, guest: impl Into<String>, read_only: bool) -> Self {
        Self::Dir {
            host: host.into(),
            guest: guest.into(),
            read_only,
        }
    }

    /// Grants files matching `path` with `rights`.
    pub fn files(path: PathGlob, rights: FileRights) -> Self {
        Self::Files { path, rights }
    }

    /// Grants connections to `host` of kind `net`.
    pub fn network(host: HostPattern, net: NetKind) -> Self {
        Self::Network { host, net }
    }

    /// Grants a key-value namespace.
    pub fn key_value(namespace: impl Into<String>, quota: KvQuota) -> Self {
        Self::KeyValue {
            namespace: namespace.into(),
            quota,
        }
    }

    /// Grants messaging topics.
    pub fn messaging(topic: TopicPattern, publish: bool, subscribe: bool) -> Self {
        Self::Messaging {
            topic,
            publish,
            subscribe,
        }
    }

    /// A named capability of the embedding application.
    pub fn custom(name: impl Into<String>) -> Self {
        Self::Custom { name: name.into() }
    }

    /// Checks the fields the type system does not: an env prefix has no
    /// fixed value, `*` only ends a name, a mount's guest path is absolute,
    /// a topic grant allows publishing or subscribing, file rights are not
    /// empty.
    pub fn validate(&self) -> Result<(), PatternError> {
        match self {
            Self::Env { name, value } => {
                let bad = |why: &str| Err(PatternError::new("env", name, why));
                if name.is_empty() || name == "*" {
                    return bad("name a variable or a prefix followed by `*`");
                }
                if name.trim_end_matches('*').contains('*') || name.ends_with("**") {
                    return bad("`*` may only end the name, once (`APP_*`)");
                }
                if name.ends_with('*') && value.is_some() {
                    return bad("a prefix grant passes the host's values; it cannot fix one");
                }
                Ok(())
            }
            Self::Dir { guest, .. } if !guest.starts_with('/') => Err(PatternError::new(
                "path",
                guest,
                "the guest path of a mount must be absolute",
            )),
            Self::Dir { host, .. } => match host.to_str() {
                Some(h) if path::is_normal(h) => Ok(()),
                Some(h) => path::normal_path(h).and_then(|normal| {
                    Err(PatternError::new(
                        "path",
                        h,
                        &format!("write the host path in its normal form, `{normal}`"),
                    ))
                }),
                None => Err(PatternError::new(
                    "path",
                    &host.to_string_lossy(),
                    "a host path must be valid UTF-8",
                )),
            },
            Self::Files { path, rights } if rights.is_empty() => Err(PatternError::new(
                "path",
                path.as_str(),
                "give at least one right: read, write, create, delete",
            )),
            Self::Messaging {
                topic,
                publish: false,
                subscribe: false,
            } => Err(PatternError::new(
                "topic",
                topic.as_str(),
                "allow publish, subscribe or both",
            )),
            _ => Ok(()),
        }
    }

    /// The kind of this grant.
    pub fn kind(&self) -> CapabilityKind {
        match self {
            Self::Stdio => CapabilityKind::Stdio,
            Self::Env { .. } => CapabilityKind::Env,
            Self::Dir { .. } | Self::Files { .. } => CapabilityKind::Filesystem,
            Self::Network { .. } => CapabilityKind::Network,
            Self::KeyValue { .. } => CapabilityKind::KeyValue,
            Self::Messaging { .. } => CapabilityKind::Messaging,
            Self::Clocks => CapabilityKind::Clocks,
            Self::Random => CapabilityKind::Random,
            Self::Custom { .. } => CapabilityKind::Custom,
        }
    }

    /// Does this grant allow a request? Allocation-free.
    pub fn allows(&self, request: &Request<'_>) -> bool {
        match request {
            Request::File { path, op } => {
                path::with_normalised(path, |p| self.allows_file(p, *op)).unwrap_or(false)
            }
            _ => self.allows_other(request),
        }
    }

    /// A file request whose path is normalised already.
    fn allows_file(&self, path: &str, op: FileOp) -> bool {
        match self {
            Self::Files { path: glob, rights } => {
                rights.allows(op) && glob.matches_normalised(path)
            }
            Self::Dir {
                host, read_only, ..
            } => {
                (op == FileOp::Read || !read_only)
                    && host
                        .to_str()
                        .is_some_and(|root| path::is_normal(root) && path::at_or_below(root, path))
            }
            _ => false,
        }
    }

    fn allows_other(&self, request: &Request<'_>) -> bool {
        match (self, request) {
            (Self::Stdio, Request::Stdio)
            | (Self::Clocks, Request::Clocks)
            | (Self::Random, Request::Random) => true,
            (Self::Env { name, .. }, Request::Env(asked)) => env_matches(name, asked),
            (Self::Custom { name }, Request::Custom(asked)) => name == asked,
            (
                Self::Network { host, net },
                Request::Connect {
                    host: h,
                    port,
                    kind,
                },
            ) => net == kind && host.matches(h, *port),
            (Self::KeyValue { namespace, .. }, Request::KeyValue(ns)) => namespace == ns,
            (
                Self::Messaging {
                    topic,
                    publish: true,
                    ..
                },
                Request::Publish(t),
            ) => topic.allows_publish(t),
            (
                Self::Messaging {
                    topic,
                    subscribe: true,
                    ..
                },
                Request::Subscribe(t),
            ) => topic.matches(t),
            _ => false,
        }
    }

    /// At connect time: does this grant allow the connection `request`
    /// (a [`Request::Connect`]) to make to the resolved address `addr`? It
    /// must allow the request itself, and vouch for the address: a grant
    /// by name (`api.example.com`, `*.example.com`, `*`) vouches for every
    /// address the name resolves to, a grant of an address or block only
    /// for the addresses in it. Allocation-free.
    pub fn allows_connection(&self, request: &Request<'_>, addr: IpAddr) -> bool {
        match (self, request) {
            (Self::Network { host, .. }, Request::Connect { port, .. }) => {
                self.allows_other(request)
                    && (host.is_by_name() || host.matches_address(addr, *port))
            }
            _ => false,
        }
    }

    /// At connect time: does this forbidden capability refuse the
    /// connection `request` to the resolved address `addr`? It does when it
    /// matches the request as written, or the address. Allocation-free.
    pub fn forbids_connection(&self, request: &Request<'_>, addr: IpAddr) -> bool {
        match (self, request) {
            (Self::Network { host, net }, Request::Connect { port, kind, .. }) => {
                net == kind && (host.matches_address(addr, *port) || self.allows_other(request))
            }
            _ => false,
        }
    }

    /// Does this grant allow everything `other` would? Used by policy:
    /// a request that a grant covers is granted as requested.
    pub fn covers(&self, other: &Capability) -> bool {
        self.intersect(other).as_ref() == Some(other)
    }

    /// What both allow, as one capability, if that can be expressed:
    /// the narrower pattern with the rights of both. `None` when they
    /// share nothing, or when neither pattern contains the other (then
    /// nothing is granted rather than something unintended). A fixed
    /// environment value or a mount's guest path comes from `other`.
    pub fn intersect(&self, other: &Capability) -> Option<Capability> {
        use Capability as C;
        match (self, other) {
            (C::Stdio, C::Stdio) | (C::Clocks, C::Clocks) | (C::Random, C::Random) => {
                Some(other.clone())
            }
            (C::Custom { name: a }, C::Custom { name: b }) => (a == b).then(|| other.clone()),
            (C::Env { name: a, value: va }, C::Env { name: b, value: vb }) => {
                let value = vb.clone().or_else(|| va.clone());
                if env_pattern_covers(a, b) {
                    Some(C::Env {
                        name: b.clone(),
                        value,
                    })
                } else if env_pattern_covers(b, a) {
                    Some(C::Env {
                        name: a.clone(),
                        value,
                    })
                } else {
                    None
                }
            }
            (
                C::Files {
                    path: a,
                    rights: ra,
                },
                C::Files {
                    path: b,
                    rights: rb,
                },
            ) => {
                let rights = ra.intersect(*rb);
                let path = narrower(a, b, PathGlob::covers)?;
                (!rights.is_empty()).then(|| C::Files {
                    path: path.clone(),
                    rights,
                })
            }
            (
                C::Dir {
                    host: ha,
                    read_only: ra,
                    ..
                },
                C::Dir {
                    host: hb,
                    guest,
                    read_only: rb,
                },
            ) => {
                // Compared component by component, on normal forms only: a
                // host that is not normal meets nothing (fail closed).
                if !normal_dir(ha) || !normal_dir(hb) {
                    return None;
                }
                let host = if hb.starts_with(ha) {
                    hb
                } else if ha.starts_with(hb) {
                    ha
                } else {
                    return None;
                };
                Some(C::Dir {
                    host: host.clone(),
                    guest: guest.clone(),
                    read_only: *ra || *rb,
                })
            }
            (C::Files { path, rights }, C::Dir { host, guest, .. }) => {
                // A mount is granted by a file grant over its whole tree.
                let tree = mount_tree(host)?;
                (path.covers(&tree) && rights.allows(FileOp::Read)).then(|| C::Dir {
                    host: host.clone(),
                    guest: guest.clone(),
                    read_only: !(rights.contains(FileRights::ALL)),
                })
            }
            (C::Network { host: a, net: na }, C::Network { host: b, net: nb }) if na == nb => {
                narrower(a, b, HostPattern::covers).map(|host| C::Network {
                    host: host.clone(),
                    net: *na,
                })
            }
            (
                C::KeyValue {
                    namespace: a,
                    quota: qa,
                },
                C::KeyValue {
                    namespace: b,
                    quota: qb,
                },
            ) => (a == b).then(|| C::KeyValue {
                namespace: b.clone(),
                quota: qa.min(*qb),
            }),
            (
                C::Messaging {
                    topic: a,
                    publish: pa,
                    subscribe: sa,
                },
                C::Messaging {
                    topic: b,
                    publish: pb,
                    subscribe: sb,
                },
            ) => {
                let (publish, subscribe) = (*pa && *pb, *sa && *sb);
                let topic = narrower(a, b, TopicPattern::covers)?;
                (publish || subscribe).then(|| C::Messaging {
                    topic: topic.clone(),
                    publish,
                    subscribe,
                })
            }
            _ => None,
        }
    }

    /// Could one request be allowed by both? [`Capability::overlap`], with
    /// an undecided answer counted as overlapping (fail closed).
    pub fn overlaps(&self, other: &Capability) -> bool {
        self.overlap(other) != Overlap::Disjoint
    }

    /// Can one request be allowed by both? Exact where the patterns allow
    /// it, [`Overlap::Undecided`] where they do not. Policy refuses a
    /// manifest whose request overlaps a forbidden capability.
    pub fn overlap(&self, other: &Capability) -> Overlap {
        use Capability as C;
        match (self, other) {
            (C::Env { name: a, .. }, C::Env { name: b, .. }) => {
                Overlap::of(env_pattern_covers(a, b) || env_pattern_covers(b, a))
            }
            (
                C::Files {
                    path: a,
                    rights: ra,
                },
                C::Files {
                    path: b,
                    rights: rb,
                },
            ) => {
                if ra.intersect(*rb).is_empty() {
                    Overlap::Disjoint
                } else {
                    a.overlap(b)
                }
            }
            (C::Dir { .. }, C::Files { .. }) => other.overlap(self),
            (
                C::Files { path, rights },
                C::Dir {
                    host, read_only, ..
                },
            ) => {
                let mounted = if *read_only {
                    FileRights::READ
                } else {
                    FileRights::ALL
                };
                if rights.intersect(mounted).is_empty() {
                    return Overlap::Disjoint;
                }
                // A mount whose host path is not normal cannot be compared:
                // it overlaps (fail closed).
                mount_tree(host).map_or(Overlap::Undecided, |tree| tree.overlap(path))
            }
            (C::Dir { host: a, .. }, C::Dir { host: b, .. }) => {
                if !normal_dir(a) || !normal_dir(b) {
                    Overlap::Undecided
                } else {
                    Overlap::of(a.starts_with(b) || b.starts_with(a))
                }
            }
            (C::Network { host: a, net: na }, C::Network { host: b, net: nb }) => {
                if na == nb {
                    a.overlap(b)
                } else {
                    Overlap::Disjoint
                }
            }
            (
                C::Messaging {
                    topic: a,
                    publish: pa,
                    subscribe: sa,
                },
                C::Messaging {
                    topic: b,
                    publish: pb,
                    subscribe: sb,
                },
            ) => Overlap::of(((*pa && *pb) || (*sa && *sb)) && a.overlaps(b)),
            _ => Overlap::of(self.intersect(other).is_some()),
        }
    }

    /// The directory a grant is reached through: opened by its path (its
    /// links followed, since the operator named it), every path below it
    /// is resolved beneath that handle. A glob's literal directory, a
    /// literal file's parent, a mount's host directory; `None` for other
    /// kinds, and for a host path that is not normal.
    pub fn root(&self) -> Option<String> {
        match self {
            Capability::Files { path, .. } if path.is_literal() => {
                let p = path.as_str();
                Some(match p.rfind('/') {
                    Some(0) | None => "/".to_owned(),
                    Some(i) => p[..i].to_owned(),
                })
            }
            Capability::Files { path, .. } => Some(path.base_dir().to_owned()),
            Capability::Dir { host, .. } => host
                .to_str()
                .filter(|h| path::is_normal(h))
                .map(str::to_owned),
            _ => None,
        }
    }
}

/// Is a mount's host path absolute, UTF-8 and normal?
fn normal_dir(host: &std::path::Path) -> bool {
    host.to_str().is_some_and(path::is_normal)
}

/// The glob of everything a mount of `host` reaches: `HOST/**`.
fn mount_tree(host: &std::path::Path) -> Option<PathGlob> {
    let host = host.to_str().filter(|h| path::is_normal(h))?;
    let host = globset::escape(host.trim_end_matches('/'));
    PathGlob::new(&format!("{host}/**")).ok()
}

/// Of two patterns, the one the other covers; `None` when neither covers
/// the other.
fn narrower<'p, T>(a: &'p T, b: &'p T, covers: fn(&T, &T) -> bool) -> Option<&'p T> {
    if covers(a, b) {
        Some(b)
    } else if covers(b, a) {
        Some(a)
    } else {
        None
    }
}

/// `APP_*` matches names starting `APP_`; anything else matches itself.
fn env_matches(grant: &str, name: &str) -> bool {
    match grant.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => grant == name,
    }
}

/// Does the env pattern `a` cover the env pattern `b`?
fn env_pattern_covers(a: &str, b: &str) -> bool {
    match (a.strip_suffix('*'), b.strip_suffix('*')) {
        (Some(pa), Some(pb)) => pb.starts_with(pa),
        _ => env_matches(a, b),
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
            Self::Files { path, rights } => write!(f, "files {path} [{rights}]"),
            Self::Network { host, net } => write!(f, "{} {host}", net.as_str()),
            Self::KeyValue { namespace, quota } => write!(
                f,
                "kv {namespace} (quota {} bytes, keys <= {}, values <= {})",
                quota.bytes, quota.max_key_bytes, quota.max_value_bytes
            ),
            Self::Messaging {
                topic,
                publish,
                subscribe,
            } => {
                let how = match (publish, subscribe) {
                    (true, true) => "publish,subscribe",
                    (true, false) => "publish",
                    (false, true) => "subscribe",
                    (false, false) => "nothing",
                };
                write!(f, "topic {topic} [{how}]")
            }
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
    /// key-value storage
    KeyValue,
    /// messaging topics
    Messaging,
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
            "airssys:host/key-value" => Some(Self::KeyValue),
            "airssys:host/filesystem" => Some(Self::Filesystem),
            "airssys:host/http-client" => Some(Self::Network),
            "airssys:host/clocks" => Some(Self::Clocks),
            "airssys:host/random" => Some(Self::Random),
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

/// What a guest asks for at run time. Borrows its strings, so building and
/// checking a request allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request<'a> {
    /// Use of stdin, stdout or stderr.
    Stdio,
    /// Reading an environment variable.
    Env(&'a str),
    /// An operation on a host path (absolute; normalised before matching).
    File {
        /// The path.
        path: &'a str,
        /// The operation.
        op: FileOp,
    },
    /// An outgoing connection.
    Connect {
        /// A host name or address.
        host: &'a str,
        /// The port.
        port: u16,
        /// HTTP client use or a raw socket.
        kind: NetKind,
    },
    /// Use of a key-value namespace.
    KeyValue(&'a str),
    /// Publishing to a topic (no wildcards).
    Publish(&'a str),
    /// Subscribing to a topic or topic pattern.
    Subscribe(&'a str),
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
            Self::File { .. } => CapabilityKind::Filesystem,
            Self::Connect { .. } => CapabilityKind::Network,
            Self::KeyValue(_) => CapabilityKind::KeyValue,
            Self::Publish(_) | Self::Subscribe(_) => CapabilityKind::Messaging,
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
            Self::File { path, op } => write!(f, "{} {path}", op.as_str()),
            Self::Connect { host, port, kind } => write!(f, "{} {host}:{port}", kind.as_str()),
            Self::KeyValue(ns) => write!(f, "kv {ns}"),
            Self::Publish(t) => write!(f, "publish {t}"),
            Self::Subscribe(t) => write!(f, "subscribe {t}"),
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
///
/// Besides its grants a set holds:
///
/// - **forbidden** capabilities: a request one of them allows is denied
///   whatever the grants say (an operator's `[forbid]` rules, checked again
///   at the moment of use on what is really touched);
/// - **roots**: the directories file grants are reached through. A root is
///   opened by its path, which the operator wrote; every path below it is
///   resolved beneath that directory handle without following a link out
///   of it (see [`crate::files`]). [`CapabilitySet::grant`] takes the
///   grant's own directory as a root (the caller is the operator);
///   [`CapabilitySet::grant_within`] takes the directory of the operator's
///   grant that a narrower request was granted from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitySet {
    grants: Vec<Capability>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    forbidden: Vec<Capability>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roots: Vec<String>,
}

impl CapabilitySet {
    /// An empty set: everything is denied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a grant (a repeated grant is kept once). The caller is trusted
    /// with the grant's paths: a file or directory grant's own directory
    /// becomes a root (see [`Capability::root`]).
    pub fn grant(&mut self, capability: Capability) -> &mut Self {
        let root = capability.root();
        self.add(capability, root)
    }

    /// Adds `capability`, granted because the operator's `granted_by`
    /// covers it: the root is `granted_by`'s directory, so a narrower path
    /// written by someone else (a manifest) is resolved beneath the
    /// directory the operator named.
    pub fn grant_within(&mut self, capability: Capability, granted_by: &Capability) -> &mut Self {
        let root = granted_by.root().or_else(|| capability.root());
        self.add(capability, root)
    }

    fn add(&mut self, capability: Capability, root: Option<String>) -> &mut Self {
        if let Some(root) = root
            && !self.roots.contains(&root)
        {
            self.roots.push(root);
        }
        if !self.grants.contains(&capability) {
            self.grants.push(capability);
        }
        self
    }

    /// Adds a forbidden capability: any request it allows is denied, even
    /// when a grant allows it too.
    pub fn forbid(&mut self, capability: Capability) -> &mut Self {
        if !self.forbidden.contains(&capability) {
            self.forbidden.push(capability);
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

    /// The forbidden capabilities.
    pub fn forbidden(&self) -> impl Iterator<Item = &Capability> {
        self.forbidden.iter()
    }

    /// The directories file grants are reached through (normal paths).
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.roots.iter().map(String::as_str)
    }

    /// The outermost root at or above the normal path `path`: the
    /// directory it is resolved beneath. `None` when no root holds it.
    pub fn root_for(&self, path: &str) -> Option<&str> {
        self.roots
            .iter()
            .filter(|r| path::at_or_below(r, path))
            .min_by_key(|r| r.len())
            .map(String::as_str)
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
    /// A request is allowed when a grant allows it and no forbidden
    /// capability does. File requests are matched after lexical
    /// normalisation of the path: a path that climbs out of every grant
    /// with `..` is denied, whatever it names. Symbolic links are the job
    /// of [`crate::files`], which every effect must go through.
    pub fn allows(&self, request: &Request<'_>) -> Decision {
        let allowed = match request {
            // Normalise once for all grants.
            Request::File { path, op } => path::with_normalised(path, |p| {
                self.grants.iter().any(|g| g.allows_file(p, *op))
                    && !self.forbidden.iter().any(|f| f.allows_file(p, *op))
            })
            .unwrap_or(false),
            _ => {
                self.grants.iter().any(|g| g.allows_other(request))
                    && !self.forbidden.iter().any(|f| f.allows_other(request))
            }
        };
        if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }

    /// Answers a connection at connect time: may `request` (a
    /// [`Request::Connect`], host as the guest wrote it) connect to `addr`,
    /// an address its host resolved to? Does not allocate.
    ///
    /// Allowed when a grant allows the request and vouches for the address
    /// (see [`Capability::allows_connection`]: a name grant for any address
    /// of the name, an address or block grant only for its own), and no
    /// forbidden capability matches the request or the address. The
    /// address is compared in its canonical form ([`canonical_ip`]: an
    /// IPv4-mapped IPv6 address is its IPv4 address). A host written as an
    /// address connects only to that address: any other `addr` is denied.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use airssys_wasm_core::capability::{HostPattern, NetKind};
    /// use airssys_wasm_core::{Capability, CapabilitySet, Request};
    /// let mut caps = CapabilitySet::new();
    /// caps.grant(Capability::network(HostPattern::new("*:80").unwrap(), NetKind::Http));
    /// caps.forbid(Capability::network(HostPattern::new("169.254.0.0/16:*").unwrap(), NetKind::Http));
    /// let request = Request::Connect { host: "metadata.example", port: 80, kind: NetKind::Http };
    /// let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    /// assert!(caps.allows(&request).is_allowed()); // the name, as written
    /// assert!(caps.allows_connection(&request, ip("93.184.216.34")).is_allowed());
    /// assert!(!caps.allows_connection(&request, ip("169.254.169.254")).is_allowed());
    /// assert!(!caps.allows_connection(&request, ip("::ffff:169.254.169.254")).is_allowed());
    /// ```
    pub fn allows_connection(&self, request: &Request<'_>, addr: IpAddr) -> Decision {
        let Request::Connect { host, .. } = request else {
            return Decision::Denied;
        };
        let addr = canonical_ip(addr);
        let allowed = host_address(host).is_none_or(|own| own == addr)
            && self
                .grants
                .iter()
                .any(|g| g.allows_connection(request, addr))
            && !self
                .forbidden
                .iter()
                .any(|f| f.forbids_connection(request, addr));
        if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }

    /// The quota of a granted key-value namespace.
    pub fn kv_quota(&self, namespace: &str) -> Option<KvQuota> {
        self.grants.iter().find_map(|g| match g {
            Capability::KeyValue {
                namespace: n,
                quota,
            } if n == namespace => Some(*quota),
            _ => None,
        })
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

#[cfg(test)]
mod tests;
