//! The tenant's bounds: body size, requests at once, outgoing requests in
//! flight; and malformed or slow clients.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use airssys_wasm::AuditKind;

use crate::common::*;

fn instantiations(sink: &airssys_wasm::MemorySink) -> usize {
    sink.events()
        .iter()
        .filter(|e| matches!(e.kind, AuditKind::Instantiated { .. }))
        .count()
}

#[test]
fn a_body_over_the_limit_is_413_declared_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\n[tenants.t]\nmax-body = \"1KiB\"\n[[routes]]\nname = \"echo\"\ntenant = \"t\"\ncomponent = \"{}\"\n",
        guest("http-hello").display()
    );
    let (server, sink) = start(dir.path(), &toml);
    let addr = server.local_addr();
    let r = post(addr, "/echo", &[b'a'; 1024]);
    assert_eq!((r.status, r.body.len()), (200, 1024));

    // Declared too large: refused before any instance is made.
    let before = instantiations(&sink);
    let r = raw(
        addr,
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        instantiations(&sink),
        before,
        "no instance for a refused body"
    );

    // Streamed without a length: cut at the limit, not read to its end.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .unwrap();
    let writer = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = format!("{:x}\r\n{}\r\n", 1 << 16, "x".repeat(1 << 16));
            let mut sent = 0u64;
            while sent < 1 << 30 {
                if s.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                sent += 1 << 16;
            }
            sent
        })
    };
    let r = read_reply(&mut s).unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    let _ = s.shutdown(std::net::Shutdown::Both);
    let sent = writer.join().unwrap();
    assert!(sent < 1 << 30, "the server read the whole GiB");
    let events = eventually(&sink, |e| {
        http_events(e).iter().filter(|(_, s, _)| *s == 413).count() == 2
    });
    assert_eq!(
        http_events(&events)
            .iter()
            .filter(|(_, s, _)| *s == 413)
            .count(),
        2
    );
    server.shutdown();
}

#[test]
fn a_tenant_at_its_concurrency_limit_gets_429_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, manifest) = open_policy(dir.path());
    let toml = format!(
        r#"
listen = "127.0.0.1:0"
[tenants.busy]
policy = "{p}"
max-concurrent = 1
[tenants.other]
[[routes]]
name = "slow"
tenant = "busy"
component = "{x}"
manifest = "{m}"
path = "/busy/"
[[routes]]
name = "hello"
tenant = "other"
component = "{h}"
path = "/other/"
"#,
        p = policy.display(),
        m = manifest.display(),
        x = guest("http-hostile").display(),
        h = guest("http-hello").display()
    );
    let (server, sink) = start(dir.path(), &toml);
    let addr = server.local_addr();
    let first = std::thread::spawn(move || get(addr, "localhost", "/busy/sleep?ms=1500"));
    // The first holds the tenant's one slot.
    let held = eventually(&sink, |e| {
        e.iter()
            .filter(|e| matches!(e.kind, AuditKind::Instantiated { .. }))
            .count()
            >= 3
    });
    assert!(!held.is_empty());
    let r = get(addr, "localhost", "/busy/sleep?ms=0");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("retry later"), "{}", r.text());
    let r = get(addr, "localhost", "/other/hello");
    assert_eq!(r.status, 200);
    assert_eq!(first.join().unwrap().status, 200);
    // The slot is given back when the handler has ended (it may outlive
    // its response's head); its audit event says it has.
    eventually(&sink, |e| {
        http_events(e)
            .iter()
            .any(|(c, s, _)| c.starts_with("busy/") && *s == 200)
    });
    assert_eq!(get(addr, "localhost", "/busy/sleep?ms=0").status, 200);
    server.shutdown();
}

#[test]
fn outgoing_requests_in_flight_are_bounded_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, manifest) = open_policy(dir.path());
    let upstream = Upstream::start(Duration::from_millis(300));
    let toml = format!(
        "listen = \"127.0.0.1:0\"\n[tenants.t]\npolicy = \"{}\"\nmax-outbound = 1\ndeadline = \"10s\"\n[[routes]]\nname = \"fetch\"\ntenant = \"t\"\ncomponent = \"{}\"\nmanifest = \"{}\"\n",
        policy.display(),
        guest("http-hello").display(),
        manifest.display()
    );
    let (server, _) = start(dir.path(), &toml);
    let addr = server.local_addr();
    let path = format!("/fetch?url=http://{}/", upstream.addr);
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || get(addr, "localhost", &path))
        })
        .collect();
    for c in clients {
        let r = c.join().unwrap();
        assert_eq!((r.status, r.text()), (200, "upstream".into()));
    }
    assert_eq!(upstream.served.load(Ordering::SeqCst), 3);
    assert_eq!(
        upstream.peak.load(Ordering::SeqCst),
        1,
        "one outgoing request at a time"
    );
    server.shutdown();
}

#[test]
fn malformed_and_slow_clients_are_refused_without_holding_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "listen = \"127.0.0.1:0\"\nworkers = 1\nheader-timeout = \"500ms\"\n[tenants.t]\n[[routes]]\nname = \"hello\"\ntenant = \"t\"\ncomponent = \"{}\"\n",
        guest("http-hello").display()
    );
    let (server, sink) = start(dir.path(), &toml);
    let addr = server.local_addr();
    let before = instantiations(&sink);

    let r = raw(
        addr,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 400);
    let big = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 << 10)
    );
    let r = raw(addr, big.as_bytes()).unwrap();
    assert_eq!(r.status, 431);
    let r = raw(addr, b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    assert_eq!(r.status, 400);

    // Slow clients: headers that never end.
    let slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    // With its one worker, the server still answers at once.
    let t = Instant::now();
    assert_eq!(get(addr, "localhost", "/").status, 200);
    assert!(t.elapsed() < Duration::from_secs(2));
    // And it cuts the slow ones off after the header timeout.
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let t = Instant::now();
        let mut buf = [0u8; 512];
        // The server closes it (an end of stream, a 408, or a reset)
        // long before the client's own 5 s timeout.
        let r = s.read(&mut buf);
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "a slow client held its connection: {r:?}"
        );
    }
    assert_eq!(
        instantiations(&sink),
        before + 1,
        "only the good request made an instance"
    );
    server.shutdown();
}
