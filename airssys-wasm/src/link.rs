//! Run-time linking: an app's imported interface served by a separately
//! loaded provider component.
//!
//! The app is loaded with [`crate::LoadOptions::linked`] for the import;
//! its functions are bound to forwarders that read a slot, and
//! [`crate::Runtime::link`] fills (or later replaces) the slot with a
//! provider. Each side keeps its own store, capability set, limits, fuel and
//! audit identity: the provider's grants never reach the app, and the app
//! can call only what the provider exports under the imported interface.
//! Values cross as core [`Value`]s; resource handles do not cross a link
//! (reserving an interface that passes resources fails at load). A provider call
//! that fails reaches the app as [`crate::Error::HostFailed`] naming the
//! provider; the app's instance stays usable, and the provider gets a fresh
//! instance on the next call. Links are one-way: a provider must not call
//! back into its app (it would wait on itself).

use std::sync::{Arc, Mutex, RwLock};

use airssys_wasm_core::{AuditKind, Error, FuncType, HostError, HostFunctions, Value};

/// What a link needs of a provider component: its name and fresh
/// instances. The runtime's `Component` implements it; a trait keeps this
/// module from depending on the runtime.
pub(crate) trait Linkable: Send + Sync {
    /// The provider's name, for audit records and errors.
    fn name(&self) -> &str;
    /// A new instance of the provider.
    fn instantiate(&self) -> Result<Box<dyn LinkedInstance>, Error>;
}

/// An instance of a provider: what a forwarder calls.
pub(crate) trait LinkedInstance: Send {
    /// Calls the export `name` (`interface#function`).
    fn call(&mut self, name: &str, args: &[Value]) -> Result<Vec<Value>, Error>;
}

/// The current provider of one linked import.
pub(crate) struct Provider {
    component: Box<dyn Linkable>,
    instance: Mutex<Option<Box<dyn LinkedInstance>>>,
}

/// One linked import of one app.
#[derive(Default)]
pub(crate) struct LinkSlot {
    provider: RwLock<Option<Arc<Provider>>>,
}

impl LinkSlot {
    pub fn set(&self, component: Box<dyn Linkable>) {
        *self.provider.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(Provider {
            component,
            instance: Mutex::new(None),
        }));
    }

    fn current(&self) -> Option<Arc<Provider>> {
        self.provider
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Adds forwarders for every function of `interface` to `table`.
pub(crate) fn define_forwarders(
    table: &mut HostFunctions,
    interface: &str,
    functions: &[(String, Arc<FuncType>)],
    slot: &Arc<LinkSlot>,
) {
    for (function, _) in functions {
        let slot = slot.clone();
        let call_name = format!("{interface}#{function}");
        let iface = interface.to_owned();
        table.define(interface, function.clone(), move |cx, args, results| {
            let provider = slot.current().ok_or_else(|| {
                HostError::Failed(format!(
                    "`{iface}` is not linked to a provider yet: call Runtime::link"
                ))
            })?;
            let outcome = forward(&provider, &call_name, args, results);
            cx.record(AuditKind::LinkCall {
                callee: provider.component.name().to_owned(),
                function: call_name.clone(),
                outcome: match &outcome {
                    Ok(()) => "ok".into(),
                    Err(e) => airssys_wasm_core::audit::capped(e),
                },
            })?;
            outcome.map_err(|e| {
                HostError::Failed(format!(
                    "provider `{}` failed in `{call_name}`: {e}",
                    provider.component.name()
                ))
            })
        });
    }
}

fn forward(
    provider: &Provider,
    call_name: &str,
    args: &[Value],
    results: &mut [Value],
) -> Result<(), Error> {
    let mut guard = provider.instance.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        *guard = Some(provider.component.instantiate()?);
    }
    let instance = guard.as_mut().expect("instantiated above");
    match instance.call(call_name, args) {
        Ok(values) => {
            for (slot, v) in results.iter_mut().zip(values) {
                *slot = v;
            }
            Ok(())
        }
        Err(e) => {
            // The provider's next call gets a fresh instance.
            *guard = None;
            Err(e)
        }
    }
}
