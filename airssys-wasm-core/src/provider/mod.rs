//! Host capabilities as providers: each one a small unit behind one trait.
//!
//! A [`HostProvider`] serves one or more WIT interfaces. It says which
//! ones ([`HostProvider::interfaces`]) and which capability kind each one's
//! calls check ([`Interface::checks`]); it is configured once per loaded
//! component ([`HostProvider::configure`], from what the manifest, the
//! policy and the load options decided: [`LoadContext`]) into a state of
//! its own; and it defines its functions into the host-function table
//! ([`HostProvider::define`]), where each call reaches the caller's state
//! ([`Caller::state`]) without a lookup by name.
//!
//! A [`Providers`] registry holds the providers of one runtime. It refuses
//! two providers serving one interface, defines them all into a table
//! (refusing a table that already defines one of their interfaces), tells
//! which capability an import needs ([`Providers::capability_for`]: WASI by
//! [`CapabilityKind::for_import`], every other interface by the provider
//! that serves it), and configures every provider for a load
//! ([`Providers::configure`]), giving the [`LoadedHost`] the load's
//! instances carry as their [`HostData`](crate::HostData).
//!
//! ```
//! use std::sync::Arc;
//! use airssys_wasm_core::provider::{self, Caller, HostProvider, Interface, LoadContext, ProviderTable, Providers};
//! use airssys_wasm_core::{AuditSink, CapabilityKind, CapabilitySet, HostFunctions, MemorySink, Result, Value};
//!
//! /// `example:app/greeting@0.1.0`: `hello() -> string`, from the component's config.
//! struct Greeting;
//!
//! impl HostProvider for Greeting {
//!     type State = String;
//!     fn name(&self) -> &'static str { "greeting" }
//!     fn interfaces(&self) -> &'static [Interface] {
//!         const I: &[Interface] = &[Interface::new("example:app/greeting", "0.1.0", None)];
//!         I
//!     }
//!     fn configure(&self, load: &LoadContext<'_>) -> Result<String> {
//!         Ok(load.config().get("greeting").cloned().unwrap_or_else(|| "hello".into()))
//!     }
//!     fn define(&self, table: &mut ProviderTable<'_, Self>) {
//!         table.func("example:app/greeting", "hello", |_, _, caller: &Caller<'_, String>, _| {
//!             Ok(Value::String(caller.state().clone()))
//!         });
//!     }
//! }
//!
//! let mut providers = Providers::new();
//! providers.register(Greeting).unwrap();
//! let mut table = HostFunctions::new();
//! providers.define(&mut table).unwrap();
//! assert!(table.provides_interface("example:app/greeting@0.1.0"));
//! assert_eq!(providers.capability_for("example:app/greeting@0.1.0"), None);
//! assert_eq!(providers.capability_for("wasi:random/random@0.2.6"), Some(CapabilityKind::Random));
//! ```

mod registry;
mod reply;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::capped;
use crate::capability::{CapabilityKind, CapabilitySet, Decision, Request};
use crate::component::ComponentInfo;
use crate::error::Result;
use crate::host::{CallContext, HostError, HostFunctions};
use crate::identity::{ComponentId, DEFAULT_TENANT};
use crate::value::Value;

pub use registry::Providers;
pub use reply::{bytes, bytes_value, err, limit, ok, string};

/// How a denial by a provider reaches the guest (a policy's `on-denied`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDenied {
    /// As the `error` case of the function's WIT `result` (the default).
    #[default]
    Error,
    /// As a trap that ends the call.
    Trap,
}

/// A WIT interface a provider serves, and the capability its calls check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    /// The interface's name without version: `airssys:host/key-value`.
    pub name: &'static str,
    /// The version the provider serves: `0.1.0`.
    pub version: &'static str,
    /// The capability kind its calls check; `None` when they need no
    /// grant (logging, config).
    pub checks: Option<CapabilityKind>,
}

impl Interface {
    /// An interface `name@version` whose calls check `checks`.
    pub const fn new(
        name: &'static str,
        version: &'static str,
        checks: Option<CapabilityKind>,
    ) -> Self {
        Self {
            name,
            version,
            checks,
        }
    }

