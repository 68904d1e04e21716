//! `policy.toml`: what an operator grants, forbids and limits.
//!
//! ```toml
//! require-signed = false
//! on-denied = "error"        # or "trap": how host-interface denials reach the guest
//!
//! [limits.default]           # when a manifest asks for nothing
//! memory = "32MiB"
//! fuel = 100_000_000
//! timeout = "5s"
//!
//! [limits.max]               # never more, whatever is asked
//! memory = "256MiB"
//! timeout = "30s"
//!
//! [[trusted-keys]]
//! name = "acme"
//! public-key = "<64 hex digits>"
//!
//! [forbid]                   # never granted to anyone
//! files = [{ path = "/etc/**", rights = ["read", "write", "create", "delete"] }]
//! env = ["AWS_*"]
//! network = [{ host = "169.254.169.254:*", use = "http" }]
//!
//! [grant."*"]                # every component
//! clocks = true
//!
//! [grant.text-tools]         # one component, by the name the operator gives it
//! stdio = true
//! files = [{ path = "/srv/data/**", rights = ["read"] }]
//!
//! [grant.billing]            # a name a manifest may claim, if signed by acme
//! signer = "acme"
//! key-value = [{ namespace = "billing" }]
//!
//! [config.text-tools]        # values over the manifest's [config]
//! greeting = "hi"
//! ```
//!
//! **Who gets a named grant.** The operator names components (`--name`,
//! `LoadOptions::name`); `[grant.NAME]` applies to a component the operator
//! named NAME. A name taken from the component's own manifest is the
//! component's claim, not the operator's word: `[grant.NAME]` applies to it
//! only when the grant pins a `signer` and the component carries a valid
//! signature by that trusted key. A grant that pins a signer never applies
//! to a component without that signature, whoever named it. Otherwise only
//! `[grant."*"]` applies, with a warning saying why. `[config.NAME]`
//! follows the same rule.
//!
//! The `NAME` of `[grant.NAME]` and `[config.NAME]` is a component name:
//! 1-64 characters of `A-Z a-z 0-9 - _ .` beginning with a letter or digit
//! ([`airssys_wasm_core::check_name`]), or `"*"` for a grant to every
//! component. Any other key is an error naming its line and column.
//!
//! [`Policy::evaluate`] computes what a component gets: requested ∩
//! granted − forbidden, and its limits clamped to the maxima.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use airssys_wasm_core::capability::Overlap;
use airssys_wasm_core::{Capability, CapabilitySet, Limits};
use serde::Deserialize;
use toml::Spanned;

use crate::config::{CapabilityTable, ConfigError, LimitTable, Located, Position, Source};
use crate::manifest::Manifest;
pub use crate::signing::TrustedKey;

/// How a denial by the host interface reaches the guest (defined in core,
/// where host providers answer denials).
pub use airssys_wasm_core::OnDenied;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    #[serde(default)]
    require_signed: bool,
    #[serde(default)]
    on_denied: OnDenied,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    trusted_keys: Vec<Spanned<RawKey>>,
    #[serde(default)]
    forbid: CapabilityTable,
    #[serde(default)]
    grant: BTreeMap<Spanned<String>, CapabilityTable>,
    #[serde(default)]
    config: BTreeMap<Spanned<String>, BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default)]
    default: LimitTable,
    #[serde(default)]
    max: LimitTable,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawKey {
    name: String,
    public_key: String,
}

/// A parsed, checked operator policy.
#[derive(Debug)]
pub struct Policy {
    /// Refuse components without a valid signature by a trusted key.
    pub require_signed: bool,
    /// How host-interface denials reach the guest.
    pub on_denied: OnDenied,
    /// The keys whose signatures are trusted.
    pub trusted_keys: Vec<TrustedKey>,
    /// Never granted to anyone.
    pub forbidden: Vec<Located>,
    /// Grants by component name (`*` for every component).
    pub grants: BTreeMap<String, Vec<Located>>,
    /// The signer a `[grant.NAME]` pins (`signer = "acme"`), by name.
    pub signers: BTreeMap<String, String>,
    /// Configuration values by component name, over the manifest's.
    pub config: BTreeMap<String, BTreeMap<String, String>>,
    default_limits: LimitTable,
    max_limits: LimitTable,
    source: Source,
}

