//! `cargo xtask guests`: build the guests from source.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Guest languages xtask can build.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Lang {
    /// Every language.
    All,
    /// Rust guests (wasm32-unknown-unknown + wit-component, and wasm32-wasip2).
    Rust,
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
    for var in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_PKG_NAME",
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

/// Builds every guest and returns the paths written.
pub fn build(lang: Lang) -> Result<Vec<PathBuf>> {
    match lang {
        Lang::All | Lang::Rust => build_rust(),
    }
}

fn build_rust() -> Result<Vec<PathBuf>> {
    ensure_targets(&["wasm32-unknown-unknown", "wasm32-wasip2"])?;
    let manifest = root().join("guests/Cargo.toml");
    let guest_target = root().join("guests/target");
    for (target, names) in [("wasm32-unknown-unknown", PURE), ("wasm32-wasip2", WASIP2)] {
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
        ("wasm32-unknown-unknown", PURE, true),
        ("wasm32-wasip2", WASIP2, false),
    ] {
        for name in names {
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

fn check_component(name: &str, bytes: &[u8]) -> Result<()> {
    if !wasmparser::Parser::is_component(bytes) {
        bail!("guest {name} is not a component");
    }
    wasmparser::Validator::new()
        .validate_all(bytes)
        .with_context(|| format!("guest {name} does not validate"))?;
    Ok(())
}
