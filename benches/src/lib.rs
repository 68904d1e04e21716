//! Criterion benchmarks of airssys-wasm, and what they share. Run them with
//! `cargo xtask bench` (which builds the guests and writes a report) or
//! `cargo bench -p airssys-wasm-benches` once `cargo xtask guests` has run.
//!
//! Each benchmark group compares like with like in one run: our API, the
//! raw engines underneath (wasmtime with our configuration and with its
//! default one, wasmi running the same guest code as a core module) and
//! native Rust. Absolute times on a shared machine are noise; the ratios
//! within a run are the result.
//!
//! - `calls`: call overhead (`add`, a 1 KiB string, 64 KiB of bytes).
//! - `capabilities`: [`CapabilitySet::allows`] per kind of request.
//! - `audit`: the cost of one audit event on the caller, per sink.
//! - `instantiation`: a new instance of a compiled component.
//! - `load`: compiling a component vs loading its cached artifact.
//! - `markdown`: a real plugin (pulldown-cmark) against the same crate
//!   native.
//! - `host_calls`: a guest calling `airssys:host` logging and key-value.
//! - `isolation`: a fresh instance and a call vs spawning a process.
//!
//! The `bench-density` binary measures memory per idle instance in a process of
//! its own (`cargo xtask bench` runs it).
//!
//! [`CapabilitySet::allows`]: airssys_wasm_core::CapabilitySet::allows

use std::fmt::Write as _;
use std::path::PathBuf;

use pulldown_cmark::{Options, Parser, html};

/// A guest component built by `cargo xtask guests`: `target/guests/NAME.wasm`.
///
/// # Panics
/// If it has not been built, saying how to build it.
pub fn guest(name: &str) -> PathBuf {
    built(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/guests")
            .join(format!("{name}.wasm")),
    )
}

