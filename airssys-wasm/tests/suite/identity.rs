//! One identity per load: tenant, name, version and digest. Two versions
//! of a name run side by side with their own state, tenants own their
//! key-value namespaces, audit records carry `tenant/name@version`, and a
//! tenant or version outside its character set is refused at load.

use crate::common;

use airssys_wasm::capability::KvQuota;
use airssys_wasm::security::Manifest;
use airssys_wasm::{AuditKind, Capability, ErrorClass, LoadOptions, Runtime, Value};

fn s(text: &str) -> Value {
    Value::from(text)
}

fn some(v: Value) -> Vec<Value> {
    vec![Value::Result(Ok(Some(Box::new(v))))]
}

/// A runtime on this test's backend whose key-value store is `file`.
fn runtime_with_store(
    file: &std::path::Path,
) -> (Runtime, std::sync::Arc<airssys_wasm::MemorySink>) {
    let audit = std::sync::Arc::new(airssys_wasm::MemorySink::new());
    let rt = Runtime::builder()
        .backend(common::backend())
        .audit(audit.clone())
        .host_settings(airssys_wasm::HostSettings {
            kv_path: Some(file.to_owned()),
            ..Default::default()
        })
        .build()
        .unwrap();
    (rt, audit)
}

#[test]
fn two_versions_of_one_name_run_side_by_side_with_their_own_state() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let load = |version: &str| {
            rt.load(
                common::guest("host-probe"),
                LoadOptions::new()
                    .name("plugin")
                    .version(version)
                    .config("mode", version),
            )
            .unwrap()
        };
        let (v1, v2) = (load("1.0.0"), load("2.0.0"));
        assert_eq!(v1.id().to_string(), "plugin@1.0.0");
        assert_eq!(v2.id().version(), Some("2.0.0"));
        assert_eq!((v1.name(), v2.name()), ("plugin", "plugin"));
        assert_ne!(v1.id(), v2.id());
        let mut i1 = v1.instantiate().unwrap();
        let mut i2 = v2.instantiate().unwrap();
        for (i, mode) in [(&mut i1, "1.0.0"), (&mut i2, "2.0.0")] {
            assert_eq!(
                i.call("config-get", &[s("mode")]).unwrap(),
                vec![Value::Option(Some(Box::new(s(mode))))]
            );
        }
        assert_eq!(i2.component_id().to_string(), "plugin@2.0.0");
        let labels: Vec<String> = audit
            .events()
            .iter()
            .filter(|e| matches!(e.kind, AuditKind::Loaded { .. }))
            .map(|e| e.component.to_string())
            .collect();
        assert_eq!(labels, ["plugin@1.0.0", "plugin@2.0.0"]);
    });
}

#[test]
fn a_manifest_gives_the_version_unless_the_operator_does() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime();
        let manifest = std::sync::Arc::new(
            Manifest::parse(
                "Component.toml",
                "[component]\nname = \"probe\"\nversion = \"0.3.1\"\n",
            )
            .unwrap(),
        );
        let policy =
            std::sync::Arc::new(airssys_wasm::security::Policy::parse("policy.toml", "").unwrap());
        let c = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new().policy(policy.clone(), Some(manifest.clone())),
            )
            .unwrap();
        assert_eq!(c.id().to_string(), "probe@0.3.1");
        let c = rt
            .load(
                common::guest("host-probe"),
                LoadOptions::new()
                    .version("0.4.0")
                    .policy(policy, Some(manifest)),
            )
            .unwrap();
        assert_eq!(c.id().to_string(), "probe@0.4.0");
    });
}

#[test]
fn tenants_own_their_key_value_namespaces() {
    common::each_backend(|_| {
        let dir = tempfile::tempdir().unwrap();
        let kv = dir.path().join("kv.redb");
        let (rt, audit) = runtime_with_store(&kv);
        let open = |rt: &Runtime, tenant: Option<&str>| {
            let options = LoadOptions::new()
                .name("cache-user")
                .grant(Capability::key_value("cache", KvQuota::default()));
            let options = match tenant {
                Some(t) => options.tenant(t),
                None => options,
            };
            rt.load(common::guest("host-probe"), options)
                .unwrap()
                .instantiate()
                .unwrap()
        };
        let mut acme = open(&rt, Some("acme"));
        assert_eq!(
            acme.call("kv-set", &[s("cache"), s("k"), s("acme's")])
                .unwrap(),
            vec![Value::Result(Ok(None))]
        );
        for (tenant, who) in [
            (Some("globex"), "another tenant"),
            (None, "the default tenant"),
        ] {
            let mut other = open(&rt, tenant);
            assert_eq!(
                other.call("kv-get", &[s("cache"), s("k")]).unwrap(),
                some(Value::Option(None)),
                "{who} must not read acme's namespace"
            );
            assert_eq!(
                other.call("kv-keys", &[s("cache")]).unwrap(),
                some(Value::List(vec![]))
            );
            assert_eq!(
                other
                    .call("kv-set", &[s("cache"), s("k"), s("mine")])
                    .unwrap(),
                vec![Value::Result(Ok(None))]
            );
        }
        assert_eq!(
            acme.call("kv-get", &[s("cache"), s("k")]).unwrap(),
            some(Value::Option(Some(Box::new(s("acme's")))))
        );
        // The audit identity says whose decision it was.
        assert!(
            audit
                .events()
                .iter()
                .any(|e| &*e.component == "acme/cache-user"
                    && matches!(e.kind, AuditKind::CapabilityAllowed { .. }))
        );
        // The same store, opened again: each tenant finds its own.
        drop((acme, rt));
        let (rt, _) = runtime_with_store(&kv);
        let mut acme = open(&rt, Some("acme"));
        assert_eq!(
            acme.call("kv-keys", &[s("cache")]).unwrap(),
            some(Value::List(vec![s("k")]))
        );
    });
}

#[test]
fn a_tenant_or_version_outside_its_character_set_is_refused_and_audited() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        for (options, what) in [
            (
                LoadOptions::new().tenant("acme/evil"),
                "invalid tenant `acme/evil`",
            ),
            (
                LoadOptions::new().tenant("acme\nFAKE"),
                "invalid tenant `acme\\nFAKE`",
            ),
            (
                LoadOptions::new().version("1.0 beta"),
                "invalid version `1.0 beta`",
            ),
            (LoadOptions::new().version("1@2"), "invalid version `1@2`"),
        ] {
            let e = rt
                .load(common::guest("host-probe"), options)
                .err()
                .expect("refused");
            assert_eq!(e.class(), ErrorClass::Policy, "{e}");
            assert!(e.to_string().contains(what), "{e}");
            let last = audit.events().pop().unwrap();
            assert_eq!(&*last.component, Runtime::INVALID_NAME);
            assert!(matches!(last.kind, AuditKind::LoadRejected { .. }));
        }
    });
}
