//! Supervision, named as airssys-rt (AirsSys's actor runtime) names it.
//!
//! Deployments are the children of a supervision [`Group`]. When a child
//! crashes (a trap, a limit hit or a timeout: which of them count is
//! [`CrashOn`]), the group's [`Strategy`] says which children restart:
//! `OneForOne` the crashed one, `OneForAll` every child, `RestForOne` the
//! crashed one and those deployed after it. The child's [`RestartPolicy`]
//! says whether it restarts at all. A restart is fresh instances of the same
//! version (their memory starts over; what a component keeps in key-value
//! stays), made when the restart is due: after a [`Backoff`] that doubles
//! with each restart within the [`Intensity`] window, with jitter. A child
//! that crashes more often than its intensity allows is `Failed`: callers
//! get [`Error::Unavailable`](crate::Error::Unavailable) until an operator
//! restarts it ([`Deployment::restart`](crate::Deployment::restart)). Every
//! transition is an audit event of the version concerned.
//!
//! ```
//! use std::time::Duration;
//! use airssys_wasm_lifecycle::{Backoff, GroupSpec, Intensity, Strategy};
//! let spec = GroupSpec {
//!     strategy: Strategy::OneForAll,
//!     intensity: Intensity { max_restarts: 3, within: Duration::from_secs(10) },
//!     backoff: Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1)),
//! };
//! assert_eq!(spec.backoff.delay(1, 0.5), Duration::from_millis(10));
//! assert_eq!(spec.backoff.delay(3, 0.5), Duration::from_millis(40));
//! assert_eq!(spec.backoff.delay(30, 0.5), Duration::from_secs(1));
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use airssys_wasm::{ErrorClass, LifecycleStep};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which children of a group restart when one crashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Strategy {
    /// Only the crashed child.
    #[default]
    OneForOne,
    /// Every child of the group.
    OneForAll,
    /// The crashed child and every child deployed after it.
    RestForOne,
}

/// Whether a child restarts after it ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    /// Always: after a crash and after a normal exit (`exit(0)`).
    #[default]
    Permanent,
    /// After a crash, not after a normal exit.
    Transient,
    /// Never: the child is `Stopped` when it ends.
    Temporary,
}

/// At most `max_restarts` restarts `within` a window; one more crash and
/// the child is `Failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intensity {
    /// Restarts allowed in the window.
    pub max_restarts: u32,
    /// The window.
    #[serde(with = "crate::ms")]
    pub within: Duration,
}

impl Default for Intensity {
    /// 10 restarts in 60 s.
    fn default() -> Self {
        Self {
            max_restarts: 10,
            within: Duration::from_secs(60),
        }
    }
}

/// The delay before a restart: `initial` for the first restart in the
/// intensity window, doubled for each one after, at most `max`, spread by
/// up to `jitter` (a fraction) either way.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    /// The delay of the first restart.
    #[serde(with = "crate::ms")]
    pub initial: Duration,
    /// The longest delay.
    #[serde(with = "crate::ms")]
    pub max: Duration,
    /// How far a delay may be spread, as a fraction of it (0 to 1).
    pub jitter: f64,
}

impl Backoff {
    /// Restarts at once.
    pub const fn none() -> Self {
        Self {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            jitter: 0.0,
        }
    }

    /// `initial`, doubling to `max`, with 10 % jitter.
    pub const fn exponential(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            jitter: 0.1,
        }
    }

    /// The delay of the `attempt`-th restart (from 1) in the window, for a
    /// `random` number in `[0, 1)` (0.5 is the delay without jitter).
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let doubled = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(31));
        let base = doubled.min(self.max).max(self.initial.min(self.max));
        let spread = self.jitter.clamp(0.0, 1.0) * (random.clamp(0.0, 1.0) * 2.0 - 1.0);
        base.mul_f64(1.0 + spread)
    }
}

impl Default for Backoff {
    /// 10 ms doubling to 5 s.
    fn default() -> Self {
        Self::exponential(Duration::from_millis(10), Duration::from_secs(5))
    }
}

