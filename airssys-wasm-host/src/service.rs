//! The host's operations, synchronous: the admin API runs each on a
//! blocking thread. Every operation either does all it says or changes
//! nothing (a version registered for a deploy that then fails is removed).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airssys_wasm::AuditSink as _;
use airssys_wasm::security::{ChainStats, Policy};
use airssys_wasm::{
    BackendKind, ChainConfig, ChainedLog, ErrorClass, HostSettings, LoadOptions, Runtime, WaveCall,
};
use airssys_wasm_lifecycle::{
    CrashOn, DeployOptions, Deployment, Health, Lifecycle, Registration, Split, Ticker,
};
use base64::Engine as _;

use crate::api::{
    ApiError, AuditTail, CallRequest, CallResult, DeploymentView, Done, Info, Logs, Named, Since,
    Upload,
};
use crate::config::{Backend, HostConfig};
use crate::error::{HostError, Result};
use crate::logs::{HostAudit, LogBook};
use crate::metrics::{Labels, Metrics};
use crate::state::StateDir;

type ApiResult<T> = std::result::Result<T, ApiError>;

/// A host: its state directory, its deployments, its metrics and logs.
pub struct Host {
    pub(crate) config: HostConfig,
    state: StateDir,
    lifecycle: Arc<Lifecycle>,
    pub(crate) metrics: Arc<Metrics>,
    logs: Arc<LogBook>,
    audit: Arc<ChainedLog>,
    /// Changes (deploy, upgrade, ...) happen one at a time.
    changes: Mutex<()>,
    ticker: Mutex<Option<Ticker>>,
    /// Where the last audit tail stopped: (lines read, byte offset).
    audit_cursor: Mutex<(u64, u64)>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn load_policy(config: &HostConfig) -> Result<Option<Arc<Policy>>> {
    match &config.policy {
        Some(path) => Policy::load(path)
            .map(|p| Some(Arc::new(p)))
            .map_err(|e| HostError::Config(e.to_string())),
        None => Ok(None),
    }
}

impl Host {
    /// Opens a host on `state`: the audit log continues its chain (signed
    /// with the host key), the policy is read, and every deployment the
    /// registry holds is restored with its routes. `logs` receives the
    /// guests' log records (see [`LogBook::layer`]).
    pub fn open(state: StateDir, config: HostConfig, logs: Arc<LogBook>) -> Result<Arc<Self>> {
        let chain = ChainConfig {
            key: Some(state.chain_key()?),
            signing_key: Some(state.signing_key()?),
            ..ChainConfig::default()
        };
        let audit = Arc::new(
            ChainedLog::open(state.audit_log(), chain)
                .map_err(|e| HostError::State(format!("audit log: {e}")))?,
        );
        let metrics = Arc::new(Metrics::new());
        let sink = Arc::new(HostAudit {
            log: audit.clone(),
            metrics: metrics.clone(),
        });
        let policy = load_policy(&config)?;
        let runtime = Runtime::builder()
            .audit(sink)
            .backend(match config.backend {
                Backend::Wasmtime => BackendKind::Wasmtime,
                Backend::Wasmi => BackendKind::Wasmi,
            })
            .host_settings(HostSettings {
                kv_path: Some(state.kv()),
                ..HostSettings::default()
            })
            .wasmtime_config(airssys_wasm::wasmtime_backend::WasmtimeConfig {
                cache_dir: Some(state.cache()),
                ..Default::default()
            })
            .build()?;
        let mut builder = Lifecycle::builder(runtime)
            .store(state.registry())
            .load_options(|_| LoadOptions::new());
        if let Some(p) = &policy {
            builder = builder.policy(p.clone());
        }
        let lifecycle = Arc::new(builder.build()?);
        for dep in lifecycle.deployments() {
            metrics.stats(dep.name());
        }
        let ticker = lifecycle.spawn_ticker(Duration::from_millis(200));
        Ok(Arc::new(Self {
            config,
            state,
            lifecycle,
            metrics,
            logs,
            audit,
            changes: Mutex::new(()),
            ticker: Mutex::new(Some(ticker)),
            audit_cursor: Mutex::new((0, 0)),
        }))
    }

    /// The state directory.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// The deployments, for tests and embedders.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// Stops the supervisor's ticker, then flushes and closes the audit
    /// log (a closing checkpoint, signed). Later operations fail.
    pub fn close(&self) -> Result<()> {
        drop(self.ticker.lock().unwrap_or_else(|p| p.into_inner()).take());
        self.audit.flush().map_err(|e| HostError::State(e.0))?;
        self.audit.close().map_err(|e| HostError::State(e.0))
    }

