//! How to load a component: [`LoadOptions`].

use std::collections::BTreeMap;
use std::sync::Arc;

use airssys_wasm_core::{Capability, CapabilitySet, Limits, Stdio};
use airssys_wasm_security::signing::Signature;
use airssys_wasm_security::{Manifest, Policy};

/// How to load a component: its name, grants, limits, stdio and arguments.
///
/// ```
/// use airssys_wasm::{Capability, LoadOptions, Limits};
/// let opts = LoadOptions::new()
///     .name("greeter")
///     .grant(Capability::Stdio)
///     .limits(Limits::default().with_fuel(1_000_000));
/// assert_eq!(opts.capabilities().iter().count(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    pub(super) name: Option<String>,
    pub(super) tenant: Option<String>,
    pub(super) version: Option<String>,
    pub(super) capabilities: CapabilitySet,
    pub(super) limits: Option<Limits>,
    pub(super) stdio: Stdio,
    pub(super) args: Vec<String>,
    pub(super) policy: Option<Arc<Policy>>,
    pub(super) manifest: Option<Arc<Manifest>>,
    pub(super) signature: Option<Signature>,
    pub(super) config: BTreeMap<String, String>,
    pub(super) linked: Vec<String>,
}

impl LoadOptions {
    /// Nothing granted, default [`Limits`], no name (the manifest's name,
    /// else the file stem, else `component`).
    pub fn new() -> Self {
        Self::default()
    }

    /// The component's name: its identity in audit records and the key of
    /// its policy grants. It must be 1-64 characters of `A-Z a-z 0-9 - _ .`
    /// beginning with a letter or digit ([`airssys_wasm_core::check_name`]);
    /// [`Runtime::load`](crate::Runtime::load) refuses any other with [`Error::InvalidName`](crate::Error::InvalidName)
    /// (audited as `load-rejected` under the identity
    /// [`Runtime::INVALID_NAME`](crate::Runtime::INVALID_NAME)).
    ///
    /// ```
    /// use airssys_wasm::{Error, LoadOptions, Runtime};
    /// let runtime = Runtime::new().unwrap();
    /// let refused = runtime.load(b"\0asm".to_vec(), LoadOptions::new().name("evil\nFAKE LINE"));
    /// assert!(matches!(refused, Err(Error::InvalidName(_))));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The tenant the component belongs to (the
    /// [`DEFAULT_TENANT`](airssys_wasm_core::DEFAULT_TENANT) without one):
    /// part of its identity and audit label (`tenant/name@version`), and
    /// the owner of its key-value namespaces, which no other tenant's
    /// component reaches even with a grant of the same name. A tenant
    /// outside the name's character set is refused at load, like a name.
    ///
    /// ```
    /// use airssys_wasm::{LoadOptions, Runtime};
    /// let bytes = wat::parse_str("(component)").unwrap();
    /// let c = Runtime::new().unwrap()
    ///     .load(bytes, LoadOptions::new().tenant("acme").name("thumbs").version("1.2.0"))
    ///     .unwrap();
    /// assert_eq!(c.id().to_string(), "acme/thumbs@1.2.0");
    /// assert_eq!(c.name(), "thumbs");
    /// ```
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The component's version (else the manifest's `version`, else none):
    /// part of its identity, so two versions of one name run side by side
    /// with their own state. 1-64 characters of `A-Z a-z 0-9 - _ . +`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Grants one capability.
    pub fn grant(mut self, capability: Capability) -> Self {
        self.capabilities.grant(capability);
        self
    }

    /// Replaces the whole capability set.
    pub fn capabilities_set(mut self, capabilities: CapabilitySet) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The granted capabilities.
    pub fn capabilities(&self) -> &CapabilitySet {
        &self.capabilities
    }

    /// Sets the limits of every instance. Under a policy, the values set
    /// here (`Some`) replace the manifest's and are still clamped to the
    /// policy's maxima; start from [`Limits::unlimited`] to set only some.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Loads under an operator policy and the component's manifest (if
    /// any): the component gets what the manifest requests and the policy
    /// grants, plus the capabilities granted here directly; a request the
    /// policy forbids refuses the load (audited as `load-rejected`). The
    /// manifest's name is the component's name unless [`LoadOptions::name`]
    /// sets one. [`Component::evaluation`](crate::Component::evaluation) tells what was granted and why
    /// not more.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use airssys_wasm::security::{Manifest, Policy};
    /// use airssys_wasm::LoadOptions;
    /// let policy = Policy::parse("policy.toml", "[grant.greeter]\nclocks = true\n").unwrap();
    /// let manifest = Manifest::parse(
    ///     "Component.toml",
    ///     "[component]\nname = \"greeter\"\n[capabilities]\nclocks = true\n",
    /// )
    /// .unwrap();
    /// let options = LoadOptions::new().policy(Arc::new(policy), Some(Arc::new(manifest)));
    /// ```
    pub fn policy(mut self, policy: Arc<Policy>, manifest: Option<Arc<Manifest>>) -> Self {
        self.policy = Some(policy);
        self.manifest = manifest;
        self
    }

    /// The component's signature, for components loaded from bytes (one
    /// loaded from a path is signed by the `.sig` file beside it). Checked
    /// under a policy: see [`Runtime::load`](crate::Runtime::load).
    pub fn signature(mut self, signature: Signature) -> Self {
        self.signature = Some(signature);
        self
    }

    /// Where stdio goes when [`Capability::Stdio`] is granted.
    pub fn stdio(mut self, stdio: Stdio) -> Self {
        self.stdio = stdio;
        self
    }

    /// Reserves an imported interface (`example:app/logger@0.1.0`) for a
    /// provider component linked later with [`Runtime::link`](crate::Runtime::link) (and
    /// replaceable by linking again). Until then, calling it fails with
    /// [`Error::HostFailed`](crate::Error::HostFailed).
    pub fn linked(mut self, interface: impl Into<String>) -> Self {
        self.linked.push(interface.into());
        self
    }

    /// A configuration value the component reads with
    /// `airssys:host/config`. Under a policy, the manifest's and policy's
    /// values come first and these are added over them.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Command-line arguments after the program name.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }
}
