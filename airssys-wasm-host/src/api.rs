//! The admin API's messages: HTTP/1.1 with JSON bodies, every operation a
//! `POST /v1/OPERATION` (or a `GET` of one without arguments), so a name
//! holding a tenant (`tenant/name`) never has to be escaped into a path.
//!
//! | operation | body | answer |
//! |---|---|---|
//! | `POST /v1/deploy` | [`Upload`] | [`DeploymentView`] |
//! | `POST /v1/upgrade` | [`Upload`] | [`DeploymentView`] |
//! | `POST /v1/canary` | [`Upload`] with `percent` | [`DeploymentView`] |
//! | `POST /v1/promote`, `/v1/rollback`, `/v1/undeploy` | [`Named`] | [`DeploymentView`] (undeploy: [`Done`]) |
//! | `GET /v1/list`, `GET /v1/status` | — | `[DeploymentView]` |
//! | `POST /v1/info` | [`Named`] | [`Info`] |
//! | `POST /v1/call` | [`CallRequest`] | [`CallResult`] |
//! | `POST /v1/logs` | [`Since`] with `name` | [`Logs`] |
//! | `POST /v1/audit` | [`Since`] | [`AuditTail`] |
//! | `POST /v1/reload` | — | [`Done`] (the policy file, read again) |
//!
//! A failure answers 4xx or 5xx with an [`ApiError`].

use std::collections::BTreeMap;

use airssys_wasm::ErrorClass;
use serde::{Deserialize, Serialize};

/// A component to deploy, upgrade to or run as a canary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// The deployment: `name` or `tenant/name`.
    pub name: String,
    /// The version; default: the manifest's `version`, else the next number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The component's manifest (TOML text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The component's bytes, base64 (standard alphabet, padded).
    pub component: String,
    /// A canary's share of the calls, 0 to 100 (`canary` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    /// The most instances of each version (`deploy` only; default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<u32>,
}

/// An operation on one deployment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Named {
    /// The deployment.
    pub name: String,
}

/// A call of a deployed component's export.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// The deployment.
    pub name: String,
    /// The call in WAVE, as `run --invoke` takes it: `add(1, 2)`.
    pub call: String,
}

/// What a call returned.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CallResult {
    /// The version that served the call.
    pub version: String,
    /// Each result, in WAVE.
    pub results: Vec<String>,
}

/// Where a tail of logs or audit events resumes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Since {
    /// The deployment (`logs` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The first sequence number wanted; `None`: the last `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// The most records in one answer (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// One guest log record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogRecord {
    /// Its number in the host's log book (for `since`).
    pub seq: u64,
    /// When, as RFC 3339.
    pub time: String,
    /// The version that wrote it.
    pub version: String,
    /// `trace`, `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// The message and fields, escaped.
    pub message: String,
}

/// Guest log records of one deployment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Logs {
    /// The records, oldest first.
    pub records: Vec<LogRecord>,
    /// Where the next tail resumes.
    pub next: u64,
}

/// Audit records of the host's log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AuditTail {
    /// Each record's line number and its event as the log holds it.
    pub events: Vec<(u64, serde_json::Value)>,
    /// Where the next tail resumes.
    pub next: u64,
}

/// What a deployment is doing.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct DeploymentView {
    /// `name` or `tenant/name`.
    pub name: String,
    /// The version serving calls.
    pub version: String,
    /// The canary and its share (`3 (25%)`), if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<String>,
    /// The version a rollback returns to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// `starting`, `running`, `restarting`, `stopped` or `failed`.
    pub state: String,
    /// `healthy`, `degraded: ...`, `unhealthy: ...` or `unknown`.
    pub health: String,
    /// Instances alive in the active version's pool.
    pub instances: usize,
    /// Calls since the host started.
    pub calls: u64,
    /// Failed calls by error class (`trap`, `out-of-fuel`, `unavailable`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Median latency of the recent calls, in microseconds.
    pub p50_us: u64,
    /// 99th percentile latency of the recent calls, in microseconds.
    pub p99_us: u64,
    /// Fuel consumed by all calls (0 when fuel is not metered).
    pub fuel: u64,
    /// The largest linear memory a call reached, in bytes.
    pub memory_bytes: u64,
    /// Restarts since the host started.
    pub restarts: u64,
    /// Capability denials since the host started.
    pub denials: u64,
}

/// A deployment and the versions its component has in the registry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Info {
    /// Its state.
    pub deployment: DeploymentView,
    /// Every registered version: `(version, digest, bytes)`.
    pub versions: Vec<(String, String, u64)>,
}

/// An operation that returns nothing.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Done {
    /// What was done, in words.
    pub done: String,
}

/// A failed operation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct ApiError {
    /// What went wrong and what to do, in words.
    pub error: String,
    /// Its class, whose CLI exit code the operator commands exit with.
    pub class: ErrorClass,
}

impl ApiError {
    /// An error of `class`.
    pub fn new(class: ErrorClass, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            class,
        }
    }

    /// The HTTP status it is sent with: 4xx for the operator's mistakes,
    /// 503 for an unavailable deployment, 500 for the host's failures and
    /// 422 for a guest's.
    pub fn status(&self) -> u16 {
        match self.class {
            ErrorClass::BadCall | ErrorClass::InvalidComponent | ErrorClass::MissingImport => 400,
            ErrorClass::Policy | ErrorClass::CapabilityDenied => 403,
            ErrorClass::ResourceLimit => 503,
            ErrorClass::Io | ErrorClass::HostError | ErrorClass::Composition => 500,
            _ => 422,
        }
    }
}

impl From<airssys_wasm_lifecycle::Error> for ApiError {
    fn from(e: airssys_wasm_lifecycle::Error) -> Self {
        Self::from_lifecycle(&e)
    }
}

impl ApiError {
    /// The API's error for a lifecycle error: a guest's or the runtime's
    /// failure keeps its class; a wrong name, version or state is a bad
    /// call; an unavailable deployment is a resource limit.
    pub fn from_lifecycle(e: &airssys_wasm_lifecycle::Error) -> Self {
        Self::new(class_of(e), airssys_wasm::audit::Escaped(e).to_string())
    }
}

/// The class of a lifecycle error (see [`ApiError::from_lifecycle`]).
pub fn class_of(e: &airssys_wasm_lifecycle::Error) -> ErrorClass {
    use airssys_wasm_lifecycle::Error as E;
    match e {
        E::Runtime(inner) => inner.class(),
        E::Unavailable { .. } => ErrorClass::ResourceLimit,
        E::Store(_) | E::Watch { .. } => ErrorClass::Io,
        E::Lifecycle { .. } => ErrorClass::HostError,
        _ => ErrorClass::BadCall,
    }
}

impl From<airssys_wasm::Error> for ApiError {
    fn from(e: airssys_wasm::Error) -> Self {
        Self::new(e.class(), airssys_wasm::audit::Escaped(&e).to_string())
    }
}
