//! The registry and the provider table, with a provider made for them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::audit::{AuditKind, MemorySink};
use crate::capability::Capability;
use crate::component::Digest;
use crate::error::Error;
use crate::host::HostData;

/// `test:p/counter@0.1.0`: `bump() -> u32` counts per load; `secret()`
/// checks the `random` capability.
struct Counter {
    configured: AtomicU32,
}

impl Counter {
    fn new() -> Self {
        Self {
            configured: AtomicU32::new(0),
        }
    }
}

const COUNTER: &[Interface] = &[Interface::new(
    "test:p/counter",
    "0.1.0",
    Some(CapabilityKind::Random),
)];

impl HostProvider for Counter {
    type State = (String, AtomicU32);
    fn name(&self) -> &'static str {
        "counter"
    }
    fn interfaces(&self) -> &'static [Interface] {
        COUNTER
    }
    fn configure(&self, load: &LoadContext<'_>) -> Result<Self::State> {
        self.configured.fetch_add(1, Ordering::SeqCst);
        if load.config().contains_key("fail") {
            return Err(Error::Backend("told to fail".into()));
        }
        Ok((load.tenant().to_owned(), AtomicU32::new(0)))
    }
    fn define(&self, table: &mut ProviderTable<'_, Self>) {
        table.func("test:p/counter", "bump", |_, _, caller, _| {
            let (tenant, n) = caller.state();
            Ok(Value::Tuple(vec![
                Value::String(tenant.clone()),
                Value::U32(n.fetch_add(1, Ordering::SeqCst) + 1),
            ]))
        });
        table.func("test:p/counter", "secret", |cx, _, caller, _| {
            if let Some(denied) = caller.gate(cx, Request::Random)? {
                return Ok(denied);
            }
            Ok(ok(Some(Value::U32(7))))
        });
    }
}

/// Defines a function outside its interface.
struct Stray;

impl HostProvider for Stray {
    type State = ();
    fn name(&self) -> &'static str {
        "stray"
    }
    fn interfaces(&self) -> &'static [Interface] {
        &[]
    }
    fn configure(&self, _: &LoadContext<'_>) -> Result<()> {
        Ok(())
    }
    fn define(&self, table: &mut ProviderTable<'_, Self>) {
        table.func("test:p/counter", "bump", |_, _, _, _| Ok(Value::U32(0)));
    }
}

fn id(tenant: &str) -> ComponentId {
    ComponentId::new(Some(tenant), "c", None, Digest::of(b"c")).unwrap()
}

fn info() -> ComponentInfo {
    ComponentInfo::parse(&wat::parse_str("(component)").unwrap()).unwrap()
}

fn load(
    providers: &Providers,
    tenant: &str,
    caps: &CapabilitySet,
    on_denied: OnDenied,
) -> Result<HostData> {
    let (id, info, config) = (id(tenant), info(), BTreeMap::new());
    let host = providers.configure(on_denied, &LoadContext::new(&id, &info, caps, &config))?;
    Ok(Arc::new(host))
}

fn call(
    table: &HostFunctions,
    function: &str,
    caps: &CapabilitySet,
    data: Option<&HostData>,
    audit: &MemorySink,
) -> Result<Value, HostError> {
    let name: Arc<str> = "c".into();
    let mut cx = CallContext::new(&name, caps, audit).with_host_data(data);
    let mut results = [Value::Bool(false)];
    table.get("test:p/counter@0.1.0", function).unwrap()(&mut cx, &[], &mut results)?;
    let [r] = results;
    Ok(r)
}

fn counter() -> (Providers, HostFunctions) {
    let mut providers = Providers::new();
    providers.register(Counter::new()).unwrap();
    let mut table = HostFunctions::new();
    providers.define(&mut table).unwrap();
    (providers, table)
}

