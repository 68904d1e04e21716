//! A WASI 0.2 subset on wasmi, enough for a plain Rust `std` guest built for
//! `wasm32-wasip2`: `wasi:cli` (environment, arguments, exit, stdio,
//! terminals), `wasi:io` (streams, errors, polling), `wasi:clocks`,
//! `wasi:random` and `wasi:filesystem` inside granted preopens.
//!
//! What each grant gives is decided by [`airssys_wasm_core::wasi`], the same
//! decision the wasmtime backend uses. Functions outside the subset (sockets,
//! `wasi:http`, links, renames, ...) are refused at load, naming the import.
//!
//! Resources (streams, descriptors, pollables, errors) live in one table per
//! instance; the guest's handles point at their index ("rep").

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component as PathPart, Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use airssys_wasm_core::wasi::{self, FIXED_RANDOM, WasiGrants};
use airssys_wasm_core::{
    AuditSink, InstanceConfig, OutputTarget, ResourceHandle, ResourceType, Value,
};

/// Largest read or random request served at once: a guest asking for
/// more gets fewer bytes (reads) or a trap (random), never a host
/// allocation of its choosing.
const MAX_CHUNK: u64 = 1 << 20;

/// Why a WASI function did not return.
pub(crate) enum Stop {
    /// `wasi:cli/exit`.
    Exit(i32),
    /// The guest misused the interface (an unknown handle, an absurd size).
    Trap(String),
}

type Out = Result<Option<Value>, Stop>;

/// A WASI function of the subset.
pub(crate) type WasiFn = fn(&mut Wasi, &[Value]) -> Out;

/// One WASI resource.
enum Res {
    Stdin,
    Stdout,
    Stderr,
    FileIn {
        file: File,
        pos: u64,
    },
    FileOut {
        file: File,
        pos: Option<u64>,
    },
    Error(String),
    Pollable(Option<Instant>),
    Dir {
        host: PathBuf,
        root: PathBuf,
        read_only: bool,
    },
    File {
        host: PathBuf,
        read_only: bool,
    },
    Entries {
        entries: Vec<(String, &'static str)>,
        pos: usize,
    },
}

/// The WASI state of one instance.
pub(crate) struct Wasi {
    grants: WasiGrants,
    args: Vec<String>,
    stdin: Option<Arc<[u8]>>,
    stdin_pos: usize,
    stdout: OutputTarget,
    stderr: OutputTarget,
    table: HashMap<u32, Res>,
    next: u32,
    random_pos: usize,
    stdio_reported: bool,
    component: Arc<str>,
    audit: Arc<dyn AuditSink>,
}

impl Wasi {
    /// The WASI state of an instance with this configuration.
    pub fn new(config: &InstanceConfig) -> Result<Self, String> {
        let grants = WasiGrants::from_capabilities(&config.capabilities);
        for p in &grants.preopens {
            if p.required && !p.host.is_dir() {
                return Err(format!(
                    "cannot open granted directory {}: not a directory",
                    p.host.display()
                ));
            }
        }
        let mut args = vec![config.component.to_string()];
        args.extend(config.args.iter().cloned());
        Ok(Self {
            grants,
            args,
            stdin: config.stdio.stdin.clone(),
            stdin_pos: 0,
            stdout: config.stdio.stdout.clone(),
            stderr: config.stdio.stderr.clone(),
            table: HashMap::new(),
            next: 1,
            random_pos: 0,
            stdio_reported: false,
            component: config.component.clone(),
            audit: config.audit.clone(),
        })
    }

    fn push(&mut self, r: Res) -> u32 {
        let rep = self.next;
        self.next += 1;
        self.table.insert(rep, r);
        rep
    }

    fn get(&mut self, v: &Value) -> Result<&mut Res, Stop> {
        let rep = rep_of(v)?;
        self.table
            .get_mut(&rep)
            .ok_or_else(|| Stop::Trap(format!("unknown WASI resource {rep}")))
    }

    /// Drops a resource the guest no longer holds.
    pub fn drop_rep(&mut self, rep: u32) {
        self.table.remove(&rep);
    }

