//! Guest toolchains from package registries (PyPI, npm), installed on first
//! use into a cache shared by every checkout, and reused after that.
//!
//! The cache is `$AIRSSYS_TOOLCHAINS`, else `$XDG_CACHE_HOME/airssys-wasm/toolchains`,
//! else `~/.cache/airssys-wasm/toolchains`. Each tool lives in a directory
//! named after its package and version, holding a `.installed` marker once
//! the install finished: an interrupted install is redone, never half used.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace::run;

/// Where toolchains are cached.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("AIRSSYS_TOOLCHAINS") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| crate::workspace::root().join("target"));
    base.join("airssys-wasm/toolchains")
}

/// A package from a registry, pinned to one version.
#[derive(Clone, Copy, Debug)]
pub struct Package {
    /// The registry's name for it.
    pub name: &'static str,
    /// The exact version installed.
    pub version: &'static str,
}

impl Package {
    /// `name` at exactly `version`.
    pub const fn new(name: &'static str, version: &'static str) -> Self {
        Self { name, version }
    }

    /// `name@version`, for messages and the report.
    pub fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    fn dir(&self, registry: &str) -> PathBuf {
        let name = self.name.replace(['/', '@'], "_");
        cache_root().join(format!("{registry}-{name}-{}", self.version))
    }
}

/// Runs `install` into `dir` unless `dir` holds a finished install.
fn cached(dir: &Path, what: &str, install: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let marker = dir.join(".installed");
    if marker.exists() {
        return Ok(dir.to_owned());
    }
    println!("xtask: installing {what} into {}", dir.display());
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the unfinished install {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    install(dir)?;
    std::fs::write(&marker, what).with_context(|| format!("writing {}", marker.display()))?;
    Ok(dir.to_owned())
}

/// A Python virtual environment with `package` installed from PyPI; returns
/// the environment's directory (its programs are in `bin/`).
pub fn pip(package: Package, needed_for: &str) -> Result<PathBuf> {
    let dir = package.dir("pypi");
    cached(&dir, &format!("{} (PyPI)", package.spec()), |dir| {
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(
            Command::new(&python).args(["-m", "venv"]).arg(dir),
            &format!(
                "creating a Python virtual environment for {needed_for} \
                 (needs python3 with venv: on Debian `apt-get install python3-venv`)"
            ),
        )?;
        run(
            Command::new(dir.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("{}=={}", package.name, package.version),
            ]),
            &format!(
                "pip install {}=={} for {needed_for} (needs access to PyPI)",
                package.name, package.version
            ),
        )
    })
}

/// A directory with `package` installed from npm; returns the directory
/// (its programs are in `node_modules/.bin/`).
pub fn npm(package: Package, needed_for: &str) -> Result<PathBuf> {
    let dir = package.dir("npm");
    cached(&dir, &format!("{} (npm)", package.spec()), |dir| {
        run(
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(dir)
                .arg(package.spec()),
            &format!(
                "npm install {} for {needed_for} (needs Node.js 18+ with npm, \
                 e.g. `apt-get install nodejs npm`, and access to the npm registry)",
                package.spec()
            ),
        )
    })
}

/// The path of `program` from Debian's package `package`, installing the
/// package with `apt-get` when the program is missing (as root; otherwise
/// it says the command to run). Reported on stdout when it installs.
pub fn debian(program: &str, package: &str, needed_for: &str) -> Result<PathBuf> {
    let found = |p: &str| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(p))
                .find(|f| f.is_file())
        })
    };
    if let Some(path) = found(program) {
        return Ok(path);
    }
    let hint = format!(
        "`apt-get install {package}` (Debian) provides `{program}`, needed for {needed_for}"
    );
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        bail!("`{program}` is missing and only root can install it: {hint}");
    }
    println!("xtask: installing the Debian package {package} (for {needed_for}) with apt-get");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "-q", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        println!("xtask: apt-get update, then installing {package} again");
        run(
            Command::new("apt-get").args(["update", "-q"]),
            "apt-get update",
        )?;
        if !install() {
            bail!("apt-get could not install {package}: {hint}");
        }
    }
    found(program)
        .ok_or_else(|| anyhow::anyhow!("{package} is installed but `{program}` is not on PATH"))
}

/// Checks that `program --version` runs, or says what to install.
pub fn require(program: &str, hint: &str) -> Result<()> {
    match Command::new(program).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => bail!("`{program}` is needed: {hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn an_unfinished_install_is_redone_and_a_finished_one_reused() {
        let dir = std::env::temp_dir().join(format!("airssys-xtask-cached-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let installs = Cell::new(0);
        let failing = cached(&dir, "tool", |d| {
            installs.set(installs.get() + 1);
            std::fs::write(d.join("half"), "")?;
            bail!("network down")
        });
        assert!(failing.is_err());
        assert!(!dir.join(".installed").exists());
        let install = |d: &Path| {
            installs.set(installs.get() + 1);
            assert!(!d.join("half").exists(), "the unfinished install was kept");
            std::fs::write(d.join("tool"), "").map_err(Into::into)
        };
        assert_eq!(cached(&dir, "tool", install).unwrap(), dir);
        assert_eq!(cached(&dir, "tool", install).unwrap(), dir);
        assert_eq!(installs.get(), 2, "the finished install is reused");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