#[test]
fn each_load_has_its_own_state_and_unknown_callers_share_the_fallback() {
    let (providers, table) = counter();
    let caps = CapabilitySet::new();
    let audit = MemorySink::new();
    let a = load(&providers, "acme", &caps, OnDenied::Error).unwrap();
    let b = load(&providers, "other", &caps, OnDenied::Error).unwrap();
    let bump = |data| call(&table, "bump", &caps, data, &audit).unwrap();
    let pair = |t: &str, n| Value::Tuple(vec![Value::String(t.into()), Value::U32(n)]);
    assert_eq!(bump(Some(&a)), pair("acme", 1));
    assert_eq!(bump(Some(&a)), pair("acme", 2));
    assert_eq!(bump(Some(&b)), pair("other", 1));
    assert_eq!(bump(None), pair(crate::DEFAULT_TENANT, 1));
    // Host data of another kind is not a load's: the fallback answers.
    let foreign: HostData = Arc::new(5u32);
    assert_eq!(bump(Some(&foreign)), pair(crate::DEFAULT_TENANT, 2));
}

#[test]
fn the_gate_audits_and_answers_as_the_policy_says() {
    let (providers, table) = counter();
    let none = CapabilitySet::new();
    let random: CapabilitySet = [Capability::Random].into_iter().collect();
    let audit = MemorySink::new();
    let as_error = load(&providers, "t", &none, OnDenied::Error).unwrap();
    let as_trap = load(&providers, "t", &none, OnDenied::Trap).unwrap();
    assert_eq!(
        call(&table, "secret", &none, Some(&as_error), &audit).unwrap(),
        err("denied", "random")
    );
    let trapped = call(&table, "secret", &none, Some(&as_trap), &audit).unwrap_err();
    assert!(
        matches!(
            trapped,
            HostError::Denied {
                capability: CapabilityKind::Random,
                ..
            }
        ),
        "{trapped:?}"
    );
    assert_eq!(
        call(&table, "secret", &random, Some(&as_error), &audit).unwrap(),
        ok(Some(Value::U32(7)))
    );
    let kinds: Vec<_> = audit.events().into_iter().map(|e| e.kind).collect();
    assert!(
        matches!(
            &kinds[..],
            [
                AuditKind::CapabilityDenied { outcome: a, .. },
                AuditKind::CapabilityDenied { outcome: b, .. },
                AuditKind::CapabilityAllowed { .. },
            ] if a == "the guest gets error::denied" && b == "the call traps"
        ),
        "{kinds:?}"
    );
}

#[test]
fn two_providers_of_one_interface_are_refused_naming_both() {
    let mut providers = Providers::new();
    providers.register(Counter::new()).unwrap();
    let e = providers
        .register(Counter::new())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("`counter` serves `test:p/counter`, which provider `counter`"),
        "{e}"
    );
}

#[test]
fn a_table_defining_a_providers_interface_is_refused() {
    let mut providers = Providers::new();
    providers.register(Counter::new()).unwrap();
    let mut table = HostFunctions::new();
    table.define("test:p/counter@0.2.0", "bump", |_, _, _| Ok(()));
    let e = providers.define(&mut table).unwrap_err().to_string();
    assert!(
        e.contains("`test:p/counter@0.2.0` is served by the host provider `counter`"),
        "{e}"
    );
}

#[test]
fn a_function_outside_the_declared_interfaces_is_refused() {
    let mut providers = Providers::new();
    providers.register(Stray).unwrap();
    let e = providers
        .define(&mut HostFunctions::new())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`stray` defines `test:p/counter#bump`"), "{e}");
}

#[test]
fn a_provider_that_cannot_be_configured_fails_the_load_naming_it() {
    let (providers, _) = counter();
    let (id, info, caps) = (id("t"), info(), CapabilitySet::new());
    let config = BTreeMap::from([("fail".to_owned(), String::new())]);
    let e = providers
        .configure(
            OnDenied::Error,
            &LoadContext::new(&id, &info, &caps, &config),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("host provider `counter` cannot be configured: told to fail"),
        "{e}"
    );
}

#[test]
fn imports_need_what_their_provider_declares_and_wasi_what_it_always_did() {
    let (providers, _) = counter();
    assert_eq!(
        providers.capability_for("test:p/counter@0.9.0"),
        Some(CapabilityKind::Random)
    );
    assert_eq!(providers.capability_for("test:p/other@0.1.0"), None);
    assert_eq!(
        providers.capability_for("wasi:filesystem/types@0.2.6"),
        Some(CapabilityKind::Filesystem)
    );
    assert_eq!(
        providers.provider_of("test:p/counter@0.1.0"),
        Some("counter")
    );
    // A WASI name is never taken from a provider.
    assert_eq!(providers.capability_for("wasi:io/streams@0.2.6"), None);
}
