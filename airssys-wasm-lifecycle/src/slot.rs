//! A version in a routing table: its compiled component, its warmed pool
//! of instances, its outcome window and its lifecycle hooks.

use std::sync::Arc;

use airssys_wasm::Component;

use crate::Shared;
use crate::error::Result;
use crate::health::Window;
use crate::hooks::Hooks;
use crate::options::DeployOptions;
use crate::pool::Pool;
use crate::registry::VersionInfo;

/// One version in a routing table: its component and its pool.
pub(crate) struct Slot {
    pub(crate) info: VersionInfo,
    pub(crate) component: Component,
    pub(crate) pool: Pool,
    pub(crate) window: Window,
    pub(crate) hooks: Hooks,
}

impl Shared {
    /// A version's slot: its component, a warmed pool.
    pub(crate) fn slot(&self, info: &VersionInfo, options: &DeployOptions) -> Result<Arc<Slot>> {
        let component = self.component(info, None)?;
        self.slot_of(info.clone(), component, options)
    }

    /// A fresh slot of the same version (a restart): the compiled version
    /// comes from the cache, which a policy change empties, so a restart
    /// never revives grants the present policy does not give.
    pub(crate) fn fresh(&self, slot: &Slot, options: &DeployOptions) -> Result<Arc<Slot>> {
        self.slot(&slot.info, options)
    }

    fn slot_of(
        &self,
        info: VersionInfo,
        component: Component,
        options: &DeployOptions,
    ) -> Result<Arc<Slot>> {
        let config: Vec<(String, String)> = options.config.clone().into_iter().collect();
        let hooks = Hooks::of(&component, &config)?;
        let bound = component
            .limits()
            .max_instances
            .map_or(options.pool_size, |m| m.min(options.pool_size));
        let pool = Pool::new(component.clone(), bound as usize, hooks.clone());
        pool.warm()?;
        Ok(Arc::new(Slot {
            info,
            component,
            pool,
            window: Window::default(),
            hooks,
        }))
    }
}
