//! A plain Rust `std` guest (guests `wasi-files` and `wasi-probe`, built for
//! wasm32-wasip2) gets nothing from WASI unless it is granted, on every
//! backend. Sockets and wasi:http are wasmtime's alone; the wasmi backend
//! refuses a component importing them at load.

use crate::common;

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
#[allow(unsafe_code)] // `set_var`: see the SAFETY comment inside.
fn with_nothing_granted_files_env_and_stdout_are_denied() {
    common::each_backend(|_| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("note.txt"), "secret").unwrap();
        // SAFETY: no other test in this binary reads this variable, and std
        // serialises its own reads and writes of the environment.
        unsafe { std::env::set_var("AIRSSYS_PROBE_SECRET", "hunter2") };
        let (rt, audit) = common::runtime();
        let c = common::load(&rt, "wasi-files", LoadOptions::new());
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
    });
}

#[test]
fn with_grants_the_same_guest_works() {
    common::each_backend(|_| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("note.txt"), "hello from the host").unwrap();
        let out = CaptureBuffer::new();
        let (rt, _) = common::runtime();
        let c = common::load(
            &rt,
            "wasi-files",
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
    });
}

#[test]
fn a_read_only_directory_refuses_writes() {
    common::each_backend(|_| {
        let dir = tempfile::tempdir().unwrap();
        let (rt, _) = common::runtime();
        let c = common::load(
            &rt,
            "wasi-files",
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
    });
}

#[test]
fn a_command_guest_runs_its_main() {
    common::each_backend(|_| {
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
    });
}

#[test]
#[allow(unsafe_code)] // `set_var`: see the SAFETY comment inside.
fn an_env_prefix_grant_passes_only_matching_variables() {
    common::each_backend(|_| {
        // SAFETY: no other test in this binary reads these variables, and std
        // serialises its own reads and writes of the environment.
        unsafe {
            std::env::set_var("AIRSSYS_PFX_ONE", "1");
            std::env::set_var("AIRSSYS_PFXOTHER", "x");
        }
        let (rt, _) = common::runtime();
        let c = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new().grant(Capability::env("AIRSSYS_PFX_*")),
        );
        let mut i = c.instantiate().unwrap();
        let get = |i: &mut airssys_wasm::Instance, name: &str| {
            i.call("get-env", &[Value::from(name)]).unwrap().remove(0)
        };
        assert_eq!(
            get(&mut i, "AIRSSYS_PFX_ONE"),
            Value::Option(Some(Box::new(Value::from("1"))))
        );
        assert_eq!(get(&mut i, "AIRSSYS_PFXOTHER"), Value::Option(None));
    });
}

#[test]
fn a_file_tree_grant_is_mounted_with_its_rights() {
    common::each_backend(|_| {
        use airssys_wasm::capability::{FileOp, FileRights, PathGlob};
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("in.txt"), "inside").unwrap();
        let tree = PathGlob::new(&format!("{}/**", root.display())).unwrap();
        let path = |name: &str| Value::from(root.join(name).display().to_string().as_str());
        let (rt, _) = common::runtime();

        let read_only = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new().grant(Capability::files(tree.clone(), FileRights::READ)),
        );
        let mut i = read_only.instantiate().unwrap();
        let read = i.call("read-file", &[path("in.txt")]).unwrap();
        assert_eq!(ok_string(&read[0]), Some("inside"), "{read:?}");
        let write = i
            .call("write-file", &[path("new.txt"), Value::from("x")])
            .unwrap();
        assert!(err_string(&write[0]).is_some(), "{write:?}");
        assert!(!root.join("new.txt").exists());

        let all = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new().grant(Capability::files(tree, FileRights::ALL)),
        );
        let mut i = all.instantiate().unwrap();
        let write = i
            .call("write-file", &[path("new.txt"), Value::from("x")])
            .unwrap();
        assert_eq!(write, vec![Value::Result(Ok(None))]);
        assert_eq!(std::fs::read_to_string(root.join("new.txt")).unwrap(), "x");

        // A glob that is not a whole tree reaches WASI too: its matches.
        let some = PathGlob::new(&format!("{}/*.txt", root.display())).unwrap();
        let partial = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new().grant(Capability::files(some, FileRights::of(&[FileOp::Read]))),
        );
        let mut i = partial.instantiate().unwrap();
        let read = i.call("read-file", &[path("in.txt")]).unwrap();
        assert_eq!(ok_string(&read[0]), Some("inside"), "{read:?}");
    });
}

