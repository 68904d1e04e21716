//! File paths: lexical normalisation and path globs.

use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use super::{Overlap, PatternError};

/// The longest path a request may name (Linux's `PATH_MAX`). Longer paths
/// are denied.
pub const MAX_PATH: usize = 4096;

/// Normalises an absolute path lexically into `buf`: empty and `.`
/// components go, `..` removes the component before it. Returns `None`
/// (deny) for relative paths, for a `..` that climbs above `/`, for a path
/// holding a NUL byte, and for paths longer than [`MAX_PATH`] or than
/// `buf`. Allocation-free.
///
/// ```
/// use airssys_wasm_core::capability::normalise;
/// let mut buf = [0u8; airssys_wasm_core::capability::MAX_PATH];
/// assert_eq!(normalise("/srv//data/./a/../b.txt", &mut buf), Some("/srv/data/b.txt"));
/// assert_eq!(normalise("/srv/../../etc/passwd", &mut buf), None);
/// assert_eq!(normalise("data/x", &mut buf), None);
/// ```
pub fn normalise<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    if !path.starts_with('/') || path.len() > MAX_PATH.min(buf.len()) || path.contains('\0') {
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
/// components, no trailing `/`, no NUL)? Then it can be matched as it is.
pub fn is_normal(path: &str) -> bool {
    path == "/"
        || (path.starts_with('/')
            && path.len() <= MAX_PATH
            && !path.contains('\0')
            && super::tokens(&path[1..], b'/')
                .all(|part| !part.is_empty() && part != "." && part != ".."))
}

/// The normal form of a host path written in a manifest, a policy or a
/// flag: absolute, lexically normalised (`//`, `.` and `..` resolved).
/// A relative path, a `..` that climbs above `/`, a NUL byte or a path
/// longer than [`MAX_PATH`] is an error saying so.
///
/// ```
/// use airssys_wasm_core::capability::normal_path;
/// assert_eq!(normal_path("/srv/p/../../").unwrap(), "/");
/// assert_eq!(normal_path("/srv//data/.").unwrap(), "/srv/data");
/// assert!(normal_path("data").unwrap_err().to_string().contains("absolute"));
/// assert!(normal_path("/srv/../../etc").is_err());
/// ```
pub fn normal_path(path: &str) -> Result<String, PatternError> {
    let bad = |why: &str| PatternError::new("path", path, why);
    if !path.starts_with('/') {
        return Err(bad("a host path must be absolute (start with `/`)"));
    }
    if path.contains('\0') {
        return Err(bad("a host path may not contain a NUL byte"));
    }
    if path.len() > MAX_PATH {
        return Err(bad("the path is longer than 4096 bytes"));
    }
    let mut buf = [0u8; MAX_PATH];
    normalise(path, &mut buf)
        .map(str::to_owned)
        .ok_or_else(|| bad("`..` climbs above `/`"))
}

/// The glob characters of [`PathGlob`].
const META: [char; 5] = ['*', '?', '[', '{', '\\'];

/// The normal form of a path pattern: like [`normal_path`], with `..`
/// allowed only after a literal component (it cannot undo a wildcard), and
/// no `/` inside `{...}` or `[...]` (a pattern's matches must lie below its
/// literal directory).
fn normal_pattern(pattern: &str) -> Result<String, PatternError> {
    let bad = |why: &str| PatternError::new("path", pattern, why);
    if !pattern.starts_with('/') {
        return Err(bad("a path pattern must be absolute (start with `/`)"));
    }
    if pattern.contains('\0') {
        return Err(bad("a path pattern may not contain a NUL byte"));
    }
    if pattern.len() > MAX_PATH {
        return Err(bad("the pattern is longer than 4096 bytes"));
    }
    let mut depth = 0i32;
    for c in pattern.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '/' if depth > 0 => {
                return Err(bad("`/` inside `{...}` or `[...]` is not allowed"));
            }
            _ => {}
        }
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in super::tokens(&pattern[1..], b'/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                None => return Err(bad("`..` climbs above `/`")),
                Some(last) if last.contains(META) => {
                    return Err(bad("`..` cannot follow a wildcard component"));
                }
                Some(_) => {
                    parts.pop();
                }
            },
            name => parts.push(name),
        }
    }
    Ok(format!("/{}", parts.join("/")))
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

