//! The data of one store: what the replayed initializers produced, the
//! resource tables, fuel accounting across slices of a call, and the memory
//! and table limiter. Shared by the `instance` module (which builds and
//! runs the store) and the `abi` module (which lifts and lowers through it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use airssys_wasm_core::{AuditSink, CapabilitySet, GrowthLimiter, HostData, LimitExceeded, Limits};
use wasmi::{AsContextMut, Func, Global, Memory, Store};
use wasmtime_environ::component::{ResourceIndex, RuntimeComponentInstanceIndex, TrampolineIndex};

use crate::plan::Plan;
use crate::resources::Resources;

/// Fuel given to the guest at a time when the call has a timeout: the
/// deadline is checked each time a slice runs out.
pub const FUEL_SLICE: u64 = 1 << 20;

/// The data of one store.
pub(crate) struct StoreData {
    pub(crate) plan: Arc<Plan>,
    pub(crate) component: Arc<str>,
    pub(crate) capabilities: Arc<CapabilitySet>,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) host_data: Option<HostData>,
    pub(crate) max_call_data: u64,
    /// Nonzero while the guest runs its `realloc` or `post-return`, which
    /// may not call out of the component (the canonical ABI clears
    /// `may-leave` for them).
    pub(crate) may_not_leave: u32,
    pub(crate) limiter: Limiter,
    pub(crate) fuel: FuelMeter,
    pub(crate) resources: Resources,
    pub(crate) rt: Runtime,
    pub(crate) wasi: crate::wasi::Wasi,
}

impl StoreData {
    /// The component instance that defines `resource`, if this component
    /// defines it.
    pub(crate) fn defining_instance(
        &self,
        resource: ResourceIndex,
    ) -> Option<RuntimeComponentInstanceIndex> {
        let c = &self.plan.component;
        c.defined_resource_index(resource)
            .map(|d| c.defined_resource_instances[d])
    }
}

/// What the initializers produced.
#[derive(Default)]
pub(crate) struct Runtime {
    pub(crate) instances: Vec<(
        wasmi::Instance,
        wasmtime_environ::component::StaticModuleIndex,
    )>,
    pub(crate) memories: Vec<Option<Memory>>,
    pub(crate) reallocs: Vec<Option<Func>>,
    pub(crate) post_returns: Vec<Option<Func>>,
    pub(crate) dtors: Vec<Option<Func>>,
    pub(crate) trampolines: HashMap<TrampolineIndex, Func>,
    pub(crate) flags: HashMap<RuntimeComponentInstanceIndex, Global>,
}

/// Fuel accounting across slices of one call.
#[derive(Default)]
pub(crate) struct FuelMeter {
    /// Whether the engine meters fuel; when not, there is nothing to count.
    pub(crate) metered: bool,
    /// The call's budget; `None` is unlimited.
    pub(crate) budget: Option<u64>,
    /// Fuel used by earlier slices.
    pub(crate) consumed: u64,
    /// Fuel given in the current slice.
    pub(crate) granted: u64,
    /// When the call must stop.
    pub(crate) deadline: Option<Instant>,
}

impl FuelMeter {
    pub(crate) fn remaining(&self) -> u64 {
        self.budget
            .map_or(u64::MAX, |b| b.saturating_sub(self.consumed))
    }

    fn slice(&self) -> u64 {
        let remaining = self.remaining();
        if self.deadline.is_some() {
            remaining.min(FUEL_SLICE)
        } else {
            remaining
        }
    }
}

/// Counts the fuel the current slice used and grants the next slice.
/// Called at the start of a call and before the host calls back into the
/// guest (`realloc`, destructors).
pub(crate) fn refuel<T: AsContextMut<Data = StoreData>>(store: &mut T) {
    let mut ctx = store.as_context_mut();
    if !ctx.data().fuel.metered {
        return;
    }
    let left = ctx.get_fuel().unwrap_or(0);
    let meter = &mut ctx.data_mut().fuel;
    meter.consumed += meter.granted.saturating_sub(left);
    let next = meter.slice();
    meter.granted = next;
    ctx.set_fuel(next)
        .expect("a metered store's engine meters fuel");
}

/// Memory and table limits of one store: core's accounting; wasmi's
/// limiter can only say "denied", so the limit hit is kept for `classify`.
pub(crate) struct Limiter {
    pub(crate) growth: GrowthLimiter,
    pub(crate) exceeded: Option<LimitExceeded>,
}

impl Limiter {
    fn check(
        &mut self,
        r: std::result::Result<bool, LimitExceeded>,
    ) -> std::result::Result<bool, wasmi_core::LimiterError> {
        r.map_err(|hit| {
            self.exceeded = Some(hit);
            wasmi_core::LimiterError::ResourceLimiterDeniedAllocation
        })
    }
}

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> std::result::Result<bool, wasmi_core::LimiterError> {
        let r = self.growth.memory_growing(current, desired, maximum);
        self.check(r)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> std::result::Result<bool, wasmi_core::LimiterError> {
        let r = self.growth.table_growing(current, desired, maximum);
        self.check(r)
    }

    fn instances(&self) -> usize {
        10_000
    }

    fn tables(&self) -> usize {
        10_000
    }

    fn memories(&self) -> usize {
        10_000
    }
}

/// Resets fuel and deadline for the next entry into the guest.
pub(crate) fn arm(store: &mut Store<StoreData>, limits: &Limits) -> Instant {
    let now = Instant::now();
    let meter = &mut store.data_mut().fuel;
    if !meter.metered {
        return now;
    }
    *meter = FuelMeter {
        metered: true,
        budget: limits.fuel,
        consumed: 0,
        granted: 0,
        deadline: limits.timeout.map(|t| now + t),
    };
    store
        .set_fuel(0)
        .expect("a metered store's engine meters fuel");
    refuel(store);
    now
}