/// Who a component is, for [`Policy::evaluate`]: its name, whether the
/// operator gave that name, and the trusted key that signed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The component's name.
    pub name: &'a str,
    /// `true` when the operator named it (`--name`, `LoadOptions::name`);
    /// `false` when the name is the component's own claim (its manifest)
    /// or a default (the file stem).
    pub named_by_operator: bool,
    /// The trusted key whose valid signature the component carries (its
    /// name, as `[[trusted-keys]]` lists it), if it was checked.
    pub signer: Option<&'a str>,
}

impl<'a> Subject<'a> {
    /// A component the operator named `name`, unsigned.
    pub fn named(name: &'a str) -> Self {
        Self {
            name,
            named_by_operator: true,
            signer: None,
        }
    }

    /// A component whose name comes from its own manifest (or a default).
    pub fn claimed(name: &'a str) -> Self {
        Self {
            name,
            named_by_operator: false,
            signer: None,
        }
    }

    /// The same subject, signed by the trusted key `signer`.
    pub fn signed_by(mut self, signer: Option<&'a str>) -> Self {
        self.signer = signer;
        self
    }
}

/// The key of `[grant.NAME]` or `[config.NAME]`: `*` (for `[grant."*"]`)
/// or a component name (see [`airssys_wasm_core::check_name`]).
fn component_key(
    source: &Source,
    key: &Spanned<String>,
    table: &str,
) -> Result<String, ConfigError> {
    let name = key.get_ref();
    if !(table == "grant" && name == "*") {
        airssys_wasm_core::check_name(name)
            .map_err(|e| source.error(key.span(), format!("[{table}.NAME]: {e}")))?;
    }
    Ok(name.clone())
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        Self::from_source(Source::read(file)?)
    }

    /// Parses policy text; `file` names it in errors.
    pub fn parse(file: impl Into<PathBuf>, text: impl Into<String>) -> Result<Self, ConfigError> {
        Self::from_source(Source {
            file: file.into(),
            text: text.into(),
        })
    }

    fn from_source(source: Source) -> Result<Self, ConfigError> {
        let raw: Raw = source.parse()?;
        let mut trusted_keys = Vec::new();
        for k in &raw.trusted_keys {
            let key = k.get_ref();
            let public_key = crate::signing::unhex::<32>(&key.public_key).ok_or_else(|| {
                source.error(
                    k.span(),
                    format!(
                        "trusted key `{}`: public-key must be 64 hex digits (the .pub file \
                         written by `airssys-wasm keygen`)",
                        key.name
                    ),
                )
            })?;
            trusted_keys.push(TrustedKey {
                name: key.name.clone(),
                public_key,
                at: source.position(k.span().start),
            });
        }
        raw.forbid.no_signer(&source, "[forbid]")?;
        let forbidden = raw.forbid.capabilities(&source)?;
        let mut grants = BTreeMap::new();
        let mut signers = BTreeMap::new();
        for (key, table) in &raw.grant {
            let name = component_key(&source, key, "grant")?;
            if let Some(signer) = table.signer() {
                if name == "*" {
                    return Err(source.error(
                        signer.span(),
                        "[grant.\"*\"] applies to every component; a signer can only be \
                         pinned in a named grant",
                    ));
                }
                if !trusted_keys.iter().any(|k| &k.name == signer.get_ref()) {
                    return Err(source.error(
                        signer.span(),
                        format!(
                            "signer `{}` is not a trusted key of this policy; add it to \
                             [[trusted-keys]]",
                            signer.get_ref()
                        ),
                    ));
                }
                signers.insert(name.clone(), signer.get_ref().clone());
            }
            grants.insert(name, table.capabilities(&source)?);
        }
        let mut config = BTreeMap::new();
        for (name, values) in raw.config {
            config.insert(component_key(&source, &name, "config")?, values);
        }
        Ok(Self {
            require_signed: raw.require_signed,
            on_denied: raw.on_denied,
            trusted_keys,
            forbidden,
            grants,
            signers,
            config,
            default_limits: raw.limits.default,
            max_limits: raw.limits.max,
            source,
        })
    }

    /// The policy file.
    pub fn file(&self) -> &Path {
        &self.source.file
    }

    /// Does `[grant.NAME]` (and `[config.NAME]`) apply to this subject? `Ok`
    /// when it does or there is none; `Err(why)` when a table of that name
    /// exists and does not apply.
    fn named_tables_apply(&self, subject: &Subject<'_>) -> Result<bool, String> {
        let name = subject.name;
        let exists = self.grants.contains_key(name) || self.config.contains_key(name);
        if !exists || name == "*" {
            return Ok(false);
        }
        match (self.signers.get(name), subject.signer) {
            (Some(pinned), Some(signer)) if pinned == signer => Ok(true),
            (Some(pinned), _) => Err(format!(
                "[grant.{name}] is not applied: it pins signer `{pinned}` and `{name}` carries \
                 no valid signature by that key; only [grant.\"*\"] applies"
            )),
            (None, _) if subject.named_by_operator => Ok(true),
            (None, _) => Err(format!(
                "[grant.{name}] is not applied: the name `{name}` comes from the component's \
                 own manifest, and the grant pins no signer; name the component (--name, \
                 LoadOptions::name) or pin `signer = \"...\"` in the grant; only \
                 [grant.\"*\"] applies"
            )),
        }
    }

    /// What the policy grants this subject: `[grant."*"]`, and
    /// `[grant.NAME]` when it applies (see the module docs).
    pub fn grants_for<'p>(&'p self, subject: &Subject<'_>) -> impl Iterator<Item = &'p Located> {
        let named = self.named_tables_apply(subject).unwrap_or(false);
        let name = subject.name.to_owned();
        self.grants
            .iter()
            .filter(move |(n, _)| n.as_str() == "*" || (named && **n == name))
            .flat_map(|(_, g)| g.iter())
    }

    /// The first forbidden rule a capability overlaps, and how: exactly, or
    /// undecided (which refuses too, except for a host name against a
    /// forbidden address: that is checked at connect time).
    pub fn forbidding(&self, capability: &Capability) -> Option<(&Located, Overlap)> {
        self.forbidden.iter().find_map(|f| {
            let o = f.capability.overlap(capability);
            (o != Overlap::Disjoint).then_some((f, o))
        })
    }

    /// Whether `capability` is refused by a forbidden rule at load: it
    /// overlaps one, or cannot be told apart from one — except a network
    /// name against a forbidden address, which is left to the check at
    /// connect time. `Ok(Some(w))` would be a warning to show.
    fn refusing(&self, capability: &Capability) -> Result<Option<String>, &Located> {
        match self.forbidding(capability) {
            None => Ok(None),
            // A name against a forbidden address: each address the name
            // resolves to is checked against the rule at connect time.
            Some((rule, Overlap::Undecided))
                if matches!(
                    (&rule.capability, capability),
                    (Capability::Network { .. }, Capability::Network { .. })
                ) =>
            {
                Ok(None)
            }
            Some((rule, _)) => Err(rule),
        }
    }

    /// Computes what a component gets.
    ///
    /// - Effective capabilities are the manifest's requests intersected
    ///   with the policy's grants for the subject (see
    ///   [`Policy::grants_for`]), plus `direct` grants (the operator's own,
    ///   such as CLI flags). Anything that overlaps a forbidden rule — or
    ///   cannot be told apart from one — refuses the whole component,
    ///   naming the manifest line and the rule. The forbidden rules are
    ///   also carried into the effective set, so they hold again at the
    ///   moment of use.
    /// - A request not (or only partly) granted is a warning; the excess is
    ///   simply not granted. So is a named grant that does not apply.
    /// - Limits: the policy's defaults, then the manifest's requests, then
    ///   `direct_limits`, each clamped to the policy's maxima (a warning
    ///   says so).
    pub fn evaluate(
        &self,
        subject: &Subject<'_>,
        manifest: Option<&Manifest>,
        direct: &[Capability],
        direct_limits: &Limits,
    ) -> Result<Evaluation, PolicyError> {
        let name = subject.name;
        let mut refusals = Vec::new();
        let mut warnings = Vec::new();
        for d in direct {
            match self.refusing(d) {
                Err(rule) => refusals.push(Refusal {
                    request: d.clone(),
                    asked_at: None,
                    rule: rule.clone(),
                }),
                Ok(warning) => warnings.extend(warning),
            }
        }
        let requested: &[Located] = manifest.map_or(&[], |m| &m.requested);
        for r in requested {
            match self.refusing(&r.capability) {
                Err(rule) => refusals.push(Refusal {
                    request: r.capability.clone(),
                    asked_at: Some(r.at.clone()),
                    rule: rule.clone(),
                }),
                Ok(warning) => warnings.extend(warning.map(|w| format!("{}: {w}", r.at))),
            }
        }
        if !refusals.is_empty() {
            return Err(PolicyError::Forbidden {
                component: name.to_owned(),
                policy: self.file().to_owned(),
                refusals,
            });
        }

        let named = match self.named_tables_apply(subject) {
            Ok(applies) => applies,
            Err(why) => {
                warnings.push(why);
                false
            }
        };
        let grants: Vec<&Located> = self.grants_for(subject).collect();
        let mut rows = Vec::new();
        let mut set = CapabilitySet::new();
        for f in &self.forbidden {
            set.forbid(f.capability.clone());
        }
        if manifest.is_none() {
            warnings.push(format!(
                "no manifest for `{name}`: it requests nothing, so the policy grants it \
                 nothing{}",
                if direct.is_empty() {
                    ""
                } else {
                    " (only the direct grants apply)"
                }
            ));
        }
        for r in requested {
            let mut effective = Vec::new();
            let mut granted = Vec::new();
            let mut full = false;
            for g in &grants {
                if let Some(meet) = g.capability.intersect(&r.capability) {
                    granted.push(g.capability.clone());
                    // A grant that overlaps a forbidden rule gives nothing.
                    if self.refusing(&meet).is_err() {
                        continue;
                    }
                    full |= meet == r.capability
                        || matches!((&meet, &r.capability),
                            (Capability::Env { name: a, .. }, Capability::Env { name: b, .. }) if a == b);
                    if !effective.iter().any(|(e, _)| *e == meet) {
                        effective.push((meet, &g.capability));
                    }
                }
            }
            if effective.is_empty() {
                warnings.push(format!(
                    "{}: `{}` is requested but not granted by {}; it is not given",
                    r.at,
                    r.capability,
                    self.file().display()
                ));
            } else if !full {
                warnings.push(format!(
                    "{}: `{}` is granted only in part ({}); the rest is not given",
                    r.at,
                    r.capability,
                    effective
                        .iter()
                        .map(|(c, _)| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for (e, by) in &effective {
                set.grant_within(e.clone(), by);
            }
            rows.push(Row {
                requested: Some(r.capability.clone()),
                granted,
                effective: effective.into_iter().map(|(e, _)| e).collect(),
            });
        }
        for g in &grants {
            if !rows.iter().any(|row| row.granted.contains(&g.capability)) {
                rows.push(Row {
                    requested: None,
                    granted: vec![g.capability.clone()],
                    effective: Vec::new(),
                });
            }
        }
        for d in direct {
            set.grant(d.clone());
            rows.push(Row {
                requested: None,
                granted: vec![d.clone()],
                effective: vec![d.clone()],
            });
        }

        let asked = manifest.map_or_else(
            || self.default_limits.over(Limits::default()),
            |m| m.limits.over(self.default_limits.over(Limits::default())),
        );
        let asked = merge_limits(asked, direct_limits);
        let limits = self.clamp(asked, &mut warnings);
        let mut config = manifest.map(|m| m.config.clone()).unwrap_or_default();
        if named && let Some(over) = self.config.get(name) {
            config.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Ok(Evaluation {
            config,
            name: name.to_owned(),
            rows,
            capabilities: set,
            limits,
            warnings,
            signer: subject.signer.map(str::to_owned),
        })
    }

    fn clamp(&self, mut limits: Limits, warnings: &mut Vec<String>) -> Limits {
        let max = self.max_limits.over(Limits::unlimited());
        let file = self.file().display();
        fn clamp_one<T: Copy + Ord + fmt::Debug>(
            value: &mut Option<T>,
            max: Option<T>,
            what: &str,
            show: impl Fn(T) -> String,
            file: &dyn fmt::Display,
            warnings: &mut Vec<String>,
        ) {
            if let Some(m) = max {
                match value {
                    Some(v) if *v > m => {
                        warnings.push(format!(
                            "{what} {} is above the maximum {} set by {file}; {} is used",
                            show(*v),
                            show(m),
                            show(m)
                        ));
                        *v = m;
                    }
                    None => *value = Some(m),
                    _ => {}
                }
            }
        }
        let size = |b: u64| bytesize::ByteSize(b).display().iec().to_string();
        clamp_one(
            &mut limits.memory_bytes,
            max.memory_bytes,
            "memory",
            size,
            &file,
            warnings,
        );
        clamp_one(
            &mut limits.fuel,
            max.fuel,
            "fuel",
            |f| f.to_string(),
            &file,
            warnings,
        );
        clamp_one(
            &mut limits.timeout,
            max.timeout,
            "timeout",
            |t| humantime::format_duration(t).to_string(),
            &file,
            warnings,
        );
        clamp_one(
            &mut limits.max_instances,
            max.max_instances,
            "instances",
            |i| i.to_string(),
            &file,
            warnings,
        );
        clamp_one(
            &mut limits.table_elements,
            max.table_elements,
            "table-elements",
            |i| i.to_string(),
            &file,
            warnings,
        );
        limits
    }
}

/// `direct`'s set values replace `base`'s.
fn merge_limits(mut base: Limits, direct: &Limits) -> Limits {
    base.memory_bytes = direct.memory_bytes.or(base.memory_bytes);
    base.fuel = direct.fuel.or(base.fuel);
    base.timeout = direct.timeout.or(base.timeout);
    base.table_elements = direct.table_elements.or(base.table_elements);
    base.max_instances = direct.max_instances.or(base.max_instances);
    base
}

/// One line of the requested / granted / effective comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// What the manifest asks for (`None` for grants nobody asked for).
    pub requested: Option<Capability>,
    /// The policy grants that meet it.
    pub granted: Vec<Capability>,
    /// What the component gets.
    pub effective: Vec<Capability>,
}

/// What a component gets under a policy.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The component's name.
    pub name: String,
    /// Requested / granted / effective, for reports.
    pub rows: Vec<Row>,
    /// The effective capabilities.
    pub capabilities: CapabilitySet,
    /// The effective limits.
    pub limits: Limits,
    /// Requests not granted, limits clamped, a missing manifest, an
    /// untrusted signature.
    pub warnings: Vec<String>,
    /// The trusted key that signed the component, if it was checked.
    pub signer: Option<String>,
    /// Configuration values: the manifest's `[config]` under the policy's
    /// `[config.NAME]`.
    pub config: BTreeMap<String, String>,
}

/// A request that a forbidden rule refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The capability asked for.
    pub request: Capability,
    /// Where the manifest asks for it (`None` for a direct grant).
    pub asked_at: Option<Position>,
    /// The forbidden rule.
    pub rule: Located,
}

/// Why a policy refuses a component.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// It asks for something the policy forbids.
    #[error("{}", forbidden_message(component, policy, refusals))]
    Forbidden {
        /// The component.
        component: String,
        /// The policy file.
        policy: PathBuf,
        /// Each forbidden request.
        refusals: Vec<Refusal>,
    },
}

