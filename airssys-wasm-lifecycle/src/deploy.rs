//! Deployments: a name served by a version, with a canary beside it, from
//! pools of instances; upgraded, promoted and rolled back by switching one
//! routing table atomically.
//!
//! A call reads the routing table (one shared read lock and a reference
//! count), picks the active version or the canary, and leases an instance
//! from that version's pool. A switch replaces the table and retires the
//! versions that left it: calls already holding one of their instances
//! finish on it, callers waiting for one route again, and the retired
//! instances are shut down and dropped as they come back. No call fails
//! because of a switch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use airssys_wasm::{Component, ComponentId, ErrorClass, LifecycleStep, Usage, Value};

use crate::Shared;
use crate::error::{Error, Result};
use crate::health::{self, Health, HealthState, Probe};
use crate::options::{DeployOptions, RollbackPolicy, Split};
use crate::pool::{Refused, Wait};
use crate::registry::{CandidateRecord, DeploymentRecord, VersionInfo};
use crate::slot::Slot;
use crate::supervise::{Child, ChildState, Exit, Group, Supervised};

/// What a call through a deployment returned, and which version served it.
#[derive(Clone, Debug, PartialEq)]
pub struct Served {
    /// The identity of the version that served the call.
    pub component: ComponentId,
    /// The call's results.
    pub values: Vec<Value>,
    /// What the call used (fuel, peak memory, time).
    pub usage: Usage,
}

impl Served {
    /// The version that served the call.
    pub fn version(&self) -> &str {
        self.component.version().unwrap_or_default()
    }
}

#[derive(Clone)]
struct Candidate {
    slot: Arc<Slot>,
    split: Split,
    rollback: Option<RollbackPolicy>,
}

struct Routing {
    active: Arc<Slot>,
    candidate: Option<Candidate>,
    /// The version that was active before the last upgrade or promotion:
    /// where [`Deployment::rollback`] returns without a canary.
    previous: Option<String>,
}

impl Routing {
    fn slots(&self) -> impl Iterator<Item = &Arc<Slot>> {
        std::iter::once(&self.active).chain(self.candidate.as_ref().map(|c| &c.slot))
    }

    fn pick(&self, key: Option<&str>, counter: &AtomicU64) -> (&Arc<Slot>, Option<&Candidate>) {
        let Some(c) = &self.candidate else {
            return (&self.active, None);
        };
        let bucket = match (c.split, key) {
            (Split::Keyed(_), Some(k)) => key_bucket(k),
            // 37 is prime to 100: consecutive calls visit every bucket once
            // in 100, so any share is spread evenly.
            _ => counter.fetch_add(1, Ordering::Relaxed).wrapping_mul(37) % 100,
        };
        if bucket < c.split.percent() {
            (&c.slot, Some(c))
        } else {
            (&self.active, None)
        }
    }
}

/// A key's bucket (0 to 99): its hash, the same in every process.
fn key_bucket(key: &str) -> u64 {
    let hash = blake3::hash(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(first) % 100
}

/// A deployed component: a name (`tenant/name`) served by an active
/// version and perhaps a canary, supervised and health-checked. Made by
/// [`Lifecycle::deploy`](crate::Lifecycle::deploy).
pub struct Deployment {
    name: String,
    pub(crate) seq: u64,
    shared: Arc<Shared>,
    routing: RwLock<Arc<Routing>>,
    pub(crate) options: DeployOptions,
    counter: AtomicU64,
    child: Child,
    group: Arc<Group>,
    health: HealthState,
}

/// What a deployment is doing, for operators.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    /// The deployment's name.
    pub name: String,
    /// The version serving calls.
    pub active: String,
    /// The canary and its share, if there is one.
    pub candidate: Option<(String, Split)>,
    /// Its supervision state.
    pub state: ChildState,
    /// Its health.
    pub health: Health,
    /// Instances alive in the active version's pool.
    pub instances: usize,
}

impl Deployment {
    pub(crate) fn start(
        shared: Arc<Shared>,
        seq: u64,
        info: VersionInfo,
        options: DeployOptions,
        group: Arc<Group>,
    ) -> Result<Arc<Self>> {
        let active = shared.slot(&info, &options)?;
        let dep = Arc::new(Self {
            name: info.deployment(),
            seq,
            routing: RwLock::new(Arc::new(Routing {
                active,
                candidate: None,
                previous: None,
            })),
            child: Child::new(options.restart, options.crash_on),
            options,
            counter: AtomicU64::new(0),
            group,
            health: HealthState::new(),
            shared,
        });
        dep.child.running();
        let weak: std::sync::Weak<dyn Supervised> = Arc::downgrade(&dep) as _;
        dep.group.join(weak);
        Ok(dep)
    }

