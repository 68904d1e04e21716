//! `cargo xtask guests`: build the guests from source.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Guest languages xtask can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// Every language.
    All,
    /// Rust guests (wasm32-unknown-unknown + wit-component, and wasm32-wasip2),
    /// the Rust greeter among them.
    Rust,
    /// The C greeter (zig cc, wit-bindgen C bindings).
    C,
    /// The C++ greeter (zig c++, wit-bindgen C++ bindings).
    Cpp,
    /// The JavaScript greeter (componentize-js).
    #[value(alias = "js")]
    Javascript,
    /// The Python greeter (componentize-py).
    #[value(alias = "py")]
    Python,
    /// The Go greeter (Go for wasip1, wit-bindgen Go bindings).
    Go,
    /// The AssemblyScript greeter (asc, hand-written canonical ABI).
    #[value(alias = "as")]
    Assemblyscript,
}

impl Lang {
    /// Every language, in the order they are built and reported.
    pub const EVERY: [Lang; 7] = [
        Lang::Rust,
        Lang::C,
        Lang::Cpp,
        Lang::Javascript,
        Lang::Python,
        Lang::Go,
        Lang::Assemblyscript,
    ];
    /// The languages `cargo xtask test` (and so CI) builds and tests:
    /// quick to build, toolchains small. `--all-guests` adds the rest.
    pub const CI: [Lang; 3] = [Lang::Rust, Lang::C, Lang::Javascript];

    /// The name used in file names (`greeter-<name>.wasm`), on the command
    /// line and in the greeter's `lang` log field.
    pub fn name(self) -> &'static str {
        match self {
            Lang::All => "all",
            Lang::Rust => "rust",
            Lang::C => "c",
            Lang::Cpp => "cpp",
            Lang::Javascript => "javascript",
            Lang::Python => "python",
            Lang::Go => "go",
            Lang::Assemblyscript => "assemblyscript",
        }
    }

    /// The toolchain that builds this language's guests, with its version.
    pub fn toolchain(self) -> String {
        use crate::polyglot::{ASSEMBLYSCRIPT, COMPONENTIZE_JS, COMPONENTIZE_PY, GO, ZIG};
        match self {
            Lang::All => "every toolchain".into(),
            Lang::Rust => "rustc (rustup), wit-bindgen 0.61, wit-component 0.254".into(),
            Lang::C => format!("zig cc (PyPI {}), wit-bindgen-c 0.61", ZIG.spec()),
            Lang::Cpp => format!("zig c++ (PyPI {}), wit-bindgen-cpp 0.61", ZIG.spec()),
            Lang::Javascript => format!("npm {}", COMPONENTIZE_JS.spec()),
            Lang::Python => format!("PyPI {}", COMPONENTIZE_PY.spec()),
            Lang::Go => format!("Go (PyPI {}), wit-bindgen-go 0.61", GO.spec()),
            Lang::Assemblyscript => format!("npm {}", ASSEMBLYSCRIPT.spec()),
        }
    }

    /// The languages this choice stands for.
    pub fn expand(self) -> Vec<Lang> {
        match self {
            Lang::All => Lang::EVERY.to_vec(),
            one => vec![one],
        }
    }
}

/// Guests built for wasm32-unknown-unknown and turned into components here:
/// they import nothing.
const PURE: &[&str] = &[
    "text-tools",
    "values",
    "hostile",
    "host-user",
    "host-probe",
    "logger-plug",
    "logger-app",
    "logger-shout",
    "markdown",
    "greeter-rust",
];
/// Guests built for wasm32-wasip2: rustc emits components importing WASI.
const WASIP2: &[&str] = &["wasi-probe", "wasi-files", "hello"];

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_owned()
}

/// Where built guests go: `target/guests`.
pub fn out_dir() -> PathBuf {
    root().join("target/guests")
}

/// A `cargo` command that ignores the settings cargo passes to xtask itself.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // `cargo run` gives xtask its own package's variables; a build script
    // that watches one (ring's watches CARGO_PKG_VERSION_MAJOR) would
    // otherwise rebuild, with everything above it, whenever builds
    // alternate between xtask and a plain `cargo`.
    for (var, _) in std::env::vars_os() {
        if var.to_str().is_some_and(|v| v.starts_with("CARGO_PKG_")) {
            c.env_remove(var);
        }
    }
    for var in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
    ] {
        c.env_remove(var);
    }
    c
}