    fn change(&self) -> std::sync::MutexGuard<'_, ()> {
        self.changes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deploys a component under a new name.
    pub fn deploy(&self, upload: Upload) -> ApiResult<DeploymentView> {
        let _one = self.change();
        if self.lifecycle.deployment(&upload.name).is_some() {
            return Err(ApiError::new(
                ErrorClass::BadCall,
                format!(
                    "`{}` is already deployed; `airssys-wasm upgrade {} COMPONENT` replaces its version, or `undeploy` it first",
                    upload.name, upload.name
                ),
            ));
        }
        let options = DeployOptions {
            pool_size: upload
                .pool
                .unwrap_or(DeployOptions::default().pool_size)
                .clamp(1, 256),
            // A call that runs out of fuel or time fails alone (its instance
            // is dropped): restarting the deployment for it would let one
            // caller's request take the service from every other caller.
            // Traps and failed health checks still restart it.
            crash_on: CrashOn {
                limits: false,
                timeouts: false,
                ..CrashOn::default()
            },
            ..DeployOptions::default()
        };
        let name = upload.name.clone();
        self.registered(&upload, |version| {
            self.metrics.stats(&name);
            self.lifecycle.deploy(&name, version, options).map(drop)
        })
        .inspect_err(|_| {
            if self.lifecycle.deployment(&name).is_none() {
                self.metrics.forget(&name);
            }
        })?;
        let dep = self.lifecycle.get(&name)?;
        Ok(self.view(&dep))
    }

    /// Upgrades a deployment to a new component.
    pub fn upgrade(&self, upload: Upload) -> ApiResult<DeploymentView> {
        let _one = self.change();
        let dep = self.lifecycle.get(&upload.name)?;
        self.registered(&upload, |version| dep.upgrade(version))?;
        Ok(self.view(&dep))
    }

    /// Runs a component beside a deployment's active version, with a share
    /// of its calls.
    pub fn canary(&self, upload: Upload) -> ApiResult<DeploymentView> {
        let _one = self.change();
        let percent = upload.percent.ok_or_else(|| {
            ApiError::new(ErrorClass::BadCall, "a canary needs its share: --percent P")
        })?;
        if percent > 100 {
            return Err(ApiError::new(
                ErrorClass::BadCall,
                format!("--percent {percent}: a share is 0 to 100"),
            ));
        }
        let dep = self.lifecycle.get(&upload.name)?;
        self.registered(&upload, |version| {
            dep.canary(version, Split::Percent(percent), None)
        })?;
        Ok(self.view(&dep))
    }