/// The core module a pure guest's component was made from (the same code,
/// before `wit-component` wrapped it), for engines without the component
/// model.
///
/// # Panics
/// If it has not been built, saying how to build it.
pub fn core_module(name: &str) -> PathBuf {
    built(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../guests/target/wasm32-unknown-unknown/release")
            .join(format!("{}.wasm", name.replace('-', "_"))),
    )
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask guests` (or `cargo xtask bench`)",
        path.display()
    );
    path
}

/// Loads guest `name` through airssys-wasm with a realistic set of grants
/// (clocks, an environment variable, a key-value namespace) and its name
/// as audit identity.
pub fn load_with_grants(runtime: &airssys_wasm::Runtime, name: &str) -> airssys_wasm::Component {
    use airssys_wasm::capability::KvQuota;
    use airssys_wasm::{Capability, LoadOptions};
    runtime
        .load(
            guest(name),
            LoadOptions::new()
                .name(name)
                .grant(Capability::Clocks)
                .grant(Capability::env_value("MODE", "bench"))
                .grant(Capability::key_value(name, KvQuota::default())),
        )
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// The engine our wasmtime backend runs a component without a fuel limit
/// on (every component of these benchmarks but the fuel-limited ones): the
/// baseline of the `raw-wasmtime-same-config` rows.
pub fn same_engine(
    backend: &airssys_wasm_backend_wasmtime::WasmtimeBackend,
) -> &airssys_wasm_backend_wasmtime::wasmtime::Engine {
    backend
        .engine_for(&airssys_wasm::Limits::default())
        .expect("the engine builds")
}

/// A store on `engine` set up as our backend sets up its stores: a
/// deadline that never comes (every engine of the backend has epoch
/// interruption), and unbounded fuel where the engine meters fuel.
pub fn same_store<T: 'static>(
    engine: &airssys_wasm_backend_wasmtime::wasmtime::Engine,
    data: T,
) -> airssys_wasm_backend_wasmtime::wasmtime::Store<T> {
    let mut store = airssys_wasm_backend_wasmtime::wasmtime::Store::new(engine, data);
    store.set_epoch_deadline(u64::MAX / 4);
    // An engine without fuel metering refuses fuel: nothing to set there.
    let _ = store.set_fuel(u64::MAX);
    store
}

/// An audit sink that takes every event, call events included, counts it
/// and drops it: what building and handing over the events of every call
/// costs, without a store that grows with each iteration.
#[derive(Debug, Default)]
pub struct CountingSink(std::sync::atomic::AtomicU64);

impl CountingSink {
    /// How many events it was given.
    pub fn count(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl airssys_wasm::AuditSink for CountingSink {
    fn record(&self, event: airssys_wasm::AuditEvent) -> Result<(), airssys_wasm::AuditError> {
        std::hint::black_box(event);
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// A guest core module on raw wasmi, called through a hand-written
/// canonical ABI: what a component call does, without the component layer.
pub struct RawWasmi {
    store: wasmi::Store<()>,
    instance: wasmi::Instance,
    memory: wasmi::Memory,
    realloc: wasmi::TypedFunc<(i32, i32, i32, i32), i32>,
}

impl RawWasmi {
    /// Instantiates the core module of guest `name` on `engine`. Its
    /// imports (resource intrinsics of the component model) are linked to
    /// functions that trap: the benchmarked exports never use them.
    pub fn new(engine: &wasmi::Engine, name: &str) -> Self {
        let bytes = std::fs::read(core_module(name)).expect("reading the core module");
        let module = wasmi::Module::new(engine, &bytes).expect("wasmi compiles the core module");
        let linker = trapping_linker(engine, &module);
        let mut store = wasmi::Store::new(engine, ());
        let instance = linker
            .instantiate_and_start(&mut store, &module)
            .expect("wasmi instantiates the core module");
        let memory = instance
            .get_memory(&store, "memory")
            .expect("the guest exports its memory");
        let realloc = instance
            .get_typed_func(&store, "cabi_realloc")
            .expect("the guest exports cabi_realloc");
        Self {
            store,
            instance,
            memory,
            realloc,
        }
    }

    /// A typed export, e.g. `add` as `(i32, i32) -> i32`.
    pub fn typed<P: wasmi::WasmParams, R: wasmi::WasmResults>(
        &self,
        export: &str,
    ) -> wasmi::TypedFunc<P, R> {
        self.instance
            .get_typed_func(&self.store, export)
            .unwrap_or_else(|e| panic!("export {export}: {e}"))
    }

    /// Calls a typed export.
    pub fn call<P: wasmi::WasmParams, R: wasmi::WasmResults>(
        &mut self,
        f: &wasmi::TypedFunc<P, R>,
        params: P,
    ) -> R {
        f.call(&mut self.store, params).expect("the call succeeds")
    }

    /// Calls an export of type `func(string) -> string` or
    /// `func(list<u8>) -> list<u8>` (one flat ABI): copies `input` into
    /// guest memory, calls, copies the result out, and calls the export's
    /// post-return function to free it, as the canonical ABI does.
    pub fn call_bytes(&mut self, f: &BytesExport, input: &[u8]) -> Vec<u8> {
        let len = input.len() as i32;
        let ptr = self
            .realloc
            .call(&mut self.store, (0, 0, 1, len))
            .expect("cabi_realloc");
        self.memory
            .write(&mut self.store, ptr as usize, input)
            .expect("the argument fits in guest memory");
        let ret = f.call.call(&mut self.store, (ptr, len)).expect("the call");
        let mut pair = [0u8; 8];
        self.memory
            .read(&self.store, ret as usize, &mut pair)
            .expect("the result pointer is in memory");
        let out_ptr = u32::from_le_bytes(pair[..4].try_into().unwrap()) as usize;
        let out_len = u32::from_le_bytes(pair[4..].try_into().unwrap()) as usize;
        let mut out = vec![0u8; out_len];
        self.memory
            .read(&self.store, out_ptr, &mut out)
            .expect("the result is in memory");
        if let Some(post) = &f.post {
            post.call(&mut self.store, ret).expect("post-return");
        }
        out
    }

    /// Resolves an export taking and returning a string or byte list.
    pub fn bytes_export(&self, export: &str) -> BytesExport {
        BytesExport {
            call: self.typed(export),
            post: self
                .instance
                .get_typed_func(&self.store, &format!("cabi_post_{export}"))
                .ok(),
        }
    }
}

/// An export resolved by [`RawWasmi::bytes_export`].
pub struct BytesExport {
    call: wasmi::TypedFunc<(i32, i32), i32>,
    post: Option<wasmi::TypedFunc<i32, ()>>,
}

/// A wasmi linker defining every function `module` imports as a trap.
pub fn trapping_linker(engine: &wasmi::Engine, module: &wasmi::Module) -> wasmi::Linker<()> {
    let mut linker = wasmi::Linker::new(engine);
    for import in module.imports() {
        if let Some(ty) = import.ty().func() {
            let what = format!("{}#{}", import.module(), import.name());
            linker
                .func_new(
                    import.module(),
                    import.name(),
                    ty.clone(),
                    move |_, _, _| Err(wasmi::Error::new(format!("{what} is not provided"))),
                )
                .expect("each import is defined once");
        }
    }
    linker
}

/// The options the `markdown` guest renders with.
fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
}

/// Renders Markdown natively, exactly as the `markdown` guest does.
pub fn render_markdown(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, Parser::new_ext(markdown, markdown_options()));
    out
}

/// A Markdown document of at least `bytes` bytes, the same on every run:
/// sections with headings, paragraphs with emphasis, links and code, lists,
/// a table, a code block and a quote.
pub fn markdown_document(bytes: usize) -> String {
    const WORDS: [&str; 12] = [
        "plugin",
        "host",
        "capability",
        "audit",
        "instance",
        "component",
        "memory",
        "fuel",
        "policy",
        "grant",
        "signal",
        "record",
    ];
    let mut doc = String::with_capacity(bytes + 1024);
    let mut n = 0usize;
    while doc.len() < bytes {
        n += 1;
        let w = |k: usize| WORDS[(n * 7 + k * 5) % WORDS.len()];
        let _ = writeln!(doc, "## Section {n}: the {} and the {}\n", w(0), w(1));
        for p in 0..3 {
            let _ = writeln!(
                doc,
                "A {} asks, the *{}* grants and the **{}** records it; see \
                 [the {} guide](https://example.com/{n}/{p}) and `{}::{}()`. \
                 Every {} is ~~free~~ measured, and the {} keeps its {}.\n",
                w(p),
                w(p + 1),
                w(p + 2),
                w(p + 3),
                w(p + 4),
                w(p + 5),
                w(p + 6),
                w(p + 7),
                w(p + 8),
            );
        }
        for i in 0..4 {
            let mark = if (n + i).is_multiple_of(2) { 'x' } else { ' ' };
            let _ = writeln!(doc, "- [{mark}] item {i}: {} {}", w(i), w(i + 1));
        }
        let _ = writeln!(
            doc,
            "\n| name | value | note |\n|---|---:|---|\n| {} | {n} | {} |\n| {} | {} | {} |\n",
            w(1),
            w(2),
            w(3),
            n * 3,
            w(4)
        );
        let _ = writeln!(
            doc,
            "```rust\nfn section_{n}() -> u32 {{\n    {n} * 2\n}}\n```\n\n> A quote about the {}.[^{n}]\n\n[^{n}]: A footnote on {}.\n",
            w(5),
            w(6)
        );
    }
    doc
}

/// The resident set size of this process, in bytes (from
/// `/proc/self/statm`; Linux only).
pub fn rss_bytes() -> std::io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let resident: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected /proc/self/statm: {statm}")))?;
    // The page size is 4 KiB on the Linux targets this runs on.
    Ok(resident * 4096)
}

/// A component of at least `min_bytes`, generated as text: one core module
/// with many exported functions of arithmetic (so compiling it is real
/// work), lifted as a component export `run: func(x: u32) -> u32`.
pub fn large_component(min_bytes: usize) -> Vec<u8> {
    let mut module = String::from("(core module $m\n");
    let mut funcs = 0;
    // Each function is a few hundred bytes of code; stop when the text
    // says the binary will be big enough (checked after encoding).
    loop {
        let _ = write!(
            module,
            "(func $f{funcs} (param i32) (result i32)\n local.get 0\n"
        );
        for k in 0..60 {
            let _ = write!(
                module,
                " i32.const {}\n i32.mul\n i32.const {}\n i32.xor\n",
                (funcs * 31 + k * 17) % 9973 + 1,
                (funcs * 13 + k) % 65521
            );
        }
        if funcs > 0 {
            let _ = writeln!(module, " call $f{}", funcs - 1);
        }
        module.push_str(")\n");
        funcs += 1;
        // About 480 bytes per function once encoded.
        if funcs * 480 >= min_bytes + min_bytes / 8 {
            break;
        }
    }
    let _ = writeln!(module, "(export \"run\" (func $f{})))", funcs - 1);
    let text = format!(
        "(component\n{module}\n(core instance $i (instantiate $m))\n\
         (func (export \"run\") (param \"x\" u32) (result u32) (canon lift (core func $i \"run\"))))"
    );
    let bytes = wat::parse_str(&text).expect("the generated component is valid text");
    assert!(
        bytes.len() >= min_bytes,
        "generated {} bytes, wanted {min_bytes}",
        bytes.len()
    );
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_markdown_document_is_deterministic_and_exercises_the_renderer() {
        let doc = markdown_document(100 * 1024);
        assert!(doc.len() >= 100 * 1024);
        assert_eq!(doc, markdown_document(100 * 1024));
        let html = render_markdown(&doc);
        for tag in [
            "<h2>",
            "<table>",
            "<del>",
            "<em>",
            "<pre><code",
            "<blockquote>",
        ] {
            assert!(html.contains(tag), "no {tag} in the rendered document");
        }
        assert!(html.contains("type=\"checkbox\""), "task lists are on");
        assert!(html.contains("footnote-definition"), "footnotes are on");
    }

    #[test]
    fn the_large_component_is_at_least_the_size_asked_for() {
        let bytes = large_component(1 << 20);
        assert!(bytes.len() >= 1 << 20, "{}", bytes.len());
        assert!(bytes.len() < 2 << 20, "{}", bytes.len());
        assert!(wasmparser::Parser::is_component(&bytes));
    }

    #[test]
    fn raw_wasmi_runs_the_guests_own_code_through_the_canonical_abi() {
        let engine = wasmi::Engine::default();
        let mut values = RawWasmi::new(&engine, "values");
        let add = values.typed::<(i32, i32), i32>("add");
        assert_eq!(values.call(&add, (40, 2)), 42);
        let echo = values.bytes_export("echo-string");
        let text = "héllo, wörld ".repeat(100);
        let bytes: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
        let echo_bytes = values.bytes_export("echo-bytes");
        // Repeated calls: each result is freed by the post-return function.
        for _ in 0..3 {
            assert_eq!(values.call_bytes(&echo, text.as_bytes()), text.as_bytes());
            assert_eq!(values.call_bytes(&echo_bytes, &bytes), bytes);
        }
        let mut markdown = RawWasmi::new(&engine, "markdown");
        let render = markdown.bytes_export("render");
        let doc = markdown_document(8 * 1024);
        assert_eq!(
            markdown.call_bytes(&render, doc.as_bytes()),
            render_markdown(&doc).as_bytes()
        );
    }

    #[test]
    fn rss_is_read() {
        assert!(rss_bytes().unwrap() > 1 << 20);
    }
}
