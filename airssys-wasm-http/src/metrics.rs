//! What the server counts, per tenant and route, as Prometheus families.
//!
//! Label values are the names of configured tenants and routes and the
//! status class: never a request's path or host, so a client cannot make
//! the families grow.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    tenant: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    tenant: String,
    route: String,
    /// `2xx`, `4xx`, ...
    class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

/// The server's metric families.
pub struct Metrics {
    requests: Family<StatusLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    in_flight: Family<TenantLabels, Gauge>,
    unrouted: Counter,
}

impl Metrics {
    /// The families, registered in `registry` (the host's, when the
    /// server runs inside one).
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| {
                // 50 µs to about 100 s.
                Histogram::new(exponential_buckets(0.000_05, 2.0, 22))
            }),
            in_flight: Family::default(),
            unrouted: Counter::default(),
        };
        registry.register(
            "airssys_http_requests",
            "HTTP requests answered, by tenant, route and status class",
            m.requests.clone(),
        );
        registry.register(
            "airssys_http_request_duration_seconds",
            "Time from a request's arrival to its response's head, by tenant and route",
            m.latency.clone(),
        );
        registry.register(
            "airssys_http_in_flight",
            "Requests being served, by tenant",
            m.in_flight.clone(),
        );
        registry.register(
            "airssys_http_unrouted",
            "Requests no route matched (answered 404)",
            m.unrouted.clone(),
        );
        m
    }

    /// A request of `tenant` on `route` was answered with `status` after
    /// `took`.
    pub fn answered(&self, tenant: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&StatusLabels {
                tenant: tenant.to_owned(),
                route: route.to_owned(),
                class: format!("{}xx", status / 100),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                tenant: tenant.to_owned(),
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// A request of `tenant` started (`+1`) or ended (`-1`).
    pub fn in_flight(&self, tenant: &str, delta: i64) {
        self.in_flight
            .get_or_create(&TenantLabels {
                tenant: tenant.to_owned(),
            })
            .inc_by(delta);
    }

    /// A request matched no route.
    pub fn unrouted(&self) {
        self.unrouted.inc();
    }
}

/// The text exposition of `registry`.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}
