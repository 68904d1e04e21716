//! What WASI gives an instance, decided from its capability set once for
//! every backend.
//!
//! | capability | granted | not granted |
//! |---|---|---|
//! | stdio | host stdin/stdout/stderr (or the embedder's buffers) | stdin empty; writes to stdout/stderr fail with an error |
//! | env | the named variables, or every host variable with a granted prefix (`APP_*`) | an empty environment |
//! | dirs | the directory preopened at its guest path | no directories |
//! | files | the grant's root preopened at the same path (a file's directory, a glob's directory before its first wildcard), showing exactly what the grants match, each open, create and delete checked and audited ([`fs`]) | no directories |
//! | clocks | host clocks | both clocks read 0 and never advance |
//! | random | host entropy | a fixed, deterministic byte sequence ([`FIXED_RANDOM`]) |
//! | network (socket) | connections to granted addresses, each checked and audited | every socket address and name lookup refused |
//!
//! Backends build their WASI context from a [`WasiGrants`] and record
//! [`audit_ungranted`] at instantiation, so the same grants mean the same
//! thing on every engine.
//!
//! ```
//! use airssys_wasm_core::{Capability, CapabilitySet};
//! use airssys_wasm_core::wasi::WasiGrants;
//!
//! let caps = CapabilitySet::new()
//!     .with(Capability::env_value("MODE", "fast"))
//!     .with(Capability::dir("/srv/data", "/data", true));
//! let g = WasiGrants::from_capabilities(&caps);
//! assert_eq!(g.env, vec![("MODE".to_string(), "fast".to_string())]);
//! assert_eq!(g.preopens[0].guest, "/data");
//! assert!(g.preopens[0].read_only);
//! assert!(!g.stdio && !g.clocks && !g.random);
//! ```

pub mod fs;

use std::path::PathBuf;

use crate::audit::{AuditError, AuditEvent, AuditKind};
use crate::backend::InstanceConfig;
use crate::capability::{Capability, CapabilityKind, CapabilitySet, FileOp, NetKind};

/// The bytes random interfaces return, cycled, without the random grant.
pub const FIXED_RANDOM: [u8; 8] = [0x5a, 0x17, 0xc3, 0x88, 0x01, 0xfe, 0x42, 0x9d];

/// A directory WASI shows the guest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preopen {
    /// The host directory.
    pub host: PathBuf,
    /// Its path inside the guest.
    pub guest: String,
    /// `true` when the guest may only read.
    pub read_only: bool,
    /// `true` when the grant named the directory explicitly (a missing
    /// directory is then an error); `false` for a `DIR/**` file grant (a
    /// missing directory is skipped).
    pub required: bool,
}

/// What WASI gives one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WasiGrants {
    /// Environment variables, in grant order.
    pub env: Vec<(String, String)>,
    /// Preopened directories.
    pub preopens: Vec<Preopen>,
    /// Host (or embedder) stdin, stdout and stderr.
    pub stdio: bool,
    /// Real clocks.
    pub clocks: bool,
    /// Host entropy.
    pub random: bool,
    /// Sockets to granted addresses.
    pub sockets: bool,
}

impl WasiGrants {
    /// Reads the grants of `caps`. Prefix grants (`APP_*`) and grants
    /// without a value read the host's environment now.
    pub fn from_capabilities(caps: &CapabilitySet) -> Self {
        let mut g = WasiGrants {
            stdio: caps.has_kind(CapabilityKind::Stdio),
            clocks: caps.has_kind(CapabilityKind::Clocks),
            random: caps.has_kind(CapabilityKind::Random),
            sockets: granted(caps, CapabilityKind::Network),
            ..WasiGrants::default()
        };
        for grant in caps.iter() {
            match grant {
                Capability::Env { name, value } => match (name.strip_suffix('*'), value) {
                    (Some(prefix), _) => {
                        for (k, v) in std::env::vars_os() {
                            if let (Some(k), Some(v)) = (k.to_str(), v.to_str())
                                && k.starts_with(prefix)
                            {
                                g.env.push((k.to_owned(), v.to_owned()));
                            }
                        }
                    }
                    (None, Some(v)) => g.env.push((name.clone(), v.clone())),
                    (None, None) => {
                        if let Ok(v) = std::env::var(name) {
                            g.env.push((name.clone(), v));
                        }
                    }
                },
                Capability::Files { .. } => {
                    let Some(root) = preopen_of(grant) else {
                        continue;
                    };
                    let read_only = !grant_writes(grant);
                    let host = PathBuf::from(root);
                    match g
                        .preopens
                        .iter_mut()
                        .find(|p| !p.required && p.host == host)
                    {
                        Some(p) => p.read_only &= read_only,
                        None => g.preopens.push(Preopen {
                            guest: host.to_string_lossy().into_owned(),
                            host,
                            read_only,
                            required: false,
                        }),
                    }
                }
                Capability::Dir {
                    host,
                    guest,
                    read_only,
                } => g.preopens.push(Preopen {
                    host: host.clone(),
                    guest: guest.clone(),
                    read_only: *read_only,
                    required: true,
                }),
                _ => {}
            }
        }
        g
    }
}

