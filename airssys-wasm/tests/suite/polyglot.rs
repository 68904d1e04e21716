//! The polyglot greeter (`wit/greeter.wit`) in every guest language: each
//! language's component, built from `guests/<language>/` by `cargo xtask
//! guests`, goes through the same assertions on every backend.
//!
//! Which languages: `AIRSSYS_GREETERS` (comma-separated, set by `cargo xtask
//! test`: Rust, C and JavaScript; every language with `--all-guests`), else
//! Rust, C and JavaScript. A language asked for whose component is missing
//! fails the test, naming the command that builds it.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airssys_wasm::audit::Escaped;
use airssys_wasm::capability::CapabilityKind;
use airssys_wasm::wasmtime_backend::WasmtimeConfig;
use airssys_wasm::{AuditKind, Capability, HostSettings, LoadOptions, MemorySink, Runtime, Value};

/// Every language with a greeter, as `cargo xtask guests --lang` names them.
const EVERY: [&str; 7] = [
    "rust",
    "c",
    "cpp",
    "javascript",
    "python",
    "go",
    "assemblyscript",
];

/// What the greeter of `lang` is granted: exactly what it needs. Go's
/// runtime reads the monotonic clock at start-up (through WASI, imported by
/// the preview1 adapter) and fails without it; the others need nothing.
fn grants(lang: &str) -> Vec<Capability> {
    match lang {
        "go" => vec![Capability::Clocks],
        _ => vec![],
    }
}

/// The languages whose greeters this run checks.
fn languages() -> Vec<String> {
    let list = std::env::var("AIRSSYS_GREETERS").unwrap_or_else(|_| "rust,c,javascript".into());
    let langs: Vec<String> = list
        .split(',')
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    for lang in &langs {
        assert!(
            EVERY.contains(&lang.as_str()),
            "AIRSSYS_GREETERS names `{lang}`; the greeter languages are {EVERY:?}"
        );
    }
    langs
}

/// The greeter component of `lang`, which must have been built
/// (`cargo xtask guests --lang LANG`).
fn greeter(lang: &str) -> PathBuf {
    common::guest(&format!("greeter-{lang}"))
}

/// Where compiled components are cached between runs: the large ones
/// (JavaScript and Python embed an interpreter) take seconds to compile.
fn compile_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/guests/compiled")
}

/// One runtime per backend this build has, each auditing into `audit` and
/// caching compiled code in `cache` (`None`: no cache), with these host
/// settings. A new backend is one more line here.
fn runtimes_with(
    audit: &Arc<MemorySink>,
    cache: Option<&Path>,
    host: HostSettings,
) -> Vec<Runtime> {
    let wasmtime = Runtime::builder()
        .audit(audit.clone())
        .host_settings(host.clone())
        .wasmtime_config(WasmtimeConfig {
            cache_dir: cache.map(Path::to_owned),
            ..WasmtimeConfig::default()
        })
        .build()
        .expect("the wasmtime runtime builds");
    #[allow(unused_mut)]
    let mut all = vec![wasmtime];
    #[cfg(feature = "wasmi")]
    all.push(
        Runtime::builder()
            .backend(airssys_wasm::BackendKind::Wasmi)
            .audit(audit.clone())
            .host_settings(host)
            .build()
            .expect("the wasmi runtime builds"),
    );
    all
}

/// [`runtimes_with`] the default host settings.
fn runtimes(audit: &Arc<MemorySink>, cache: &Path) -> Vec<Runtime> {
    runtimes_with(audit, Some(cache), HostSettings::default())
}

/// Log records guests write through `airssys:host/logging`: the host emits
/// them as `tracing` events with target `airssys_wasm::guest`; this
/// subscriber keeps (component, text) of each, on the thread it is set on.
#[derive(Clone, Default)]
struct GuestLog(Arc<Mutex<Vec<(String, String)>>>);

impl GuestLog {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[derive(Default)]
struct Fields {
    component: String,
    message: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "component" {
            self.component = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "component" => self.component = format!("{value:?}").trim_matches('"').to_string(),
            _ => {}
        }
    }
}