    /// The deployment's name: `tenant/name`, or `name` for the default
    /// tenant.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its supervision group.
    pub fn group(&self) -> &Group {
        &self.group
    }

    fn routing(&self) -> Arc<Routing> {
        self.routing
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Calls an export on the version routing gives, waiting up to the
    /// queue time for an instance.
    ///
    /// Fails with [`Error::Unavailable`] when none frees up in time or the
    /// deployment is restarting, stopped or failed; with
    /// [`Error::Runtime`] when the call itself fails (a trap is also a
    /// crash of the deployment, which its supervisor handles).
    pub fn call(&self, function: &str, args: &[Value]) -> Result<Served> {
        self.call_routed(None, function, args)
    }

    /// Like [`Deployment::call`], routing a canary split by key
    /// ([`Split::Keyed`]) by `key`'s hash.
    pub fn call_keyed(&self, key: &str, function: &str, args: &[Value]) -> Result<Served> {
        self.call_routed(Some(key), function, args)
    }

    fn call_routed(&self, key: Option<&str>, function: &str, args: &[Value]) -> Result<Served> {
        // One queue time for the call, across the pools it may be routed to.
        let mut wait = Wait::within(self.options.queue_time);
        loop {
            self.child.admit(self)?;
            let routing = self.routing();
            let (slot, candidate) = routing.pick(key, &self.counter);
            let mut lease = match slot.pool.lease(Some(&mut wait)) {
                Ok(lease) => lease,
                Err(Refused::Retired) => continue,
                Err(Refused::Busy) => {
                    return Err(Error::unavailable(
                        &self.name,
                        format!(
                            "all {} instances of version `{}` stayed busy for the queue time ({:?})",
                            slot.pool.max(),
                            slot.info.version,
                            self.options.queue_time
                        ),
                    ));
                }
                Err(Refused::Failed(e)) => return Err(e),
            };
            let result = lease.call(function, args);
            drop(lease);
            self.after_call(slot, candidate, result.as_ref().err());
            return match result {
                Ok((values, usage)) => Ok(Served {
                    component: slot.component.id().clone(),
                    values,
                    usage,
                }),
                Err(e) => Err(Error::Runtime(e)),
            };
        }
    }

    fn after_call(
        &self,
        slot: &Arc<Slot>,
        candidate: Option<&Candidate>,
        error: Option<&airssys_wasm::Error>,
    ) {
        // A wrong call is the caller's failure, not the version's.
        let ok = error.is_none_or(|e| e.class() == ErrorClass::BadCall);
        let now = self.now();
        slot.window.record(now, ok);
        if let (Some(c), false) = (candidate, ok)
            && let Some(policy) = c.rollback
        {
            let (calls, failed) = slot.window.rate(now, policy.window);
            if health::over(calls, failed, policy.min_calls, policy.max_failure_rate) {
                let reason = format!(
                    "{}, more than its rollback policy allows ({:.0}%)",
                    health::describe_rate(calls, failed, policy.window),
                    policy.max_failure_rate * 100.0
                );
                // Only the first caller to see the threshold passed rolls
                // back; the others find the canary gone.
                let _ = self.roll_back_slot(&c.slot, &reason);
            }
        }
        // A canary's crashes are its rollback policy's to judge: they do not
        // restart (or fail) the deployment its active version serves.
        if candidate.is_none()
            && let Some(exit) = error.and_then(|e| Exit::of(e, &self.child.crash_on))
        {
            self.child.ended(self, &self.group, &exit);
        }
    }

    /// The version serving calls.
    pub fn active(&self) -> VersionInfo {
        self.routing().active.info.clone()
    }

    /// How it serves (pool size, queue time, supervision, health).
    pub fn options(&self) -> &DeployOptions {
        &self.options
    }

    /// The active version's compiled component (its exports' types, for a
    /// caller that parses arguments).
    pub fn active_component(&self) -> Component {
        self.routing().active.component.clone()
    }

    /// The canary, if there is one.
    pub fn candidate(&self) -> Option<(VersionInfo, Split)> {
        self.routing()
            .candidate
            .as_ref()
            .map(|c| (c.slot.info.clone(), c.split))
    }

    /// Its supervision state.
    pub fn state(&self) -> ChildState {
        self.child.state()
    }

    /// Its health, as of the last [`Lifecycle::tick`](crate::Lifecycle::tick).
    pub fn health(&self) -> Health {
        self.health.lock().current.clone()
    }

    /// All of the above at once.
    pub fn status(&self) -> Status {
        let routing = self.routing();
        Status {
            name: self.name.clone(),
            active: routing.active.info.version.clone(),
            candidate: routing
                .candidate
                .as_ref()
                .map(|c| (c.slot.info.version.clone(), c.split)),
            state: self.state(),
            health: self.health(),
            instances: routing.active.pool.live(),
        }
    }

    /// Switches every call to `version`: it is compiled and its first
    /// instance made (and `init` run) before the switch, so a version that
    /// fails to load, instantiate or init is refused and the running one
    /// keeps serving. Calls in flight finish on the old version; its
    /// instances drain and are dropped. A canary is dropped too.
    pub fn upgrade(&self, version: &str) -> Result<()> {
        let info = self
            .shared
            .registry
            .get(self.tenant(), self.component(), version)?;
        let slot = self.shared.slot(&info, &self.options)?;
        let from = self.switch(|r| {
            Some(Routing {
                active: slot.clone(),
                candidate: None,
                previous: Some(r.active.info.version.clone())
                    .filter(|v| *v != slot.info.version)
                    .or_else(|| r.previous.clone()),
            })
        });
        self.persist()?;
        let from = from
            .map(|r| r.active.info.version.clone())
            .unwrap_or_default();
        self.audit(&slot, LifecycleStep::Swapped, format!("from {from}"))
    }

    /// Sends `split` of the calls to `version` beside the active one
    /// (replacing an earlier canary). With a `rollback` policy, a canary
    /// failing too often is rolled back by itself.
    pub fn canary(
        &self,
        version: &str,
        split: Split,
        rollback: Option<RollbackPolicy>,
    ) -> Result<()> {
        let info = self
            .shared
            .registry
            .get(self.tenant(), self.component(), version)?;
        let slot = self.shared.slot(&info, &self.options)?;
        self.switch(|r| {
            Some(Routing {
                active: r.active.clone(),
                candidate: Some(Candidate {
                    slot: slot.clone(),
                    split,
                    rollback,
                }),
                previous: r.previous.clone(),
            })
        });
        self.persist()?;
        self.audit(
            &slot,
            LifecycleStep::Canary,
            format!("{split} beside {}", self.active().version),
        )
    }

    /// Makes the canary the active version, at once.
    pub fn promote(&self) -> Result<()> {
        let mut promoted = None;
        let old = self.switch(|r| {
            let c = r.candidate.as_ref()?;
            promoted = Some(c.slot.clone());
            Some(Routing {
                active: c.slot.clone(),
                candidate: None,
                previous: Some(r.active.info.version.clone()),
            })
        });
        let (Some(slot), Some(old)) = (promoted, old) else {
            return Err(Error::Refused(format!(
                "`{}` has no canary to promote",
                self.name
            )));
        };
        self.persist()?;
        self.audit(
            &slot,
            LifecycleStep::Promoted,
            format!("from {}", old.active.info.version),
        )
    }

    /// With a canary: sends every call back to the active version and
    /// drops the canary, at once. Without one: returns to the version that
    /// was active before the last upgrade or promotion (compiled and warmed
    /// first, as an upgrade is), and forgets it, so a second rollback does
    /// not swing back.
    pub fn rollback(&self) -> Result<()> {
        let routing = self.routing();
        if let Some(slot) = routing.candidate.as_ref().map(|c| c.slot.clone()) {
            return self.roll_back_slot(&slot, "by the operator");
        }
        let Some(previous) = routing.previous.clone() else {
            return Err(Error::Refused(format!(
                "`{}` has no canary and no earlier version to roll back to (it has served only `{}` since it was deployed or last rolled back)",
                self.name, routing.active.info.version
            )));
        };
        drop(routing);
        let info = self
            .shared
            .registry
            .get(self.tenant(), self.component(), &previous)?;
        let slot = self.shared.slot(&info, &self.options)?;
        let from = self.switch(|_| {
            Some(Routing {
                active: slot.clone(),
                candidate: None,
                previous: None,
            })
        });
        self.persist()?;
        let from = from
            .map(|r| r.active.info.version.clone())
            .unwrap_or_default();
        self.audit(
            &slot,
            LifecycleStep::RolledBack,
            format!("to {previous} from {from}: by the operator"),
        )
    }

    /// The version a rollback without a canary returns to.
    pub fn previous(&self) -> Option<String> {
        self.routing().previous.clone()
    }

    /// Sets the version a rollback returns to (restoring a record).
    pub(crate) fn set_previous(&self, previous: Option<String>) {
        self.switch(|r| {
            Some(Routing {
                active: r.active.clone(),
                candidate: r.candidate.clone(),
                previous: previous.clone(),
            })
        });
    }

    fn roll_back_slot(&self, slot: &Arc<Slot>, reason: &str) -> Result<()> {
        let old = self.switch(|r| {
            let c = r.candidate.as_ref()?;
            Arc::ptr_eq(&c.slot, slot).then(|| Routing {
                active: r.active.clone(),
                candidate: None,
                previous: r.previous.clone(),
            })
        });
        if old.is_none() {
            return Err(Error::Refused(format!(
                "`{}` has no such canary",
                self.name
            )));
        }
        self.persist()?;
        let to = self.active().version;
        self.audit(
            slot,
            LifecycleStep::RolledBack,
            format!("to {to}: {reason}"),
        )
    }

    /// Restarts the deployment now with fresh instances, forgetting its
    /// restart history: for an operator bringing back a `Stopped` or
    /// `Failed` deployment.
    pub fn restart(&self) -> Result<()> {
        self.child.reset();
        self.renew()?;
        self.child.running();
        self.health.lock().failing = 0;
        self.audit_active(LifecycleStep::Restarted, "by the operator".into())
    }

    /// Loads every version it serves again (under the lifecycle's present
    /// policy) and switches to them; on failure the deployment is marked
    /// failed and its pools retired: it serves nothing rather than go on
    /// with grants the policy no longer gives.
    pub(crate) fn reload(&self) -> Result<()> {
        // A restart's renewal loads from the compiled cache, which the
        // policy change emptied.
        match self.renew() {
            Ok(()) => {
                self.child.running();
                Ok(())
            }
            Err(e) => {
                for slot in self.routing().slots() {
                    slot.pool.retire();
                }
                self.child
                    .fail(self, format!("the reloaded policy refuses it: {e}"));
                Err(e)
            }
        }
    }

    /// Replaces every version's pool with a fresh one (a restart).
    pub(crate) fn renew(&self) -> Result<()> {
        let routing = self.routing();
        let active = self.shared.fresh(&routing.active, &self.options)?;
        let mut candidate = match &routing.candidate {
            Some(c) => Some(Candidate {
                slot: self.shared.fresh(&c.slot, &self.options)?,
                split: c.split,
                rollback: c.rollback,
            }),
            None => None,
        };
        self.switch(|r| {
            Some(Routing {
                active: active.clone(),
                candidate: candidate.take(),
                previous: r.previous.clone(),
            })
        });
        Ok(())
    }

    /// Replaces the routing table with what `next` makes of it (nothing
    /// when it gives `None`), retiring the versions that left it; returns
    /// the table replaced.
    fn switch(&self, next: impl FnOnce(&Routing) -> Option<Routing>) -> Option<Arc<Routing>> {
        let mut current = self.routing.write().unwrap_or_else(|p| p.into_inner());
        let replacement = Arc::new(next(&current)?);
        let old = std::mem::replace(&mut *current, replacement.clone());
        drop(current);
        for slot in old.slots() {
            if !replacement.slots().any(|s| Arc::ptr_eq(s, slot)) {
                slot.pool.retire();
            }
        }
        Some(old)
    }

    fn persist(&self) -> Result<()> {
        let routing = self.routing();
        let record = DeploymentRecord {
            seq: self.seq,
            tenant: self.tenant().to_owned(),
            name: self.component().to_owned(),
            active: routing.active.info.version.clone(),
            candidate: routing.candidate.as_ref().map(|c| CandidateRecord {
                version: c.slot.info.version.clone(),
                split: c.split,
                rollback: c.rollback,
            }),
            previous: routing.previous.clone(),
            options: self.options.clone(),
        };
        self.shared
            .registry
            .put_deployment(&self.name, Some(&record))
    }

    pub(crate) fn record(&self) -> Result<()> {
        self.persist()
    }

    fn tenant(&self) -> &str {
        // The active version's tenant is the deployment's.
        self.name
            .split_once('/')
            .map_or(airssys_wasm::core::DEFAULT_TENANT, |(t, _)| t)
    }

    fn component(&self) -> &str {
        self.name.split_once('/').map_or(&self.name, |(_, n)| n)
    }

    /// Whether `version` serves (actively or as the canary).
    pub(crate) fn serves(&self, version: &str) -> bool {
        self.routing().slots().any(|s| s.info.version == version)
    }

    fn audit(&self, slot: &Slot, step: LifecycleStep, detail: String) -> Result<()> {
        self.shared.audit(slot.component.id(), step, detail)
    }

    pub(crate) fn audit_active(&self, step: LifecycleStep, detail: String) -> Result<()> {
        let routing = self.routing();
        self.audit(&routing.active, step, detail)
    }

    /// The supervisor gave up: the deployment is unhealthy.
    pub(crate) fn child_failed(&self) {
        let reason = self.child.reason();
        self.set_health(Health::Failed(reason));
    }

    fn set_health(&self, next: Health) {
        let mut h = self.health.lock();
        if h.current == next {
            return;
        }
        let detail = format!("{} -> {next}", h.current);
        h.current = next;
        drop(h);
        // A change of health has no caller to fail: the sink's own
        // handling of a refused event applies.
        let _ = self.audit_active(LifecycleStep::Health, detail);
    }

    /// Makes a due restart, polls a due health check, and takes the passive
    /// health: what [`Lifecycle::tick`](crate::Lifecycle::tick) does for each deployment.
    pub(crate) fn tick(&self) {
        if self.child.due().is_some_and(|d| self.now() >= d) {
            let _ = self.child.restart_due(self);
        }
        let routing = self.routing();
        let now = self.now();
        let next = self.assess(&routing.active, now);
        if let Some(next) = next {
            let failed_by_checks =
                matches!(next, Health::Failed(_)) && self.child.state() != ChildState::Failed;
            self.set_health(next.clone());
            if failed_by_checks && self.options.crash_on.unhealthy {
                let cause = format!("its health checks failed: {next}");
                self.child.ended(
                    self,
                    &self.group,
                    &Exit {
                        normal: false,
                        cause,
                    },
                );
            }
        }
    }

    /// The health the active version's checks and calls give it now, if
    /// anything was decided.
    fn assess(&self, slot: &Arc<Slot>, now: Instant) -> Option<Health> {
        if self.child.state() == ChildState::Failed {
            return Some(Health::Failed(self.child.reason()));
        }
        let mut h = self.health.lock();
        if slot.hooks.health && h.next_poll.is_none_or(|t| now >= t) {
            h.next_poll = Some(now + self.options.health.interval);
            if h.probe
                .as_ref()
                .is_none_or(|p| p.digest != slot.info.digest)
            {
                let limits = self.options.health.limits(slot.component.limits());
                match self.shared.component(&slot.info, Some(limits)) {
                    Ok(component) => {
                        h.probe = Some(Probe {
                            digest: slot.info.digest.clone(),
                            component,
                            hooks: slot.hooks.clone(),
                            instance: None,
                        })
                    }
                    Err(e) => {
                        return Some(Health::Failed(format!(
                            "its health check cannot be loaded: {e}"
                        )));
                    }
                }
            }
            let checked = h.probe.as_mut().map(Probe::check).unwrap_or(Ok(()));
            match checked {
                Ok(()) => h.failing = 0,
                Err(why) => {
                    h.failing += 1;
                    h.last_failure = why;
                }
            }
        }
        if h.failing >= self.options.health.failures.max(1) {
            return Some(Health::Failed(format!(
                "`health` failed {} times in a row: {}",
                h.failing, h.last_failure
            )));
        }
        if h.failing > 0 {
            return Some(Health::Degraded(format!(
                "`health` failed: {}",
                h.last_failure
            )));
        }
        drop(h);
        let p = self.options.passive;
        let (calls, failed) = slot.window.rate(now, p.window);
        if health::over(calls, failed, p.min_calls, p.max_error_rate) {
            return Some(Health::Degraded(health::describe_rate(
                calls, failed, p.window,
            )));
        }
        Some(Health::Healthy)
    }

    /// Leaves the group; drains every version.
    pub(crate) fn stop(&self) {
        self.group.leave(self);
        self.health.lock().probe = None;
        for slot in self.routing().slots() {
            slot.pool.retire();
        }
    }
}

impl Supervised for Deployment {
    fn name(&self) -> &str {
        &self.name
    }

    fn now(&self) -> Instant {
        self.shared.clock.now()
    }

    fn child(&self) -> &Child {
        &self.child
    }

    fn renew(&self) -> Result<()> {
        Deployment::renew(self)
    }

    fn audit_active(&self, step: LifecycleStep, detail: String) -> Result<()> {
        Deployment::audit_active(self, step, detail)
    }

    fn child_failed(&self) {
        Deployment::child_failed(self)
    }
}
