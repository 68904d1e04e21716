//! Comparing capabilities: whether one covers another, what both allow,
//! and whether they can overlap; what an operator's policy computes a
//! component's effective grants with.

use super::grant::env_matches;
use super::{Capability, FileOp, FileRights, HostPattern, Overlap, PathGlob, TopicPattern, path};

impl Capability {
    /// Does this grant allow everything `other` would? Used by policy:
    /// a request that a grant covers is granted as requested.
    pub fn covers(&self, other: &Capability) -> bool {
        self.intersect(other).as_ref() == Some(other)
    }

    /// What both allow, as one capability, if that can be expressed:
    /// the narrower pattern with the rights of both. `None` when they
    /// share nothing, or when neither pattern contains the other (then
    /// nothing is granted rather than something unintended). A fixed
    /// environment value or a mount's guest path comes from `other`.
    pub fn intersect(&self, other: &Capability) -> Option<Capability> {
        use Capability as C;
        match (self, other) {
            (C::Stdio, C::Stdio) | (C::Clocks, C::Clocks) | (C::Random, C::Random) => {
                Some(other.clone())
            }
            (C::Custom { name: a }, C::Custom { name: b }) => (a == b).then(|| other.clone()),
            (C::Env { name: a, value: va }, C::Env { name: b, value: vb }) => {
                let value = vb.clone().or_else(|| va.clone());
                if env_pattern_covers(a, b) {
                    Some(C::Env {
                        name: b.clone(),
                        value,
                    })
                } else if env_pattern_covers(b, a) {
                    Some(C::Env {
                        name: a.clone(),
                        value,
                    })
                } else {
                    None
                }
            }
            (
                C::Files {
                    path: a,
                    rights: ra,
                },
                C::Files {
                    path: b,
                    rights: rb,
                },
            ) => {
                let rights = ra.intersect(*rb);
                let path = narrower(a, b, PathGlob::covers)?;
                (!rights.is_empty()).then(|| C::Files {
                    path: path.clone(),
                    rights,
                })
            }
            (
                C::Dir {
                    host: ha,
                    read_only: ra,
                    ..
                },
                C::Dir {
                    host: hb,
                    guest,
                    read_only: rb,
                },
            ) => {
                // Compared component by component, on normal forms only: a
                // host that is not normal meets nothing (fail closed).
                if !normal_dir(ha) || !normal_dir(hb) {
                    return None;
                }
                let host = if hb.starts_with(ha) {
                    hb
                } else if ha.starts_with(hb) {
                    ha
                } else {
                    return None;
                };
                Some(C::Dir {
                    host: host.clone(),
                    guest: guest.clone(),
                    read_only: *ra || *rb,
                })
            }
            (C::Files { path, rights }, C::Dir { host, guest, .. }) => {
                // A mount is granted by a file grant over its whole tree.
                let tree = mount_tree(host)?;
                (path.covers(&tree) && rights.allows(FileOp::Read)).then(|| C::Dir {
                    host: host.clone(),
                    guest: guest.clone(),
                    read_only: !(rights.contains(FileRights::ALL)),
                })
            }
            (C::Network { host: a, net: na }, C::Network { host: b, net: nb }) if na == nb => {
                narrower(a, b, HostPattern::covers).map(|host| C::Network {
                    host: host.clone(),
                    net: *na,
                })
            }
            (
                C::KeyValue {
                    namespace: a,
                    quota: qa,
                },
                C::KeyValue {
                    namespace: b,
                    quota: qb,
                },
            ) => (a == b).then(|| C::KeyValue {
                namespace: b.clone(),
                quota: qa.min(*qb),
            }),
            (
                C::Messaging {
                    topic: a,
                    publish: pa,
                    subscribe: sa,
                },
                C::Messaging {
                    topic: b,
                    publish: pb,
                    subscribe: sb,
                },
            ) => {
                let (publish, subscribe) = (*pa && *pb, *sa && *sb);
                let topic = narrower(a, b, TopicPattern::covers)?;
                (publish || subscribe).then(|| C::Messaging {
                    topic: topic.clone(),
                    publish,
                    subscribe,
                })
            }
            _ => None,
        }
    }

