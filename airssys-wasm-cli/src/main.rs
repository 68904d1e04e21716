//! `airssys-wasm`: run and inspect WebAssembly component plugins.
//!
//! The binary only parses arguments and prints; everything it does is a call
//! into the `airssys-wasm` crate that a Rust application can make too.

mod audit;
mod compose;
mod governed;
mod host;
mod inspect;
mod new;
mod ops;
mod report;
mod run;
mod serve;
mod shell;
mod sign;

use std::process::ExitCode;

use airssys_wasm::ErrorClass;
use airssys_wasm::audit::{Escaped, Escaper};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "airssys-wasm",
    version,
    about = "Run untrusted WebAssembly components as plugins: nothing granted by default, hard limits, every decision audited.",
    after_help = exit_code_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Show every audit event on stderr (and the guests' info logs); -vv adds debug logs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Show only errors on stderr (the audit log still records everything).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run a component: call one export with --invoke, or run it as a command (wasi:cli/run).
    #[command(after_help = exit_code_help())]
    Run(Box<run::RunArgs>),
    /// Serve wasi:http handlers: one component, or tenants and routes from --config.
    Serve(Box<serve::ServeArgs>),
    /// Show a component's digest, size, imports, exports and the capabilities its imports need.
    Inspect(inspect::InspectArgs),
    /// Verify or read a tamper-evident audit log written by `run --audit FILE`.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Plug components' exports into another component's imports: one component out.
    Compose(compose::ComposeArgs),
    /// Make a component of a core module a compiler wrote (C, AssemblyScript), from its WIT world.
    Componentize(compose::ComponentizeArgs),
    /// Create an Ed25519 signing key: NAME.key (secret) and NAME.pub.
    Keygen(sign::KeygenArgs),
    /// Sign a component with a key from `keygen`; writes COMPONENT.sig.
    Sign(sign::SignArgs),
    /// Check a component's signature (COMPONENT.sig) against a public key.
    Verify(sign::VerifyArgs),
    /// Create a plugin that builds and runs at once (Rust, JavaScript, Python, C or AssemblyScript).
    New(new::NewArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(shell::CompletionsArgs),
    /// Print the manual page (roff), or write every page into a directory with --out.
    Man(shell::ManArgs),
    /// Run a long-running host: deployments kept across restarts, an admin API, metrics.
    Host(host::HostCmdArgs),
    /// Deploy a component on a running host under a new name.
    #[command(after_help = exit_code_help())]
    Deploy(ops::DeployArgs),
    /// Switch a deployment to a new component version, with zero failed calls.
    Upgrade(ops::UpgradeArgs),
    /// Send a share of a deployment's calls to a new component version.
    Canary(ops::CanaryArgs),
    /// Make a deployment's canary its active version.
    Promote(ops::NamedArgs),
    /// Drop a deployment's canary, or return to the version active before its last upgrade.
    Rollback(ops::NamedArgs),
    /// Stop serving a deployment (the host's registry keeps its versions).
    Undeploy(ops::NamedArgs),
    /// List a host's deployments.
    List(ops::HostArgs),
    /// Show a deployment and the versions its component has.
    Info(ops::NamedArgs),
    /// Per deployment: version, state, health, instances, calls, errors, p50/p99, fuel, memory.
    Status(ops::HostArgs),
    /// Call a deployed component's export, arguments in WAVE; prints results as run --invoke.
    #[command(after_help = exit_code_help())]
    Call(ops::CallArgs),
    /// Print a deployment's log records (airssys:host/logging).
    Logs(ops::LogsArgs),
}

/// Reads an input file; a failure names the file (exit code 90).
fn read_input(path: &std::path::Path) -> airssys_wasm::Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| airssys_wasm::Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The exit codes, for `--help` and the README.
fn exit_code_help() -> String {
    let mut s = String::from(
        "Exit codes:\n  0    success\n  1    the command's wasi:cli/run returned an error\n  2    bad command-line usage\n",
    );
    for class in ErrorClass::ALL {
        s.push_str(&format!(
            "  {:<4} {}\n",
            class.exit_code(),
            class.describe()
        ));
    }
    s.push_str("  A guest that calls exit(N) makes airssys-wasm exit with N.\n");
    s
}

/// The command line, or exit 2 with clap's message. The values clap
/// repeats in its message (an invalid value, an unknown argument) are shown
/// escaped, so a flag's value cannot write a line of its own on stderr.
fn parse_args() -> Cli {
    Cli::try_parse().unwrap_or_else(|mut error| {
        let said: Vec<_> = error
            .context()
            .map(|(kind, value)| (kind, value.clone()))
            .collect();
        for (kind, value) in said {
            use clap::error::ContextValue;
            let escaped = match value {
                ContextValue::String(text) => ContextValue::String(Escaped(&text).to_string()),
                ContextValue::Strings(texts) => {
                    ContextValue::Strings(texts.iter().map(|t| Escaped(t).to_string()).collect())
                }
                other => other,
            };
            error.insert(kind, escaped);
        }
        // A value parser's reason may repeat the value: escaped too.
        let context = |kind| match error.get(kind) {
            Some(clap::error::ContextValue::String(text)) => Some(text.clone()),
            _ => None,
        };
        use clap::error::{ContextKind, ErrorKind};
        if let (ErrorKind::ValueValidation, Some(arg), Some(value), Some(why)) = (
            error.kind(),
            context(ContextKind::InvalidArg),
            context(ContextKind::InvalidValue),
            std::error::Error::source(&error),
        ) {
            let message = format!(
                "invalid value '{value}' for '{arg}': {}\n\nFor more information, try '--help'.\n",
                Escaped(why.to_string())
            );
            clap::Error::raw(ErrorKind::ValueValidation, message).exit()
        }
        error.exit()
    })
}

fn main() -> ExitCode {
    let cli = parse_args();
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => report::Verbosity::Quiet,
        (false, 0) => report::Verbosity::Normal,
        (false, _) => report::Verbosity::Verbose,
    };
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let command = match cli.command {
        Command::Host(args) => {
            let logs = airssys_wasm_host::LogBook::new();
            // A host says what it does at info: it runs unattended.
            let level = if cli.quiet || cli.verbose > 0 {
                level
            } else {
                "info"
            };
            init_host_tracing(level, args.log_format, &logs);
            return host::host(args, logs);
        }
        other => other,
    };
    init_tracing(level);
    let result = match command {
        Command::Run(args) => run::run(*args, verbosity),
        Command::Serve(args) => Ok(serve::serve(*args, verbosity)),
        Command::Inspect(args) => inspect::inspect(args),
        Command::Audit(cmd) => audit::audit(cmd),
        Command::Compose(args) => compose::compose(args),
        Command::Componentize(args) => compose::componentize(args),
        Command::Keygen(args) => sign::keygen(args),
        Command::Sign(args) => sign::sign(args),
        Command::Verify(args) => sign::verify(args),
        Command::New(args) => new::new(args),
        Command::Completions(args) => shell::completions(args),
        Command::Man(args) => shell::man(args),
        Command::Host(_) => unreachable!("the host is run above"),
        Command::Deploy(args) => Ok(ops::deploy(args)),
        Command::Upgrade(args) => Ok(ops::upgrade(args)),
        Command::Canary(args) => Ok(ops::canary(args)),
        Command::Promote(args) => Ok(ops::named("promote", args)),
        Command::Rollback(args) => Ok(ops::named("rollback", args)),
        Command::Undeploy(args) => Ok(ops::undeploy(args)),
        Command::List(args) => Ok(ops::list(args)),
        Command::Info(args) => Ok(ops::info(args)),
        Command::Status(args) => Ok(ops::status(args)),
        Command::Call(args) => Ok(ops::call(args)),
        Command::Logs(args) => Ok(ops::logs(args)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // An error can quote a guest (a request, a trap message): its
            // control characters are shown escaped.
            eprintln!("error: {}", Escaped(&e));
            ExitCode::from(e.class().exit_code())
        }
    }
}

