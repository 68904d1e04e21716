//! The hostile suite through the real host interface and WASI: each attack
//! is refused, the refusal is in the audit log, and afterwards the host and
//! a bystander component in the same runtime work as before.

use crate::common;

use std::sync::Arc;

use airssys_wasm::capability::{FileRights, KvQuota, PathGlob};
use airssys_wasm::{AuditKind, Capability, HostSettings, LoadOptions, MemorySink, Runtime, Value};

struct World {
    rt: Runtime,
    audit: Arc<MemorySink>,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let audit = Arc::new(MemorySink::new());
        let rt = Runtime::builder()
            .audit(audit.clone())
            .host_settings(HostSettings {
                log_rate: 50,
                ..HostSettings::default()
            })
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("attacker")).unwrap();
        std::fs::create_dir_all(dir.path().join("bystander")).unwrap();
        std::fs::write(dir.path().join("bystander/notes.txt"), "mine").unwrap();
        Self { rt, audit, dir }
    }

    fn root(&self) -> String {
        std::fs::canonicalize(self.dir.path())
            .unwrap()
            .display()
            .to_string()
    }

    /// The attacker: host-probe with a little granted (its own directory,
    /// a small namespace).
    fn attacker(&self) -> airssys_wasm::Instance {
        let glob = PathGlob::new(&format!("{}/attacker/**", self.root())).unwrap();
        let c = self
            .rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new()
                    .name("attacker")
                    .grant(Capability::files(glob, FileRights::ALL))
                    .grant(Capability::key_value(
                        "attacker",
                        KvQuota {
                            bytes: 64,
                            ..KvQuota::default()
                        },
                    )),
            )
            .unwrap();
        c.instantiate().unwrap()
    }

    /// After an attack: the bystander still reads its files and uses its
    /// namespace, and an unrelated component still computes.
    fn assert_bystander_unaffected(&self) {
        let glob = PathGlob::new(&format!("{}/bystander/**", self.root())).unwrap();
        let c = self
            .rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new()
                    .name("bystander")
                    .grant(Capability::files(glob, FileRights::READ))
                    .grant(Capability::key_value("bystander", KvQuota::default())),
            )
            .unwrap();
        let mut b = c.instantiate().unwrap();
        let notes = format!("{}/bystander/notes.txt", self.root());
        assert_eq!(
            b.call("fs-read", &[Value::from(notes.as_str())]).unwrap(),
            vec![Value::Result(Ok(Some(Box::new(Value::from("mine")))))]
        );
        assert_eq!(
            b.call(
                "kv-set",
                &[Value::from("bystander"), Value::from("k"), Value::from("v")]
            )
            .unwrap(),
            vec![Value::Result(Ok(None))]
        );
        let values = common::load(&self.rt, "values", LoadOptions::new());
        let mut v = values.instantiate().unwrap();
        assert_eq!(
            v.call("echo-string", &[Value::from("ok")]).unwrap(),
            vec![Value::from("ok")]
        );
    }

    fn denied(&self) -> Vec<String> {
        self.audit
            .events()
            .into_iter()
            .filter(|e| &*e.component == "attacker" || &*e.component == "wasi-probe")
            .filter_map(|e| match e.kind {
                AuditKind::CapabilityDenied { request, .. } => Some(request),
                AuditKind::HostLimit { limit, .. } => Some(format!("limit: {limit}")),
                _ => None,
            })
            .collect()
    }
}

