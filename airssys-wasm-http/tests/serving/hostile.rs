//! Hostile handlers are cut off with the right status while a
//! well-behaved tenant keeps being served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn loops_allocations_and_endless_bodies_are_cut_off_while_a_good_tenant_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, manifest) = open_policy(dir.path());
    let toml = format!(
        r#"
listen = "127.0.0.1:0"
workers = 8
[tenants.metered]
fuel = 200_000_000
memory = "32MiB"
deadline = "3s"
[tenants.timed]
policy = "{p}"
memory = "32MiB"
deadline = "1s"
[tenants.good]
[[routes]]
name = "hostile"
tenant = "metered"
component = "{x}"
path = "/metered/"
[[routes]]
name = "hostile"
tenant = "timed"
component = "{x}"
manifest = "{m}"
path = "/timed/"
[[routes]]
name = "hello"
tenant = "good"
component = "{h}"
path = "/good/"
"#,
        x = guest("http-hostile").display(),
        h = guest("http-hello").display(),
        p = policy.display(),
        m = manifest.display()
    );
    let (server, sink) = start(dir.path(), &toml);
    let addr = server.local_addr();

    // The good tenant, measured while the attacks run.
    let stop = Arc::new(AtomicBool::new(false));
    let good = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r = get(addr, "localhost", "/good/hello");
                latencies.push(t.elapsed());
                assert_eq!(r.status, 200, "{}", r.text());
            }
            latencies
        })
    };
    let attack = |path: &'static str| std::thread::spawn(move || get(addr, "localhost", path));
    let fuel = attack("/metered/loop");
    let memory = attack("/metered/alloc");
    let deadline = attack("/timed/loop");
    let host_wait = attack("/timed/sleep?ms=60000");

    let r = fuel.join().unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("fuel"), "{}", r.text());
    let r = memory.join().unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("memory"), "{}", r.text());
    let r = deadline.join().unwrap();
    assert_eq!(r.status, 504, "{}", r.text());
    // A wait in the host ends at the same deadline as guest code.
    let t = Instant::now();
    let r = host_wait.join().unwrap();
    assert_eq!(r.status, 504, "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(10));

    // An endless body: the head is sent, the body is cut at the deadline.
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /timed/stream HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut head = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if head.len() < 64 {
                    head.extend_from_slice(&buf[..n.min(64)]);
                }
                got += n as u64;
            }
        }
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    assert!(got < 1 << 30, "the whole GiB arrived");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "cut off at the deadline"
    );

    stop.store(true, Ordering::Relaxed);
    let mut latencies = good.join().unwrap();
    latencies.sort();
    let p99 = latencies[(latencies.len() - 1) * 99 / 100];
    eprintln!(
        "the good tenant under attack: {} requests, p50 {:?}, p99 {p99:?}",
        latencies.len(),
        latencies[latencies.len() / 2]
    );
    assert!(!latencies.is_empty());

    // Every cut-off is audited with its cause.
    let events = eventually(&sink, |e| {
        http_events(e)
            .iter()
            .filter(|(c, _, _)| c.contains("hostile"))
            .count()
            == 5
    });
    let hostile: Vec<(u16, String)> = http_events(&events)
        .into_iter()
        .filter(|(c, _, _)| c.contains("hostile"))
        .map(|(_, s, e)| (s, e))
        .collect();
    for (status, cause) in [(503, "fuel"), (503, "memory"), (504, "")] {
        assert!(
            hostile
                .iter()
                .any(|(s, e)| *s == status && e.contains(cause) && !e.is_empty()),
            "no {status} for {cause:?} in {hostile:?}"
        );
    }
    assert!(
        hostile.iter().any(|(s, e)| *s == 200 && !e.is_empty()),
        "the cut stream is audited with its cause: {hostile:?}"
    );
    server.shutdown();
}
