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
//! instance; the guest's handles point at their index ("rep"). Modules:
//! `io` (streams and polling, every wait bounded by the call's deadline)
//! and `fs` (descriptors as directory and file handles, resolved beneath
//! their preopen with [`airssys_wasm_core::files`]).

mod fs;
mod io;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use airssys_wasm_core::wasi::{self, FIXED_RANDOM, WasiGrants};
use airssys_wasm_core::{
    AuditSink, InstanceConfig, OutputTarget, ResourceHandle, ResourceType, Value,
};

pub(crate) use self::io::Timer;

/// Largest read or random request served at once: a guest asking for
/// more gets fewer bytes (reads) or a trap (random), never a host
/// allocation of its choosing.
use airssys_wasm_core::wasi::fs::MAX_CHUNK;

/// Why a WASI function did not return.
pub(crate) enum Stop {
    /// `wasi:cli/exit`.
    Exit(i32),
    /// The guest misused the interface (an unknown handle, an absurd size).
    Trap(String),
    /// The call's deadline came while the guest waited.
    Timeout,
    /// The guest waited on a timer of the frozen clock (the clocks
    /// capability is not granted), which never fires, and on nothing else.
    FrozenClock,
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
        file: Arc<std::fs::File>,
        pos: u64,
    },
    FileOut {
        file: Arc<std::fs::File>,
        /// `None` appends.
        pos: Option<u64>,
    },
    Error(String),
    Pollable(Timer),
    Desc(airssys_wasm_core::wasi::fs::Descriptor),
    Entries {
        entries: Vec<(String, &'static str)>,
        pos: usize,
    },
}

/// The WASI state of one instance.
pub(crate) struct Wasi {
    grants: WasiGrants,
    fs: airssys_wasm_core::wasi::fs::WasiFs,
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
    /// When the current call must end (set before each host call).
    pub(crate) deadline: Option<Instant>,
}

impl Wasi {
    /// The WASI state of an instance with this configuration: its
    /// preopens are opened now, each beneath its grant's root.
    pub fn new(config: &InstanceConfig) -> Result<Self, String> {
        let grants = WasiGrants::from_capabilities(&config.capabilities);
        let fs = airssys_wasm_core::wasi::fs::WasiFs::new(config)?;
        let mut args = vec![config.component.to_string()];
        args.extend(config.args.iter().cloned());
        Ok(Self {
            grants,
            fs,
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
            deadline: None,
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

fn bytes_arg(args: &[Value], k: usize) -> Result<std::borrow::Cow<'_, [u8]>, Stop> {
    let v = arg(args, k)?;
    v.as_bytes()
        .ok_or_else(|| Stop::Trap(format!("expected a list<u8>, got {}", v.kind_name())))
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
    Value::Bytes(b)
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
        ("wasi:io/poll" | "wasi:io/streams", f) => return io::lookup(name, f),
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
                Duration::ZERO
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
            let timer = Timer::after(w.grants.clocks, u64_arg(a, 0)?);
            Ok(Some(own(w.push(Res::Pollable(timer)), "pollable")))
        },
        ("wasi:clocks/monotonic-clock", "subscribe-instant") => |w, a| {
            let at = u64_arg(a, 0)?;
            let now = if w.grants.clocks { monotonic_now() } else { 0 };
            let timer = Timer::after(w.grants.clocks, at.saturating_sub(now));
            Ok(Some(own(w.push(Res::Pollable(timer)), "pollable")))
        },
        ("wasi:filesystem/preopens", "get-directories") => |w, _| fs::preopens(w),
        ("wasi:filesystem/types", f) => return fs::lookup(f),
        _ => return None,
    })
}

/// The names this backend provides, for the error of a refused import.
pub(crate) const PROVIDED: &str = "wasi:cli (environment, exit, stdin/stdout/stderr, \
     terminal-*), wasi:io (error, poll, streams), wasi:clocks, wasi:random, \
     wasi:filesystem (preopens; types: open-at, read/write via streams, read, write, stat, \
     stat-at, get-type, get-flags, read-directory, create-directory-at, remove-directory-at, \
     unlink-file-at, readlink-at, rename-at, set-size, is-same-object, metadata-hash, \
     metadata-hash-at, sync, sync-data)";

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
