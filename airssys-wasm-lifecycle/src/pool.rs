//! A bounded pool of instances of one version.
//!
//! A caller leases an idle instance, or has one created while fewer than
//! the pool's bound are alive, or waits until one is given back, up to its
//! deadline. An instance that trapped (or hit a limit) is never given back:
//! the component model forbids entering it again, so it is dropped and a
//! fresh one is made for a later caller. A retired pool (its version was
//! swapped out or restarted) gives out nothing more: its idle instances are
//! shut down and dropped at once, and those still leased when they come back.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use airssys_wasm::{Component, ErrorClass, Instance, Usage, Value};

use crate::error::Error;
use crate::hooks::Hooks;

/// Why a lease was not given.
pub(crate) enum Refused {
    /// Every instance stayed busy until the deadline.
    Busy,
    /// The pool was retired: route again.
    Retired,
    /// A new instance could not be created (or its `init` failed).
    Failed(Error),
}

struct State {
    idle: Vec<Instance>,
    live: usize,
    retired: bool,
    /// Callers waiting on `ready`: only then is it signalled (a signal
    /// nobody waits for is still a system call).
    waiting: usize,
}

/// How long a caller may wait for an instance. Its deadline is fixed the
/// first time it has to wait, so a call that finds an idle instance never
/// reads the clock for it.
pub(crate) struct Wait {
    within: Duration,
    deadline: Option<Instant>,
}

impl Wait {
    /// At most `within`, from the first wait.
    pub(crate) fn within(within: Duration) -> Self {
        Self {
            within,
            deadline: None,
        }
    }

    fn deadline(&mut self, now: Instant) -> Instant {
        *self.deadline.get_or_insert(now + self.within)
    }
}

pub(crate) struct Pool {
    component: Component,
    max: usize,
    hooks: Hooks,
    state: Mutex<State>,
    ready: Condvar,
}

impl Pool {
    /// A pool of at most `max` instances (at least one).
    pub(crate) fn new(component: Component, max: usize, hooks: Hooks) -> Self {
        Self {
            component,
            max: max.max(1),
            hooks,
            state: Mutex::new(State {
                idle: Vec::new(),
                live: 0,
                retired: false,
                waiting: 0,
            }),
            ready: Condvar::new(),
        }
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates one instance now and keeps it idle: the version is ready
    /// for its first call (off the call path), and a version whose
    /// instantiation or `init` fails is found out before it serves.
    pub(crate) fn warm(&self) -> Result<(), Error> {
        let lease = match self.lease(None) {
            Ok(l) => l,
            Err(Refused::Failed(e)) => return Err(e),
            Err(Refused::Busy | Refused::Retired) => return Ok(()),
        };
        drop(lease);
        Ok(())
    }

    /// Leases an instance, waiting until `deadline` (`None`: not at all)
    /// when every one is busy.
    pub(crate) fn lease(&self, mut wait: Option<&mut Wait>) -> Result<Lease<'_>, Refused> {
        let mut state = self.lock();
        loop {
            if state.retired {
                return Err(Refused::Retired);
            }
            if let Some(instance) = state.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    instance: Some(instance),
                });
            }
            if state.live < self.max {
                state.live += 1;
                drop(state);
                return match self.create() {
                    Ok(instance) => Ok(Lease {
                        pool: self,
                        instance: Some(instance),
                    }),
                    Err(e) => {
                        let mut state = self.lock();
                        state.live -= 1;
                        let waiting = state.waiting > 0;
                        drop(state);
                        if waiting {
                            self.ready.notify_one();
                        }
                        Err(Refused::Failed(e))
                    }
                };
            }
            let now = Instant::now();
            let Some(wait) = wait
                .as_deref_mut()
                .and_then(|w| w.deadline(now).checked_duration_since(now))
            else {
                return Err(Refused::Busy);
            };
            if wait.is_zero() {
                return Err(Refused::Busy);
            }
            state.waiting += 1;
            state = self
                .ready
                .wait_timeout(state, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            state.waiting -= 1;
        }
    }

    fn create(&self) -> Result<Instance, Error> {
        let mut instance = self.component.instantiate()?;
        self.hooks.init(&mut instance)?;
        Ok(instance)
    }

    /// Gives out nothing more; shuts down and drops the idle instances.
    pub(crate) fn retire(&self) {
        let idle = {
            let mut state = self.lock();
            state.retired = true;
            state.live -= state.idle.len();
            std::mem::take(&mut state.idle)
        };
        self.ready.notify_all();
        for instance in idle {
            self.hooks.shutdown(instance);
        }
    }

    fn give_back(&self, instance: Instance, keep: bool) {
        let mut state = self.lock();
        let waiting = state.waiting > 0;
        if keep && !state.retired {
            state.idle.push(instance);
            drop(state);
        } else {
            state.live -= 1;
            let retired = state.retired;
            drop(state);
            if keep && retired {
                self.hooks.shutdown(instance);
            }
        }
        if waiting {
            self.ready.notify_one();
        }
    }

    /// How many instances are alive (idle or leased).
    pub(crate) fn live(&self) -> usize {
        self.lock().live
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        for instance in std::mem::take(&mut state.idle) {
            self.hooks.shutdown(instance);
        }
    }
}

/// An instance leased from a [`Pool`]; given back when dropped, unless
/// its call left it unusable.
pub(crate) struct Lease<'a> {
    pool: &'a Pool,
    instance: Option<Instance>,
}

impl Lease<'_> {
    /// Calls an export; an error that leaves the instance unusable (a trap,
    /// a limit, an exit) drops it instead of giving it back.
    pub(crate) fn call(
        &mut self,
        function: &str,
        args: &[Value],
    ) -> airssys_wasm::Result<(Vec<Value>, Usage)> {
        let instance = self
            .instance
            .as_mut()
            .expect("a lease holds its instance until dropped");
        let result = instance
            .func(function)
            .and_then(|f| instance.call_func(&f, args));
        if let Err(e) = &result
            && !reusable_after(e)
        {
            let instance = self.instance.take().expect("checked above");
            self.pool.give_back(instance, false);
        }
        result
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            self.pool.give_back(instance, true);
        }
    }
}

/// Whether an instance may be called again after `e`: after a wrong call
/// (nothing ran) or a refused or failed host call (the runtime renewed the
/// instance), yes; after a trap, a limit or an exit, no.
fn reusable_after(e: &airssys_wasm::Error) -> bool {
    matches!(
        e.class(),
        ErrorClass::BadCall | ErrorClass::CapabilityDenied | ErrorClass::HostError
    )
}
