//! `airssys:host` through a real plugin (guest `host-probe`): every call is
//! checked, audited and only then done; denials and limits come back as
//! `error` values the guest sees, the audit log records them, and the host
//! keeps serving.
//!
//! Over 700 lines on purpose: one test per `airssys:host` function family
//! against one guest, sharing its setup; split by provider when the host
//! capabilities become providers.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use airssys_wasm::capability::{FileOp, FileRights, HostPattern, KvQuota, NetKind, PathGlob};
use airssys_wasm::{
    AuditKind, Capability, Error, HostSettings, LoadOptions, MemorySink, Runtime, Value,
};

fn runtime_with(settings: HostSettings) -> (Runtime, Arc<MemorySink>) {
    let audit = Arc::new(MemorySink::new());
    let rt = Runtime::builder()
        .audit(audit.clone())
        .host_settings(settings)
        .build()
        .unwrap();
    (rt, audit)
}

fn probe(rt: &Runtime, options: LoadOptions) -> airssys_wasm::Instance {
    common::load(rt, "host-probe", options)
        .instantiate()
        .unwrap()
}

fn call(i: &mut airssys_wasm::Instance, f: &str, args: &[Value]) -> Value {
    i.call(f, args)
        .unwrap_or_else(|e| panic!("{f}: {e}"))
        .remove(0)
}

/// The error text of a `result<_, string>`, or panics.
fn err_text(v: &Value) -> String {
    match v {
        Value::Result(Err(Some(e))) => e.as_str().unwrap().to_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn denied_requests(audit: &MemorySink) -> Vec<String> {
    audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::CapabilityDenied { request, .. } => Some(request),
            _ => None,
        })
        .collect()
}

fn host_limits(audit: &MemorySink) -> Vec<String> {
    audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::HostLimit { function, limit } => Some(format!("{function}: {limit}")),
            _ => None,
        })
        .collect()
}

#[test]
fn with_nothing_granted_every_effect_is_denied_as_an_error_value() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let mut i = probe(&rt, LoadOptions::new());
        let cases = [
            (
                "kv-set",
                vec![s("cache"), s("k"), s("v")],
                "denied: kv cache",
            ),
            (
                "fs-read",
                vec![s("/etc/passwd")],
                "denied: read /etc/passwd",
            ),
            (
                "fs-write",
                vec![s("/nonexistent-airssys/x"), s("x")],
                // The same answer whether the file exists or not.
                "denied: write /nonexistent-airssys/x",
            ),
            (
                "http-get",
                vec![s("http://example.com/")],
                "denied: http example.com:80",
            ),
            ("now", vec![], "denied: clocks"),
            ("random-len", vec![Value::U32(8)], "denied: random"),
        ];
        for (f, args, expected) in &cases {
            assert_eq!(err_text(&call(&mut i, f, args)), *expected, "{f}");
        }
        assert_eq!(
            denied_requests(&audit),
            [
                "kv cache",
                "read /etc/passwd",
                "write /nonexistent-airssys/x",
                "http example.com:80",
                "clocks",
                "random"
            ]
        );
        // Needs no grant: config (empty) and logging.
        assert_eq!(call(&mut i, "config-get", &[s("x")]), Value::Option(None));
        assert_eq!(
            call(&mut i, "log-many", &[Value::U32(3), s("hi")]),
            Value::Tuple(vec![Value::U32(3), Value::Option(None)])
        );
    });
}

