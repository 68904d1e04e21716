//! [`Providers`]: the providers of one runtime.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::{HostProvider, Interface, LoadContext, LoadedHost, OnDenied, ProviderTable};
use crate::capability::{CapabilityKind, CapabilitySet};
use crate::component::ComponentInfo;
use crate::error::{Error, Result};
use crate::host::HostFunctions;
use crate::identity::ComponentId;

/// A provider with its state type erased, so that one registry holds them
/// all.
trait Erased: Send + Sync {
    fn name(&self) -> &'static str;
    fn interfaces(&self) -> &'static [Interface];
    fn configure(&self, load: &LoadContext<'_>) -> Result<Box<dyn Any + Send + Sync>>;
    /// Defines the functions; the first one outside its interfaces, if any.
    fn define(
        self: Arc<Self>,
        functions: &mut HostFunctions,
        index: usize,
        fallback: Arc<LoadedHost>,
    ) -> Option<String>;
}

impl<P: HostProvider> Erased for P {
    fn name(&self) -> &'static str {
        HostProvider::name(self)
    }

    fn interfaces(&self) -> &'static [Interface] {
        HostProvider::interfaces(self)
    }

    fn configure(&self, load: &LoadContext<'_>) -> Result<Box<dyn Any + Send + Sync>> {
        Ok(Box::new(HostProvider::configure(self, load)?))
    }

    fn define(
        self: Arc<Self>,
        functions: &mut HostFunctions,
        index: usize,
        fallback: Arc<LoadedHost>,
    ) -> Option<String> {
        let mut table = ProviderTable {
            functions,
            provider: self.clone(),
            index,
            fallback,
            stray: None,
        };
        HostProvider::define(&*self, &mut table);
        table.stray
    }
}

/// The host providers of one runtime (see the [module documentation](super)).
#[derive(Clone, Default)]
pub struct Providers {
    entries: Vec<Arc<dyn Erased>>,
}

impl Providers {
    /// No providers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a provider. Fails when one of its interfaces is served by a
    /// provider already registered, naming both.
    pub fn register<P: HostProvider>(&mut self, provider: P) -> Result<&mut Self> {
        for interface in HostProvider::interfaces(&provider) {
            if let Some(other) = self.provider_of(interface.name) {
                return Err(Error::Backend(format!(
                    "host provider `{}` serves `{}`, which provider `{other}` serves already",
                    HostProvider::name(&provider),
                    interface.name
                )));
            }
        }
        self.entries.push(Arc::new(provider));
        Ok(self)
    }

    /// Every interface served, with the name of its provider.
    pub fn interfaces(&self) -> impl Iterator<Item = (&'static str, &'static Interface)> + '_ {
        self.entries
            .iter()
            .flat_map(|p| p.interfaces().iter().map(move |i| (p.name(), i)))
    }

    /// The name of the provider serving `import` (of any version).
    pub fn provider_of(&self, import: &str) -> Option<&'static str> {
        self.interfaces()
            .find(|(_, i)| i.is(import))
            .map(|(name, _)| name)
    }

    /// The capability an import needs: for WASI,
    /// [`CapabilityKind::for_import`]; for any other interface, what its
    /// provider declares ([`Interface::checks`]). `None` for imports that
    /// need no grant, and for those no provider serves.
    pub fn capability_for(&self, import: &str) -> Option<CapabilityKind> {
        if import.starts_with("wasi:") {
            return CapabilityKind::for_import(import);
        }
        self.interfaces()
            .find(|(_, i)| i.is(import))
            .and_then(|(_, i)| i.checks)
    }

    /// The kinds of capability `info`'s imports would need to do anything
    /// useful.
    pub fn needed_capabilities(
        &self,
        info: &ComponentInfo,
    ) -> std::collections::BTreeSet<CapabilityKind> {
        info.imports()
            .iter()
            .filter_map(|i| self.capability_for(&i.name))
            .collect()
    }

    /// Defines every provider's functions into `functions`. Fails when the
    /// table defines an interface a provider serves already (the embedder's
    /// functions may not replace a provider's), when a provider defines a
    /// function outside its interfaces, or when a provider cannot be
    /// configured for unknown callers (those without host data).
    pub fn define(&self, functions: &mut HostFunctions) -> Result<()> {
        if let Some((existing, provider)) = functions.interfaces().find_map(|(name, _)| {
            self.provider_of(name)
                .filter(|_| !name.is_empty())
                .map(|p| (name.to_owned(), p))
        }) {
            return Err(Error::Backend(format!(
                "`{existing}` is served by the host provider `{provider}`; host functions may \
                 not redefine it"
            )));
        }
        let (caps, config) = (CapabilitySet::new(), BTreeMap::new());
        let fallback = Arc::new(self.configure_with(
            None,
            OnDenied::Error,
            &LoadContext::unknown(&caps, &config),
        )?);
        for (index, provider) in self.entries.iter().enumerate() {
            if let Some(stray) = provider.clone().define(functions, index, fallback.clone()) {
                return Err(Error::Backend(format!(
                    "host provider `{}` defines `{stray}`, outside the interfaces it declares",
                    provider.name()
                )));
            }
        }
        Ok(())
    }

    /// Configures every provider for one load: the host data of its
    /// instances. Fails when a provider fails (an untyped failure names
    /// the provider).
    pub fn configure(&self, on_denied: OnDenied, load: &LoadContext<'_>) -> Result<LoadedHost> {
        self.configure_with(load.id().cloned(), on_denied, load)
    }

    fn configure_with(
        &self,
        id: Option<ComponentId>,
        on_denied: OnDenied,
        load: &LoadContext<'_>,
    ) -> Result<LoadedHost> {
        let states = self
            .entries
            .iter()
            .map(|p| {
                // A provider's own failure names it; a typed one (a file
                // that cannot be opened) keeps its class.
                p.configure(load).map_err(|e| match e {
                    Error::Backend(why) => Error::Backend(format!(
                        "host provider `{}` cannot be configured: {why}",
                        p.name()
                    )),
                    e => e,
                })
            })
            .collect::<Result<_>>()?;
        Ok(LoadedHost {
            id,
            on_denied,
            states,
        })
    }
}

impl fmt::Debug for Providers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|p| p.name()))
            .finish()
    }
}
