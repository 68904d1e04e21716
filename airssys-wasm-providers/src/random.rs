//! `random`: host entropy, behind the `random` grant, at most 1 MiB a call.

use airssys_wasm_core::provider::{Interface, ProviderTable, bytes_value, limit, ok};
use airssys_wasm_core::{CapabilityKind, HostError, Request, Value};

use crate::interface;

const INTERFACES: &[Interface] = &[interface(
    "airssys:host/random",
    Some(CapabilityKind::Random),
)];

/// The most bytes one call returns.
pub const MAX_BYTES: usize = 1 << 20;

/// The `random` provider.
#[derive(Debug)]
pub struct Random;

crate::stateless_provider!(Random, "random", INTERFACES, define);

fn define(table: &mut ProviderTable<'_, Random>) {
    table.func(INTERFACES[0].name, "bytes", |cx, _, caller, args| {
        if let Some(denied) = caller.gate(cx, Request::Random)? {
            return Ok(denied);
        }
        let len = match args.first() {
            Some(Value::U32(n)) => *n as usize,
            _ => return Err(HostError::Failed("len is not a u32".into())),
        };
        if len > MAX_BYTES {
            return limit(
                cx,
                "airssys:host/random#bytes",
                format!("at most 1 MiB of random bytes per call (asked {len})"),
            );
        }
        let mut buf = vec![0u8; len];
        getrandom::fill(&mut buf).map_err(|e| HostError::Failed(format!("entropy: {e}")))?;
        Ok(ok(Some(bytes_value(buf))))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use airssys_wasm_core::provider::err;
    use airssys_wasm_core::{AuditKind, Capability, CapabilitySet, OnDenied};

    #[test]
    fn bytes_need_the_grant_and_are_capped() {
        let h = Harness::new(Random);
        let granted = h.load(
            None,
            [Capability::Random].into_iter().collect(),
            &[],
            OnDenied::Error,
        );
        let denied = h.load(None, CapabilitySet::new(), &[], OnDenied::Error);
        let Value::Result(Ok(Some(got))) = h.call(&granted, "bytes", &[Value::U32(32)]).unwrap()
        else {
            panic!("not ok");
        };
        assert_eq!(got.as_bytes().unwrap().len(), 32);
        assert_eq!(
            h.call(&granted, "bytes", &[Value::U32(MAX_BYTES as u32 + 1)])
                .unwrap(),
            err(
                "limit",
                format!(
                    "at most 1 MiB of random bytes per call (asked {})",
                    MAX_BYTES + 1
                )
            )
        );
        assert_eq!(
            h.call(&denied, "bytes", &[Value::U32(1)]).unwrap(),
            err("denied", "random")
        );
        assert!(matches!(
            h.call(&granted, "bytes", &[Value::String("x".into())]),
            Err(HostError::Failed(why)) if why == "len is not a u32"
        ));
        let kinds: Vec<_> = h.audit.events().into_iter().map(|e| e.kind).collect();
        assert!(matches!(kinds[2], AuditKind::HostLimit { .. }), "{kinds:?}");
        assert!(
            matches!(kinds[3], AuditKind::CapabilityDenied { .. }),
            "{kinds:?}"
        );
    }
}
