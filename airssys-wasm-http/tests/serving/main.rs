//! `airssys-wasm-http` end to end: a real server on a loopback port, the
//! example and hostile handlers built from `guests/`, raw HTTP clients.

mod common;
mod hostile;
mod limits;

use std::time::Duration;

use airssys_wasm::AuditKind;
use common::*;

#[test]
fn routes_by_path_and_by_host() {
    let dir = tempfile::tempdir().unwrap();
    let hello = guest("http-hello");
    let toml = format!(
        r#"
listen = "127.0.0.1:0"
[tenants.a]
[tenants.b]
[[routes]]
name = "api"
tenant = "a"
component = "{h}"
path = "/api/"
[[routes]]
name = "site"
tenant = "b"
component = "{h}"
host = "b.example"
"#,
        h = hello.display()
    );
    let (server, sink) = start(dir.path(), &toml);
    let addr = server.local_addr();
    let r = get(addr, "a.example", "/api/hello");
    assert_eq!(
        (r.status, r.text()),
        (200, "hello from a.example /api/hello\n".into())
    );
    let r = get(addr, "B.example:8080", "/anything");
    assert_eq!(
        (r.status, r.text()),
        (200, "hello from B.example:8080 /anything\n".into())
    );
    // b.example's route is for every path of its host, /api/ included.
    let r = get(addr, "b.example", "/api/x");
    assert_eq!(r.status, 200);
    let r = get(addr, "c.example", "/apix");
    assert_eq!(r.status, 404, "{}", r.text());
    let events = eventually(&sink, |e| http_events(e).len() == 3);
    let served: Vec<(String, u16)> = http_events(&events)
        .into_iter()
        .map(|(c, s, _)| (c, s))
        .collect();
    assert!(
        served
            .iter()
            .any(|(c, s)| c.starts_with("a/api") && *s == 200),
        "{served:?}"
    );
    assert!(
        served
            .iter()
            .filter(|(c, _)| c.starts_with("b/site"))
            .count()
            == 2,
        "{served:?}"
    );
    server.shutdown();
}

#[test]
fn an_outbound_host_allowed_for_one_tenant_is_denied_and_audited_for_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, manifest) = open_policy(dir.path());
    let upstream = Upstream::start(Duration::ZERO);
    let hello = guest("http-hello");
    let toml = format!(
        r#"
listen = "127.0.0.1:0"
[tenants.open]
policy = "{p}"
[tenants.closed]
[[routes]]
name = "fetch"
tenant = "open"
component = "{h}"
manifest = "{m}"
path = "/open/"
[[routes]]
name = "fetch"
tenant = "closed"
component = "{h}"
manifest = "{m}"
path = "/closed/"
"#,
        p = policy.display(),
        h = hello.display(),
        m = manifest.display()
    );
    let (server, sink) = start(dir.path(), &toml);
    let addr = server.local_addr();
    let url = format!("http://{}/x", upstream.addr);
    let r = get(addr, "localhost", &format!("/open/fetch?url={url}"));
    assert_eq!((r.status, r.text()), (200, "upstream".into()));
    let r = get(addr, "localhost", &format!("/closed/fetch?url={url}"));
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.text().contains("HttpRequestDenied"), "{}", r.text());
    assert_eq!(upstream.served.load(std::sync::atomic::Ordering::SeqCst), 1);
    let events = eventually(&sink, |e| http_events(e).len() == 2);
    let denied: Vec<&str> = events
        .iter()
        .filter(|e| {
            matches!(&e.kind, AuditKind::CapabilityDenied { request, .. }
                if request.contains(&upstream.addr.to_string()))
        })
        .map(|e| &*e.component)
        .collect();
    assert!(
        !denied.is_empty() && denied.iter().all(|c| c.starts_with("closed/fetch")),
        "{denied:?}"
    );
    server.shutdown();
}

#[test]
fn echo_answers_the_body_and_a_component_that_is_not_a_handler_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start(dir.path(), &one_route(&guest("http-hello")));
    let r = post(server.local_addr(), "/echo", b"ping pong");
    assert_eq!((r.status, r.text()), (200, "ping pong".into()));
    server.shutdown();

    let config =
        airssys_wasm_http::ServeConfig::parse(&one_route(&guest("hello")), dir.path()).unwrap();
    let runtime = airssys_wasm_http::runtime_for(&config, None).unwrap();
    let e = airssys_wasm_http::Server::start(config, runtime)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not export wasi:http/incoming-handler"),
        "{e}"
    );
}

#[test]
fn the_wasmi_backend_is_refused_at_start_naming_the_route() {
    let dir = tempfile::tempdir().unwrap();
    let toml = one_route(&guest("http-hello"));
    let config = airssys_wasm_http::ServeConfig::parse(&toml, dir.path()).unwrap();
    let runtime = airssys_wasm::Runtime::builder()
        .backend(airssys_wasm::BackendKind::Wasmi)
        .build()
        .unwrap();
    let e = airssys_wasm_http::Server::start(config, runtime)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("route \"r\"") && e.contains("wasmtime backend only"),
        "{e}"
    );
}

#[test]
fn shutdown_drains_the_requests_in_flight_and_refuses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (policy, manifest) = open_policy(dir.path());
    let toml = format!(
        "listen = \"127.0.0.1:0\"\ndrain = \"5s\"\n[tenants.t]\npolicy = \"{}\"\n[[routes]]\nname = \"r\"\ntenant = \"t\"\ncomponent = \"{}\"\nmanifest = \"{}\"\n",
        policy.display(),
        guest("http-hostile").display(),
        manifest.display()
    );
    let (server, sink) = start(dir.path(), &toml);
    let addr = server.local_addr();
    let slow = std::thread::spawn(move || get(addr, "localhost", "/sleep?ms=700"));
    std::thread::sleep(Duration::from_millis(200));
    server.shutdown();
    let r = slow.join().unwrap();
    assert_eq!((r.status, r.text()), (200, "slept\n".into()));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed"
    );
    // The drained request was audited before shutdown returned.
    assert_eq!(http_events(&sink.events()).len(), 1);
}

#[test]
fn a_reload_serves_the_new_routes_and_a_failed_one_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start(dir.path(), &one_route(&guest("http-hello")));
    let addr = server.local_addr();
    assert_eq!(
        get(addr, "localhost", "/x").text(),
        "hello from localhost /x\n"
    );

    let parse = |text: &str| airssys_wasm_http::ServeConfig::parse(text, dir.path()).unwrap();
    server
        .reload(&parse(&one_route(&guest("http-hostile"))))
        .unwrap();
    assert_eq!(get(addr, "localhost", "/x").text(), "ok\n");

    let e = server
        .reload(&parse(&one_route(&guest("hello"))))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not export wasi:http/incoming-handler"),
        "{e}"
    );
    assert_eq!(
        get(addr, "localhost", "/x").text(),
        "ok\n",
        "the running routes stay"
    );
    server.shutdown();
}
