//! The served application: tenants with their bounds, routes with their
//! loaded components.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use airssys_wasm::security::{Manifest, Policy};
use airssys_wasm::{Component, Limits, LoadOptions, Runtime};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::config::{RouteConfig, ServeConfig, TenantConfig};
use crate::error::ServeError;
use crate::metrics::Metrics;
use crate::route::Router;

/// One tenant while serving.
pub(crate) struct Tenant {
    pub(crate) name: String,
    pub(crate) config: TenantConfig,
    /// One permit per request served at once.
    pub(crate) concurrent: Arc<Semaphore>,
    /// One permit per outgoing request in flight.
    pub(crate) outbound: Arc<Semaphore>,
}

/// Where a host's deployments are found: the component of a
/// deployment's active version, for each request of a route to it.
pub trait Deployments: Send + Sync {
    /// The component serving `deployment` now, or why none does.
    fn component(&self, deployment: &str) -> airssys_wasm::Result<Component>;
}

/// What serves a route.
enum Target {
    /// A component loaded from its file at start (or reload).
    Fixed(Component),
    /// A deployment of the host, looked up at each request.
    Deployment(String, Arc<dyn Deployments>),
}

/// One route while serving.
pub(crate) struct Route {
    pub(crate) name: String,
    pub(crate) tenant: Arc<Tenant>,
    target: Target,
}

impl Route {
    /// The component that serves the next request.
    pub(crate) fn component(&self) -> airssys_wasm::Result<Component> {
        match &self.target {
            Target::Fixed(c) => Ok(c.clone()),
            Target::Deployment(name, deployments) => deployments.component(name),
        }
    }
}

/// Every route, loaded.
pub(crate) struct App {
    pub(crate) router: Router<Arc<Route>>,
    tenants: BTreeMap<String, Arc<Tenant>>,
}

impl App {
    /// Loads every route's component on `runtime`, each under its tenant's
    /// policy and limits. A component that cannot serve `wasi:http` is
    /// refused here, naming the route.
    pub(crate) fn load(
        config: &ServeConfig,
        runtime: &Runtime,
        deployments: Option<&Arc<dyn Deployments>>,
    ) -> Result<Self, ServeError> {
        Self::load_keeping(config, runtime, deployments, &Self::empty())
    }

    fn empty() -> Self {
        Self {
            router: Router::default(),
            tenants: BTreeMap::new(),
        }
    }

    /// Loads `config`, keeping the permits of the tenants `old` has: a
    /// reload never lets a tenant run more requests at once than its
    /// bound (nor changes that bound).
    pub(crate) fn load_keeping(
        config: &ServeConfig,
        runtime: &Runtime,
        deployments: Option<&Arc<dyn Deployments>>,
        old: &App,
    ) -> Result<Self, ServeError> {
        // One runtime serves every route: a backend that cannot serve
        // wasi:http is refused once, naming the first route.
        if let Some(first) = config.routes.first() {
            check_backend(first, runtime)?;
        }
        let mut tenants = BTreeMap::new();
        let mut policies = BTreeMap::new();
        for (name, t) in &config.tenants {
            let policy = match &t.policy {
                Some(p) => {
                    Some(Arc::new(Policy::load(p).map_err(|e| {
                        ServeError::Config(format!("tenant {name:?}: {e}"))
                    })?))
                }
                None => None,
            };
            // The permits of a tenant that was served already are kept.
            let (concurrent, outbound) = match old.tenants.get(name) {
                Some(o) => (o.concurrent.clone(), o.outbound.clone()),
                None => (
                    Arc::new(Semaphore::new(t.max_concurrent as usize)),
                    Arc::new(Semaphore::new(t.max_outbound as usize)),
                ),
            };
            let tenant = Arc::new(Tenant {
                name: name.clone(),
                config: t.clone(),
                concurrent,
                outbound,
            });
            tenants.insert(name.clone(), tenant);
            policies.insert(name.as_str(), policy);
        }
        let mut router = Router::default();
        for r in &config.routes {
            let (tenant, policy) = (&tenants[&r.tenant], &policies[r.tenant.as_str()]);
            let target = match (&r.deployment, deployments) {
                (Some(d), Some(found)) => {
                    // A deployment made later is served once it is; one
                    // that exists must be a handler.
                    match found.component(d) {
                        Ok(c) => check_handler(r, &c)?,
                        Err(e) => tracing::warn!(
                            route = %r.name, deployment = %d, error = %e,
                            "the route's deployment is not deployed yet: 503 until it is"
                        ),
                    }
                    Target::Deployment(d.clone(), found.clone())
                }
                (Some(d), None) => {
                    return Err(ServeError::Config(format!(
                        "route {:?} names deployment {d:?}: routes to deployments are served \
                         by a host (`airssys-wasm host`, its [http] table); give a component \
                         file here",
                        r.name
                    )));
                }
                (None, _) => Target::Fixed(load_route(runtime, r, &tenant.config, policy.clone())?),
            };
            router.add(
                r.host.clone(),
                r.path.clone(),
                Arc::new(Route {
                    name: r.name.clone(),
                    tenant: tenant.clone(),
                    target,
                }),
            );
        }
        Ok(Self { router, tenants })
    }
}