    /// Could one request be allowed by both? [`Capability::overlap`], with
    /// an undecided answer counted as overlapping (fail closed).
    pub fn overlaps(&self, other: &Capability) -> bool {
        self.overlap(other) != Overlap::Disjoint
    }

    /// Can one request be allowed by both? Exact where the patterns allow
    /// it, [`Overlap::Undecided`] where they do not. Policy refuses a
    /// manifest whose request overlaps a forbidden capability.
    pub fn overlap(&self, other: &Capability) -> Overlap {
        use Capability as C;
        match (self, other) {
            (C::Env { name: a, .. }, C::Env { name: b, .. }) => {
                Overlap::of(env_pattern_covers(a, b) || env_pattern_covers(b, a))
            }
            (
                C::Files {
                    path: a,
                    rights: ra,
                },
                C::Files {
                    path: b,
                    rights: rb,
                },
            ) => {
                if ra.intersect(*rb).is_empty() {
                    Overlap::Disjoint
                } else {
                    a.overlap(b)
                }
            }
            (C::Dir { .. }, C::Files { .. }) => other.overlap(self),
            (
                C::Files { path, rights },
                C::Dir {
                    host, read_only, ..
                },
            ) => {
                let mounted = if *read_only {
                    FileRights::READ
                } else {
                    FileRights::ALL
                };
                if rights.intersect(mounted).is_empty() {
                    return Overlap::Disjoint;
                }
                // A mount whose host path is not normal cannot be compared:
                // it overlaps (fail closed).
                mount_tree(host).map_or(Overlap::Undecided, |tree| tree.overlap(path))
            }
            (C::Dir { host: a, .. }, C::Dir { host: b, .. }) => {
                if !normal_dir(a) || !normal_dir(b) {
                    Overlap::Undecided
                } else {
                    Overlap::of(a.starts_with(b) || b.starts_with(a))
                }
            }
            (C::Network { host: a, net: na }, C::Network { host: b, net: nb }) => {
                if na == nb {
                    a.overlap(b)
                } else {
                    Overlap::Disjoint
                }
            }
            (
                C::Messaging {
                    topic: a,
                    publish: pa,
                    subscribe: sa,
                },
                C::Messaging {
                    topic: b,
                    publish: pb,
                    subscribe: sb,
                },
            ) => Overlap::of(((*pa && *pb) || (*sa && *sb)) && a.overlaps(b)),
            _ => Overlap::of(self.intersect(other).is_some()),
        }
    }
}

/// Is a mount's host path absolute, UTF-8 and normal?
fn normal_dir(host: &std::path::Path) -> bool {
    host.to_str().is_some_and(path::is_normal)
}

/// The glob of everything a mount of `host` reaches: `HOST/**`.
fn mount_tree(host: &std::path::Path) -> Option<PathGlob> {
    let host = host.to_str().filter(|h| path::is_normal(h))?;
    let host = globset::escape(host.trim_end_matches('/'));
    PathGlob::new(&format!("{host}/**")).ok()
}

/// Of two patterns, the one the other covers; `None` when neither covers
/// the other.
fn narrower<'p, T>(a: &'p T, b: &'p T, covers: fn(&T, &T) -> bool) -> Option<&'p T> {
    if covers(a, b) {
        Some(b)
    } else if covers(b, a) {
        Some(a)
    } else {
        None
    }
}

/// Does the env pattern `a` cover the env pattern `b`?
fn env_pattern_covers(a: &str, b: &str) -> bool {
    match (a.strip_suffix('*'), b.strip_suffix('*')) {
        (Some(pa), Some(pb)) => pb.starts_with(pa),
        _ => env_matches(a, b),
    }
}
