//! `serve.toml`: the listener, the tenants and their bounds, the routes.
//!
//! ```toml
//! listen = "127.0.0.1:8080"     # default 127.0.0.1:8080
//! workers = 16                  # threads running handlers at once
//! drain = "10s"                 # how long shutdown waits for requests
//! header-timeout = "5s"         # a client's time to send its headers
//! metrics = "127.0.0.1:9090"    # optional: /metrics (Prometheus)
//!
//! [tenants.acme]
//! policy = "acme-policy.toml"   # what acme's components are granted; none: nothing
//! fuel = 50_000_000             # per request; default unlimited
//! memory = "64MiB"              # per instance; default 64MiB
//! deadline = "5s"               # the whole request, wasm and host time; default 30s
//! max-body = "16MiB"            # request bodies; default 16MiB
//! max-concurrent = 64           # requests at once; beyond: 429
//! max-outbound = 16             # outgoing requests in flight; beyond: they wait
//!
//! [[routes]]
//! name = "hello"                # the component's name: the policy's [grant.hello]
//! tenant = "acme"
//! component = "hello.wasm"      # relative to this file
//! path = "/acme/"               # prefix; default "/"
//! host = "acme.example.com"     # optional: only this Host (any port)
//! manifest = "hello.Component.toml"   # optional
//!
//! [[routes]]                    # in a host's [http] table: a deployment
//! name = "api"
//! tenant = "acme"
//! deployment = "acme/api"       # instead of component: its active version
//! path = "/api/"
//! ```
//!
//! Unknown keys are errors naming them; so are a route whose tenant is
//! not defined, two routes with one name, and two routes that match the
//! same requests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::ServeError;

/// The default request body limit: 16 MiB.
pub const DEFAULT_MAX_BODY: u64 = 16 << 20;
/// The default deadline of a request.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// What `airssys-wasm serve` serves.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeConfig {
    /// Where requests are accepted.
    pub listen: SocketAddr,
    /// Handlers running at once, over every tenant (each on a thread of
    /// its own); requests beyond wait for one, within their deadline.
    pub workers: usize,
    /// How long a shutdown waits for the requests in flight.
    pub drain: Duration,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Where `/metrics` is served, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The tenants, by name.
    pub tenants: BTreeMap<String, TenantConfig>,
    /// The routes, in the order written.
    pub routes: Vec<RouteConfig>,
}

/// One tenant: its policy and the bounds of its requests.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantConfig {
    /// The tenant's policy file; `None` grants nothing.
    pub policy: Option<PathBuf>,
    /// Fuel per request; `None`: unlimited.
    pub fuel: Option<u64>,
    /// Linear memory per instance, in bytes.
    pub memory: u64,
    /// The deadline of a whole request.
    pub deadline: Duration,
    /// The largest request body, in bytes.
    pub max_body: u64,
    /// Requests of this tenant served at once; more are answered 429.
    pub max_concurrent: u32,
    /// Outgoing requests of this tenant in flight at once; more wait.
    pub max_outbound: u32,
}

impl Default for TenantConfig {
    fn default() -> Self {
        Self {
            policy: None,
            fuel: None,
            memory: 64 << 20,
            deadline: DEFAULT_DEADLINE,
            max_body: DEFAULT_MAX_BODY,
            max_concurrent: 64,
            max_outbound: 16,
        }
    }
}