#[test]
fn key_value_with_quota_and_persistence() {
    common::each_backend(|_| {
        let dir = tempfile::tempdir().unwrap();
        let settings = HostSettings {
            kv_path: Some(dir.path().join("kv.redb")),
            ..HostSettings::default()
        };
        let quota = KvQuota {
            bytes: 32,
            max_key_bytes: 8,
            max_value_bytes: 16,
        };
        let grants = || {
            LoadOptions::new()
                .grant(Capability::key_value("cache", quota))
                .grant(Capability::key_value("other", KvQuota::default()))
        };
        {
            let (rt, audit) = runtime_with(settings.clone());
            let mut i = probe(&rt, grants());
            assert_eq!(
                call(&mut i, "kv-set", &[s("cache"), s("a"), s("0123456789")]),
                Value::Result(Ok(None))
            );
            assert_eq!(
                call(&mut i, "kv-set", &[s("cache"), s("b"), s("xyz")]),
                Value::Result(Ok(None))
            );
            // 11 + 4 bytes used; 1 + 16 more would be 32: fits exactly.
            assert_eq!(
                call(
                    &mut i,
                    "kv-set",
                    &[s("cache"), s("c"), s("0123456789abcdef")]
                ),
                Value::Result(Ok(None))
            );
            let over = err_text(&call(&mut i, "kv-set", &[s("cache"), s("d"), s("1")]));
            assert!(
                over.starts_with("limit: namespace `cache` quota of 32 bytes would be exceeded"),
                "{over}"
            );
            let long_key = err_text(&call(
                &mut i,
                "kv-set",
                &[s("cache"), s("123456789"), s("1")],
            ));
            assert!(
                long_key.contains("keys of namespace `cache` are at most 8 bytes"),
                "{long_key}"
            );
            let big = err_text(&call(
                &mut i,
                "kv-set",
                &[s("cache"), s("e"), s(&"x".repeat(17))],
            ));
            assert!(big.contains("at most 16 bytes"), "{big}");
            assert_eq!(host_limits(&audit).len(), 3);
            // Overwriting reuses the old value's bytes; deleting frees them.
            assert_eq!(
                call(&mut i, "kv-set", &[s("cache"), s("b"), s("123")]),
                Value::Result(Ok(None))
            );
            assert_eq!(
                call(&mut i, "kv-delete", &[s("cache"), s("c")]),
                Value::Result(Ok(Some(Box::new(Value::Bool(true)))))
            );
            assert_eq!(
                call(&mut i, "kv-set", &[s("cache"), s("d"), s("1")]),
                Value::Result(Ok(None))
            );
            // Namespaces are separate.
            assert_eq!(
                call(&mut i, "kv-set", &[s("other"), s("a"), s("elsewhere")]),
                Value::Result(Ok(None))
            );
            assert_eq!(
                err_text(&call(&mut i, "kv-keys", &[s("secret")])),
                "denied: kv secret"
            );
        }
        // A new runtime over the same file: the data survived.
        let (rt, _) = runtime_with(settings);
        let mut i = probe(&rt, grants());
        let keys = call(&mut i, "kv-keys", &[s("cache")]);
        assert_eq!(
            keys,
            Value::Result(Ok(Some(Box::new(Value::List(vec![
                s("a"),
                s("b"),
                s("d")
            ])))))
        );
        assert_eq!(
            call(&mut i, "kv-get", &[s("other"), s("a")]),
            Value::Result(Ok(Some(Box::new(Value::Option(Some(Box::new(s(
                "elsewhere"
            ))))))))
        );
        let over = err_text(&call(
            &mut i,
            "kv-set",
            &[s("cache"), s("z"), s("0123456789abcdef")],
        ));
        assert!(over.starts_with("limit:"), "usage survived too: {over}");
    });
}

