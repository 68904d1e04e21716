//! The escapes a hostile review found, each closed at its root, on every
//! backend: paths resolved beneath their grant's directory at the moment of
//! use, names that do not choose grants, host state per load, and waits
//! that end at the call's deadline.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use airssys_wasm::capability::{FileOp, FileRights, KvQuota, PathGlob};
use airssys_wasm::security::{Manifest, Policy};
use airssys_wasm::{AuditKind, Capability, Error, Limits, LoadOptions, Value};

fn s(text: &str) -> Value {
    Value::from(text)
}

/// A directory for one test, by its real path.
struct Dir {
    _tmp: tempfile::TempDir,
    root: String,
}

impl Dir {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().display().to_string();
        Self { _tmp: tmp, root }
    }

    fn p(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    fn glob(&self, rel: &str) -> PathGlob {
        PathGlob::new(&self.p(rel)).unwrap()
    }
}

fn err_text(v: &[Value]) -> String {
    match &v[0] {
        Value::Result(Err(Some(e))) => e.as_str().unwrap_or_default().to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn denied(audit: &airssys_wasm::MemorySink) -> Vec<String> {
    audit
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            AuditKind::CapabilityDenied { request, .. } => Some(request),
            _ => None,
        })
        .collect()
}

#[cfg(unix)]
#[test]
fn a_create_only_grant_never_writes_through_a_link_nor_over_a_file() {
    common::each_backend(|_| {
        let d = Dir::new();
        std::fs::create_dir_all(d.p("drop/x")).unwrap();
        std::fs::write(d.p("drop/a.txt"), "original").unwrap();
        std::os::unix::fs::symlink("../out/pwned", d.p("drop/ln")).unwrap();
        std::fs::create_dir_all(d.p("out")).unwrap();
        let (rt, audit) = common::runtime();
        let c = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new().grant(Capability::files(
                    d.glob("drop/**"),
                    FileRights::of(&[FileOp::Create]),
                )),
            )
            .unwrap();
        let mut i = c.instantiate().unwrap();
        for path in [
            "drop/ln",
            "drop/ln/",
            "drop/x/../ln",
            "drop/a.txt/",
            "drop/a.txt",
        ] {
            let out = i.call("fs-write", &[s(&d.p(path)), s("pwned")]).unwrap();
            let e = err_text(&out);
            assert!(e.starts_with("denied: write"), "{path}: {e}");
        }
        assert!(!std::path::Path::new(&d.p("out/pwned")).exists());
        assert_eq!(
            std::fs::read_to_string(d.p("drop/a.txt")).unwrap(),
            "original"
        );
        // What the grant is for still works: a new file, created once.
        let made = i
            .call("fs-write", &[s(&d.p("drop/new.txt")), s("hi")])
            .unwrap();
        assert_eq!(made, vec![Value::Result(Ok(None))]);
        let again = i
            .call("fs-write", &[s(&d.p("drop/new.txt")), s("over")])
            .unwrap();
        assert!(err_text(&again).starts_with("denied: write"));
        assert_eq!(std::fs::read_to_string(d.p("drop/new.txt")).unwrap(), "hi");
        assert!(denied(&audit).contains(&format!("write {}", d.p("drop/ln/"))));
        // With every right, the write reaches the link, which leads out of
        // the granted directory: refused, and where it leads is audited.
        let c = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new().grant(Capability::files(d.glob("drop/**"), FileRights::ALL)),
            )
            .unwrap();
        let mut i = c.instantiate().unwrap();
        for path in ["drop/ln", "drop/ln/", "drop/x/../ln"] {
            let e = err_text(&i.call("fs-write", &[s(&d.p(path)), s("pwned")]).unwrap());
            assert!(e.starts_with("denied: write"), "{path}: {e}");
        }
        assert!(!std::path::Path::new(&d.p("out/pwned")).exists());
        let audited = denied(&audit);
        assert!(
            audited
                .iter()
                .any(|r| r == &format!("write {}", d.p("out/pwned"))),
            "the link's target is in the audit log: {audited:?}"
        );
    });
}

