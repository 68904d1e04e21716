//! What the host counts: Prometheus families (`/metrics`) and the
//! per-deployment numbers of `status` and the status page.
//!
//! Label values are the names and versions of deployed components only:
//! a guest never chooses one, and an event of a component that is not
//! deployed is not labelled at all.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How many recent latencies give `status` its p50 and p99.
const RECENT: usize = 2048;

/// A deployment's version.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Labels {
    pub(crate) deployment: String,
    pub(crate) version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    deployment: String,
    version: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    operation: String,
}

fn latency_histogram() -> Histogram {
    // 20 µs to about 10 s.
    Histogram::new(exponential_buckets(0.000_02, 2.0, 20))
}

/// One deployment's numbers since the host started.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) calls: AtomicU64,
    pub(crate) fuel: AtomicU64,
    pub(crate) memory: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) denials: AtomicU64,
    /// A moving average of its calls' durations, in microseconds.
    typical_us: AtomicU64,
    pub(crate) errors: Mutex<BTreeMap<String, u64>>,
    recent: Mutex<VecDeque<u64>>,
}

impl Stats {
    /// How long its calls take lately (a moving average, 1/8 per call).
    pub(crate) fn typical(&self) -> Duration {
        Duration::from_micros(self.typical_us.load(Ordering::Relaxed))
    }

    /// The p50 and p99 of the recent calls, in microseconds.
    pub(crate) fn percentiles(&self) -> (u64, u64) {
        let mut v: Vec<u64> = lock(&self.recent).iter().copied().collect();
        if v.is_empty() {
            return (0, 0);
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        (at(0.50), at(0.99))
    }
}

/// A denial, for the status page.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Denial {
    pub(crate) time: String,
    pub(crate) component: String,
    pub(crate) request: String,
}