fn forbidden_message(component: &str, policy: &Path, refusals: &[Refusal]) -> String {
    let mut s = format!(
        "`{component}` is refused: it asks for what {} forbids",
        policy.display()
    );
    for r in refusals {
        let asked = match &r.asked_at {
            Some(at) => format!("{at}: requests"),
            None => "a direct grant gives".to_owned(),
        };
        s.push_str(&format!(
            "\n  {asked} `{}`, forbidden by `{}` at {}",
            r.request, r.rule.capability, r.rule.at
        ));
    }
    // The advice names what holds each request: the manifest (the
    // component's author) or a direct grant (the operator's own flags or
    // `LoadOptions`).
    let from_manifest = refusals.iter().any(|r| r.asked_at.is_some());
    let direct = refusals.iter().any(|r| r.asked_at.is_none());
    s.push_str(match (from_manifest, direct) {
        (true, false) => {
            "\n  remove these requests from the manifest, or ask the operator to change the policy"
        }
        (false, _) => {
            "\n  drop these direct grants (the command line's flags, or LoadOptions::grant), or \
             change the policy"
        }
        (true, true) => {
            "\n  remove the manifest's requests and drop the direct grants (the command line's \
             flags, or LoadOptions::grant), or change the policy"
        }
    });
    s
}