/// One route: which requests go to which component of which tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteConfig {
    /// The route's name: the component's name under its tenant.
    pub name: String,
    /// The tenant.
    pub tenant: String,
    /// The component file (empty for a route to a deployment).
    pub component: PathBuf,
    /// The host's deployment serving the route (`name` or
    /// `tenant/name`), instead of a file: each request is served by its
    /// active version (see [`crate::Deployments`]).
    pub deployment: Option<String>,
    /// The component's manifest, if any.
    pub manifest: Option<PathBuf>,
    /// The path prefix (`/` matches every path).
    pub path: String,
    /// The `Host` the route is for (any port); `None`: every host.
    pub host: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    listen: Option<SocketAddr>,
    workers: Option<usize>,
    drain: Option<String>,
    header_timeout: Option<String>,
    metrics: Option<SocketAddr>,
    #[serde(default)]
    tenants: BTreeMap<String, RawTenant>,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTenant {
    policy: Option<PathBuf>,
    fuel: Option<u64>,
    memory: Option<String>,
    deadline: Option<String>,
    max_body: Option<String>,
    max_concurrent: Option<u32>,
    max_outbound: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawRoute {
    name: String,
    tenant: String,
    component: Option<PathBuf>,
    deployment: Option<String>,
    manifest: Option<PathBuf>,
    path: Option<String>,
    host: Option<String>,
}

/// A duration as written (`500ms`, `5s`), or an error naming the key.
pub fn duration(key: &str, text: &str) -> Result<Duration, ServeError> {
    humantime::parse_duration(text)
        .map_err(|e| ServeError::Config(format!("{key} = {text:?}: {e} (write e.g. 500ms or 5s)")))
}

/// A size as written (`16MiB`), or an error naming the key.
pub fn size(key: &str, text: &str) -> Result<u64, ServeError> {
    airssys_wasm::security::parse_size(text)
        .map_err(|e| ServeError::Config(format!("{key} = {text:?}: {e}")))
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            workers: 16,
            drain: Duration::from_secs(10),
            header_timeout: Duration::from_secs(5),
            metrics: None,
            tenants: BTreeMap::new(),
            routes: Vec::new(),
        }
    }
}