/// A preopen opened for one instance: the directory's handle, opened
/// beneath its grant's root with no symbolic link below the root
/// ([`crate::files::open_dir_within`]), so it is the directory that was
/// granted and stays so.
#[derive(Debug)]
pub struct OpenedPreopen {
    /// What was granted.
    pub preopen: Preopen,
    /// Its directory.
    pub dir: crate::files::Dir,
}

/// Opens the preopens of `grants` for an instance of `config`. A directory
/// named by a mount grant must open (else the error says why); one from a
/// `DIR/**` file grant is skipped when missing. A directory that resolves
/// through a symbolic link, or outside its grant's root, is never opened:
/// a mount fails, a file grant's tree is skipped, and either way a
/// `capability-denied` event says why.
pub fn open_preopens(
    config: &InstanceConfig,
    grants: &WasiGrants,
) -> Result<Vec<OpenedPreopen>, String> {
    open_grants(
        &config.component,
        &config.capabilities,
        &*config.audit,
        grants,
    )
}

fn open_grants(
    component: &std::sync::Arc<str>,
    capabilities: &CapabilitySet,
    audit: &dyn crate::AuditSink,
    grants: &WasiGrants,
) -> Result<Vec<OpenedPreopen>, String> {
    let mut out = Vec::new();
    for p in &grants.preopens {
        let host = p.host.to_string_lossy();
        match crate::files::open_dir_within(capabilities, &host) {
            Ok(dir) => out.push(OpenedPreopen {
                preopen: p.clone(),
                dir,
            }),
            Err(e) => {
                if e.is_refusal() {
                    audit
                        .record(AuditEvent::new(
                            component.clone(),
                            AuditKind::CapabilityDenied {
                                capability: CapabilityKind::Filesystem,
                                request: format!("wasi preopen {host}"),
                                outcome: format!("{e}; the directory is not preopened"),
                            },
                        ))
                        .map_err(|a| a.to_string())?;
                }
                let missing = e.io_kind() == Some(std::io::ErrorKind::NotFound);
                if p.required || !missing && !e.is_refusal() {
                    return Err(format!("cannot open granted directory {host}: {e}"));
                }
            }
        }
    }
    Ok(out)
}

/// Whether a filesystem grant reaches WASI: a `dirs` grant, or a `files`
/// grant with some right, which preopens its root (see [`fs`]).
///
/// ```
/// use airssys_wasm_core::capability::{FileRights, PathGlob};
/// use airssys_wasm_core::{Capability, wasi};
/// let files = |p: &str| Capability::files(PathGlob::new(p).unwrap(), FileRights::READ);
/// assert!(wasi::reaches_wasi(&files("/srv/app/**")));
/// assert!(wasi::reaches_wasi(&files("/srv/app/motd.txt")));
/// assert!(wasi::reaches_wasi(&files("/srv/app/*.txt")));
/// ```
pub fn reaches_wasi(grant: &Capability) -> bool {
    match grant {
        Capability::Dir { .. } => true,
        Capability::Files { .. } => preopen_of(grant).is_some(),
        _ => false,
    }
}

/// The directory a `files` grant preopens for WASI: its root (a literal
/// file's directory, a glob's directory before the first wildcard), when
/// it gives some right.
fn preopen_of(grant: &Capability) -> Option<String> {
    match grant {
        Capability::Files { rights, .. } if !rights.is_empty() => grant.root(),
        _ => None,
    }
}

