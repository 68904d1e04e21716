//! File paths: lexical normalisation and path globs.

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use super::PatternError;

/// The longest path a request may name (Linux's `PATH_MAX`). Longer paths
/// are denied.
pub const MAX_PATH: usize = 4096;

/// Normalises an absolute path lexically into `buf`: empty and `.`
/// components go, `..` removes the component before it. Returns `None`
/// (deny) for relative paths, for a `..` that climbs above `/`, and for
/// paths longer than [`MAX_PATH`] or than `buf`. Allocation-free.
///
/// ```
/// use airssys_wasm_core::capability::normalise;
/// let mut buf = [0u8; airssys_wasm_core::capability::MAX_PATH];
/// assert_eq!(normalise("/srv//data/./a/../b.txt", &mut buf), Some("/srv/data/b.txt"));
/// assert_eq!(normalise("/srv/../../etc/passwd", &mut buf), None);
/// assert_eq!(normalise("data/x", &mut buf), None);
/// ```
pub fn normalise<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    if !path.starts_with('/') || path.len() > MAX_PATH.min(buf.len()) {
        return None;
    }
    let mut len = 0usize;
    for part in super::tokens(path, b'/') {
        match part {
            "" | "." => {}
            ".." => {
                if len == 0 {
                    return None;
                }
                // Drop the last component: back to the '/' before it.
                while len > 0 && buf[len - 1] != b'/' {
                    len -= 1;
                }
                len -= 1;
            }
            name => {
                let end = len + 1 + name.len();
                if end > buf.len() {
                    return None;
                }
                buf[len] = b'/';
                buf[len + 1..end].copy_from_slice(name.as_bytes());
                len = end;
            }
        }
    }
    if len == 0 {
        buf[0] = b'/';
        len = 1;
    }
    // Only whole UTF-8 components were copied, so this cannot fail.
    std::str::from_utf8(&buf[..len]).ok()
}

/// Is `path` absolute and already normal (no empty, `.` or `..`
/// components, no trailing `/`)? Then it can be matched as it is.
pub(crate) fn is_normal(path: &str) -> bool {
    path == "/"
        || (path.starts_with('/')
            && path.len() <= MAX_PATH
            && super::tokens(&path[1..], b'/')
                .all(|part| !part.is_empty() && part != "." && part != ".."))
}

/// Calls `f` with the normalised form of `path`, copying only when the path
/// is not normal already; `None` when it cannot be normalised.
pub(crate) fn with_normalised<R>(path: &str, f: impl FnOnce(&str) -> R) -> Option<R> {
    if is_normal(path) {
        return Some(f(path));
    }
    if path.len() <= 256 {
        let mut buf = [0u8; 256];
        normalise(path, &mut buf).map(f)
    } else {
        let mut buf = [0u8; MAX_PATH];
        normalise(path, &mut buf).map(f)
    }
}

/// Is the normalised `path` at or below the normalised directory `root`?
pub(crate) fn at_or_below(root: &str, path: &str) -> bool {
    let root = root.trim_end_matches('/');
    path == root
        || root.is_empty()
        || (path.len() > root.len()
            && path.starts_with(root)
            && path.as_bytes()[root.len()] == b'/')
}

/// A glob over absolute host paths: `*` and `?` stay within one path
/// component, `**` crosses components, `{a,b}` and `[ab]` work as usual.
/// `/srv/data/**` also matches `/srv/data` itself.
///
/// ```
/// use airssys_wasm_core::capability::PathGlob;
/// let g = PathGlob::new("/srv/data/**/*.json").unwrap();
/// assert!(g.matches("/srv/data/a/b.json"));
/// assert!(!g.matches("/srv/data/a/b.txt"));
/// assert!(PathGlob::new("data/*").is_err()); // must be absolute
/// ```
#[derive(Clone)]
pub struct PathGlob {
    text: String,
    /// The directory before the first wildcard: nothing outside matches.
    base: String,
    /// For `dir/**`: `dir`, which matches too.
    tree_root: Option<String>,
    /// The pattern is exactly `base/**`: the base check decides alone.
    whole_tree: bool,
    matcher: GlobMatcher,
}

