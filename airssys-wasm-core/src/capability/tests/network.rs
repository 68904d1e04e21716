//! Tests of network grants: host patterns, ports, CIDR blocks, numeric
//! spellings of addresses, and connections checked on the resolved
//! address.

use super::*;

#[test]
fn host_patterns_ports_and_cidr() {
    let caps = CapabilitySet::new()
        .with(Capability::network(
            host("api.example.com:443"),
            NetKind::Http,
        ))
        .with(Capability::network(
            host("*.cdn.example.org:80-89"),
            NetKind::Http,
        ))
        .with(Capability::network(host("10.0.0.0/8:*"), NetKind::Socket))
        .with(Capability::network(
            host("[fd00::/8]:5432"),
            NetKind::Socket,
        ))
        .with(Capability::network(
            host("192.168.1.10:6379"),
            NetKind::Socket,
        ));
    let sock = |host, port| Request::Connect {
        host,
        port,
        kind: NetKind::Socket,
    };
    check(
        &caps,
        &[
            (http("api.example.com", 443), true),
            (http("API.Example.COM", 443), true),
            (http("api.example.com.", 443), true),
            (http("api.example.com", 80), false),
            (http("example.com", 443), false),
            (http("evil-api.example.com", 443), false),
            (http("api.example.com.evil.net", 443), false),
            (sock("api.example.com", 443), false),
            (http("img.cdn.example.org", 85), true),
            (http("a.b.cdn.example.org", 80), true),
            (http("cdn.example.org", 80), false),
            (http("xcdn.example.org", 80), false),
            (http("img.cdn.example.org", 90), false),
            (sock("10.1.2.3", 1), true),
            (sock("10.255.255.255", 65535), true),
            (sock("11.0.0.1", 80), false),
            (http("10.1.2.3", 80), false),
            (sock("fd12::1", 5432), true),
            (sock("[fd12::1]", 5432), true),
            (sock("fe80::1", 5432), false),
            (sock("192.168.1.10", 6379), true),
            (sock("192.168.1.11", 6379), false),
        ],
    );
}

/// The spellings of 169.254.169.254 the system resolver accepts, and the
/// IPv6 forms that reach it.
const METADATA_SPELLINGS: [&str; 10] = [
    "2852039166",
    "0xa9fea9fe",
    "0XA9FEA9FE",
    "0251.0376.0251.0376",
    "169.254.43518",
    "0xa9.0xfe.0xa9fe",
    "169.16689662",
    "[::ffff:169.254.169.254]",
    "::ffff:a9fe:a9fe",
    "[::169.254.169.254]",
];

#[test]
fn numeric_spellings_in_patterns_are_the_address_they_mean() {
    for spelling in METADATA_SPELLINGS {
        let p = host(&format!("{spelling}:80"));
        assert_eq!(p.as_str(), "169.254.169.254:80", "{spelling}");
        assert!(p.matches("169.254.169.254", 80), "{spelling}");
        // So a grant written this way overlaps a forbid of the address.
        assert_eq!(
            host("169.254.169.254:*").overlap(&p),
            Overlap::Overlapping,
            "{spelling}"
        );
    }
    // Blocks: any spelling of the address, an IPv6 block of mapped
    // addresses as its IPv4 block, the network address.
    assert_eq!(host("0xa9fe0000/16:*").as_str(), "169.254.0.0/16:*");
    assert_eq!(host("[::ffff:a9fe:0/112]:*").as_str(), "169.254.0.0/16:*");
    assert_eq!(host("10.1.2.3/8:1-2").as_str(), "10.0.0.0/8:1-2");
    assert_eq!(host("[FD00::1/8]:0-65535").as_str(), "[fd00::/8]:*");
    // Names: lower-case, one trailing dot dropped.
    assert_eq!(host("API.Example.COM.:443").as_str(), "api.example.com:443");
    assert_eq!(host("*.Example.com.:443").as_str(), "*.example.com:443");
    // An IPv6 block that holds the mapped addresses holds IPv4.
    let all_v6 = host("[::/0]:*");
    assert!(all_v6.matches("10.0.0.1", 1));
    assert!(all_v6.covers(&host("10.0.0.0/8:*")));
    assert!(all_v6.overlaps(&host("169.254.169.254:80")));
    assert!(!host("[fd00::/8]:*").overlaps(&host("169.254.169.254:80")));
    // `::` and `::1` are IPv6, not 0.0.0.0 and 0.0.0.1.
    assert_eq!(host("[::1]:80").as_str(), "[::1]:80");
    assert!(!host("0.0.0.1:80").matches("::1", 80));
    // Not numbers: names, as the resolver reads them.
    for name in ["1.2.3.4.5", "08.1.1.1", "256.1.1.1", "0x1g", "4294967296"] {
        assert_eq!(host_address(name), None, "{name}");
    }
}

