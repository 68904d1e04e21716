//! `wasi:filesystem` of our own, for every backend: each open, create and
//! delete is a checked and audited decision, as `airssys:host/filesystem`
//! calls are.
//!
//! What the guest sees: one preopen per grant root (see
//! [`super::WasiGrants`]), at the same path as on the host (a `dirs` grant
//! at its guest path). In it, the paths the grants match exist with the
//! rights the grants give, and the directories on the way to them can be
//! opened and listed; everything else is denied. A listing shows only what
//! can be reached, so a grant of `/srv/app/motd.txt` shows a `/srv/app`
//! holding exactly `motd.txt`.
//!
//! Each path the guest names, relative to a directory descriptor, is
//! normalised (`..` may not climb above the preopen), checked against the
//! grants (denied: `access`, and a `capability-denied` event), resolved
//! beneath the preopen's handle by [`crate::files`] (a link is followed
//! only while it stays beneath it), and, if its links lead elsewhere,
//! checked again where they lead. Which right an open needs is decided on
//! what is there: `read` to open or stat, `write` to write or truncate an
//! existing file, `create` to make a file or directory, `delete` to remove
//! one. Before any of it, a path the grants cannot reach at all is denied
//! without a look at the disk, so a denial never tells whether a path
//! exists.
//!
//! The backends translate their ABI to these calls: the wasmi backend from
//! component values, the wasmtime backend from wasmtime-wasi's bindings.
//! Descriptors hold handles: a file descriptor reads and writes the file
//! it opened, a directory descriptor lists the directory it opened,
//! whatever happens to their paths afterwards.
//!
//! ```
//! use std::sync::Arc;
//! use airssys_wasm_core::capability::{FileRights, PathGlob};
//! use airssys_wasm_core::wasi::fs::{DescriptorFlags, ErrorCode, OpenFlags, WasiFs};
//! use airssys_wasm_core::{AuditKind, Capability, CapabilitySet, MemorySink};
//!
//! let dir = tempfile::tempdir()?;
//! let root = dir.path().canonicalize()?.display().to_string();
//! std::fs::write(dir.path().join("motd.txt"), "hello")?;
//! std::fs::write(dir.path().join("secret.txt"), "no")?;
//! let caps = CapabilitySet::new().with(Capability::files(
//!     PathGlob::new(&format!("{root}/motd.txt"))?,
//!     FileRights::READ,
//! ));
//! let audit = Arc::new(MemorySink::new());
//! let fs = WasiFs::open("demo".into(), Arc::new(caps), audit.clone())?;
//! let (dir, guest) = fs.preopens()?.remove(0);
//! assert_eq!(guest, root);
//! let read = DescriptorFlags { read: true, ..Default::default() };
//! let file = fs.open_at(&dir, true, "motd.txt", OpenFlags::default(), read)?;
//! assert_eq!(file.read(100, 0)?.0, b"hello");
//! let denied = fs.open_at(&dir, true, "secret.txt", OpenFlags::default(), read);
//! assert_eq!(denied.unwrap_err().code(), Some(ErrorCode::Access));
//! let names: Vec<String> = fs.read_directory(&dir)?.into_iter().map(|e| e.name).collect();
//! assert_eq!(names, ["motd.txt"]);
//! assert!(audit.events().iter().any(|e| matches!(&e.kind,
//!     AuditKind::CapabilityDenied { request, .. } if request.ends_with("/secret.txt"))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::sync::Arc;

use crate::audit::{AuditEvent, AuditKind, AuditSink};
use crate::backend::InstanceConfig;
use crate::capability::{
    CapabilityKind, CapabilitySet, FileOp, MAX_PATH, Request, at_or_below, normalise,
};
use crate::files::{self, Kind, Links, OpenOptions, ResolveError, Target};
use crate::host::{CallContext, HostError};

use super::WasiGrants;

mod descriptor;
mod types;

