//! `airssys-wasm run`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use airssys_wasm::audit::Escaped;
use airssys_wasm::{
    AuditSink, BackendKind, Capability, ChainConfig, ChainedLog, Error, HostSettings, Limits,
    LoadOptions, Result, Runtime, WaveCall,
};

/// Arguments of `run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The backend that runs the component: wasmtime (JIT, fastest calls) or wasmi
    /// (interpreter: no JIT, fast start-up, small footprint).
    #[arg(long, value_enum, default_value = "wasmtime")]
    backend: BackendName,
    /// Fuel per call (about one unit per WebAssembly instruction). Default: unlimited.
    #[arg(long, value_name = "N", value_parser = parse_fuel)]
    fuel: Option<u64>,
    /// Linear memory limit, e.g. 64MiB or 1GiB. Default: 64MiB, or the policy's.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,
    /// Wall-clock limit per call, e.g. 500ms or 5s. Default: unlimited.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Grant stdin, stdout and stderr.
    #[arg(long)]
    allow_stdio: bool,
    /// Grant the wall and monotonic clocks (otherwise they read 0).
    #[arg(long)]
    allow_clocks: bool,
    /// Grant host entropy (otherwise random bytes are a fixed sequence).
    #[arg(long)]
    allow_random: bool,
    /// Grant an environment variable: NAME passes the host's value, NAME=VAL sets one.
    #[arg(long, value_name = "NAME[=VAL]", value_parser = parse_env)]
    env: Vec<String>,
    /// Grant a host directory as a guest path; add :ro for read-only. A path alone
    /// (`--dir ./data`, as wasmtime writes it) is seen at the same path inside.
    #[arg(long, value_name = "HOST[::GUEST][:ro]", value_parser = parse_dir)]
    dir: Vec<Capability>,
    /// Append audit events to FILE, a hash-chained JSON-lines log (check it with `audit verify`).
    /// Default: denials, traps and limit hits on stderr.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// Chain key of --audit: a file of 64 hex digits (e.g. from `openssl rand -hex 32`), kept
    /// away from the log. Line hashes and the head are keyed with it, so nobody without it can
    /// forge them; `audit verify --key FILE` needs it.
    #[arg(long, value_name = "FILE", requires = "audit")]
    audit_key: Option<PathBuf>,
    /// Host key (NAME.key from `keygen`) that signs checkpoints of --audit (every 1000 events,
    /// every 60 s, and when the run ends) and its head; `audit verify --pubkey NAME.pub`
    /// checks them.
    #[arg(long, value_name = "FILE", requires = "audit")]
    audit_sign_key: Option<PathBuf>,
    /// Keep airssys:host key-value data in FILE (a redb database; it survives runs).
    /// Default: in memory, gone when the run ends.
    #[arg(long, value_name = "FILE", value_parser = parse_kv_store)]
    kv_store: Option<PathBuf>,
    /// Cache compiled components in DIR (a second run skips compilation).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// The component's name in audit records and the policy's [grant.NAME]: 1-64 characters of
    /// A-Z a-z 0-9 - _ . beginning with a letter or digit (default: the manifest's name, else the
    /// file stem with other characters replaced by _).
    #[arg(long, value_parser = parse_component_name)]
    name: Option<String>,
    /// The tenant the component runs for: part of its identity in audit records
    /// (tenant/name@version) and the owner of its key-value namespaces (default: `default`).
    #[arg(long, value_name = "TENANT", value_parser = parse_tenant)]
    tenant: Option<String>,
    /// The component's version in its identity (default: the manifest's version, else none).
    #[arg(long, value_name = "VERSION", value_parser = parse_version)]
    component_version: Option<String>,
    #[command(flatten)]
    governed: crate::governed::PolicyArgs,
    /// Call one export, e.g. 'greet("ada")' or 'add(1, 2)', and print its result in WAVE.
    #[arg(long, value_name = "CALL")]
    invoke: Option<String>,
    /// Run again each time the component file changes (edit, build, see the result); a broken
    /// build prints its error and the next change is awaited. Ctrl-C stops.
    #[arg(long)]
    watch: bool,
    /// The component file.
    component: PathBuf,
    /// Arguments passed to the component (after `--`).
    #[arg(last = true)]
    args: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendName {
    Wasmtime,
    Wasmi,
}

