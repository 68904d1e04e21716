//! `wasi:filesystem` as component values, over the filesystem every
//! backend shares ([`airssys_wasm_core::wasi::fs`]): it checks, audits and
//! resolves each path; this module turns arguments and results into
//! values.

use std::time::{SystemTime, UNIX_EPOCH};

use airssys_wasm_core::Value;
use airssys_wasm_core::wasi::fs::{
    Descriptor, DescriptorFlags, FsError, FsResult, OpenFlags, Stat, WasiFs,
};

use super::{
    Out, Res, Stop, Wasi, WasiFn, arg, bytes, bytes_arg, code, datetime, err, flags_arg, ok, own,
    str_arg, u64_arg,
};

/// `wasi:filesystem/preopens.get-directories`.
pub(super) fn preopens(w: &mut Wasi) -> Out {
    let mut out = Vec::new();
    for (d, guest) in w.fs.preopens().map_err(|e| Stop::Trap(e.to_string()))? {
        let rep = w.push(Res::Desc(d));
        out.push(Value::Tuple(vec![
            own(rep, "descriptor"),
            Value::from(guest),
        ]));
    }
    Ok(Some(Value::List(out)))
}

fn desc<'w>(w: &'w Wasi, d: &Value) -> Result<&'w Descriptor, Stop> {
    Ok(at(w, d)?.1)
}

/// The filesystem and the descriptor `d`.
fn at<'w>(w: &'w Wasi, d: &Value) -> Result<(&'w WasiFs, &'w Descriptor), Stop> {
    let rep = super::rep_of(d)?;
    match w.table.get(&rep) {
        Some(Res::Desc(desc)) => Ok((&w.fs, desc)),
        Some(_) => Err(Stop::Trap("not a descriptor".into())),
        None => Err(Stop::Trap(format!("unknown WASI resource {rep}"))),
    }
}

/// The value of a filesystem call's result: `ok(v)`, `err(code)`, or the
/// call fails (the audit log could not record a decision).
fn answer<T>(r: FsResult<T>, v: impl FnOnce(T) -> Option<Value>) -> Out {
    match r {
        Ok(t) => ok(v(t)),
        Err(FsError::Code(c)) => err(code(c.as_str())),
        Err(FsError::Host(e)) => Err(Stop::Trap(e.to_string())),
    }
}

fn has(flags: &[String], f: &str) -> bool {
    flags.iter().any(|x| x == f)
}

fn follows(a: &[Value]) -> Result<bool, Stop> {
    Ok(has(flags_arg(a, 1)?, "symlink-follow"))
}

fn stat_value(s: &Stat) -> Value {
    let time = |t: Option<SystemTime>| {
        Value::Option(
            t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| Box::new(datetime(d.as_secs(), d.subsec_nanos()))),
        )
    };
    Value::record([
        ("type", code(s.kind.as_str())),
        ("link-count", Value::U64(1)),
        ("size", Value::U64(s.size)),
        ("data-access-timestamp", time(s.accessed)),
        ("data-modification-timestamp", time(s.modified)),
        ("status-change-timestamp", time(s.modified)),
    ])
}

fn hash_value(s: &Stat) -> Value {
    Value::record([("lower", Value::U64(s.id.1)), ("upper", Value::U64(s.id.0))])
}

