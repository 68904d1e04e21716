//! `wasi:filesystem` inside granted preopens.
//!
//! A preopen is a directory handle opened once, at instantiation, beneath
//! its grant's root ([`airssys_wasm_core::wasi::open_preopens`]). Every path
//! the guest names is resolved beneath that handle by
//! [`airssys_wasm_core::files`]: `..` may not climb above the preopen, and a
//! symbolic link is followed only while it stays beneath it. Descriptors
//! hold handles: a file descriptor reads and writes the file it opened, a
//! directory descriptor lists the directory it opened, whatever happens to
//! their paths afterwards.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use airssys_wasm_core::Value;
use airssys_wasm_core::capability::{MAX_PATH, at_or_below, normalise};
use airssys_wasm_core::files::{self, Dir, Kind, Links, OpenOptions, ResolveError, Target};
use airssys_wasm_core::wasi::OpenedPreopen;

use super::{
    MAX_CHUNK, Out, Res, Stop, Wasi, WasiFn, arg, bytes, bytes_arg, code, datetime, err, flags_arg,
    ok, own, str_arg, u64_arg,
};

/// A preopened directory: its handle and its host path.
pub(crate) struct Preopen {
    dir: Dir,
    host: String,
    guest: String,
    read_only: bool,
}

impl Preopen {
    pub(crate) fn new(o: OpenedPreopen) -> Self {
        Self {
            dir: o.dir,
            host: o.preopen.host.to_string_lossy().into_owned(),
            guest: o.preopen.guest,
            read_only: o.preopen.read_only,
        }
    }
}

/// A directory descriptor.
pub(crate) struct DirRes {
    preopen: Arc<Preopen>,
    /// The directory's host path (beneath the preopen's).
    path: String,
    dir: Dir,
    read_only: bool,
}

/// A file descriptor.
pub(crate) struct FileRes {
    file: Arc<std::fs::File>,
    read_only: bool,
}

/// Reads at `pos` without moving a shared cursor.
pub(crate) fn read_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, pos)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek};
        let mut f = file;
        f.seek(std::io::SeekFrom::Start(pos))?;
        f.read(buf)
    }
}

/// Writes all of `data` at `pos`.
pub(crate) fn write_at(file: &std::fs::File, data: &[u8], pos: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, data, pos)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, Write};
        let mut f = file;
        f.seek(std::io::SeekFrom::Start(pos))?;
        f.write_all(data)
    }
}

/// `wasi:filesystem/preopens.get-directories`.
pub(super) fn preopens(w: &mut Wasi) -> Out {
    let mut out = Vec::new();
    for p in w.preopens.clone() {
        let dir = p.dir.try_clone().map_err(|e| Stop::Trap(e.to_string()))?;
        let rep = w.push(Res::Dir(DirRes {
            path: p.host.clone(),
            read_only: p.read_only,
            dir,
            preopen: p.clone(),
        }));
        out.push(Value::Tuple(vec![
            own(rep, "descriptor"),
            Value::from(p.guest.as_str()),
        ]));
    }
    Ok(Some(Value::List(out)))
}

fn dir_of<'w>(w: &'w mut Wasi, d: &Value) -> Result<Result<&'w DirRes, &'static str>, Stop> {
    Ok(match w.get(d)? {
        Res::Dir(dir) => Ok(dir),
        Res::File(_) => Err("not-directory"),
        _ => return Err(Stop::Trap("not a descriptor".into())),
    })
}

fn file_of(
    w: &mut Wasi,
    d: &Value,
) -> Result<Result<(Arc<std::fs::File>, bool), &'static str>, Stop> {
    Ok(match w.get(d)? {
        Res::File(f) => Ok((f.file.clone(), f.read_only)),
        Res::Dir(_) => Err("is-directory"),
        _ => return Err(Stop::Trap("not a descriptor".into())),
    })
}

/// What a guest path names, beneath the descriptor's preopen.
struct Found {
    target: Target,
    preopen: Arc<Preopen>,
    read_only: bool,
}

fn wasi_code(e: &ResolveError) -> &'static str {
    match e {
        ResolveError::TooManyLinks { .. } => "loop",
        e if e.is_refusal() => "not-permitted",
        e => match e.io_kind() {
            Some(std::io::ErrorKind::NotFound) => "no-entry",
            Some(std::io::ErrorKind::NotADirectory) => "not-directory",
            _ => "io",
        },
    }
}