#[cfg(unix)]
#[test]
fn files_within_globs_and_every_escape_denied() {
    common::each_backend(|_| {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let data = root.join("data");
        let secret = root.join("secret");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(data.join("in.txt"), "inside").unwrap();
        std::fs::write(secret.join("key"), "hunter2").unwrap();
        std::os::unix::fs::symlink(secret.join("key"), data.join("link")).unwrap();
        let p = |rel: &str| root.join(rel).display().to_string();
        let (rt, audit) = common::runtime();
        let mut i = probe(
            &rt,
            LoadOptions::new().grant(Capability::files(
                PathGlob::new(&format!("{}/**", data.display())).unwrap(),
                FileRights::of(&[FileOp::Read, FileOp::Write, FileOp::Create]),
            )),
        );
        assert_eq!(
            call(&mut i, "fs-read", &[s(&p("data/in.txt"))]),
            Value::Result(Ok(Some(Box::new(s("inside")))))
        );
        assert_eq!(
            call(&mut i, "fs-write", &[s(&p("data/new.txt")), s("made")]),
            Value::Result(Ok(None))
        );
        assert_eq!(
            std::fs::read_to_string(data.join("new.txt")).unwrap(),
            "made"
        );
        assert_eq!(
            call(&mut i, "fs-list", &[s(&p("data"))]),
            Value::Result(Ok(Some(Box::new(Value::List(vec![
                s("in.txt"),
                s("link"),
                s("new.txt")
            ])))))
        );
        assert_eq!(
            call(&mut i, "fs-size", &[s(&p("data/in.txt"))]),
            Value::Result(Ok(Some(Box::new(Value::U64(6)))))
        );
        let missing = err_text(&call(&mut i, "fs-read", &[s(&p("data/nope"))]));
        assert!(missing.starts_with("not-found:"), "{missing}");

        let attacks = [
            ("fs-read", vec![s("/etc/passwd")]),
            (
                "fs-read",
                vec![s(&format!("{}/../secret/key", data.display()))],
            ),
            ("fs-read", vec![s(&p("data/link"))]),
            ("fs-write", vec![s(&p("secret/planted")), s("x")]),
            ("fs-write", vec![s(&p("data/../secret/key")), s("x")]),
            ("fs-delete", vec![s(&p("data/in.txt"))]),
            ("fs-read", vec![s("data/in.txt")]),
        ];
        for (f, args) in &attacks {
            let e = err_text(&call(&mut i, f, args));
            assert!(e.starts_with("denied:"), "{f} {args:?}: {e}");
        }
        assert_eq!(
            std::fs::read_to_string(secret.join("key")).unwrap(),
            "hunter2"
        );
        assert!(!secret.join("planted").exists());
        assert!(data.join("in.txt").exists());
        // The link: allowed as asked, denied where it leads; both audited.
        let resolved = secret.join("key").display().to_string();
        assert!(
            denied_requests(&audit).contains(&format!("read {resolved}")),
            "{:?}",
            denied_requests(&audit)
        );
    });
}

#[test]
fn http_reaches_granted_hosts_with_limits() {
    common::each_backend(|_| {
        let (port, server) = common::serve(vec![
            common::response("200 OK", "", "hello plugin"),
            common::response("302 Found", "location: http://evil.example/\r\n", ""),
            common::response("200 OK", "", &"x".repeat(2000)),
        ]);
        let (rt, audit) = runtime_with(HostSettings {
            http_max_response: 1000,
            ..HostSettings::default()
        });
        let mut i = probe(
            &rt,
            LoadOptions::new().grant(Capability::network(
                HostPattern::new(&format!("127.0.0.1:{port}")).unwrap(),
                NetKind::Http,
            )),
        );
        let url = format!("http://127.0.0.1:{port}/path");
        let ok = |status: u16, body: &str| {
            Value::Result(Ok(Some(Box::new(Value::Tuple(vec![
                Value::U16(status),
                s(body),
            ])))))
        };
        assert_eq!(
            call(&mut i, "http-get", &[s(&url)]),
            ok(200, "hello plugin")
        );
        assert_eq!(
            call(&mut i, "http-get", &[s(&url)]),
            ok(302, ""),
            "redirects are not followed"
        );
        let big = err_text(&call(&mut i, "http-get", &[s(&url)]));
        assert!(
            big.starts_with("limit: response body over 1000 bytes"),
            "{big}"
        );
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("GET /path HTTP/1.1"), "{}", seen[0]);
        assert!(
            seen[0]
                .to_ascii_lowercase()
                .contains("x-plugin: host-probe"),
            "{}",
            seen[0]
        );

        for other in [
            format!("http://127.0.0.1:{}/", port.wrapping_add(1)),
            "http://169.254.169.254/latest/meta-data".to_owned(),
            "https://example.com/".to_owned(),
        ] {
            let e = err_text(&call(&mut i, "http-get", &[s(&other)]));
            assert!(e.starts_with("denied: http "), "{other}: {e}");
        }
        let e = err_text(&call(&mut i, "http-get", &[s("ftp://127.0.0.1/")]));
        assert!(e.contains("only http and https"), "{e}");
        assert_eq!(host_limits(&audit).len(), 1);
    });
}

