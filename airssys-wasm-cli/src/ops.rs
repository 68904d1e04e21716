//! The operator commands: clients of a running host's admin API
//! (`deploy`, `upgrade`, `canary`, `promote`, `rollback`, `undeploy`,
//! `list`, `info`, `status`, `call`, `logs`, `audit tail`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use airssys_wasm::ErrorClass;
use airssys_wasm::audit::Escaped;
use airssys_wasm_host::api::{
    AuditTail, CallRequest, CallResult, DeploymentView, Done, Info, Logs, Named, Since, Upload,
};
use airssys_wasm_host::{Client, ClientError};
use base64::Engine as _;

/// Where the host is, and how to print.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct HostArgs {
    /// The host's admin socket, or http://127.0.0.1:PORT for its TCP port (with
    /// AIRSSYS_WASM_TOKEN). Default: AIRSSYS_WASM_HOST, else the default state directory's
    /// admin.sock.
    #[arg(long = "host", value_name = "SOCKET")]
    pub host: Option<String>,
    /// Print JSON (the admin API's answer) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The default state directory: `$XDG_STATE_HOME/airssys-wasm`, else
/// `~/.local/state/airssys-wasm`.
pub fn default_state() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("airssys-wasm")
}

impl HostArgs {
    fn client(&self) -> Client {
        let at = self
            .host
            .clone()
            .or_else(|| std::env::var("AIRSSYS_WASM_HOST").ok())
            .unwrap_or_else(|| default_state().join("admin.sock").display().to_string());
        if let Some(addr) = at.strip_prefix("http://")
            && let Ok(addr) = addr.trim_end_matches('/').parse()
        {
            let token = std::env::var("AIRSSYS_WASM_TOKEN").unwrap_or_default();
            return Client::tcp(addr, token);
        }
        Client::socket(at)
    }
}

/// Prints the error and gives its class's exit code.
fn failed(e: ClientError) -> ExitCode {
    eprintln!("error: {}", Escaped(&e));
    let class = match &e {
        ClientError::Api(api) => api.class,
        _ => ErrorClass::Io,
    };
    ExitCode::from(class.exit_code())
}

fn finish<T: serde::Serialize>(
    args: &HostArgs,
    answer: Result<T, ClientError>,
    table: impl FnOnce(&T),
) -> ExitCode {
    match answer {
        Ok(value) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).expect("API values encode")
                );
            } else {
                table(&value);
            }
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

/// A component file and its manifest, as an upload.
fn upload(
    name: String,
    component: &Path,
    manifest: Option<&Path>,
    version: Option<String>,
) -> Result<Upload, ExitCode> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| {
            eprintln!("error: {}: {e}", Escaped(p.display()));
            ExitCode::from(ErrorClass::Io.exit_code())
        })
    };
    let bytes = read(component)?;
    let manifest = match manifest
        .map(Path::to_owned)
        .or_else(|| airssys_wasm::security::Manifest::find(component).0)
    {
        Some(m) => Some(String::from_utf8_lossy(&read(&m)?).into_owned()),
        None => None,
    };
    Ok(Upload {
        name,
        version,
        manifest,
        component: base64::engine::general_purpose::STANDARD.encode(bytes),
        ..Upload::default()
    })
}

/// `deploy COMPONENT`.
#[derive(clap::Args)]
pub struct DeployArgs {
    /// The component (.wasm).
    pub component: PathBuf,
    /// Its manifest. Default: found beside it, as `run` finds one.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The deployment's name (`name` or `tenant/name`). Default: the file's stem.
    #[arg(long)]
    pub name: Option<String>,
    /// The version. Default: the manifest's, else the next number.
    #[arg(long)]
    pub version: Option<String>,
    /// The most instances of each version at once (default 4).
    #[arg(long, value_name = "N")]
    pub pool: Option<u32>,
    #[command(flatten)]
    pub host: HostArgs,
}

/// `upgrade N COMPONENT` and `canary N COMPONENT --percent P`.
#[derive(clap::Args)]
pub struct UpgradeArgs {
    /// The deployment.
    pub name: String,
    /// The new component (.wasm).
    pub component: PathBuf,
    /// Its manifest. Default: found beside it.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The version. Default: the manifest's, else the next number.
    #[arg(long)]
    pub version: Option<String>,
    #[command(flatten)]
    pub host: HostArgs,
}

