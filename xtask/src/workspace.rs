//! The workspace's paths and how xtask runs commands: a leaf module every
//! other one may use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

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

/// Checks that a built guest is a valid component.
pub fn check_component(name: &str, bytes: &[u8]) -> Result<()> {
    if !wasmparser::Parser::is_component(bytes) {
        bail!("guest {name} is not a component");
    }
    wasmparser::Validator::new()
        .validate_all(bytes)
        .with_context(|| format!("guest {name} does not validate"))?;
    Ok(())
}
