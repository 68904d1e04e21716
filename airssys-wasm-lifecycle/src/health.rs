//! Health: what a deployment's active version says of itself, and what its
//! calls say of it.
//!
//! - **Active**: a component exporting `health` (`wit/lifecycle.wit`) is
//!   asked on an interval ([`HealthCheck::interval`]), in an instance of
//!   its own held to the check's small fuel and time budget, so a hung
//!   `health` is cut off (and counts as failing) without touching the
//!   instances that serve calls. The check instance shares the version's
//!   key-value data, not a serving instance's memory.
//! - **Passive**: the share of failed calls over a window
//!   ([`PassiveHealth`]).
//!
//! A failing check makes the version `Degraded(reason)`; `failures` in a
//! row make it `Failed(reason)` (a crash of the child, which its supervisor
//! restarts when [`CrashOn::unhealthy`](crate::CrashOn::unhealthy) says so).
//! A passive error rate above the threshold makes it `Degraded`, and a
//! child its supervisor gave up on is `Failed`. Every transition is audited.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use airssys_wasm::{Component, Instance, Limits};
use serde::{Deserialize, Serialize};

use crate::hooks::{Hooks, call_name, outcome};

/// A version's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    /// Its checks pass and its calls succeed.
    Healthy,
    /// Its last check failed, or too many of its calls fail.
    Degraded(String),
    /// Its checks failed too often in a row, or its supervisor gave up.
    Failed(String),
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Healthy => f.write_str("healthy"),
            Self::Degraded(why) => write!(f, "degraded ({why})"),
            Self::Failed(why) => write!(f, "failed ({why})"),
        }
    }
}

/// The active health check of versions exporting `health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// How often `health` is called.
    #[serde(with = "crate::ms")]
    pub interval: Duration,
    /// The fuel one check may use.
    pub fuel: u64,
    /// How long one check may take.
    #[serde(with = "crate::ms")]
    pub timeout: Duration,
    /// Failing checks in a row that make the version `Failed`.
    pub failures: u32,
}

impl Default for HealthCheck {
    /// Every 10 s, 10 million fuel, 100 ms, 3 failures.
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            fuel: 10_000_000,
            timeout: Duration::from_millis(100),
            failures: 3,
        }
    }
}

impl HealthCheck {
    /// The limits of the check's instance: the version's own, with the
    /// check's fuel and time.
    pub(crate) fn limits(&self, base: &Limits) -> Limits {
        base.with_fuel(self.fuel).with_timeout(self.timeout)
    }
}

/// The error rate that makes a version `Degraded`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassiveHealth {
    /// The share of failed calls (0 to 1) above which the version is
    /// degraded.
    pub max_error_rate: f64,
    /// The window the share is taken over.
    #[serde(with = "crate::ms")]
    pub window: Duration,
    /// Fewer calls in the window say nothing.
    pub min_calls: u32,
}

impl Default for PassiveHealth {
    /// Above 50 % of at least 20 calls over 60 s.
    fn default() -> Self {
        Self {
            max_error_rate: 0.5,
            window: Duration::from_secs(60),
            min_calls: 20,
        }
    }
}

/// The outcomes of a version's recent calls.
#[derive(Default)]
pub(crate) struct Window {
    calls: Mutex<VecDeque<(Instant, bool)>>,
}

/// The most outcomes a window keeps.
const WINDOW_CAP: usize = 4096;

impl Window {
    pub(crate) fn record(&self, now: Instant, ok: bool) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        if calls.len() == WINDOW_CAP {
            calls.pop_front();
        }
        calls.push_back((now, ok));
    }

    /// Calls and failures within `span` before `now`.
    pub(crate) fn rate(&self, now: Instant, span: Duration) -> (u32, u32) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        while calls
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > span)
        {
            calls.pop_front();
        }
        let failed = calls.iter().filter(|(_, ok)| !ok).count();
        (calls.len() as u32, failed as u32)
    }
}

/// The share `failed / calls`, as words: `3 of 4 calls (75%) over 60s`.
pub(crate) fn describe_rate(calls: u32, failed: u32, span: Duration) -> String {
    format!(
        "{failed} of {calls} calls ({:.0}%) failed over {span:?}",
        100.0 * f64::from(failed) / f64::from(calls.max(1))
    )
}

/// Whether `failed` of `calls` pass a threshold.
pub(crate) fn over(calls: u32, failed: u32, min_calls: u32, max_rate: f64) -> bool {
    calls >= min_calls.max(1) && f64::from(failed) / f64::from(calls) > max_rate
}

/// A deployment's health and its active check's state.
pub(crate) struct HealthState {
    pub(crate) inner: Mutex<HealthInner>,
}

pub(crate) struct HealthInner {
    pub(crate) current: Health,
    pub(crate) next_poll: Option<Instant>,
    pub(crate) failing: u32,
    pub(crate) last_failure: String,
    /// The check's component and its instance, for the version they check.
    pub(crate) probe: Option<Probe>,
}

pub(crate) struct Probe {
    pub(crate) digest: String,
    pub(crate) component: Component,
    pub(crate) hooks: Hooks,
    pub(crate) instance: Option<Instance>,
}

impl Probe {
    /// Calls `health` once: `Ok`, or why it failed.
    pub(crate) fn check(&mut self) -> Result<(), String> {
        let instance = match &mut self.instance {
            Some(i) => i,
            slot => {
                let mut fresh = self.component.instantiate().map_err(|e| e.to_string())?;
                self.hooks.init(&mut fresh).map_err(|e| e.to_string())?;
                slot.insert(fresh)
            }
        };
        match instance.call(&call_name("health"), &[]) {
            Ok(out) => outcome(&out),
            Err(e) => {
                // A check that trapped or ran out of its budget leaves an
                // instance that cannot be entered again.
                self.instance = None;
                Err(e.to_string())
            }
        }
    }
}

impl HealthState {
    pub(crate) fn new() -> Self {
        Self {
            inner: Mutex::new(HealthInner {
                current: Health::Healthy,
                next_poll: None,
                failing: 0,
                last_failure: String::new(),
                probe: None,
            }),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HealthInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
