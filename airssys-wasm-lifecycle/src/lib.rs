//! Upgrade plugins while the host serves traffic, and restart crashing ones
//! by policy, not by a person.
//!
//! A [`Lifecycle`] keeps a [registry](registry) of immutable versions
//! (persisted with redb, so a restarted process comes back as it was) and
//! serves each deployed name from a bounded [pool](Deployment::call) of
//! instances of its active version. [`Deployment::upgrade`] switches
//! versions atomically with no failed call; [`Deployment::canary`] sends a
//! share of calls to a candidate, which [`Deployment::promote`] or
//! [`Deployment::rollback`] settle in one call (or a failure rate settles
//! by itself). Deployments are [supervised](supervise) the way airssys-rt
//! supervises actors, their [health](health) is checked, and a
//! [`Watcher`] upgrades one whenever its file changes. Every step is an
//! audit event ([`AuditKind::Lifecycle`](airssys_wasm::AuditKind::Lifecycle))
//! of the version concerned.
//!
//! ```
//! use airssys_wasm::{Runtime, Value};
//! use airssys_wasm_lifecycle::{DeployOptions, Lifecycle, Registration};
//!
//! # fn version_component(v: u32) -> Vec<u8> {
//! #     wat::parse_str(format!(r#"(component
//! #         (core module $m (func (export "v") (result i32) i32.const {v}))
//! #         (core instance $i (instantiate $m))
//! #         (func (export "version") (result u32) (canon lift (core func $i "v"))))"#)).unwrap()
//! # }
//! # fn main() -> airssys_wasm_lifecycle::Result<()> {
//! let lifecycle = Lifecycle::builder(Runtime::new()?).in_memory().build()?;
//! lifecycle.register(Registration::new("app", version_component(1)).version("1.0.0"))?;
//! lifecycle.register(Registration::new("app", version_component(2)).version("1.1.0"))?;
//!
//! let app = lifecycle.deploy("app", "1.0.0", DeployOptions::default())?;
//! let served = app.call("version", &[])?;
//! assert_eq!(served.version(), "1.0.0");
//! assert_eq!(served.values, vec![Value::U32(1)]);
//!
//! app.upgrade("1.1.0")?;
//! assert_eq!(app.call("version", &[])?.values, vec![Value::U32(2)]);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use airssys_wasm::security::{Manifest, Policy};
use airssys_wasm::{Component, ComponentId, LifecycleStep, Limits, LoadOptions, Runtime};

pub mod clock;
mod deploy;
mod error;
pub mod health;
pub mod hooks;
mod options;
mod pool;
pub mod registry;
mod slot;
pub mod supervise;
pub mod watch;

pub use clock::{Clock, ManualClock, SystemClock};
pub use deploy::{Deployment, Served, Status};
pub use error::{Error, Result};
pub use health::{Health, HealthCheck, PassiveHealth};
pub use options::{DeployOptions, RollbackPolicy, Split};
pub use registry::{Registry, VersionInfo};
pub use supervise::{
    Backoff, ChildState, CrashOn, Group, GroupSpec, Intensity, RestartPolicy, Strategy,
};
pub use watch::{WatchEvent, Watcher};

/// The supervision group of a deployment that names none.
pub const DEFAULT_GROUP: &str = "default";

/// How a version's load options are made: given its record, they are what
/// the runtime loads it with (grants, limits, stdio). The lifecycle sets the
/// tenant, name and version itself, and the policy and manifest when the
/// lifecycle has a policy.
pub type OptionsFn = dyn Fn(&VersionInfo) -> LoadOptions + Send + Sync;

/// What the lifecycle's parts share.
pub(crate) struct Shared {
    pub(crate) runtime: Runtime,
    pub(crate) registry: Registry,
    pub(crate) clock: Arc<dyn Clock>,
    options: Arc<OptionsFn>,
    policy: RwLock<Option<Arc<Policy>>>,
    /// Compiled versions, by registry key and whether it is a health
    /// check's load.
    loaded: Mutex<HashMap<(String, String, bool), Component>>,
}