impl PathGlob {
    /// Compiles a pattern. It must be absolute and may not contain `.` or
    /// `..` components.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let bad = |why: &str| PatternError::new("path", pattern, why);
        if !pattern.starts_with('/') {
            return Err(bad("a path pattern must be absolute (start with `/`)"));
        }
        if super::tokens(pattern, b'/').any(|p| p == "." || p == "..") {
            return Err(bad("`.` and `..` are not allowed in a path pattern"));
        }
        let matcher = GlobBuilder::new(pattern)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map_err(|e| bad(&e.kind().to_string()))?
            .compile_matcher();
        let tree_root = pattern
            .strip_suffix("/**")
            .map(|dir| if dir.is_empty() { "/" } else { dir }.to_owned());
        let base = base_dir(pattern).to_owned();
        let whole_tree = tree_root.as_deref() == Some(base.as_str());
        Ok(Self {
            text: pattern.to_owned(),
            base,
            tree_root,
            whole_tree,
            matcher,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Does the pattern match this path? The path is normalised first; a
    /// path that cannot be normalised (relative, escaping `/`) never
    /// matches. Allocation-free.
    pub fn matches(&self, path: &str) -> bool {
        with_normalised(path, |p| self.matches_normalised(p)).unwrap_or(false)
    }

    pub(crate) fn matches_normalised(&self, path: &str) -> bool {
        at_or_below(&self.base, path)
            && (self.whole_tree
                || self.tree_root.as_deref() == Some(path)
                || self.matcher.is_match(path))
    }

    /// The directory before the first wildcard: `/srv/data` for
    /// `/srv/data/**/*.json`. Access outside it is never granted by this
    /// pattern.
    pub fn base_dir(&self) -> &str {
        &self.base
    }

    /// The directory, when the pattern is exactly `DIR/**`: every path at
    /// or below `DIR`, which a WASI preopen of `DIR` can express. `None`
    /// for any other pattern.
    pub fn tree_root(&self) -> Option<&str> {
        self.whole_tree.then_some(self.base.as_str())
    }

    /// Does every path this pattern matches also match `self`? Judged by
    /// matching `other`'s text with `self` (a `**` in `other` needs one in
    /// `self`), which answers exactly for literal paths and for the common
    /// `dir/**` and `dir/*.ext` shapes.
    pub fn covers(&self, other: &PathGlob) -> bool {
        self.matches_normalised(&other.text)
            && (!other.text.contains("**") || self.text.contains("**"))
    }

    /// Can a path match both patterns? Conservative: `true` when either
    /// covers the other or either's base directory lies inside the other.
    pub fn overlaps(&self, other: &PathGlob) -> bool {
        self.covers(other)
            || other.covers(self)
            || self.matches_normalised(other.base_dir())
            || other.matches_normalised(self.base_dir())
    }
}

text_pattern!(PathGlob, "PathGlob");

fn base_dir(pattern: &str) -> &str {
    let Some(meta) = pattern.find(['*', '?', '[', '{', '\\']) else {
        // No wildcard: the pattern names one path.
        return pattern;
    };
    match pattern[..meta].rfind('/') {
        Some(0) | None => "/",
        Some(i) => &pattern[..i],
    }
}

/// What a file operation does, and the rights a file grant gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileOp {
    /// Read a file, list a directory, read metadata.
    Read,
    /// Change an existing file.
    Write,
    /// Create a file or directory.
    Create,
    /// Delete a file or directory.
    Delete,
}

impl FileOp {
    /// The operation's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Create => "create",
            Self::Delete => "delete",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`FileOp`]s. In TOML and JSON: a list such as
/// `["read", "write"]`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FileRights(u8);

impl FileRights {
    /// Reading only.
    pub const READ: Self = Self(1);
    /// Every operation.
    pub const ALL: Self = Self(0b1111);

    /// The rights from a list of operations.
    pub fn of(ops: &[FileOp]) -> Self {
        Self(ops.iter().fold(0, |acc, op| acc | op.bit()))
    }

    /// Does this set allow `op`?
    pub fn allows(self, op: FileOp) -> bool {
        self.0 & op.bit() != 0
    }

    /// Does this set include every right of `other`?
    pub fn contains(self, other: FileRights) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in both sets.
    pub fn intersect(self, other: FileRights) -> FileRights {
        Self(self.0 & other.0)
    }

    /// `true` for no rights.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The operations in this set, in order.
    pub fn ops(self) -> impl Iterator<Item = FileOp> {
        [FileOp::Read, FileOp::Write, FileOp::Create, FileOp::Delete]
            .into_iter()
            .filter(move |op| self.allows(*op))
    }
}

impl fmt::Debug for FileRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ops()).finish()
    }
}

impl fmt::Display for FileRights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, op) in self.ops().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(op.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for FileRights {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.ops())
    }
}
impl<'de> Deserialize<'de> for FileRights {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::of(&Vec::<FileOp>::deserialize(d)?))
    }
}
