//! Policies and manifests for `run` and `inspect`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airssys_wasm::audit::Escaped;
use airssys_wasm::security::{ConfigError, Manifest, Policy};
use airssys_wasm::{Error, Result};

/// `--policy` and `--manifest`, shared by `run` and `inspect`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PolicyArgs {
    /// Operator policy: what is granted, forbidden and the limits (see README, "Manifests and policy").
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The component's manifest. Default: NAME.Component.toml or Component.toml beside the
    /// component, else in the nearest directory above it with a Cargo.toml, package.json,
    /// pyproject.toml, go.mod or asconfig.json (the project's root).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

fn config_error(e: ConfigError) -> Error {
    match e {
        ConfigError::Io { file, source } => Error::Io {
            path: file.display().to_string(),
            source,
        },
        e => Error::Policy(e.to_string()),
    }
}

/// A policy and a manifest, each if given or found.
pub type Governance = (Option<Arc<Policy>>, Option<Arc<Manifest>>);

/// The policy and manifest named (or found for `component`,
/// [`Manifest::find`]).
pub fn load(args: &PolicyArgs, component: &Path) -> Result<Governance> {
    let policy = match &args.policy {
        Some(p) => Some(Arc::new(Policy::load(p).map_err(config_error)?)),
        None => None,
    };
    let manifest_file = match &args.manifest {
        Some(m) => Some(m.clone()),
        None => {
            let (found, looked) = Manifest::find(component);
            if found.is_none() && policy.is_some() {
                let looked: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
                eprintln!(
                    "note: no manifest found for {}; looked for {} (name one with --manifest)",
                    Escaped(component.display()),
                    Escaped(looked.join(", "))
                );
            }
            found
        }
    };
    let manifest = match manifest_file {
        Some(m) => Some(Arc::new(Manifest::load(&m).map_err(config_error)?)),
        None => None,
    };
    Ok((policy, manifest))
}