#[test]
fn a_log_flood_is_cut_off_and_audited_once() {
    common::each_backend(|_| {
        let (rt, audit) = runtime_with(HostSettings {
            log_rate: 20,
            ..HostSettings::default()
        });
        let mut i = probe(&rt, LoadOptions::new());
        let out = call(&mut i, "log-many", &[Value::U32(10_000), s("spam")]);
        let Value::Tuple(parts) = out else { panic!() };
        let Value::U32(accepted) = parts[0] else {
            panic!()
        };
        assert!(
            (20..200).contains(&accepted),
            "accepted {accepted} of 10000"
        );
        let Value::Option(Some(first)) = &parts[1] else {
            panic!()
        };
        assert_eq!(
            first.as_str(),
            Some("limit: log rate limit: 20 records per second")
        );
        assert!(!host_limits(&audit).is_empty(), "the flood is audited");
        assert!(
            host_limits(&audit).len() < 10,
            "but does not flood the audit log"
        );
        // An oversized record.
        let huge = call(&mut i, "log-many", &[Value::U32(1), s(&"y".repeat(10_000))]);
        let Value::Tuple(parts) = huge else { panic!() };
        assert_eq!(parts[0], Value::U32(0));
    });
}

#[test]
fn clocks_random_and_config_when_granted() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let mut i = probe(
            &rt,
            LoadOptions::new()
                .grant(Capability::Clocks)
                .grant(Capability::Random)
                .config("greeting", "hello")
                .config("mode", "fast"),
        );
        let Value::Result(Ok(Some(now))) = call(&mut i, "now", &[]) else {
            panic!()
        };
        let Value::U64(nanos) = *now else { panic!() };
        assert!(
            nanos > 1_700_000_000_000_000_000,
            "a real wall clock: {nanos}"
        );
        assert_eq!(
            call(&mut i, "random-len", &[Value::U32(64)]),
            Value::Result(Ok(Some(Box::new(Value::U32(64)))))
        );
        let big = err_text(&call(&mut i, "random-len", &[Value::U32(2 << 20)]));
        assert!(big.starts_with("limit: at most 1 MiB"), "{big}");
        assert_eq!(
            call(&mut i, "config-get", &[s("greeting")]),
            Value::Option(Some(Box::new(s("hello"))))
        );
        assert_eq!(
            call(&mut i, "config-keys", &[]),
            Value::List(vec![s("greeting"), s("mode")])
        );
    });
}