    fn random(&mut self, len: u64) -> Result<Vec<u8>, Stop> {
        if len > MAX_CHUNK * 16 {
            return Err(Stop::Trap(format!(
                "asked for {len} random bytes (at most {} at once)",
                MAX_CHUNK * 16
            )));
        }
        let mut bytes = vec![0u8; len as usize];
        if self.grants.random {
            getrandom::fill(&mut bytes).map_err(|e| Stop::Trap(format!("host entropy: {e}")))?;
        } else {
            for b in &mut bytes {
                *b = FIXED_RANDOM[self.random_pos % FIXED_RANDOM.len()];
                self.random_pos += 1;
            }
        }
        Ok(bytes)
    }

    fn error(&mut self, message: String) -> Value {
        let rep = self.push(Res::Error(message));
        Value::variant("last-operation-failed", Some(own(rep, "error")))
    }

    fn write_out(&mut self, which: StdStream, bytes: &[u8]) -> Result<(), String> {
        if !self.grants.stdio {
            if !self.stdio_reported {
                self.stdio_reported = true;
                wasi::audit_stdio_denied(&self.component, &*self.audit);
            }
            return Err(wasi::STDIO_DENIED.to_owned());
        }
        let target = match which {
            StdStream::Out => &self.stdout,
            StdStream::Err => &self.stderr,
        };
        match target {
            OutputTarget::Capture(buf) => {
                buf.write(bytes);
                Ok(())
            }
            OutputTarget::Inherit => match which {
                StdStream::Out => std::io::stdout().write_all(bytes),
                StdStream::Err => std::io::stderr().write_all(bytes),
            }
            .map_err(|e| e.to_string()),
        }
    }
}

#[derive(Clone, Copy)]
enum StdStream {
    Out,
    Err,
}

fn rep_of(v: &Value) -> Result<u32, Stop> {
    match v {
        Value::Resource(h) => Ok(h.index),
        other => Err(Stop::Trap(format!(
            "expected a resource handle, got {other:?}"
        ))),
    }
}

fn own(rep: u32, name: &str) -> Value {
    Value::Resource(ResourceHandle {
        index: rep,
        ty: ResourceType {
            name: name.into(),
            owned: true,
        },
    })
}

fn arg(args: &[Value], k: usize) -> Result<&Value, Stop> {
    args.get(k)
        .ok_or_else(|| Stop::Trap(format!("missing argument {k}")))
}

fn u64_arg(args: &[Value], k: usize) -> Result<u64, Stop> {
    match arg(args, k)? {
        Value::U64(x) => Ok(*x),
        other => Err(Stop::Trap(format!("expected a u64, got {other:?}"))),
    }
}

fn str_arg(args: &[Value], k: usize) -> Result<&str, Stop> {
    match arg(args, k)? {
        Value::String(s) => Ok(s),
        other => Err(Stop::Trap(format!("expected a string, got {other:?}"))),
    }
}

fn bytes_arg(args: &[Value], k: usize) -> Result<Vec<u8>, Stop> {
    match arg(args, k)? {
        Value::List(items) => items
            .iter()
            .map(|b| match b {
                Value::U8(b) => Ok(*b),
                other => Err(Stop::Trap(format!("expected a byte, got {other:?}"))),
            })
            .collect(),
        other => Err(Stop::Trap(format!("expected a list<u8>, got {other:?}"))),
    }
}

fn flags_arg(args: &[Value], k: usize) -> Result<&[String], Stop> {
    match arg(args, k)? {
        Value::Flags(f) => Ok(f),
        other => Err(Stop::Trap(format!("expected flags, got {other:?}"))),
    }
}

fn ok(v: Option<Value>) -> Out {
    Ok(Some(Value::Result(Ok(v.map(Box::new)))))
}

fn err(v: Value) -> Out {
    Ok(Some(Value::Result(Err(Some(Box::new(v))))))
}

fn bytes(b: Vec<u8>) -> Value {
    Value::List(b.into_iter().map(Value::U8).collect())
}

fn code(c: &str) -> Value {
    Value::enum_case(c)
}

/// The WASI function `interface#func` (the interface without its version),
/// if this backend provides it. Any 0.2.x version is accepted.
pub(crate) fn lookup(interface: &str, func: &str) -> Option<WasiFn> {
    let (name, version) = interface.split_once('@').unwrap_or((interface, ""));
    if !version.starts_with("0.2.") {
        return None;
    }
    Some(match (name, func) {
        ("wasi:cli/environment", "get-environment") => |w, _| {
            Ok(Some(Value::List(
                w.grants
                    .env
                    .iter()
                    .map(|(k, v)| {
                        Value::Tuple(vec![Value::from(k.as_str()), Value::from(v.as_str())])
                    })
                    .collect(),
            )))
        },
        ("wasi:cli/environment", "get-arguments") => |w, _| {
            Ok(Some(Value::List(
                w.args.iter().map(|a| Value::from(a.as_str())).collect(),
            )))
        },
        ("wasi:cli/environment", "initial-cwd") => |_, _| Ok(Some(Value::Option(None))),
        ("wasi:cli/exit", "exit") => |_, a| match arg(a, 0)? {
            Value::Result(Ok(_)) => Err(Stop::Exit(0)),
            _ => Err(Stop::Exit(1)),
        },
        ("wasi:cli/exit", "exit-with-code") => |_, a| match arg(a, 0)? {
            Value::U8(c) => Err(Stop::Exit(i32::from(*c))),
            other => Err(Stop::Trap(format!("expected a u8, got {other:?}"))),
        },
        ("wasi:cli/stdin", "get-stdin") => |w, _| Ok(Some(own(w.push(Res::Stdin), "input-stream"))),
        ("wasi:cli/stdout", "get-stdout") => {
            |w, _| Ok(Some(own(w.push(Res::Stdout), "output-stream")))
        }
        ("wasi:cli/stderr", "get-stderr") => {
            |w, _| Ok(Some(own(w.push(Res::Stderr), "output-stream")))
        }
        (
            "wasi:cli/terminal-stdin" | "wasi:cli/terminal-stdout" | "wasi:cli/terminal-stderr",
            "get-terminal-stdin" | "get-terminal-stdout" | "get-terminal-stderr",
        ) => |_, _| Ok(Some(Value::Option(None))),
        ("wasi:io/error", "[method]error.to-debug-string") => |w, a| match w.get(arg(a, 0)?)? {
            Res::Error(m) => Ok(Some(Value::from(m.as_str()))),
            _ => Err(Stop::Trap("not an error resource".into())),
        },
        ("wasi:io/poll", "[method]pollable.ready") => |w, a| match w.get(arg(a, 0)?)? {
            Res::Pollable(deadline) => Ok(Some(Value::Bool(
                deadline.is_none_or(|d| Instant::now() >= d),
            ))),
            _ => Err(Stop::Trap("not a pollable".into())),
        },
        ("wasi:io/poll", "[method]pollable.block") => |w, a| match w.get(arg(a, 0)?)? {
            Res::Pollable(deadline) => {
                if let Some(d) = *deadline {
                    std::thread::sleep(d.saturating_duration_since(Instant::now()));
                }
                Ok(None)
            }
            _ => Err(Stop::Trap("not a pollable".into())),
        },
        ("wasi:io/poll", "poll") => |w, a| {
            let Value::List(items) = arg(a, 0)? else {
                return Err(Stop::Trap("poll takes a list".into()));
            };
            let mut earliest: Option<Instant> = None;
            let mut ready = Vec::new();
            for (k, p) in items.iter().enumerate() {
                match w.get(p)? {
                    Res::Pollable(Some(d)) if Instant::now() < *d => {
                        earliest = Some(earliest.map_or(*d, |e| e.min(*d)));
                    }
                    _ => ready.push(Value::U32(k as u32)),
                }
            }
            if ready.is_empty()
                && let Some(d) = earliest
            {
                std::thread::sleep(d.saturating_duration_since(Instant::now()));
                return Ok(Some(Value::List(
                    (0..items.len() as u32).map(Value::U32).collect(),
                )));
            }
            Ok(Some(Value::List(ready)))
        },
        ("wasi:io/streams", "[method]input-stream.read" | "[method]input-stream.blocking-read") => {
            |w, a| stream_read(w, a, false)
        }
        ("wasi:io/streams", "[method]input-stream.skip" | "[method]input-stream.blocking-skip") => {
            |w, a| stream_read(w, a, true)
        }
        (
            "wasi:io/streams",
            "[method]input-stream.subscribe" | "[method]output-stream.subscribe",
        ) => |w, _| Ok(Some(own(w.push(Res::Pollable(None)), "pollable"))),
        ("wasi:io/streams", "[method]output-stream.check-write") => |w, a| {
            w.get(arg(a, 0)?)?;
            ok(Some(Value::U64(MAX_CHUNK)))
        },
        (
            "wasi:io/streams",
            "[method]output-stream.write" | "[method]output-stream.blocking-write-and-flush",
        ) => |w, a| {
            let data = bytes_arg(a, 1)?;
            stream_write(w, arg(a, 0)?, &data)
        },
        (
            "wasi:io/streams",
            "[method]output-stream.write-zeroes"
            | "[method]output-stream.blocking-write-zeroes-and-flush",
        ) => |w, a| {
            let n = u64_arg(a, 1)?;
            if n > MAX_CHUNK {
                return Err(Stop::Trap(format!("asked to write {n} zeroes at once")));
            }
            stream_write(w, arg(a, 0)?, &vec![0; n as usize])
        },
        (
            "wasi:io/streams",
            "[method]output-stream.flush" | "[method]output-stream.blocking-flush",
        ) => |w, a| {
            w.get(arg(a, 0)?)?;
            ok(None)
        },
        ("wasi:random/random", "get-random-bytes")
        | ("wasi:random/insecure", "get-insecure-random-bytes") => {
            |w, a| Ok(Some(bytes(w.random(u64_arg(a, 0)?)?)))
        }
        ("wasi:random/random", "get-random-u64")
        | ("wasi:random/insecure", "get-insecure-random-u64") => |w, _| {
            let b = w.random(8)?;
            Ok(Some(Value::U64(u64::from_le_bytes(
                b.try_into().expect("8 bytes"),
            ))))
        },
        ("wasi:random/insecure-seed", "insecure-seed") => |w, _| {
            let (a, b) = if w.grants.random {
                let r = w.random(16)?;
                (
                    u64::from_le_bytes(r[..8].try_into().expect("8 bytes")),
                    u64::from_le_bytes(r[8..].try_into().expect("8 bytes")),
                )
            } else {
                (0, 0)
            };
            Ok(Some(Value::Tuple(vec![Value::U64(a), Value::U64(b)])))
        },
        ("wasi:clocks/wall-clock", "now") => |w, _| {
            let d = if w.grants.clocks {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
            } else {
                std::time::Duration::ZERO
            };
            Ok(Some(datetime(d.as_secs(), d.subsec_nanos())))
        },
        ("wasi:clocks/wall-clock", "resolution") => |_, _| Ok(Some(datetime(0, 1))),
        ("wasi:clocks/monotonic-clock", "now") => |w, _| {
            Ok(Some(Value::U64(if w.grants.clocks {
                monotonic_now()
            } else {
                0
            })))
        },
        ("wasi:clocks/monotonic-clock", "resolution") => |_, _| Ok(Some(Value::U64(1))),
        ("wasi:clocks/monotonic-clock", "subscribe-duration") => |w, a| {
            let ns = u64_arg(a, 0)?;
            let deadline = w
                .grants
                .clocks
                .then(|| Instant::now() + std::time::Duration::from_nanos(ns));
            Ok(Some(own(w.push(Res::Pollable(deadline)), "pollable")))
        },
        ("wasi:clocks/monotonic-clock", "subscribe-instant") => |w, a| {
            let at = u64_arg(a, 0)?;
            let deadline = w.grants.clocks.then(|| {
                Instant::now() + std::time::Duration::from_nanos(at.saturating_sub(monotonic_now()))
            });
            Ok(Some(own(w.push(Res::Pollable(deadline)), "pollable")))
        },
        ("wasi:filesystem/preopens", "get-directories") => |w, _| {
            let mut out = Vec::new();
            for p in w.grants.preopens.clone() {
                if !p.host.is_dir() {
                    continue;
                }
                let root = p.host.canonicalize().unwrap_or(p.host.clone());
                let rep = w.push(Res::Dir {
                    host: p.host.clone(),
                    root,
                    read_only: p.read_only,
                });
                out.push(Value::Tuple(vec![
                    own(rep, "descriptor"),
                    Value::from(p.guest),
                ]));
            }
            Ok(Some(Value::List(out)))
        },
        ("wasi:filesystem/types", f) => return filesystem(f),
        _ => return None,
    })
}

/// The names this backend provides, for the error of a refused import.
pub(crate) const PROVIDED: &str = "wasi:cli (environment, exit, stdin/stdout/stderr, \
     terminal-*), wasi:io (error, poll, streams), wasi:clocks, wasi:random, \
     wasi:filesystem (preopens; types: open-at, read/write via streams, read, write, stat, \
     stat-at, get-type, get-flags, read-directory, create-directory-at, remove-directory-at, \
     unlink-file-at, metadata-hash, metadata-hash-at, sync, sync-data)";

fn monotonic_now() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn datetime(seconds: u64, nanoseconds: u32) -> Value {
    Value::record([
        ("seconds", Value::U64(seconds)),
        ("nanoseconds", Value::U32(nanoseconds)),
    ])
}

fn stream_read(w: &mut Wasi, a: &[Value], skip: bool) -> Out {
    let len = u64_arg(a, 1)?.min(MAX_CHUNK) as usize;
    let stdio = w.grants.stdio;
    let mut buf = vec![0u8; len];
    let n = match w.get(arg(a, 0)?)? {
        Res::Stdin if !stdio => 0,
        Res::Stdin => match w.stdin.clone() {
            Some(data) => {
                let rest = &data[w.stdin_pos.min(data.len())..];
                let n = rest.len().min(len);
                buf[..n].copy_from_slice(&rest[..n]);
                w.stdin_pos += n;
                n
            }
            None => match std::io::stdin().read(&mut buf) {
                Ok(n) => n,
                Err(e) => return err(w.error(e.to_string())),
            },
        },
        Res::FileIn { file, pos } => {
            let r = file
                .seek(SeekFrom::Start(*pos))
                .and_then(|_| file.read(&mut buf));
            match r {
                Ok(n) => {
                    *pos += n as u64;
                    n
                }
                Err(e) => return err(w.error(e.to_string())),
            }
        }
        _ => return Err(Stop::Trap("not an input stream".into())),
    };
    if n == 0 && len > 0 {
        return err(Value::variant("closed", None));
    }
    buf.truncate(n);
    if skip {
        ok(Some(Value::U64(n as u64)))
    } else {
        ok(Some(bytes(buf)))
    }
}

fn stream_write(w: &mut Wasi, stream: &Value, data: &[u8]) -> Out {
    let result = match w.get(stream)? {
        Res::Stdout => w.write_out(StdStream::Out, data),
        Res::Stderr => w.write_out(StdStream::Err, data),
        Res::FileOut { file, pos } => {
            let r = match pos {
                Some(p) => file
                    .seek(SeekFrom::Start(*p))
                    .and_then(|_| file.write_all(data)),
                None => file
                    .seek(SeekFrom::End(0))
                    .and_then(|_| file.write_all(data)),
            };
            if let Some(p) = pos {
                *p += data.len() as u64;
            }
            r.map_err(|e| e.to_string())
        }
        _ => return Err(Stop::Trap("not an output stream".into())),
    };
    match result {
        Ok(()) => ok(None),
        Err(m) => err(w.error(m)),
    }
}

/// `wasi:filesystem/types`.
fn filesystem(f: &str) -> Option<WasiFn> {
    Some(match f {
        "[method]descriptor.read-via-stream" => |w, a| {
            let offset = u64_arg(a, 1)?;
            let path = match file_of(w, arg(a, 0)?)? {
                Ok((p, _)) => p,
                Err(c) => return err(code(c)),
            };
            match File::open(&path) {
                Ok(file) => ok(Some(own(
                    w.push(Res::FileIn { file, pos: offset }),
                    "input-stream",
                ))),
                Err(e) => err(code(error_code(&e))),
            }
        },
        "[method]descriptor.write-via-stream" | "[method]descriptor.append-via-stream" => |w, a| {
            let offset = if a.len() > 1 {
                Some(u64_arg(a, 1)?)
            } else {
                None
            };
            let path = match file_of(w, arg(a, 0)?)? {
                Ok((_, true)) => return err(code("read-only")),
                Ok((p, false)) => p,
                Err(c) => return err(code(c)),
            };
            match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(file) => ok(Some(own(
                    w.push(Res::FileOut { file, pos: offset }),
                    "output-stream",
                ))),
                Err(e) => err(code(error_code(&e))),
            }
        },
        "[method]descriptor.get-type" => |w, a| match w.get(arg(a, 0)?)? {
            Res::Dir { .. } => ok(Some(code("directory"))),
            Res::File { host, .. } => match std::fs::metadata(host.clone()) {
                Ok(m) => ok(Some(code(file_type(&m)))),
                Err(e) => err(code(error_code(&e))),
            },
            _ => Err(Stop::Trap("not a descriptor".into())),
        },
        "[method]descriptor.get-flags" => |w, a| {
            let read_only = match w.get(arg(a, 0)?)? {
                Res::Dir { read_only, .. } | Res::File { read_only, .. } => *read_only,
                _ => return Err(Stop::Trap("not a descriptor".into())),
            };
            let mut flags = vec!["read".to_owned()];
            if !read_only {
                flags.push("write".into());
                flags.push("mutate-directory".into());
            }
            ok(Some(Value::Flags(flags)))
        },
        "[method]descriptor.stat" => |w, a| {
            let host = host_of(w, arg(a, 0)?)?;
            stat(&host)
        },
        "[method]descriptor.stat-at" => |w, a| match resolve(w, arg(a, 0)?, str_arg(a, 2)?)? {
            Ok((p, _)) => stat(&p),
            Err(c) => err(code(c)),
        },
        "[method]descriptor.metadata-hash" => |w, a| {
            let host = host_of(w, arg(a, 0)?)?;
            metadata_hash(&host)
        },
        "[method]descriptor.metadata-hash-at" => {
            |w, a| match resolve(w, arg(a, 0)?, str_arg(a, 2)?)? {
                Ok((p, _)) => metadata_hash(&p),
                Err(c) => err(code(c)),
            }
        }
        "[method]descriptor.open-at" => |w, a| open_at(w, a),
        "[method]descriptor.read-directory" => |w, a| {
            let host = match w.get(arg(a, 0)?)? {
                Res::Dir { host, .. } => host.clone(),
                _ => return err(code("not-directory")),
            };
            let mut entries = Vec::new();
            match std::fs::read_dir(&host) {
                Ok(rd) => {
                    for e in rd.flatten() {
                        let kind = e.metadata().map(|m| file_type(&m)).unwrap_or("unknown");
                        entries.push((e.file_name().to_string_lossy().into_owned(), kind));
                    }
                }
                Err(e) => return err(code(error_code(&e))),
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
        "[method]descriptor.create-directory-at" => {
            |w, a| mutate(w, a, 1, |p| std::fs::create_dir(p))
        }
        "[method]descriptor.remove-directory-at" => {
            |w, a| mutate(w, a, 1, |p| std::fs::remove_dir(p))
        }
        "[method]descriptor.unlink-file-at" => |w, a| mutate(w, a, 1, |p| std::fs::remove_file(p)),
        "[method]descriptor.read" => |w, a| {
            let len = u64_arg(a, 1)?.min(MAX_CHUNK) as usize;
            let offset = u64_arg(a, 2)?;
            let path = match file_of(w, arg(a, 0)?)? {
                Ok((p, _)) => p,
                Err(c) => return err(code(c)),
            };
            let mut buf = vec![0u8; len];
            let r = File::open(&path).and_then(|mut f| {
                f.seek(SeekFrom::Start(offset))?;
                f.read(&mut buf)
            });
            match r {
                Ok(n) => {
                    buf.truncate(n);
                    let end = n < len;
                    ok(Some(Value::Tuple(vec![bytes(buf), Value::Bool(end)])))
                }
                Err(e) => err(code(error_code(&e))),
            }
        },
        "[method]descriptor.write" => |w, a| {
            let data = bytes_arg(a, 1)?;
            let offset = u64_arg(a, 2)?;
            let path = match file_of(w, arg(a, 0)?)? {
                Ok((_, true)) => return err(code("read-only")),
                Ok((p, false)) => p,
                Err(c) => return err(code(c)),
            };
            let r = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|mut f| {
                    f.seek(SeekFrom::Start(offset))?;
                    f.write_all(&data)
                });
            match r {
                Ok(()) => ok(Some(Value::U64(data.len() as u64))),
                Err(e) => err(code(error_code(&e))),
            }
        },
        "[method]descriptor.sync" | "[method]descriptor.sync-data" => |w, a| {
            host_of(w, arg(a, 0)?)?;
            ok(None)
        },
        "filesystem-error-code" => |_, _| Ok(Some(Value::Option(None))),
        _ => return None,
    })
}

fn host_of(w: &mut Wasi, d: &Value) -> Result<PathBuf, Stop> {
    match w.get(d)? {
        Res::Dir { host, .. } | Res::File { host, .. } => Ok(host.clone()),
        _ => Err(Stop::Trap("not a descriptor".into())),
    }
}

/// The path and read-only flag of a file descriptor, or an error code.
fn file_of(w: &mut Wasi, d: &Value) -> Result<Result<(PathBuf, bool), &'static str>, Stop> {
    Ok(match w.get(d)? {
        Res::File { host, read_only } => Ok((host.clone(), *read_only)),
        Res::Dir { .. } => Err("is-directory"),
        _ => return Err(Stop::Trap("not a descriptor".into())),
    })
}

