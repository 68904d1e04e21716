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

mod compare;
mod grant;
mod kind;
mod net;
mod path;
mod request;
mod set;
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

use serde::{Deserialize, Serialize};

pub use grant::Capability;
pub use kind::CapabilityKind;
pub use net::{HostPattern, NetKind, canonical_ip, host_address};
pub use path::{
    FileOp, FileRights, MAX_PATH, PathGlob, at_or_below, is_normal, normal_path, normalise,
};
pub use request::{Decision, Request};
pub use set::CapabilitySet;
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

#[cfg(test)]
mod tests;