#[test]
fn a_policy_can_make_denials_trap_and_gives_config() {
    common::each_backend(|_| {
        use airssys_wasm::security::{Manifest, Policy};
        let policy = Policy::parse(
            "policy.toml",
            "on-denied = \"trap\"\n[config.host-probe]\nmode = \"strict\"\n",
        )
        .unwrap();
        let manifest = Manifest::parse(
            "Component.toml",
            "[component]\nname = \"host-probe\"\n[config]\nmode = \"lax\"\ngreeting = \"hi\"\n",
        )
        .unwrap();
        let (policy, manifest) = (Arc::new(policy), Arc::new(manifest));
        let (rt, audit) = common::runtime();
        // Named only by its own manifest: [config.host-probe] is not its.
        let claimed = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new().policy(policy.clone(), Some(manifest.clone())),
            )
            .unwrap();
        assert_eq!(
            call(
                &mut claimed.instantiate().unwrap(),
                "config-get",
                &[s("mode")]
            ),
            Value::Option(Some(Box::new(s("lax"))))
        );
        let c = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new()
                    .name("host-probe")
                    .policy(policy, Some(manifest)),
            )
            .unwrap();
        let mut i = c.instantiate().unwrap();
        assert_eq!(
            call(&mut i, "config-get", &[s("mode")]),
            Value::Option(Some(Box::new(s("strict"))))
        );
        assert_eq!(
            call(&mut i, "config-get", &[s("greeting")]),
            Value::Option(Some(Box::new(s("hi"))))
        );
        let e = i.call("fs-read", &[s("/etc/passwd")]).unwrap_err();
        assert!(
            matches!(&e, Error::HostDenied { request, .. } if request == "read /etc/passwd"),
            "{e}"
        );
        assert!(audit.events().iter().any(|e| matches!(&e.kind,
            AuditKind::CapabilityDenied { outcome, .. } if outcome == "the call traps")));
        // The host keeps serving: a fresh instance works.
        let mut fresh = c.instantiate().unwrap();
        assert_eq!(
            call(&mut fresh, "config-get", &[s("mode")]),
            Value::Option(Some(Box::new(s("strict"))))
        );
    });
}

#[test]
fn the_runtime_owns_airssys_host() {
    common::each_backend(|_| {
        let mut host = airssys_wasm::HostFunctions::new();
        host.define("airssys:host/logging@0.1.0", "log", |_, _, _| Ok(()));
        let err = Runtime::builder()
            .host_functions(host)
            .build()
            .err()
            .unwrap();
        assert!(
            err.to_string().contains(
                "`airssys:host/logging@0.1.0` is served by the host provider `logging`; host \
                 functions may not redefine it"
            ),
            "{err}"
        );
    });
}

#[test]
fn a_silent_server_hits_the_http_timeout() {
    common::each_backend(|_| {
        use std::time::{Duration, Instant};
        // Accepts the connection and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(stream);
        });
        let (rt, audit) = runtime_with(HostSettings {
            http_timeout: Duration::from_millis(300),
            ..HostSettings::default()
        });
        let mut i = probe(
            &rt,
            LoadOptions::new().grant(Capability::network(
                HostPattern::new(&format!("127.0.0.1:{port}")).unwrap(),
                NetKind::Http,
            )),
        );
        let started = Instant::now();
        let e = err_text(&call(
            &mut i,
            "http-get",
            &[s(&format!("http://127.0.0.1:{port}/"))],
        ));
        assert!(e.starts_with("limit: timed out after 300ms"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(host_limits(&audit).len(), 1);
        server.join().unwrap();
    });
}

/// A listener on 127.0.0.1 that must not be contacted: `untouched` is
/// `true` when nothing connected to it.
fn quiet_listener() -> (u16, impl Fn() -> bool) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, move || listener.accept().is_err())
}

fn net(pattern: &str) -> Capability {
    Capability::network(HostPattern::new(pattern).unwrap(), NetKind::Http)
}

/// A grant of every host on a port, with a forbid carried along as
/// policy's forbids are.
fn granting_forbidding(grant: &str, forbid: &str) -> LoadOptions {
    let mut caps = airssys_wasm::CapabilitySet::new().with(net(grant));
    caps.forbid(net(forbid));
    LoadOptions::new().capabilities_set(caps)
}

/// Every way of spelling an address the system resolver accepts (decimal,
/// hexadecimal, octal, fewer parts, IPv4-mapped IPv6 in both forms) is
/// that address: a forbid of it holds against a grant of `*:PORT`, at
/// request time, before anything is contacted.
#[test]
fn every_spelling_of_a_forbidden_address_is_denied_at_request_time() {
    common::each_backend(|_| {
        let (port, untouched) = quiet_listener();
        let (rt, audit) = runtime_with(HostSettings {
            http_timeout: Duration::from_secs(2),
            ..HostSettings::default()
        });
        let mut i = probe(
            &rt,
            granting_forbidding(&format!("*:{port}"), "127.0.0.0/8:*"),
        );
        let spellings = [
            "2130706433",
            "0x7f000001",
            "0177.0.0.1",
            "127.1",
            "0x7f.0.1",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "127.0.0.1.",
        ];
        for spelling in spellings {
            let e = err_text(&call(
                &mut i,
                "http-get",
                &[s(&format!("http://{spelling}:{port}/"))],
            ));
            assert_eq!(e, format!("denied: http {spelling}:{port}"));
        }
        assert_eq!(denied_requests(&audit).len(), spellings.len());
        assert!(untouched(), "a forbidden address was contacted");
    });
}