impl Shared {
    /// Records a step. An operator's operation fails when its record is
    /// refused (the change is made, and the operator is told its record
    /// is missing); a supervisor's or health check's step has no caller to
    /// fail, and the sink's own handling of a refusal applies.
    pub(crate) fn audit(
        &self,
        id: &ComponentId,
        step: LifecycleStep,
        detail: String,
    ) -> Result<()> {
        self.runtime
            .record(id, airssys_wasm::AuditKind::Lifecycle { step, detail })
            .map_err(Error::Runtime)
    }

    /// See [`Lifecycle::register`]; the `bool` says whether a version was
    /// added.
    pub(crate) fn register(&self, registration: Registration) -> Result<(VersionInfo, bool)> {
        let Registration {
            tenant,
            name,
            version,
            bytes,
            manifest,
            numbered,
        } = registration;
        let tenant = tenant.unwrap_or_else(|| airssys_wasm::core::DEFAULT_TENANT.to_owned());
        ComponentId::label_of(Some(&tenant), &name, version.as_deref())
            .map_err(airssys_wasm::Error::InvalidName)?;
        let version = match (version, &manifest) {
            (Some(v), _) => Some(v),
            (None, Some(text)) if !numbered => {
                Manifest::parse("Component.toml", text.as_str())
                    .map_err(|e| airssys_wasm::Error::Policy(e.to_string()))?
                    .version
            }
            _ => None,
        };
        let (info, added) =
            self.registry
                .add(&tenant, &name, version.as_deref(), &bytes, manifest)?;
        if !added {
            return Ok((info, false));
        }
        match self.load(&info, bytes, None) {
            Ok(component) => {
                let key = (info.deployment(), info.version.clone(), false);
                self.lock_loaded().insert(key, component.clone());
                self.audit(
                    component.id(),
                    LifecycleStep::Registered,
                    format!("{} ({} bytes)", info.digest, info.size),
                )?;
                Ok((info, true))
            }
            Err(e) => {
                self.registry.remove(&info)?;
                Err(e)
            }
        }
    }

    /// The compiled component of a version (with `limits`: a health check's
    /// load of it), compiled once.
    pub(crate) fn component(
        &self,
        info: &VersionInfo,
        limits: Option<Limits>,
    ) -> Result<Component> {
        let key = (info.deployment(), info.version.clone(), limits.is_some());
        if let Some(c) = self.lock_loaded().get(&key) {
            return Ok(c.clone());
        }
        let bytes = self.registry.bytes(info)?;
        let component = self.load(info, bytes, limits)?;
        self.lock_loaded().insert(key, component.clone());
        Ok(component)
    }

    fn load(
        &self,
        info: &VersionInfo,
        bytes: Vec<u8>,
        limits: Option<Limits>,
    ) -> Result<Component> {
        let mut options = (self.options)(info);
        let policy = self
            .policy
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(policy) = &policy {
            let manifest = match &info.manifest {
                Some(text) => Some(Arc::new(
                    Manifest::parse("Component.toml", text.as_str())
                        .map_err(|e| airssys_wasm::Error::Policy(e.to_string()))?,
                )),
                None => None,
            };
            options = options.policy(policy.clone(), manifest);
        }
        options = options
            .tenant(info.tenant.as_str())
            .name(info.name.as_str())
            .version(info.version.as_str());
        if let Some(limits) = limits {
            options = options.limits(limits);
        }
        Ok(self.runtime.load(bytes, options)?)
    }

