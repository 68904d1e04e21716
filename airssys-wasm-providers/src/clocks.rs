//! `clocks`: wall-clock and monotonic time, behind the `clocks` grant.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use airssys_wasm_core::provider::{Interface, ProviderTable, ok};
use airssys_wasm_core::{CapabilityKind, Request, Value};

use crate::interface;

const INTERFACES: &[Interface] = &[interface(
    "airssys:host/clocks",
    Some(CapabilityKind::Clocks),
)];

/// The `clocks` provider. Monotonic time counts from its creation.
#[derive(Debug)]
pub struct Clocks {
    started: Instant,
}

impl Clocks {
    /// A provider whose monotonic clock starts now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
        }
    }
}

impl Default for Clocks {
    fn default() -> Self {
        Self::new()
    }
}

crate::stateless_provider!(Clocks, "clocks", INTERFACES, define);

fn define(table: &mut ProviderTable<'_, Clocks>) {
    table.func(INTERFACES[0].name, "now", |cx, _, caller, _| {
        if let Some(denied) = caller.gate(cx, Request::Clocks)? {
            return Ok(denied);
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Ok(ok(Some(Value::U64(nanos))))
    });
    table.func(INTERFACES[0].name, "monotonic", |cx, this, caller, _| {
        if let Some(denied) = caller.gate(cx, Request::Clocks)? {
            return Ok(denied);
        }
        Ok(ok(Some(Value::U64(
            this.started.elapsed().as_nanos() as u64
        ))))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use airssys_wasm_core::provider::err;
    use airssys_wasm_core::{AuditKind, Capability, CapabilitySet, HostError, OnDenied};

    #[test]
    fn time_needs_the_clocks_grant_and_every_decision_is_audited() {
        let h = Harness::new(Clocks::new());
        let granted = h.load(
            None,
            [Capability::Clocks].into_iter().collect(),
            &[],
            OnDenied::Error,
        );
        let denied = h.load(None, CapabilitySet::new(), &[], OnDenied::Error);
        let trap = h.load(None, CapabilitySet::new(), &[], OnDenied::Trap);
        let first = h.call(&granted, "monotonic", &[]).unwrap();
        let second = h.call(&granted, "monotonic", &[]).unwrap();
        let nanos = |v: &Value| match v {
            Value::Result(Ok(Some(n))) => match **n {
                Value::U64(n) => n,
                _ => panic!("{v:?}"),
            },
            _ => panic!("{v:?}"),
        };
        assert!(nanos(&second) >= nanos(&first));
        assert!(nanos(&h.call(&granted, "now", &[]).unwrap()) > 1_600_000_000 * 1_000_000_000);
        assert_eq!(
            h.call(&denied, "now", &[]).unwrap(),
            err("denied", "clocks")
        );
        assert!(matches!(
            h.call(&trap, "now", &[]),
            Err(HostError::Denied {
                capability: CapabilityKind::Clocks,
                ..
            })
        ));
        let kinds: Vec<_> = h.audit.events().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 5);
        assert!(matches!(kinds[3], AuditKind::CapabilityDenied { .. }));
    }
}
