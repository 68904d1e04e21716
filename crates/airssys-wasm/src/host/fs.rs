//! `filesystem`: host files within the granted globs.
//!
//! The path as asked is checked (and audited); then its symbolic links are
//! resolved and, if that leads elsewhere, the resolved path is checked and
//! audited too. The effect uses the resolved path.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use airssys_wasm_core::capability::{FileOp, PathError};
use airssys_wasm_core::{CallContext, HostError, HostFunctions, Request, Value};

use super::{ComponentHost, HostState, bytes, bytes_value, err, func, gate, ok, string};

/// Checks `path` for `op`; `Ok(Err(v))` is the value to return instead.
fn resolve(
    cx: &CallContext<'_>,
    host: &ComponentHost,
    path: &str,
    op: FileOp,
) -> Result<Result<PathBuf, Value>, HostError> {
    if let Some(denied) = gate(cx, host, Request::File { path, op })? {
        return Ok(Err(denied));
    }
    match cx.capabilities().resolve_path(path, op) {
        Ok(p) => Ok(Ok(p)),
        Err(PathError::Escapes { resolved, .. }) => {
            // Audit the decision about where the link really leads.
            let denied = gate(
                cx,
                host,
                Request::File {
                    path: &resolved,
                    op,
                },
            )?;
            Ok(Err(denied.unwrap_or_else(|| {
                err("denied", format!("{} {path} -> {resolved}", op.as_str()))
            })))
        }
        Err(PathError::Io { source, .. }) => Ok(Err(io_error(path, &source))),
        Err(e) => Ok(Err(err("denied", e.to_string()))),
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
    ($cx:expr, $host:expr, $path:expr, $op:expr) => {
        match resolve($cx, $host, $path, $op)? {
            Ok(p) => p,
            Err(v) => return Ok(v),
        }
    };
}

pub(super) fn define(table: &mut HostFunctions, state: &Arc<HostState>) {
    func(table, state, "filesystem", "read", |cx, _, host, args| {
        let path = string(args, 0)?;
        let p = resolved!(cx, host, path, FileOp::Read);
        Ok(match std::fs::read(&p) {
            Ok(data) => ok(Some(bytes_value(data))),
            Err(e) => io_error(path, &e),
        })
    });
    func(table, state, "filesystem", "write", |cx, _, host, args| {
        let path = string(args, 0)?;
        let data = bytes(&args[1])?;
        let exists = std::fs::symlink_metadata(path).is_ok();
        let op = if exists {
            FileOp::Write
        } else {
            FileOp::Create
        };
        let p = resolved!(cx, host, path, op);
        Ok(match std::fs::write(&p, data) {
            Ok(()) => ok(None),
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
            let p = resolved!(cx, host, path, FileOp::Read);
            let names = std::fs::read_dir(&p).and_then(|entries| {
                entries
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
            let p = resolved!(cx, host, path, FileOp::Read);
            Ok(match std::fs::metadata(&p) {
                Ok(m) => {
                    let modified = m
                        .modified()
                        .ok()
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
        let p = resolved!(cx, host, path, FileOp::Delete);
        let removed = if p.is_dir() {
            std::fs::remove_dir(&p)
        } else {
            std::fs::remove_file(&p)
        };
        Ok(match removed {
            Ok(()) => ok(None),
            Err(e) => io_error(path, &e),
        })
    });
}