/// Resolves the guest's `path` relative to the directory descriptor `d`.
/// Absolute paths and `..` above the preopen are refused; links are
/// followed (`follow`) only while they stay beneath the preopen.
fn find(
    w: &mut Wasi,
    d: &Value,
    path: &str,
    follow: bool,
) -> Result<Result<Found, &'static str>, Stop> {
    let dir = match dir_of(w, d)? {
        Ok(dir) => dir,
        Err(c) => return Ok(Err(c)),
    };
    if path.starts_with('/') || path.contains('\0') {
        return Ok(Err("not-permitted"));
    }
    let joined = format!("{}/{path}", dir.path.trim_end_matches('/'));
    let mut buf = [0u8; MAX_PATH];
    let Some(logical) = normalise(&joined, &mut buf) else {
        return Ok(Err("not-permitted"));
    };
    let preopen = dir.preopen.clone();
    if !at_or_below(&preopen.host, logical) {
        return Ok(Err("not-permitted"));
    }
    let links = if follow {
        Links::Follow
    } else {
        Links::KeepLast
    };
    Ok(
        match files::resolve_beneath(&preopen.dir, &preopen.host, logical, links) {
            Ok(target) => Ok(Found {
                target,
                read_only: dir.read_only,
                preopen,
            }),
            Err(e) => Err(wasi_code(&e)),
        },
    )
}

fn follows(a: &[Value]) -> Result<bool, Stop> {
    Ok(flags_arg(a, 1)?.iter().any(|f| f == "symlink-follow"))
}

fn io_code(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "no-entry",
        K::PermissionDenied => "access",
        K::AlreadyExists => "exist",
        K::IsADirectory => "is-directory",
        K::NotADirectory => "not-directory",
        K::DirectoryNotEmpty => "not-empty",
        K::InvalidInput | K::InvalidFilename => "invalid",
        K::ReadOnlyFilesystem => "read-only",
        K::Unsupported => "unsupported",
        // ELOOP: a link where none is followed.
        _ if e.raw_os_error() == Some(40) => "loop",
        _ => "io",
    }
}

/// What `stat` reports, from either kind of metadata.
struct Stat {
    kind: &'static str,
    size: u64,
    accessed: Option<SystemTime>,
    modified: Option<SystemTime>,
    /// Identifies the file (device and inode where there are such).
    id: (u64, u64),
}

impl Stat {
    fn of_std(m: &std::fs::Metadata) -> Self {
        Self {
            kind: kind_name(m.is_dir(), m.is_file(), m.file_type().is_symlink()),
            size: m.len(),
            accessed: m.accessed().ok(),
            modified: m.modified().ok(),
            id: std_id(m),
        }
    }

    fn of_cap(m: &files::Metadata) -> Self {
        use cap_fs_ext::MetadataExt;
        Self {
            kind: kind_name(m.is_dir(), m.is_file(), m.file_type().is_symlink()),
            size: m.len(),
            accessed: m.accessed().ok().map(|t| t.into_std()),
            modified: m.modified().ok().map(|t| t.into_std()),
            id: (m.dev(), m.ino()),
        }
    }

    fn value(&self) -> Value {
        let time = |t: Option<SystemTime>| {
            Value::Option(
                t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| Box::new(datetime(d.as_secs(), d.subsec_nanos()))),
            )
        };
        Value::record([
            ("type", code(self.kind)),
            ("link-count", Value::U64(1)),
            ("size", Value::U64(self.size)),
            ("data-access-timestamp", time(self.accessed)),
            ("data-modification-timestamp", time(self.modified)),
            ("status-change-timestamp", time(self.modified)),
        ])
    }

    fn hash(&self) -> Value {
        Value::record([
            ("lower", Value::U64(self.id.1)),
            ("upper", Value::U64(self.id.0)),
        ])
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

fn kind_name(dir: bool, file: bool, link: bool) -> &'static str {
    if dir {
        "directory"
    } else if file {
        "regular-file"
    } else if link {
        "symbolic-link"
    } else {
        "unknown"
    }
}

fn descriptor_stat(w: &mut Wasi, d: &Value) -> Result<std::io::Result<Stat>, Stop> {
    Ok(match w.get(d)? {
        Res::Dir(dir) => dir.dir.dir_metadata().map(|m| Stat::of_cap(&m)),
        Res::File(f) => f.file.metadata().map(|m| Stat::of_std(&m)),
        _ => return Err(Stop::Trap("not a descriptor".into())),
    })
}

fn stat_at(w: &mut Wasi, a: &[Value]) -> Result<Result<Stat, &'static str>, Stop> {
    let follow = follows(a)?;
    Ok(match find(w, arg(a, 0)?, str_arg(a, 2)?, follow)? {
        Ok(f) if f.target.kind().is_none() => Err("no-entry"),
        Ok(f) => f
            .target
            .metadata()
            .map(|m| Stat::of_cap(&m))
            .map_err(|e| io_code(&e)),
        Err(c) => Err(c),
    })
}