/// A name grant does not reach a forbidden address: `localhost` is
/// resolved, each address checked, and the request denied (and audited
/// with the address) before it connects.
#[test]
fn a_granted_name_that_resolves_to_a_forbidden_address_is_denied_at_connect() {
    common::each_backend(|_| {
        let (port, untouched) = quiet_listener();
        let (rt, audit) = runtime_with(HostSettings {
            http_timeout: Duration::from_secs(1),
            ..HostSettings::default()
        });
        let mut i = probe(
            &rt,
            granting_forbidding(&format!("localhost:{port}"), "127.0.0.0/8:*"),
        );
        let e = err_text(&call(
            &mut i,
            "http-get",
            &[s(&format!("http://localhost:{port}/"))],
        ));
        assert_eq!(
            e,
            format!(
                "denied: http localhost:{port} (it resolves to an address that is not allowed)"
            )
        );
        assert_eq!(
            denied_requests(&audit),
            [format!("http localhost:{port} resolved to 127.0.0.1")]
        );
        assert!(untouched(), "the forbidden address was contacted");
    });
}

/// Without the forbid, the name's addresses are checked, audited, and the
/// request goes to them.
#[test]
fn a_granted_name_reaches_its_checked_addresses() {
    common::each_backend(|_| {
        let (port, server) = common::serve(vec![common::response("200 OK", "", "by name")]);
        let (rt, audit) = runtime_with(HostSettings::default());
        let mut i = probe(
            &rt,
            LoadOptions::new().grant(net(&format!("localhost:{port}"))),
        );
        let got = call(
            &mut i,
            "http-get",
            &[s(&format!("http://localhost:{port}/"))],
        );
        assert_eq!(
            got,
            Value::Result(Ok(Some(Box::new(Value::Tuple(vec![
                Value::U16(200),
                s("by name")
            ])))))
        );
        assert!(server.join().unwrap()[0].starts_with("GET / HTTP/1.1"));
        let allowed: Vec<String> = audit
            .events()
            .into_iter()
            .filter_map(|e| match e.kind {
                AuditKind::CapabilityAllowed { request, .. } => Some(request),
                _ => None,
            })
            .collect();
        assert!(
            allowed.contains(&format!("http localhost:{port} resolved to 127.0.0.1")),
            "{allowed:?}"
        );
    });
}

/// The call's deadline bounds the request: a silent server under a call
/// timeout of 300 ms fails the call with a timeout, soon after it.
#[test]
fn a_silent_server_under_a_call_timeout_fails_the_call_with_a_timeout() {
    common::each_backend(|_| {
        use std::time::Instant;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(2));
            drop(stream);
        });
        // The host's own timeout is long; the call's is short.
        let (rt, audit) = runtime_with(HostSettings::default());
        let limits = airssys_wasm::Limits::default().with_timeout(Duration::from_millis(300));
        let mut i = probe(
            &rt,
            LoadOptions::new()
                .limits(limits)
                .grant(net(&format!("127.0.0.1:{port}"))),
        );
        let started = Instant::now();
        let e = i
            .call("http-get", &[s(&format!("http://127.0.0.1:{port}/"))])
            .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(took < Duration::from_millis(1200), "{took:?}");
        assert!(
            common::event_names(&audit).contains(&"limit-hit"),
            "{:?}",
            common::event_names(&audit)
        );
        assert!(host_limits(&audit).is_empty(), "not a host limit");
        server.join().unwrap();
    });
}
