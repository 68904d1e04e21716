//! `Component.toml`: what a component asks for.
//!
//! ```toml
//! [component]
//! name = "text-tools"
//! version = "0.1.0"
//! description = "String helpers"
//!
//! [capabilities]
//! stdio = true
//! env = ["APP_*", { name = "TZ", value = "UTC" }]
//! files = [{ path = "/srv/data/**", rights = ["read", "write"] }]
//! network = ["api.example.com:443", { host = "10.0.0.0/8:5432", use = "socket" }]
//! key-value = [{ namespace = "cache", quota = "1MiB" }]
//! messaging = [{ topic = "orders.>", subscribe = true }]
//!
//! [limits]
//! memory = "32MiB"
//! fuel = 50_000_000
//! timeout = "2s"
//!
//! [signature]
//! signer = "acme"
//!
//! [config]
//! greeting = "hello"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::{CapabilityTable, ConfigError, LimitTable, Located, Source};

/// The file name looked for next to a component.
pub const MANIFEST_FILE: &str = "Component.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    component: Meta,
    #[serde(default)]
    capabilities: CapabilityTable,
    #[serde(default)]
    limits: LimitTable,
    signature: Option<SignatureTable>,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    name: Spanned<String>,
    version: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureTable {
    signer: Option<String>,
}

/// A parsed, checked component manifest.
#[derive(Debug)]
pub struct Manifest {
    /// The component's name (its identity in policy and audit records):
    /// 1-64 characters of `A-Z a-z 0-9 - _ .` beginning with a letter or
    /// digit ([`airssys_wasm_core::check_name`]); any other `name` is an
    /// error naming its line and column.
    pub name: String,
    /// Its version, if given.
    pub version: Option<String>,
    /// Its description, if given.
    pub description: Option<String>,
    /// The capabilities it asks for, each with its position.
    pub requested: Vec<Located>,
    /// The name of the key the author signs with, if given: a signature
    /// by any other trusted key is refused.
    pub signer: Option<String>,
    /// Values the component reads with `airssys:host/config` (the policy's
    /// `[config.NAME]` overrides them).
    pub config: BTreeMap<String, String>,
    pub(crate) limits: LimitTable,
    pub(crate) source: Source,
}

impl Manifest {
    /// Whether the manifest asks for nothing: no capability, no config
    /// value, no limit (a new plugin's, say). Such a manifest changes
    /// nothing with or without a policy.
    pub fn asks_nothing(&self) -> bool {
        self.requested.is_empty() && self.config.is_empty() && self.limits.is_empty()
    }

    /// Reads and checks a manifest file.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        Self::from_source(Source::read(file)?)
    }

    /// Parses manifest text; `file` names it in errors.
    pub fn parse(file: impl Into<PathBuf>, text: impl Into<String>) -> Result<Self, ConfigError> {
        Self::from_source(Source {
            file: file.into(),
            text: text.into(),
        })
    }

    fn from_source(source: Source) -> Result<Self, ConfigError> {
        let raw: Raw = source.parse()?;
        let name = &raw.component.name;
        airssys_wasm_core::check_name(name.get_ref())
            .map_err(|e| source.error(name.span(), format!("[component] name: {e}")))?;
        raw.capabilities.no_signer(&source, "[capabilities]")?;
        let requested = raw.capabilities.capabilities(&source)?;
        Ok(Self {
            name: raw.component.name.into_inner(),
            version: raw.component.version,
            description: raw.component.description,
            requested,
            signer: raw.signature.and_then(|s| s.signer),
            config: raw.config,
            limits: raw.limits,
            source,
        })
    }

    /// The manifest file.
    pub fn file(&self) -> &Path {
        &self.source.file
    }

    /// The manifest beside a component file: `NAME.Component.toml` for
    /// `NAME.wasm` (for directories holding several components), else
    /// `Component.toml`.
    pub fn beside(component: &Path) -> Option<PathBuf> {
        Self::candidates(component.parent()?, component)
            .into_iter()
            .find(|f| f.is_file())
    }

    /// The manifest of a component file, where authors keep it: beside it
    /// ([`Manifest::beside`]), else in the nearest directory above it that
    /// is a project's root (it holds `Cargo.toml`, `package.json`,
    /// `pyproject.toml`, `go.mod` or `asconfig.json`), as `NAME.Component.toml`
    /// or `Component.toml`. Returns the file found, if any, and every path
    /// looked at, in order (for a "no manifest" message to list).
    ///
    /// ```
    /// use airssys_wasm_security::Manifest;
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir_all(dir.path().join("target/wasm32-wasip2/release")).unwrap();
    /// std::fs::write(dir.path().join("Cargo.toml"), "").unwrap();
    /// let wasm = dir.path().join("target/wasm32-wasip2/release/motd.wasm");
    /// let (found, looked) = Manifest::find(&wasm);
    /// assert_eq!(found, None);
    /// assert_eq!(looked.len(), 4);
    /// std::fs::write(dir.path().join("Component.toml"), "").unwrap();
    /// assert_eq!(Manifest::find(&wasm).0, Some(dir.path().join("Component.toml")));
    /// ```
    pub fn find(component: &Path) -> (Option<PathBuf>, Vec<PathBuf>) {
        const ROOT_MARKERS: &[&str] = &[
            "Cargo.toml",
            "package.json",
            "pyproject.toml",
            "go.mod",
            "asconfig.json",
        ];
        let mut looked = Vec::new();
        let absolute = std::path::absolute(component).unwrap_or_else(|_| component.to_owned());
        let Some(beside) = absolute.parent() else {
            return (None, looked);
        };
        for file in Self::candidates(beside, &absolute) {
            if file.is_file() {
                return (Some(file), looked);
            }
            looked.push(file);
        }
        let root = beside
            .ancestors()
            .find(|dir| ROOT_MARKERS.iter().any(|marker| dir.join(marker).is_file()));
        if let Some(root) = root.filter(|r| *r != beside) {
            for file in Self::candidates(root, &absolute) {
                if file.is_file() {
                    return (Some(file), looked);
                }
                looked.push(file);
            }
        }
        (None, looked)
    }

    /// `NAME.Component.toml` and `Component.toml` in `dir`, for the
    /// component file `component` (`NAME.wasm`).
    fn candidates(dir: &Path, component: &Path) -> Vec<PathBuf> {
        let mut files = Vec::with_capacity(2);
        if let Some(stem) = component.file_stem().and_then(|s| s.to_str()) {
            files.push(dir.join(format!("{stem}.{MANIFEST_FILE}")));
        }
        files.push(dir.join(MANIFEST_FILE));
        files
    }
}
