//! `[http]` in host.toml: routes to deployments, served beside the admin
//! API, each request by the deployment's active version. Alone in its
//! binary: it stops the host with a SIGTERM to its own process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use airssys_wasm_host::api::Upload;
use airssys_wasm_host::{Host, HostConfig, LogBook, StateDir};
use base64::Engine as _;

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    (text.split(' ').nth(1).unwrap().parse().unwrap(), text)
}

#[test]
fn routes_in_host_toml_serve_the_active_version_of_their_deployment() {
    let guest =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/guests/http-hello.wasm");
    assert!(
        guest.exists(),
        "run `cargo xtask guests` first: {} is missing",
        guest.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let config = HostConfig::parse(
        "[metrics]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\ndrain = \"2s\"\n[http.tenants.web]\nmax-body = \"4\"\n\
         [[http.routes]]\nname = \"site\"\ntenant = \"web\"\ndeployment = \"hello\"\npath = \"/site/\"\n",
        dir.path(),
    )
    .unwrap();
    let state = StateDir::open(dir.path().join("state")).unwrap();
    let host = Host::open(state, config, LogBook::new()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let served = host.clone();
    let serving = std::thread::spawn(move || {
        airssys_wasm_host::serve(served, |e| tx.send(e.clone()).unwrap())
    });
    let endpoints = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    let http = endpoints.http.expect("host.json names the HTTP listener");

    // Not deployed yet: 503, saying so.
    let (status, text) = get(http, "/site/hello");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("hello"), "{text}");

    host.deploy(Upload {
        name: "hello".into(),
        component: base64::engine::general_purpose::STANDARD.encode(std::fs::read(&guest).unwrap()),
        ..Upload::default()
    })
    .unwrap();
    let (status, text) = get(http, "/site/hello");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("hello from localhost /site/hello"), "{text}");
    // The tenant's bounds hold for a deployment's route too.
    let mut s = TcpStream::connect(http).unwrap();
    s.write_all(b"POST /site/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n12345")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");

    // The routes' metrics are on the host's /metrics, in one exposition.
    let (status, metrics) = get(endpoints.metrics.unwrap(), "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics
            .contains("airssys_http_requests_total{tenant=\"web\",route=\"site\",class=\"2xx\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("class=\"4xx\"} 1"), "{metrics}");
    assert_eq!(metrics.matches("# EOF").count(), 1, "{metrics}");

    let pid = std::process::id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    serving.join().unwrap().unwrap();
    assert!(
        TcpStream::connect(http).is_err(),
        "the HTTP listener is closed"
    );
}
