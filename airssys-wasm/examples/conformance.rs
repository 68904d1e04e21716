//! Runs Component Model `.wast` files (the reference tests of
//! WebAssembly/component-model, `test/`) through airssys-wasm's public API
//! on each enabled backend: `load`, `instantiate`, calls with `Value`s.
//!
//! ```text
//! cargo xtask conformance --suite DIR [--backend wasmtime|wasmi|raw-wasmtime]
//! cargo run -p airssys-wasm --features wasmtime,wasmi --example conformance -- DIR [BACKEND]
//! ```
//!
//! `raw-wasmtime` is the reference column: the same directives on wasmtime
//! itself, with the engine the wasmtime backend builds for the default
//! limits (our settings: proposals we turn off stay off), a store per
//! instance and every unknown import defined as a trap, as wasmtime's own
//! wast runner does. Without `--backend` the runner runs every column and
//! then lists each directive the reference passes and a backend does not.
//!
//! Each directive passes, fails (with the reason) or is skipped (with the
//! reason: a component importing what the host does not provide, a
//! directive the public API cannot express such as `register` or core
//! values); skips are listed and never counted as passes. A trap's or an
//! error's text must contain the expected message, as wasmtime's own wast
//! runner requires. Prints one line per file and a total per backend;
//! exits 1 when anything failed.
//!
//! Over 700 lines on purpose: the runner is one program (directives,
//! hosts and value conversion), read top to bottom.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use airssys_wasm::wasmtime_backend::wasmtime::{self, component::Val};
use airssys_wasm::wasmtime_backend::{WasmtimeBackend, val_to_value, value_to_val};
use airssys_wasm::{BackendKind, Error, Instance, Limits, LoadOptions, Runtime, Value};
use wast::component::WastVal;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// What became of one directive.
enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// Counts and reasons for one file on one backend.
#[derive(Default)]
struct Tally {
    /// The lines of the directives that passed.
    pass: Vec<usize>,
    fail: Vec<(usize, String)>,
    skip: Vec<(usize, String)>,
}

/// What the directives run on: a backend of airssys-wasm, or wasmtime
/// itself.
#[derive(Clone, Copy, PartialEq)]
enum Subject {
    Ours(BackendKind),
    Raw,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Ours(b) => b.name(),
            Subject::Raw => "raw-wasmtime",
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(suite) = args.next() else {
        eprintln!("usage: conformance DIR [wasmtime|wasmi|raw-wasmtime]");
        std::process::exit(2);
    };
    let which = args.next();
    let subjects: Vec<Subject> = match which.as_deref() {
        Some("raw-wasmtime") => vec![Subject::Raw],
        Some(b) => vec![Subject::Ours(BackendKind::from_str(b).unwrap_or_else(
            |e| {
                eprintln!("{e}");
                std::process::exit(2)
            },
        ))],
        None => std::iter::once(Subject::Raw)
            .chain(BackendKind::ALL.iter().map(|&b| Subject::Ours(b)))
            .collect(),
    };
    let files = wast_files(Path::new(&suite));
    if files.is_empty() {
        eprintln!("no .wast files under {suite}");
        std::process::exit(2);
    }
    let mut failed = false;
    // Per subject: the (file, line) of each directive that passed.
    let mut passed: Vec<(Subject, Vec<(PathBuf, usize)>)> = Vec::new();
    for &subject in &subjects {
        let (mut pass, mut fail, mut skip) = (0, 0, 0);
        let mut lines = Vec::new();
        println!("== {}", subject.name());
        for file in &files {
            let tally = run_file(subject, file);
            pass += tally.pass.len();
            fail += tally.fail.len();
            skip += tally.skip.len();
            let shown = file.strip_prefix(&suite).unwrap_or(file);
            println!(
                "{:<50} pass {:>4}  fail {:>3}  skip {:>3}",
                shown.display(),
                tally.pass.len(),
                tally.fail.len(),
                tally.skip.len()
            );
            for (line, why) in &tally.fail {
                println!("    FAIL line {line}: {why}");
            }
            for (line, why) in &tally.skip {
                println!("    skip line {line}: {why}");
            }
            lines.extend(tally.pass.iter().map(|&l| (shown.to_owned(), l)));
        }
        println!(
            "== {}: {pass} passed, {fail} failed, {skip} skipped of {} directives",
            subject.name(),
            pass + fail + skip
        );
        // The reference column's failures are wasmtime's, not ours.
        failed |= fail > 0 && subject != Subject::Raw;
        passed.push((subject, lines));
    }
    if let Some((_, reference)) = passed.iter().find(|(s, _)| *s == Subject::Raw) {
        for (subject, lines) in passed.iter().filter(|(s, _)| *s != Subject::Raw) {
            let missing: Vec<_> = reference.iter().filter(|d| !lines.contains(d)).collect();
            println!(
                "== {}: {} of the {} directives raw wasmtime passes do not pass",
                subject.name(),
                missing.len(),
                reference.len()
            );
            for (file, line) in missing {
                println!("    {}:{line}", file.display());
            }
        }
    }
    std::process::exit(i32::from(failed));
}

