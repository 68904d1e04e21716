//! `airssys-wasm serve`: the command end to end, as an operator runs it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_airssys-wasm");

fn guest(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/guests")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "run `cargo xtask guests` first: {} is missing",
        path.display()
    );
    path.display().to_string()
}

/// A `serve` process, killed if a test fails before it stops it.
struct Serving(Option<Child>);

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `serve ARGS` and returns it with the address it printed.
fn serve(args: &[&str]) -> (Serving, SocketAddr, BufReader<std::process::ChildStderr>) {
    let mut serving = Serving(Some(
        Command::new(BIN)
            .arg("serve")
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let stderr = serving.0.as_mut().and_then(|c| c.stderr.take()).unwrap();
    let mut err = BufReader::new(stderr);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "serve exited before serving"
        );
        if let Some(rest) = line.strip_prefix("serving on http://") {
            let addr = rest.split([' ', ',']).next().unwrap().parse().unwrap();
            return (serving, addr, err);
        }
    }
}

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
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

fn stop(mut serving: Serving) -> std::process::ExitStatus {
    let mut child = serving.0.take().unwrap();
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("serve did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_one_component_reports_failures_and_stops_on_sigterm() {
    let (child, addr, mut err) = serve(&[
        &guest("http-hostile"),
        "--addr",
        "127.0.0.1:0",
        "--timeout",
        "500ms",
    ]);
    let (status, text) = get(addr, "/hi");
    assert_eq!(status, 200, "{text}");
    let (status, text) = get(addr, "/loop");
    assert_eq!(status, 504, "{text}");
    let status = stop(child);
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("GET /loop: 504"),
        "the failure is reported: {rest}"
    );
    // Inert WASI imports the handler never uses are not reported.
    assert!(!rest.contains("wasi stdio"), "{rest}");
}

#[test]
fn serves_two_tenants_from_a_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\n[tenants.a]\n[tenants.b]\nmax-body = \"4\"\n\
             [[routes]]\nname = \"hello\"\ntenant = \"a\"\ncomponent = \"{h}\"\npath = \"/a\"\n\
             [[routes]]\nname = \"hello\"\ntenant = \"b\"\ncomponent = \"{h}\"\npath = \"/b\"\n",
            h = guest("http-hello")
        ),
    )
    .unwrap();
    let (child, addr, _err) = serve(&["--config", config.to_str().unwrap()]);
    let (status, text) = get(addr, "/a/hello");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("hello from localhost /a/hello\n"), "{text}");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        b"POST /b/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n12345",
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(stop(child).success());
}

#[test]
fn a_broken_config_or_a_component_that_is_not_a_handler_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "[tenants.a]\n[[routes]]\nname = \"x\"\ntenant = \"b\"\ncomponent = \"x.wasm\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("names tenant \"b\""), "{err}");

    let out = Command::new(BIN)
        .args(["serve", &guest("hello"), "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("does not export wasi:http/incoming-handler"),
        "{err}"
    );
}

#[test]
fn watch_serves_the_new_build_of_the_component() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("handler.wasm");
    std::fs::copy(guest("http-hello"), &file).unwrap();
    let (child, addr, _err) = serve(&[file.to_str().unwrap(), "--addr", "127.0.0.1:0", "--watch"]);
    let (_, text) = get(addr, "/x");
    assert!(text.contains("hello from localhost /x"), "{text}");
    // A new build lands (written whole, as a compiler's rename does).
    let next = dir.path().join("next.wasm");
    std::fs::copy(guest("http-hostile"), &next).unwrap();
    std::fs::rename(&next, &file).unwrap();
    let started = Instant::now();
    loop {
        let (status, text) = get(addr, "/x");
        if status == 200 && text.contains("\r\nok\n") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still the old build: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(stop(child).success());
}
