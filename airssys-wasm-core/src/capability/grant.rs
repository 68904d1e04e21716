//! One grant ([`Capability`]): its constructors, validation, the requests
//! it allows, its root directory, and how it is written.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{
    CapabilityKind, FileOp, FileRights, HostPattern, KvQuota, NetKind, PathGlob, PatternError,
    Request, TopicPattern, path,
};

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
    pub(super) fn allows_file(&self, path: &str, op: FileOp) -> bool {
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

    /// See [`super::CapabilitySet::reaches_below`] (`dir` is normal).
    pub(super) fn reaches_below(&self, dir: &str) -> bool {
        match self {
            Self::Files { path: glob, rights } => !rights.is_empty() && glob.may_match_below(dir),
            Self::Dir { host, .. } => host.to_str().is_some_and(|root| {
                path::is_normal(root)
                    && (path::at_or_below(root, dir) || path::at_or_below(dir, root))
            }),
            _ => false,
        }
    }

    /// Does this (forbidden) capability take every right on everything at
    /// or below `dir` (normal)?
    pub(super) fn takes_tree(&self, dir: &str) -> bool {
        match self {
            Self::Files { path: glob, rights } => {
                rights.contains(FileRights::ALL)
                    && glob
                        .tree_root()
                        .is_some_and(|root| path::at_or_below(root, dir))
            }
            Self::Dir {
                host,
                read_only: false,
                ..
            } => host
                .to_str()
                .is_some_and(|root| path::is_normal(root) && path::at_or_below(root, dir)),
            _ => false,
        }
    }

    pub(super) fn allows_other(&self, request: &Request<'_>) -> bool {
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

/// `APP_*` matches names starting `APP_`; anything else matches itself.
pub(super) fn env_matches(grant: &str, name: &str) -> bool {
    match grant.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => grant == name,
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