impl ServeConfig {
    /// Reads `serve.toml`; relative paths in it are relative to its
    /// directory.
    pub fn load(file: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| ServeError::Config(format!("{}: {e}", file.display())))?;
        let dir = file.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir).map_err(|e| match e {
            ServeError::Config(m) => ServeError::Config(format!("{}: {m}", file.display())),
            other => other,
        })
    }

    /// Parses a configuration; relative paths are taken from `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<Self, ServeError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ServeError::Config(e.to_string()))?;
        Self::from_raw(raw, dir)
    }

    /// A configuration from a TOML table already read (a host's `[http]`);
    /// relative paths are taken from `dir`.
    pub fn from_table(table: toml::Table, dir: &Path) -> Result<Self, ServeError> {
        let raw: RawConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| ServeError::Config(e.to_string()))?;
        Self::from_raw(raw, dir)
    }

    fn from_raw(raw: RawConfig, dir: &Path) -> Result<Self, ServeError> {
        let relative = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
        let defaults = Self::default();
        let mut tenants = BTreeMap::new();
        for (name, t) in raw.tenants {
            airssys_wasm::core::check_name(&name)
                .map_err(|e| ServeError::Config(format!("[tenants.{name}]: {e}")))?;
            let key = |k: &str| format!("tenants.{name}.{k}");
            let d = TenantConfig::default();
            let tenant = TenantConfig {
                policy: t.policy.map(relative),
                fuel: t.fuel,
                memory: match t.memory {
                    Some(m) => size(&key("memory"), &m)?,
                    None => d.memory,
                },
                deadline: match t.deadline {
                    Some(s) => duration(&key("deadline"), &s)?,
                    None => d.deadline,
                },
                max_body: match t.max_body {
                    Some(s) => size(&key("max-body"), &s)?,
                    None => d.max_body,
                },
                max_concurrent: t.max_concurrent.unwrap_or(d.max_concurrent),
                max_outbound: t.max_outbound.unwrap_or(d.max_outbound),
            };
            if tenant.max_concurrent == 0 || tenant.max_outbound == 0 {
                return Err(ServeError::Config(format!(
                    "[tenants.{name}]: max-concurrent and max-outbound must be at least 1"
                )));
            }
            tenants.insert(name, tenant);
        }
        let mut routes: Vec<RouteConfig> = Vec::new();
        for r in raw.routes {
            if r.component.is_some() == r.deployment.is_some() {
                return Err(ServeError::Config(format!(
                    "route {:?}: give either component = \"FILE\" or deployment = \"NAME\"",
                    r.name
                )));
            }
            let route = RouteConfig {
                deployment: r.deployment,
                path: r.path.unwrap_or_else(|| "/".to_owned()),
                host: r.host.map(|h| h.to_ascii_lowercase()),
                component: r.component.map(relative).unwrap_or_default(),
                manifest: r.manifest.map(relative),
                name: r.name,
                tenant: r.tenant,
            };
            routes.push(route);
        }
        let config = Self {
            listen: raw.listen.unwrap_or(defaults.listen),
            workers: raw.workers.unwrap_or(defaults.workers).max(1),
            drain: match raw.drain {
                Some(s) => duration("drain", &s)?,
                None => defaults.drain,
            },
            header_timeout: match raw.header_timeout {
                Some(s) => duration("header-timeout", &s)?,
                None => defaults.header_timeout,
            },
            metrics: raw.metrics,
            tenants,
            routes,
        };
        config.check()?;
        Ok(config)
    }

    /// Checks what the routes say against the tenants and each other.
    pub fn check(&self) -> Result<(), ServeError> {
        if self.routes.is_empty() {
            return Err(ServeError::Config(
                "no routes: add a [[routes]] table naming a component".into(),
            ));
        }
        for (i, r) in self.routes.iter().enumerate() {
            airssys_wasm::core::check_name(&r.name)
                .map_err(|e| ServeError::Config(format!("route {:?}: {e}", r.name)))?;
            if !self.tenants.contains_key(&r.tenant) {
                return Err(ServeError::Config(format!(
                    "route {:?} names tenant {:?}, which has no [tenants.{}] table",
                    r.name, r.tenant, r.tenant
                )));
            }
            if !r.path.starts_with('/') {
                return Err(ServeError::Config(format!(
                    "route {:?}: path {:?} must start with /",
                    r.name, r.path
                )));
            }
            for other in &self.routes[..i] {
                if other.name == r.name && other.tenant == r.tenant {
                    return Err(ServeError::Config(format!(
                        "two routes are named {:?} in tenant {:?}",
                        r.name, r.tenant
                    )));
                }
                if other.host == r.host && crate::route::same_prefix(&other.path, &r.path) {
                    return Err(ServeError::Config(format!(
                        "routes {:?} and {:?} match the same requests (path {:?}{})",
                        other.name,
                        r.name,
                        r.path,
                        r.host
                            .as_deref()
                            .map(|h| format!(", host {h}"))
                            .unwrap_or_default()
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
listen = "127.0.0.1:0"
[tenants.a]
policy = "a.toml"
deadline = "2s"
max-body = "1KiB"
max-concurrent = 2
[tenants.b]
[[routes]]
name = "hello"
tenant = "a"
component = "h.wasm"
path = "/a/"
[[routes]]
name = "hello"
tenant = "b"
component = "/abs/h.wasm"
host = "B.example"
"#;

    #[test]
    fn reads_tenants_and_routes_with_defaults() {
        let c = ServeConfig::parse(TWO, Path::new("/etc/s")).unwrap();
        let a = &c.tenants["a"];
        assert_eq!(a.policy.as_deref(), Some(Path::new("/etc/s/a.toml")));
        assert_eq!(a.deadline, Duration::from_secs(2));
        assert_eq!(a.max_body, 1024);
        assert_eq!(a.max_concurrent, 2);
        let b = &c.tenants["b"];
        assert_eq!(b.max_body, DEFAULT_MAX_BODY);
        assert_eq!(b.deadline, DEFAULT_DEADLINE);
        assert_eq!(c.routes[0].component, Path::new("/etc/s/h.wasm"));
        assert_eq!(c.routes[1].component, Path::new("/abs/h.wasm"));
        assert_eq!(c.routes[1].path, "/");
        assert_eq!(c.routes[1].host.as_deref(), Some("b.example"));
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let cases = [
            (
                TWO.replace("tenant = \"b\"", "tenant = \"c\""),
                "names tenant \"c\"",
            ),
            (
                TWO.replace("max-body = \"1KiB\"", "max-body = \"lots\""),
                "max-body",
            ),
            (
                TWO.replace("deadline = \"2s\"", "deadline = \"soon\""),
                "deadline",
            ),
            (
                TWO.replace("listen", "listen-on"),
                "unknown field `listen-on`",
            ),
            (
                TWO.replace("host = \"B.example\"\n", "path = \"/a\"\ntenant2 = 1\n"),
                "unknown field `tenant2`",
            ),
            (
                TWO.replace("host = \"B.example\"", "path = \"/a/\""),
                "match the same requests",
            ),
            (
                TWO.replace("path = \"/a/\"", "path = \"a/\""),
                "must start with /",
            ),
            (
                TWO.replace("max-concurrent = 2", "max-concurrent = 0"),
                "at least 1",
            ),
            ("[tenants.a]\n".to_owned(), "no routes"),
        ];
        for (text, expected) in cases {
            let e = ServeConfig::parse(&text, Path::new("/"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{expected:?} not in {e:?}");
        }
    }
}