/// Logs (the guests' among them) go to stderr through `tracing`, at
/// `default` and above; `AIRSSYS_WASM_LOG` (tracing's filter syntax)
/// changes that, and then shows audit events through `tracing` too
/// ([`report`]).
///
/// Every field is written escaped ([`Escaper`]): a guest's log message or
/// request cannot print a line of its own or a terminal control sequence,
/// whoever emitted the event.
fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIRSSYS_WASM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .fmt_fields(escaped_fields())
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}

/// A host's logs: its own records on stderr (text or JSON, filtered by
/// `level` or `AIRSSYS_WASM_LOG`), and every guest record into `logs`, for
/// `airssys-wasm logs`, whatever the filter.
fn init_host_tracing(
    level: &str,
    format: host::LogFormat,
    logs: &std::sync::Arc<airssys_wasm_host::LogBook>,
) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIRSSYS_WASM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let stderr = match format {
        host::LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        host::LogFormat::Text => tracing_subscriber::fmt::layer()
            .fmt_fields(escaped_fields())
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_filter(filter)
            .boxed(),
    };
    let guests = logs.layer().with_filter(
        tracing_subscriber::filter::Targets::new()
            .with_target("airssys_wasm::guest", tracing::Level::TRACE),
    );
    tracing_subscriber::registry()
        .with(stderr)
        .with(guests)
        .init();
}

/// The field formatter of stderr lines: tracing's default layout (the
/// message, then `name=value` pairs), every value escaped.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> {
    use std::fmt::Write as _;
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(
        |w: &mut tracing_subscriber::fmt::format::Writer<'_>,
         field: &tracing::field::Field,
         value: &dyn std::fmt::Debug| {
            if field.name() == "message" {
                write!(Escaper(w), "{value:?}")
            } else {
                write!(Escaper(w), "{field}={value:?}")
            }
        },
    )
    .delimited(" ")
}
