//! Table-driven tests of capability matching, by subject: paths and
//! mounts, network hosts and addresses, the other grants, and comparing
//! capabilities. Here: the helpers they share.

use super::*;

fn glob(p: &str) -> PathGlob {
    PathGlob::new(p).unwrap()
}
fn host(p: &str) -> HostPattern {
    HostPattern::new(p).unwrap()
}
fn topic(p: &str) -> TopicPattern {
    TopicPattern::new(p).unwrap()
}
fn file(path: &str, op: FileOp) -> Request<'_> {
    Request::File { path, op }
}
fn http(host: &str, port: u16) -> Request<'_> {
    Request::Connect {
        host,
        port,
        kind: NetKind::Http,
    }
}

fn check(caps: &CapabilitySet, cases: &[(Request<'_>, bool)]) {
    for (request, expected) in cases {
        assert_eq!(
            caps.allows(request).is_allowed(),
            *expected,
            "{request} should be {}",
            if *expected { "allowed" } else { "denied" }
        );
    }
}

mod compare;
mod grants;
mod network;
mod paths;