#[test]
fn a_denial_reads_the_same_whether_the_file_exists() {
    common::each_backend(|_| {
        let d = Dir::new();
        std::fs::create_dir_all(d.p("ro")).unwrap();
        std::fs::write(d.p("ro/there.txt"), "x").unwrap();
        let (rt, _) = common::runtime();
        let c = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new().grant(Capability::files(d.glob("ro/**"), FileRights::READ)),
            )
            .unwrap();
        let mut i = c.instantiate().unwrap();
        let there = err_text(
            &i.call("fs-write", &[s(&d.p("ro/there.txt")), s("y")])
                .unwrap(),
        );
        let absent = err_text(
            &i.call("fs-write", &[s(&d.p("ro/absent.txt")), s("y")])
                .unwrap(),
        );
        assert_eq!(there.replace("there", "X"), absent.replace("absent", "X"));
    });
}

#[cfg(unix)]
#[test]
fn a_preopen_through_a_link_the_guest_made_is_not_opened() {
    common::each_backend(|_| {
        let d = Dir::new();
        std::fs::create_dir_all(d.p("data/real")).unwrap();
        std::fs::write(d.p("data/real/f.txt"), "ok").unwrap();
        // What a guest with a writable preopen can make with symlink-at.
        std::os::unix::fs::symlink("../..", d.p("data/evil")).unwrap();
        let policy = Policy::parse(
            "policy.toml",
            format!(
                "[grant.probe]\nfiles = [{{ path = \"{}/**\", rights = [\"read\", \"write\", \"create\", \"delete\"] }}]\n",
                d.p("data")
            ),
        )
        .unwrap();
        let manifest = |rel: &str| {
            Manifest::parse(
                "Component.toml",
                format!(
                    "[component]\nname = \"probe\"\n[capabilities]\nfiles = [{{ path = \"{}/**\", rights = [\"read\"] }}]\n",
                    d.p(rel)
                ),
            )
            .unwrap()
        };
        let policy = Arc::new(policy);
        let (rt, audit) = common::runtime();
        let load = |rel: &str| {
            rt.load(
                common::guest("wasi-files"),
                LoadOptions::new()
                    .name("probe")
                    .policy(policy.clone(), Some(Arc::new(manifest(rel)))),
            )
            .unwrap()
        };
        let mut evil = load("data/evil").instantiate().unwrap();
        let listed = evil.call("list-dir", &[s(&d.p("data/evil"))]).unwrap();
        assert!(
            matches!(&listed[0], Value::Result(Err(_))),
            "the link must not become a preopen of `/`: {listed:?}"
        );
        assert!(
            denied(&audit)
                .iter()
                .any(|r| r == &format!("wasi preopen {}", d.p("data/evil"))),
            "{:?}",
            denied(&audit)
        );
        let mut real = load("data/real").instantiate().unwrap();
        let read = real
            .call("read-file", &[s(&d.p("data/real/f.txt"))])
            .unwrap();
        assert_eq!(read, vec![Value::Result(Ok(Some(Box::new(s("ok")))))]);
    });
}

#[test]
fn two_loads_of_one_name_keep_their_own_host_state() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let load = |mode: &str| {
            rt.load(
                common::guest("host-probe"),
                LoadOptions::new().name("plugin").config("mode", mode),
            )
            .unwrap()
        };
        let first = load("one");
        let second = load("two");
        for (c, mode) in [(&first, "one"), (&second, "two")] {
            let mut i = c.instantiate().unwrap();
            assert_eq!(
                i.call("config-get", &[s("mode")]).unwrap(),
                vec![Value::Option(Some(Box::new(s(mode))))],
                "a later load of the same name must not replace an earlier one's state"
            );
        }
    });
}

#[test]
fn a_name_from_the_manifest_does_not_choose_the_grants() {
    common::each_backend(|_| {
        let policy = Arc::new(
            Policy::parse(
                "policy.toml",
                "[grant.billing]\nkey-value = [{ namespace = \"billing\" }]\n",
            )
            .unwrap(),
        );
        let manifest = Arc::new(
            Manifest::parse(
                "Component.toml",
                "[component]\nname = \"billing\"\n[capabilities]\nkey-value = [{ namespace = \"billing\" }]\n",
            )
            .unwrap(),
        );
        let (rt, audit) = common::runtime();
        let claimed = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new().policy(policy.clone(), Some(manifest.clone())),
            )
            .unwrap();
        assert!(
            claimed
                .evaluation()
                .unwrap()
                .warnings
                .iter()
                .any(|w| w.contains("[grant.billing] is not applied")),
        );
        let mut i = claimed.instantiate().unwrap();
        let e = err_text(&i.call("kv-set", &[s("billing"), s("k"), s("v")]).unwrap());
        assert_eq!(e, "denied: kv billing");
        assert!(denied(&audit).contains(&"kv billing".to_owned()));
        // Named by the operator, the grant is its.
        let named = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new()
                    .name("billing")
                    .policy(policy, Some(manifest)),
            )
            .unwrap();
        let mut i = named.instantiate().unwrap();
        assert_eq!(
            i.call("kv-set", &[s("billing"), s("k"), s("v")]).unwrap(),
            vec![Value::Result(Ok(None))]
        );
        let _ = KvQuota::default();
    });
}