/// `wasi:filesystem/types`.
pub(super) fn lookup(f: &str) -> Option<WasiFn> {
    Some(match f {
        "[method]descriptor.read-via-stream" => |w, a| {
            let offset = u64_arg(a, 1)?;
            match file_of(w, arg(a, 0)?)? {
                Ok((file, _)) => ok(Some(own(
                    w.push(Res::FileIn { file, pos: offset }),
                    "input-stream",
                ))),
                Err(c) => err(code(c)),
            }
        },
        "[method]descriptor.write-via-stream" | "[method]descriptor.append-via-stream" => |w, a| {
            let offset = if a.len() > 1 {
                Some(u64_arg(a, 1)?)
            } else {
                None
            };
            match file_of(w, arg(a, 0)?)? {
                Ok((_, true)) => err(code("read-only")),
                Ok((file, false)) => ok(Some(own(
                    w.push(Res::FileOut { file, pos: offset }),
                    "output-stream",
                ))),
                Err(c) => err(code(c)),
            }
        },
        "[method]descriptor.get-type" => |w, a| match descriptor_stat(w, arg(a, 0)?)? {
            Ok(s) => ok(Some(code(s.kind))),
            Err(e) => err(code(io_code(&e))),
        },
        "[method]descriptor.get-flags" => |w, a| {
            let read_only = match w.get(arg(a, 0)?)? {
                Res::Dir(d) => d.read_only,
                Res::File(f) => f.read_only,
                _ => return Err(Stop::Trap("not a descriptor".into())),
            };
            let mut flags = vec!["read".to_owned()];
            if !read_only {
                flags.push("write".into());
                flags.push("mutate-directory".into());
            }
            ok(Some(Value::Flags(flags)))
        },
        "[method]descriptor.stat" => |w, a| match descriptor_stat(w, arg(a, 0)?)? {
            Ok(s) => ok(Some(s.value())),
            Err(e) => err(code(io_code(&e))),
        },
        "[method]descriptor.stat-at" => |w, a| match stat_at(w, a)? {
            Ok(s) => ok(Some(s.value())),
            Err(c) => err(code(c)),
        },
        "[method]descriptor.metadata-hash" => |w, a| match descriptor_stat(w, arg(a, 0)?)? {
            Ok(s) => ok(Some(s.hash())),
            Err(e) => err(code(io_code(&e))),
        },
        "[method]descriptor.metadata-hash-at" => |w, a| match stat_at(w, a)? {
            Ok(s) => ok(Some(s.hash())),
            Err(c) => err(code(c)),
        },
        "[method]descriptor.open-at" => |w, a| open_at(w, a),
        "[method]descriptor.read-directory" => |w, a| {
            let dir = match dir_of(w, arg(a, 0)?)? {
                Ok(d) => &d.dir,
                Err(c) => return err(code(c)),
            };
            let mut entries = Vec::new();
            match dir.entries() {
                Ok(rd) => {
                    for e in rd.flatten() {
                        let kind = e.file_type().map_or("unknown", |t| {
                            kind_name(t.is_dir(), t.is_file(), t.is_symlink())
                        });
                        entries.push((e.file_name().to_string_lossy().into_owned(), kind));
                    }
                }
                Err(e) => return err(code(io_code(&e))),
            }
            entries.sort();
            ok(Some(own(
                w.push(Res::Entries { entries, pos: 0 }),
                "directory-entry-stream",
            )))
        },
        "[method]directory-entry-stream.read-directory-entry" => |w, a| match w.get(arg(a, 0)?)? {
            Res::Entries { entries, pos } => {
                let entry = entries.get(*pos).cloned();
                *pos += 1;
                ok(Some(Value::Option(entry.map(|(name, kind)| {
                    Box::new(Value::record([
                        ("type", code(kind)),
                        ("name", Value::from(name)),
                    ]))
                }))))
            }
            _ => Err(Stop::Trap("not a directory-entry-stream".into())),
        },
        "[method]descriptor.create-directory-at" => |w, a| {
            mutate(w, a, |t| match t.kind() {
                None => t.create_dir(),
                Some(_) => Err(std::io::ErrorKind::AlreadyExists.into()),
            })
        },
        "[method]descriptor.remove-directory-at" => |w, a| {
            mutate(w, a, |t| match t.kind() {
                Some(Kind::Dir) => t.remove(),
                None => Err(std::io::ErrorKind::NotFound.into()),
                Some(_) => Err(std::io::ErrorKind::NotADirectory.into()),
            })
        },
        "[method]descriptor.unlink-file-at" => |w, a| {
            mutate(w, a, |t| match t.kind() {
                Some(Kind::Dir) => Err(std::io::ErrorKind::IsADirectory.into()),
                None => Err(std::io::ErrorKind::NotFound.into()),
                Some(_) => t.remove(),
            })
        },
        "[method]descriptor.read" => |w, a| {
            let len = u64_arg(a, 1)?.min(MAX_CHUNK) as usize;
            let offset = u64_arg(a, 2)?;
            let file = match file_of(w, arg(a, 0)?)? {
                Ok((f, _)) => f,
                Err(c) => return err(code(c)),
            };
            let mut buf = vec![0u8; len];
            match read_at(&file, &mut buf, offset) {
                Ok(n) => {
                    buf.truncate(n);
                    let end = n < len;
                    ok(Some(Value::Tuple(vec![bytes(buf), Value::Bool(end)])))
                }
                Err(e) => err(code(io_code(&e))),
            }
        },
        "[method]descriptor.write" => |w, a| {
            let data = bytes_arg(a, 1)?;
            let offset = u64_arg(a, 2)?;
            let file = match file_of(w, arg(a, 0)?)? {
                Ok((_, true)) => return err(code("read-only")),
                Ok((f, false)) => f,
                Err(c) => return err(code(c)),
            };
            match write_at(&file, &data, offset) {
                Ok(()) => ok(Some(Value::U64(data.len() as u64))),
                Err(e) => err(code(io_code(&e))),
            }
        },
        "[method]descriptor.sync" | "[method]descriptor.sync-data" => {
            |w, a| match w.get(arg(a, 0)?)? {
                Res::File(f) => match f.file.sync_all() {
                    Ok(()) => ok(None),
                    Err(e) => err(code(io_code(&e))),
                },
                Res::Dir(_) => ok(None),
                _ => Err(Stop::Trap("not a descriptor".into())),
            }
        }
        "filesystem-error-code" => |_, _| Ok(Some(Value::Option(None))),
        _ => return None,
    })
}