impl From<BackendName> for BackendKind {
    fn from(b: BackendName) -> Self {
        match b {
            BackendName::Wasmtime => BackendKind::Wasmtime,
            BackendName::Wasmi => BackendKind::Wasmi,
        }
    }
}

/// `--fuel N`: a count, written with `_` between digits if wanted (as
/// TOML allows: `10_000_000`); 0 is refused, since it would stop every call
/// before its first instruction.
pub(crate) fn parse_fuel(text: &str) -> std::result::Result<u64, String> {
    let digits = text.replace('_', "");
    let n: u64 = digits.parse().map_err(|e| {
        format!("`{text}` is not a count of fuel units ({e}); write e.g. 10_000_000")
    })?;
    if n == 0 {
        return Err(
            "0 fuel stops every call before its first instruction; give a budget such as \
             10_000_000, or leave --fuel out for no limit"
                .into(),
        );
    }
    Ok(n)
}

/// `--name NAME` (and `inspect --name`, `keygen NAME`): a component name,
/// checked as the command line is read (a usage error, exit 2).
pub(crate) fn parse_component_name(text: &str) -> std::result::Result<String, String> {
    checked(text, airssys_wasm::check_name)
}

/// `--tenant TENANT`, checked as the command line is read.
fn parse_tenant(text: &str) -> std::result::Result<String, String> {
    checked(text, airssys_wasm::check_tenant)
}

/// `--component-version VERSION`, checked as the command line is read.
fn parse_version(text: &str) -> std::result::Result<String, String> {
    checked(text, airssys_wasm::check_version)
}

/// The value, or why it breaks its rule (clap names the flag and value).
fn checked(
    text: &str,
    check: fn(&str) -> std::result::Result<(), airssys_wasm::NameError>,
) -> std::result::Result<String, String> {
    check(text)
        .map(|()| text.to_owned())
        .map_err(|e| format!("{}; {}", e.why, e.rule))
}

/// `--env NAME[=VAL]`: NAME is not empty and holds neither `=` nor NUL
/// (what an environment variable's name can be).
fn parse_env(text: &str) -> std::result::Result<String, String> {
    let name = text.split_once('=').map_or(text, |(name, _)| name);
    if name.is_empty() {
        return Err(
            "the variable's name is empty; write NAME to pass the host's value or \
                    NAME=VALUE to set one"
                .into(),
        );
    }
    if text.contains('\0') {
        return Err("an environment variable cannot hold a NUL character".into());
    }
    Ok(text.to_owned())
}

pub(crate) fn parse_size(s: &str) -> std::result::Result<u64, String> {
    airssys_wasm::security::parse_size(s)
}

/// A host path given on the command line: made absolute against the
/// current directory, then normalised (`.`, `..`, `//`); a path that does
/// not normalise is an error saying why (the flag's value parser names
/// the flag).
pub(crate) fn host_path(text: &str) -> std::result::Result<PathBuf, String> {
    let absolute = std::path::absolute(text).map_err(|e| format!("`{text}`: {e}"))?;
    let utf8 = absolute
        .to_str()
        .ok_or_else(|| format!("`{text}` is not valid UTF-8"))?;
    airssys_wasm::capability::normal_path(utf8)
        .map(PathBuf::from)
        .map_err(|e| e.to_string())
}

/// `--kv-store FILE`: made absolute and normalised as it is read (a
/// usage error, exit 2, when it does not normalise).
fn parse_kv_store(text: &str) -> std::result::Result<PathBuf, String> {
    host_path(text)
}

/// `--dir HOST[::GUEST][:ro]`: a host directory that exists, seen at
/// GUEST (at the same path when GUEST is left out). Errors are usage
/// errors (exit 2), saying what is wrong with the path.
fn parse_dir(text: &str) -> std::result::Result<Capability, String> {
    let (text, read_only) = match text.strip_suffix(":ro") {
        Some(t) => (t, true),
        None => (text, false),
    };
    let (host_text, guest) = match text.split_once("::") {
        Some((host, guest)) => (host, Some(guest)),
        None => (text, None),
    };
    let host = host_path(host_text)?;
    match std::fs::metadata(&host) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "`{host_text}` is a file, not a directory: --dir grants directories (grant \
                 one file with a manifest's `files` entry)"
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("no directory `{host_text}` ({})", host.display()));
        }
        Err(e) => return Err(format!("`{host_text}`: {e}")),
    }
    let guest = match guest {
        Some(g) if !g.starts_with('/') => {
            return Err(format!(
                "the guest path `{g}` must be absolute, as in {host_text}::/{g}"
            ));
        }
        Some(g) => airssys_wasm::capability::normal_path(g)
            .map_err(|e| format!("the guest path `{g}`: {e}"))?,
        None => host
            .to_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`{host_text}` is not valid UTF-8"))?,
    };
    Ok(Capability::dir(host, guest, read_only))
}