    /// Registers the upload's component and runs `then` with its version;
    /// when `then` fails, a version this call added is removed again.
    fn registered(
        &self,
        upload: &Upload,
        then: impl FnOnce(&str) -> airssys_wasm_lifecycle::Result<()>,
    ) -> ApiResult<()> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(upload.component.as_bytes())
            .map_err(|e| {
                ApiError::new(
                    ErrorClass::BadCall,
                    format!("`component` is not base64: {e}"),
                )
            })?;
        let (tenant, name) = match upload.name.split_once('/') {
            Some((t, n)) => (Some(t), n),
            None => (None, upload.name.as_str()),
        };
        let mut registration = Registration::new(name, bytes);
        if let Some(t) = tenant {
            registration = registration.tenant(t);
        }
        if let Some(v) = &upload.version {
            registration = registration.version(v.as_str());
        }
        if let Some(m) = &upload.manifest {
            registration = registration.manifest(m.as_str());
        }
        let tenant = tenant.unwrap_or(airssys_wasm::core::DEFAULT_TENANT);
        let before = self.lifecycle.registry().versions(tenant, name)?;
        let info = self.lifecycle.register(registration)?;
        if let Err(e) = then(&info.version) {
            if !before.iter().any(|v| v.version == info.version) {
                let _ = self.lifecycle.remove_version(&upload.name, &info.version);
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Makes the canary the active version.
    pub fn promote(&self, named: Named) -> ApiResult<DeploymentView> {
        let _one = self.change();
        let dep = self.lifecycle.get(&named.name)?;
        dep.promote()?;
        Ok(self.view(&dep))
    }

    /// Drops the canary, or returns to the version active before the last
    /// upgrade or promotion.
    pub fn rollback(&self, named: Named) -> ApiResult<DeploymentView> {
        let _one = self.change();
        let dep = self.lifecycle.get(&named.name)?;
        dep.rollback()?;
        Ok(self.view(&dep))
    }

    /// Stops serving a deployment (the registry keeps its versions).
    pub fn undeploy(&self, named: Named) -> ApiResult<Done> {
        let _one = self.change();
        self.lifecycle.undeploy(&named.name)?;
        self.metrics.forget(&named.name);
        Ok(Done {
            done: format!("undeployed `{}`", named.name),
        })
    }

    /// Every deployment's state.
    pub fn list(&self) -> Vec<DeploymentView> {
        self.lifecycle
            .deployments()
            .iter()
            .map(|d| self.view(d))
            .collect()
    }

    /// A deployment and its versions.
    pub fn info(&self, named: Named) -> ApiResult<Info> {
        let dep = self.lifecycle.get(&named.name)?;
        let active = dep.active();
        let versions = self
            .lifecycle
            .registry()
            .versions(&active.tenant, &active.name)?
            .into_iter()
            .map(|v| (v.version, v.digest, v.size))
            .collect();
        Ok(Info {
            deployment: self.view(&dep),
            versions,
        })
    }

    /// Calls an export of a deployment, its arguments in WAVE.
    pub fn call(&self, request: CallRequest) -> ApiResult<CallResult> {
        let span = tracing::info_span!(
            "call",
            deployment = %request.name,
            version = tracing::field::Empty,
            function = tracing::field::Empty,
        );
        let _entered = span.enter();
        let dep = self.lifecycle.get(&request.name)?;
        let started = Instant::now();
        let component = dep.active_component();
        let bad = |function: &str, e: airssys_wasm::WaveError| {
            ApiError::from(airssys_wasm::Error::InvalidArguments {
                function: function.to_owned(),
                detail: e.to_string(),
            })
        };
        let call = WaveCall::parse(&request.call).map_err(|e| bad("the call", e))?;
        span.record("function", call.name());
        let ty = component
            .info()
            .export_function(call.name())
            .ok_or_else(|| airssys_wasm::Error::NoSuchExport {
                name: call.name().to_owned(),
                available: component.info().export_names(),
            })?;
        let args = call.args(&ty).map_err(|e| bad(call.name(), e))?;
        let outcome = dep.call(call.name(), &args);
        let elapsed = started.elapsed();
        let labels = Labels {
            deployment: dep.name().to_owned(),
            // The version that served; a failed call is the active one's.
            version: match &outcome {
                Ok(served) => served.version().to_owned(),
                Err(_) => dep.active().version,
            },
        };
        match outcome {
            Ok(served) => {
                span.record("version", labels.version.as_str());
                self.metrics
                    .call(&labels, elapsed, Some(served.usage), None);
                let results = served
                    .values
                    .iter()
                    .map(|v| {
                        v.to_wave()
                            .map_err(|e| airssys_wasm::Error::Backend(e.to_string()))
                    })
                    .collect::<std::result::Result<_, _>>()?;
                Ok(CallResult {
                    version: labels.version,
                    results,
                })
            }
            Err(e) => {
                let kind = match &e {
                    airssys_wasm_lifecycle::Error::Runtime(r) => r.class().as_str(),
                    airssys_wasm_lifecycle::Error::Unavailable { .. } => "unavailable",
                    _ => "other",
                };
                // A call that ran out of fuel burned all it had.
                let usage = matches!(&e, airssys_wasm_lifecycle::Error::Runtime(r) if r.class() == ErrorClass::OutOfFuel)
                    .then(|| airssys_wasm::Usage {
                        fuel_consumed: component.limits().fuel,
                        ..Default::default()
                    });
                self.metrics.call(&labels, elapsed, usage, Some(kind));
                tracing::debug!(error = %airssys_wasm::audit::Escaped(&e), "the call failed");
                Err(e.into())
            }
        }
    }

    /// Guest log records of a deployment.
    pub fn logs(&self, since: Since) -> ApiResult<Logs> {
        let name = since.name.ok_or_else(|| {
            ApiError::new(ErrorClass::BadCall, "`logs` needs a deployment's name")
        })?;
        self.lifecycle.get(&name)?;
        Ok(self.logs.records(
            &name,
            since.since,
            since.limit.unwrap_or(100).clamp(1, 1000),
        ))
    }

    /// Records of the host's audit log.
    pub fn audit(&self, since: Since) -> ApiResult<AuditTail> {
        use std::io::{BufRead as _, Seek as _};
        self.audit
            .flush()
            .map_err(|e| ApiError::new(ErrorClass::Io, e.0))?;
        let path = self.state.audit_log();
        let io =
            |e: std::io::Error| ApiError::new(ErrorClass::Io, format!("{}: {e}", path.display()));
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let limit = since.limit.unwrap_or(100).clamp(1, 1000);
        // A tail that resumes reads on from where the last one stopped
        // (the log only grows), not from the first line.
        let (mut n, mut offset) = match since.since {
            Some(s) => {
                let at = *self.audit_cursor.lock().unwrap_or_else(|p| p.into_inner());
                if at.0 <= s { at } else { (0, 0) }
            }
            None => (0, 0),
        };
        file.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
        let mut reader = std::io::BufReader::new(file);
        let mut lines = std::collections::VecDeque::new();
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line).map_err(io)?;
            if read == 0 || !line.ends_with('\n') {
                break;
            }
            let seq = n;
            n += 1;
            offset += read as u64;
            if since.since.is_some_and(|s| seq < s) {
                continue;
            }
            lines.push_back((seq, line.clone()));
            if since.since.is_some() && lines.len() == limit {
                break;
            }
            if since.since.is_none() && lines.len() > limit {
                lines.pop_front();
            }
        }
        {
            let mut at = self.audit_cursor.lock().unwrap_or_else(|p| p.into_inner());
            if n > at.0 {
                *at = (n, offset);
            }
        }
        let events = lines
            .into_iter()
            .map(|(seq, text)| {
                serde_json::from_str(&text)
                    .map(|v| (seq, v))
                    .map_err(|e| ApiError::new(ErrorClass::Io, format!("audit line {seq}: {e}")))
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let next = events
            .last()
            .map_or(since.since.unwrap_or(n), |(s, _)| s + 1);
        Ok(AuditTail { events, next })
    }

    /// Reads the policy file again; a policy that does not parse is
    /// refused and the one in force stays.
    pub fn reload(&self) -> ApiResult<Done> {
        let _one = self.change();
        if self.config.policy.is_none() {
            return Err(ApiError::new(
                ErrorClass::Policy,
                "the host has no policy file to reload (give one with `policy = ...` in host.toml)",
            ));
        }
        let policy = load_policy(&self.config)
            .map_err(|e| {
                ApiError::new(
                    ErrorClass::Policy,
                    format!("{e}; the policy in force stays"),
                )
            })?
            .expect("a policy file is configured");
        let refused = self.lifecycle.set_policy(policy);
        let done = if refused.is_empty() {
            "policy reloaded; every deployment runs under it".to_owned()
        } else {
            let names: Vec<String> = refused
                .iter()
                .map(|(n, e)| format!("`{n}` ({e})"))
                .collect();
            format!("policy reloaded; refused and stopped: {}", names.join(", "))
        };
        tracing::info!("{done}");
        Ok(Done { done })
    }

    /// The audit log's queue and count.
    pub(crate) fn audit_stats(&self) -> ChainStats {
        self.audit.stats()
    }

    /// Prometheus text of every metric.
    pub fn metrics_text(&self) -> String {
        let gauges: Vec<(Labels, usize, i64)> = self
            .lifecycle
            .deployments()
            .iter()
            .map(|d| {
                let s = d.status();
                let health = match s.health {
                    Health::Healthy => 2,
                    Health::Degraded(_) => 1,
                    Health::Failed(_) => 0,
                };
                (
                    Labels {
                        deployment: s.name,
                        version: s.active,
                    },
                    s.instances,
                    health,
                )
            })
            .collect();
        self.metrics.encode(&gauges, self.audit_stats())
    }

    fn view(&self, dep: &Deployment) -> DeploymentView {
        use std::sync::atomic::Ordering::Relaxed;
        let s = dep.status();
        let stats = self.metrics.stats(dep.name());
        let (p50_us, p99_us) = stats.percentiles();
        DeploymentView {
            name: s.name,
            version: s.active,
            canary: s.candidate.map(|(v, split)| format!("{v} ({split})")),
            previous: dep.previous(),
            state: format!("{:?}", s.state).to_ascii_lowercase(),
            health: s.health.to_string(),
            instances: s.instances,
            calls: stats.calls.load(Relaxed),
            errors: stats
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            p50_us,
            p99_us,
            fuel: stats.fuel.load(Relaxed),
            memory_bytes: stats.memory.load(Relaxed),
            restarts: stats.restarts.load(Relaxed),
            denials: stats.denials.load(Relaxed),
        }
    }
}
