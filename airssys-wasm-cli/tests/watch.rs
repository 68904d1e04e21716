//! `run --watch`: the call runs again each time the component file changes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

fn version(n: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (core module $m (func (export "v") (result i32) i32.const {n}))
            (core instance $i (instantiate $m))
            (func (export "version") (result u32) (canon lift (core func $i "v"))))"#
    ))
    .unwrap()
}

/// Lines of a child's stream, as they come.
fn lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line containing `want`, within 60 s.
fn wait_for(rx: &Receiver<String>, want: &str) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(want) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with `{want}`: {e}"),
        }
    }
}

/// Replaces `file` in one step, as a build tool does.
fn replace(file: &std::path::Path, bytes: &[u8]) {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

#[test]
fn run_watch_runs_the_call_again_on_each_change_and_survives_a_broken_build() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.wasm");
    std::fs::write(&file, version(1)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_airssys-wasm"))
        .args(["run", "--watch", "--invoke", "version()"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(wait_for(&out, ""), "1");
        wait_for(&err, "watching");
        replace(&file, &version(2));
        assert_eq!(wait_for(&out, ""), "2");
        wait_for(&err, "watching");
        replace(&file, b"not a component");
        let broken = wait_for(&err, "error:");
        assert!(
            broken.contains("app.wasm") || broken.contains("component"),
            "{broken}"
        );
        wait_for(&err, "watching");
        replace(&file, &version(3));
        assert_eq!(wait_for(&out, ""), "3");
    }));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
