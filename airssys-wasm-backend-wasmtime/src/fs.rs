//! `wasi:filesystem` served by the filesystem every backend shares
//! ([`airssys_wasm_core::wasi::fs`]) instead of wasmtime-wasi's: each open,
//! create and delete is checked against the grants and audited, and a
//! grant of single files or a glob shows the guest exactly what it
//! matches.
//!
//! This module shadows wasmtime-wasi's `wasi:filesystem/types` and
//! `wasi:filesystem/preopens` in the linker with implementations of the
//! same generated traits. The resource types stay wasmtime-wasi's names
//! (the linker's resource identity), but what the table holds under them
//! is ours: a [`Descriptor`] for each `descriptor` and a listing for each
//! `directory-entry-stream`, reached by the handle's index. Streams over
//! files are wasmtime-wasi's stream resources, so the bounded `wasi:io`
//! of [`crate::blocking`] serves them like any other.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use airssys_wasm_core::wasi::fs::{
    self as ours, Descriptor, DescriptorType, Entry, ErrorCode, FsError as OurError, Stat, WasiFs,
};
use bytes::Bytes;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types as async_types;
use wasmtime_wasi::p2::bindings::sync::filesystem::types;
use wasmtime_wasi::p2::bindings::sync::io::streams;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, FsError, FsResult, InputStream, OutputStream, Pollable,
    StreamError, StreamResult,
};

/// The store's filesystem and table, for the shadowed interfaces.
pub(crate) struct FsView<'a> {
    fs: &'a WasiFs,
    table: &'a mut ResourceTable,
}

impl<'a> FsView<'a> {
    pub(crate) fn new(fs: &'a WasiFs, table: &'a mut ResourceTable) -> Self {
        Self { fs, table }
    }

    fn desc(&self, fd: &Resource<types::Descriptor>) -> FsResult<&Descriptor> {
        Ok(self
            .table
            .get(&Resource::<Descriptor>::new_borrow(fd.rep()))?)
    }

    fn push(&mut self, d: Descriptor) -> FsResult<Resource<types::Descriptor>> {
        Ok(Resource::new_own(self.table.push(d)?.rep()))
    }
}

struct Fs;

impl HasData for Fs {
    type Data<'a> = FsView<'a>;
}

/// Replaces wasmtime-wasi's `wasi:filesystem` in `linker` (which has WASI
/// already); `view` gives the store's [`FsView`].
pub(crate) fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> FsView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    types::add_to_linker::<T, Fs>(linker, view)?;
    preopens::add_to_linker::<T, Fs>(linker, view)?;
    linker.allow_shadowing(false);
    Ok(())
}

fn code(c: ErrorCode) -> async_types::ErrorCode {
    use async_types::ErrorCode as W;
    match c {
        ErrorCode::Access => W::Access,
        ErrorCode::Exist => W::Exist,
        ErrorCode::IsDirectory => W::IsDirectory,
        ErrorCode::Invalid => W::Invalid,
        ErrorCode::Io => W::Io,
        ErrorCode::Loop => W::Loop,
        ErrorCode::NoEntry => W::NoEntry,
        ErrorCode::NotDirectory => W::NotDirectory,
        ErrorCode::NotEmpty => W::NotEmpty,
        ErrorCode::NotPermitted => W::NotPermitted,
        ErrorCode::ReadOnly => W::ReadOnly,
        ErrorCode::Unsupported => W::Unsupported,
    }
}

/// Our result as wasmtime-wasi's: a code for the guest, or a trap.
fn wasi<T>(r: Result<T, OurError>) -> FsResult<T> {
    r.map_err(|e| match e {
        OurError::Code(c) => FsError::from(code(c)),
        OurError::Host(error) => FsError::trap(crate::failure::HostCallFailed {
            function: "wasi:filesystem/types".into(),
            error,
        }),
    })
}

fn unsupported<T>() -> FsResult<T> {
    Err(FsError::from(async_types::ErrorCode::Unsupported))
}

fn datetime(t: Option<SystemTime>) -> Option<types::Datetime> {
    let d = t?.duration_since(UNIX_EPOCH).ok()?;
    Some(types::Datetime {
        seconds: d.as_secs(),
        nanoseconds: d.subsec_nanos(),
    })
}

fn kind(k: DescriptorType) -> types::DescriptorType {
    match k {
        DescriptorType::Directory => types::DescriptorType::Directory,
        DescriptorType::RegularFile => types::DescriptorType::RegularFile,
        DescriptorType::SymbolicLink => types::DescriptorType::SymbolicLink,
        DescriptorType::Unknown => types::DescriptorType::Unknown,
    }
}

fn stat(s: Stat) -> types::DescriptorStat {
    types::DescriptorStat {
        type_: kind(s.kind),
        link_count: 1,
        size: s.size,
        data_access_timestamp: datetime(s.accessed),
        data_modification_timestamp: datetime(s.modified),
        status_change_timestamp: datetime(s.modified),
    }
}

