//! How a deployment serves, and how a canary is split and rolled back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::health::{HealthCheck, PassiveHealth};
use crate::supervise::{CrashOn, RestartPolicy};

/// How a canary's share of calls is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Split {
    /// This percentage of calls (0 to 100), spread evenly.
    Percent(u8),
    /// This percentage of keys (0 to 100): a call made with
    /// [`Deployment::call_keyed`](crate::Deployment::call_keyed) goes by its key's hash, so the same key
    /// always reaches the same version; calls without a key are spread as
    /// with `Percent`.
    Keyed(u8),
}

impl Split {
    pub(crate) fn percent(self) -> u64 {
        match self {
            Self::Percent(p) | Self::Keyed(p) => u64::from(p.min(100)),
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Percent(p) => write!(f, "{p}% of calls"),
            Self::Keyed(p) => write!(f, "{p}% of keys"),
        }
    }
}

/// When a canary is rolled back by itself: its failure rate over `window`
/// passes `max_failure_rate` once it has served `min_calls` in it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollbackPolicy {
    /// The share of failed calls (0 to 1) that rolls the canary back.
    pub max_failure_rate: f64,
    /// The window the share is taken over.
    #[serde(with = "crate::ms")]
    pub window: Duration,
    /// Fewer calls in the window decide nothing.
    pub min_calls: u32,
}

impl Default for RollbackPolicy {
    /// Above 20 % of at least 10 calls over 60 s.
    fn default() -> Self {
        Self {
            max_failure_rate: 0.2,
            window: Duration::from_secs(60),
            min_calls: 10,
        }
    }
}

/// How a deployment serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeployOptions {
    /// The most instances of one version (bounded too by the component's
    /// instance limit).
    pub pool_size: u32,
    /// How long a caller waits for a busy pool before it gets
    /// [`Error::Unavailable`].
    #[serde(with = "crate::ms")]
    pub queue_time: Duration,
    /// What `init` is called with.
    pub config: BTreeMap<String, String>,
    /// The supervision group (see [`crate::supervise`]).
    pub group: String,
    /// Whether the deployment restarts after it ends.
    pub restart: RestartPolicy,
    /// Which failures are crashes.
    pub crash_on: CrashOn,
    /// The active health check.
    pub health: HealthCheck,
    /// The passive health threshold.
    pub passive: PassiveHealth,
}

impl Default for DeployOptions {
    /// A pool of 4, 1 s of queue time, the `default` group, `Permanent`.
    fn default() -> Self {
        Self {
            pool_size: 4,
            queue_time: Duration::from_secs(1),
            config: BTreeMap::new(),
            group: crate::DEFAULT_GROUP.into(),
            restart: RestartPolicy::Permanent,
            crash_on: CrashOn::default(),
            health: HealthCheck::default(),
            passive: PassiveHealth::default(),
        }
    }
}