#[test]
fn numeric_spellings_in_requests_are_matched_as_the_address() {
    let metadata = Capability::network(host("169.254.169.254:*"), NetKind::Http);
    let caps = CapabilitySet::new()
        .with(Capability::network(host("*:80"), NetKind::Http))
        .with(Capability::network(
            host("api.example.com:80"),
            NetKind::Http,
        ));
    let mut forbidding = caps.clone();
    forbidding.forbid(metadata);
    for spelling in METADATA_SPELLINGS.iter().chain(&["169.254.169.254."]) {
        assert!(caps.allows(&http(spelling, 80)).is_allowed(), "{spelling}");
        assert!(
            !forbidding.allows(&http(spelling, 80)).is_allowed(),
            "{spelling} passed the forbid"
        );
    }
    // A number is never a name: a name grant does not match it.
    let by_name = CapabilitySet::new().with(Capability::network(host("*.254:80"), NetKind::Http));
    assert!(!by_name.allows(&http("169.254.169.254", 80)).is_allowed());
    assert!(by_name.allows(&http("metadata.254", 80)).is_allowed());
}

#[test]
fn connections_are_checked_on_the_resolved_address() {
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let mut caps = CapabilitySet::new()
        .with(Capability::network(host("localhost:*"), NetKind::Http))
        .with(Capability::network(host("10.0.0.0/8:443"), NetKind::Http))
        .with(Capability::network(host("*:80"), NetKind::Http));
    caps.forbid(Capability::network(host("127.0.0.0/8:*"), NetKind::Http));
    caps.forbid(Capability::network(host("[::1]:*"), NetKind::Http));
    caps.forbid(Capability::network(
        host("169.254.169.254:*"),
        NetKind::Http,
    ));
    let cases = [
        // A name grant vouches for the name's addresses, not forbidden ones.
        (http("localhost", 8080), "192.0.2.1", true),
        (http("localhost", 8080), "127.0.0.1", false),
        (http("localhost", 8080), "::1", false),
        (http("localhost", 8080), "::ffff:127.0.0.1", false),
        (http("example.org", 80), "93.184.216.34", true),
        (http("example.org", 80), "169.254.169.254", false),
        (http("example.org", 80), "::ffff:a9fe:a9fe", false),
        // An address grant only for its own addresses.
        (http("10.1.1.1", 443), "10.1.1.1", true),
        (http("0x0a010101", 443), "10.1.1.1", true),
        (http("10.1.1.1", 443), "10.1.1.2", false),
        (http("10.1.1.1", 443), "192.0.2.1", false),
        // A name the grants do not allow as written.
        (http("evil.example", 443), "10.1.1.1", false),
        // A numeric host connects to itself only, whatever grants `*`.
        (http("192.0.2.1", 80), "192.0.2.9", false),
    ];
    for (request, addr, expected) in cases {
        assert_eq!(
            caps.allows_connection(&request, ip(addr)).is_allowed(),
            expected,
            "{request} at {addr}"
        );
    }
    // Socket grants do not allow HTTP connections, nor the reverse.
    let sock = Request::Connect {
        host: "localhost",
        port: 8080,
        kind: NetKind::Socket,
    };
    assert!(!caps.allows_connection(&sock, ip("192.0.2.1")).is_allowed());
    assert!(
        !caps
            .allows_connection(&Request::Stdio, ip("192.0.2.1"))
            .is_allowed()
    );
}
