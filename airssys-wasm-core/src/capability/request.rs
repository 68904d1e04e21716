//! What a guest asks for at run time ([`Request`]) and the answer
//! ([`Decision`]).

use std::fmt;

use super::{CapabilityKind, FileOp, NetKind};

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
