//! `host.toml`: how a host listens and runs. Every field has a default, so
//! a host runs without one.
//!
//! ```toml
//! # Relative paths are relative to this file.
//! policy = "policy.toml"          # default: none (nothing is granted)
//! backend = "wasmtime"            # or "wasmi"
//! workers = 16                    # guest calls at once, on blocking threads
//! drain = "10s"                   # how long in-flight calls may finish at shutdown
//! max_upload = "64MiB"            # the largest admin request (a component)
//!
//! [admin]
//! socket = "/run/airssys/admin.sock"   # default: STATE/admin.sock
//! tcp = "127.0.0.1:7070"               # default: none; needs the bearer token
//!
//! [metrics]
//! listen = "127.0.0.1:9090"            # /metrics and the status page; default: none
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{HostError, Result};

/// The backend guest calls run on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// wasmtime's JIT.
    #[default]
    Wasmtime,
    /// The wasmi interpreter.
    Wasmi,
}

/// A host's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct HostConfig {
    /// The policy file: what components are granted. `None` grants nothing.
    pub policy: Option<PathBuf>,
    /// The backend.
    pub backend: Backend,
    /// Guest calls running at once (blocking threads). Default 16.
    pub workers: usize,
    /// How long calls in flight may take to finish at shutdown. Default 10 s.
    pub drain: Duration,
    /// The largest admin request body. Default 64 MiB.
    pub max_upload: u64,
    /// The admin socket; `None`: `STATE/admin.sock`.
    pub socket: Option<PathBuf>,
    /// The admin API on loopback TCP, with a bearer token.
    pub tcp: Option<SocketAddr>,
    /// Where `/metrics` and the status page are served.
    pub metrics: Option<SocketAddr>,
    /// HTTP routes to deployments (`[http]`: a `serve.toml` whose routes
    /// name deployments), served by `airssys-wasm-http` beside the admin
    /// API. `None`: no HTTP serving.
    pub http: Option<airssys_wasm_http::ServeConfig>,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            policy: None,
            backend: Backend::default(),
            workers: 16,
            drain: Duration::from_secs(10),
            max_upload: 64 << 20,
            socket: None,
            tcp: None,
            metrics: None,
            http: None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    policy: Option<PathBuf>,
    backend: Option<Backend>,
    workers: Option<usize>,
    drain: Option<String>,
    max_upload: Option<String>,
    #[serde(default)]
    admin: AdminFile,
    #[serde(default)]
    metrics: MetricsFile,
    http: Option<toml::Table>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AdminFile {
    socket: Option<PathBuf>,
    tcp: Option<SocketAddr>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MetricsFile {
    listen: Option<SocketAddr>,
}

impl HostConfig {
    /// Reads `path`; its relative paths are taken relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| HostError::Config(format!("{}: {e}", path.display())))?;
        Self::parse(&text, path.parent().unwrap_or(Path::new(".")))
            .map_err(|e| HostError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses the text of a `host.toml` whose relative paths are relative
    /// to `base`.
    pub fn parse(text: &str, base: &Path) -> std::result::Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let d = Self::default();
        let relative = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let workers = file.workers.unwrap_or(d.workers);
        if workers == 0 || workers > 1024 {
            return Err(format!("workers = {workers}: it is 1 to 1024"));
        }
        let drain = match file.drain {
            Some(t) => humantime::parse_duration(&t)
                .map_err(|_| format!("drain = {t:?}: not a duration (e.g. \"10s\", \"500ms\")"))?,
            None => d.drain,
        };
        let max_upload = match file.max_upload {
            Some(t) => airssys_wasm::security::parse_size(&t)
                .map_err(|e| format!("max_upload = {t:?}: {e}"))?,
            None => d.max_upload,
        };
        for (what, addr) in [
            ("admin.tcp", file.admin.tcp),
            ("metrics.listen", file.metrics.listen),
        ] {
            if let Some(a) = addr
                && !a.ip().is_loopback()
            {
                return Err(format!(
                    "{what} = \"{a}\": the host listens on loopback only (127.0.0.1 or ::1); put a proxy in front to serve it further"
                ));
            }
        }
        let http = match file.http {
            Some(table) => {
                let http = airssys_wasm_http::ServeConfig::from_table(table, base)
                    .map_err(|e| format!("[http]: {e}"))?;
                if let Some(r) = http.routes.iter().find(|r| r.deployment.is_none()) {
                    return Err(format!(
                        "[http]: route {:?} names a component file; a host's routes name \
                         deployments (deployment = \"NAME\"), deployed with `airssys-wasm deploy`",
                        r.name
                    ));
                }
                Some(http)
            }
            None => None,
        };
        Ok(Self {
            http,
            policy: file.policy.map(relative),
            backend: file.backend.unwrap_or_default(),
            workers,
            drain,
            max_upload,
            socket: file.admin.socket.map(relative),
            tcp: file.admin.tcp,
            metrics: file.metrics.listen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_routes_name_deployments_not_files() {
        let c = HostConfig::parse(
            "[http]\n[http.tenants.t]\n[[http.routes]]\nname = \"r\"\ntenant = \"t\"\ndeployment = \"acme/api\"\n",
            Path::new("/etc"),
        )
        .unwrap();
        let http = c.http.unwrap();
        assert_eq!(http.routes[0].deployment.as_deref(), Some("acme/api"));
        let e = HostConfig::parse(
            "[http]\n[http.tenants.t]\n[[http.routes]]\nname = \"r\"\ntenant = \"t\"\ncomponent = \"x.wasm\"\n",
            Path::new("/etc"),
        )
        .unwrap_err();
        assert!(e.contains("a host's routes name deployments"), "{e}");
        let e = HostConfig::parse("[http]\nlisten = 5\n", Path::new("/")).unwrap_err();
        assert!(e.starts_with("[http]"), "{e}");
    }

    #[test]
    fn a_config_is_read_with_its_paths_relative_to_it() {
        let c = HostConfig::parse(
            "policy = \"p.toml\"\nworkers = 4\ndrain = \"500ms\"\nmax_upload = \"1MiB\"\nbackend = \"wasmi\"\n[admin]\ntcp = \"127.0.0.1:7070\"\n[metrics]\nlisten = \"[::1]:9090\"\n",
            Path::new("/etc/airssys"),
        )
        .unwrap();
        assert_eq!(c.policy.as_deref(), Some(Path::new("/etc/airssys/p.toml")));
        assert_eq!(
            (c.workers, c.drain, c.max_upload, c.backend),
            (4, Duration::from_millis(500), 1 << 20, Backend::Wasmi)
        );
        assert_eq!(c.tcp, Some("127.0.0.1:7070".parse().unwrap()));
        assert_eq!(
            HostConfig::parse("", Path::new(".")).unwrap(),
            HostConfig::default()
        );
    }

    #[test]
    fn mistakes_are_refused_naming_the_field() {
        for (text, says) in [
            ("[admin]\ntcp = \"0.0.0.0:7070\"", "loopback only"),
            ("workers = 0", "workers = 0"),
            ("drain = \"soon\"", "drain"),
            ("colour = \"red\"", "colour"),
        ] {
            let e = HostConfig::parse(text, Path::new(".")).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
