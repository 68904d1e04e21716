//! One identity per loaded component: tenant, name, version and digest.
//!
//! Everything the host keeps for a component is keyed by its load, never
//! by a bare name: two loads of one name never share or replace each
//! other's config, limits or host state, two versions of one name run
//! side by side, and key-value namespaces belong to a tenant. Audit
//! records carry the identity as a readable label, `tenant/name@version`,
//! which leaves out the default tenant and a missing version (so a
//! component loaded with neither is labelled by its name alone, as before
//! tenants existed). Tenants and names cannot contain `/` or `@`
//! ([`crate::check_tenant`], [`crate::check_name`]), nor versions `/`
//! ([`crate::check_version`]), so a label reads back unambiguously.
//!
//! ```
//! use airssys_wasm_core::{ComponentId, Digest};
//! let digest = Digest::of(b"bytes");
//! let plain = ComponentId::new(None, "greeter", None, digest).unwrap();
//! assert_eq!(plain.to_string(), "greeter");
//! assert_eq!(plain.tenant(), airssys_wasm_core::DEFAULT_TENANT);
//! let full = ComponentId::new(Some("acme"), "greeter", Some("1.2.0"), digest).unwrap();
//! assert_eq!(full.to_string(), "acme/greeter@1.2.0");
//! assert_ne!(plain, full);
//! assert!(ComponentId::new(Some("a/b"), "greeter", None, digest).is_err());
//! ```

use std::fmt;
use std::sync::Arc;

use crate::component::Digest;
use crate::name::{NameError, check_name, check_tenant, check_version};

/// The tenant of a component loaded without one.
pub const DEFAULT_TENANT: &str = "default";

/// A loaded component's identity (see the [module documentation](self)).
/// Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ComponentId {
    tenant: Arc<str>,
    name: Arc<str>,
    version: Option<Arc<str>>,
    digest: Digest,
    label: Arc<str>,
}

impl ComponentId {
    /// The identity of a load: `tenant` (the [`DEFAULT_TENANT`] when
    /// `None`), `name`, `version` if any, and the digest of the bytes.
    /// Fails when the tenant, the name or the version breaks its rule.
    pub fn new(
        tenant: Option<&str>,
        name: &str,
        version: Option<&str>,
        digest: Digest,
    ) -> Result<Self, NameError> {
        let label = Self::label_of(tenant, name, version)?;
        Ok(Self {
            tenant: tenant.unwrap_or(DEFAULT_TENANT).into(),
            name: name.into(),
            version: version.map(Into::into),
            digest,
            label,
        })
    }

    /// The label of an identity (`tenant/name@version`, without the
    /// default tenant or a missing version), checking each part; for
    /// records made before the digest is known (a refused load).
    pub fn label_of(
        tenant: Option<&str>,
        name: &str,
        version: Option<&str>,
    ) -> Result<Arc<str>, NameError> {
        check_name(name)?;
        let tenant = tenant.filter(|t| *t != DEFAULT_TENANT);
        if let Some(t) = tenant {
            check_tenant(t)?;
        }
        if let Some(v) = version {
            check_version(v)?;
        }
        let mut label = String::with_capacity(name.len() + 16);
        if let Some(t) = tenant {
            label.push_str(t);
            label.push('/');
        }
        label.push_str(name);
        if let Some(v) = version {
            label.push('@');
            label.push_str(v);
        }
        Ok(label.into())
    }

    /// The tenant ([`DEFAULT_TENANT`] when none was given).
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// `true` for the [`DEFAULT_TENANT`].
    pub fn is_default_tenant(&self) -> bool {
        &*self.tenant == DEFAULT_TENANT
    }

    /// The component's name: the key of its policy grants.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its version, if one was given.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The digest of its bytes.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The label audit records carry: `tenant/name@version`.
    pub fn label(&self) -> &Arc<str> {
        &self.label
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl fmt::Debug for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ComponentId({} {})", self.label, self.digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(b: &[u8]) -> Digest {
        Digest::of(b)
    }

    #[test]
    fn labels_leave_out_the_default_tenant_and_a_missing_version() {
        let id = |t, n, v| ComponentId::new(t, n, v, d(b"x")).unwrap().to_string();
        assert_eq!(id(None, "greeter", None), "greeter");
        assert_eq!(id(Some(DEFAULT_TENANT), "greeter", None), "greeter");
        assert_eq!(id(Some("acme"), "greeter", None), "acme/greeter");
        assert_eq!(id(None, "greeter", Some("2.0.1")), "greeter@2.0.1");
        assert_eq!(
            id(Some("acme"), "greeter", Some("2.0.1+b.7")),
            "acme/greeter@2.0.1+b.7"
        );
    }

    #[test]
    fn two_loads_differ_by_tenant_version_or_digest() {
        let a = ComponentId::new(None, "kv", Some("1"), d(b"a")).unwrap();
        let b = ComponentId::new(None, "kv", Some("1"), d(b"b")).unwrap();
        let c = ComponentId::new(Some("t"), "kv", Some("1"), d(b"a")).unwrap();
        let e = ComponentId::new(None, "kv", Some("2"), d(b"a")).unwrap();
        assert!(a != b && a != c && a != e);
        assert_eq!(a, ComponentId::new(None, "kv", Some("1"), d(b"a")).unwrap());
    }

    #[test]
    fn each_part_is_checked_naming_what_it_is() {
        let e = ComponentId::new(Some("a/b"), "n", None, d(b"x")).unwrap_err();
        assert_eq!(e.what, "tenant");
        assert!(e.to_string().starts_with("invalid tenant `a/b`"), "{e}");
        let e = ComponentId::new(None, "n", Some("1/2"), d(b"x")).unwrap_err();
        assert_eq!(e.what, "version");
        let e = ComponentId::new(None, "n", Some("1@2"), d(b"x")).unwrap_err();
        assert_eq!(e.what, "version");
        let e = ComponentId::new(None, "n@1", None, d(b"x")).unwrap_err();
        assert_eq!(e.what, "component name");
        assert!(ComponentId::new(None, "n", Some(""), d(b"x")).is_err());
    }
}