fn error_text(v: &[Value]) -> String {
    match &v[0] {
        Value::Result(Err(Some(e))) => e.as_str().unwrap().to_owned(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Runs one attack through the host interface: it must be refused with
/// `expected` as the start of the guest's error, audited as `audited`.
fn host_attack(f: &str, args: &[&str], expected: &str, audited: &str) {
    let w = World::new();
    let mut a = w.attacker();
    let args: Vec<Value> = args.iter().map(|s| Value::from(*s)).collect();
    let args: Vec<Value> = args
        .into_iter()
        .map(|v| match v.as_str() {
            Some(s) => Value::from(s.replace("{root}", &w.root()).as_str()),
            None => v,
        })
        .collect();
    let e = error_text(&a.call(f, &args).unwrap());
    let expected = expected.replace("{root}", &w.root());
    assert!(e.starts_with(&expected), "{f}: guest saw {e:?}");
    let audited = audited.replace("{root}", &w.root());
    assert!(
        w.denied().iter().any(|d| d.starts_with(&audited)),
        "{f}: audit log has {:?}, wanted {audited}",
        w.denied()
    );
    w.assert_bystander_unaffected();
}

#[test]
fn reading_etc_passwd() {
    common::each_backend(|_| {
        host_attack(
            "fs-read",
            &["/etc/passwd"],
            "denied: read /etc/passwd",
            "read /etc/passwd",
        );
    });
}

#[test]
fn escaping_with_dot_dot() {
    common::each_backend(|_| {
        host_attack(
            "fs-read",
            &["{root}/attacker/../bystander/notes.txt"],
            "denied: read {root}",
            "read {root}/attacker/../bystander/notes.txt",
        );
    });
}

#[test]
fn writing_outside_its_glob() {
    common::each_backend(|_| {
        host_attack(
            "fs-write",
            &["{root}/bystander/notes.txt", "pwned"],
            "denied: write",
            "write {root}/bystander/notes.txt",
        );
    });
}

#[cfg(unix)]
#[test]
fn following_a_planted_symlink() {
    common::each_backend(|_| {
        let w = World::new();
        let root = w.root();
        std::os::unix::fs::symlink(
            format!("{root}/bystander/notes.txt"),
            format!("{root}/attacker/link"),
        )
        .unwrap();
        let mut a = w.attacker();
        let e = error_text(
            &a.call(
                "fs-read",
                &[Value::from(format!("{root}/attacker/link").as_str())],
            )
            .unwrap(),
        );
        assert!(e.starts_with("denied:"), "{e}");
        assert!(
            w.denied()
                .contains(&format!("read {root}/bystander/notes.txt")),
            "{:?}",
            w.denied()
        );
        let e = error_text(
            &a.call(
                "fs-write",
                &[
                    Value::from(format!("{root}/attacker/link").as_str()),
                    Value::from("pwned"),
                ],
            )
            .unwrap(),
        );
        assert!(e.starts_with("denied:"), "{e}");
        assert_eq!(
            std::fs::read_to_string(format!("{root}/bystander/notes.txt")).unwrap(),
            "mine"
        );
        w.assert_bystander_unaffected();
    });
}

#[test]
fn using_another_components_namespace() {
    common::each_backend(|_| {
        host_attack(
            "kv-get",
            &["bystander", "k"],
            "denied: kv bystander",
            "kv bystander",
        );
    });
}

#[test]
fn exceeding_its_kv_quota() {
    common::each_backend(|_| {
        host_attack(
            "kv-set",
            &["attacker", "k", &"x".repeat(100)],
            "limit: namespace `attacker` quota of 64 bytes",
            "limit: namespace `attacker` quota",
        );
    });
}

#[test]
fn connecting_to_a_host_not_granted() {
    common::each_backend(|_| {
        host_attack(
            "http-get",
            &["http://169.254.169.254/latest/meta-data/"],
            "denied: http 169.254.169.254:80",
            "http 169.254.169.254:80",
        );
    });
}

#[test]
fn flooding_the_log() {
    common::each_backend(|_| {
        let w = World::new();
        let mut a = w.attacker();
        let out = a
            .call("log-many", &[Value::U32(20_000), Value::from("flood")])
            .unwrap();
        let Value::Tuple(parts) = &out[0] else {
            panic!("{out:?}")
        };
        let Value::U32(accepted) = parts[0] else {
            panic!()
        };
        assert!(accepted < 1000, "{accepted} records got through");
        let limits = w
            .denied()
            .into_iter()
            .filter(|d| d.starts_with("limit: log rate"))
            .count();
        assert!((1..10).contains(&limits), "audited {limits} times");
        w.assert_bystander_unaffected();
    });
}

#[test]
#[allow(unsafe_code)] // `set_var`: see the SAFETY comment inside.
fn reading_an_env_var_and_a_socket_through_wasi() {
    common::each_backend(|_| {
        // SAFETY: no other test in this binary reads this variable, and std
        // serialises its own reads and writes of the environment.
        unsafe { std::env::set_var("AIRSSYS_HOSTILE_SECRET", "hunter2") };
        let w = World::new();
        let c = common::load(
            &w.rt,
            "wasi-probe",
            LoadOptions::new().grant(Capability::env("HOME")),
        );
        let mut i = c.instantiate().unwrap();
        assert_eq!(
            i.call("get-env", &[Value::from("AIRSSYS_HOSTILE_SECRET")])
                .unwrap(),
            vec![Value::Option(None)]
        );
        let refused = i
            .call("connect", &[Value::from("10.0.0.1:22"), Value::from("x")])
            .unwrap();
        assert!(matches!(&refused[0], Value::Result(Err(_))), "{refused:?}");
        let read = i.call("read-file", &[Value::from("/etc/passwd")]).unwrap();
        assert!(matches!(&read[0], Value::Result(Err(_))), "{read:?}");
        let denied = w.denied();
        for kind in ["wasi network", "wasi filesystem"] {
            assert!(denied.iter().any(|d| d == kind), "{kind} not in {denied:?}");
        }
        w.assert_bystander_unaffected();
    });
}