    /// The name a component imports: `airssys:host/key-value@0.1.0`.
    pub fn versioned(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// Whether `import` names this interface (of any version).
    pub fn is(&self, import: &str) -> bool {
        import.split('@').next() == Some(self.name)
    }
}

/// What a provider is told about a component it is configured for: what
/// its manifest, the policy and the load options decided.
pub struct LoadContext<'a> {
    id: Option<&'a ComponentId>,
    capabilities: &'a CapabilitySet,
    config: &'a BTreeMap<String, String>,
    info: Option<&'a ComponentInfo>,
}

impl<'a> LoadContext<'a> {
    /// The context of the load `id` of the component `info`, with its
    /// grants and config.
    pub fn new(
        id: &'a ComponentId,
        info: &'a ComponentInfo,
        capabilities: &'a CapabilitySet,
        config: &'a BTreeMap<String, String>,
    ) -> Self {
        Self {
            id: Some(id),
            capabilities,
            config,
            info: Some(info),
        }
    }

    /// The context of callers the host knows nothing of (instances made
    /// without host data): no identity, no grants, no config.
    pub fn unknown(capabilities: &'a CapabilitySet, config: &'a BTreeMap<String, String>) -> Self {
        Self {
            id: None,
            capabilities,
            config,
            info: None,
        }
    }

    /// The load's identity; `None` for unknown callers.
    pub fn id(&self) -> Option<&'a ComponentId> {
        self.id
    }

    /// The tenant whose data the component reaches.
    pub fn tenant(&self) -> &'a str {
        self.id.map_or(DEFAULT_TENANT, |id| id.tenant())
    }

    /// The component's grants.
    pub fn capabilities(&self) -> &'a CapabilitySet {
        self.capabilities
    }

    /// The component's config (manifest and policy, then the load options).
    pub fn config(&self) -> &'a BTreeMap<String, String> {
        self.config
    }

    /// The component's description; `None` for unknown callers.
    pub fn info(&self) -> Option<&'a ComponentInfo> {
        self.info
    }
}

/// One host capability: the interfaces it serves, its state per loaded
/// component, and its functions (see the [module documentation](self)).
pub trait HostProvider: Send + Sync + Sized + 'static {
    /// What the provider keeps for one loaded component.
    type State: Send + Sync + 'static;

    /// A short name, for errors (`key-value`).
    fn name(&self) -> &'static str;

    /// The interfaces it serves.
    fn interfaces(&self) -> &'static [Interface];

    /// Its state for one loaded component. A failure fails the load.
    fn configure(&self, load: &LoadContext<'_>) -> Result<Self::State>;

    /// Defines its functions (of its own interfaces only).
    fn define(&self, table: &mut ProviderTable<'_, Self>);
}

/// What the host keeps for one loaded component: its identity, how
/// denials reach it, and every provider's state for it. The runtime hands
/// it to the load's instances as their [`HostData`](crate::HostData).
pub struct LoadedHost {
    id: Option<ComponentId>,
    on_denied: OnDenied,
    states: Vec<Box<dyn Any + Send + Sync>>,
}

impl LoadedHost {
    /// The load's identity; `None` for unknown callers.
    pub fn id(&self) -> Option<&ComponentId> {
        self.id.as_ref()
    }

    /// How denials reach the component.
    pub fn on_denied(&self) -> OnDenied {
        self.on_denied
    }

    fn state<S: Any>(&self, index: usize) -> Option<&S> {
        self.states.get(index)?.downcast_ref()
    }
}

impl fmt::Debug for LoadedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedHost")
            .field("id", &self.id)
            .field("on_denied", &self.on_denied)
            .field("providers", &self.states.len())
            .finish()
    }
}

/// The caller of a provider's function: its load and the provider's state
/// for it.
pub struct Caller<'a, S> {
    host: &'a LoadedHost,
    state: &'a S,
}

