//! The grants of one component ([`CapabilitySet`]): its grants, forbidden
//! rules and roots, and the answers to requests.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    Capability, CapabilityKind, Decision, KvQuota, Request, canonical_ip, host_address, path,
};

/// The grants of one component. Empty means nothing is allowed.
///
/// Besides its grants a set holds:
///
/// - **forbidden** capabilities: a request one of them allows is denied
///   whatever the grants say (an operator's `[forbid]` rules, checked again
///   at the moment of use on what is really touched);
/// - **roots**: the directories file grants are reached through. A root is
///   opened by its path, which the operator wrote; every path below it is
///   resolved beneath that directory handle without following a link out
///   of it (see [`crate::files`]). [`CapabilitySet::grant`] takes the
///   grant's own directory as a root (the caller is the operator);
///   [`CapabilitySet::grant_within`] takes the directory of the operator's
///   grant that a narrower request was granted from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitySet {
    grants: Vec<Capability>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    forbidden: Vec<Capability>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roots: Vec<String>,
}

impl CapabilitySet {
    /// An empty set: everything is denied.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a grant (a repeated grant is kept once). The caller is trusted
    /// with the grant's paths: a file or directory grant's own directory
    /// becomes a root (see [`Capability::root`]).
    pub fn grant(&mut self, capability: Capability) -> &mut Self {
        let root = capability.root();
        self.add(capability, root)
    }

    /// Adds `capability`, granted because the operator's `granted_by`
    /// covers it: the root is `granted_by`'s directory, so a narrower path
    /// written by someone else (a manifest) is resolved beneath the
    /// directory the operator named.
    pub fn grant_within(&mut self, capability: Capability, granted_by: &Capability) -> &mut Self {
        let root = granted_by.root().or_else(|| capability.root());
        self.add(capability, root)
    }

    fn add(&mut self, capability: Capability, root: Option<String>) -> &mut Self {
        if let Some(root) = root
            && !self.roots.contains(&root)
        {
            self.roots.push(root);
        }
        if !self.grants.contains(&capability) {
            self.grants.push(capability);
        }
        self
    }

    /// Adds a forbidden capability: any request it allows is denied, even
    /// when a grant allows it too.
    pub fn forbid(&mut self, capability: Capability) -> &mut Self {
        if !self.forbidden.contains(&capability) {
            self.forbidden.push(capability);
        }
        self
    }

    /// Builder form of [`CapabilitySet::grant`].
    pub fn with(mut self, capability: Capability) -> Self {
        self.grant(capability);
        self
    }