#[test]
fn sockets_reach_only_granted_addresses_and_each_attempt_is_audited() {
    use airssys_wasm::capability::{HostPattern, NetKind};
    use std::io::BufRead;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(stream)
            .read_line(&mut line)
            .unwrap();
        line
    });
    let (rt, audit) = common::runtime();
    let connect = |grants: Vec<Capability>| {
        let c = common::load(&rt, "wasi-probe", common::granting(grants));
        let mut i = c.instantiate().unwrap();
        i.call("connect", &[Value::from(addr.as_str()), Value::from("hi")])
            .unwrap()
            .remove(0)
    };
    let pattern = |p: &str| HostPattern::new(p).unwrap();

    // Nothing granted; an HTTP grant for the same address; another port.
    for grants in [
        vec![],
        vec![Capability::network(pattern(&addr), NetKind::Http)],
        vec![Capability::network(
            pattern(&format!("127.0.0.1:{}", port.wrapping_add(1))),
            NetKind::Socket,
        )],
    ] {
        let result = connect(grants.clone());
        assert!(err_string(&result).is_some(), "{grants:?}: {result:?}");
    }
    // Without a socket grant there are no sockets at all (denied once per
    // instance); with one, each address is checked and audited.
    let denials = |request: &str| {
        audit
            .events()
            .into_iter()
            .filter(|e| {
                matches!(&e.kind, AuditKind::CapabilityDenied { capability: CapabilityKind::Network, request: r, .. }
                    if r == request)
            })
            .count()
    };
    assert_eq!(denials("wasi network"), 2);
    assert_eq!(denials(&format!("socket {addr}")), 1);

    let result = connect(vec![Capability::network(
        pattern("127.0.0.0/8:*"),
        NetKind::Socket,
    )]);
    assert_eq!(result, Value::Result(Ok(None)));
    assert_eq!(server.join().unwrap(), "hi\n");
    assert!(audit.events().iter().any(|e| matches!(&e.kind,
        AuditKind::CapabilityAllowed { request, .. } if request == &format!("socket {addr}"))));
}

#[test]
fn wasi_http_reaches_only_granted_hosts_and_each_request_is_audited() {
    use airssys_wasm::capability::{HostPattern, NetKind};
    let (port, server) = common::serve(vec![common::response("200 OK", "", "from wasi:http")]);
    let authority = format!("127.0.0.1:{port}");
    let (rt, audit) = common::runtime();
    let get = |grants: Vec<Capability>| {
        let c = common::load(&rt, "wasi-probe", common::granting(grants));
        let mut i = c.instantiate().unwrap();
        i.call(
            "http-get",
            &[Value::from(authority.as_str()), Value::from("/hello")],
        )
        .unwrap()
        .remove(0)
    };
    // Not granted, or granted for sockets only: denied before connecting.
    for grants in [
        vec![],
        vec![Capability::network(
            HostPattern::new(&authority).unwrap(),
            NetKind::Socket,
        )],
    ] {
        let refused = get(grants);
        assert!(
            err_string(&refused).is_some_and(|e| e.contains("HttpRequestDenied")),
            "{refused:?}"
        );
    }
    let denials = audit
        .events()
        .iter()
        .filter(|e| {
            matches!(&e.kind, AuditKind::CapabilityDenied { request, .. }
                if *request == format!("http {authority}"))
        })
        .count();
    assert_eq!(denials, 2);

    let ok = get(vec![Capability::network(
        HostPattern::new(&authority).unwrap(),
        NetKind::Http,
    )]);
    assert_eq!(
        ok,
        Value::Result(Ok(Some(Box::new(Value::Tuple(vec![
            Value::U16(200),
            Value::from("from wasi:http"),
        ])))))
    );
    let seen = server.join().unwrap();
    assert!(seen[0].starts_with("GET /hello HTTP/1.1"), "{}", seen[0]);
}