#[test]
fn a_guest_asleep_in_wasi_is_stopped_at_its_timeout() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let c = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new()
                .grant(Capability::Clocks)
                .limits(Limits::default().with_timeout(Duration::from_millis(300))),
        );
        let mut i = c.instantiate().unwrap();
        let start = Instant::now();
        let e = i.call("sleep", &[Value::U64(1 << 40)]).unwrap_err();
        let took = start.elapsed();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(took < Duration::from_secs(2), "stopped after {took:?}");
        assert!(
            took >= Duration::from_millis(300),
            "not before its limit: {took:?}"
        );
        assert!(
            audit
                .events()
                .iter()
                .any(|e| matches!(e.kind, AuditKind::LimitHit { .. })),
            "the timeout is audited"
        );
        // A short sleep under the timeout still sleeps and returns.
        let mut i = c.instantiate().unwrap();
        let start = Instant::now();
        assert!(i.call("sleep", &[Value::U64(20_000_000)]).is_ok());
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn without_clocks_a_timer_never_fires_and_a_sleep_fails_at_once() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let c = common::load(&rt, "wasi-files", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        // The guest cannot measure real time through a timer's readiness.
        assert_eq!(
            i.call("timer-fired", &[Value::U64(1), Value::U32(100_000)])
                .unwrap(),
            vec![Value::Bool(false)]
        );
        // A zero duration is now, frozen or not (wasmtime-wasi yields once
        // before saying so).
        assert_eq!(
            i.call("timer-fired", &[Value::U64(0), Value::U32(10)])
                .unwrap(),
            vec![Value::Bool(true)]
        );
        let start = Instant::now();
        let e = i.call("sleep", &[Value::U64(5_000_000_000)]).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2), "it fails at once");
        match &e {
            Error::HostDenied { capability, .. } => assert_eq!(capability, "clocks"),
            other => panic!("expected a clocks denial, got {other}"),
        }
        assert!(e.to_string().contains("--allow-clocks"), "{e}");
        assert!(denied(&audit).contains(&"clocks".to_owned()));
        // With the grant, a timer fires.
        let c = common::load(
            &rt,
            "wasi-files",
            LoadOptions::new().grant(Capability::Clocks),
        );
        let mut i = c.instantiate().unwrap();
        assert_eq!(
            i.call("timer-fired", &[Value::U64(1), Value::U32(1_000_000)])
                .unwrap(),
            vec![Value::Bool(true)]
        );
    });
}

/// The table limit holds for an instance's tables together, as documented
/// (before, each table was held to it alone).
#[test]
fn the_table_limit_is_per_instance() {
    let tables = |n: usize, size: u32| {
        let decls: String = (0..n).map(|_| format!("(table {size} funcref)")).collect();
        common::component_of(
            "package test:t; world t { export grow: func(n: u32) -> s32; }",
            "t",
            format!(
                r#"(module {decls}
                    (func (export "grow") (param i32) (result i32)
                      ref.null func local.get 0 table.grow 0))"#
            ),
        )
    };
    common::each_backend(|kind| {
        let (rt, audit) = common::runtime();
        let limits = Limits::default().with_table_elements(10_000);
        let load = |bytes: Vec<u8>| rt.load(bytes, LoadOptions::new().limits(limits)).unwrap();
        // Two tables of 6 000: 12 000 elements in one instance.
        let e = load(tables(2, 6_000)).instantiate().err().expect("refused");
        assert!(matches!(e, Error::TableLimit { .. }), "on {kind}: {e}");
        assert!(
            audit
                .events()
                .iter()
                .any(|e| matches!(e.kind, AuditKind::InstantiationFailed { .. })),
            "on {kind}: audited"
        );
        // One table of 6 000 fits, and grows to the limit of the instance.
        let mut i = load(tables(1, 6_000)).instantiate().unwrap();
        assert_eq!(
            i.call("grow", &[Value::U32(4_000)]).unwrap(),
            vec![Value::S32(6_000)]
        );
        let e = i.call("grow", &[Value::U32(1)]).unwrap_err();
        assert!(matches!(e, Error::TableLimit { .. }), "on {kind}: {e}");
    });
}

