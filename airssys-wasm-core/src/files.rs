//! Host files at the moment of use: every path a component names is
//! resolved beneath a directory handle, one component at a time, without
//! following a link out of it.
//!
//! A path that passes a capability check is not yet safe to open by its
//! name: between the check and the open, a link can appear in it (a guest
//! with a writable preopen can make one with `symlink-at`), and the open
//! would follow it anywhere. So nothing here opens a path by its name
//! except a *root*: a directory the operator named in a grant (see
//! [`CapabilitySet::roots`]). Below a root, [`resolve`] walks the path
//! entry by entry through directory handles (cap-std), reading each entry
//! without following it; a symbolic link is read and spliced into the path
//! by hand, and the path it gives must stay beneath the root. What comes
//! back is a [`Target`]: the handle of the directory holding the entry,
//! the entry's name, and the path it really is after links, which the
//! caller checks against the grants again. Effects then act on the handle
//! (`openat` with `O_NOFOLLOW`, `O_CREAT|O_EXCL`, `unlinkat`): an entry
//! swapped for a link after the walk makes the effect fail, never escape.
//!
//! The host interface's filesystem functions and WASI's filesystem on both
//! backends (served by [`crate::wasi::fs`]) go through this module; WASI
//! preopens are opened with [`open_dir_within`].
//!
//! ```
//! use airssys_wasm_core::capability::{FileRights, PathGlob};
//! use airssys_wasm_core::files::{self, Links};
//! use airssys_wasm_core::{Capability, CapabilitySet};
//!
//! let dir = tempfile::tempdir()?;
//! let root = dir.path().canonicalize()?.display().to_string();
//! std::fs::write(dir.path().join("a.txt"), "hello")?;
//! std::os::unix::fs::symlink("/etc/passwd", dir.path().join("out"))?;
//! let caps = CapabilitySet::new()
//!     .with(Capability::files(PathGlob::new(&format!("{root}/**"))?, FileRights::READ));
//!
//! let t = files::resolve(&caps, &format!("{root}/a.txt"), Links::Follow)?;
//! assert_eq!(t.path(), format!("{root}/a.txt"));
//! assert!(files::resolve(&caps, &format!("{root}/out"), Links::Follow).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
pub use cap_std::fs::{Dir, File, Metadata, OpenOptions};

use crate::capability::{CapabilitySet, is_normal, normalise};

/// Links followed in one resolution before it gives up (Linux's
/// `MAXSYMLINKS`).
pub const MAX_LINKS: usize = 40;

/// What to do with symbolic links on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Links {
    /// Follow every link, the last entry's too, as long as each leads to a
    /// path beneath the root.
    Follow,
    /// Follow links in the directories on the way, not the last entry: a
    /// link there is the target itself (to delete it, or to refuse to
    /// create or write through it).
    KeepLast,
    /// Refuse any link on the way: the path must be real directories and
    /// entries all the way down (a preopen's directory).
    Refuse,
}

/// Why a path could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The path is not absolute and normal, or no root of the grants holds
    /// it.
    #[error("{path}: not beneath any granted directory")]
    NoRoot {
        /// The path as asked.
        path: String,
    },
    /// A symbolic link leads out of the root.
    #[error("{path}: a symbolic link leads to {to}, outside {root}")]
    Escapes {
        /// The path as asked.
        path: String,
        /// Where the link leads.
        to: String,
        /// The root it had to stay beneath.
        root: String,
    },
    /// A symbolic link where none may be.
    #[error("{path}: {link} is a symbolic link, which is not followed here")]
    Link {
        /// The path as asked.
        path: String,
        /// The link.
        link: String,
    },
    /// More than [`MAX_LINKS`] links.
    #[error("{path}: more than {MAX_LINKS} symbolic links")]
    TooManyLinks {
        /// The path as asked.
        path: String,
    },
    /// A directory on the way is missing or not a directory.
    #[error("{path}: {source}")]
    Io {
        /// The path as asked.
        path: String,
        /// The failure.
        source: io::Error,
    },
}

impl ResolveError {
    /// `true` when the path was refused (it leads outside what may be
    /// reached), rather than missing or failing.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::NoRoot { .. } | Self::Escapes { .. } | Self::Link { .. }
        )
    }

    /// The I/O error kind, for an error that is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Self::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// What an entry is, read without following it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (only with [`Links::KeepLast`]).
    Link,
    /// Anything else (a socket, a device, a FIFO).
    Other,
}