fn hash(s: Stat) -> types::MetadataHashValue {
    types::MetadataHashValue {
        lower: s.id.1,
        upper: s.id.0,
    }
}

fn follows(f: types::PathFlags) -> bool {
    f.contains(types::PathFlags::SYMLINK_FOLLOW)
}

impl preopens::Host for FsView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<types::Descriptor>, String)>> {
        let mut out = Vec::new();
        for (d, guest) in self.fs.preopens()? {
            out.push((Resource::new_own(self.table.push(d)?.rep()), guest));
        }
        Ok(out)
    }
}

impl types::Host for FsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<types::ErrorCode> {
        Ok(err.downcast()?.into())
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<streams::Error>,
    ) -> wasmtime::Result<Option<types::ErrorCode>> {
        let err = self.table.get(&err)?;
        Ok(err
            .downcast_ref::<std::io::Error>()
            .map(|e| code(ErrorCode::of_io(e)).into()))
    }
}

impl types::HostDescriptor for FsView<'_> {
    fn advise(
        &mut self,
        fd: Resource<types::Descriptor>,
        _offset: types::Filesize,
        _len: types::Filesize,
        _advice: types::Advice,
    ) -> FsResult<()> {
        wasi(self.desc(&fd)?.file().map(|_| ()).map_err(OurError::from))
    }

    fn sync_data(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        wasi(self.desc(&fd)?.sync())
    }

    fn get_flags(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::DescriptorFlags> {
        let f = self.desc(&fd)?.flags();
        let mut flags = types::DescriptorFlags::READ;
        if f.write {
            flags |= types::DescriptorFlags::WRITE;
        }
        if f.mutate_directory {
            flags |= types::DescriptorFlags::MUTATE_DIRECTORY;
        }
        Ok(flags)
    }

    fn get_type(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::DescriptorType> {
        Ok(kind(wasi(self.desc(&fd)?.stat())?.kind))
    }

    fn set_size(&mut self, fd: Resource<types::Descriptor>, size: types::Filesize) -> FsResult<()> {
        wasi(self.desc(&fd)?.set_size(size))
    }

    fn set_times(
        &mut self,
        _fd: Resource<types::Descriptor>,
        _atim: types::NewTimestamp,
        _mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        unsupported()
    }

    fn read(
        &mut self,
        fd: Resource<types::Descriptor>,
        len: types::Filesize,
        offset: types::Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        wasi(self.desc(&fd)?.read(len, offset))
    }

    fn write(
        &mut self,
        fd: Resource<types::Descriptor>,
        buf: Vec<u8>,
        offset: types::Filesize,
    ) -> FsResult<types::Filesize> {
        wasi(self.desc(&fd)?.write(&buf, offset))
    }

    fn read_directory(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<Resource<types::DirectoryEntryStream>> {
        let entries = wasi(self.fs.read_directory(self.desc(&fd)?))?;
        let listing = Listing(entries.into_iter());
        Ok(Resource::new_own(self.table.push(listing)?.rep()))
    }

    fn sync(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        wasi(self.desc(&fd)?.sync())
    }

    fn create_directory_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        wasi(self.fs.create_directory_at(self.desc(&fd)?, &path))
    }

    fn stat(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::DescriptorStat> {
        Ok(stat(wasi(self.desc(&fd)?.stat())?))
    }

    fn stat_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        let d = self.desc(&fd)?;
        Ok(stat(wasi(self.fs.stat_at(d, follows(path_flags), &path))?))
    }

    fn set_times_at(
        &mut self,
        _fd: Resource<types::Descriptor>,
        _path_flags: types::PathFlags,
        _path: String,
        _atim: types::NewTimestamp,
        _mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        unsupported()
    }

    fn link_at(
        &mut self,
        _fd: Resource<types::Descriptor>,
        _old_path_flags: types::PathFlags,
        _old_path: String,
        _new_descriptor: Resource<types::Descriptor>,
        _new_path: String,
    ) -> FsResult<()> {
        unsupported()
    }

    fn open_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<types::Descriptor>> {
        let open = ours::OpenFlags {
            create: oflags.contains(types::OpenFlags::CREATE),
            directory: oflags.contains(types::OpenFlags::DIRECTORY),
            exclusive: oflags.contains(types::OpenFlags::EXCLUSIVE),
            truncate: oflags.contains(types::OpenFlags::TRUNCATE),
        };
        let flags = ours::DescriptorFlags {
            read: flags.contains(types::DescriptorFlags::READ),
            write: flags.contains(types::DescriptorFlags::WRITE),
            mutate_directory: flags.contains(types::DescriptorFlags::MUTATE_DIRECTORY),
        };
        let d = self.desc(&fd)?;
        let new = wasi(self.fs.open_at(d, follows(path_flags), &path, open, flags))?;
        self.push(new)
    }

    fn drop(&mut self, fd: Resource<types::Descriptor>) -> wasmtime::Result<()> {
        self.table
            .delete(Resource::<Descriptor>::new_own(fd.rep()))?;
        Ok(())
    }

    fn readlink_at(&mut self, fd: Resource<types::Descriptor>, path: String) -> FsResult<String> {
        wasi(self.fs.readlink_at(self.desc(&fd)?, &path))
    }

    fn remove_directory_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        wasi(self.fs.remove_directory_at(self.desc(&fd)?, &path))
    }

    fn rename_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        old_path: String,
        new_fd: Resource<types::Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let (from, to) = (self.desc(&fd)?, self.desc(&new_fd)?);
        wasi(self.fs.rename_at(from, &old_path, to, &new_path))
    }

    fn symlink_at(
        &mut self,
        _fd: Resource<types::Descriptor>,
        _src_path: String,
        _dest_path: String,
    ) -> FsResult<()> {
        unsupported()
    }

    fn unlink_file_at(&mut self, fd: Resource<types::Descriptor>, path: String) -> FsResult<()> {
        wasi(self.fs.unlink_file_at(self.desc(&fd)?, &path))
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<streams::InputStream>> {
        let (file, _) = wasi(self.desc(&fd)?.file().map_err(OurError::from))?;
        let stream: DynInputStream = Box::new(FileIn {
            file: file.clone(),
            pos: offset,
        });
        Ok(self.table.push(stream)?)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<streams::OutputStream>> {
        self.output(fd, Some(offset))
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<Resource<streams::OutputStream>> {
        self.output(fd, None)
    }

    fn is_same_object(
        &mut self,
        a: Resource<types::Descriptor>,
        b: Resource<types::Descriptor>,
    ) -> wasmtime::Result<bool> {
        let same = |v: &Self| -> FsResult<bool> { Ok(v.desc(&a)?.is_same_object(v.desc(&b)?)) };
        same(self).map_err(|e| match e.downcast() {
            Ok(c) => wasmtime::format_err!("not a descriptor: {c}"),
            Err(trap) => trap,
        })
    }

    fn metadata_hash(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<types::MetadataHashValue> {
        Ok(hash(wasi(self.desc(&fd)?.stat())?))
    }

    fn metadata_hash_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        let d = self.desc(&fd)?;
        Ok(hash(wasi(self.fs.stat_at(d, follows(path_flags), &path))?))
    }
}

impl FsView<'_> {
    fn output(
        &mut self,
        fd: Resource<types::Descriptor>,
        pos: Option<u64>,
    ) -> FsResult<Resource<streams::OutputStream>> {
        let file = wasi(self.desc(&fd)?.writable_file().map_err(OurError::from))?;
        let stream: DynOutputStream = Box::new(FileOut {
            file: file.clone(),
            pos,
        });
        Ok(self.table.push(stream)?)
    }
}

/// A listing being read.
struct Listing(std::vec::IntoIter<Entry>);

impl types::HostDirectoryEntryStream for FsView<'_> {
    fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        let listing = self
            .table
            .get_mut(&Resource::<Listing>::new_borrow(stream.rep()))?;
        Ok(listing.0.next().map(|e| types::DirectoryEntry {
            type_: kind(e.kind),
            name: e.name,
        }))
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.table
            .delete(Resource::<Listing>::new_own(stream.rep()))?;
        Ok(())
    }
}

