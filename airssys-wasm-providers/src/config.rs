//! `config`: the component's config (manifest and policy, then the load
//! options), read-only, per load.

use std::collections::BTreeMap;

use airssys_wasm_core::provider::{Interface, LoadContext, ProviderTable, string};
use airssys_wasm_core::{HostProvider, Result, Value};

use crate::interface;

const INTERFACES: &[Interface] = &[interface("airssys:host/config", None)];

/// The `config` provider.
#[derive(Debug)]
pub struct Config;

impl HostProvider for Config {
    type State = BTreeMap<String, String>;

    fn name(&self) -> &'static str {
        "config"
    }

    fn interfaces(&self) -> &'static [Interface] {
        INTERFACES
    }

    fn configure(&self, load: &LoadContext<'_>) -> Result<Self::State> {
        Ok(load.config().clone())
    }

    fn define(&self, table: &mut ProviderTable<'_, Self>) {
        table.func(INTERFACES[0].name, "get", |_, _, caller, args| {
            let key = string(args, 0)?;
            Ok(Value::Option(
                caller
                    .state()
                    .get(key)
                    .map(|v| Box::new(Value::String(v.clone()))),
            ))
        });
        table.func(INTERFACES[0].name, "keys", |_, _, caller, _| {
            Ok(Value::List(
                caller
                    .state()
                    .keys()
                    .map(|k| Value::String(k.clone()))
                    .collect(),
            ))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Harness;
    use airssys_wasm_core::{CapabilitySet, OnDenied};

    #[test]
    fn each_load_reads_its_own_config() {
        let h = Harness::new(Config);
        let a = h.load(None, CapabilitySet::new(), &[("k", "a")], OnDenied::Error);
        let b = h.load(
            None,
            CapabilitySet::new(),
            &[("k", "b"), ("z", "")],
            OnDenied::Error,
        );
        let get = |l, k: &str| h.call(l, "get", &[Value::String(k.into())]).unwrap();
        let some = |v: &str| Value::Option(Some(Box::new(Value::String(v.into()))));
        assert_eq!(get(&a, "k"), some("a"));
        assert_eq!(get(&b, "k"), some("b"));
        assert_eq!(get(&a, "z"), Value::Option(None));
        assert_eq!(
            h.call(&b, "keys", &[]).unwrap(),
            Value::List(vec![Value::String("k".into()), Value::String("z".into())])
        );
        // Nothing was checked, so nothing was audited.
        assert!(h.audit.events().is_empty());
    }
}