/// `canary N COMPONENT --percent P`.
#[derive(clap::Args)]
pub struct CanaryArgs {
    #[command(flatten)]
    pub upgrade: UpgradeArgs,
    /// The canary's share of the calls, 0 to 100.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub percent: u8,
}

/// A command on one deployment.
#[derive(clap::Args)]
pub struct NamedArgs {
    /// The deployment.
    pub name: String,
    #[command(flatten)]
    pub host: HostArgs,
}

/// `call N 'fn(args)'`.
#[derive(clap::Args)]
pub struct CallArgs {
    /// The deployment.
    pub name: String,
    /// The call, arguments in WAVE: 'add(1, 2)'.
    pub call: String,
    #[command(flatten)]
    pub host: HostArgs,
}

/// `logs N`.
#[derive(clap::Args)]
pub struct LogsArgs {
    /// The deployment.
    pub name: String,
    /// Keep printing new records.
    #[arg(long, short)]
    pub follow: bool,
    #[command(flatten)]
    pub host: HostArgs,
}

/// `audit tail`.
#[derive(clap::Args)]
pub struct TailArgs {
    /// Keep printing new records.
    #[arg(long, short)]
    pub follow: bool,
    #[command(flatten)]
    pub host: HostArgs,
}

fn print_view(v: &DeploymentView) {
    let canary = v
        .canary
        .as_deref()
        .map(|c| format!(", canary {c}"))
        .unwrap_or_default();
    println!(
        "{}: version {}{canary}, {}, {}",
        v.name, v.version, v.state, v.health
    );
}