/// The limits a route's component is loaded with: the tenant's, the
/// deadline as its timeout (so its code is compiled with the checks that
/// stop it there).
fn limits_of(t: &TenantConfig) -> Limits {
    let limits = Limits::default()
        .with_memory_bytes(t.memory)
        .with_timeout(t.deadline);
    match t.fuel {
        Some(f) => limits.with_fuel(f),
        None => limits,
    }
}

fn load_route(
    runtime: &Runtime,
    r: &RouteConfig,
    tenant: &TenantConfig,
    policy: Option<Arc<Policy>>,
) -> Result<Component, ServeError> {
    let failed = |source| ServeError::Load {
        route: r.name.clone(),
        source,
    };
    let bytes = std::fs::read(&r.component).map_err(|source| {
        failed(airssys_wasm::Error::Io {
            path: r.component.display().to_string(),
            source,
        })
    })?;
    let mut options = LoadOptions::new()
        .name(r.name.clone())
        .tenant(r.tenant.clone())
        .limits(limits_of(tenant));
    if let Some(policy) = policy {
        let manifest = match &r.manifest {
            Some(m) => {
                Some(Arc::new(Manifest::load(m).map_err(|e| {
                    ServeError::Config(format!("route {:?}: {e}", r.name))
                })?))
            }
            None => None,
        };
        options = options.policy(policy, manifest);
    }
    let component = runtime.load(bytes, options).map_err(failed)?;
    check_handler(r, &component)?;
    Ok(component)
}

/// Refuses a component that does not serve `wasi:http`, naming the route
/// and what to do (the backend is checked once, by [`App::load_keeping`]).
fn check_handler(r: &RouteConfig, component: &Component) -> Result<(), ServeError> {
    let failed = |source| ServeError::Load {
        route: r.name.clone(),
        source,
    };
    let mut probe = component.instantiate().map_err(failed)?;
    if !probe.wasmtime_mut().is_some_and(|w| w.serves_http()) {
        let what = match &r.deployment {
            Some(d) => format!("deployment {d:?}"),
            None => r.component.display().to_string(),
        };
        return Err(ServeError::NotAHandler {
            route: r.name.clone(),
            why: format!(
                "{what} does not export wasi:http/incoming-handler (a wasi:http handler is built \
                 for the wasi:http/proxy world, e.g. with `cargo build --target wasm32-wasip2` \
                 and the wasi crate's `wasi::http::proxy::export!`)"
            ),
        });
    }
    Ok(())
}

/// What every connection shares.
pub(crate) struct Shared {
    /// The routes being served; a reload replaces them whole, and a
    /// request keeps the ones it started with.
    app: RwLock<Arc<App>>,
    runtime: Runtime,
    pub(crate) metrics: Metrics,
    /// The audit-and-count tasks that outlive their responses; shutdown
    /// waits for them.
    pub(crate) tracker: TaskTracker,
}

impl Shared {
    pub(crate) fn new(app: App, runtime: Runtime, metrics: Metrics) -> Self {
        Self {
            app: RwLock::new(Arc::new(app)),
            runtime,
            metrics,
            tracker: TaskTracker::new(),
        }
    }

    /// Serves `app` from now on.
    pub(crate) fn replace(&self, app: App) {
        *self.app.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(app);
    }

    /// The routes now.
    pub(crate) fn app(&self) -> Arc<App> {
        self.app.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The runtime the routes' components are loaded on.
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

/// Refuses a runtime whose backend cannot serve `wasi:http`.
fn check_backend(r: &RouteConfig, runtime: &Runtime) -> Result<(), ServeError> {
    if runtime.backend_name() != "wasmtime" {
        return Err(ServeError::NotAHandler {
            route: r.name.clone(),
            why: format!(
                "wasi:http handlers are served by the wasmtime backend only (this runtime uses \
                 {}): serve with the wasmtime backend",
                runtime.backend_name()
            ),
        });
    }
    Ok(())
}