/// Resolves `path` inside a directory descriptor. `..` may not climb above
/// the preopen, absolute paths are refused, and a symlink leading outside
/// the preopen is refused.
fn resolve(
    w: &mut Wasi,
    dir: &Value,
    path: &str,
) -> Result<Result<(PathBuf, bool), &'static str>, Stop> {
    let (base, root, read_only) = match w.get(dir)? {
        Res::Dir {
            host,
            root,
            read_only,
        } => (host.clone(), root.clone(), *read_only),
        Res::File { .. } => return Ok(Err("not-directory")),
        _ => return Err(Stop::Trap("not a descriptor".into())),
    };
    let rel = match base.canonicalize() {
        Ok(b) => b
            .strip_prefix(&root)
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        Err(_) => return Ok(Err("no-entry")),
    };
    let mut parts: Vec<std::ffi::OsString> = rel.iter().map(|p| p.to_owned()).collect();
    for part in Path::new(path).components() {
        match part {
            PathPart::Normal(p) => parts.push(p.to_owned()),
            PathPart::CurDir => {}
            PathPart::ParentDir => {
                if parts.pop().is_none() {
                    return Ok(Err("not-permitted"));
                }
            }
            PathPart::RootDir | PathPart::Prefix(_) => return Ok(Err("not-permitted")),
        }
    }
    let full: PathBuf = parts.iter().fold(root.clone(), |p, part| p.join(part));
    // Follow symlinks of what exists (the path, else its parent) and check
    // the result stays inside the preopen.
    let check = if full.exists() {
        full.canonicalize().ok()
    } else {
        full.parent()
            .and_then(|p| p.canonicalize().ok())
            .map(|p| p.join(full.file_name().unwrap_or_default()))
    };
    match check {
        Some(real) if real.starts_with(&root) => Ok(Ok((real, read_only))),
        Some(_) => Ok(Err("not-permitted")),
        None => Ok(Err("no-entry")),
    }
}