/// wasi:http checks the addresses a name resolves to, at connect time,
/// and connects only to checked ones: a granted name that resolves to a
/// forbidden address is refused with HTTP-request-denied, audited with the
/// address, and nothing is contacted; without the forbid the request goes
/// to the checked address.
#[test]
fn wasi_http_checks_the_resolved_address_of_a_granted_name() {
    use airssys_wasm::capability::{HostPattern, NetKind};
    let net = |p: &str| Capability::network(HostPattern::new(p).unwrap(), NetKind::Http);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let authority = format!("localhost:{port}");
    let (rt, audit) = common::runtime();
    let mut caps = airssys_wasm::CapabilitySet::new().with(net(&authority));
    caps.forbid(net("127.0.0.0/8:*"));
    let c = common::load(&rt, "wasi-probe", LoadOptions::new().capabilities_set(caps));
    let mut i = c.instantiate().unwrap();
    let refused = i
        .call(
            "http-get",
            &[Value::from(authority.as_str()), Value::from("/")],
        )
        .unwrap()
        .remove(0);
    assert!(
        err_string(&refused).is_some_and(|e| e.contains("HttpRequestDenied")),
        "{refused:?}"
    );
    assert!(
        listener.accept().is_err(),
        "the forbidden address was contacted"
    );
    let denied: Vec<String> = audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            // The WASI interfaces refused at instantiation are recorded
            // too; the requests are what matters here.
            AuditKind::CapabilityDenied { request, .. } if request.starts_with("http ") => {
                Some(request)
            }
            _ => None,
        })
        .collect();
    assert_eq!(denied, [format!("http {authority} resolved to 127.0.0.1")]);

    let (port, server) = common::serve(vec![common::response("200 OK", "", "by name")]);
    let authority = format!("localhost:{port}");
    let c = common::load(&rt, "wasi-probe", common::granting(vec![net(&authority)]));
    let mut i = c.instantiate().unwrap();
    let ok = i
        .call(
            "http-get",
            &[Value::from(authority.as_str()), Value::from("/by-name")],
        )
        .unwrap()
        .remove(0);
    assert_eq!(
        ok,
        Value::Result(Ok(Some(Box::new(Value::Tuple(vec![
            Value::U16(200),
            Value::from("by name"),
        ])))))
    );
    let seen = server.join().unwrap();
    assert!(seen[0].starts_with("GET /by-name HTTP/1.1"), "{}", seen[0]);
    assert!(
        seen[0]
            .to_ascii_lowercase()
            .contains(&format!("host: {authority}")),
        "{}",
        seen[0]
    );
}

#[test]
fn wasi_outside_the_wasmi_subset_is_refused_at_load_naming_the_import() {
    common::each_backend(|kind| {
        if kind.name() != "wasmi" {
            return;
        }
        let (rt, _) = common::runtime();
        let err = rt
            .load(common::guest("wasi-probe"), LoadOptions::new())
            .map(|_| ())
            .unwrap_err();
        let airssys_wasm::Error::MissingImport { name, hint } = &err else {
            panic!("expected a missing import, got {err:?}");
        };
        assert!(
            name.starts_with("wasi:sockets/") || name.starts_with("wasi:http/"),
            "{name}"
        );
        assert!(hint.contains("wasmtime backend"), "{hint}");
    });
}

/// What the audit log says about filesystem decisions: (allowed?, request).
fn fs_decisions(audit: &airssys_wasm::MemorySink) -> Vec<(bool, String)> {
    audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::CapabilityAllowed {
                capability: CapabilityKind::Filesystem,
                request,
            } => Some((true, request)),
            AuditKind::CapabilityDenied {
                capability: CapabilityKind::Filesystem,
                request,
                ..
            } => Some((false, request)),
            _ => None,
        })
        .collect()
}

fn files_grant(pattern: &str, rights: &[airssys_wasm::capability::FileOp]) -> Capability {
    Capability::files(
        airssys_wasm::capability::PathGlob::new(pattern).unwrap(),
        airssys_wasm::capability::FileRights::of(rights),
    )
}

