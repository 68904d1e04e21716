//! Calling a provider's functions as a backend would, without one.

use std::collections::BTreeMap;
use std::sync::Arc;

use airssys_wasm_core::provider::LoadContext;
use airssys_wasm_core::{
    CallContext, CapabilitySet, ComponentId, ComponentInfo, Digest, HostData, HostError,
    HostFunctions, HostProvider, MemorySink, OnDenied, Providers, Value,
};

/// One provider, defined into a table, and loads configured for it.
pub(crate) struct Harness {
    pub providers: Providers,
    pub table: HostFunctions,
    pub audit: MemorySink,
    interface: String,
}

/// A load of the harness: its identity, grants and host data.
pub(crate) struct Load {
    pub label: Arc<str>,
    pub caps: CapabilitySet,
    pub data: HostData,
}

impl Harness {
    pub fn new<P: HostProvider>(provider: P) -> Self {
        let interface = provider.interfaces()[0].versioned();
        let mut providers = Providers::new();
        providers.register(provider).unwrap();
        let mut table = HostFunctions::new();
        providers.define(&mut table).unwrap();
        Self {
            providers,
            table,
            audit: MemorySink::new(),
            interface,
        }
    }

    /// A load of `tenant/c` granted `caps`, with `config`.
    pub fn load(
        &self,
        tenant: Option<&str>,
        caps: CapabilitySet,
        config: &[(&str, &str)],
        on_denied: OnDenied,
    ) -> Load {
        let id = ComponentId::new(tenant, "c", None, Digest::of(b"c")).unwrap();
        let info = ComponentInfo::parse(&wat::parse_str("(component)").unwrap()).unwrap();
        let config: BTreeMap<String, String> = config
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let host = self
            .providers
            .configure(on_denied, &LoadContext::new(&id, &info, &caps, &config))
            .unwrap();
        Load {
            label: id.label().clone(),
            caps,
            data: Arc::new(host),
        }
    }

    /// Calls `function` of the provider's first interface as `load`.
    pub fn call(&self, load: &Load, function: &str, args: &[Value]) -> Result<Value, HostError> {
        self.call_in(&self.interface, load, function, args)
    }

    /// Calls `interface#function` as `load`.
    pub fn call_in(
        &self,
        interface: &str,
        load: &Load,
        function: &str,
        args: &[Value],
    ) -> Result<Value, HostError> {
        let f = self
            .table
            .get(interface, function)
            .unwrap_or_else(|| panic!("{interface}#{function} is not defined"));
        let mut cx =
            CallContext::new(&load.label, &load.caps, &self.audit).with_host_data(Some(&load.data));
        let mut results = [Value::Bool(false)];
        f(&mut cx, args, &mut results)?;
        let [r] = results;
        Ok(r)
    }
}
