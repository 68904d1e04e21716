//! Network destinations: host patterns with ports.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
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
    /// `api.example.com` (stored lower-case, without a trailing dot)
    Name(String),
    /// `*.example.com`: any name below, not the name itself (stored as
    /// `.example.com`, lower-case)
    Below(String),
    /// `10.0.0.0/8`, or one address: canonical (see [`canonical_net`])
    Net(IpNet),
}

/// Where a guest may connect: `host:port`, where host is a name
/// (`api.example.com`), every name below one (`*.example.com`), an address
/// or CIDR block (`10.0.0.0/8`, `[fd00::/8]`), or `*`; and port is a number,
/// a range (`8000-8999`) or `*`.
///
/// Addresses are canonical, in patterns and in requests alike: every
/// spelling of an IPv4 address the system resolver accepts
/// (`2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`, `169.254.43518`;
/// see [`host_address`]) and an IPv4-mapped or IPv4-compatible IPv6
/// address (`[::ffff:169.254.169.254]`) stand for the IPv4 address itself;
/// brackets, one trailing dot and case do not matter. A host spelled as a
/// number is matched as that address, never as a name. The pattern's text
/// ([`HostPattern::as_str`]) is its canonical form: `0xa9fea9fe:80` reads
/// `169.254.169.254:80`.
///
/// Names and addresses are otherwise matched as written: a name grant does
/// not cover the name's addresses, nor an address grant the names that
/// resolve to it. Where a name is resolved, each address it resolves to is
/// checked again at connect time ([`crate::CapabilitySet::allows_connection`]).
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
/// // Numeric spellings are the address they stand for.
/// let metadata: HostPattern = "0xa9fea9fe:80".parse().unwrap();
/// assert_eq!(metadata.as_str(), "169.254.169.254:80");
/// assert!(metadata.matches("2852039166", 80));
/// assert!(metadata.matches("[::ffff:169.254.169.254]", 80));
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
        let host_text = trim_host(host);
        let host = if host_text == "*" {
            Host::Any
        } else if let Some((addr, prefix)) = host_text.split_once('/') {
            let net = parse_block(addr, prefix)
                .ok_or_else(|| bad(&format!("`{host_text}` is not a CIDR block")))?;
            Host::Net(canonical_net(net))
        } else if let Some(ip) = host_address(host_text) {
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
            text: canonical_text(&host, ports),
            host,
            ports,
        })
    }

    /// The pattern in its canonical form: a name lower-case without a
    /// trailing dot, an address or block as its canonical address (IPv6 in
    /// brackets), ports as `*`, `N` or `LO-HI`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Does a connection to `host` on `port` match? `host` is a name or an
    /// address, in any of the spellings the pattern's docs list (IPv6 with
    /// or without brackets, one trailing `.` ignored); a host that spells
    /// an address is matched as that address only. Allocation-free.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if !self.has_port(port) {
            return false;
        }
        let host = trim_host(host);
        match &self.host {
            Host::Any => true,
            // A name pattern is never numeric, so a host equal to it is not
            // either.
            Host::Name(name) => name.eq_ignore_ascii_case(host),
            Host::Below(suffix) => {
                host.len() > suffix.len()
                    && host.is_char_boundary(host.len() - suffix.len())
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && host_address(host).is_none()
            }
            Host::Net(net) => host_address(host).is_some_and(|ip| net_contains(net, ip)),
        }
    }

    /// Does a connection to the address `ip` on `port` match, by address?
    /// `*` and blocks that hold the address (after
    /// [`canonical_ip`]) do; name patterns never do. Allocation-free.
    pub fn matches_address(&self, ip: IpAddr, port: u16) -> bool {
        self.has_port(port)
            && match &self.host {
                Host::Any => true,
                Host::Net(net) => net_contains(net, canonical_ip(ip)),
                Host::Name(_) | Host::Below(_) => false,
            }
    }

    /// Does the pattern name hosts (`api.example.com`, `*.example.com`,
    /// `*`) rather than addresses? A grant of a name vouches for the
    /// addresses the name resolves to; a grant of an address or block only
    /// for the addresses in it.
    pub fn is_by_name(&self) -> bool {
        !matches!(self.host, Host::Net(_))
    }

    fn has_port(&self, port: u16) -> bool {
        self.ports.0 <= port && port <= self.ports.1
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
            (Host::Net(a), Host::Net(b)) => as_v6(a).contains(&as_v6(b)),
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
            (Host::Net(a), Host::Net(b)) => {
                let (a, b) = (as_v6(a), as_v6(b));
                a.contains(&b) || b.contains(&a)
            }
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

/// Without brackets around an IPv6 address, and without one trailing dot.
fn trim_host(host: &str) -> &str {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The address a host written as a number stands for, canonical (see
/// [`canonical_ip`]); `None` for a name. Brackets and one trailing dot are
/// ignored. IPv4 is read as the system resolver reads it (`inet_aton`):
/// one to four parts separated by dots, each decimal, hexadecimal (`0x`)
/// or octal (a leading `0`), the last part filling the bytes that remain.
/// IPv6 is read in its standard text form. Allocation-free.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use airssys_wasm_core::capability::host_address;
/// let metadata = Some(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)));
/// for spelling in [
///     "169.254.169.254",
///     "2852039166",
///     "0xa9fea9fe",
///     "0251.0376.0251.0376",
///     "169.254.43518",
///     "169.16689662",
///     "[::ffff:169.254.169.254]",
///     "::ffff:a9fe:a9fe",
///     "169.254.169.254.",
/// ] {
///     assert_eq!(host_address(spelling), metadata, "{spelling}");
/// }
/// assert_eq!(host_address("api.example.com"), None);
/// assert_eq!(host_address("1.2.3.4.5"), None);
/// assert_eq!(host_address("08"), None); // not octal: a name
/// ```
pub fn host_address(host: &str) -> Option<IpAddr> {
    let host = trim_host(host);
    if host.contains(':') {
        host.parse::<Ipv6Addr>()
            .ok()
            .map(|v6| canonical_ip(IpAddr::V6(v6)))
    } else {
        inet_aton(host).map(IpAddr::V4)
    }
}

/// An address in the form it is matched in: an IPv4-mapped
/// (`::ffff:a.b.c.d`) or IPv4-compatible (`::a.b.c.d`, other than `::` and
/// `::1`) IPv6 address is the IPv4 address `a.b.c.d`; any other address is
/// itself.
///
/// ```
/// use std::net::IpAddr;
/// use airssys_wasm_core::capability::canonical_ip;
/// let ip = |s: &str| s.parse::<IpAddr>().unwrap();
/// assert_eq!(canonical_ip(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
/// assert_eq!(canonical_ip(ip("::10.0.0.1")), ip("10.0.0.1"));
/// assert_eq!(canonical_ip(ip("::1")), ip("::1"));
/// assert_eq!(canonical_ip(ip("fd00::1")), ip("fd00::1"));
/// ```
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v4_inside(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// The IPv4 address an IPv4-mapped or IPv4-compatible IPv6 address holds.
fn v4_inside(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let compatible = s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1);
    compatible.then(|| Ipv4Addr::from(v6.to_bits() as u32))
}

/// `inet_aton`: `a.b.c.d`, `a.b.c` (c is 16 bits), `a.b` (b is 24 bits)
/// or `a` (32 bits); each part decimal, `0x` hexadecimal or `0` octal.
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let mut parts = [0u32; 4];
    let mut n = 0;
    for part in super::tokens(s, b'.') {
        *parts.get_mut(n)? = inet_number(part)?;
        n += 1;
    }
    let [a, b, c, d] = parts;
    let bits = match n {
        1 => a,
        2 if a <= 0xff && b <= 0xff_ffff => a << 24 | b,
        3 if a <= 0xff && b <= 0xff && c <= 0xffff => a << 24 | b << 16 | c,
        4 if a <= 0xff && b <= 0xff && c <= 0xff && d <= 0xff => a << 24 | b << 16 | c << 8 | d,
        _ => return None,
    };
    Some(Ipv4Addr::from(bits))
}

/// One part of an `inet_aton` address; `None` when it is not a number or
/// does not fit 32 bits.
fn inet_number(part: &str) -> Option<u32> {
    let b = part.as_bytes();
    let (digits, radix) = match b {
        [b'0', x, rest @ ..] if x.eq_ignore_ascii_case(&b'x') => (rest, 16),
        [b'0', rest @ ..] if !rest.is_empty() => (rest, 8),
        [] => return None,
        _ => (b, 10),
    };
    let mut value: u64 = 0;
    for &c in digits {
        let digit = (c as char).to_digit(radix)?;
        value = value * u64::from(radix) + u64::from(digit);
        if value > u64::from(u32::MAX) {
            return None;
        }
    }
    Some(value as u32)
}

/// A CIDR block `addr/prefix`, the address in any numeric spelling (not
/// yet canonical: the prefix is the length in the address's own family).
fn parse_block(addr: &str, prefix: &str) -> Option<IpNet> {
    let prefix: u8 = prefix.parse().ok()?;
    let ip = if addr.contains(':') {
        IpAddr::V6(addr.parse().ok()?)
    } else {
        IpAddr::V4(inet_aton(addr)?)
    };
    IpNet::new(ip, prefix).ok()
}

/// A block in the form it is matched in: its network address, and an IPv6
/// block of IPv4-mapped or IPv4-compatible addresses (`/96` or longer) as
/// the IPv4 block it maps (a compatible block holding `::` or `::1` stays
/// IPv6).
fn canonical_net(net: IpNet) -> IpNet {
    let net = net.trunc();
    if let IpNet::V6(n) = net
        && n.prefix_len() >= 96
        && let Some(v4) = v4_inside(n.network())
        && let Ok(block) = Ipv4Net::new(v4, n.prefix_len() - 96)
    {
        return IpNet::V4(block.trunc());
    }
    net
}

/// A block as IPv6: an IPv4 block as the block of its mapped addresses.
fn as_v6(net: &IpNet) -> Ipv6Net {
    match net {
        IpNet::V6(n) => *n,
        IpNet::V4(n) => Ipv6Net::new(n.network().to_ipv6_mapped(), n.prefix_len() + 96)
            .expect("an IPv4 prefix plus 96 is a valid IPv6 prefix"),
    }
}

/// Does the block hold the canonical address `ip`? An IPv6 block holds an
/// IPv4 address when it holds the address's mapped form (`::/0` holds
/// every address).
fn net_contains(net: &IpNet, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpNet::V4(n), IpAddr::V4(a)) => n.contains(&a),
        (IpNet::V6(n), IpAddr::V6(a)) => n.contains(&a),
        (IpNet::V6(n), IpAddr::V4(a)) => n.contains(&a.to_ipv6_mapped()),
        (IpNet::V4(_), IpAddr::V6(_)) => false,
    }
}

/// The canonical text of a pattern.
fn canonical_text(host: &Host, (lo, hi): (u16, u16)) -> String {
    let host = match host {
        Host::Any => "*".to_owned(),
        Host::Name(name) => name.clone(),
        Host::Below(suffix) => format!("*{suffix}"),
        Host::Net(net) if net.prefix_len() == net.max_prefix_len() => match net.addr() {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        },
        Host::Net(IpNet::V4(n)) => n.to_string(),
        Host::Net(IpNet::V6(n)) => format!("[{n}]"),
    };
    match (lo, hi) {
        (0, u16::MAX) => format!("{host}:*"),
        (lo, hi) if lo == hi => format!("{host}:{lo}"),
        (lo, hi) => format!("{host}:{lo}-{hi}"),
    }
}

text_pattern!(HostPattern, "HostPattern");