use descriptor::Preopen;
pub use descriptor::{Descriptor, MAX_CHUNK, PreopenRef, read_at, write_at};
pub use types::{
    DescriptorFlags, DescriptorType, Entry, ErrorCode, FsError, FsResult, OpenFlags, Stat,
};

/// The filesystem of one instance: its preopens, and the grants and audit
/// log every path is checked and recorded against.
pub struct WasiFs {
    preopens: Vec<Arc<PreopenRef>>,
    component: Arc<str>,
    capabilities: Arc<CapabilitySet>,
    audit: Arc<dyn AuditSink>,
}

impl std::fmt::Debug for WasiFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiFs")
            .field("preopens", &self.preopens)
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

/// The outcome recorded with a denial.
const DENIED: &str = "the WASI call fails with `access`";

impl WasiFs {
    /// The filesystem of an instance of `config`: its preopens are opened
    /// now, each beneath its grant's root (see [`super::open_preopens`]).
    pub fn new(config: &InstanceConfig) -> Result<Self, String> {
        Self::open(
            config.component.clone(),
            config.capabilities.clone(),
            config.audit.clone(),
        )
    }

    /// [`WasiFs::new`] from the parts of an instance's configuration that
    /// it uses: its audit label, grants and audit sink.
    pub fn open(
        component: Arc<str>,
        capabilities: Arc<CapabilitySet>,
        audit: Arc<dyn AuditSink>,
    ) -> Result<Self, String> {
        let grants = WasiGrants::from_capabilities(&capabilities);
        let preopens = super::open_grants(&component, &capabilities, &*audit, &grants)?
            .into_iter()
            .map(|o| {
                Arc::new(PreopenRef(Preopen {
                    dir: o.dir,
                    host: o.preopen.host.to_string_lossy().into_owned(),
                    guest: o.preopen.guest,
                    read_only: o.preopen.read_only,
                }))
            })
            .collect();
        Ok(Self {
            preopens,
            component,
            capabilities,
            audit,
        })
    }

    /// `get-directories`: a descriptor for each preopen and its guest path.
    pub fn preopens(&self) -> io::Result<Vec<(Descriptor, String)>> {
        self.preopens
            .iter()
            .map(|p| {
                Ok((
                    Descriptor::Dir {
                        preopen: p.clone(),
                        path: p.0.host.clone(),
                        dir: p.0.dir.try_clone()?,
                        read_only: p.0.read_only,
                    },
                    p.0.guest.clone(),
                ))
            })
            .collect()
    }