/// Is the normal `path` at or below the normal directory `root`? Compared
/// component by component (`/srv/database` is not below `/srv/data`).
///
/// ```
/// use airssys_wasm_core::capability::at_or_below;
/// assert!(at_or_below("/srv/data", "/srv/data/x"));
/// assert!(at_or_below("/", "/etc"));
/// assert!(!at_or_below("/srv/data", "/srv/database"));
/// ```
pub fn at_or_below(root: &str, path: &str) -> bool {
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
    /// Compiles a pattern. It must be absolute; it is normalised first
    /// (`//` and `.` go, `..` removes the literal component before it), and
    /// the pattern keeps its normal form as its text. A `..` that climbs
    /// above `/` or follows a wildcard, a NUL byte, or a `/` inside
    /// `{...}`/`[...]` is an error.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let written = pattern;
        let normal = normal_pattern(pattern)?;
        let pattern = normal.as_str();
        let bad = |why: &str| PatternError::new("path", written, why);
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

    /// Does every path this pattern matches also match `self`? Decided
    /// only where it can be decided exactly; anything else counts as not
    /// covered (fail closed): `other` is a literal path that `self`
    /// matches; `self` is a whole tree (`DIR/**`) holding `other`'s literal
    /// directory; or, without `**`, `other` has as many components and each
    /// of `self`'s is `*` or the same text.
    pub fn covers(&self, other: &PathGlob) -> bool {
        if self.text == other.text {
            return true;
        }
        if other.is_literal() {
            return self.matches_normalised(&other.text);
        }
        if self.whole_tree {
            return at_or_below(&self.base, &other.base);
        }
        if self.text.contains("**") || other.text.contains("**") {
            return false;
        }
        let mine = || super::tokens(&self.text[1..], b'/');
        let theirs = || super::tokens(&other.text[1..], b'/');
        mine().count() == theirs().count() && mine().zip(theirs()).all(|(m, t)| m == "*" || m == t)
    }

    /// Might the pattern match a path below the normal directory `dir`?
    /// Yes when `dir` is at or above the pattern's literal directory, or
    /// below it where the pattern has `**`, or where its first components
    /// match `dir` and more follow. Decides which directories WASI shows
    /// on the way to granted files.
    pub fn may_match_below(&self, dir: &str) -> bool {
        if at_or_below(dir, &self.base) {
            return true;
        }
        if !at_or_below(&self.base, dir) {
            return false;
        }
        if self.whole_tree || self.text.contains("**") {
            return true;
        }
        let pattern: Vec<&str> = super::tokens(&self.text[1..], b'/').collect();
        let depth = super::tokens(&dir[1..], b'/').count();
        if depth >= pattern.len() {
            return false;
        }
        GlobBuilder::new(&format!("/{}", pattern[..depth].join("/")))
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .is_ok_and(|g| g.compile_matcher().is_match(dir))
    }

    /// `true` when the pattern has no wildcard: it names one path.
    pub fn is_literal(&self) -> bool {
        !self.text.contains(META)
    }

    /// Can a path match both patterns? Exact when the literal directories
    /// are unrelated (no overlap), when either pattern is a literal path,
    /// or when a whole tree holds the other's directory; otherwise
    /// [`Overlap::Undecided`], which callers treat as overlapping.
    pub fn overlap(&self, other: &PathGlob) -> Overlap {
        if !at_or_below(&self.base, &other.base) && !at_or_below(&other.base, &self.base) {
            return Overlap::Disjoint;
        }
        let exact = |yes: bool| {
            if yes {
                Overlap::Overlapping
            } else {
                Overlap::Disjoint
            }
        };
        if self.is_literal() {
            return exact(other.matches_normalised(&self.text));
        }
        if other.is_literal() {
            return exact(self.matches_normalised(&other.text));
        }
        if (self.whole_tree && at_or_below(&self.base, &other.base))
            || (other.whole_tree && at_or_below(&other.base, &self.base))
        {
            return Overlap::Overlapping;
        }
        Overlap::Undecided
    }

    /// Can a path match both patterns? [`PathGlob::overlap`], with an
    /// undecided answer counted as overlapping (fail closed).
    pub fn overlaps(&self, other: &PathGlob) -> bool {
        self.overlap(other) != Overlap::Disjoint
    }
}

text_pattern!(PathGlob, "PathGlob");

fn base_dir(pattern: &str) -> &str {
    let Some(meta) = pattern.find(META) else {
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