    /// The grants, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.grants.iter()
    }

    /// The forbidden capabilities.
    pub fn forbidden(&self) -> impl Iterator<Item = &Capability> {
        self.forbidden.iter()
    }

    /// The directories file grants are reached through (normal paths).
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.roots.iter().map(String::as_str)
    }

    /// The outermost root at or above the normal path `path`: the
    /// directory it is resolved beneath. `None` when no root holds it.
    pub fn root_for(&self, path: &str) -> Option<&str> {
        self.roots
            .iter()
            .filter(|r| path::at_or_below(r, path))
            .min_by_key(|r| r.len())
            .map(String::as_str)
    }

    /// `true` when nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// `true` when some grant of this kind exists.
    pub fn has_kind(&self, kind: CapabilityKind) -> bool {
        self.grants.iter().any(|g| g.kind() == kind)
    }

    /// Answers a request. Does not allocate.
    ///
    /// A request is allowed when a grant allows it and no forbidden
    /// capability does. File requests are matched after lexical
    /// normalisation of the path: a path that climbs out of every grant
    /// with `..` is denied, whatever it names. Symbolic links are the job
    /// of [`crate::files`], which every effect must go through.
    pub fn allows(&self, request: &Request<'_>) -> Decision {
        let allowed = match request {
            // Normalise once for all grants.
            Request::File { path, op } => path::with_normalised(path, |p| {
                self.grants.iter().any(|g| g.allows_file(p, *op))
                    && !self.forbidden.iter().any(|f| f.allows_file(p, *op))
            })
            .unwrap_or(false),
            _ => {
                self.grants.iter().any(|g| g.allows_other(request))
                    && !self.forbidden.iter().any(|f| f.allows_other(request))
            }
        };
        if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }

    /// Might a file grant allow something below the directory `dir` (a
    /// normal path), for some right? A directory on the way to a grant (an
    /// ancestor of its root) does, and so does one inside a grant's tree
    /// that its pattern can still match below; not one an operator's
    /// forbid takes whole (`DIR/**` with every right). WASI shows such
    /// directories so the guest can walk to its files ([`crate::wasi::fs`]).
    ///
    /// ```
    /// use airssys_wasm_core::capability::{FileRights, PathGlob};
    /// use airssys_wasm_core::{Capability, CapabilitySet};
    /// let files = |p: &str| Capability::files(PathGlob::new(p).unwrap(), FileRights::READ);
    /// let caps = CapabilitySet::new().with(files("/srv/app/*/conf.toml"));
    /// assert!(caps.reaches_below("/srv"));
    /// assert!(caps.reaches_below("/srv/app/web"));
    /// assert!(!caps.reaches_below("/srv/app/web/deeper"));
    /// assert!(!caps.reaches_below("/etc"));
    /// ```
    pub fn reaches_below(&self, dir: &str) -> bool {
        path::with_normalised(dir, |d| {
            self.grants.iter().any(|g| g.reaches_below(d))
                && !self.forbidden.iter().any(|f| f.takes_tree(d))
        })
        .unwrap_or(false)
    }

    /// Answers a connection at connect time: may `request` (a
    /// [`Request::Connect`], host as the guest wrote it) connect to `addr`,
    /// an address its host resolved to? Does not allocate.
    ///
    /// Allowed when a grant allows the request and vouches for the address
    /// (see [`Capability::allows_connection`]: a name grant for any address
    /// of the name, an address or block grant only for its own), and no
    /// forbidden capability matches the request or the address. The
    /// address is compared in its canonical form ([`canonical_ip`]: an
    /// IPv4-mapped IPv6 address is its IPv4 address). A host written as an
    /// address connects only to that address: any other `addr` is denied.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use airssys_wasm_core::capability::{HostPattern, NetKind};
    /// use airssys_wasm_core::{Capability, CapabilitySet, Request};
    /// let mut caps = CapabilitySet::new();
    /// caps.grant(Capability::network(HostPattern::new("*:80").unwrap(), NetKind::Http));
    /// caps.forbid(Capability::network(HostPattern::new("169.254.0.0/16:*").unwrap(), NetKind::Http));
    /// let request = Request::Connect { host: "metadata.example", port: 80, kind: NetKind::Http };
    /// let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    /// assert!(caps.allows(&request).is_allowed()); // the name, as written
    /// assert!(caps.allows_connection(&request, ip("93.184.216.34")).is_allowed());
    /// assert!(!caps.allows_connection(&request, ip("169.254.169.254")).is_allowed());
    /// assert!(!caps.allows_connection(&request, ip("::ffff:169.254.169.254")).is_allowed());
    /// ```
    pub fn allows_connection(&self, request: &Request<'_>, addr: IpAddr) -> Decision {
        let Request::Connect { host, .. } = request else {
            return Decision::Denied;
        };
        let addr = canonical_ip(addr);
        let allowed = host_address(host).is_none_or(|own| own == addr)
            && self
                .grants
                .iter()
                .any(|g| g.allows_connection(request, addr))
            && !self
                .forbidden
                .iter()
                .any(|f| f.forbids_connection(request, addr));
        if allowed {
            Decision::Allowed
        } else {
            Decision::Denied
        }
    }

    /// The quota of a granted key-value namespace.
    pub fn kv_quota(&self, namespace: &str) -> Option<KvQuota> {
        self.grants.iter().find_map(|g| match g {
            Capability::KeyValue {
                namespace: n,
                quota,
            } if n == namespace => Some(*quota),
            _ => None,
        })
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::new();
        for c in iter {
            set.grant(c);
        }
        set
    }
}