impl Kind {
    fn of(m: &Metadata) -> Self {
        let t = m.file_type();
        if t.is_symlink() {
            Kind::Link
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

/// A resolved path: the directory holding the entry, as a handle, and the
/// entry's name in it.
#[derive(Debug)]
pub struct Target {
    parent: Dir,
    /// `None` for the root directory itself.
    name: Option<String>,
    path: String,
    kind: Option<Kind>,
}

impl Target {
    /// The path the entry really is, after the links on the way: absolute,
    /// normal, beneath the root. Check it against the grants before acting.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What the entry is, or `None` when it does not exist (its directory
    /// does).
    pub fn kind(&self) -> Option<Kind> {
        self.kind
    }

    /// The entry's name in its directory; `None` for a root itself.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The handle of the directory holding the entry (the root itself for
    /// a root).
    pub fn parent(&self) -> &Dir {
        &self.parent
    }

    /// Opens the entry as a file, with `options` (a link there is never
    /// followed: the open fails).
    pub fn open(&self, options: &OpenOptions) -> io::Result<File> {
        let mut options = options.clone();
        options.follow(FollowSymlinks::No);
        self.parent.open_with(self.entry()?, &options)
    }

    /// Creates the entry as a new file, open for writing: fails if anything
    /// exists there, a dangling link included (`O_CREAT|O_EXCL`).
    pub fn create_new(&self) -> io::Result<File> {
        self.create_new_with(OpenOptions::new().write(true))
    }

    /// [`Target::create_new`] with more `options` (read as well, say).
    pub fn create_new_with(&self, options: &OpenOptions) -> io::Result<File> {
        let mut options = options.clone();
        options.write(true).create_new(true);
        self.parent.open_with(self.entry()?, &options)
    }

    /// Opens the entry as a directory (not through a link).
    pub fn open_dir(&self) -> io::Result<Dir> {
        match &self.name {
            None => self.parent.try_clone(),
            Some(name) => self.parent.open_dir_nofollow(name),
        }
    }

    /// The entry's metadata, not following a link.
    pub fn metadata(&self) -> io::Result<Metadata> {
        match &self.name {
            None => self.parent.dir_metadata(),
            Some(name) => self.parent.symlink_metadata(name),
        }
    }

    /// Creates the entry as a directory.
    pub fn create_dir(&self) -> io::Result<()> {
        self.parent.create_dir(self.entry()?)
    }

    /// Removes the entry: a directory (empty), or a file or link (the link
    /// itself, never what it points to).
    pub fn remove(&self) -> io::Result<()> {
        let name = self.entry()?;
        match self.parent.symlink_metadata(name)?.file_type().is_dir() {
            true => self.parent.remove_dir(name),
            false => self.parent.remove_file_or_symlink(name),
        }
    }

    fn entry(&self) -> io::Result<&str> {
        self.name.as_deref().ok_or_else(|| {
            io::Error::new(io::ErrorKind::IsADirectory, "the granted directory itself")
        })
    }
}

/// Opens the root of `path` under `caps` (the outermost of
/// [`CapabilitySet::roots`] holding it, by its path) and resolves `path`
/// beneath it. `path` is normalised lexically first. The grants are not
/// checked here: check the path as asked before, and [`Target::path`]
/// after.
pub fn resolve(caps: &CapabilitySet, path: &str, links: Links) -> Result<Target, ResolveError> {
    let mut buf = [0u8; crate::capability::MAX_PATH];
    let no_root = || ResolveError::NoRoot {
        path: path.to_owned(),
    };
    let normal = normalise(path, &mut buf).ok_or_else(no_root)?;
    let root = caps.root_for(normal).ok_or_else(no_root)?;
    let dir = open_root(root).map_err(|source| ResolveError::Io {
        path: path.to_owned(),
        source,
    })?;
    resolve_beneath(&dir, root, normal, links).map_err(|e| e.asked(path))
}

/// Opens a root directory by its path. Only for paths the operator wrote:
/// links in it are followed.
pub fn open_root(root: &str) -> io::Result<Dir> {
    Dir::open_ambient_dir(root, cap_std::ambient_authority())
}

/// Opens the directory `path` for a preopen: beneath its root under `caps`,
/// with no symbolic link anywhere below the root ([`Links::Refuse`]), and
/// a directory. Its handle is what the guest gets, so the directory cannot
/// be swapped for a link afterwards.
pub fn open_dir_within(caps: &CapabilitySet, path: &str) -> Result<Dir, ResolveError> {
    let target = resolve(caps, path, Links::Refuse)?;
    let io = |source| ResolveError::Io {
        path: path.to_owned(),
        source,
    };
    match target.kind {
        Some(Kind::Dir) => target.open_dir().map_err(io),
        None => Err(io(io::Error::from(io::ErrorKind::NotFound))),
        Some(_) => Err(io(io::Error::from(io::ErrorKind::NotADirectory))),
    }
}

/// Resolves the normal path `path`, at or below the normal `root_path`,
/// beneath `root` (the handle of `root_path`).
pub fn resolve_beneath(
    root: &Dir,
    root_path: &str,
    path: &str,
    links: Links,
) -> Result<Target, ResolveError> {
    let io = |source| ResolveError::Io {
        path: path.to_owned(),
        source,
    };
    if !is_normal(root_path) || !is_normal(path) || !below(root_path, path) {
        return Err(ResolveError::Escapes {
            path: path.to_owned(),
            to: path.to_owned(),
            root: root_path.to_owned(),
        });
    }
    let mut logical = path.to_owned();
    let mut hops = 0usize;
    'walk: loop {
        let rel = relative(root_path, &logical).to_owned();
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let mut dir = root.try_clone().map_err(io)?;
        if parts.is_empty() {
            return Ok(Target {
                parent: dir,
                name: None,
                path: logical,
                kind: Some(Kind::Dir),
            });
        }
        let mut here = root_path.to_owned();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let meta = match dir.symlink_metadata(part) {
                Ok(m) => Some(m),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io(e)),
            };
            let Some(meta) = meta else {
                if last {
                    return Ok(Target {
                        parent: dir,
                        name: Some((*part).to_owned()),
                        path: logical,
                        kind: None,
                    });
                }
                return Err(io(io::Error::from(io::ErrorKind::NotFound)));
            };
            match Kind::of(&meta) {
                Kind::Link if links == Links::Refuse => {
                    return Err(ResolveError::Link {
                        path: path.to_owned(),
                        link: join(&here, part),
                    });
                }
                Kind::Link if last && links == Links::KeepLast => {
                    return Ok(Target {
                        parent: dir,
                        name: Some((*part).to_owned()),
                        path: logical,
                        kind: Some(Kind::Link),
                    });
                }
                Kind::Link => {
                    hops += 1;
                    if hops > MAX_LINKS {
                        return Err(ResolveError::TooManyLinks {
                            path: path.to_owned(),
                        });
                    }
                    let target = dir.read_link_contents(part).map_err(io)?;
                    let target = target.to_str().ok_or_else(|| {
                        io(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a symbolic link whose target is not UTF-8",
                        ))
                    })?;
                    let base = if target.starts_with('/') {
                        target.to_owned()
                    } else {
                        format!("{}/{target}", here.trim_end_matches('/'))
                    };
                    let rest = parts[i + 1..].join("/");
                    let joined = if rest.is_empty() {
                        base
                    } else {
                        format!("{base}/{rest}")
                    };
                    let mut buf = [0u8; crate::capability::MAX_PATH];
                    let escapes = |to: &str| ResolveError::Escapes {
                        path: path.to_owned(),
                        to: to.to_owned(),
                        root: root_path.to_owned(),
                    };
                    let next = normalise(&joined, &mut buf).ok_or_else(|| escapes(&joined))?;
                    if !below(root_path, next) {
                        return Err(escapes(next));
                    }
                    logical = next.to_owned();
                    continue 'walk;
                }
                Kind::Dir if !last => {
                    // Opened without following a link: an entry swapped for
                    // a link since it was read makes this fail.
                    dir = dir.open_dir_nofollow(part).map_err(io)?;
                    here = join(&here, part);
                }
                kind if last => {
                    return Ok(Target {
                        parent: dir,
                        name: Some((*part).to_owned()),
                        path: logical,
                        kind: Some(kind),
                    });
                }
                _ => return Err(io(io::Error::from(io::ErrorKind::NotADirectory))),
            }
        }
        unreachable!("the last part returns");
    }
}

impl ResolveError {
    /// The same error, naming the path as the caller asked it.
    fn asked(self, asked: &str) -> Self {
        let path = asked.to_owned();
        match self {
            Self::NoRoot { .. } => Self::NoRoot { path },
            Self::Escapes { to, root, .. } => Self::Escapes { path, to, root },
            Self::Link { link, .. } => Self::Link { path, link },
            Self::TooManyLinks { .. } => Self::TooManyLinks { path },
            Self::Io { source, .. } => Self::Io { path, source },
        }
    }
}

fn below(root: &str, path: &str) -> bool {
    crate::capability::at_or_below(root, path)
}

fn relative<'p>(root: &str, path: &'p str) -> &'p str {
    let root = root.trim_end_matches('/');
    path[root.len()..].trim_start_matches('/')
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}
