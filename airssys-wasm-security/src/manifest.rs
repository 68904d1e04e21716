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
        let dir = component.parent()?;
        let stem = component.file_stem()?.to_str()?;
        [format!("{stem}.{MANIFEST_FILE}"), MANIFEST_FILE.to_owned()]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|f| f.is_file())
    }
}
