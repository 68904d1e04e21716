//! A host provider of the embedder's, registered with one line: its
//! interface reaches guests on every backend, its state is per load, and
//! its checks are audited under the caller's identity.

use std::sync::atomic::{AtomicU32, Ordering};

use airssys_wasm::provider::{Interface, LoadContext, ProviderTable};
use airssys_wasm::{
    AuditKind, Capability, CapabilityKind, Error, HostProvider, LoadOptions, MemorySink, Request,
    Runtime, Value,
};

use crate::common;

const WIT: &str = r#"
package test:p@0.1.0;
interface counter { bump: func() -> u32; }
world w { import counter; export run: func() -> u32; }
"#;

const MODULE: &str = r#"(module
    (import "test:p/counter@0.1.0" "bump" (func $bump (result i32)))
    (func (export "run") (result i32) call $bump))"#;

/// `test:p/counter`: `bump` counts per load, for components granted the
/// custom capability `counter`.
struct Counter;

impl HostProvider for Counter {
    type State = AtomicU32;
    fn name(&self) -> &'static str {
        "counter"
    }
    fn interfaces(&self) -> &'static [Interface] {
        const I: &[Interface] = &[Interface::new(
            "test:p/counter",
            "0.1.0",
            Some(CapabilityKind::Custom),
        )];
        I
    }
    fn configure(&self, load: &LoadContext<'_>) -> airssys_wasm::Result<AtomicU32> {
        let start = load.config().get("start").map_or(Ok(0), |s| s.parse());
        start
            .map(AtomicU32::new)
            .map_err(|e| Error::Backend(format!("config `start`: {e}")))
    }
    fn define(&self, table: &mut ProviderTable<'_, Self>) {
        table.func("test:p/counter", "bump", |cx, _, caller, _| {
            cx.require(Request::Custom("counter"))?;
            Ok(Value::U32(
                caller.state().fetch_add(1, Ordering::SeqCst) + 1,
            ))
        });
    }
}

fn runtime(audit: &std::sync::Arc<MemorySink>) -> Runtime {
    Runtime::builder()
        .backend(common::backend())
        .audit(audit.clone())
        .provider(Counter)
        .build()
        .unwrap()
}

#[test]
fn an_embedders_provider_serves_guests_with_state_per_load() {
    let bytes = common::component_of(WIT, "w", MODULE);
    common::each_backend(|_| {
        let audit = std::sync::Arc::new(MemorySink::new());
        let rt = runtime(&audit);
        assert_eq!(
            rt.providers().capability_for("test:p/counter@0.1.0"),
            Some(CapabilityKind::Custom)
        );
        let granted = || {
            LoadOptions::new()
                .name("c")
                .grant(Capability::custom("counter"))
        };
        let a = rt.load(bytes.clone(), granted()).unwrap();
        let b = rt
            .load(bytes.clone(), granted().version("2").config("start", "10"))
            .unwrap();
        let run = |c: &airssys_wasm::Component| c.instantiate().unwrap().call("run", &[]).unwrap();
        // Instances of one load share its state; another load of the same
        // name has its own.
        assert_eq!(run(&a), vec![Value::U32(1)]);
        assert_eq!(run(&a), vec![Value::U32(2)]);
        assert_eq!(run(&b), vec![Value::U32(11)]);
        // Without the grant: a typed denial, audited under the caller.
        let bare = rt
            .load(bytes.clone(), LoadOptions::new().name("bare"))
            .unwrap();
        let denied = bare.instantiate().unwrap().call("run", &[]).unwrap_err();
        assert!(
            matches!(&denied, Error::HostDenied { function, capability, .. }
                if function == "test:p/counter@0.1.0#bump" && capability == "custom"),
            "{denied}"
        );
        let events = audit.events();
        assert!(events.iter().any(|e| &*e.component == "c@2"
            && matches!(&e.kind, AuditKind::CapabilityAllowed { request, .. } if request == "custom counter")));
        assert!(events.iter().any(
            |e| &*e.component == "bare" && matches!(e.kind, AuditKind::CapabilityDenied { .. })
        ));
        // A provider that cannot be configured fails the load, naming it.
        let e = rt
            .load(bytes.clone(), granted().config("start", "x"))
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("host provider `counter` cannot be configured: config `start`"),
            "{e}"
        );
    });
}

#[test]
fn a_provider_may_not_serve_an_interface_served_already() {
    let e = Runtime::builder()
        .provider(Counter)
        .provider(Counter)
        .build()
        .err()
        .unwrap();
    assert!(
        e.to_string()
            .contains("`counter` serves `test:p/counter`, which provider `counter` serves already"),
        "{e}"
    );
}