/// Which failures of a call are crashes of the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashOn {
    /// Guest traps (and a non-zero `exit`).
    pub traps: bool,
    /// Fuel, memory, table, stack and instance limits.
    pub limits: bool,
    /// Wall-clock timeouts.
    pub timeouts: bool,
    /// Failing active health checks (the health state `Failed`).
    pub unhealthy: bool,
}

impl Default for CrashOn {
    /// Every kind.
    fn default() -> Self {
        Self {
            traps: true,
            limits: true,
            timeouts: true,
            unhealthy: true,
        }
    }
}

/// A supervision group's rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupSpec {
    /// Which children restart together.
    pub strategy: Strategy,
    /// How often a child may restart.
    pub intensity: Intensity,
    /// How long a restart waits.
    pub backoff: Backoff,
}

/// Where a child is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChildState {
    /// Its first instance is being made.
    Starting,
    /// Serving calls.
    Running,
    /// Crashed; fresh instances are made when the backoff has passed.
    Restarting,
    /// Ended and not restarted (its restart policy said so).
    Stopped,
    /// Crashed more often than its intensity allows, or could not be
    /// restarted.
    Failed,
}

impl ChildState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Starting,
            1 => Self::Running,
            2 => Self::Restarting,
            3 => Self::Stopped,
            _ => Self::Failed,
        }
    }
}

/// How a call ended a child, when it did.
#[derive(Clone, Debug)]
pub(crate) struct Exit {
    /// `exit(0)`: a normal end.
    pub(crate) normal: bool,
    /// What happened, in words.
    pub(crate) cause: String,
}

impl Exit {
    /// The exit a failed call means, when `crash_on` counts it.
    pub(crate) fn of(e: &airssys_wasm::Error, crash_on: &CrashOn) -> Option<Self> {
        if let airssys_wasm::Error::Exit { code: 0 } = e {
            return Some(Self {
                normal: true,
                cause: "exited normally".into(),
            });
        }
        let counted = match e.class() {
            ErrorClass::Trap => crash_on.traps,
            ErrorClass::Timeout => crash_on.timeouts,
            ErrorClass::OutOfFuel | ErrorClass::ResourceLimit | ErrorClass::StackOverflow => {
                crash_on.limits
            }
            _ => false,
        };
        counted.then(|| Self {
            normal: false,
            cause: e.to_string(),
        })
    }
}

/// A supervision group: its rules and its children in deployment order.
pub struct Group {
    pub(crate) name: String,
    pub(crate) spec: GroupSpec,
    members: Mutex<Vec<Weak<dyn Supervised>>>,
}