impl<'a, S> Caller<'a, S> {
    /// The provider's state for the caller's load.
    pub fn state(&self) -> &'a S {
        self.state
    }

    /// The caller's identity; `None` for unknown callers.
    pub fn id(&self) -> Option<&'a ComponentId> {
        self.host.id()
    }

    /// The tenant whose data the caller reaches.
    pub fn tenant(&self) -> &'a str {
        self.host.id().map_or(DEFAULT_TENANT, |id| id.tenant())
    }

    /// How denials reach the caller.
    pub fn on_denied(&self) -> OnDenied {
        self.host.on_denied
    }

    /// Checks and audits a request. `Ok(None)`: allowed, go on.
    /// `Ok(Some(e))`: denied, return `e` (`error::denied`) to the guest.
    /// `Err`: denied and the policy says trap (or the audit log failed).
    pub fn gate(
        &self,
        cx: &CallContext<'_>,
        request: Request<'_>,
    ) -> Result<Option<Value>, HostError> {
        self.gate_as(cx, request, &capped(request))
    }

    /// [`Caller::gate`], where a denial shows the guest `shown` instead of
    /// the request (so that, say, a write denial reads the same whether
    /// the file exists).
    pub fn gate_as(
        &self,
        cx: &CallContext<'_>,
        request: Request<'_>,
        shown: &str,
    ) -> Result<Option<Value>, HostError> {
        let decision = cx.decide(request, self.denied_outcome())?;
        self.answer(request, shown, decision)
    }

    /// What the audit record says the guest gets for a denial.
    pub fn denied_outcome(&self) -> &'static str {
        match self.host.on_denied {
            OnDenied::Error => "the guest gets error::denied",
            OnDenied::Trap => "the call traps",
        }
    }

    /// The guest's answer to a decision already recorded: go on,
    /// `error::denied` (showing `shown`), or a trap.
    pub fn answer(
        &self,
        request: Request<'_>,
        shown: &str,
        decision: Decision,
    ) -> Result<Option<Value>, HostError> {
        match decision {
            Decision::Allowed => Ok(None),
            Decision::Denied => match self.host.on_denied {
                OnDenied::Trap => Err(HostError::Denied {
                    capability: request.kind(),
                    request: capped(shown),
                }),
                OnDenied::Error => Ok(Some(err("denied", capped(shown)))),
            },
        }
    }
}

/// Where a provider defines its functions ([`HostProvider::define`]).
pub struct ProviderTable<'a, P: HostProvider> {
    functions: &'a mut HostFunctions,
    provider: Arc<P>,
    index: usize,
    fallback: Arc<LoadedHost>,
    /// The first function defined outside the provider's interfaces.
    stray: Option<String>,
}

impl<P: HostProvider> ProviderTable<'_, P> {
    /// Defines `function` of `interface` (one of the provider's, named
    /// without version). `body` gets the call's context, the provider, the
    /// caller and the arguments, and returns the function's result (for a
    /// function without results, any value: it is dropped). A function of
    /// an interface the provider does not declare is refused: the
    /// registry's [`Providers::define`] fails, naming it.
    pub fn func<F>(&mut self, interface: &str, function: &str, body: F)
    where
        F: Fn(
                &mut CallContext<'_>,
                &P,
                &Caller<'_, P::State>,
                &[Value],
            ) -> Result<Value, HostError>
            + Send
            + Sync
            + 'static,
    {
        let Some(declared) = self
            .provider
            .interfaces()
            .iter()
            .find(|i| i.name == interface)
        else {
            self.stray
                .get_or_insert_with(|| format!("{interface}#{function}"));
            return;
        };
        let (provider, index, fallback) =
            (self.provider.clone(), self.index, self.fallback.clone());
        self.functions
            .define(declared.versioned(), function, move |cx, args, results| {
                // A load's own state, or the unknown callers' when the
                // caller carries none (or another registry's).
                let own = cx
                    .host_data::<LoadedHost>()
                    .and_then(|h| Some((h, h.state::<P::State>(index)?)));
                let (host, state) = match own {
                    Some(own) => own,
                    None => (&*fallback, fallback_state::<P>(&fallback, index)?),
                };
                let value = body(cx, &provider, &Caller { host, state }, args)?;
                if let Some(slot) = results.first_mut() {
                    *slot = value;
                }
                Ok(())
            });
    }
}

fn fallback_state<P: HostProvider>(
    fallback: &LoadedHost,
    index: usize,
) -> Result<&P::State, HostError> {
    fallback.state::<P::State>(index).ok_or_else(|| {
        HostError::Failed("the host provider's state is missing (a bug of the host)".into())
    })
}