fn open_at(w: &mut Wasi, a: &[Value]) -> Out {
    let path = str_arg(a, 2)?.to_owned();
    let open = flags_arg(a, 3)?.to_vec();
    let flags = flags_arg(a, 4)?.to_vec();
    let (full, read_only) = match resolve(w, arg(a, 0)?, &path)? {
        Ok(r) => r,
        Err(c) => return err(code(c)),
    };
    let has = |set: &[String], f: &str| set.iter().any(|x| x == f);
    let wants_write = has(&flags, "write")
        || has(&open, "create")
        || has(&open, "truncate")
        || has(&flags, "mutate-directory") && has(&open, "directory");
    if read_only && wants_write {
        return err(code("not-permitted"));
    }
    if has(&open, "create") {
        let r = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .create_new(has(&open, "exclusive"))
            .truncate(has(&open, "truncate"))
            .open(&full);
        if let Err(e) = r {
            return err(code(error_code(&e)));
        }
    } else if has(&open, "truncate")
        && let Err(e) = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&full)
    {
        return err(code(error_code(&e)));
    }
    let meta = match std::fs::metadata(&full) {
        Ok(m) => m,
        Err(e) => return err(code(error_code(&e))),
    };
    let child_read_only = read_only || !has(&flags, "write") && !has(&flags, "mutate-directory");
    let rep = if meta.is_dir() {
        let root = match w.get(arg(a, 0)?)? {
            Res::Dir { root, .. } => root.clone(),
            _ => return err(code("not-directory")),
        };
        w.push(Res::Dir {
            host: full,
            root,
            read_only: read_only || !has(&flags, "mutate-directory") && !has(&flags, "write"),
        })
    } else {
        if has(&open, "directory") {
            return err(code("not-directory"));
        }
        w.push(Res::File {
            host: full,
            read_only: child_read_only,
        })
    };
    ok(Some(own(rep, "descriptor")))
}