/// Runs a command, failing with `what` and its exit status.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("{what}: cannot start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn ensure_targets(targets: &[&str]) -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context(
            "rustup not found: the guests need rustup's wasm targets \
             (install rustup from https://rustup.rs)",
        )?;
    let installed = String::from_utf8_lossy(&out.stdout);
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if !missing.is_empty() {
        println!("xtask: installing rust targets {}", missing.join(", "));
        run(
            Command::new("rustup")
                .arg("target")
                .arg("add")
                .args(&missing),
            "rustup target add",
        )?;
    }
    Ok(())
}

/// Builds the guests of one language (or all) and returns the paths written.
pub fn build(lang: Lang) -> Result<Vec<PathBuf>> {
    build_many(&[lang])
}

/// Builds the guests of these languages and returns the paths written.
/// Every language's failure is reported, then the build fails.
pub fn build_many(langs: &[Lang]) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut failed = Vec::new();
    crate::polyglot::stage_wit()?;
    for lang in langs.iter().flat_map(|l| l.expand()) {
        let built = match lang {
            Lang::Rust => build_rust(None),
            other => crate::polyglot::build(other).map(|b| vec![b.path]),
        };
        match built {
            Ok(paths) => written.extend(paths),
            Err(e) => {
                eprintln!("xtask: the {} guests failed: {e:#}", lang.name());
                failed.push(lang.name());
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "building the {} guests failed (see above for what to install or fix)",
            failed.join(", ")
        );
    }
    Ok(written)
}

/// Builds these Rust guests only (the benchmarks need a few): each must be
/// one of the Rust guests `cargo xtask guests` builds.
pub fn build_rust_guests(only: &[&str]) -> Result<Vec<PathBuf>> {
    crate::polyglot::stage_wit()?;
    build_rust(Some(only))
}

fn build_rust(only: Option<&[&str]>) -> Result<Vec<PathBuf>> {
    let pick = |names: &'static [&'static str]| -> Vec<&'static str> {
        names
            .iter()
            .copied()
            .filter(|n| only.is_none_or(|o| o.contains(n)))
            .collect()
    };
    let (pure, wasip2) = (pick(PURE), pick(WASIP2));
    let targets: Vec<&str> = [
        ("wasm32-unknown-unknown", &pure),
        ("wasm32-wasip2", &wasip2),
    ]
    .iter()
    .filter(|(_, names)| !names.is_empty())
    .map(|(t, _)| *t)
    .collect();
    ensure_targets(&targets)?;
    let manifest = root().join("guests/Cargo.toml");
    let guest_target = root().join("guests/target");
    for (target, names) in [
        ("wasm32-unknown-unknown", &pure),
        ("wasm32-wasip2", &wasip2),
    ] {
        if names.is_empty() {
            continue;
        }
        println!("xtask: building {} for {target}", names.join(", "));
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--release",
            "--quiet",
            "--target",
            target,
            "--manifest-path",
        ])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &guest_target);
        for n in names {
            cmd.args(["-p", n]);
        }
        run(&mut cmd, &format!("building guests for {target}"))?;
    }
    let out = out_dir();
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut written = Vec::new();
    for (target, names, componentize) in [
        ("wasm32-unknown-unknown", &pure, true),
        ("wasm32-wasip2", &wasip2, false),
    ] {
        for name in names.iter() {
            let built = guest_target
                .join(target)
                .join("release")
                .join(format!("{}.wasm", name.replace('-', "_")));
            let bytes =
                std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
            let component = if componentize {
                wit_component::ComponentEncoder::default()
                    .module(&bytes)
                    .and_then(|e| e.validate(true).encode())
                    .with_context(|| format!("turning {name} into a component"))?
            } else {
                bytes
            };
            check_component(name, &component)?;
            let dest = out.join(format!("{name}.wasm"));
            std::fs::write(&dest, &component)
                .with_context(|| format!("writing {}", dest.display()))?;
            println!(
                "xtask:   {:<12} {:>8} bytes  {}",
                name,
                component.len(),
                dest.display()
            );
            written.push(dest);
        }
    }
    Ok(written)
}

pub fn check_component(name: &str, bytes: &[u8]) -> Result<()> {
    if !wasmparser::Parser::is_component(bytes) {
        bail!("guest {name} is not a component");
    }
    wasmparser::Validator::new()
        .validate_all(bytes)
        .with_context(|| format!("guest {name} does not validate"))?;
    Ok(())
}
