//! The values of `wasi:filesystem`: error codes, flags, descriptor types,
//! stats and directory entries, with their conversions from the host's.

use std::io;
use std::time::SystemTime;

use crate::files;
use crate::host::HostError;

/// A `wasi:filesystem` error code (the names are WASI's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// `access`: the grants do not allow it.
    Access,
    /// `exist`.
    Exist,
    /// `is-directory`.
    IsDirectory,
    /// `invalid`.
    Invalid,
    /// `io`.
    Io,
    /// `loop`: a link where none is followed, or too many links.
    Loop,
    /// `no-entry`.
    NoEntry,
    /// `not-directory`.
    NotDirectory,
    /// `not-empty`.
    NotEmpty,
    /// `not-permitted`: outside the preopen (an absolute path, `..` above
    /// it, a link leading out of it).
    NotPermitted,
    /// `read-only`: the descriptor was not opened for writing.
    ReadOnly,
    /// `unsupported`.
    Unsupported,
}

impl ErrorCode {
    /// The WASI name (`no-entry`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Exist => "exist",
            Self::IsDirectory => "is-directory",
            Self::Invalid => "invalid",
            Self::Io => "io",
            Self::Loop => "loop",
            Self::NoEntry => "no-entry",
            Self::NotDirectory => "not-directory",
            Self::NotEmpty => "not-empty",
            Self::NotPermitted => "not-permitted",
            Self::ReadOnly => "read-only",
            Self::Unsupported => "unsupported",
        }
    }

    /// The code of a host I/O error.
    pub fn of_io(e: &io::Error) -> Self {
        use io::ErrorKind as K;
        match e.kind() {
            K::NotFound => Self::NoEntry,
            K::PermissionDenied => Self::Access,
            K::AlreadyExists => Self::Exist,
            K::IsADirectory => Self::IsDirectory,
            K::NotADirectory => Self::NotDirectory,
            K::DirectoryNotEmpty => Self::NotEmpty,
            K::InvalidInput | K::InvalidFilename => Self::Invalid,
            K::ReadOnlyFilesystem => Self::ReadOnly,
            K::Unsupported => Self::Unsupported,
            // ELOOP: a link where none is followed.
            _ if e.raw_os_error() == Some(40) => Self::Loop,
            _ => Self::Io,
        }
    }
}

/// Why a filesystem call failed: a WASI error code for the guest, or a
/// host failure (the audit log could not record the decision) that fails
/// the call.
#[derive(Debug)]
pub enum FsError {
    /// The guest gets this code.
    Code(ErrorCode),
    /// The call fails.
    Host(HostError),
}

impl FsError {
    /// The guest's error code, if the guest gets one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Code(c) => Some(*c),
            Self::Host(_) => None,
        }
    }
}

impl From<ErrorCode> for FsError {
    fn from(c: ErrorCode) -> Self {
        Self::Code(c)
    }
}

impl From<HostError> for FsError {
    fn from(e: HostError) -> Self {
        Self::Host(e)
    }
}

impl From<io::Error> for FsError {
    fn from(e: io::Error) -> Self {
        Self::Code(ErrorCode::of_io(&e))
    }
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Code(c) => f.write_str(c.as_str()),
            Self::Host(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FsError {}

/// A filesystem call's result.
pub type FsResult<T> = Result<T, FsError>;

/// How `open-at` opens (WASI's `open-flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// Create the file if missing.
    pub create: bool,
    /// Fail unless it is a directory.
    pub directory: bool,
    /// With `create`: fail if it exists.
    pub exclusive: bool,
    /// Truncate an existing file.
    pub truncate: bool,
}

/// What a descriptor may do (WASI's `descriptor-flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescriptorFlags {
    /// Read.
    pub read: bool,
    /// Write.
    pub write: bool,
    /// Change the directory's entries.
    pub mutate_directory: bool,
}

/// What a descriptor or entry is (WASI's `descriptor-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DescriptorType {
    /// A directory.
    Directory,
    /// A regular file.
    RegularFile,
    /// A symbolic link.
    SymbolicLink,
    /// Anything else.
    Unknown,
}

impl DescriptorType {
    /// The WASI name (`regular-file`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::RegularFile => "regular-file",
            Self::SymbolicLink => "symbolic-link",
            Self::Unknown => "unknown",
        }
    }

    pub(super) fn of(t: impl FileTypeLike) -> Self {
        if t.dir() {
            Self::Directory
        } else if t.file() {
            Self::RegularFile
        } else if t.link() {
            Self::SymbolicLink
        } else {
            Self::Unknown
        }
    }
}

pub(super) trait FileTypeLike {
    fn dir(&self) -> bool;
    fn file(&self) -> bool;
    fn link(&self) -> bool;
}

impl FileTypeLike for std::fs::FileType {
    fn dir(&self) -> bool {
        self.is_dir()
    }
    fn file(&self) -> bool {
        self.is_file()
    }
    fn link(&self) -> bool {
        self.is_symlink()
    }
}

impl FileTypeLike for cap_std::fs::FileType {
    fn dir(&self) -> bool {
        self.is_dir()
    }
    fn file(&self) -> bool {
        self.is_file()
    }
    fn link(&self) -> bool {
        self.is_symlink()
    }
}

/// What `stat` reports.
#[derive(Clone, Debug)]
pub struct Stat {
    /// The kind.
    pub kind: DescriptorType,
    /// The size in bytes.
    pub size: u64,
    /// Last access.
    pub accessed: Option<SystemTime>,
    /// Last modification.
    pub modified: Option<SystemTime>,
    /// Identifies the file: (device, inode) where there are such.
    pub id: (u64, u64),
}

impl Stat {
    pub(super) fn of_std(m: &std::fs::Metadata) -> Self {
        Self {
            kind: DescriptorType::of(m.file_type()),
            size: m.len(),
            accessed: m.accessed().ok(),
            modified: m.modified().ok(),
            id: std_id(m),
        }
    }

    pub(super) fn of_cap(m: &files::Metadata) -> Self {
        use cap_fs_ext::MetadataExt;
        Self {
            kind: DescriptorType::of(m.file_type()),
            size: m.len(),
            accessed: m.accessed().ok().map(|t| t.into_std()),
            modified: m.modified().ok().map(|t| t.into_std()),
            id: (m.dev(), m.ino()),
        }
    }
}

#[cfg(unix)]
fn std_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn std_id(m: &std::fs::Metadata) -> (u64, u64) {
    (0, m.len())
}

/// One entry of a listing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: DescriptorType,
}
