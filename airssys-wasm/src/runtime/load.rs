//! Load time: reading the bytes, the signature and the policy's
//! verdict (governance), compiling, and the component's host state.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use airssys_wasm_core::provider::LoadContext;
use airssys_wasm_core::{
    AuditKind, Capability, ComponentId, ComponentInfo, Error, HostData, Limits, Result,
};
use airssys_wasm_security::signing::{Signature, SignatureError};
use airssys_wasm_security::{OnDenied, Policy, Subject};

use super::component::{Component, ComponentInner};
use super::options::LoadOptions;
use super::source::Source;
use super::{Identity, Runtime};

impl Runtime {
    pub(super) fn load_inner(
        &self,
        source: &Source,
        identity: &Identity,
        options: LoadOptions,
    ) -> Result<Component> {
        let label = &identity.label;
        let bytes = source.read()?;
        // The signature is checked before the bytes are parsed: under
        // `require-signed`, an unsigned file is not even described.
        let signature = match &options.policy {
            Some(policy) => Some(check_signature(source, &bytes, &options, policy)?),
            None => None,
        };
        let info = ComponentInfo::parse_for_compile(&bytes, self.inner.backend.features())?;
        let (capabilities, limits, evaluation) = match (&options.policy, signature) {
            (Some(policy), Some((signer, warning))) => {
                let direct: Vec<Capability> = options.capabilities.iter().cloned().collect();
                let direct_limits = options.limits.unwrap_or_else(Limits::unlimited);
                let subject = Subject {
                    name: &identity.name,
                    named_by_operator: identity.named_by_operator,
                    signer: signer.as_deref(),
                };
                let mut e = policy
                    .evaluate(
                        &subject,
                        options.manifest.as_deref(),
                        &direct,
                        &direct_limits,
                    )
                    .map_err(|e| Error::Policy(e.to_string()))?;
                e.warnings.extend(warning);
                (e.capabilities.clone(), e.limits, Some(Arc::new(e)))
            }
            _ => (
                options.capabilities,
                options.limits.unwrap_or_default(),
                None,
            ),
        };
        let mut links = BTreeMap::new();
        let compiled = (|| -> Result<_> {
            Ok(if options.linked.is_empty() {
                self.inner
                    .backend
                    .compile(&bytes, &info, &self.inner.host, &limits)?
            } else {
                let mut table = (*self.inner.host).clone();
                for interface in &options.linked {
                    let functions = info.imported_interface(interface).ok_or_else(|| {
                    Error::Composition(format!(
                        "`{interface}` is not an interface this component imports; it imports: {}",
                        info.imports()
                            .iter()
                            .map(|i| i.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
                    if let Some((f, ty)) = functions.iter().find(|(_, ty)| ty.has_resource()) {
                        return Err(Error::Composition(format!(
                            "`{interface}` passes resources (`{f}: {ty}`), which do not cross a \
                         run-time link; compose the components statically instead"
                        )));
                    }
                    let slot = Arc::new(crate::link::LinkSlot::default());
                    crate::link::define_forwarders(&mut table, interface, functions, &slot);
                    links.insert(interface.clone(), slot);
                }
                self.inner
                    .backend
                    .compile(&bytes, &info, &Arc::new(table), &limits)?
            })
        })()
        .map_err(|e| feature_hint(e, ENABLED))?;
        // The backend compiled the component itself because its cache held
        // an artifact it would not trust: someone wrote to the cache.
        if let Some(reason) = compiled.cache_refusal() {
            self.inner.record(
                label,
                AuditKind::CacheRefused {
                    reason: reason.to_owned(),
                },
            )?;
        }
        let mut config = evaluation
            .as_ref()
            .map(|e| e.config.clone())
            .unwrap_or_default();
        config.extend(options.config);
        let on_denied = options
            .policy
            .as_ref()
            .map_or(OnDenied::default(), |p| p.on_denied);
        // What the host keeps for this load: reached by its instances'
        // calls directly, never looked up by name, so two loads of one name
        // never share or replace each other's state.
        let id = ComponentId::new(
            identity.tenant.as_deref(),
            &identity.name,
            identity.version.as_deref(),
            info.digest(),
        )?;
        // Every provider's state for this load, from what the manifest,
        // the policy and the options decided.
        let host_data: HostData = Arc::new(self.inner.providers.configure(
            on_denied,
            &LoadContext::new(&id, &info, &capabilities, &config),
        )?);
        self.inner.record(
            label,
            AuditKind::Loaded {
                digest: info.digest().to_string(),
                size: info.size(),
                backend: self.inner.backend.name().into(),
            },
        )?;
        Ok(Component {
            inner: Arc::new(ComponentInner {
                id,
                info,
                compiled,
                capabilities: Arc::new(capabilities),
                limits,
                evaluation,
                links,
                stdio: options.stdio,
                args: options.args,
                host_data,
                live: AtomicU32::new(0),
                runtime: self.inner.clone(),
            }),
        })
    }
}

/// Under a policy: a component that must be signed is refused unless a
/// trusted key signed exactly these bytes; one that need not be is refused
/// only when its signature is broken (an untrusted key is a warning).
/// Returns the trusted signer's name, if any, and a warning.
fn check_signature(
    source: &Source,
    bytes: &[u8],
    options: &LoadOptions,
    policy: &Policy,
) -> Result<(Option<String>, Option<String>)> {
    let refuse = |e: SignatureError| {
        Error::Policy(format!(
            "{}: refused: {e}{}",
            source.describe(),
            if policy.require_signed {
                format!(" (require-signed = true in {})", policy.file().display())
            } else {
                String::new()
            }
        ))
    };
    let signature = match (&options.signature, source) {
        (Some(s), _) => Ok(s.clone()),
        (None, Source::Path(p)) => Signature::load_for(p),
        (None, Source::Bytes(_)) => Err(SignatureError::Missing {
            component: PathBuf::from("(bytes)"),
            sig: PathBuf::from("(none given with LoadOptions::signature)"),
        }),
    };
    let signature = match signature {
        Err(SignatureError::Missing { .. }) if !policy.require_signed => return Ok((None, None)),
        Err(e) => return Err(refuse(e)),
        Ok(s) => s,
    };
    let signer = options.manifest.as_ref().and_then(|m| m.signer.as_deref());
    match signature.verify_trusted(bytes, &policy.trusted_keys, signer) {
        Ok(key) => Ok((Some(key.name.clone()), None)),
        Err(e @ SignatureError::Untrusted { .. }) if !policy.require_signed => {
            Ok((None, Some(e.to_string())))
        }
        Err(e) => Err(refuse(e)),
    }
}

/// The host-provider features of this build.
const ENABLED: &[&str] = &[
    #[cfg(feature = "key-value")]
    "key-value",
    #[cfg(feature = "http-client")]
    "http-client",
];

/// A missing `airssys:host` import whose provider this build left out
/// (`enabled` lacks its feature): the hint says which feature brings it.
fn feature_hint(e: Error, enabled: &[&str]) -> Error {
    let Error::MissingImport { name, hint } = e else {
        return e;
    };
    let feature = match name.split('@').next().unwrap_or(&name) {
        "airssys:host/key-value" => "key-value",
        "airssys:host/http-client" => "http-client",
        _ => return Error::MissingImport { name, hint },
    };
    if enabled.contains(&feature) {
        return Error::MissingImport { name, hint };
    }
    Error::MissingImport {
        name,
        hint: format!(
            "this build of airssys-wasm leaves out its provider: enable the `{feature}` feature \
             of airssys-wasm (on by default)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_host_import_of_a_left_out_feature_names_the_feature() {
        let missing = || Error::MissingImport {
            name: "airssys:host/key-value@0.1.0".into(),
            hint: "no host function provides it".into(),
        };
        let e = feature_hint(missing(), &["http-client"]).to_string();
        assert!(
            e.contains("enable the `key-value` feature of airssys-wasm"),
            "{e}"
        );
        let e = feature_hint(missing(), &["key-value"]).to_string();
        assert!(e.contains("no host function provides it"), "{e}");
        let other = Error::MissingImport {
            name: "example:app/x@0.1.0".into(),
            hint: "h".into(),
        };
        assert!(feature_hint(other, &[]).to_string().ends_with("h"));
    }
}
