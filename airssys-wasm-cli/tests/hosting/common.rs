#![allow(dead_code)]
//! A host process on a temporary state directory, and the CLI against it.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_airssys-wasm");

const HOST_WIT: &str = include_str!("../../../wit/host.wit");

/// A component whose `version()` returns `n`, with `add(a, b)`, `say()`
/// (one log record through `airssys:host/logging`) and `spin()` (loops
/// until its fuel runs out).
pub fn app(n: u32) -> Vec<u8> {
    let world = "package test:app;\nworld app {\n  import airssys:host/logging@0.1.0;\n  \
               export version: func() -> u32;\n  export add: func(a: u32, b: u32) -> u32;\n  \
               export say: func();\n  export spin: func();\n}\n";
    let message = format!("hello from version {n}");
    let module = format!(
        r#"(module
  (import "airssys:host/logging@0.1.0" "log" (func $log (param i32 i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 16) "{message}")
  ;; A bump allocator: every block 8-aligned, never freed.
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    global.get $heap
    global.get $heap
    local.get 3
    i32.add
    i32.const 7
    i32.add
    i32.const -8
    i32.and
    global.set $heap)
  (func (export "version") (result i32) i32.const {n})
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "say")
    (call $log (i32.const 2) (i32.const 16) (i32.const {len}) (i32.const 0) (i32.const 0) (i32.const 512)))
  (func (export "spin") (loop $l (br $l)))
)"#,
        len = message.len()
    );
    // The world's WIT, with airssys:host beside it as a dependency, made
    // into a component as `airssys-wasm componentize` does.
    let wit = tempfile::tempdir().unwrap();
    std::fs::create_dir(wit.path().join("deps")).unwrap();
    std::fs::write(wit.path().join("deps/host.wit"), HOST_WIT).unwrap();
    std::fs::write(wit.path().join("app.wit"), world).unwrap();
    let module = wat::parse_str(&module).expect("the module parses");
    airssys_wasm_composition::componentize(
        ("app.wasm", &module),
        airssys_wasm_composition::Componentize {
            wit: Some(wit.path()),
            world: Some("app"),
            ..Default::default()
        },
    )
    .expect("the component is made")
    .bytes
}

/// A running `airssys-wasm host`; killed when dropped.
pub struct HostProc {
    pub child: Child,
    pub socket: PathBuf,
    pub metrics: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
}

/// Writes the policy and host.toml of the tests into `dir` (fuel-limited
/// calls; the logging interface granted), returning the config's path.
pub fn config(dir: &Path, extra: &str) -> PathBuf {
    std::fs::write(
        dir.join("policy.toml"),
        "[limits.default]\nfuel = 20_000_000\n\n[forbid]\nenv = [\"SECRET_*\"]\n",
    )
    .unwrap();
    let file = dir.join("host.toml");
    std::fs::write(
        &file,
        format!(
            "policy = \"policy.toml\"\ndrain = \"5s\"\n{extra}\n[metrics]\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
    .unwrap();
    file
}

impl HostProc {
    /// Starts a host on `state` with `config`, and waits (at most 60 s)
    /// until it serves.
    pub fn start(state: &Path, config: &Path) -> Self {
        Self::start_with(state, config, &[])
    }

    /// [`HostProc::start`] with more arguments of `host`; its stderr goes
    /// to `STATE.log`.
    pub fn start_with(state: &Path, config: &Path, args: &[&str]) -> Self {
        let endpoints = state.join("host.json");
        let _ = std::fs::remove_file(&endpoints);
        // The host's own log, for a test that fails to see.
        let log = state.with_extension("log");
        let mut child = Command::new(BIN)
            .arg("host")
            .arg("--state")
            .arg(state)
            .arg("--config")
            .arg(config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the host starts");
        let start = Instant::now();
        let text = loop {
            if let Ok(text) = std::fs::read_to_string(&endpoints)
                && text.ends_with('}')
            {
                break text;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("the host exited ({status}): {said}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the host did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let addr = |k: &str| v[k].as_str().map(|s| s.parse().unwrap());
        Self {
            child,
            socket: PathBuf::from(v["socket"].as_str().unwrap()),
            metrics: addr("metrics"),
            tcp: addr("tcp"),
        }
    }

    /// Runs the CLI against this host.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--host")
            .arg(&self.socket)
            .output()
            .unwrap()
    }

    /// Sends `signal` (by name: TERM, KILL, HUP) to the host.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal}");
    }

    /// SIGTERM, then the exit status (within 30 s).
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the host did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The host's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 request on loopback: the status and the body.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: {}\r\n{headers}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Stdout of a successful command, trimmed.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The exit code and stderr of a failed command.
pub fn failed(out: &Output) -> (i32, String) {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks a host's audit log with its keys (`audit verify --key
/// STATE/audit.key --pubkey STATE/host.pub`), and with `closed` that the
/// host closed it.
pub fn verify_audit(state: &Path, closed: bool) {
    let mut verify = Command::new(BIN);
    verify.args(["audit", "verify", "--key"]);
    verify
        .arg(state.join("audit.key"))
        .arg("--pubkey")
        .arg(state.join("host.pub"));
    if closed {
        verify.arg("--require-closed");
    }
    ok(&verify.arg(state.join("audit.log")).output().unwrap());
}

/// Writes `bytes` to `dir/name`; its path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}
