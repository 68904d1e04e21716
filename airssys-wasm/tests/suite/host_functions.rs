//! Host functions defined once in the core table: the guest `host-user`
//! imports `airssys:test/host-fns`; what it may do is decided by its grants.

use crate::common;

use airssys_wasm::{
    AuditKind, Capability, Error, ErrorClass, HostError, HostFunctions, LoadOptions, Request, Value,
};

const IFACE: &str = "airssys:test/host-fns@0.1.0";

fn host() -> HostFunctions {
    let mut host = HostFunctions::new();
    host.define(IFACE, "greet", |cx, args, results| {
        let name = args[0].as_str().unwrap_or("?");
        results[0] = Value::from(format!(
            "hello {name}, from the host (caller {})",
            cx.component()
        ));
        Ok(())
    });
    host.define(IFACE, "secret", |cx, _args, results| {
        cx.require(Request::Custom("secrets"))?;
        results[0] = Value::from(Ok::<&str, &str>("s3cr3t"));
        Ok(())
    });
    host
}

#[test]
fn a_guest_calls_a_host_function() {
    common::each_backend(|_| {
        let (rt, _) = common::runtime_with_host(host());
        let c = common::load(&rt, "host-user", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let out = i.call("run", &[Value::from("ada")]).unwrap();
        assert_eq!(
            out,
            vec![Value::from(
                "plugin got: hello ada, from the host (caller host-user)"
            )]
        );
    });
}

#[test]
fn an_ungranted_capability_is_denied_named_and_audited() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime_with_host(host());
        let c = common::load(&rt, "host-user", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let err = i.call("read-secret", &[]).unwrap_err();
        let Error::HostDenied {
            function,
            capability,
            request,
        } = &err
        else {
            panic!("expected a denial, got {err:?}");
        };
        assert_eq!(function, &format!("{IFACE}#secret"));
        assert_eq!(capability, "custom");
        assert_eq!(request, "custom secrets");
        assert_eq!(err.class(), ErrorClass::CapabilityDenied);
        let denied = audit.events().into_iter().any(|e| {
            matches!(e.kind, AuditKind::CapabilityDenied { ref request, .. } if request == "custom secrets")
        });
        assert!(denied);
    });
}

#[test]
fn a_granted_capability_is_allowed_and_audited() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime_with_host(host());
        let c = common::load(
            &rt,
            "host-user",
            LoadOptions::new().grant(Capability::custom("secrets")),
        );
        let mut i = c.instantiate().unwrap();
        let out = i.call("read-secret", &[]).unwrap();
        assert_eq!(out, vec![Value::from(Ok::<&str, &str>("s3cr3t"))]);
        assert!(common::event_names(&audit).contains(&"capability-allowed"));
    });
}

#[test]
fn a_panicking_host_function_fails_the_call_not_the_host() {
    common::each_backend(|_| {
        let mut host = host();
        host.define(IFACE, "greet", |_, _, _| panic!("host bug"));
        let (rt, _) = common::runtime_with_host(host);
        let c = common::load(&rt, "host-user", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        let err = i.call("run", &[Value::from("x")]).unwrap_err();
        assert!(matches!(err, Error::HostFailed { .. }), "{err:?}");
        assert!(err.to_string().contains("panicked: host bug"), "{err}");
    });
}

#[test]
fn a_failing_host_function_reports_its_message() {
    common::each_backend(|_| {
        let mut host = host();
        host.define(IFACE, "greet", |_, _, _| {
            Err(HostError::Failed("backend offline".into()))
        });
        let (rt, _) = common::runtime_with_host(host);
        let c = common::load(&rt, "host-user", LoadOptions::new());
        let err = c
            .instantiate()
            .unwrap()
            .call("run", &[Value::from("x")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("host function `{IFACE}#greet` failed: backend offline")
        );
    });
}

#[test]
fn an_import_nobody_provides_is_named_at_load() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime();
        let err = rt
            .load(common::guest("host-user"), LoadOptions::new())
            .err()
            .unwrap();
        let Error::MissingImport { name, .. } = &err else {
            panic!("expected a missing import, got {err:?}");
        };
        assert_eq!(name, IFACE);
        assert_eq!(err.class(), ErrorClass::MissingImport);
        assert_eq!(common::event_names(&audit), vec!["load-rejected"]);
    });
}

#[test]
fn a_missing_function_of_a_known_interface_is_named() {
    common::each_backend(|_| {
        let mut host = HostFunctions::new();
        host.define(IFACE, "greet", |_, _, r| {
            r[0] = Value::from("x");
            Ok(())
        });
        let (rt, _) = common::runtime_with_host(host);
        let err = rt
            .load(common::guest("host-user"), LoadOptions::new())
            .err()
            .unwrap();
        assert!(
            matches!(&err, Error::MissingImport { name, .. } if name == &format!("{IFACE}#secret")),
            "{err:?}"
        );
    });
}

/// A refused host call traps the guest at its import; the component model
/// forbids entering that instance again, so the `Instance` continues as a
/// fresh one: the caller keeps using it, and the renewal is audited.
#[test]
fn an_instance_keeps_serving_after_a_refused_host_call() {
    common::each_backend(|_| {
        let (rt, audit) = common::runtime_with_host(host());
        let c = common::load(&rt, "host-user", LoadOptions::new());
        let mut i = c.instantiate().unwrap();
        assert!(matches!(
            i.call("read-secret", &[]).unwrap_err(),
            Error::HostDenied { .. }
        ));
        assert_eq!(
            i.call("run", &[Value::from("ada")]).unwrap(),
            vec![Value::from(
                "plugin got: hello ada, from the host (caller host-user)"
            )]
        );
        let names = common::event_names(&audit);
        let instantiated = names.iter().filter(|n| **n == "instantiated").count();
        assert_eq!(instantiated, 2, "{names:?}");
    });
}
