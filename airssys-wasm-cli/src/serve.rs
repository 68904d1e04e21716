//! `airssys-wasm serve`: wasi:http handlers (the `airssys-wasm-http`
//! crate) in the foreground until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use airssys_wasm::audit::Escaped;
use airssys_wasm::{AuditSink, ChainConfig, ChainedLog};
use airssys_wasm_http::{RouteConfig, ServeConfig, ServeError, Server, TenantConfig};

/// Arguments of `serve`.
#[derive(clap::Args)]
#[command(after_help = STATUS_HELP)]
pub struct ServeArgs {
    /// The wasi:http handler to serve on every path (a tenant `default`, a route named after the
    /// file). Or give --config.
    #[arg(value_name = "COMPONENT", required_unless_present = "config")]
    component: Option<PathBuf>,
    /// A serve configuration: tenants, their policies and bounds, routes (see README,
    /// "Serving HTTP").
    #[arg(long, value_name = "FILE", conflicts_with_all = ["component", "addr", "policy", "manifest", "fuel", "memory", "timeout", "max_body", "max_concurrent"])]
    config: Option<PathBuf>,
    /// Where to accept requests.
    #[arg(long, value_name = "ADDR")]
    addr: Option<SocketAddr>,
    /// The operator policy of the component (what it is granted: outbound hosts, ...).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The component's manifest (what it asks for).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Fuel per request. Default: unlimited.
    #[arg(long, value_name = "N", value_parser = crate::run::parse_fuel)]
    fuel: Option<u64>,
    /// Linear memory per request's instance, e.g. 64MiB. Default: 64MiB.
    #[arg(long, value_name = "SIZE", value_parser = crate::run::parse_size)]
    memory: Option<u64>,
    /// The deadline of a whole request (wasm and host time), e.g. 500ms or 5s. Default: 30s.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// The largest request body, e.g. 1MiB. Default: 16MiB.
    #[arg(long, value_name = "SIZE", value_parser = crate::run::parse_size)]
    max_body: Option<u64>,
    /// Requests served at once; beyond, 429. Default: 64.
    #[arg(long, value_name = "N")]
    max_concurrent: Option<u32>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Load the components again when a component file changes (a file that fails to load is
    /// reported and the running ones keep serving).
    #[arg(long)]
    watch: bool,
    /// Append audit events to FILE, a hash-chained JSON-lines log. Default: failures (5xx,
    /// denials) on stderr.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
}

const STATUS_HELP: &str = "\
Statuses the server gives for the handler:
  400  no Host header          404  no route for the host and path
  413  body over the limit     429  the tenant is at its max-concurrent
  500  the handler gave an error code or no response
  503  the handler trapped or hit a limit (fuel, memory)
  504  the deadline passed before it answered";

/// The configuration the arguments say.
fn config_of(args: &ServeArgs) -> Result<ServeConfig, ServeError> {
    if let Some(file) = &args.config {
        let mut config = ServeConfig::load(file)?;
        if let Some(m) = args.metrics {
            config.metrics = Some(m);
        }
        return Ok(config);
    }
    let component = args
        .component
        .clone()
        .ok_or_else(|| ServeError::Config("give a COMPONENT or --config FILE".into()))?;
    let d = TenantConfig::default();
    let tenant = TenantConfig {
        policy: args.policy.clone(),
        fuel: args.fuel,
        memory: args.memory.unwrap_or(d.memory),
        deadline: args.timeout.unwrap_or(d.deadline),
        max_body: args.max_body.unwrap_or(d.max_body),
        max_concurrent: args.max_concurrent.unwrap_or(d.max_concurrent).max(1),
        max_outbound: d.max_outbound,
    };
    let mut config = ServeConfig {
        metrics: args.metrics,
        ..ServeConfig::default()
    };
    if let Some(a) = args.addr {
        config.listen = a;
    }
    config.tenants.insert("default".into(), tenant);
    config.routes.push(RouteConfig {
        // Named as `run` names a component loaded from a file.
        name: airssys_wasm::core::name_from_file_stem(
            &component
                .file_stem()
                .map(|s| s.to_string_lossy())
                .unwrap_or_default(),
        ),
        tenant: "default".into(),
        manifest: args.manifest.clone(),
        component,
        deployment: None,
        path: "/".into(),
        host: None,
    });
    // Checked by Server::start, as every configuration is.
    Ok(config)
}

/// Runs the server until SIGINT or SIGTERM.
pub fn serve(args: ServeArgs, verbosity: crate::report::Verbosity) -> ExitCode {
    match run(&args, verbosity) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", Escaped(&e));
            ExitCode::from(match &e {
                ServeError::Config(_) => 2,
                ServeError::Load { source, .. } => source.class().exit_code(),
                _ => 1,
            })
        }
    }
}

