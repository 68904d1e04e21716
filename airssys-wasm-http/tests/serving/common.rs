//! What the serving tests share: guests, configurations, a raw HTTP/1.1
//! client, an upstream server.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use airssys_wasm::{AuditEvent, AuditKind, MemorySink};
use airssys_wasm_http::{ServeConfig, Server};

/// The path of a guest built by `cargo xtask guests`.
pub fn guest(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "guest fixture {} is missing: run `cargo xtask guests` (or `cargo xtask test`) first",
        path.display()
    );
    path
}

/// A server started from `toml` (paths relative to `dir`), auditing into
/// the returned sink.
pub fn start(dir: &Path, toml: &str) -> (Server, Arc<MemorySink>) {
    let config = ServeConfig::parse(toml, dir).expect("the test's configuration");
    let sink = Arc::new(MemorySink::new());
    let runtime = airssys_wasm_http::runtime_for(&config, Some(sink.clone())).unwrap();
    (
        Server::start(config, runtime).expect("the server starts"),
        sink,
    )
}

/// A configuration of one route `r` of tenant `t` to `component`, on
/// every path.
pub fn one_route(component: &Path) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n[tenants.t]\n[[routes]]\nname = \"r\"\ntenant = \"t\"\ncomponent = \"{}\"\n",
        component.display()
    )
}

/// A policy granting every component outbound HTTP to loopback and the
/// clocks, and its manifest asking for them, written in `dir`: what the
/// `open` tenants of these tests have.
pub fn open_policy(dir: &Path) -> (PathBuf, PathBuf) {
    let policy = dir.join("open-policy.toml");
    std::fs::write(
        &policy,
        "[grant.\"*\"]\nclocks = true\nnetwork = [{ host = \"127.0.0.1:*\", use = \"http\" }]\n",
    )
    .unwrap();
    let manifest = dir.join("handler.Component.toml");
    std::fs::write(
        &manifest,
        "[component]\nname = \"handler\"\nversion = \"0.1.0\"\n\n[capabilities]\nclocks = true\nnetwork = [{ host = \"127.0.0.1:*\", use = \"http\" }]\n",
    )
    .unwrap();
    (policy, manifest)
}

/// A response: status, headers (lowercase names) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends raw bytes and reads the response to the connection's end
/// (`Connection: close` requests), within 30 s.
pub fn raw(addr: SocketAddr, request: &[u8]) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(request)?;
    read_reply(&mut s)
}

/// Reads one response to the connection's end.
pub fn read_reply(s: &mut TcpStream) -> std::io::Result<Reply> {
    let mut bytes = Vec::new();
    let _ = s.read_to_end(&mut bytes);
    parse(&bytes).ok_or_else(|| {
        std::io::Error::other(format!(
            "not an HTTP response: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))
    })
}

fn parse(bytes: &[u8]) -> Option<Reply> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &bytes[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// The data of a chunked body, as much of it as arrived.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
        let Some(size) = std::str::from_utf8(&rest[..nl])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
        else {
            break;
        };
        rest = &rest[nl + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(rest.len());
        out.extend_from_slice(&rest[..take]);
        rest = &rest[take..];
        if take < size || rest.len() < 2 {
            break;
        }
        rest = &rest[2..];
    }
    out
}

/// A GET of `path` with `Host: host`.
pub fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    raw(addr, req.as_bytes()).unwrap_or_else(|e| panic!("GET {host}{path}: {e}"))
}

/// A POST of `body` to `path`.
pub fn post(addr: SocketAddr, path: &str, body: &[u8]) -> Reply {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req).unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// An upstream HTTP server on loopback: answers `upstream` after `delay`,
/// and counts the connections it had open at once.
pub struct Upstream {
    pub addr: SocketAddr,
    pub peak: Arc<AtomicUsize>,
    pub served: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn start(delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (peak, served) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let open = Arc::new(AtomicUsize::new(0));
        let (p, s) = (peak.clone(), served.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let (p, s, open) = (p.clone(), s.clone(), open.clone());
                std::thread::spawn(move || {
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    p.fetch_max(now, Ordering::SeqCst);
                    let mut buf = [0u8; 4096];
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    std::thread::sleep(delay);
                    // Counted out before the client can see the answer
                    // (and send its next request).
                    s.fetch_add(1, Ordering::SeqCst);
                    open.fetch_sub(1, Ordering::SeqCst);
                    let _ = conn.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nupstream",
                    );
                });
            }
        });
        Self { addr, peak, served }
    }
}

/// The `http-request` events of the audit, as (component, status, error).
pub fn http_events(events: &[AuditEvent]) -> Vec<(String, u16, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            AuditKind::HttpRequest { status, error, .. } => {
                Some((e.component.to_string(), *status, error.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Waits (up to 5 s) until `check` holds of the audit.
pub fn eventually(
    sink: &MemorySink,
    mut check: impl FnMut(&[AuditEvent]) -> bool,
) -> Vec<AuditEvent> {
    for _ in 0..500 {
        let events = sink.events();
        if check(&events) {
            return events;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sink.events()
}
