//! `wasi:io`: streams and polling.
//!
//! Every wait is bounded by the call's deadline: a guest that sleeps past
//! it, or waits on the host's stdin, fails its call with a timeout when the
//! deadline comes. Without the clocks grant the guest's time is frozen: a
//! timer of a non-zero duration never fires, so a wait on such timers alone
//! fails at once (the guest would wait forever), and `ready()` says `false`
//! — the guest cannot measure real time through a timer.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use airssys_wasm_core::Value;

use super::{
    MAX_CHUNK, Out, Res, StdStream, Stop, Wasi, WasiFn, arg, bytes, bytes_arg, err, ok, own,
    u64_arg,
};

/// When a pollable is ready.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Timer {
    /// Now (streams, zero durations).
    Ready,
    /// At this instant of the host's monotonic clock.
    At(Instant),
    /// Never: a timer of the frozen clock (no clocks grant).
    Never,
}

impl Timer {
    /// A timer `nanos` from now: a real one with the clocks grant, one of
    /// the frozen clock without.
    pub(crate) fn after(clocks: bool, nanos: u64) -> Self {
        match (nanos, clocks) {
            (0, _) => Timer::Ready,
            (_, false) => Timer::Never,
            (n, true) => {
                // A century is as good as forever, and does not overflow.
                let d = Duration::from_nanos(n).min(Duration::from_secs(100 * 365 * 86_400));
                Timer::At(Instant::now() + d)
            }
        }
    }

    fn ready(&self, now: Instant) -> bool {
        match self {
            Timer::Ready => true,
            Timer::At(t) => now >= *t,
            Timer::Never => false,
        }
    }
}

/// Waits until one of `timers` is ready, or the call's deadline, or fails
/// at once when none can ever be ready.
fn wait(deadline: Option<Instant>, timers: &[Timer]) -> Result<(), Stop> {
    let now = Instant::now();
    if timers.iter().any(|t| t.ready(now)) {
        return Ok(());
    }
    let earliest = timers
        .iter()
        .filter_map(|t| match t {
            Timer::At(at) => Some(*at),
            _ => None,
        })
        .min();
    match (earliest, deadline) {
        (None, _) => Err(Stop::FrozenClock),
        (Some(at), Some(d)) if d < at => {
            std::thread::sleep(d.saturating_duration_since(now));
            Err(Stop::Timeout)
        }
        (Some(at), _) => {
            std::thread::sleep(at.saturating_duration_since(now));
            Ok(())
        }
    }
}

fn timer_of(w: &mut Wasi, p: &Value) -> Result<Timer, Stop> {
    match w.get(p)? {
        Res::Pollable(t) => Ok(*t),
        _ => Err(Stop::Trap("not a pollable".into())),
    }
}

/// `wasi:io/poll` and `wasi:io/streams`.
pub(super) fn lookup(interface: &str, f: &str) -> Option<WasiFn> {
    Some(match (interface, f) {
        ("wasi:io/poll", "[method]pollable.ready") => |w, a| {
            let t = timer_of(w, arg(a, 0)?)?;
            Ok(Some(Value::Bool(t.ready(Instant::now()))))
        },
        ("wasi:io/poll", "[method]pollable.block") => |w, a| {
            let t = timer_of(w, arg(a, 0)?)?;
            wait(w.deadline, &[t])?;
            Ok(None)
        },
        ("wasi:io/poll", "poll") => |w, a| {
            let Value::List(items) = arg(a, 0)? else {
                return Err(Stop::Trap("poll takes a list".into()));
            };
            if items.is_empty() {
                return Err(Stop::Trap("empty poll list".into()));
            }
            let timers = items
                .iter()
                .map(|p| timer_of(w, p))
                .collect::<Result<Vec<_>, _>>()?;
            wait(w.deadline, &timers)?;
            let now = Instant::now();
            Ok(Some(Value::List(
                (0..timers.len() as u32)
                    .filter(|&k| timers[k as usize].ready(now))
                    .map(Value::U32)
                    .collect(),
            )))
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
        ) => |w, _| Ok(Some(own(w.push(Res::Pollable(Timer::Ready)), "pollable"))),
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
        _ => return None,
    })
}

fn stream_read(w: &mut Wasi, a: &[Value], skip: bool) -> Out {
    let len = u64_arg(a, 1)?.min(MAX_CHUNK) as usize;
    let stdio = w.grants.stdio;
    let deadline = w.deadline;
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
            None => host_stdin().read(&mut buf, deadline)?,
        },
        Res::FileIn { file, pos } => {
            match airssys_wasm_core::wasi::fs::read_at(file, &mut buf, *pos) {
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
                Some(p) => airssys_wasm_core::wasi::fs::write_at(file, data, *p),
                None => (&**file).seek_end().and_then(|_| (&**file).write_all(data)),
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

/// Seeking a shared file handle to its end, for appends.
trait SeekEnd {
    fn seek_end(self) -> std::io::Result<u64>;
}

impl SeekEnd for &std::fs::File {
    fn seek_end(mut self) -> std::io::Result<u64> {
        std::io::Seek::seek(&mut self, std::io::SeekFrom::End(0))
    }
}

/// The host's stdin, read by one thread of its own so that a guest's read
/// can wait for it no longer than its call's deadline.
struct HostStdin {
    state: Mutex<(VecDeque<u8>, bool)>,
    ready: Condvar,
}

fn host_stdin() -> &'static HostStdin {
    static STDIN: OnceLock<&'static HostStdin> = OnceLock::new();
    STDIN.get_or_init(|| {
        let s: &'static HostStdin = Box::leak(Box::new(HostStdin {
            state: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
        }));
        let spawned = std::thread::Builder::new()
            .name("airssys-wasm-stdin".into())
            .spawn(move || {
                let mut chunk = [0u8; 64 << 10];
                loop {
                    {
                        // No more than a megabyte ahead of the guest.
                        let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
                        while st.0.len() >= 1 << 20 {
                            st = s.ready.wait(st).unwrap_or_else(|p| p.into_inner());
                        }
                    }
                    let n = std::io::stdin().read(&mut chunk).unwrap_or(0);
                    let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
                    if n == 0 {
                        st.1 = true;
                    } else {
                        st.0.extend(&chunk[..n]);
                    }
                    s.ready.notify_all();
                    if n == 0 {
                        return;
                    }
                }
            });
        if spawned.is_err() {
            // Without the thread, stdin reads as closed.
            s.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        }
        s
    })
}

impl HostStdin {
    /// Reads what is there, waiting for the first bytes until `deadline`;
    /// 0 at the end of stdin.
    fn read(&self, buf: &mut [u8], deadline: Option<Instant>) -> Result<usize, Stop> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.0.is_empty() && !st.1 {
            st = match deadline {
                None => self.ready.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Stop::Timeout);
                    }
                    self.ready
                        .wait_timeout(st, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
        let n = st.0.len().min(buf.len());
        for (slot, b) in buf.iter_mut().zip(st.0.drain(..n)) {
            *slot = b;
        }
        self.ready.notify_all();
        Ok(n)
    }
}