/// Every metric of a host.
pub(crate) struct Metrics {
    registry: Registry,
    calls: Family<Labels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    fuel: Family<Labels, Counter>,
    memory: Family<Labels, Gauge>,
    instances: Family<Labels, Gauge>,
    restarts: Family<Labels, Counter>,
    denials: Family<Labels, Counter>,
    health: Family<Labels, Gauge>,
    audit_queue: Gauge,
    audit_written: Counter,
    audit_seen: AtomicU64,
    admin: Family<OpLabels, Counter>,
    stats: RwLock<HashMap<String, Arc<Stats>>>,
    latest_denials: Mutex<VecDeque<Denial>>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("airssys_wasm");
        let m = Self {
            calls: Family::default(),
            errors: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            fuel: Family::default(),
            memory: Family::default(),
            instances: Family::default(),
            restarts: Family::default(),
            denials: Family::default(),
            health: Family::default(),
            audit_queue: Gauge::default(),
            audit_written: Counter::default(),
            audit_seen: AtomicU64::new(0),
            admin: Family::default(),
            stats: RwLock::new(HashMap::new()),
            latest_denials: Mutex::new(VecDeque::new()),
            registry: Registry::default(),
        };
        registry.register("calls", "Calls of a deployment's version", m.calls.clone());
        registry.register(
            "call_errors",
            "Failed calls, by error kind (trap, out-of-fuel, timeout, unavailable, ...)",
            m.errors.clone(),
        );
        registry.register(
            "call_duration_seconds",
            "Latency of calls, queueing included",
            m.latency.clone(),
        );
        registry.register("fuel_consumed", "Fuel consumed by calls", m.fuel.clone());
        registry.register(
            "memory_bytes",
            "The linear memory the latest call's instance reached",
            m.memory.clone(),
        );
        registry.register(
            "instances",
            "Instances alive in the version's pool",
            m.instances.clone(),
        );
        registry.register("restarts", "Restarts by the supervisor", m.restarts.clone());
        registry.register(
            "capability_denials",
            "Capability checks that denied a request",
            m.denials.clone(),
        );
        registry.register(
            "health_state",
            "2 healthy, 1 degraded, 0 failed",
            m.health.clone(),
        );
        registry.register(
            "audit_queue_depth",
            "Audit events waiting for the writer",
            m.audit_queue.clone(),
        );
        registry.register(
            "audit_records_written",
            "Audit events written to the log",
            m.audit_written.clone(),
        );
        registry.register(
            "admin_requests",
            "Admin API requests, by operation",
            m.admin.clone(),
        );
        Self { registry, ..m }
    }

    /// The numbers of `deployment` (made on first use).
    pub(crate) fn stats(&self, deployment: &str) -> Arc<Stats> {
        if let Some(s) = self
            .stats
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(deployment)
        {
            return s.clone();
        }
        self.stats
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(deployment.to_owned())
            .or_default()
            .clone()
    }

    /// Whether `deployment` is one the host serves (has numbers).
    pub(crate) fn known(&self, deployment: &str) -> bool {
        self.stats
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(deployment)
    }

    /// Forgets an undeployed deployment's numbers.
    pub(crate) fn forget(&self, deployment: &str) {
        self.stats
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(deployment);
    }

    /// A call's outcome: `error` is its kind when it failed.
    pub(crate) fn call(
        &self,
        labels: &Labels,
        elapsed: Duration,
        usage: Option<airssys_wasm::Usage>,
        error: Option<&str>,
    ) {
        let stats = self.stats(&labels.deployment);
        stats.calls.fetch_add(1, Ordering::Relaxed);
        self.calls.get_or_create(labels).inc();
        self.latency
            .get_or_create(labels)
            .observe(elapsed.as_secs_f64());
        {
            let mut recent = lock(&stats.recent);
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(elapsed.as_micros().try_into().unwrap_or(u64::MAX));
        }
        let us: u64 = elapsed.as_micros().try_into().unwrap_or(u64::MAX);
        let old = stats.typical_us.load(Ordering::Relaxed);
        let next = if us >= old {
            old + (us - old) / 8
        } else {
            old - (old - us) / 8
        };
        stats.typical_us.store(next, Ordering::Relaxed);
        if let Some(u) = usage {
            let fuel = u.fuel_consumed.unwrap_or(0);
            stats.fuel.fetch_add(fuel, Ordering::Relaxed);
            self.fuel.get_or_create(labels).inc_by(fuel);
            stats
                .memory
                .fetch_max(u.peak_memory_bytes, Ordering::Relaxed);
            self.memory
                .get_or_create(labels)
                .set(i64::try_from(u.peak_memory_bytes).unwrap_or(i64::MAX));
        }
        if let Some(kind) = error {
            *lock(&stats.errors).entry(kind.to_owned()).or_default() += 1;
            self.errors
                .get_or_create(&ErrorLabels {
                    deployment: labels.deployment.clone(),
                    version: labels.version.clone(),
                    kind: kind.to_owned(),
                })
                .inc();
        }
    }

    /// A capability denial of a deployed version.
    pub(crate) fn denied(&self, labels: &Labels, denial: Denial) {
        self.stats(&labels.deployment)
            .denials
            .fetch_add(1, Ordering::Relaxed);
        self.denials.get_or_create(labels).inc();
        let mut latest = lock(&self.latest_denials);
        if latest.len() == 20 {
            latest.pop_front();
        }
        latest.push_back(denial);
    }

    /// A restart of a deployed version.
    pub(crate) fn restarted(&self, labels: &Labels) {
        self.stats(&labels.deployment)
            .restarts
            .fetch_add(1, Ordering::Relaxed);
        self.restarts.get_or_create(labels).inc();
    }

    /// An admin request.
    pub(crate) fn admin(&self, operation: &str) {
        self.admin
            .get_or_create(&OpLabels {
                operation: operation.to_owned(),
            })
            .inc();
    }

    /// The latest denials, newest last.
    pub(crate) fn latest_denials(&self) -> Vec<Denial> {
        lock(&self.latest_denials).iter().cloned().collect()
    }

    /// Sets what is read at scrape time (instances, health, the audit
    /// queue) and encodes everything as Prometheus text.
    pub(crate) fn encode(
        &self,
        gauges: &[(Labels, usize, i64)],
        audit: airssys_wasm::security::ChainStats,
    ) -> String {
        for (labels, instances, health) in gauges {
            self.instances
                .get_or_create(labels)
                .set(i64::try_from(*instances).unwrap_or(i64::MAX));
            self.health.get_or_create(labels).set(*health);
        }
        self.audit_queue
            .set(i64::try_from(audit.queued).unwrap_or(i64::MAX));
        let before = self.audit_seen.swap(audit.written, Ordering::Relaxed);
        self.audit_written
            .inc_by(audit.written.saturating_sub(before));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("encoding into a String cannot fail");
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recent_calls() {
        let m = Metrics::new();
        let l = Labels {
            deployment: "app".into(),
            version: "1".into(),
        };
        for us in 1..=100 {
            m.call(&l, Duration::from_micros(us), None, None);
        }
        m.call(&l, Duration::from_millis(5), None, Some("trap"));
        let s = m.stats("app");
        assert_eq!(s.percentiles(), (51, 100));
        assert_eq!(s.calls.load(Ordering::Relaxed), 101);
        assert_eq!(lock(&s.errors).get("trap"), Some(&1));
        let text = m.encode(&[(l, 2, 2)], Default::default());
        assert!(
            text.contains("airssys_wasm_calls_total{deployment=\"app\",version=\"1\"} 101"),
            "{text}"
        );
        assert!(text.contains("kind=\"trap\""), "{text}");
        assert!(
            text.contains("airssys_wasm_instances{deployment=\"app\",version=\"1\"} 2"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