/// Reads a file from a position, through its handle.
struct FileIn {
    file: Arc<std::fs::File>,
    pos: u64,
}

#[wasmtime_wasi::async_trait]
impl Pollable for FileIn {
    async fn ready(&mut self) {}
}

impl InputStream for FileIn {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let mut buf = vec![0u8; size.min(ours::MAX_CHUNK as usize)];
        match ours::read_at(&self.file, &mut buf, self.pos) {
            Ok(0) if size > 0 => Err(StreamError::Closed),
            Ok(n) => {
                buf.truncate(n);
                self.pos += n as u64;
                Ok(Bytes::from(buf))
            }
            Err(e) => Err(StreamError::LastOperationFailed(e.into())),
        }
    }
}

/// Writes a file at a position (or appends), through its handle.
struct FileOut {
    file: Arc<std::fs::File>,
    /// `None` appends.
    pos: Option<u64>,
}

#[wasmtime_wasi::async_trait]
impl Pollable for FileOut {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for FileOut {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let at = match self.pos {
            Some(p) => p,
            None => self
                .file
                .metadata()
                .map_err(|e| StreamError::LastOperationFailed(e.into()))?
                .len(),
        };
        ours::write_at(&self.file, &bytes, at)
            .map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        if let Some(p) = &mut self.pos {
            *p += bytes.len() as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // What wasmtime-wasi's streams allow: each write is a host buffer
        // of this size at most.
        Ok(64 << 10)
    }
}
