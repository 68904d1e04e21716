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
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use airssys_wasm_core::capability::{CapabilityKind, FileOp, MAX_PATH, normalise};
use airssys_wasm_core::files::{self, Kind, Links, OpenOptions, ResolveError, Target};
use airssys_wasm_core::{AuditKind, CallContext, HostError, HostFunctions, Request, Value};

use super::{ComponentHost, HostState, bytes, bytes_value, err, func, gate_as, limit, ok, string};

/// Checks `path` for `op` (the guest sees `shown` if denied), resolves it
/// beneath its grant's directory and checks where it leads. `Ok(Err(v))` is
/// the value to return instead.
fn target(
    cx: &CallContext<'_>,
    host: &ComponentHost,
    path: &str,
    op: FileOp,
    links: Links,
    shown: &str,
) -> Result<Result<Target, Value>, HostError> {
    if let Some(denied) = gate_as(cx, host, Request::File { path, op }, shown)? {
        return Ok(Err(denied));
    }
    let resolved = files::resolve(cx.capabilities(), path, links);
    checked(cx, host, path, op, resolved, shown)
}

/// The second half of [`target`]: what a resolution gives, checked.
fn checked(
    cx: &CallContext<'_>,
    host: &ComponentHost,
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
        && let Some(denied) = gate_as(cx, host, Request::File { path: t.path(), op }, shown)?
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

fn read_file(
    state: &HostState,
    cx: &CallContext<'_>,
    path: &str,
    t: &Target,
) -> Result<Value, HostError> {
    let max = state.settings.fs_max_read;
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

pub(super) fn define(table: &mut HostFunctions, state: &Arc<HostState>) {
    func(
        table,
        state,
        "filesystem",
        "read",
        |cx, state, host, args| {
            let path = string(args, 0)?;
            let shown = format!("read {path}");
            let t = resolved!(target(cx, host, path, FileOp::Read, Links::Follow, &shown));
            read_file(state, cx, path, &t)
        },
    );
    func(table, state, "filesystem", "write", |cx, _, host, args| {
        let path = string(args, 0)?;
        let data = bytes(&args[1])?;
        let shown = format!("write {path}");
        // Nothing is touched for a component that may neither write nor
        // create here; the denial reads the same either way.
        let caps = cx.capabilities();
        let may = |op| caps.allows(&Request::File { path, op }).is_allowed();
        if !may(FileOp::Write) && !may(FileOp::Create) {
            return Ok(gate_as(
                cx,
                host,
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
        if let Some(denied) = gate_as(cx, host, Request::File { path, op }, &shown)? {
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
    func(
        table,
        state,
        "filesystem",
        "read-dir",
        |cx, _, host, args| {
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
        },
    );
    func(
        table,
        state,
        "filesystem",
        "metadata",
        |cx, _, host, args| {
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
        },
    );
    func(table, state, "filesystem", "delete", |cx, _, host, args| {
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