/// A grant of one file: through WASI the guest sees the file's directory
/// holding exactly that file, readable and nothing more, on every backend;
/// each open is a recorded decision.
#[test]
fn a_grant_of_one_file_reaches_wasi_as_written() {
    use airssys_wasm::capability::FileOp;
    common::each_backend(|backend| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().display().to_string();
        std::fs::write(dir.path().join("motd.txt"), "welcome").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "hunter2").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let (rt, audit) = common::runtime();
        let motd = format!("{root}/motd.txt");
        let c = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new().grant(files_grant(&motd, &[FileOp::Read])),
        );
        let mut i = c.instantiate().unwrap();
        let read = i.call("read-file", &[Value::from(motd.as_str())]).unwrap();
        assert_eq!(ok_string(&read[0]), Some("welcome"), "{backend}");
        let listed = i.call("list-dir", &[Value::from(root.as_str())]).unwrap();
        assert_eq!(
            listed,
            vec![Value::Result(Ok(Some(Box::new(Value::List(vec![
                Value::from("motd.txt")
            ])))))],
            "{backend}: only the granted file is listed"
        );
        let secret = format!("{root}/secret.txt");
        let denied = i
            .call("read-file", &[Value::from(secret.as_str())])
            .unwrap();
        let msg = err_string(&denied[0]).unwrap_or_else(|| panic!("{backend}: {denied:?}"));
        assert!(msg.contains("ermission denied"), "{backend}: {msg}");
        let write = i
            .call(
                "write-file",
                &[Value::from(motd.as_str()), Value::from("x")],
            )
            .unwrap();
        assert!(err_string(&write[0]).is_some(), "{backend}: {write:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("motd.txt")).unwrap(),
            "welcome"
        );
        let decisions = fs_decisions(&audit);
        assert!(
            decisions.contains(&(true, format!("read {motd}"))),
            "{backend}: {decisions:?}"
        );
        assert!(
            decisions.contains(&(false, format!("read {secret}"))),
            "{backend}: {decisions:?}"
        );
        assert!(
            decisions.contains(&(false, format!("write {motd}"))),
            "{backend}: {decisions:?}"
        );
    });
}

/// A glob grant with read, create and write: the guest reads and makes
/// the files it matches and no others; the listing shows only matches.
#[test]
fn a_glob_grant_reaches_exactly_its_matches_through_wasi() {
    use airssys_wasm::capability::FileOp;
    common::each_backend(|backend| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().display().to_string();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("c.json"), "{}").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/deep.txt"), "deep").unwrap();
        let (rt, audit) = common::runtime();
        let glob = format!("{root}/*.txt");
        let c = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new().grant(files_grant(
                &glob,
                &[FileOp::Read, FileOp::Create, FileOp::Write],
            )),
        );
        let mut i = c.instantiate().unwrap();
        let p = |name: &str| Value::from(format!("{root}/{name}"));
        let write = i
            .call("write-file", &[p("new.txt"), Value::from("made")])
            .unwrap();
        assert_eq!(write, vec![Value::Result(Ok(None))], "{backend}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
            "made"
        );
        let json = i
            .call("write-file", &[p("new.json"), Value::from("{}")])
            .unwrap();
        assert!(err_string(&json[0]).is_some(), "{backend}: {json:?}");
        assert!(!dir.path().join("new.json").exists(), "{backend}");
        for hidden in ["c.json", "sub/deep.txt"] {
            let r = i.call("read-file", &[p(hidden)]).unwrap();
            assert!(err_string(&r[0]).is_some(), "{backend}: {hidden}: {r:?}");
        }
        let listed = i.call("list-dir", &[Value::from(root.as_str())]).unwrap();
        assert_eq!(
            listed,
            vec![Value::Result(Ok(Some(Box::new(Value::List(vec![
                Value::from("a.txt"),
                Value::from("new.txt"),
            ])))))],
            "{backend}"
        );
        let decisions = fs_decisions(&audit);
        assert!(
            decisions.contains(&(true, format!("create {root}/new.txt"))),
            "{backend}: {decisions:?}"
        );
        assert!(
            decisions.contains(&(false, format!("create {root}/new.json"))),
            "{backend}: {decisions:?}"
        );
    });
}

