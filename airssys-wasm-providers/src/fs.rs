//! `filesystem`: host files within the granted globs.
//!
//! The path as asked is checked (and audited); then it is resolved beneath
//! the directory handle of its grant ([`airssys_wasm_core::files`]), and if
//! its links lead elsewhere, the path they lead to is checked and audited
//! too. The effect acts on the handle, never on the path by name: a link
//! that appears after the check makes the effect fail, never escape.
//!
//! `write` creates a missing file (the `create` right, with `O_EXCL`) or
//! replaces an existing one (the `write` right); which one is decided by
//! the handle, and a denial reads `write PATH` either way, so it does not
//! tell the guest whether the file exists.

use std::io::{Read, Write};
use std::time::UNIX_EPOCH;

use airssys_wasm_core::capability::{CapabilityKind, FileOp, MAX_PATH, normalise};
use airssys_wasm_core::files::{self, Kind, Links, OpenOptions, ResolveError, Target};
use airssys_wasm_core::provider::{
    Caller, Interface, ProviderTable, bytes, bytes_value, err, limit, ok, string,
};
use airssys_wasm_core::{AuditKind, CallContext, HostError, Request, Result, Value};

use crate::interface;

const INTERFACES: &[Interface] = &[interface(
    "airssys:host/filesystem",
    Some(CapabilityKind::Filesystem),
)];
const I: &str = INTERFACES[0].name;

/// The `filesystem` provider.
#[derive(Debug)]
pub struct Filesystem {
    max_read: u64,
}

impl Filesystem {
    /// `read` returns at most `max_read` bytes; a larger file is
    /// `error::limit`.
    pub fn new(max_read: u64) -> Self {
        Self { max_read }
    }
}

type Host<'a> = Caller<'a, ()>;

/// Checks `path` for `op` (the guest sees `shown` if denied), resolves it
/// beneath its grant's directory and checks where it leads. `Ok(Err(v))` is
/// the value to return instead.
fn target(
    cx: &CallContext<'_>,
    host: &Host<'_>,
    path: &str,
    op: FileOp,
    links: Links,
    shown: &str,
) -> Result<Result<Target, Value>, HostError> {
    if let Some(denied) = host.gate_as(cx, Request::File { path, op }, shown)? {
        return Ok(Err(denied));
    }
    let resolved = files::resolve(cx.capabilities(), path, links);
    checked(cx, host, path, op, resolved, shown)
}

/// The second half of [`target`]: what a resolution gives, checked.
fn checked(
    cx: &CallContext<'_>,
    host: &Host<'_>,
    path: &str,
    op: FileOp,
    resolved: Result<Target, ResolveError>,
    shown: &str,
) -> Result<Result<Target, Value>, HostError> {
    let t = match resolved {
        Ok(t) => t,
        Err(e) if e.is_refusal() => {
            // Audited as a decision about where the path really leads.
            let request = match &e {
                ResolveError::Escapes { to, .. } => format!("{} {to}", op.as_str()),
                _ => format!("{} {path}", op.as_str()),
            };
            cx.record(AuditKind::CapabilityDenied {
                capability: CapabilityKind::Filesystem,
                request,
                outcome: format!("{e}; the guest gets error::denied"),
            })?;
            return Ok(Err(err("denied", shown.to_owned())));
        }
        Err(e) => return Ok(Err(resolve_error(path, &e))),
    };
    let mut buf = [0u8; MAX_PATH];
    if normalise(path, &mut buf) != Some(t.path())
        && let Some(denied) = host.gate_as(cx, Request::File { path: t.path(), op }, shown)?
    {
        return Ok(Err(denied));
    }
    Ok(Ok(t))
}

fn resolve_error(path: &str, e: &ResolveError) -> Value {
    match e.io_kind() {
        Some(std::io::ErrorKind::NotFound) => err("not-found", path.to_owned()),
        _ => err("failed", e.to_string()),
    }
}

fn io_error(path: &str, e: &std::io::Error) -> Value {
    if e.kind() == std::io::ErrorKind::NotFound {
        err("not-found", path.to_owned())
    } else {
        err("failed", format!("{path}: {e}"))
    }
}

macro_rules! resolved {
    ($e:expr) => {
        match $e? {
            Ok(t) => t,
            Err(v) => return Ok(v),
        }
    };
}

