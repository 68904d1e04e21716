//! Network destinations: host patterns with ports.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{Overlap, PatternError};

/// How a guest reaches the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetKind {
    /// HTTP(S) requests through the host's HTTP client (`airssys:host/http-client`,
    /// `wasi:http/outgoing-handler`).
    Http,
    /// Raw TCP and UDP sockets (`wasi:sockets`).
    Socket,
}

impl NetKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Socket => "socket",
        }
    }
}

#[derive(Clone, Debug)]
enum Host {
    /// `*`
    Any,
    /// `api.example.com` (stored lower-case)
    Name(String),
    /// `*.example.com`: any name below, not the name itself (stored as
    /// `.example.com`, lower-case)
    Below(String),
    /// `10.0.0.0/8`, or one address
    Net(IpNet),
}

/// Where a guest may connect: `host:port`, where host is a name
/// (`api.example.com`), every name below one (`*.example.com`), an address
/// or CIDR block (`10.0.0.0/8`, `[fd00::/8]`), or `*`; and port is a number,
/// a range (`8000-8999`) or `*`.
///
/// Names and addresses are matched as written: a name grant does not cover
/// the name's addresses, nor an address grant the names that resolve to it.
///
/// ```
/// use airssys_wasm_core::capability::HostPattern;
/// let p: HostPattern = "*.example.com:443".parse().unwrap();
/// assert!(p.matches("api.example.com", 443));
/// assert!(!p.matches("example.com", 443));
/// assert!(!p.matches("api.example.com", 80));
/// let net: HostPattern = "10.0.0.0/8:*".parse().unwrap();
/// assert!(net.matches("10.1.2.3", 5432));
/// assert!(!net.matches("11.0.0.1", 5432));
/// ```
#[derive(Clone)]
pub struct HostPattern {
    text: String,
    host: Host,
    ports: (u16, u16),
}

impl HostPattern {
    /// Parses `host:port`.
    pub fn new(pattern: &str) -> Result<Self, PatternError> {
        let bad = |why: &str| PatternError::new("host", pattern, why);
        let (host, port) = pattern.rsplit_once(':').ok_or_else(|| {
            bad("a host pattern needs a port: `host:443`, `host:8000-8999` or `host:*`")
        })?;
        let ports = match port {
            "*" => (0, u16::MAX),
            p => {
                let num = |s: &str| {
                    s.parse::<u16>()
                        .map_err(|_| bad(&format!("`{s}` is not a port number (0-65535)")))
                };
                match p.split_once('-') {
                    Some((lo, hi)) => {
                        let (lo, hi) = (num(lo)?, num(hi)?);
                        if lo > hi {
                            return Err(bad("the port range is empty"));
                        }
                        (lo, hi)
                    }
                    None => {
                        let n = num(p)?;
                        (n, n)
                    }
                }
            }
        };
        let host_text = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = if host_text == "*" {
            Host::Any
        } else if host_text.contains('/') {
            Host::Net(
                host_text
                    .parse()
                    .map_err(|_| bad(&format!("`{host_text}` is not a CIDR block")))?,
            )
        } else if let Ok(ip) = host_text.parse::<IpAddr>() {
            Host::Net(IpNet::from(ip))
        } else {
            let (below, name) = match host_text.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, host_text),
            };
            let valid = !name.is_empty()
                && name.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if !valid {
                return Err(bad(&format!(
                    "`{host_text}` is not a host name, `*.name`, address, CIDR block or `*`"
                )));
            }
            let name = name.to_ascii_lowercase();
            if below {
                Host::Below(format!(".{name}"))
            } else {
                Host::Name(name)
            }
        };
        Ok(Self {
            text: pattern.to_owned(),
            host,
            ports,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Does a connection to `host` on `port` match? `host` is a name or an
    /// address (IPv6 with or without brackets); a trailing `.` is ignored.
    /// Allocation-free.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if port < self.ports.0 || port > self.ports.1 {
            return false;
        }
        let host = host.strip_suffix('.').unwrap_or(host);
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match &self.host {
            Host::Any => true,
            Host::Name(name) => name.eq_ignore_ascii_case(host),
            Host::Below(suffix) => {
                host.len() > suffix.len()
                    && host.is_char_boundary(host.len() - suffix.len())
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && host.parse::<IpAddr>().is_err()
            }
            Host::Net(net) => host.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
        }
    }

    /// Does every destination `other` matches also match `self`?
    pub fn covers(&self, other: &HostPattern) -> bool {
        let ports = self.ports.0 <= other.ports.0 && other.ports.1 <= self.ports.1;
        let hosts = match (&self.host, &other.host) {
            (Host::Any, _) => true,
            (_, Host::Any) => false,
            (Host::Name(a), Host::Name(b)) => a == b,
            (Host::Below(a), Host::Name(b)) => b.len() > a.len() && b.ends_with(a.as_str()),
            (Host::Below(a), Host::Below(b)) => b.ends_with(a.as_str()),
            (Host::Net(a), Host::Net(b)) => a.contains(b),
            _ => false,
        };
        ports && hosts
    }

    /// Can one destination match both patterns? A name against an address
    /// or block cannot be decided from the text (the name may resolve into
    /// the block): [`Overlap::Undecided`]. Forbidden addresses are checked
    /// again on the resolved address when a connection is made.
    pub fn overlap(&self, other: &HostPattern) -> Overlap {
        let ports = self.ports.0 <= other.ports.1 && other.ports.0 <= self.ports.1;
        if !ports {
            return Overlap::Disjoint;
        }
        let hosts = match (&self.host, &other.host) {
            (Host::Any, _) | (_, Host::Any) => true,
            (Host::Net(a), Host::Net(b)) => a.contains(b) || b.contains(a),
            (Host::Net(_), _) | (_, Host::Net(_)) => return Overlap::Undecided,
            _ => self.covers_host_only(other) || other.covers_host_only(self),
        };
        if hosts {
            Overlap::Overlapping
        } else {
            Overlap::Disjoint
        }
    }

    /// Can one destination match both patterns? [`HostPattern::overlap`],
    /// with an undecided answer counted as overlapping (fail closed).
    pub fn overlaps(&self, other: &HostPattern) -> bool {
        self.overlap(other) != Overlap::Disjoint
    }

    fn covers_host_only(&self, other: &HostPattern) -> bool {
        let mut wide = other.clone();
        wide.ports = self.ports;
        self.covers(&wide)
    }
}

text_pattern!(HostPattern, "HostPattern");
