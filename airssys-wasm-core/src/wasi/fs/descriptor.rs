//! Descriptors: an open directory or file, by handle, and the positioned
//! reads and writes a file descriptor's streams use.

use std::io;
use std::sync::Arc;

use crate::files::Dir;

use super::types::{DescriptorFlags, ErrorCode, FsResult, Stat};

/// A preopened directory: its handle, its host path and where the guest
/// sees it.
#[derive(Debug)]
pub(super) struct Preopen {
    pub(super) dir: Dir,
    pub(super) host: String,
    pub(super) guest: String,
    pub(super) read_only: bool,
}

/// An open descriptor: a directory or a file, by handle.
#[derive(Debug)]
pub enum Descriptor {
    /// A directory.
    Dir {
        /// The preopen it was reached from.
        preopen: Arc<PreopenRef>,
        /// Its host path (beneath the preopen's).
        path: String,
        /// Its handle.
        dir: Dir,
        /// Opened without write rights.
        read_only: bool,
    },
    /// A file.
    File {
        /// Its handle.
        file: Arc<std::fs::File>,
        /// Opened without write rights.
        read_only: bool,
    },
}

/// The preopen a directory descriptor belongs to (opaque).
#[derive(Debug)]
pub struct PreopenRef(pub(super) Preopen);

impl Descriptor {
    /// The file and whether it is read-only; `is-directory` for a
    /// directory. For streams over the file.
    pub fn file(&self) -> Result<(&Arc<std::fs::File>, bool), ErrorCode> {
        match self {
            Self::File { file, read_only } => Ok((file, *read_only)),
            Self::Dir { .. } => Err(ErrorCode::IsDirectory),
        }
    }

    /// A file open for writing (`read-only` if it is not).
    pub fn writable_file(&self) -> Result<&Arc<std::fs::File>, ErrorCode> {
        match self.file()? {
            (_, true) => Err(ErrorCode::ReadOnly),
            (f, false) => Ok(f),
        }
    }

    /// What the descriptor may do.
    pub fn flags(&self) -> DescriptorFlags {
        let read_only = match self {
            Self::Dir { read_only, .. } | Self::File { read_only, .. } => *read_only,
        };
        DescriptorFlags {
            read: true,
            write: !read_only,
            mutate_directory: !read_only && matches!(self, Self::Dir { .. }),
        }
    }

    /// Its metadata.
    pub fn stat(&self) -> FsResult<Stat> {
        Ok(match self {
            Self::Dir { dir, .. } => Stat::of_cap(&dir.dir_metadata()?),
            Self::File { file, .. } => Stat::of_std(&file.metadata()?),
        })
    }

    /// Reads up to `len` bytes at `offset` (at most 1 MiB at once); `true`
    /// when the end was reached.
    pub fn read(&self, len: u64, offset: u64) -> FsResult<(Vec<u8>, bool)> {
        let (file, _) = self.file()?;
        let len = len.min(MAX_CHUNK) as usize;
        let mut buf = vec![0u8; len];
        let n = read_at(file, &mut buf, offset)?;
        buf.truncate(n);
        Ok((buf, n < len))
    }

    /// Writes `data` at `offset`.
    pub fn write(&self, data: &[u8], offset: u64) -> FsResult<u64> {
        write_at(self.writable_file()?, data, offset)?;
        Ok(data.len() as u64)
    }

    /// Flushes a file to storage (a directory: nothing to do).
    pub fn sync(&self) -> FsResult<()> {
        match self {
            Self::File { file, .. } => Ok(file.sync_all()?),
            Self::Dir { .. } => Ok(()),
        }
    }

    /// Sets a file's size (a file open for writing).
    pub fn set_size(&self, size: u64) -> FsResult<()> {
        Ok(self.writable_file()?.set_len(size)?)
    }

    /// Do both descriptors name the same file or directory?
    pub fn is_same_object(&self, other: &Descriptor) -> bool {
        match (self.stat(), other.stat()) {
            (Ok(a), Ok(b)) => a.id == b.id,
            _ => false,
        }
    }

    pub(super) fn dir(&self) -> Result<(&Arc<PreopenRef>, &str, &Dir, bool), ErrorCode> {
        match self {
            Self::Dir {
                preopen,
                path,
                dir,
                read_only,
            } => Ok((preopen, path, dir, *read_only)),
            Self::File { .. } => Err(ErrorCode::NotDirectory),
        }
    }
}

/// The largest read served at once: a guest asking for more gets fewer
/// bytes, never a host allocation of its choosing.
pub const MAX_CHUNK: u64 = 1 << 20;

/// Reads at `pos` without moving a shared cursor.
pub fn read_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, pos)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek};
        let mut f = file;
        f.seek(io::SeekFrom::Start(pos))?;
        f.read(buf)
    }
}

/// Writes all of `data` at `pos`.
pub fn write_at(file: &std::fs::File, data: &[u8], pos: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, data, pos)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, Write};
        let mut f = file;
        f.seek(io::SeekFrom::Start(pos))?;
        f.write_all(data)
    }
}