/// The grants the flags ask for.
fn capabilities(args: &RunArgs) -> std::result::Result<Vec<Capability>, Error> {
    let mut caps = Vec::new();
    if args.allow_stdio {
        caps.push(Capability::Stdio);
    }
    if args.allow_clocks {
        caps.push(Capability::Clocks);
    }
    if args.allow_random {
        caps.push(Capability::Random);
    }
    for e in &args.env {
        caps.push(match e.split_once('=') {
            Some((name, value)) => Capability::env_value(name, value),
            None => Capability::env(e.as_str()),
        });
    }
    caps.extend(args.dir.iter().cloned());
    Ok(caps)
}

pub fn run(args: RunArgs, verbosity: crate::report::Verbosity) -> Result<ExitCode> {
    if !args.watch {
        return run_once(&args, verbosity);
    }
    // Watching starts before the first run, so a build finishing during it
    // is not missed.
    let changes =
        airssys_wasm_lifecycle::watch::FileChanges::new(&args.component).map_err(|e| {
            Error::Io {
                path: args.component.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
    loop {
        if let Err(e) = run_once(&args, verbosity) {
            eprintln!("error: {}", Escaped(&e));
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        eprintln!(
            "watching {}: runs again when it changes (Ctrl-C stops)",
            Escaped(args.component.display())
        );
        changes.wait(None).map_err(|e| Error::Io {
            path: args.component.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
}

fn run_once(args: &RunArgs, verbosity: crate::report::Verbosity) -> Result<ExitCode> {
    let chained = match &args.audit {
        Some(path) => {
            let config = ChainConfig {
                key: args
                    .audit_key
                    .as_deref()
                    .map(crate::audit::read_chain_key)
                    .transpose()?,
                signing_key: args
                    .audit_sign_key
                    .as_deref()
                    .map(crate::audit::read_signing_key)
                    .transpose()?,
                ..ChainConfig::default()
            };
            let log = ChainedLog::open(path, config).map_err(|e| Error::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(e.0),
            })?;
            Some(Arc::new(log))
        }
        None => None,
    };
    let audit: Arc<dyn AuditSink> = Arc::new(crate::report::Report::new(
        verbosity,
        chained.clone().map(|log| log as Arc<dyn AuditSink>),
    ));
    // Every path out of a run, failures included, waits for the audit log
    // to be written: the events of a failed run matter most. A chained log
    // is then closed, which signs its end when it has a signing key.
    let outcome = run_with(args, audit.clone());
    let flushed = audit.flush();
    drop(audit);
    let closed = chained.map_or(Ok(()), |log| log.close());
    let code = outcome?;
    flushed?;
    closed?;
    Ok(code)
}

fn run_with(args: &RunArgs, audit: Arc<dyn AuditSink>) -> Result<ExitCode> {
    let runtime = Runtime::builder()
        .backend(BackendKind::from(args.backend))
        .audit(audit)
        .host_settings(HostSettings {
            kv_path: args.kv_store.clone(),
            ..HostSettings::default()
        })
        .wasmtime_config(airssys_wasm::wasmtime_backend::WasmtimeConfig {
            cache_dir: args.cache_dir.clone(),
            ..Default::default()
        })
        .build()?;
    let (policy, manifest) = crate::governed::load(&args.governed, &args.component)?;
    // Under a policy only the flags given are direct limits; without one
    // they refine the defaults.
    let mut limits = if policy.is_some() {
        Limits::unlimited()
    } else {
        Limits::default()
    };
    limits.memory_bytes = args.memory.or(limits.memory_bytes);
    limits.fuel = args.fuel;
    limits.timeout = args.timeout;
    let mut options = LoadOptions::new().limits(limits).args(args.args.clone());
    if let Some(policy) = policy {
        options = options.policy(policy, manifest);
    } else if let Some(m) = manifest.as_ref().filter(|m| !m.asks_nothing()) {
        // A manifest that asks for nothing loses nothing without a policy.
        eprintln!(
            "warning: {} is not applied without --policy: nothing is granted beyond the flags",
            Escaped(m.file().display())
        );
    }
    for cap in capabilities(args)? {
        options = options.grant(cap);
    }
    if let Some(name) = &args.name {
        options = options.name(name.clone());
    }
    if let Some(tenant) = &args.tenant {
        options = options.tenant(tenant.clone());
    }
    if let Some(version) = &args.component_version {
        options = options.version(version.clone());
    }
    let component = runtime.load(args.component.as_path(), options)?;
    if let Some(e) = component.evaluation() {
        for w in &e.warnings {
            eprintln!("warning: {}", Escaped(w));
        }
    }
    let mut instance = component.instantiate()?;
    let code = match &args.invoke {
        Some(text) => {
            let bad_call = |e: airssys_wasm::WaveError| Error::InvalidArguments {
                function: "--invoke".into(),
                detail: e.to_string(),
            };
            let call = WaveCall::parse(text).map_err(bad_call)?;
            // Errors in the arguments name the function, once.
            let bad_args = |e: airssys_wasm::WaveError| Error::InvalidArguments {
                function: call.name().to_owned(),
                detail: e.to_string(),
            };
            let ty = component
                .info()
                .export_function(call.name())
                .ok_or_else(|| Error::NoSuchExport {
                    name: call.name().to_owned(),
                    available: component.info().export_names(),
                })?;
            let call_args = call.args(&ty).map_err(bad_args)?;
            let results = instance
                .call(call.name(), &call_args)
                .inspect_err(|e| warn_names(&component, e))?;
            for v in results {
                let text = v.to_wave().map_err(|e| Error::Backend(e.to_string()))?;
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        None => {
            let is_command = component
                .info()
                .export_functions()
                .any(|(n, _)| n.starts_with("wasi:cli/run@") && n.ends_with("#run"));
            if !is_command {
                return Err(not_a_command(&component));
            }
            let code = instance.run().inspect_err(|e| warn_names(&component, e))?;
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    };
    Ok(code)
}

/// `run` without `--invoke` on a component that is not a command: says
/// how to call what it exports.
fn not_a_command(component: &airssys_wasm::Component) -> Error {
    let exports: Vec<_> = component.info().export_functions().collect();
    let names: Vec<&str> = exports.iter().map(|(name, _)| name.as_str()).collect();
    let example = exports
        .first()
        .map(|(name, ty)| {
            let args: Vec<&str> = ty.params.iter().map(|(_, t)| sample(t)).collect();
            format!(", e.g. --invoke '{name}({})'", args.join(", "))
        })
        .unwrap_or_default();
    let available = format!(
        "{} (it is not a command: call an export with --invoke, arguments in WAVE{example}; \
         `airssys-wasm inspect` shows their types)",
        names.join(", ")
    );
    Error::NoSuchExport {
        name: "wasi:cli/run".into(),
        available,
    }
}

/// A value of `ty` in WAVE, for examples.
fn sample(ty: &airssys_wasm::ValueType) -> &'static str {
    use airssys_wasm::ValueType as T;
    match ty {
        T::String => "\"ada\"",
        T::Char => "'a'",
        T::Bool => "true",
        T::F32 | T::F64 => "1.5",
        T::List(_) => "[]",
        T::Option(_) => "none",
        T::S8 | T::S16 | T::S32 | T::S64 | T::U8 | T::U16 | T::U32 | T::U64 => "1",
        _ => "...",
    }
}

/// After a trap: the warnings about export names that explain some traps
/// (an export named like a libc function, [`ComponentInfo::export_warnings`]).
///
/// [`ComponentInfo::export_warnings`]: airssys_wasm::ComponentInfo::export_warnings
fn warn_names(component: &airssys_wasm::Component, e: &Error) {
    if matches!(e, Error::Trap { .. }) {
        for w in component.info().export_warnings() {
            eprintln!("warning: {}", Escaped(&w));
        }
    }
}