/// Does the `files` grant give more than reading?
fn grant_writes(grant: &Capability) -> bool {
    matches!(grant, Capability::Files { rights, .. } if rights.ops().any(|op| op != FileOp::Read))
}

/// Does the set grant something WASI can use for this kind? For the
/// network that is a socket grant: HTTP grants serve the host's HTTP client.
/// For the filesystem, a grant that becomes a preopen ([`reaches_wasi`]).
pub fn granted(caps: &CapabilitySet, kind: CapabilityKind) -> bool {
    match kind {
        CapabilityKind::Filesystem => caps.iter().any(reaches_wasi),
        CapabilityKind::Network => caps.iter().any(|c| {
            matches!(
                c,
                Capability::Network {
                    net: NetKind::Socket,
                    ..
                }
            )
        }),
        kind => caps.has_kind(kind),
    }
}

/// What the guest gets instead of a capability it was not granted.
pub fn substitute(kind: CapabilityKind) -> &'static str {
    match kind {
        CapabilityKind::Stdio => "stdin is empty and writes to stdout/stderr fail",
        CapabilityKind::Env => "the environment is empty",
        CapabilityKind::Filesystem => "no directories are visible",
        CapabilityKind::Clocks => "the clocks read 0 and never advance",
        CapabilityKind::Random => "random bytes are a fixed deterministic sequence",
        CapabilityKind::Network => "every socket address and name lookup is refused",
        _ => "the host function refuses the call",
    }
}

/// The capability kinds whose grant decides what the WASI imports among
/// `imports` give (wasi:http is checked request by request instead).
pub fn needed_kinds<'a>(imports: impl Iterator<Item = &'a str>) -> Vec<CapabilityKind> {
    imports
        .filter(|i| i.starts_with("wasi:") && !i.starts_with("wasi:http/"))
        .filter_map(CapabilityKind::for_import)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Records, once per capability kind, that an instance imports WASI it was
/// not granted and what it gets instead.
pub fn audit_ungranted(
    config: &InstanceConfig,
    needed: &[CapabilityKind],
) -> Result<(), AuditError> {
    for &kind in needed {
        if !granted(&config.capabilities, kind) {
            let outcome = substitute(kind).to_owned();
            config.audit.record(AuditEvent::new(
                config.component.clone(),
                AuditKind::CapabilityDenied {
                    capability: kind,
                    request: format!("wasi {kind}"),
                    outcome,
                },
            ))?;
        }
    }
    Ok(())
}

/// Records the first refused write to stdout/stderr of an instance without
/// the stdio grant (later attempts are not recorded again).
pub fn audit_stdio_denied(component: &std::sync::Arc<str>, audit: &dyn crate::AuditSink) {
    // An audit failure cannot be reported through a stream error any better
    // than the denial itself; the denial stands either way.
    let _ = audit.record(AuditEvent::new(
        component.clone(),
        AuditKind::CapabilityDenied {
            capability: CapabilityKind::Stdio,
            request: "write stdout/stderr".into(),
            outcome: "the write failed (later attempts are not recorded again)".into(),
        },
    ));
}

/// A guest waited on timers of the frozen clock alone (the clocks
/// capability is not granted, so its time never advances and the wait
/// would never end): records the denial and gives the error that fails the
/// call at once, on every backend.
pub fn deny_frozen_wait(cx: &crate::CallContext<'_>) -> crate::HostError {
    let request = crate::Request::Clocks;
    let outcome = "the guest waited on a timer, which never fires while the clocks are \
                   frozen: the call fails";
    // The denial stands even if the audit sink fails; its error wins then.
    if let Err(e) = cx.decide(request, outcome) {
        return e;
    }
    crate::HostError::Denied {
        capability: CapabilityKind::Clocks,
        request: "wait on a timer (without the clocks grant, time does not pass for the \
                  guest; grant clocks with --allow-clocks)"
            .into(),
    }
}

/// The message of a refused stdout/stderr write.
pub const STDIO_DENIED: &str =
    "stdio is not granted to this component (grant it with --allow-stdio)";