    fn lock_loaded(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String, bool), Component>> {
        self.loaded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Builds a [`Lifecycle`].
pub struct LifecycleBuilder {
    runtime: Runtime,
    store: Option<PathBuf>,
    clock: Arc<dyn Clock>,
    options: Arc<OptionsFn>,
    policy: Option<Arc<Policy>>,
    groups: BTreeMap<String, GroupSpec>,
}

impl LifecycleBuilder {
    /// Keeps the registry at `path` (a redb file, created if missing); a
    /// lifecycle opened on it again restores its deployments.
    pub fn store(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = Some(path.into());
        self
    }

    /// Keeps the registry in memory (the default).
    pub fn in_memory(mut self) -> Self {
        self.store = None;
        self
    }

    /// The clock of backoffs, windows and health intervals.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How each version is loaded (grants, limits, stdio); the default is
    /// [`LoadOptions::new`]: nothing granted.
    pub fn load_options(
        mut self,
        options: impl Fn(&VersionInfo) -> LoadOptions + Send + Sync + 'static,
    ) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// Loads every version under this operator policy and the manifest it
    /// was registered with.
    pub fn policy(mut self, policy: Arc<Policy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Declares a supervision group (the `default` group is `OneForOne`
    /// with [`GroupSpec::default`] unless declared here).
    pub fn group(mut self, name: impl Into<String>, spec: GroupSpec) -> Self {
        self.groups.insert(name.into(), spec);
        self
    }

    /// Opens the store and restores the deployments it records: each is
    /// deployed again on its active version and canary, from the stored
    /// bytes (checked against their digests).
    pub fn build(self) -> Result<Lifecycle> {
        let registry = match &self.store {
            Some(path) => Registry::open(path)?,
            None => Registry::in_memory()?,
        };
        let shared = Arc::new(Shared {
            runtime: self.runtime,
            registry,
            clock: self.clock,
            options: self.options,
            policy: RwLock::new(self.policy),
            loaded: Mutex::new(HashMap::new()),
        });
        let mut groups: BTreeMap<String, Arc<Group>> = self
            .groups
            .into_iter()
            .map(|(name, spec)| (name.clone(), Arc::new(Group::new(&name, spec))))
            .collect();
        groups
            .entry(DEFAULT_GROUP.into())
            .or_insert_with(|| Arc::new(Group::new(DEFAULT_GROUP, GroupSpec::default())));
        let lifecycle = Lifecycle {
            shared,
            groups,
            deployments: RwLock::new(BTreeMap::new()),
            seq: AtomicU64::new(0),
        };
        lifecycle.restore()?;
        Ok(lifecycle)
    }
}

/// A component to add to the registry.
#[derive(Clone, Debug)]
pub struct Registration {
    tenant: Option<String>,
    name: String,
    version: Option<String>,
    bytes: Vec<u8>,
    manifest: Option<String>,
    /// Numbered even when the manifest has a version (a watched file's
    /// new bytes).
    numbered: bool,
}

impl Registration {
    /// The bytes of a component named `name`.
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            tenant: None,
            name: name.into(),
            version: None,
            bytes: bytes.into(),
            manifest: None,
            numbered: false,
        }
    }

    /// Its tenant (the default tenant without one).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Its version. Without one, the manifest's version is taken; without
    /// that, bytes already registered keep their version and new bytes get
    /// the next number (`1`, `2`, ...).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Its manifest (`Component.toml`'s text), applied under the
    /// lifecycle's policy.
    pub fn manifest(mut self, text: impl Into<String>) -> Self {
        self.manifest = Some(text.into());
        self
    }

    /// Numbers the version (`1`, `2`, ...) even when the manifest has one.
    pub(crate) fn numbered(mut self) -> Self {
        self.numbered = true;
        self
    }
}

/// Versions and deployments (see the [crate documentation](crate)).
pub struct Lifecycle {
    shared: Arc<Shared>,
    groups: BTreeMap<String, Arc<Group>>,
    deployments: RwLock<BTreeMap<String, Arc<Deployment>>>,
    seq: AtomicU64,
}

impl Lifecycle {
    /// A builder over `runtime`: versions are loaded by it and every
    /// lifecycle step goes to its audit sink.
    pub fn builder(runtime: Runtime) -> LifecycleBuilder {
        LifecycleBuilder {
            runtime,
            store: None,
            clock: Arc::new(SystemClock),
            options: Arc::new(|_| LoadOptions::new()),
            policy: None,
            groups: BTreeMap::new(),
        }
    }

    /// The runtime versions are loaded by.
    pub fn runtime(&self) -> &Runtime {
        &self.shared.runtime
    }

    /// The registry of versions.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// Adds a version: the bytes are loaded (validated, governed, compiled)
    /// first, so bytes that cannot be loaded are refused and not stored.
    /// Registering bytes already registered under the same version returns
    /// that version; a version that exists with other bytes is refused
    /// ([`Error::VersionExists`]).
    pub fn register(&self, registration: Registration) -> Result<VersionInfo> {
        self.shared.register(registration).map(|(info, _)| info)
    }

    /// Upgrades `deployment` each time `file` changes (see [`watch`]).
    pub fn watch(&self, deployment: &str, file: impl AsRef<std::path::Path>) -> Result<Watcher> {
        let dep = self.get(deployment)?;
        Watcher::start(self.shared.clone(), dep, file.as_ref())
    }

    /// Removes a version from the registry. A version a deployment serves
    /// (active or canary) is refused.
    pub fn remove_version(&self, deployment: &str, version: &str) -> Result<()> {
        let (tenant, name) = split_name(deployment);
        let info = self.shared.registry.get(tenant, name, version)?;
        if let Some(d) = self.deployment(deployment)
            && d.serves(version)
        {
            return Err(Error::Refused(format!(
                "version `{version}` of `{deployment}` is serving calls; upgrade or roll back \
                 first, then remove it"
            )));
        }
        let component = self.shared.component(&info, None).ok();
        self.shared.registry.remove(&info)?;
        self.shared
            .lock_loaded()
            .retain(|(d, v, _), _| !(d == &info.deployment() && v == version));
        if let Some(c) = component {
            self.shared
                .audit(c.id(), LifecycleStep::Removed, info.digest.clone())?;
        }
        Ok(())
    }

    /// Deploys `version` of `deployment` (`tenant/name` or `name`): its
    /// first instance is made (and `init` run) before it serves.
    pub fn deploy(
        &self,
        deployment: &str,
        version: &str,
        options: DeployOptions,
    ) -> Result<Arc<Deployment>> {
        if self.deployment(deployment).is_some() {
            return Err(Error::Refused(format!(
                "`{deployment}` is already deployed; upgrade it, or undeploy it first"
            )));
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let dep = self.start(seq, deployment, version, options)?;
        dep.record()?;
        let active = dep.active();
        self.shared.audit(
            &self.shared.component(&active, None)?.id().clone(),
            LifecycleStep::Deployed,
            format!("group {}", dep.group().name()),
        )?;
        Ok(dep)
    }

    fn start(
        &self,
        seq: u64,
        deployment: &str,
        version: &str,
        options: DeployOptions,
    ) -> Result<Arc<Deployment>> {
        let (tenant, name) = split_name(deployment);
        let info = self.shared.registry.get(tenant, name, version)?;
        let group = self.groups.get(&options.group).cloned().ok_or_else(|| {
            Error::Refused(format!(
                "no supervision group `{}`; declare it with LifecycleBuilder::group (groups: {})",
                options.group,
                self.groups.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        let dep = Deployment::start(self.shared.clone(), seq, info, options, group)?;
        self.deployments
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dep.name().to_owned(), dep.clone());
        Ok(dep)
    }

    fn restore(&self) -> Result<()> {
        for record in self.shared.registry.deployments()? {
            self.seq.fetch_max(record.seq + 1, Ordering::Relaxed);
            let name = registry::deployment_name(&record.tenant, &record.name);
            let dep = self.start(record.seq, &name, &record.active, record.options.clone())?;
            // Before the canary, whose record keeps it.
            dep.set_previous(record.previous.clone());
            if let Some(c) = &record.candidate {
                dep.canary(&c.version, c.split, c.rollback)?;
            }
        }
        Ok(())
    }

    /// Replaces the policy: every later load is judged by it, and every
    /// deployment is loaded again under it at once (fresh instances, `init`
    /// run), so a revoked grant stops holding now, not at the next
    /// upgrade. A deployment the new policy refuses fails closed: it is
    /// marked [`ChildState::Failed`] (audited) and serves nothing until an
    /// operator restarts or upgrades it. Returns each refused deployment
    /// with its error.
    pub fn set_policy(&self, policy: Arc<Policy>) -> Vec<(String, Error)> {
        *self
            .shared
            .policy
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(policy);
        self.shared.lock_loaded().clear();
        let mut refused = Vec::new();
        for dep in self.deployments() {
            if let Err(e) = dep.reload() {
                refused.push((dep.name().to_owned(), e));
            }
        }
        refused
    }

    /// Stops serving a deployment: its versions drain and are dropped; the
    /// registry keeps them.
    pub fn undeploy(&self, deployment: &str) -> Result<()> {
        let dep = self
            .deployments
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(deployment)
            .ok_or_else(|| self.no_deployment(deployment))?;
        self.shared.registry.put_deployment(deployment, None)?;
        dep.stop();
        dep.audit_active(LifecycleStep::Undeployed, String::new())
    }

    /// A deployment, by name.
    pub fn deployment(&self, deployment: &str) -> Option<Arc<Deployment>> {
        self.deployments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(deployment)
            .cloned()
    }

    /// A deployment, or [`Error::NoDeployment`] naming the ones there are.
    pub fn get(&self, deployment: &str) -> Result<Arc<Deployment>> {
        self.deployment(deployment)
            .ok_or_else(|| self.no_deployment(deployment))
    }

    fn no_deployment(&self, deployment: &str) -> Error {
        let names: Vec<String> = self
            .deployments()
            .iter()
            .map(|d| d.name().to_owned())
            .collect();
        Error::NoDeployment(
            deployment.to_owned(),
            if names.is_empty() {
                "; nothing is deployed".into()
            } else {
                format!("; deployed: {}", names.join(", "))
            },
        )
    }

    /// Every deployment, in the order they were deployed.
    pub fn deployments(&self) -> Vec<Arc<Deployment>> {
        let mut all: Vec<Arc<Deployment>> = self
            .deployments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by_key(|d| d.seq);
        all
    }

    /// Makes due restarts, polls due health checks and takes passive
    /// health, for every deployment. [`Lifecycle::spawn_ticker`] calls it
    /// on an interval; tests call it after moving a [`ManualClock`].
    pub fn tick(&self) {
        for dep in self.deployments() {
            dep.tick();
        }
    }

    /// Calls [`Lifecycle::tick`] every `period` on a thread of its own
    /// until the returned [`Ticker`] is dropped.
    pub fn spawn_ticker(self: &Arc<Self>, period: Duration) -> Ticker {
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let lifecycle = Arc::downgrade(self);
        let signal = stop.clone();
        let thread = std::thread::Builder::new()
            .name("airssys-wasm-lifecycle-tick".into())
            .spawn(move || {
                let (lock, cv) = &*signal;
                let mut stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                while !*stopped {
                    let Some(lifecycle) = lifecycle.upgrade() else {
                        break;
                    };
                    drop(stopped);
                    lifecycle.tick();
                    drop(lifecycle);
                    stopped = lock.lock().unwrap_or_else(|p| p.into_inner());
                    if *stopped {
                        break;
                    }
                    stopped = cv
                        .wait_timeout(stopped, period)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            })
            .expect("a thread can be spawned");
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Lifecycle {
    fn drop(&mut self) {
        for dep in std::mem::take(&mut *self.deployments.write().unwrap_or_else(|p| p.into_inner()))
            .into_values()
        {
            dep.stop();
        }
    }
}

/// The thread of [`Lifecycle::spawn_ticker`]; stopped and joined when
/// dropped.
pub struct Ticker {
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        *self.stop.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.stop.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `tenant/name` as (tenant, name), the default tenant for a bare name.
pub(crate) fn split_name(deployment: &str) -> (&str, &str) {
    deployment
        .split_once('/')
        .unwrap_or((airssys_wasm::core::DEFAULT_TENANT, deployment))
}

/// Durations as whole milliseconds in the store's records.
mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
