//! `airssys-wasm host`: the long-running host (the `airssys-wasm-host`
//! crate), in the foreground until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use airssys_wasm::audit::Escaped;
use airssys_wasm_host::{Host, HostConfig, LogBook, StateDir};

/// How the host writes its own logs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per record.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `host`.
#[derive(clap::Args)]
pub struct HostCmdArgs {
    /// The state directory (registry, key-value data, audit log, keys, admin socket), made
    /// owner-only. Default: $XDG_STATE_HOME/airssys-wasm or ~/.local/state/airssys-wasm.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The host configuration (see README, "Running a host"). Default: STATE/host.toml if
    /// it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve /metrics and the status page on this loopback address (overrides host.toml).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// The format of the host's own log lines on stderr.
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormat,
}

/// Runs the host; `logs` is the book its tracing layer fills.
pub fn host(args: HostCmdArgs, logs: std::sync::Arc<LogBook>) -> ExitCode {
    match run(args, logs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", Escaped(&e));
            ExitCode::from(e.class().exit_code())
        }
    }
}

fn run(args: HostCmdArgs, logs: std::sync::Arc<LogBook>) -> airssys_wasm_host::Result<()> {
    let state = StateDir::open(args.state.unwrap_or_else(crate::ops::default_state))?;
    let file = args
        .config
        .or_else(|| Some(state.root().join("host.toml")).filter(|p| p.exists()));
    let mut config = match file {
        Some(f) => HostConfig::load(&f)?,
        None => HostConfig::default(),
    };
    if let Some(m) = args.metrics {
        if !m.ip().is_loopback() {
            return Err(airssys_wasm_host::HostError::Config(format!(
                "--metrics {m}: the host listens on loopback only (127.0.0.1 or ::1)"
            )));
        }
        config.metrics = Some(m);
    }
    let host = Host::open(state, config, logs)?;
    airssys_wasm_host::serve(host, |at| {
        let mut said = format!("host ready: admin API on {}", at.socket.display());
        if let Some(t) = at.tcp {
            said.push_str(&format!(
                " and http://{t} (bearer token in STATE/admin.token)"
            ));
        }
        if let Some(m) = at.metrics {
            said.push_str(&format!(
                "; metrics on http://{m}/metrics, status page on http://{m}/"
            ));
        }
        tracing::info!(target: "airssys_wasm::host", "{said}");
    })
}
