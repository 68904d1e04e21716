//! A plain Rust `std` guest (guest `wasi-probe`, built for wasm32-wasip2)
//! gets nothing from WASI unless it is granted.

mod common;

use airssys_wasm::{
    AuditKind, Capability, CapabilityKind, CaptureBuffer, LoadOptions, OutputTarget, Stdio, Value,
};

fn ok_string(v: &Value) -> Option<&str> {
    match v {
        Value::Result(Ok(Some(s))) => s.as_str(),
        _ => None,
    }
}

fn err_string(v: &Value) -> Option<&str> {
    match v {
        Value::Result(Err(Some(s))) => s.as_str(),
        _ => None,
    }
}

#[test]
fn with_nothing_granted_files_env_and_stdout_are_denied() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "secret").unwrap();
    // SAFETY: tests in this file do not read this variable concurrently.
    unsafe { std::env::set_var("AIRSSYS_PROBE_SECRET", "hunter2") };
    let (rt, audit) = common::runtime();
    let c = common::load(&rt, "wasi-probe", LoadOptions::new());
    let mut i = c.instantiate().unwrap();

    let read = i
        .call("read-file", &[Value::from("/data/note.txt")])
        .unwrap();
    assert!(err_string(&read[0]).is_some(), "read must fail: {read:?}");
    let etc = i.call("read-file", &[Value::from("/etc/passwd")]).unwrap();
    assert!(err_string(&etc[0]).is_some(), "{etc:?}");
    let env = i
        .call("get-env", &[Value::from("AIRSSYS_PROBE_SECRET")])
        .unwrap();
    assert_eq!(env, vec![Value::Option(None)]);
    let printed = i.call("print", &[Value::from("hello")]).unwrap();
    let msg = err_string(&printed[0]).unwrap_or_else(|| panic!("print must fail: {printed:?}"));
    assert!(!msg.is_empty());
    let now = i.call("now-secs", &[]).unwrap();
    assert_eq!(now, vec![Value::from(0u64)], "ungranted clocks read 0");

    let denied: Vec<CapabilityKind> = audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::CapabilityDenied { capability, .. } => Some(capability),
            _ => None,
        })
        .collect();
    for kind in [
        CapabilityKind::Stdio,
        CapabilityKind::Env,
        CapabilityKind::Filesystem,
        CapabilityKind::Clocks,
    ] {
        assert!(
            denied.contains(&kind),
            "no denial recorded for {kind}: {denied:?}"
        );
    }
}

#[test]
fn with_grants_the_same_guest_works() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "hello from the host").unwrap();
    let out = CaptureBuffer::new();
    let (rt, _) = common::runtime();
    let c = common::load(
        &rt,
        "wasi-probe",
        LoadOptions::new()
            .grant(Capability::dir(dir.path(), "/data", false))
            .grant(Capability::env_value("GREETING", "hi"))
            .grant(Capability::Stdio)
            .grant(Capability::Clocks)
            .stdio(Stdio {
                stdin: Some(Vec::new().into()),
                stdout: OutputTarget::Capture(out.clone()),
                stderr: OutputTarget::Capture(CaptureBuffer::new()),
            }),
    );
    let mut i = c.instantiate().unwrap();
    let read = i
        .call("read-file", &[Value::from("/data/note.txt")])
        .unwrap();
    assert_eq!(ok_string(&read[0]), Some("hello from the host"));
    let write = i
        .call(
            "write-file",
            &[Value::from("/data/new.txt"), Value::from("written")],
        )
        .unwrap();
    assert_eq!(write, vec![Value::Result(Ok(None))]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
        "written"
    );
    let env = i.call("get-env", &[Value::from("GREETING")]).unwrap();
    assert_eq!(env, vec![Value::from(Some("hi"))]);
    let escape = i
        .call("read-file", &[Value::from("/data/../../../etc/passwd")])
        .unwrap();
    assert!(
        err_string(&escape[0]).is_some(),
        "no escape through ..: {escape:?}"
    );
    let printed = i.call("print", &[Value::from("hello")]).unwrap();
    assert_eq!(printed, vec![Value::Result(Ok(None))]);
    assert_eq!(out.contents(), "hello\n");
    let now = i.call("now-secs", &[]).unwrap();
    assert!(
        matches!(now[0], Value::U64(s) if s > 1_700_000_000),
        "{now:?}"
    );
}

#[test]
fn a_read_only_directory_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = common::runtime();
    let c = common::load(
        &rt,
        "wasi-probe",
        LoadOptions::new().grant(Capability::dir(dir.path(), "/data", true)),
    );
    let mut i = c.instantiate().unwrap();
    let write = i
        .call(
            "write-file",
            &[Value::from("/data/new.txt"), Value::from("x")],
        )
        .unwrap();
    assert!(err_string(&write[0]).is_some(), "{write:?}");
    assert!(!dir.path().join("new.txt").exists());
    let list = i.call("list-dir", &[Value::from("/data")]).unwrap();
    assert_eq!(
        list,
        vec![Value::Result(Ok(Some(Box::new(Value::List(vec![])))))]
    );
}

#[test]
fn a_command_guest_runs_its_main() {
    let out = CaptureBuffer::new();
    let (rt, _) = common::runtime();
    let c = common::load(
        &rt,
        "hello",
        LoadOptions::new()
            .grant(Capability::Stdio)
            .args(["one", "two"])
            .stdio(Stdio {
                stdin: Some(Vec::new().into()),
                stdout: OutputTarget::Capture(out.clone()),
                stderr: OutputTarget::Capture(CaptureBuffer::new()),
            }),
    );
    let code = c.instantiate().unwrap().run().unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        out.contents(),
        "hello from an airssys-wasm plugin\narg: one\narg: two\n"
    );
}