/// The `.wast` files under `dir`, sorted; `async/` is left out (the
/// component-model async ABI is off with the runtime's engine settings).
fn wast_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "async") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "wast") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn run_file(subject: Subject, file: &Path) -> Tally {
    let mut tally = Tally::default();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            tally.fail.push((0, format!("cannot read: {e}")));
            return tally;
        }
    };
    let buf = match ParseBuffer::new(&text) {
        Ok(b) => b,
        Err(e) => {
            tally.fail.push((0, format!("cannot lex: {e}")));
            return tally;
        }
    };
    let wast = match parser::parse::<Wast>(&buf) {
        Ok(w) => w,
        Err(e) => {
            tally.fail.push((0, format!("cannot parse: {e}")));
            return tally;
        }
    };
    let mut state = State {
        host: Host::new(subject),
        instances: Vec::new(),
        current: None,
        named: HashMap::new(),
        definitions: HashMap::new(),
    };
    for directive in wast.directives {
        let line = directive.span().linecol_in(&text).0 + 1;
        // A directive that panics the host is a failure, not the end of
        // the run.
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.directive(directive)))
                .unwrap_or_else(|_| Outcome::Fail("the host panicked".into()));
        match outcome {
            Outcome::Pass => tally.pass.push(line),
            Outcome::Fail(why) => tally.fail.push((line, why)),
            Outcome::Skip(why) => tally.skip.push((line, why)),
        }
    }
    tally
}

/// The instance a directive without a name addresses: instantiated, or
/// not (its component imports what the host does not provide).
enum Current {
    Ready(Box<Live>),
    Skipped(String),
}

struct State {
    host: Host,
    /// Every component instantiated so far, in order.
    instances: Vec<Current>,
    /// The last one: what a directive without a name addresses.
    current: Option<usize>,
    /// Those with a `$name`.
    named: HashMap<String, usize>,
    /// Components defined (`(component definition $name ...)`), or why
    /// not.
    definitions: HashMap<String, Result<Loaded, String>>,
}

/// The engine under test for one file.
enum Host {
    Ours {
        backend: BackendKind,
        runtime: Runtime,
    },
    Raw {
        engine: wasmtime::Engine,
    },
}

/// A loaded component.
enum Loaded {
    Ours(airssys_wasm::Component),
    Raw(wasmtime::component::Component),
}

/// An instance.
enum Live {
    Ours(Instance),
    Raw(wasmtime::Store<()>, wasmtime::component::Instance),
}

/// A step's error: its text, and the import it names when the host does
/// not provide one.
struct Failure {
    missing: Option<String>,
    text: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let missing = match &e {
            Error::MissingImport { name, .. } => Some(name.clone()),
            _ => None,
        };
        Failure {
            missing,
            text: e.to_string(),
        }
    }
}