fn run(args: &ServeArgs, verbosity: crate::report::Verbosity) -> Result<(), ServeError> {
    let config = config_of(args)?;
    let log: Option<Arc<dyn AuditSink>> = match &args.audit {
        Some(path) => Some(Arc::new(
            ChainedLog::open(path, ChainConfig::default())
                .map_err(|e| ServeError::Start(format!("audit log {}: {e}", path.display())))?,
        )),
        None => None,
    };
    // Failures on stderr (every event with -v); the log, if given, gets
    // every event.
    let audit: Arc<dyn AuditSink> = Arc::new(crate::report::Report::new(verbosity, log));
    let runtime = airssys_wasm_http::runtime_for(&config, Some(audit))?;
    let server = Server::start(config.clone(), runtime)?;
    for r in &config.routes {
        tracing::info!(route = %r.name, tenant = %r.tenant, path = %r.path, host = r.host.as_deref().unwrap_or("*"), "route");
    }
    eprintln!(
        "serving on http://{}{} (Ctrl-C stops)",
        server.local_addr(),
        server
            .metrics_addr()
            .map(|m| format!(", metrics on http://{m}/metrics"))
            .unwrap_or_default()
    );
    let server = Arc::new(server);
    if args.watch {
        watch(args, config, server.clone())?;
    }
    wait_for_signal();
    eprintln!("stopping: draining the requests in flight");
    server.shutdown();
    Ok(())
}

/// Reloads the routes when a component file changes.
fn watch(args: &ServeArgs, config: ServeConfig, server: Arc<Server>) -> Result<(), ServeError> {
    let mut files: Vec<PathBuf> = config.routes.iter().map(|r| r.component.clone()).collect();
    files.sort();
    files.dedup();
    let config_file = args.config.clone();
    for file in files {
        let changes = airssys_wasm_lifecycle::watch::FileChanges::new(&file)
            .map_err(|e| ServeError::Start(format!("watching {}: {e}", file.display())))?;
        let (server, config, config_file) = (server.clone(), config.clone(), config_file.clone());
        std::thread::Builder::new()
            .name("airssys-wasm-serve-watch".into())
            .spawn(move || {
                while let Ok(true) = changes.wait(None) {
                    // A configuration file is read again too: its policies
                    // and limits take their new values.
                    let now = match &config_file {
                        Some(f) => ServeConfig::load(f),
                        None => Ok(config.clone()),
                    };
                    match now.and_then(|c| server.reload(&c)) {
                        Ok(()) => eprintln!("reloaded: {} changed", Escaped(file.display())),
                        Err(e) => eprintln!(
                            "error: reloading after {} changed: {} (the running routes stay)",
                            Escaped(file.display()),
                            Escaped(&e)
                        ),
                    }
                }
            })
            .map_err(|e| ServeError::Start(e.to_string()))?;
    }
    Ok(())
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot wait for signals: {e}");
            return;
        }
    };
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn one_component_is_a_default_tenant_and_a_route_named_after_the_file() {
        let cli = Cli::parse_from(["serve", "/x/my app.wasm", "--max-body", "1KiB"]);
        let c = config_of(&cli.serve).unwrap();
        let r = &c.routes[0];
        assert_eq!(
            (r.name.as_str(), r.tenant.as_str(), r.path.as_str()),
            ("my_app", "default", "/")
        );
        assert_eq!(c.tenants["default"].max_body, 1024);
        let cli = Cli::parse_from(["serve", "/x/-.wasm"]);
        assert_eq!(config_of(&cli.serve).unwrap().routes[0].name, "component");
    }
}