fn read_file(max: u64, cx: &CallContext<'_>, path: &str, t: &Target) -> Result<Value, HostError> {
    match t.kind() {
        None => return Ok(err("not-found", path.to_owned())),
        Some(Kind::Dir) => return Ok(err("failed", format!("{path}: is a directory"))),
        _ => {}
    }
    let mut file = match t.open(OpenOptions::new().read(true)) {
        Ok(f) => f,
        Err(e) => return Ok(io_error(path, &e)),
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > max {
        return limit(
            cx,
            "airssys:host/filesystem#read",
            format!("a read returns at most {max} bytes ({path} has {size})"),
        );
    }
    let mut data = Vec::with_capacity(size as usize);
    match (&mut file).take(max + 1).read_to_end(&mut data) {
        Ok(_) if data.len() as u64 > max => limit(
            cx,
            "airssys:host/filesystem#read",
            format!("a read returns at most {max} bytes ({path} grew past it)"),
        ),
        Ok(_) => Ok(ok(Some(bytes_value(data)))),
        Err(e) => Ok(io_error(path, &e)),
    }
}

crate::stateless_provider!(Filesystem, "filesystem", INTERFACES, define);

fn define(table: &mut ProviderTable<'_, Filesystem>) {
    table.func(I, "read", |cx, this, host, args| {
        let path = string(args, 0)?;
        let shown = format!("read {path}");
        let t = resolved!(target(cx, host, path, FileOp::Read, Links::Follow, &shown));
        read_file(this.max_read, cx, path, &t)
    });
    table.func(I, "write", |cx, _, host, args| {
        let path = string(args, 0)?;
        let data = bytes(&args[1])?;
        let shown = format!("write {path}");
        // Nothing is touched for a component that may neither write nor
        // create here; the denial reads the same either way.
        let caps = cx.capabilities();
        let may = |op| caps.allows(&Request::File { path, op }).is_allowed();
        if !may(FileOp::Write) && !may(FileOp::Create) {
            return Ok(host
                .gate_as(
                    cx,
                    Request::File {
                        path,
                        op: FileOp::Write,
                    },
                    &shown,
                )?
                .unwrap_or_else(|| err("denied", shown.clone())));
        }
        let resolved = files::resolve(caps, path, Links::Follow);
        let op = match &resolved {
            Ok(t) if t.kind().is_none() => FileOp::Create,
            _ => FileOp::Write,
        };
        if let Some(denied) = host.gate_as(cx, Request::File { path, op }, &shown)? {
            return Ok(denied);
        }
        let t = resolved!(checked(cx, host, path, op, resolved, &shown));
        let file = match (op, t.kind()) {
            (_, Some(Kind::Dir)) => return Ok(err("failed", format!("{path}: is a directory"))),
            // O_CREAT|O_EXCL: if anything appeared there since, it fails.
            (FileOp::Create, _) => t.create_new(),
            _ => t.open(OpenOptions::new().write(true).truncate(true)),
        };
        Ok(match file.and_then(|mut f| f.write_all(&data)) {
            Ok(()) => ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => err(
                "failed",
                format!("{path}: created by someone else meanwhile"),
            ),
            Err(e) => io_error(path, &e),
        })
    });
    table.func(I, "read-dir", |cx, _, host, args| {
        let path = string(args, 0)?;
        let shown = format!("read {path}");
        let t = resolved!(target(cx, host, path, FileOp::Read, Links::Follow, &shown));
        if t.kind().is_none() {
            return Ok(err("not-found", path.to_owned()));
        }
        let names = t.open_dir().and_then(|d| {
            d.entries()?
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<std::io::Result<Vec<_>>>()
        });
        Ok(match names {
            Ok(mut names) => {
                names.sort();
                ok(Some(Value::List(
                    names.into_iter().map(Value::String).collect(),
                )))
            }
            Err(e) => io_error(path, &e),
        })
    });
    table.func(I, "metadata", |cx, _, host, args| {
        let path = string(args, 0)?;
        let shown = format!("read {path}");
        let t = resolved!(target(cx, host, path, FileOp::Read, Links::Follow, &shown));
        if t.kind().is_none() {
            return Ok(err("not-found", path.to_owned()));
        }
        Ok(match t.metadata() {
            Ok(m) => {
                let modified = m
                    .modified()
                    .ok()
                    .map(|t| t.into_std())
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| Box::new(Value::U64(d.as_secs())));
                ok(Some(Value::record([
                    ("size", Value::U64(m.len())),
                    ("is-dir", Value::Bool(m.is_dir())),
                    ("modified", Value::Option(modified)),
                ])))
            }
            Err(e) => io_error(path, &e),
        })
    });
    table.func(I, "delete", |cx, _, host, args| {
        let path = string(args, 0)?;
        let shown = format!("delete {path}");
        // A link is deleted itself, never what it points to.
        let t = resolved!(target(
            cx,
            host,
            path,
            FileOp::Delete,
            Links::KeepLast,
            &shown
        ));
        if t.kind().is_none() {
            return Ok(err("not-found", path.to_owned()));
        }
        Ok(match t.remove() {
            Ok(()) => ok(None),
            Err(e) => io_error(path, &e),
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use airssys_wasm_core::capability::{FileRights, PathGlob};
    use airssys_wasm_core::{Capability, CapabilitySet, OnDenied};

    fn grant(dir: &std::path::Path, rights: FileRights) -> CapabilitySet {
        let glob = PathGlob::new(&format!("{}/**", dir.display())).unwrap();
        [Capability::files(glob, rights)].into_iter().collect()
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn reads_within_the_grant_and_refuses_what_leads_outside() {
        let root = tempfile::tempdir().unwrap();
        let (inner, outside) = (root.path().join("in"), root.path().join("out"));
        std::fs::create_dir_all(&inner).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(inner.join("a.txt"), b"hello").unwrap();
        std::fs::write(outside.join("secret"), b"no").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(outside.join("secret"), inner.join("link")).unwrap();
        let h = Harness::new(Filesystem::new(4));
        let l = h.load(None, grant(&inner, FileRights::READ), &[], OnDenied::Error);
        let path = |p: &str| s(&format!("{}/{p}", inner.display()));
        // Over the read limit: `error::limit`, audited.
        assert!(matches!(
            h.call(&l, "read", &[path("a.txt")]).unwrap(),
            Value::Result(Err(Some(e))) if matches!(&*e, Value::Variant(c, _) if c == "limit")
        ));
        let h = Harness::new(Filesystem::new(1 << 20));
        let l = h.load(None, grant(&inner, FileRights::READ), &[], OnDenied::Error);
        assert_eq!(
            h.call(&l, "read", &[path("a.txt")]).unwrap(),
            ok(Some(bytes_value(b"hello".to_vec())))
        );
        let escape = format!("{}/../out/secret", inner.display());
        assert_eq!(
            h.call(&l, "read", &[s(&escape)]).unwrap(),
            err("denied", format!("read {escape}"))
        );
        #[cfg(unix)]
        assert_eq!(
            h.call(&l, "read", &[path("link")]).unwrap(),
            err("denied", format!("read {}/link", inner.display()))
        );
        // Read-only: a write is denied and nothing is created.
        assert_eq!(
            h.call(&l, "write", &[path("new"), bytes_value(b"x".to_vec())])
                .unwrap(),
            err("denied", format!("write {}/new", inner.display()))
        );
        assert!(!inner.join("new").exists());
        let denials = h
            .audit
            .events()
            .iter()
            .filter(|e| matches!(e.kind, AuditKind::CapabilityDenied { .. }))
            .count();
        assert!(denials >= 3, "{:?}", h.audit.events());
    }

    #[test]
    fn writes_create_list_and_delete_with_the_rights_granted() {
        let root = tempfile::tempdir().unwrap();
        let h = Harness::new(Filesystem::new(1 << 20));
        let l = h.load(
            None,
            grant(root.path(), FileRights::ALL),
            &[],
            OnDenied::Error,
        );
        let path = |p: &str| s(&format!("{}/{p}", root.path().display()));
        let data = bytes_value(b"x".to_vec());
        assert_eq!(h.call(&l, "write", &[path("f"), data]).unwrap(), ok(None));
        assert_eq!(
            h.call(&l, "read-dir", &[path("")]).unwrap(),
            ok(Some(Value::List(vec![s("f")])))
        );
        assert_eq!(h.call(&l, "delete", &[path("f")]).unwrap(), ok(None));
        assert_eq!(
            h.call(&l, "delete", &[path("f")]).unwrap(),
            err("not-found", format!("{}/f", root.path().display()))
        );
    }
}
