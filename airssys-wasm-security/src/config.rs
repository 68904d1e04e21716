//! What manifests and policies share: TOML with positions, capability
//! tables, limit tables, and errors that name the file, line and column.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airssys_wasm_core::capability::{
    FileOp, FileRights, HostPattern, KvQuota, NetKind, PathGlob, TopicPattern, normal_path,
};
use airssys_wasm_core::{Capability, Limits};
use serde::Deserialize;
use toml::Spanned;

/// A manifest or policy that cannot be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A syntax error or an invalid value, at a position.
    #[error("{at}: {message}")]
    Invalid {
        /// Where: `file:line:column`.
        at: Position,
        /// What is wrong and what to do.
        message: String,
    },
}

/// A place in a file, written `file:line:column` (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A TOML file's text, to turn byte offsets into positions.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub file: PathBuf,
    pub text: String,
}

impl Source {
    pub fn read(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
            file: file.to_owned(),
            source,
        })?;
        Ok(Self {
            file: file.to_owned(),
            text,
        })
    }

    pub fn position(&self, offset: usize) -> Position {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Position {
            file: self.file.clone(),
            line,
            column,
        }
    }

    pub fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            at: self.position(span.start),
            message: message.into(),
        }
    }

    /// Parses the whole file, mapping TOML errors to positions.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(&self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            self.error(span, e.message().trim_end().to_owned())
        })
    }
}

/// A capability with the place it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The capability.
    pub capability: Capability,
    /// Where it was written.
    pub at: Position,
}

/// `[capabilities]` in a manifest, `[grant.NAME]` and `[forbid]` in a
/// policy: the same table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct CapabilityTable {
    stdio: Option<Spanned<bool>>,
    clocks: Option<Spanned<bool>>,
    random: Option<Spanned<bool>>,
    #[serde(default)]
    env: Vec<Spanned<EnvEntry>>,
    #[serde(default)]
    files: Vec<Spanned<FilesEntry>>,
    #[serde(default)]
    dirs: Vec<Spanned<DirEntry>>,
    #[serde(default)]
    network: Vec<Spanned<NetworkEntry>>,
    #[serde(default)]
    key_value: Vec<Spanned<KvEntry>>,
    #[serde(default)]
    messaging: Vec<Spanned<TopicEntry>>,
    #[serde(default)]
    custom: Vec<Spanned<String>>,
    /// Only in a policy's `[grant.NAME]`: the trusted key whose signature a
    /// component must carry for this grant to apply.
    signer: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EnvEntry {
    Name(String),
    Fixed { name: String, value: String },
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a files entry: a table such as { path = \"/srv/app/*.txt\", rights = [\"read\"] } \
                 (rights: read, write, create, delete)"
)]
struct FilesEntry {
    path: String,
    rights: Vec<FileOp>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a dirs entry: a table such as { host = \"./data\", guest = \"/data\", read-only = true }"
)]
struct DirEntry {
    host: String,
    guest: String,
    #[serde(default)]
    read_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NetworkEntry {
    Http(String),
    Full {
        host: String,
        #[serde(rename = "use")]
        kind: NetKind,
    },
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    expecting = "a key-value entry: a table such as { namespace = \"notes\", quota = \"1MiB\" }"
)]
struct KvEntry {
    namespace: String,
    quota: Option<Size>,
    max_key: Option<Size>,
    max_value: Option<Size>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a messaging entry: a table such as { topic = \"orders.*\", publish = true }"
)]
struct TopicEntry {
    topic: String,
    #[serde(default)]
    publish: bool,
    #[serde(default)]
    subscribe: bool,
}

/// A size: a number of bytes or a string such as `"64MiB"`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size(pub u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(Size(n)),
            Raw::Text(s) => parse_size(&s).map(Size).map_err(serde::de::Error::custom),
        }
    }
}

/// Parses a size such as `64MiB`, `1.5GiB` or `4096` (bytes). A size that
/// does not fit in 64 bits is an error, never a wrapped or saturated
/// number.
///
/// ```
/// use airssys_wasm_security::parse_size;
/// assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
/// assert!(parse_size("99999999999GiB").unwrap_err().contains("too large"));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (number, unit) = (t[..split].replace('_', ""), t[split..].trim());
    let bad = |why: String| {
        format!("`{text}` is not a size ({why}); write e.g. \"64MiB\" or a number of bytes")
    };
    let value: f64 = number
        .parse()
        .map_err(|_| bad("it does not start with a number".into()))?;
    let unit_bytes = if unit.is_empty() {
        1
    } else {
        format!("1{unit}")
            .parse::<bytesize::ByteSize>()
            .map_err(|e| bad(e.to_string()))?
            .as_u64()
    };
    let bytes = value * unit_bytes as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!(
            "`{text}` is too large: a size must be below 16 EiB (2^64 bytes)"
        ));
    }
    Ok(bytes as u64)
}

/// A duration: a string such as `"5s"` or `"250ms"`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Time(pub Duration);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map(Time).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{s}` is not a duration ({e}); write e.g. \"5s\" or \"250ms\""
            ))
        })
    }
}

impl CapabilityTable {
    /// The `signer` of a `[grant.NAME]` table.
    pub fn signer(&self) -> Option<&Spanned<String>> {
        self.signer.as_ref()
    }