impl Failure {
    /// An error of wasmtime's, with its causes (as its wast runner
    /// matches them).
    fn raw(e: wasmtime::Error) -> Self {
        Failure {
            missing: None,
            text: format!("{e:?}"),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Host {
    fn new(subject: Subject) -> Host {
        match subject {
            Subject::Ours(backend) => Host::Ours {
                backend,
                runtime: Runtime::builder()
                    .backend(backend)
                    .build()
                    .expect("a runtime with default settings builds"),
            },
            Subject::Raw => {
                let backend = WasmtimeBackend::new().expect("the wasmtime backend builds");
                let engine = backend
                    .engine_for(&Limits::default())
                    .expect("the engine for the default limits builds")
                    .clone();
                Host::Raw { engine }
            }
        }
    }

    /// Loads `bytes` as they are: for assertions that they are invalid.
    fn load_plain(&self, bytes: Vec<u8>) -> Result<Loaded, Failure> {
        match self {
            Host::Ours { runtime, .. } => runtime
                .load(bytes, LoadOptions::new())
                .map(Loaded::Ours)
                .map_err(Failure::from),
            Host::Raw { engine } => wasmtime::component::Component::new(engine, bytes)
                .map(Loaded::Raw)
                .map_err(Failure::raw),
        }
    }

    /// Loads `bytes` for instantiation. Ours: a component that imports
    /// functions gets a runtime of its own whose host defines each of them
    /// as a function that fails when called, as wasmtime's wast runner
    /// defines unknown imports as traps: the reference tests import
    /// functions they never call to test validation and instantiation.
    fn load(&self, bytes: Vec<u8>) -> Result<Loaded, Failure> {
        let Host::Ours { backend, .. } = self else {
            return self.load_plain(bytes);
        };
        let Ok(info) = airssys_wasm::ComponentInfo::parse(&bytes) else {
            return self.load_plain(bytes);
        };
        let mut host = airssys_wasm::HostFunctions::new();
        let mut any = false;
        for import in info.imports() {
            let funcs: Vec<(&str, &str)> = match &import.kind {
                airssys_wasm::ItemKind::Function(_) => vec![("", import.name.as_str())],
                airssys_wasm::ItemKind::Interface(fs) if !import.name.starts_with("wasi:") => fs
                    .iter()
                    .map(|(f, _)| (import.name.as_str(), f.as_str()))
                    .collect(),
                _ => Vec::new(),
            };
            for (interface, name) in funcs {
                let called = format!("the test's import `{name}` was called");
                host.define(interface, name, move |_, _, _| {
                    Err(airssys_wasm::HostError::Failed(called.clone()))
                });
                any = true;
            }
        }
        if !any {
            return self.load_plain(bytes);
        }
        let runtime = Runtime::builder()
            .backend(*backend)
            .host_functions(host)
            .build()
            .map_err(Failure::from)?;
        runtime
            .load(bytes, LoadOptions::new())
            .map(Loaded::Ours)
            .map_err(Failure::from)
    }

    /// Checks `bytes` without resolving imports (ours: [`Runtime::check`]).
    fn check(&self, bytes: Vec<u8>) -> Result<(), Failure> {
        match self {
            Host::Ours { runtime, .. } => runtime.check(bytes).map(drop).map_err(Failure::from),
            Host::Raw { engine } => wasmtime::component::Component::new(engine, bytes)
                .map(drop)
                .map_err(Failure::raw),
        }
    }

    /// Instantiates `c`. Raw: in a store of its own, every import wasmtime
    /// is not given defined as a trap.
    fn instantiate(&self, c: &Loaded) -> Result<Live, Failure> {
        match (self, c) {
            (_, Loaded::Ours(c)) => c.instantiate().map(Live::Ours).map_err(Failure::from),
            (Host::Raw { engine }, Loaded::Raw(c)) => {
                let mut linker = wasmtime::component::Linker::new(engine);
                linker
                    .define_unknown_imports_as_traps(c)
                    .map_err(Failure::raw)?;
                let mut store = wasmtime::Store::new(engine, ());
                let instance = linker.instantiate(&mut store, c).map_err(Failure::raw)?;
                Ok(Live::Raw(store, instance))
            }
            (Host::Ours { .. }, Loaded::Raw(_)) => unreachable!("a raw component on our host"),
        }
    }
}

impl Live {
    fn call(&mut self, name: &str, args: &[Value]) -> Result<Vec<Value>, Failure> {
        match self {
            Live::Ours(i) => i.call(name, args).map_err(Failure::from),
            Live::Raw(store, instance) => {
                let no_export = || Failure {
                    missing: None,
                    text: format!("no export `{name}`"),
                };
                let func = instance.get_func(&mut *store, name).ok_or_else(no_export)?;
                let params: Vec<Val> = args.iter().map(to_val).collect();
                let n = func.ty(&*store).results().len();
                let mut results = vec![Val::Bool(false); n];
                func.call(&mut *store, &params, &mut results)
                    .map_err(Failure::raw)?;
                Ok(results.iter().map(from_val).collect())
            }
        }
    }
}

impl State {
    fn directive(&mut self, d: WastDirective<'_>) -> Outcome {
        match d {
            WastDirective::Module(mut wat) => {
                let id = quote_id(&wat);
                let (current, outcome) = match self.instantiate(&mut wat) {
                    Ok(i) => (Current::Ready(Box::new(i)), Outcome::Pass),
                    Err(Outcome::Skip(why)) => (Current::Skipped(why.clone()), Outcome::Skip(why)),
                    Err(other) => (Current::Skipped("its component failed".into()), other),
                };
                self.instances.push(current);
                let at = self.instances.len() - 1;
                self.current = Some(at);
                if let Some(id) = id {
                    self.named.insert(id, at);
                }
                outcome
            }
            WastDirective::ModuleDefinition(mut wat) => {
                let id = quote_id(&wat);
                let (definition, outcome) = self.define(&mut wat);
                if let Some(id) = id {
                    self.definitions.insert(id, definition);
                }
                outcome
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let definition = module.and_then(|m| self.definitions.get(m.name()));
                let (current, outcome) = match definition {
                    None => {
                        let why = "an instance of an unnamed definition".to_owned();
                        (Current::Skipped(why.clone()), Outcome::Skip(why))
                    }
                    Some(Err(why)) => (Current::Skipped(why.clone()), Outcome::Skip(why.clone())),
                    Some(Ok(c)) => match self.host.instantiate(c) {
                        Ok(i) => (Current::Ready(Box::new(i)), Outcome::Pass),
                        Err(Failure {
                            missing: Some(name),
                            ..
                        }) => {
                            let why = format!("imports `{name}`, which the host does not provide");
                            (Current::Skipped(why.clone()), Outcome::Skip(why))
                        }
                        Err(e) => (
                            Current::Skipped("its instantiation failed".into()),
                            Outcome::Fail(format!("instantiation failed: {e}")),
                        ),
                    },
                };
                self.instances.push(current);
                let at = self.instances.len() - 1;
                self.current = Some(at);
                if let Some(id) = instance {
                    self.named.insert(id.name().to_owned(), at);
                }
                outcome
            }
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => {
                let bytes = match module.encode() {
                    Ok(b) => b,
                    // Refused by the text parser already: malformed.
                    Err(_) => return Outcome::Pass,
                };
                match self.host.load_plain(bytes) {
                    Ok(_) => Outcome::Fail(format!("loaded; expected an error with `{message}`")),
                    Err(e) => expect_message(&e, message),
                }
            }
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => match self.instantiate_quote(&mut QuoteWat::Wat(module)) {
                Ok(_) => Outcome::Fail(format!("instantiated; expected `{message}`")),
                Err(Ok(e)) => expect_message(&e, message),
                Err(Err(o)) => o,
            },
            WastDirective::Invoke(invoke) => match self.invoke(&invoke) {
                Ok(Ok(_)) => Outcome::Pass,
                Ok(Err(e)) => Outcome::Fail(format!("the call failed: {e}")),
                Err(o) => o,
            },
            WastDirective::AssertReturn { exec, results, .. } => {
                let WastExecute::Invoke(invoke) = exec else {
                    return Outcome::Skip("an assertion on something other than a call".into());
                };
                let expected: Option<Vec<Value>> = results
                    .iter()
                    .map(|r| match r {
                        WastRet::Component(v) => Some(value(v)),
                        _ => None,
                    })
                    .collect();
                let Some(expected) = expected else {
                    return Outcome::Skip("a core value, which the API does not return".into());
                };
                match self.invoke(&invoke) {
                    Ok(Ok(got))
                        if got.len() == expected.len()
                            && got.iter().zip(&expected).all(|(a, b)| same(a, b)) =>
                    {
                        Outcome::Pass
                    }
                    Ok(Ok(got)) => {
                        Outcome::Fail(format!("returned {got:?}, expected {expected:?}"))
                    }
                    Ok(Err(e)) => Outcome::Fail(format!("failed: {e}; expected {expected:?}")),
                    Err(o) => o,
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => match exec {
                WastExecute::Invoke(invoke) => match self.invoke(&invoke) {
                    Ok(Ok(got)) => Outcome::Fail(format!("returned {got:?}; expected `{message}`")),
                    Ok(Err(e)) => expect_message(&e, message),
                    Err(o) => o,
                },
                WastExecute::Wat(wast::Wat::Component(c)) => {
                    let mut wat = QuoteWat::Wat(wast::Wat::Component(c));
                    match self.instantiate_quote(&mut wat) {
                        Ok(_) => Outcome::Fail(format!("instantiated; expected `{message}`")),
                        Err(Ok(e)) => expect_message(&e, message),
                        Err(Err(o)) => o,
                    }
                }
                _ => Outcome::Skip("a trap of a core module".into()),
            },
            WastDirective::Register { .. } => {
                Outcome::Skip("`register` (linking by name) is not expressed by this runner".into())
            }
            other => Outcome::Skip(format!("directive {:?} is not run", kind(&other))),
        }
    }

    /// A definition asserts that the component is valid. It is loaded, for
    /// the instances made of it later; one whose imports the host does not
    /// provide is checked instead ([`Runtime::check`]: everything `load`
    /// checks but the imports), and its instances are skipped.
    fn define(&self, wat: &mut QuoteWat<'_>) -> (Result<Loaded, String>, Outcome) {
        let bytes = match wat.encode() {
            Ok(b) => b,
            Err(e) => {
                let why = format!("the text does not encode: {e}");
                return (Err(why.clone()), Outcome::Fail(why));
            }
        };
        match self.host.load(bytes.clone()) {
            Ok(c) => (Ok(c), Outcome::Pass),
            Err(Failure {
                missing: Some(name),
                ..
            }) => {
                let why = format!("imports `{name}`, which the host does not provide");
                match self.host.check(bytes) {
                    Ok(()) => (Err(why), Outcome::Pass),
                    Err(e) => (Err(why), Outcome::Fail(format!("check failed: {e}"))),
                }
            }
            Err(e) => (
                Err("its component failed".into()),
                Outcome::Fail(format!("load failed: {e}")),
            ),
        }
    }

    fn instantiate(&self, wat: &mut QuoteWat<'_>) -> Result<Live, Outcome> {
        match self.instantiate_quote(wat) {
            Ok(i) => Ok(i),
            Err(Ok(Failure {
                missing: Some(name),
                ..
            })) => Err(Outcome::Skip(format!(
                "imports `{name}`, which the host does not provide"
            ))),
            Err(Ok(e)) => Err(Outcome::Fail(format!("failed: {e}"))),
            Err(Err(o)) => Err(o),
        }
    }

    /// Loads and instantiates: the error of either step, or an outcome when
    /// the text does not encode.
    fn instantiate_quote(&self, wat: &mut QuoteWat<'_>) -> Result<Live, Result<Failure, Outcome>> {
        let bytes = wat
            .encode()
            .map_err(|e| Err(Outcome::Fail(format!("the text does not encode: {e}"))))?;
        let component = self.host.load(bytes).map_err(Ok)?;
        self.host.instantiate(&component).map_err(Ok)
    }

    /// Calls `invoke` on its instance: the results or the call's error, or
    /// an outcome when the call cannot be made.
    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Result<Vec<Value>, Failure>, Outcome> {
        let at = match invoke.module {
            Some(id) => self.named.get(id.name()).copied(),
            None => self.current,
        };
        let instance = match at.map(|i| &mut self.instances[i]) {
            Some(Current::Ready(i)) => i,
            Some(Current::Skipped(why)) => return Err(Outcome::Skip(why.clone())),
            None => return Err(Outcome::Fail("no component to call".into())),
        };
        let args: Option<Vec<Value>> = invoke
            .args
            .iter()
            .map(|a| match a {
                WastArg::Component(v) => Some(value(v)),
                _ => None,
            })
            .collect();
        let Some(args) = args else {
            return Err(Outcome::Skip("a core value argument".into()));
        };
        Ok(instance.call(invoke.name, &args))
    }
}

/// The `$id` of a component directive, if it has one.
fn quote_id(wat: &QuoteWat<'_>) -> Option<String> {
    match wat {
        QuoteWat::Wat(wast::Wat::Component(c)) => c.id.map(|id| id.name().to_owned()),
        _ => None,
    }
}

fn kind(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertInvalidCustom { .. } | WastDirective::AssertMalformedCustom { .. } => {
            "custom assertion"
        }
        _ => "other",
    }
}

/// Passes when the error's text contains `message`.
fn expect_message(e: &Failure, message: &str) -> Outcome {
    let text = e.to_string();
    if text.contains(message) {
        Outcome::Pass
    } else {
        Outcome::Fail(format!("the error `{text}` does not contain `{message}`"))
    }
}

fn value(v: &WastVal<'_>) -> Value {
    match v {
        WastVal::Bool(b) => Value::Bool(*b),
        WastVal::U8(x) => Value::U8(*x),
        WastVal::S8(x) => Value::S8(*x),
        WastVal::U16(x) => Value::U16(*x),
        WastVal::S16(x) => Value::S16(*x),
        WastVal::U32(x) => Value::U32(*x),
        WastVal::S32(x) => Value::S32(*x),
        WastVal::U64(x) => Value::U64(*x),
        WastVal::S64(x) => Value::S64(*x),
        WastVal::F32(x) => Value::F32(f32::from_bits(x.bits)),
        WastVal::F64(x) => Value::F64(f64::from_bits(x.bits)),
        WastVal::Char(c) => Value::Char(*c),
        WastVal::String(s) => Value::String((*s).to_owned()),
        WastVal::List(items) => Value::List(items.iter().map(value).collect()),
        WastVal::Record(fields) => Value::Record(
            fields
                .iter()
                .map(|(n, v)| ((*n).to_owned(), value(v)))
                .collect(),
        ),
        WastVal::Tuple(items) => Value::Tuple(items.iter().map(value).collect()),
        WastVal::Variant(case, payload) => Value::Variant(
            (*case).to_owned(),
            payload.as_ref().map(|p| Box::new(value(p))),
        ),
        WastVal::Enum(case) => Value::Enum((*case).to_owned()),
        WastVal::Option(v) => Value::Option(v.as_ref().map(|p| Box::new(value(p)))),
        WastVal::Result(r) => Value::Result(match r {
            Ok(v) => Ok(v.as_ref().map(|p| Box::new(value(p)))),
            Err(v) => Err(v.as_ref().map(|p| Box::new(value(p)))),
        }),
        WastVal::Flags(names) => Value::Flags(names.iter().map(|n| (*n).to_owned()).collect()),
    }
}

/// Equal values; floats equal by bits, or both NaN (the canonical ABI
/// canonicalises NaNs).
fn same(a: &Value, b: &Value) -> bool {
    let all =
        |x: &[Value], y: &[Value]| x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b));
    let boxed = |x: &Option<Box<Value>>, y: &Option<Box<Value>>| match (x, y) {
        (None, None) => true,
        (Some(x), Some(y)) => same(x, y),
        _ => false,
    };
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => all(x, y),
        (Value::Record(x), Value::Record(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((n, a), (m, b))| n == m && same(a, b))
        }
        (Value::Variant(n, x), Value::Variant(m, y)) => n == m && boxed(x, y),
        (Value::Option(x), Value::Option(y)) => boxed(x, y),
        (Value::Result(Ok(x)), Value::Result(Ok(y)))
        | (Value::Result(Err(x)), Value::Result(Err(y))) => boxed(x, y),
        _ => a == b,
    }
}

/// A value for raw wasmtime (`.wast` arguments hold no resources).
fn to_val(v: &Value) -> Val {
    value_to_val(v).unwrap_or_else(|e| unreachable!("a .wast argument: {e}"))
}

/// A value raw wasmtime returned, to compare with the expected one. A
/// resource becomes its debug text: `.wast` files never expect one.
fn from_val(v: &Val) -> Value {
    val_to_value(v).unwrap_or_else(|_| Value::String(format!("{v:?}")))
}