    fn cx(&self) -> CallContext<'_> {
        CallContext::new(&self.component, &self.capabilities, &*self.audit)
    }

    fn record(&self, kind: AuditKind) -> Result<(), HostError> {
        self.audit
            .record(AuditEvent::new(self.component.clone(), kind))
            .map_err(HostError::Audit)
    }

    /// Is `path` (normal) something the grants reach: allowed for some
    /// operation or, when it may be a directory, on the way to granted
    /// paths? Not recorded.
    fn reachable(&self, path: &str, may_be_dir: bool) -> bool {
        let caps = &self.capabilities;
        [FileOp::Read, FileOp::Write, FileOp::Create, FileOp::Delete]
            .into_iter()
            .any(|op| caps.allows(&Request::File { path, op }).is_allowed())
            || (may_be_dir && caps.reaches_below(path))
    }

    /// Checks `op` on `path` and records the decision. A directory on the
    /// way to granted paths may be read (opened, listed, its metadata read)
    /// without a grant of its own.
    fn check(&self, path: &str, op: FileOp, dir: bool) -> FsResult<()> {
        let request = Request::File { path, op };
        if op == FileOp::Read
            && dir
            && !self.capabilities.allows(&request).is_allowed()
            && self.capabilities.reaches_below(path)
        {
            self.record(AuditKind::CapabilityAllowed {
                capability: CapabilityKind::Filesystem,
                request: format!("read {path} (a directory on the way to granted paths)"),
            })?;
            return Ok(());
        }
        if self.cx().decide(request, DENIED)?.is_allowed() {
            Ok(())
        } else {
            Err(ErrorCode::Access.into())
        }
    }

    /// Resolves the guest's `path` relative to the directory descriptor
    /// `d`: refused outside the preopen, denied where the grants cannot
    /// reach (for `op`, recorded), then resolved beneath the preopen's
    /// handle. Returns the target and whether `d` is read-only.
    fn find(
        &self,
        d: &Descriptor,
        path: &str,
        follow: bool,
        op: FileOp,
    ) -> FsResult<(Target, bool)> {
        let (preopen, dir_path, _, read_only) = d.dir()?;
        let preopen = &preopen.0;
        if path.starts_with('/') || path.contains('\0') {
            return Err(ErrorCode::NotPermitted.into());
        }
        let joined = format!("{}/{path}", dir_path.trim_end_matches('/'));
        let mut buf = [0u8; MAX_PATH];
        let Some(logical) = normalise(&joined, &mut buf) else {
            return Err(ErrorCode::NotPermitted.into());
        };
        if !at_or_below(&preopen.host, logical) {
            self.record(AuditKind::CapabilityDenied {
                capability: CapabilityKind::Filesystem,
                request: format!("{} {logical}", op.as_str()),
                outcome: format!(
                    "above the preopen {}: the WASI call fails with `not-permitted`",
                    preopen.host
                ),
            })?;
            return Err(ErrorCode::NotPermitted.into());
        }
        if !self.reachable(logical, true) {
            self.cx()
                .decide(Request::File { path: logical, op }, DENIED)?;
            return Err(ErrorCode::Access.into());
        }
        let links = if follow {
            Links::Follow
        } else {
            Links::KeepLast
        };
        match files::resolve_beneath(&preopen.dir, &preopen.host, logical, links) {
            Ok(t) => Ok((t, read_only)),
            Err(e) if e.is_refusal() => {
                let to = match &e {
                    ResolveError::Escapes { to, .. } => to.as_str(),
                    _ => logical,
                };
                let code = match e {
                    ResolveError::TooManyLinks { .. } => ErrorCode::Loop,
                    _ => ErrorCode::NotPermitted,
                };
                self.record(AuditKind::CapabilityDenied {
                    capability: CapabilityKind::Filesystem,
                    request: format!("{} {to}", op.as_str()),
                    outcome: format!("{e}; the WASI call fails with `{}`", code.as_str()),
                })?;
                Err(code.into())
            }
            Err(e) => Err(match e.io_kind() {
                Some(io::ErrorKind::NotFound) => ErrorCode::NoEntry,
                Some(io::ErrorKind::NotADirectory) => ErrorCode::NotDirectory,
                _ => ErrorCode::Io,
            }
            .into()),
        }
    }

    /// Checks `op` on the target as asked (`logical`) and, if its links
    /// led elsewhere, where they led.
    fn check_target(&self, logical: &str, t: &Target, op: FileOp) -> FsResult<()> {
        let dir = t.kind() == Some(Kind::Dir);
        self.check(logical, op, dir)?;
        if t.path() != logical {
            self.check(t.path(), op, dir)?;
        }
        Ok(())
    }

    fn logical(d: &Descriptor, path: &str) -> String {
        let base = match d {
            Descriptor::Dir { path, .. } => path.as_str(),
            Descriptor::File { .. } => "",
        };
        let joined = format!("{}/{path}", base.trim_end_matches('/'));
        let mut buf = [0u8; MAX_PATH];
        normalise(&joined, &mut buf).unwrap_or_default().to_owned()
    }

    /// `stat-at`: the metadata of `path` (its last link followed if
    /// `follow`). Needs the `read` right.
    pub fn stat_at(&self, d: &Descriptor, follow: bool, path: &str) -> FsResult<Stat> {
        let (t, _) = self.find(d, path, follow, FileOp::Read)?;
        self.check_target(&Self::logical(d, path), &t, FileOp::Read)?;
        if t.kind().is_none() {
            return Err(ErrorCode::NoEntry.into());
        }
        Ok(Stat::of_cap(&t.metadata()?))
    }

    /// `open-at`. Opening needs `read`; for writing or truncating an
    /// existing file, `write`; creating a missing file, `create` (and it is
    /// made with `O_EXCL`, so a link appearing meanwhile is not written
    /// through). A read-only directory descriptor opens nothing for
    /// writing (`not-permitted`).
    pub fn open_at(
        &self,
        d: &Descriptor,
        follow: bool,
        path: &str,
        open: OpenFlags,
        flags: DescriptorFlags,
    ) -> FsResult<Descriptor> {
        let wants_write =
            flags.write || open.create || open.truncate || flags.mutate_directory && open.directory;
        let asked = if open.create {
            FileOp::Create
        } else if flags.write || open.truncate {
            FileOp::Write
        } else {
            FileOp::Read
        };
        let (t, read_only) = self.find(d, path, follow, asked)?;
        let logical = Self::logical(d, path);
        if read_only && wants_write {
            // The grants decide first (and the decision is recorded); a
            // descriptor opened without write rights refuses even so.
            let op = if t.kind().is_none() {
                FileOp::Create
            } else {
                FileOp::Write
            };
            self.check_target(&logical, &t, op)?;
            return Err(ErrorCode::NotPermitted.into());
        }
        let child_read_only = !flags.write && !flags.mutate_directory;
        match t.kind() {
            Some(Kind::Link) => Err(ErrorCode::Loop.into()),
            Some(_) if open.create && open.exclusive => {
                self.check_target(&logical, &t, FileOp::Create)?;
                Err(ErrorCode::Exist.into())
            }
            Some(Kind::Dir) => {
                self.check_target(&logical, &t, FileOp::Read)?;
                if flags.write || open.truncate {
                    return Err(ErrorCode::IsDirectory.into());
                }
                if flags.mutate_directory {
                    self.check_target(&logical, &t, FileOp::Create)?;
                }
                let (preopen, ..) = d.dir()?;
                Ok(Descriptor::Dir {
                    preopen: preopen.clone(),
                    path: t.path().to_owned(),
                    dir: t.open_dir()?,
                    read_only: child_read_only,
                })
            }
            None => {
                if !open.create {
                    self.check_target(&logical, &t, asked)?;
                    return Err(ErrorCode::NoEntry.into());
                }
                self.check_target(&logical, &t, FileOp::Create)?;
                if open.directory {
                    return Err(ErrorCode::NoEntry.into());
                }
                let file = t.create_new_with(OpenOptions::new().read(flags.read))?;
                Ok(Descriptor::File {
                    file: Arc::new(file.into_std()),
                    read_only: child_read_only,
                })
            }
            Some(_) => {
                if flags.write || open.truncate {
                    self.check_target(&logical, &t, FileOp::Write)?;
                }
                if flags.read || !(flags.write || open.truncate) {
                    self.check_target(&logical, &t, FileOp::Read)?;
                }
                if open.directory {
                    return Err(ErrorCode::NotDirectory.into());
                }
                let file = t.open(
                    OpenOptions::new()
                        .read(flags.read || !flags.write)
                        .write(flags.write)
                        .truncate(open.truncate),
                )?;
                Ok(Descriptor::File {
                    file: Arc::new(file.into_std()),
                    read_only: child_read_only,
                })
            }
        }
    }

    /// `read-directory`: the entries the grants reach, sorted by name.
    pub fn read_directory(&self, d: &Descriptor) -> FsResult<Vec<Entry>> {
        let (_, path, dir, _) = d.dir()?;
        let mut entries = Vec::new();
        for e in dir.entries()?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let full = format!("{}/{name}", path.trim_end_matches('/'));
            let kind = e
                .file_type()
                .map_or(DescriptorType::Unknown, DescriptorType::of);
            if !self.reachable(&full, kind == DescriptorType::Directory) {
                continue;
            }
            entries.push(Entry { name, kind });
        }
        entries.sort();
        Ok(entries)
    }

    /// A change to the directory of `d` at `path` (its last entry not
    /// followed), needing `op`.
    fn mutate(
        &self,
        d: &Descriptor,
        path: &str,
        op: FileOp,
        effect: fn(&Target) -> io::Result<()>,
    ) -> FsResult<()> {
        let (t, read_only) = self.find(d, path, false, op)?;
        self.check_target(&Self::logical(d, path), &t, op)?;
        if read_only {
            return Err(ErrorCode::NotPermitted.into());
        }
        Ok(effect(&t)?)
    }

    /// `readlink-at`: the text of the link at `path` (not followed).
    /// Needs `read`.
    pub fn readlink_at(&self, d: &Descriptor, path: &str) -> FsResult<String> {
        let (t, _) = self.find(d, path, false, FileOp::Read)?;
        self.check_target(&Self::logical(d, path), &t, FileOp::Read)?;
        match (t.kind(), t.name()) {
            (Some(Kind::Link), Some(name)) => Ok(t
                .parent()
                .read_link_contents(name)?
                .to_string_lossy()
                .into_owned()),
            (None, _) => Err(ErrorCode::NoEntry.into()),
            _ => Err(ErrorCode::Invalid.into()),
        }
    }

    /// `rename-at`: moves `from` (beneath `d`) to `to` (beneath `to_dir`),
    /// neither's last entry followed. Needs `delete` on `from` and `create`
    /// on `to` (and `delete` there when it replaces something).
    pub fn rename_at(
        &self,
        d: &Descriptor,
        from: &str,
        to_dir: &Descriptor,
        to: &str,
    ) -> FsResult<()> {
        let (src, ro_src) = self.find(d, from, false, FileOp::Delete)?;
        let (dst, ro_dst) = self.find(to_dir, to, false, FileOp::Create)?;
        if ro_src || ro_dst {
            return Err(ErrorCode::NotPermitted.into());
        }
        self.check_target(&Self::logical(d, from), &src, FileOp::Delete)?;
        let dst_logical = Self::logical(to_dir, to);
        self.check_target(&dst_logical, &dst, FileOp::Create)?;
        if dst.kind().is_some() {
            self.check_target(&dst_logical, &dst, FileOp::Delete)?;
        }
        match (src.kind(), src.name(), dst.name()) {
            (None, ..) => Err(ErrorCode::NoEntry.into()),
            (Some(_), Some(a), Some(b)) => Ok(src.parent().rename(a, dst.parent(), b)?),
            _ => Err(ErrorCode::Access.into()),
        }
    }

    /// `create-directory-at`: needs `create`.
    pub fn create_directory_at(&self, d: &Descriptor, path: &str) -> FsResult<()> {
        self.mutate(d, path, FileOp::Create, |t| match t.kind() {
            None => t.create_dir(),
            Some(_) => Err(io::ErrorKind::AlreadyExists.into()),
        })
    }

    /// `remove-directory-at`: needs `delete`.
    pub fn remove_directory_at(&self, d: &Descriptor, path: &str) -> FsResult<()> {
        self.mutate(d, path, FileOp::Delete, |t| match t.kind() {
            Some(Kind::Dir) => t.remove(),
            None => Err(io::ErrorKind::NotFound.into()),
            Some(_) => Err(io::ErrorKind::NotADirectory.into()),
        })
    }

    /// `unlink-file-at`: needs `delete`.
    pub fn unlink_file_at(&self, d: &Descriptor, path: &str) -> FsResult<()> {
        self.mutate(d, path, FileOp::Delete, |t| match t.kind() {
            Some(Kind::Dir) => Err(io::ErrorKind::IsADirectory.into()),
            None => Err(io::ErrorKind::NotFound.into()),
            Some(_) => t.remove(),
        })
    }
}