/// `deploy`.
pub fn deploy(args: DeployArgs) -> ExitCode {
    let name = args.name.clone().unwrap_or_else(|| {
        args.component
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut up = match upload(
        name,
        &args.component,
        args.manifest.as_deref(),
        args.version,
    ) {
        Ok(u) => u,
        Err(code) => return code,
    };
    up.pool = args.pool;
    finish(
        &args.host,
        args.host.client().post("deploy", &up),
        print_view,
    )
}

/// `upgrade`.
pub fn upgrade(args: UpgradeArgs) -> ExitCode {
    match upload(
        args.name,
        &args.component,
        args.manifest.as_deref(),
        args.version,
    ) {
        Ok(up) => finish(
            &args.host,
            args.host.client().post("upgrade", &up),
            print_view,
        ),
        Err(code) => code,
    }
}

/// `canary`.
pub fn canary(args: CanaryArgs) -> ExitCode {
    let a = args.upgrade;
    match upload(a.name, &a.component, a.manifest.as_deref(), a.version) {
        Ok(mut up) => {
            up.percent = Some(args.percent);
            finish(&a.host, a.host.client().post("canary", &up), print_view)
        }
        Err(code) => code,
    }
}

/// `promote`, `rollback`.
pub fn named(op: &str, args: NamedArgs) -> ExitCode {
    let body = Named { name: args.name };
    finish(
        &args.host,
        args.host.client().post::<_, DeploymentView>(op, &body),
        print_view,
    )
}

/// `undeploy`.
pub fn undeploy(args: NamedArgs) -> ExitCode {
    let body = Named { name: args.name };
    finish(
        &args.host,
        args.host.client().post::<_, Done>("undeploy", &body),
        |d| println!("{}", d.done),
    )
}

/// `list`.
pub fn list(args: HostArgs) -> ExitCode {
    finish(
        &args,
        args.client().get::<Vec<DeploymentView>>("list"),
        |all| {
            table(
                &["NAME", "VERSION", "CANARY", "STATE", "HEALTH"],
                all.iter()
                    .map(|d| {
                        vec![
                            d.name.clone(),
                            d.version.clone(),
                            d.canary.clone().unwrap_or_else(|| "-".into()),
                            d.state.clone(),
                            d.health.clone(),
                        ]
                    })
                    .collect(),
            )
        },
    )
}

/// `status`.
pub fn status(args: HostArgs) -> ExitCode {
    finish(
        &args,
        args.client().get::<Vec<DeploymentView>>("status"),
        |all| {
            table(
                &[
                    "NAME", "VERSION", "STATE", "HEALTH", "INST", "CALLS", "ERRORS", "P50", "P99",
                    "FUEL", "MEMORY",
                ],
                all.iter()
                    .map(|d| {
                        let errors = if d.errors.is_empty() {
                            "0".to_owned()
                        } else {
                            d.errors
                                .iter()
                                .map(|(k, n)| format!("{k}={n}"))
                                .collect::<Vec<_>>()
                                .join(",")
                        };
                        vec![
                            d.name.clone(),
                            match &d.canary {
                                Some(c) => format!("{} +{c}", d.version),
                                None => d.version.clone(),
                            },
                            d.state.clone(),
                            d.health.clone(),
                            d.instances.to_string(),
                            d.calls.to_string(),
                            errors,
                            latency(d.calls, d.p50_us),
                            latency(d.calls, d.p99_us),
                            d.fuel.to_string(),
                            bytesize::ByteSize(d.memory_bytes).to_string(),
                        ]
                    })
                    .collect(),
            )
        },
    )
}

/// `info`.
pub fn info(args: NamedArgs) -> ExitCode {
    let body = Named { name: args.name };
    finish(
        &args.host,
        args.host.client().post::<_, Info>("info", &body),
        |i| {
            print_view(&i.deployment);
            if let Some(p) = &i.deployment.previous {
                println!("rollback returns to version {p}");
            }
            table(
                &["VERSION", "DIGEST", "BYTES"],
                i.versions
                    .iter()
                    .map(|(v, d, n)| vec![v.clone(), d.clone(), n.to_string()])
                    .collect(),
            );
        },
    )
}

/// `call`: the results in WAVE, one per line, as `run --invoke` prints them.
pub fn call(args: CallArgs) -> ExitCode {
    let body = CallRequest {
        name: args.name,
        call: args.call,
    };
    finish(
        &args.host,
        args.host.client().post::<_, CallResult>("call", &body),
        |r| {
            for line in &r.results {
                println!("{line}");
            }
        },
    )
}

/// `logs [--follow]`.
pub fn logs(args: LogsArgs) -> ExitCode {
    let json = args.host.json;
    tail(
        &args.host,
        args.follow,
        "logs",
        Some(args.name.clone()),
        |logs: &Logs| {
            for r in &logs.records {
                if json {
                    println!("{}", serde_json::to_string(r).expect("encodes"));
                } else {
                    println!(
                        "{} {:5} {}@{}: {}",
                        r.time, r.level, args.name, r.version, r.message
                    );
                }
            }
            logs.next
        },
    )
}

/// `audit tail [--follow]`.
pub fn audit_tail(args: TailArgs) -> ExitCode {
    let json = args.host.json;
    tail(
        &args.host,
        args.follow,
        "audit",
        None,
        |tail: &AuditTail| {
            for (seq, event) in &tail.events {
                if json {
                    println!("{}", serde_json::to_string(event).expect("encodes"));
                } else {
                    println!("{seq:>6} {}", Escaped(describe(event)));
                }
            }
            tail.next
        },
    )
}

/// Asks `op` for what came since the last answer and prints it with
/// `print` (which says where the next answer resumes): once, or with
/// `follow` every 500 ms until interrupted.
fn tail<T: serde::de::DeserializeOwned>(
    host: &HostArgs,
    follow: bool,
    op: &str,
    name: Option<String>,
    mut print: impl FnMut(&T) -> u64,
) -> ExitCode {
    let client = host.client();
    let mut since = None;
    loop {
        let body = Since {
            name: name.clone(),
            since,
            limit: Some(1000),
        };
        match client.post::<_, T>(op, &body) {
            Ok(answer) => since = Some(print(&answer)),
            Err(e) => return failed(e),
        }
        if !follow {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One audit record in a line: its time, component, event and the rest.
fn describe(event: &serde_json::Value) -> String {
    let field = |k: &str| event.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let mut rest: Vec<String> = event
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "time" | "component" | "event" | "hash" | "prev" | "seq" | "v"
                    )
                })
                .map(|(k, v)| match v.as_str() {
                    Some(s) => format!("{k}={s}"),
                    None => format!("{k}={v}"),
                })
                .collect()
        })
        .unwrap_or_default();
    rest.sort();
    format!(
        "{} {} {} {}",
        field("time"),
        field("component"),
        field("event"),
        rest.join(" ")
    )
}

/// A latency in milliseconds, or `-` before the first call.
fn latency(calls: u64, us: u64) -> String {
    if calls == 0 {
        "-".into()
    } else {
        format!("{:.2}ms", us as f64 / 1000.0)
    }
}

fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", Escaped(text.join("  ").trim_end()));
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row);
    }
}