impl Group {
    pub(crate) fn new(name: &str, spec: GroupSpec) -> Self {
        Self {
            name: name.to_owned(),
            spec,
            members: Mutex::new(Vec::new()),
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its rules.
    pub fn spec(&self) -> &GroupSpec {
        &self.spec
    }

    pub(crate) fn join(&self, child: Weak<dyn Supervised>) {
        let mut members = self.members.lock().unwrap_or_else(|p| p.into_inner());
        members.retain(|m| m.strong_count() > 0);
        members.push(child);
    }

    pub(crate) fn leave(&self, child: &dyn Supervised) {
        let mut members = self.members.lock().unwrap_or_else(|p| p.into_inner());
        members.retain(|m| m.upgrade().is_some_and(|m| !same(&*m, child)));
    }

    /// The siblings a crash of `child` restarts with it.
    fn siblings(&self, child: &dyn Supervised) -> Vec<Arc<dyn Supervised>> {
        let members: Vec<Arc<dyn Supervised>> = self
            .members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let at = members.iter().position(|m| same(&**m, child));
        let others = members.iter().enumerate().filter(|(i, m)| {
            !same(&***m, child)
                && match self.spec.strategy {
                    Strategy::OneForOne => false,
                    Strategy::OneForAll => true,
                    Strategy::RestForOne => at.is_some_and(|a| *i > a),
                }
        });
        others.map(|(_, m)| m.clone()).collect()
    }
}

/// Whether two children are the same one.
fn same(a: &dyn Supervised, b: &dyn Supervised) -> bool {
    std::ptr::addr_eq(a as *const dyn Supervised, b as *const dyn Supervised)
}

/// What a supervisor needs of a child (a deployment).
pub(crate) trait Supervised: Send + Sync {
    /// Its name, for errors and audit details.
    fn name(&self) -> &str;
    /// Now, on the lifecycle's clock.
    fn now(&self) -> Instant;
    /// Its supervision state.
    fn child(&self) -> &Child;
    /// Replaces its instances with fresh ones (a restart).
    fn renew(&self) -> Result<()>;
    /// Audits a step under the identity of its active version.
    fn audit_active(&self, step: LifecycleStep, detail: String) -> Result<()>;
    /// The supervisor gave up on it.
    fn child_failed(&self);
}

/// One child's supervision state.
pub(crate) struct Child {
    state: AtomicU8,
    inner: Mutex<ChildInner>,
    pub(crate) restart: RestartPolicy,
    pub(crate) crash_on: CrashOn,
}

struct ChildInner {
    restarts: VecDeque<Instant>,
    due: Option<Instant>,
    attempt: u32,
    reason: String,
}

impl Child {
    pub(crate) fn new(restart: RestartPolicy, crash_on: CrashOn) -> Self {
        Self {
            state: AtomicU8::new(ChildState::Starting as u8),
            inner: Mutex::new(ChildInner {
                restarts: VecDeque::new(),
                due: None,
                attempt: 0,
                reason: String::new(),
            }),
            restart,
            crash_on,
        }
    }

    pub(crate) fn state(&self) -> ChildState {
        ChildState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Why the child is not running, when it is not.
    pub(crate) fn reason(&self) -> String {
        self.lock().reason.clone()
    }

    fn set(&self, state: ChildState) {
        self.state.store(state as u8, Ordering::Release);
    }

    pub(crate) fn running(&self) {
        self.set(ChildState::Running);
    }

    fn lock(&self) -> MutexGuard<'_, ChildInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go ahead: yes while running; a due restart is
    /// made first; otherwise [`Error::Unavailable`].
    #[inline]
    pub(crate) fn admit(&self, dep: &dyn Supervised) -> Result<()> {
        if self.state() == ChildState::Running {
            return Ok(());
        }
        self.admit_slow(dep)
    }

    #[cold]
    fn admit_slow(&self, dep: &dyn Supervised) -> Result<()> {
        let inner = self.lock();
        match self.state() {
            ChildState::Running => Ok(()),
            ChildState::Restarting => {
                let now = dep.now();
                match inner.due {
                    Some(due) if now >= due => {
                        drop(inner);
                        self.restart_due(dep)
                    }
                    due => Err(Error::unavailable(
                        dep.name(),
                        format!(
                            "restarting after a crash (attempt {}, due in {:?}): {}",
                            inner.attempt,
                            due.map(|d| d.saturating_duration_since(now))
                                .unwrap_or_default(),
                            inner.reason
                        ),
                    )),
                }
            }
            ChildState::Starting => Err(Error::unavailable(dep.name(), "starting")),
            ChildState::Stopped => Err(Error::unavailable(
                dep.name(),
                format!("stopped: {}", inner.reason),
            )),
            ChildState::Failed => Err(Error::unavailable(
                dep.name(),
                format!("failed: {}", inner.reason),
            )),
        }
    }

    /// Makes a due restart (when the child is still restarting). The
    /// child's lock is held while the fresh instances are made, so two
    /// callers never restart it twice.
    pub(crate) fn restart_due(&self, dep: &dyn Supervised) -> Result<()> {
        let inner = self.lock();
        match self.state() {
            ChildState::Running => return Ok(()),
            ChildState::Restarting if inner.due.is_none_or(|d| dep.now() >= d) => {}
            _ => return Err(Error::unavailable(dep.name(), "restarting")),
        }
        let renewed = dep.renew();
        if renewed.is_ok() {
            self.running();
        }
        drop(inner);
        match renewed {
            Ok(()) => {
                let _ = dep.audit_active(LifecycleStep::Restarted, String::new());
                Ok(())
            }
            Err(e) => {
                let why = format!("could not be restarted: {e}");
                self.fail(dep, why.clone());
                Err(Error::unavailable(dep.name(), why))
            }
        }
    }

    /// The child (and per the strategy its siblings) after `exit`.
    pub(crate) fn ended(&self, dep: &dyn Supervised, group: &Group, exit: &Exit) {
        let now = dep.now();
        let mut inner = self.lock();
        if matches!(self.state(), ChildState::Stopped | ChildState::Failed) {
            return;
        }
        let restarts = match self.restart {
            RestartPolicy::Temporary => false,
            RestartPolicy::Transient => !exit.normal,
            RestartPolicy::Permanent => true,
        };
        if !restarts {
            inner.reason = format!("{}; its restart policy is {:?}", exit.cause, self.restart);
            self.set(ChildState::Stopped);
            let reason = inner.reason.clone();
            drop(inner);
            let _ = dep.audit_active(LifecycleStep::Stopped, reason);
            return;
        }
        let within = group.spec.intensity.within;
        // The restarts are kept oldest first: only the expired ones at the
        // front are looked at, however many the intensity allows.
        while inner
            .restarts
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= within)
        {
            inner.restarts.pop_front();
        }
        if inner.restarts.len() >= group.spec.intensity.max_restarts as usize {
            let why = format!(
                "ended {} times within {:?}, more than its restart intensity allows ({} restarts); \
                 last: {}",
                inner.restarts.len() + 1,
                within,
                group.spec.intensity.max_restarts,
                exit.cause
            );
            drop(inner);
            self.fail(dep, why);
            return;
        }
        inner.restarts.push_back(now);
        let attempt = inner.restarts.len() as u32;
        let delay = group.spec.backoff.delay(attempt, fastrand::f64());
        inner.attempt = attempt;
        inner.due = Some(now + delay);
        inner.reason = exit.cause.clone();
        self.set(ChildState::Restarting);
        drop(inner);
        let _ = dep.audit_active(
            LifecycleStep::Restarting,
            format!("attempt {attempt} in {delay:?}: {}", exit.cause),
        );
        for sibling in group.siblings(dep) {
            sibling
                .child()
                .restart_with(&*sibling, now + delay, dep.name(), group);
        }
    }

    /// Restarts a running sibling with the child whose crash restarts it.
    fn restart_with(&self, dep: &dyn Supervised, due: Instant, crashed: &str, group: &Group) {
        let mut inner = self.lock();
        if self.state() != ChildState::Running {
            return;
        }
        inner.due = Some(due);
        inner.attempt = inner.attempt.max(1);
        inner.reason = format!(
            "`{crashed}` crashed ({:?} in group `{}`)",
            group.spec.strategy, group.name
        );
        let reason = inner.reason.clone();
        self.set(ChildState::Restarting);
        drop(inner);
        let _ = dep.audit_active(LifecycleStep::Restarting, reason);
    }

    /// Marks the child failed, audited.
    pub(crate) fn fail(&self, dep: &dyn Supervised, why: String) {
        self.lock().reason = why.clone();
        self.set(ChildState::Failed);
        let _ = dep.audit_active(LifecycleStep::Failed, why);
        dep.child_failed();
    }

    /// Forgets the restart history (an operator's restart).
    pub(crate) fn reset(&self) {
        let mut inner = self.lock();
        inner.restarts.clear();
        inner.due = None;
        inner.attempt = 0;
        inner.reason.clear();
    }

    /// When the next restart is due, if one is pending.
    pub(crate) fn due(&self) -> Option<Instant> {
        if self.state() == ChildState::Restarting {
            self.lock().due
        } else {
            None
        }
    }
}