/// `wasi:filesystem/types`.
pub(super) fn lookup(f: &str) -> Option<WasiFn> {
    Some(match f {
        "[method]descriptor.read-via-stream" => |w, a| {
            let offset = u64_arg(a, 1)?;
            match desc(w, arg(a, 0)?)?.file() {
                Ok((file, _)) => {
                    let file = file.clone();
                    ok(Some(own(
                        w.push(Res::FileIn { file, pos: offset }),
                        "input-stream",
                    )))
                }
                Err(c) => err(code(c.as_str())),
            }
        },
        "[method]descriptor.write-via-stream" | "[method]descriptor.append-via-stream" => |w, a| {
            let offset = if a.len() > 1 {
                Some(u64_arg(a, 1)?)
            } else {
                None
            };
            match desc(w, arg(a, 0)?)?.writable_file() {
                Ok(file) => {
                    let file = file.clone();
                    ok(Some(own(
                        w.push(Res::FileOut { file, pos: offset }),
                        "output-stream",
                    )))
                }
                Err(c) => err(code(c.as_str())),
            }
        },
        "[method]descriptor.get-type" => {
            |w, a| answer(desc(w, arg(a, 0)?)?.stat(), |s| Some(code(s.kind.as_str())))
        }
        "[method]descriptor.get-flags" => |w, a| {
            let f = desc(w, arg(a, 0)?)?.flags();
            let mut flags = vec!["read".to_owned()];
            if f.write {
                flags.push("write".into());
            }
            if f.mutate_directory {
                flags.push("mutate-directory".into());
            }
            ok(Some(Value::Flags(flags)))
        },
        "[method]descriptor.stat" => {
            |w, a| answer(desc(w, arg(a, 0)?)?.stat(), |s| Some(stat_value(&s)))
        }
        "[method]descriptor.stat-at" => |w, a| {
            let follow = follows(a)?;
            let (fs, d) = at(w, arg(a, 0)?)?;
            answer(fs.stat_at(d, follow, str_arg(a, 2)?), |s| {
                Some(stat_value(&s))
            })
        },
        "[method]descriptor.metadata-hash" => {
            |w, a| answer(desc(w, arg(a, 0)?)?.stat(), |s| Some(hash_value(&s)))
        }
        "[method]descriptor.metadata-hash-at" => |w, a| {
            let follow = follows(a)?;
            let (fs, d) = at(w, arg(a, 0)?)?;
            answer(fs.stat_at(d, follow, str_arg(a, 2)?), |s| {
                Some(hash_value(&s))
            })
        },
        "[method]descriptor.open-at" => |w, a| {
            let follow = follows(a)?;
            let open = flags_arg(a, 3)?;
            let flags = flags_arg(a, 4)?;
            let open = OpenFlags {
                create: has(open, "create"),
                directory: has(open, "directory"),
                exclusive: has(open, "exclusive"),
                truncate: has(open, "truncate"),
            };
            let flags = DescriptorFlags {
                read: has(flags, "read"),
                write: has(flags, "write"),
                mutate_directory: has(flags, "mutate-directory"),
            };
            let (fs, d) = at(w, arg(a, 0)?)?;
            match fs.open_at(d, follow, str_arg(a, 2)?, open, flags) {
                Ok(new) => ok(Some(own(w.push(Res::Desc(new)), "descriptor"))),
                Err(e) => answer::<()>(Err(e), |_| None),
            }
        },
        "[method]descriptor.read-directory" => |w, a| {
            let (fs, d) = at(w, arg(a, 0)?)?;
            match fs.read_directory(d) {
                Ok(entries) => {
                    let entries = entries
                        .into_iter()
                        .map(|e| (e.name, e.kind.as_str()))
                        .collect();
                    ok(Some(own(
                        w.push(Res::Entries { entries, pos: 0 }),
                        "directory-entry-stream",
                    )))
                }
                Err(e) => answer::<()>(Err(e), |_| None),
            }
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
            let (fs, d) = at(w, arg(a, 0)?)?;
            answer(fs.create_directory_at(d, str_arg(a, 1)?), |()| None)
        },
        "[method]descriptor.remove-directory-at" => |w, a| {
            let (fs, d) = at(w, arg(a, 0)?)?;
            answer(fs.remove_directory_at(d, str_arg(a, 1)?), |()| None)
        },
        "[method]descriptor.unlink-file-at" => |w, a| {
            let (fs, d) = at(w, arg(a, 0)?)?;
            answer(fs.unlink_file_at(d, str_arg(a, 1)?), |()| None)
        },
        "[method]descriptor.readlink-at" => |w, a| {
            let (fs, d) = at(w, arg(a, 0)?)?;
            answer(fs.readlink_at(d, str_arg(a, 1)?), |t| Some(Value::from(t)))
        },
        "[method]descriptor.rename-at" => |w, a| {
            let (fs, d) = at(w, arg(a, 0)?)?;
            let to_dir = desc(w, arg(a, 2)?)?;
            answer(
                fs.rename_at(d, str_arg(a, 1)?, to_dir, str_arg(a, 3)?),
                |()| None,
            )
        },
        "[method]descriptor.set-size" => |w, a| {
            let size = u64_arg(a, 1)?;
            answer(desc(w, arg(a, 0)?)?.set_size(size), |()| None)
        },
        "[method]descriptor.is-same-object" => |w, a| {
            let same = desc(w, arg(a, 0)?)?.is_same_object(desc(w, arg(a, 1)?)?);
            Ok(Some(Value::Bool(same)))
        },
        "[method]descriptor.read" => |w, a| {
            let (len, offset) = (u64_arg(a, 1)?, u64_arg(a, 2)?);
            answer(desc(w, arg(a, 0)?)?.read(len, offset), |(b, end)| {
                Some(Value::Tuple(vec![bytes(b), Value::Bool(end)]))
            })
        },
        "[method]descriptor.write" => |w, a| {
            let data = bytes_arg(a, 1)?;
            let offset = u64_arg(a, 2)?;
            answer(desc(w, arg(a, 0)?)?.write(&data, offset), |n| {
                Some(Value::U64(n))
            })
        },
        "[method]descriptor.sync" | "[method]descriptor.sync-data" => {
            |w, a| answer(desc(w, arg(a, 0)?)?.sync(), |()| None)
        }
        "filesystem-error-code" => |_, _| Ok(Some(Value::Option(None))),
        _ => return None,
    })
}