    /// Refuses a `signer` key where it means nothing (a manifest's
    /// `[capabilities]`, a policy's `[forbid]`).
    pub fn no_signer(&self, src: &Source, table: &str) -> Result<(), ConfigError> {
        match &self.signer {
            Some(s) => Err(src.error(
                s.span(),
                format!("`signer` belongs in a policy's [grant.NAME] table, not in {table}"),
            )),
            None => Ok(()),
        }
    }

    /// The capabilities, each checked and located.
    pub fn capabilities(&self, src: &Source) -> Result<Vec<Located>, ConfigError> {
        let mut out = Vec::new();
        let mut push = |span: Range<usize>, made: Result<Capability, String>| {
            let capability = made.map_err(|m| src.error(span.clone(), m))?;
            capability
                .validate()
                .map_err(|e| src.error(span.clone(), e.to_string()))?;
            out.push(Located {
                capability,
                at: src.position(span.start),
            });
            Ok::<(), ConfigError>(())
        };
        for (flag, cap) in [
            (&self.stdio, Capability::Stdio),
            (&self.clocks, Capability::Clocks),
            (&self.random, Capability::Random),
        ] {
            if let Some(f) = flag
                && *f.get_ref()
            {
                push(f.span(), Ok(cap))?;
            }
        }
        for e in &self.env {
            let cap = match e.get_ref() {
                EnvEntry::Name(n) => Capability::env(n.clone()),
                EnvEntry::Fixed { name, value } => Capability::env_value(name, value),
            };
            push(e.span(), Ok(cap))?;
        }
        for e in &self.files {
            let f = e.get_ref();
            let made = PathGlob::new(&f.path)
                .map(|p| Capability::files(p, FileRights::of(&f.rights)))
                .map_err(|e| e.to_string());
            push(e.span(), made)?;
        }
        for e in &self.dirs {
            let d = e.get_ref();
            // Host paths are adversary data in a manifest: normalised here,
            // so every later comparison sees the path that is meant.
            let guest = if d.guest.starts_with('/') {
                normal_path(&d.guest)
            } else {
                // Refused with its own reason by `validate`.
                Ok(d.guest.clone())
            };
            let made = normal_path(&d.host)
                .and_then(|host| Ok(Capability::dir(host, guest?, d.read_only)))
                .map_err(|e| e.to_string());
            push(e.span(), made)?;
        }
        for e in &self.network {
            let (host, kind) = match e.get_ref() {
                NetworkEntry::Http(h) => (h, NetKind::Http),
                NetworkEntry::Full { host, kind } => (host, *kind),
            };
            let made = HostPattern::new(host)
                .map(|h| Capability::network(h, kind))
                .map_err(|e| e.to_string());
            push(e.span(), made)?;
        }
        for e in &self.key_value {
            let k = e.get_ref();
            let d = KvQuota::default();
            let small = |size: Option<Size>, default: u32, what: &str| {
                size.map_or(Ok(default), |s| {
                    u32::try_from(s.0).map_err(|_| format!("{what} must be below 4GiB"))
                })
            };
            let made = small(k.max_key, d.max_key_bytes, "max-key").and_then(|max_key_bytes| {
                Ok(Capability::key_value(
                    k.namespace.clone(),
                    KvQuota {
                        bytes: k.quota.map_or(d.bytes, |s| s.0),
                        max_key_bytes,
                        max_value_bytes: small(k.max_value, d.max_value_bytes, "max-value")?,
                    },
                ))
            });
            push(e.span(), made)?;
        }
        for e in &self.messaging {
            let t = e.get_ref();
            let made = TopicPattern::new(&t.topic)
                .map(|p| Capability::messaging(p, t.publish, t.subscribe))
                .map_err(|e| e.to_string());
            push(e.span(), made)?;
        }
        for e in &self.custom {
            push(e.span(), Ok(Capability::custom(e.get_ref().clone())))?;
        }
        out.sort_by_key(|l| (l.at.line, l.at.column));
        Ok(out)
    }
}

/// `[limits]`: each optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LimitTable {
    pub memory: Option<Spanned<Size>>,
    pub fuel: Option<Spanned<u64>>,
    pub timeout: Option<Spanned<Time>>,
    pub instances: Option<Spanned<u32>>,
    pub table_elements: Option<Spanned<u64>>,
}

impl LimitTable {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.memory.is_none()
            && self.fuel.is_none()
            && self.timeout.is_none()
            && self.instances.is_none()
            && self.table_elements.is_none()
    }

    /// These limits over `base`: what is set here replaces base's value.
    pub fn over(&self, mut base: Limits) -> Limits {
        if let Some(m) = &self.memory {
            base.memory_bytes = Some(m.get_ref().0);
        }
        if let Some(f) = &self.fuel {
            base.fuel = Some(*f.get_ref());
        }
        if let Some(t) = &self.timeout {
            base.timeout = Some(t.get_ref().0);
        }
        if let Some(i) = &self.instances {
            base.max_instances = Some(*i.get_ref());
        }
        if let Some(t) = &self.table_elements {
            base.table_elements = Some(*t.get_ref());
        }
        base
    }
}