impl tracing::Subscriber for GuestLog {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        // Other tests' threads run without this subscriber: ask every time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "airssys_wasm::guest"
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((fields.component, fields.message));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// What `transform` must return: reversed, each byte plus one.
fn transformed(data: &[u8]) -> Vec<u8> {
    data.iter().rev().map(|b| b.wrapping_add(1)).collect()
}

/// Load options granting the greeter of `lang` what it needs. Go's comes
/// through its example manifest (`examples/greeter-go.Component.toml`)
/// under a policy that would grant more: it gets what the manifest asks.
fn options(lang: &str, name: &str) -> LoadOptions {
    use airssys_wasm::security::{Manifest, Policy};
    if lang != "go" {
        return LoadOptions::new().name(name);
    }
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let manifest = Manifest::load(&examples.join("greeter-go.Component.toml")).unwrap();
    let policy = Policy::parse(
        "policy.toml",
        "[grant.\"*\"]\nclocks = true\nrandom = true\nstdio = true\n",
    )
    .unwrap();
    LoadOptions::new()
        .policy(Arc::new(policy), Some(Arc::new(manifest)))
        .name(name)
}

/// The shared assertions: the greeter of `lang` on `rt`, granted only what
/// it needs (logging needs no capability); panics naming the language and
/// backend.
fn check_greeter(rt: &Runtime, audit: &MemorySink, log: &GuestLog, lang: &str) {
    let name = format!("greeter-{lang}-{}", rt.backend_name());
    let at = format!("{lang} greeter on {}", rt.backend_name());
    let component = rt
        .load(greeter(lang), options(lang, &name))
        .unwrap_or_else(|e| panic!("{at}: load: {e}"));
    // Its audit and log identity: the name, with the version its manifest
    // gives (the Go greeter's is `greeter-go-…@0.1.0`).
    let label = component.id().to_string();

    // It imports the host's logging, and WASI only where the language's
    // runtime needs it.
    let (wasi, host): (BTreeSet<&str>, BTreeSet<&str>) = component
        .info()
        .imports()
        .iter()
        .map(|i| i.name.as_str())
        .partition(|n| n.starts_with("wasi:"));
    assert_eq!(
        host,
        BTreeSet::from(["airssys:host/logging@0.1.0", "airssys:host/types@0.1.0"]),
        "{at}: imports"
    );
    assert_eq!(
        wasi.is_empty(),
        grants(lang).is_empty(),
        "{at}: WASI imports {wasi:?}"
    );

    let mut instance = component
        .instantiate()
        .unwrap_or_else(|e| panic!("{at}: instantiate: {e}"));
    log.take();
    for who in ["ada", "", "Ωmega 🌍 \u{0}zero"] {
        let out = instance
            .call("greet", &[Value::from(who)])
            .unwrap_or_else(|e| panic!("{at}: greet({who:?}): {e}"));
        assert_eq!(
            out,
            vec![Value::from(format!("Hello, {who}!"))],
            "{at}: greet({who:?})"
        );
        // The message reaches tracing exactly, but with control
        // characters escaped (the NUL as `\u{0}`): a guest's log record
        // never writes raw control characters to a terminal.
        let message = format!("greeting {who} lang=\"{lang}\"");
        assert_eq!(
            log.take(),
            vec![(label.clone(), Escaped(&message).to_string())],
            "{at}: the log record of greet({who:?})"
        );
    }

    let big: Vec<u8> = (0..65_536u32).map(|i| (i * 7 % 256) as u8).collect();
    let inputs: [&[u8]; 3] = [&[0, 1, 255], &[], &big];
    // Repeated calls on one instance: memory handed back and forth is
    // allocated and freed correctly, or the results drift.
    for round in 0..8 {
        for data in inputs {
            let out = instance
                .call("transform", &[Value::from(data.to_vec())])
                .unwrap_or_else(|e| panic!("{at}: transform (round {round}): {e}"));
            let bytes = Vec::<u8>::try_from(out.into_iter().next().expect("one result"))
                .unwrap_or_else(|e| panic!("{at}: transform returned {e:?}"));
            assert_eq!(
                bytes,
                transformed(data),
                "{at}: transform of {} bytes, round {round}",
                data.len()
            );
        }
    }

    // Audited like any component: every call returned, nothing trapped,
    // nothing was denied but the WASI it imports and was not granted
    // (recorded once per kind at instantiation).
    let mine: Vec<AuditKind> = audit
        .events()
        .into_iter()
        .filter(|e| &*e.component == label.as_str())
        .map(|e| e.kind)
        .collect();
    let count = |f: fn(&AuditKind) -> bool| mine.iter().filter(|k| f(k)).count();
    assert_eq!(
        count(|k| matches!(k, AuditKind::Returned { .. })),
        3 + 8 * 3,
        "{at}: returned calls"
    );
    assert_eq!(
        count(|k| matches!(
            k,
            AuditKind::Trapped { .. } | AuditKind::LimitHit { .. } | AuditKind::HostLimit { .. }
        )),
        0,
        "{at}: {mine:?}"
    );
    // What it needs is needed: without it, the guest fails with an error
    // (Go's runtime aborts at start-up), and the host carries on.
    if !grants(lang).is_empty() {
        let bare = rt
            .load(
                greeter(lang),
                LoadOptions::new().name(format!("{name}-bare")),
            )
            .unwrap_or_else(|e| panic!("{at}: load without grants: {e}"));
        let failed = bare
            .instantiate()
            .and_then(|mut i| i.call("greet", &[Value::from("ada")]));
        assert!(failed.is_err(), "{at}: ran without {:?}", grants(lang));
    }
    // Denied: exactly the WASI it imports and was not granted, once each.
    let mut denied = Vec::new();
    for kind in &mine {
        if let AuditKind::CapabilityDenied {
            capability,
            request,
            ..
        } = kind
        {
            assert!(request.starts_with("wasi "), "{at}: denied {request}");
            denied.push(*capability);
        }
    }
    let granted: Vec<CapabilityKind> = grants(lang).iter().map(Capability::kind).collect();
    let expected: Vec<CapabilityKind> = component
        .info()
        .needed_capabilities(rt.providers())
        .into_iter()
        .filter(|k| !granted.contains(k))
        .collect();
    assert_eq!(denied, expected, "{at}: denied at instantiation");
}

#[test]
fn every_language_passes_the_same_assertions_on_every_backend() {
    let langs = languages();
    let audit = Arc::new(MemorySink::new());
    let log = GuestLog::default();
    let cache = compile_cache();
    tracing::subscriber::with_default(log.clone(), || {
        for (i, rt) in runtimes(&audit, &cache).iter().enumerate() {
            for lang in &langs {
                check_greeter(rt, &audit, &log, lang);
                if lang == "go" {
                    check_go_collector(rt);
                }
                // A runtime started later (the next test run, the next
                // process) takes the compiled code from the cache (wasmtime:
                // the interpreter has no compiled code to keep).
                if rt.backend_name() != "wasmtime" {
                    continue;
                }
                let again = &runtimes(&audit, &cache)[i];
                let component = again
                    .load(greeter(lang), LoadOptions::new().name("again"))
                    .unwrap_or_else(|e| panic!("{lang}: loading again: {e}"));
                assert!(
                    component.loaded_from_cache(),
                    "{lang} greeter on {}: the second load compiled again",
                    rt.backend_name()
                );
            }
        }
    });
}

/// Mean time of one `f()`, over a loop of about `budget` after a warm-up.
fn mean_time(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget || n < 10 {
        f();
        n += 1;
    }
    start.elapsed() / n
}

/// Not a check but a measurement, for `cargo xtask guests --report` (which
/// runs it in release and turns its output into the README's table): per
/// language and backend, the component's size, its cold compile time (an
/// empty cache), a later runtime's load from the cache, and the latency of
/// `greet("ada")` and of `transform` on 1 KiB.
/// Writes JSON lines to `$AIRSSYS_GREETER_REPORT`.
#[test]
#[ignore = "a measurement for `cargo xtask guests --report`"]
fn measure_for_report() {
    let out = std::env::var("AIRSSYS_GREETER_REPORT")
        .expect("AIRSSYS_GREETER_REPORT names the file to write");
    let audit = Arc::new(MemorySink::new());
    // Every greeting logs: no rate limit, so each call does the same work.
    let host = HostSettings {
        log_rate: u32::MAX,
        ..HostSettings::default()
    };
    let kib: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();
    let mut lines = String::new();
    for lang in languages() {
        let path = greeter(&lang);
        let size = std::fs::metadata(&path).unwrap().len();
        // A fresh cache: the first load compiles, a later runtime's load
        // takes the artifact from it.
        let cache = tempfile::tempdir().unwrap();
        let fresh = || runtimes_with(&audit, Some(cache.path()), host.clone());
        for (i, rt) in fresh().into_iter().enumerate() {
            let start = Instant::now();
            let component = rt.load(path.as_path(), options(&lang, &lang)).unwrap();
            let compile = start.elapsed();
            assert!(!component.loaded_from_cache());
            let later = &fresh()[i];
            let start = Instant::now();
            let cached = later.load(path.as_path(), options(&lang, &lang)).unwrap();
            let cached_load = start.elapsed();
            // The interpreter keeps no compiled code: its later load
            // translates again.
            assert_eq!(cached.loaded_from_cache(), rt.backend_name() == "wasmtime");
            let mut instance = component.instantiate().unwrap();
            let greet = instance.func("greet").unwrap();
            let transform = instance.func("transform").unwrap();
            let ada = [Value::from("ada")];
            let greet_time = mean_time(Duration::from_millis(500), || {
                let (out, _) = instance.call_func(&greet, &ada).unwrap();
                assert_eq!(out, vec![Value::from("Hello, ada!")]);
            });
            let data = [Value::from(kib.clone())];
            let transform_time = mean_time(Duration::from_millis(500), || {
                let (out, _) = instance.call_func(&transform, &data).unwrap();
                assert_eq!(out.len(), 1);
            });
            lines.push_str(&format!(
                "{{\"lang\":\"{lang}\",\"backend\":\"{}\",\"size\":{size},\
                 \"compile_ms\":{:.1},\"cached_ms\":{:.2},\"greet_us\":{:.2},\
                 \"transform_us\":{:.2}}}\n",
                rt.backend_name(),
                compile.as_secs_f64() * 1e3,
                cached_load.as_secs_f64() * 1e3,
                greet_time.as_secs_f64() * 1e6,
                transform_time.as_secs_f64() * 1e6,
            ));
        }
    }
    std::fs::write(&out, lines).unwrap();
}

/// Go's collector must not start inside `cabi_realloc`, where its clock and
/// timer calls through WASI are forbidden ("cannot leave component
/// instance"). Many small calls on one instance let it run at every point
/// of a call, the argument's allocation included.
fn check_go_collector(rt: &Runtime) {
    let data: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();
    let expected = transformed(&data);
    let arg = [Value::from(data)];
    let component = rt
        .load(greeter("go"), options("go", "greeter-go-gc"))
        .unwrap();
    let mut instance = component.instantiate().unwrap();
    let transform = instance.func("transform").unwrap();
    // Without the fix, the first trap came at about call 2 000.
    for call in 0..5_000 {
        let (out, _) = instance
            .call_func(&transform, &arg)
            .unwrap_or_else(|e| panic!("go on {}, call {call}: {e}", rt.backend_name()));
        let bytes = Vec::<u8>::try_from(out.into_iter().next().unwrap()).unwrap();
        assert!(
            bytes == expected,
            "go on {}, call {call}",
            rt.backend_name()
        );
    }
}