/// A namespace and a key never spell another namespace's entry (with a
/// separator byte, `a` + `b\0c` and `a\0b` + `c` were one entry).
#[test]
fn key_value_entries_of_two_namespaces_never_collide() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let with = |ns: &str| {
            rt.load(
                common::guest("host-probe"),
                LoadOptions::new().grant(Capability::key_value(ns, KvQuota::default())),
            )
            .unwrap()
            .instantiate()
            .unwrap()
        };
        let mut a = with("a");
        assert_eq!(
            a.call("kv-set", &[s("a"), s("b\0c"), s("a's secret")])
                .unwrap(),
            vec![Value::Result(Ok(None))]
        );
        let mut b = with("a\0b");
        assert_eq!(
            b.call("kv-get", &[s("a\0b"), s("c")]).unwrap(),
            vec![Value::Result(Ok(Some(Box::new(Value::Option(None)))))],
            "another namespace's entry must not be readable"
        );
        assert_eq!(
            b.call("kv-keys", &[s("a\0b")]).unwrap(),
            vec![Value::Result(Ok(Some(Box::new(Value::List(vec![])))))]
        );
    });
}

/// A guest's `realloc` runs while the host lowers into it, and may not call
/// out of the component (`may-leave` is cleared), on both backends.
#[test]
fn a_guest_realloc_cannot_call_imports() {
    let bytes = common::component_of(
        "package test:r; world r { import ping: func(); export take: func(s: string) -> u32; }",
        "r",
        r#"(module
            (import "$root" "ping" (func $ping))
            (memory (export "memory") 1)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
              call $ping
              i32.const 1024)
            (func (export "take") (param i32 i32) (result i32) local.get 1))"#,
    );
    common::each_backend(|kind| {
        let mut host = airssys_wasm::HostFunctions::new();
        let pinged = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = pinged.clone();
        host.define("", "ping", move |_, _, _| {
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        });
        let (rt, _) = common::runtime_with_host(host);
        let mut i = rt
            .load(bytes.clone(), LoadOptions::new())
            .unwrap()
            .instantiate()
            .unwrap();
        let e = i.call("take", &[s("hello")]).unwrap_err();
        assert!(
            e.to_string().contains("cannot leave component instance"),
            "on {kind}: {e}"
        );
        assert!(
            !pinged.load(std::sync::atomic::Ordering::SeqCst),
            "on {kind}"
        );
    });
}

/// Describing a component's types is bounded: a small file whose types nest
/// a shared type (each level a tuple of two of the one before) would write
/// out to about 2^17 parts per use (under the engine's own limit of 10^6);
/// it is refused at load, quickly, on both backends.
#[test]
fn a_type_that_writes_out_too_large_is_refused_at_load() {
    let mut wit = String::from("package test:big; interface t { type t0 = tuple<u8, u8>;\n");
    for k in 1..=15 {
        wit.push_str(&format!("type t{k} = tuple<t{j}, t{j}>;\n", j = k - 1));
    }
    wit.push_str("} world big { use t.{t15}; export f: func(x: t15); }");
    let bytes = common::component_of(
        &wit,
        "big",
        r#"(module
            (memory (export "memory") 1)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
            (func (export "f") (param i32)))"#,
    );
    common::each_backend(|kind| {
        let (rt, audit) = common::runtime();
        let start = Instant::now();
        let e = rt
            .load(bytes.clone(), LoadOptions::new())
            .err()
            .expect("refused");
        assert!(matches!(e, Error::InvalidComponent(_)), "on {kind}: {e}");
        assert!(e.to_string().contains("parts"), "on {kind}: {e}");
        assert!(start.elapsed() < Duration::from_secs(5), "on {kind}");
        assert!(
            audit
                .events()
                .iter()
                .any(|e| matches!(e.kind, AuditKind::LoadRejected { .. })),
            "on {kind}"
        );
    });
}