fn open_at(w: &mut Wasi, a: &[Value]) -> Out {
    let follow = follows(a)?;
    let path = str_arg(a, 2)?.to_owned();
    let open = flags_arg(a, 3)?.to_vec();
    let flags = flags_arg(a, 4)?.to_vec();
    let has = |set: &[String], f: &str| set.iter().any(|x| x == f);
    let found = match find(w, arg(a, 0)?, &path, follow)? {
        Ok(f) => f,
        Err(c) => return err(code(c)),
    };
    let wants_write = has(&flags, "write")
        || has(&open, "create")
        || has(&open, "truncate")
        || has(&flags, "mutate-directory") && has(&open, "directory");
    if found.read_only && wants_write {
        return err(code("not-permitted"));
    }
    let child_read_only =
        found.read_only || !has(&flags, "write") && !has(&flags, "mutate-directory");
    let t = &found.target;
    let rep = match t.kind() {
        Some(Kind::Link) => return err(code("loop")),
        Some(_) if has(&open, "create") && has(&open, "exclusive") => return err(code("exist")),
        Some(Kind::Dir) => {
            if has(&flags, "write") || has(&open, "truncate") {
                return err(code("is-directory"));
            }
            let dir = match t.open_dir() {
                Ok(d) => d,
                Err(e) => return err(code(io_code(&e))),
            };
            w.push(Res::Dir(DirRes {
                path: t.path().to_owned(),
                dir,
                read_only: child_read_only,
                preopen: found.preopen.clone(),
            }))
        }
        _ if has(&open, "directory") => {
            return err(code(if t.kind().is_none() {
                "no-entry"
            } else {
                "not-directory"
            }));
        }
        kind => {
            let file = if kind.is_none() {
                if !has(&open, "create") {
                    return err(code("no-entry"));
                }
                // Missing: created with O_EXCL, so a link that appears
                // meanwhile is not written through.
                t.create_new_with(OpenOptions::new().read(has(&flags, "read")))
            } else {
                t.open(
                    OpenOptions::new()
                        .read(has(&flags, "read") || !has(&flags, "write"))
                        .write(has(&flags, "write"))
                        .truncate(has(&open, "truncate")),
                )
            };
            match file {
                Ok(f) => w.push(Res::File(FileRes {
                    file: Arc::new(f.into_std()),
                    read_only: child_read_only,
                })),
                Err(e) => return err(code(io_code(&e))),
            }
        }
    };
    ok(Some(own(rep, "descriptor")))
}

/// A change to the directory of descriptor `a[0]` at path `a[1]` (the last
/// entry not followed).
fn mutate(w: &mut Wasi, a: &[Value], op: fn(&Target) -> std::io::Result<()>) -> Out {
    let found = match find(w, arg(a, 0)?, str_arg(a, 1)?, false)? {
        Ok(f) => f,
        Err(c) => return err(code(c)),
    };
    if found.read_only {
        return err(code("not-permitted"));
    }
    match op(&found.target) {
        Ok(()) => ok(None),
        Err(e) => err(code(io_code(&e))),
    }
}