/// An operator's forbid inside a granted tree holds for WASI too: the
/// forbidden directory is neither listed nor readable.
#[test]
fn a_forbid_inside_a_granted_tree_holds_through_wasi() {
    use airssys_wasm::capability::FileOp;
    common::each_backend(|backend| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().display().to_string();
        std::fs::write(dir.path().join("open.txt"), "open").unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        std::fs::write(dir.path().join("keys/id"), "private").unwrap();
        let all = [FileOp::Read, FileOp::Write, FileOp::Create, FileOp::Delete];
        let mut caps = airssys_wasm::CapabilitySet::new();
        caps.grant(files_grant(&format!("{root}/**"), &all));
        caps.forbid(files_grant(&format!("{root}/keys/**"), &all));
        let (rt, audit) = common::runtime();
        let c = common::load(&rt, "wasi-files", LoadOptions::new().capabilities_set(caps));
        let mut i = c.instantiate().unwrap();
        let key = format!("{root}/keys/id");
        let r = i.call("read-file", &[Value::from(key.as_str())]).unwrap();
        assert!(err_string(&r[0]).is_some(), "{backend}: {r:?}");
        let listed = i.call("list-dir", &[Value::from(root.as_str())]).unwrap();
        assert_eq!(
            listed,
            vec![Value::Result(Ok(Some(Box::new(Value::List(vec![
                Value::from("open.txt")
            ])))))],
            "{backend}"
        );
        assert!(
            fs_decisions(&audit).contains(&(false, format!("read {key}"))),
            "{backend}"
        );
    });
}

/// A rename through WASI needs `delete` where the file was and `create`
/// where it goes; a removal needs `delete`. Each is a recorded decision, and
/// a refused one leaves the files as they were, on every backend.
#[test]
fn a_rename_and_a_removal_through_wasi_need_their_rights() {
    use airssys_wasm::capability::FileOp;
    common::each_backend(|backend| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().display().to_string();
        std::fs::write(dir.path().join("in.txt"), "job").unwrap();
        std::fs::write(dir.path().join("keep.txt"), "kept").unwrap();
        std::fs::create_dir(dir.path().join("done")).unwrap();
        let mut caps = airssys_wasm::CapabilitySet::new();
        caps.grant(files_grant(
            &format!("{root}/*.txt"),
            &[FileOp::Read, FileOp::Delete],
        ));
        caps.grant(files_grant(&format!("{root}/done/*"), &[FileOp::Create]));
        let (rt, audit) = common::runtime();
        let c = common::load(&rt, "wasi-files", LoadOptions::new().capabilities_set(caps));
        let mut i = c.instantiate().unwrap();
        let (from, to) = (format!("{root}/in.txt"), format!("{root}/done/in.txt"));
        let moved = i
            .call(
                "rename-file",
                &[Value::from(from.as_str()), Value::from(to.as_str())],
            )
            .unwrap();
        assert_eq!(moved, vec![Value::Result(Ok(None))], "{backend}");
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "job", "{backend}");
        assert!(!dir.path().join("in.txt").exists(), "{backend}");
        let decisions = fs_decisions(&audit);
        assert!(
            decisions.contains(&(true, format!("delete {from}"))),
            "{backend}: {decisions:?}"
        );
        assert!(
            decisions.contains(&(true, format!("create {to}"))),
            "{backend}: {decisions:?}"
        );

        // Back again needs `create` in the root and `delete` in `done`:
        // neither is granted.
        let back = i
            .call(
                "rename-file",
                &[Value::from(to.as_str()), Value::from(from.as_str())],
            )
            .unwrap();
        let msg = err_string(&back[0]).unwrap_or_else(|| panic!("{backend}: {back:?}"));
        assert!(msg.contains("ermission denied"), "{backend}: {msg}");
        assert!(dir.path().join("done/in.txt").exists(), "{backend}");
        assert!(
            fs_decisions(&audit).contains(&(false, format!("delete {to}"))),
            "{backend}"
        );

        let keep = format!("{root}/keep.txt");
        let removed = i
            .call("remove-file", &[Value::from(keep.as_str())])
            .unwrap();
        assert_eq!(removed, vec![Value::Result(Ok(None))], "{backend}");
        assert!(!dir.path().join("keep.txt").exists(), "{backend}");
        let removed = i.call("remove-file", &[Value::from(to.as_str())]).unwrap();
        assert!(err_string(&removed[0]).is_some(), "{backend}: {removed:?}");
        assert!(dir.path().join("done/in.txt").exists(), "{backend}");
    });
}
