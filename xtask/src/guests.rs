//! `cargo xtask guests`: build the guests from source.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::lang::Lang;
use crate::workspace::{cargo, check_component, out_dir, root, run};

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
const WASIP2: &[&str] = &[
    "wasi-probe",
    "wasi-files",
    "hello",
    "http-hello",
    "http-hostile",
];

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