fn mutate(w: &mut Wasi, a: &[Value], k: usize, op: fn(&Path) -> std::io::Result<()>) -> Out {
    match resolve(w, arg(a, 0)?, str_arg(a, k)?)? {
        Ok((_, true)) => err(code("not-permitted")),
        Ok((p, false)) => match op(&p) {
            Ok(()) => ok(None),
            Err(e) => err(code(error_code(&e))),
        },
        Err(c) => err(code(c)),
    }
}

fn file_type(m: &std::fs::Metadata) -> &'static str {
    if m.is_dir() {
        "directory"
    } else if m.is_file() {
        "regular-file"
    } else if m.file_type().is_symlink() {
        "symbolic-link"
    } else {
        "unknown"
    }
}

fn stat(p: &Path) -> Out {
    let m = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) => return err(code(error_code(&e))),
    };
    let time = |t: std::io::Result<SystemTime>| {
        Value::Option(
            t.ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| Box::new(datetime(d.as_secs(), d.subsec_nanos()))),
        )
    };
    ok(Some(Value::record([
        ("type", code(file_type(&m))),
        ("link-count", Value::U64(1)),
        ("size", Value::U64(m.len())),
        ("data-access-timestamp", time(m.accessed())),
        ("data-modification-timestamp", time(m.modified())),
        ("status-change-timestamp", time(m.modified())),
    ])))
}

fn metadata_hash(p: &Path) -> Out {
    use std::hash::{Hash, Hasher};
    let canonical = match p.canonicalize() {
        Ok(c) => c,
        Err(e) => return err(code(error_code(&e))),
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut h);
    let lower = h.finish();
    ok(Some(Value::record([
        ("lower", Value::U64(lower)),
        ("upper", Value::U64(0)),
    ])))
}

fn error_code(e: &std::io::Error) -> &'static str {
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
        _ => "io",
    }
}
