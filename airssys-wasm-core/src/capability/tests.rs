//! Table-driven tests of capability matching.

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

#[test]
fn empty_set_denies_everything() {
    let caps = CapabilitySet::new();
    for r in [
        Request::Stdio,
        Request::Env("HOME"),
        file("/data/x", FileOp::Read),
        file("/data/x", FileOp::Write),
        http("example.com", 443),
        Request::KeyValue("cache"),
        Request::Publish("a.b"),
        Request::Subscribe("a.>"),
        Request::Clocks,
        Request::Random,
        Request::Custom("secrets"),
    ] {
        assert_eq!(caps.allows(&r), Decision::Denied, "{r}");
    }
}

#[test]
fn normalisation() {
    let mut buf = [0u8; MAX_PATH];
    let cases = [
        ("/", Some("/")),
        ("/a/b", Some("/a/b")),
        ("/a//b/", Some("/a/b")),
        ("/a/./b/.", Some("/a/b")),
        ("/a/b/../c", Some("/a/c")),
        ("/a/..", Some("/")),
        ("/..", None),
        ("/a/../../b", None),
        ("a/b", None),
        ("", None),
        ("./a", None),
    ];
    for (path, expected) in cases {
        assert_eq!(normalise(path, &mut buf), expected, "{path:?}");
    }
    let long = format!("/{}", "a".repeat(MAX_PATH));
    assert_eq!(normalise(&long, &mut buf), None);
}

#[test]
fn path_globs_traversal_and_rights() {
    let caps = CapabilitySet::new()
        .with(Capability::files(
            glob("/srv/data/**"),
            FileRights::of(&[FileOp::Read, FileOp::Write]),
        ))
        .with(Capability::files(
            glob("/srv/conf/*.toml"),
            FileRights::READ,
        ))
        .with(Capability::files(
            glob("/srv/drop/**"),
            FileRights::of(&[FileOp::Create]),
        ));
    check(
        &caps,
        &[
            (file("/srv/data", FileOp::Read), true),
            (file("/srv/data/a/b.txt", FileOp::Read), true),
            (file("/srv/data/a/b.txt", FileOp::Write), true),
            (file("/srv/data/a/b.txt", FileOp::Delete), false),
            (file("/srv/data/a/b.txt", FileOp::Create), false),
            (file("/srv/data/a/../b.txt", FileOp::Read), true),
            (file("/srv/data/../../etc/passwd", FileOp::Read), false),
            (file("/srv/data/../conf/x.toml", FileOp::Read), true),
            (file("/srv/data/../conf/x.toml", FileOp::Write), false),
            (file("/srv/data/a/../../../etc", FileOp::Read), false),
            (file("/srv/database", FileOp::Read), false),
            (file("/etc/passwd", FileOp::Read), false),
            (file("srv/data/x", FileOp::Read), false),
            (file("/srv/conf/app.toml", FileOp::Read), true),
            (file("/srv/conf/sub/app.toml", FileOp::Read), false),
            (file("/srv/conf/app.json", FileOp::Read), false),
            (file("/srv/drop/new.bin", FileOp::Create), true),
            (file("/srv/drop/new.bin", FileOp::Read), false),
            (file("//srv//data//x", FileOp::Read), true),
        ],
    );
}

#[test]
fn absolute_path_tricks_are_denied() {
    let caps = CapabilitySet::new().with(Capability::files(glob("/srv/data/**"), FileRights::READ));
    check(
        &caps,
        &[
            (
                file("/srv/data/../../../../../etc/passwd", FileOp::Read),
                false,
            ),
            (file("/../srv/data/x", FileOp::Read), false),
            (file("/srv/data/x\0/../../etc", FileOp::Read), false),
            (file("~/srv/data/x", FileOp::Read), false),
            (file("", FileOp::Read), false),
        ],
    );
}

#[test]
fn mounts_match_host_paths_below_them() {
    let caps = CapabilitySet::new()
        .with(Capability::dir("/srv/data", "/data", false))
        .with(Capability::dir("/srv/conf", "/conf", true));
    check(
        &caps,
        &[
            (file("/srv/data", FileOp::Read), true),
            (file("/srv/data/a/b.txt", FileOp::Delete), true),
            (file("/srv/data/../etc/passwd", FileOp::Read), false),
            (file("/srv/database", FileOp::Read), false),
            (file("/srv/conf/app.toml", FileOp::Read), true),
            (file("/srv/conf/app.toml", FileOp::Write), false),
        ],
    );
}

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

#[test]
fn bad_patterns_are_refused_with_the_reason() {
    for (result, needle) in [
        (PathGlob::new("data/**").map(|_| ()), "absolute"),
        (PathGlob::new("/srv/*/../etc/**").map(|_| ()), "`..`"),
        (
            PathGlob::new("/srv/../../etc/**").map(|_| ()),
            "climbs above",
        ),
        (PathGlob::new("/srv/x\0/**").map(|_| ()), "NUL"),
        (PathGlob::new("/srv/{a,b/c}").map(|_| ()), "inside"),
        (normal_path("srv/data").map(|_| ()), "absolute"),
        (normal_path("/srv/../../x").map(|_| ()), "climbs above"),
        (
            Capability::dir("/srv/p/../..", "/data", false).validate(),
            "normal form, `/`",
        ),
        (PathGlob::new("/srv/[a").map(|_| ()), "/srv/[a"),
        (HostPattern::new("example.com").map(|_| ()), "needs a port"),
        (
            HostPattern::new("example.com:99999").map(|_| ()),
            "port number",
        ),
        (HostPattern::new("example.com:90-80").map(|_| ()), "empty"),
        (
            HostPattern::new("exa mple.com:80").map(|_| ()),
            "not a host name",
        ),
        (HostPattern::new("10.0.0.0/33:80").map(|_| ()), "CIDR"),
        (TopicPattern::new("a..b").map(|_| ()), "empty tokens"),
        (TopicPattern::new("a.>.b").map(|_| ()), "last token"),
        (TopicPattern::new("a.b*").map(|_| ()), "whole tokens"),
        (Capability::env("A*B").validate(), "only end"),
        (
            Capability::Env {
                name: "APP_*".into(),
                value: Some("x".into()),
            }
            .validate(),
            "prefix",
        ),
        (Capability::dir("/x", "data", false).validate(), "absolute"),
    ] {
        let err = result.unwrap_err();
        assert!(
            err.to_string().contains(needle),
            "{err} should mention {needle}"
        );
    }
}

#[test]
fn topics_with_wildcards() {
    let caps = CapabilitySet::new()
        .with(Capability::messaging(
            topic("orders.*.created"),
            true,
            false,
        ))
        .with(Capability::messaging(topic("audit.>"), false, true));
    check(
        &caps,
        &[
            (Request::Publish("orders.eu.created"), true),
            (Request::Publish("orders.eu.deleted"), false),
            (Request::Publish("orders.eu.x.created"), false),
            (Request::Publish("orders.*.created"), false),
            (Request::Subscribe("orders.eu.created"), false),
            (Request::Subscribe("audit.x"), true),
            (Request::Subscribe("audit.x.y.z"), true),
            (Request::Subscribe("audit.*"), true),
            (Request::Subscribe("audit.>"), true),
            (Request::Subscribe("audit"), false),
            (Request::Subscribe(">"), false),
            (Request::Subscribe("*.x"), false),
            (Request::Publish("audit.x"), false),
            (Request::Subscribe("audit..x"), false),
        ],
    );
}

#[test]
fn env_names_and_prefixes() {
    let caps = CapabilitySet::new()
        .with(Capability::env("HOME"))
        .with(Capability::env("APP_*"));
    check(
        &caps,
        &[
            (Request::Env("HOME"), true),
            (Request::Env("HOMEX"), false),
            (Request::Env("home"), false),
            (Request::Env("APP_"), true),
            (Request::Env("APP_MODE"), true),
            (Request::Env("APPX"), false),
            (Request::Env("PATH"), false),
        ],
    );
}

#[test]
fn key_value_and_custom_names() {
    let quota = KvQuota {
        bytes: 10,
        max_key_bytes: 4,
        max_value_bytes: 8,
    };
    let caps = CapabilitySet::new()
        .with(Capability::key_value("cache", quota))
        .with(Capability::custom("secrets"));
    check(
        &caps,
        &[
            (Request::KeyValue("cache"), true),
            (Request::KeyValue("cache2"), false),
            (Request::Custom("secrets"), true),
            (Request::Custom("secret"), false),
        ],
    );
    assert_eq!(caps.kv_quota("cache"), Some(quota));
    assert_eq!(caps.kv_quota("other"), None);
}

#[test]
fn covers_intersect_and_overlap() {
    let files = |p: &str, r: &[FileOp]| Capability::files(glob(p), FileRights::of(r));
    let net = |p: &str| Capability::network(host(p), NetKind::Http);
    use FileOp::*;
    // (grant, request, covers, intersection)
    let cases: Vec<(Capability, Capability, bool, Option<Capability>)> = vec![
        (
            files("/srv/**", &[Read, Write]),
            files("/srv/data/**", &[Read]),
            true,
            Some(files("/srv/data/**", &[Read])),
        ),
        (
            files("/srv/data/**", &[Read]),
            files("/srv/**", &[Read]),
            false,
            Some(files("/srv/data/**", &[Read])),
        ),
        (
            files("/srv/**", &[Read]),
            files("/srv/x", &[Read, Write]),
            false,
            Some(files("/srv/x", &[Read])),
        ),
        (
            files("/srv/*", &[Read]),
            files("/srv/**", &[Read]),
            false,
            Some(files("/srv/*", &[Read])),
        ),
        (
            files("/a/**", &[Read]),
            files("/b/**", &[Read]),
            false,
            None,
        ),
        (
            files("/a/**", &[Read]),
            files("/a/**", &[Write]),
            false,
            None,
        ),
        (
            net("*.example.com:*"),
            net("api.example.com:443"),
            true,
            Some(net("api.example.com:443")),
        ),
        (
            net("api.example.com:443"),
            net("*.example.com:443"),
            false,
            Some(net("api.example.com:443")),
        ),
        (
            net("10.0.0.0/8:*"),
            net("10.1.0.0/16:80"),
            true,
            Some(net("10.1.0.0/16:80")),
        ),
        (net("a.com:443"), net("b.com:443"), false, None),
        (
            Capability::env("APP_*"),
            Capability::env("APP_MODE"),
            true,
            Some(Capability::env("APP_MODE")),
        ),
        (
            Capability::env_value("TZ", "UTC"),
            Capability::env("TZ"),
            false,
            Some(Capability::env_value("TZ", "UTC")),
        ),
        (
            Capability::Stdio,
            Capability::Stdio,
            true,
            Some(Capability::Stdio),
        ),
        (Capability::Stdio, Capability::Clocks, false, None),
        (
            Capability::messaging(topic("a.>"), true, true),
            Capability::messaging(topic("a.b"), true, false),
            true,
            Some(Capability::messaging(topic("a.b"), true, false)),
        ),
        (
            files("/srv/**", &[Read]),
            Capability::dir("/srv/data", "/data", false),
            false,
            Some(Capability::dir("/srv/data", "/data", true)),
        ),
    ];
    for (grant, request, covers, meet) in cases {
        assert_eq!(grant.covers(&request), covers, "{grant} covers {request}");
        assert_eq!(grant.intersect(&request), meet, "{grant} ∩ {request}");
    }
    // Forbidden rules refuse requests that overlap them.
    let overlaps = [
        (files("/etc/**", &[Read]), files("/**", &[Read]), true),
        (
            files("/etc/**", &[Read]),
            files("/etc/passwd", &[Read]),
            true,
        ),
        (
            files("/etc/**", &[Write]),
            files("/etc/passwd", &[Read]),
            false,
        ),
        (files("/etc/**", &[Read]), files("/srv/**", &[Read]), false),
        (
            files("/etc/**", &[Read]),
            Capability::dir("/", "/", true),
            true,
        ),
        (net("*:22"), net("*.example.com:*"), true),
        (net("*:22"), net("api.example.com:443"), false),
        // A name against an address block cannot be decided: it overlaps
        // (fail closed); policy checks the resolved address at connect time.
        (net("10.0.0.0/8:*"), net("api.example.com:443"), true),
        (net("10.0.0.0/8:*"), net("api.example.com:443"), true),
        // Globs whose shapes are not compared exactly overlap too: before,
        // `/e*/passwd` slipped past a forbid of `/etc/**`.
        (
            files("/etc/**", &[Read]),
            files("/e*/passwd", &[Read]),
            true,
        ),
        (
            files("/etc/**", &[Read]),
            files("/srv/e*/passwd", &[Read]),
            false,
        ),
        (
            files("/etc/**", &[Read]),
            Capability::dir("/srv/p/../../etc", "/host", true),
            true,
        ),
        (
            Capability::env("AWS_*"),
            Capability::env("AWS_SECRET_ACCESS_KEY"),
            true,
        ),
        (Capability::env("AWS_*"), Capability::env("A*"), true),
        (
            Capability::messaging(topic("admin.>"), true, true),
            Capability::messaging(topic("*.reset"), true, false),
            true,
        ),
        (
            Capability::messaging(topic("admin.>"), true, false),
            Capability::messaging(topic("admin.x"), false, true),
            false,
        ),
    ];
    for (forbidden, request, expected) in overlaps {
        assert_eq!(
            forbidden.overlaps(&request),
            expected,
            "{forbidden} overlaps {request}"
        );
    }
}

#[test]
fn capabilities_round_trip_through_json() {
    let caps = CapabilitySet::new()
        .with(Capability::files(
            glob("/srv/**"),
            FileRights::of(&[FileOp::Read, FileOp::Delete]),
        ))
        .with(Capability::network(
            host("*.example.com:443"),
            NetKind::Http,
        ))
        .with(Capability::messaging(topic("a.*"), true, false))
        .with(Capability::key_value("cache", KvQuota::default()));
    let json = serde_json::to_string(&caps).unwrap();
    assert!(json.contains(r#""rights":["read","delete"]"#), "{json}");
    let back: CapabilitySet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, caps);
    let bad = r#"{"grants":[{"kind":"files","path":"relative/**","rights":["read"]}]}"#;
    assert!(
        serde_json::from_str::<CapabilitySet>(bad)
            .unwrap_err()
            .to_string()
            .contains("absolute")
    );
}

#[test]
fn imports_map_to_capability_kinds() {
    let cases = [
        (
            "wasi:filesystem/preopens@0.2.6",
            Some(CapabilityKind::Filesystem),
        ),
        ("wasi:cli/environment@0.2.0", Some(CapabilityKind::Env)),
        ("wasi:cli/stderr@0.2.6", Some(CapabilityKind::Stdio)),
        ("wasi:clocks/wall-clock@0.2.6", Some(CapabilityKind::Clocks)),
        (
            "wasi:random/insecure-seed@0.2.6",
            Some(CapabilityKind::Random),
        ),
        ("wasi:sockets/tcp@0.2.6", Some(CapabilityKind::Network)),
        (
            "wasi:http/outgoing-handler@0.2.6",
            Some(CapabilityKind::Network),
        ),
        ("wasi:cli/exit@0.2.6", None),
        (
            "airssys:host/key-value@0.1.0",
            Some(CapabilityKind::KeyValue),
        ),
        (
            "airssys:host/http-client@0.1.0",
            Some(CapabilityKind::Network),
        ),
        (
            "airssys:host/filesystem@0.1.0",
            Some(CapabilityKind::Filesystem),
        ),
        ("airssys:host/logging@0.1.0", None),
        ("airssys:host/config@0.1.0", None),
        ("airssys:test/host-fns@0.1.0", None),
    ];
    for (import, kind) in cases {
        assert_eq!(CapabilityKind::for_import(import), kind, "{import}");
    }
}

#[test]
fn only_whole_trees_have_a_tree_root() {
    for (pattern, root) in [
        ("/srv/data/**", Some("/srv/data")),
        ("/**", Some("/")),
        ("/srv/data/**/*.json", None),
        ("/srv/d*/**", None),
        ("/srv/[ab]/**", None),
        ("/srv/data", None),
    ] {
        assert_eq!(glob(pattern).tree_root(), root, "{pattern}");
    }
}

#[test]
fn path_patterns_keep_their_normal_form() {
    for (written, normal) in [
        ("/srv//data/./x/**", "/srv/data/x/**"),
        ("/srv/p/../q/*.txt", "/srv/q/*.txt"),
        ("/srv/p/../../", "/"),
        ("/srv/data/", "/srv/data"),
    ] {
        assert_eq!(glob(written).as_str(), normal, "{written}");
    }
    assert_eq!(glob("/srv/p/../../**"), glob("/**"));
}

#[test]
fn covers_is_decided_only_where_it_is_exact() {
    // Unsound before: `/srv/*/**` does not match `/srv` itself, which
    // `/srv/**` does, so it does not cover it.
    assert!(!glob("/srv/*/**").covers(&glob("/srv/**")));
    // `?` is one character, `*` many: `a?c` does not cover `a*c`.
    assert!(!glob("/srv/a?c").covers(&glob("/srv/a*c")));
    for (wide, narrow) in [
        ("/srv/**", "/srv/d*/x.json"),
        ("/srv/*", "/srv/a.txt"),
        ("/srv/*/*.json", "/srv/*/*.json"),
        ("/srv/*/x", "/srv/a*/x"),
    ] {
        assert!(glob(wide).covers(&glob(narrow)), "{wide} covers {narrow}");
    }
}

#[test]
fn undecidable_overlaps_say_so() {
    // `/e*/passwd` lies below `/`, which holds `/etc`: not compared exactly.
    assert_eq!(
        glob("/etc/**").overlap(&glob("/e*/passwd")),
        Overlap::Undecided
    );
    assert_eq!(
        glob("/etc/**").overlap(&glob("/etc/*/x")),
        Overlap::Overlapping
    );
    assert_eq!(
        glob("/srv/*.txt").overlap(&glob("/srv/a/**")),
        Overlap::Undecided
    );
    assert_eq!(glob("/a/**").overlap(&glob("/b/*.txt")), Overlap::Disjoint);
    assert_eq!(
        glob("/a/x.txt").overlap(&glob("/a/*.txt")),
        Overlap::Overlapping
    );
    assert_eq!(
        glob("/a/x.bin").overlap(&glob("/a/*.txt")),
        Overlap::Disjoint
    );
    let name = Capability::network(host("api.example.com:443"), NetKind::Http);
    let block = Capability::network(host("169.254.0.0/16:*"), NetKind::Http);
    assert_eq!(block.overlap(&name), Overlap::Undecided);
    // A mount whose host path is not normal cannot be compared: it
    // overlaps everything it might name, and meets nothing.
    let odd = Capability::dir("/srv/p/../..", "/host", true);
    let etc = Capability::files(glob("/etc/**"), FileRights::READ);
    assert_eq!(etc.overlap(&odd), Overlap::Undecided);
    assert_eq!(Capability::dir("/srv", "/data", true).intersect(&odd), None);
    assert!(
        !CapabilitySet::new()
            .with(odd)
            .allows(&file("/etc/passwd", FileOp::Read))
            .is_allowed()
    );
}

#[test]
fn forbidden_capabilities_deny_what_grants_allow() {
    let mut caps = CapabilitySet::new().with(Capability::files(glob("/srv/**"), FileRights::ALL));
    caps.forbid(Capability::files(glob("/srv/secret/**"), FileRights::READ));
    caps.grant(Capability::network(host("*:80"), NetKind::Http));
    caps.forbid(Capability::network(
        host("169.254.169.254:*"),
        NetKind::Http,
    ));
    check(
        &caps,
        &[
            (file("/srv/data/x", FileOp::Read), true),
            (file("/srv/secret/key", FileOp::Read), false),
            (file("/srv/data/../secret/key", FileOp::Read), false),
            (file("/srv/secret/key", FileOp::Write), true),
            (http("example.com", 80), true),
            (http("169.254.169.254", 80), false),
        ],
    );
}

#[test]
fn roots_are_the_directories_the_operator_named() {
    let operator = Capability::files(glob("/srv/**"), FileRights::ALL);
    let mut caps = CapabilitySet::new();
    caps.grant_within(
        Capability::files(glob("/srv/p/**"), FileRights::READ),
        &operator,
    );
    caps.grant(Capability::files(glob("/data/in/*.json"), FileRights::READ));
    caps.grant(Capability::files(glob("/etc/motd"), FileRights::READ));
    caps.grant(Capability::dir("/mnt/disk", "/disk", true));
    assert_eq!(
        caps.roots().collect::<Vec<_>>(),
        ["/srv", "/data/in", "/etc", "/mnt/disk"]
    );
    assert_eq!(caps.root_for("/srv/p/x"), Some("/srv"));
    assert_eq!(caps.root_for("/data/in/a.json"), Some("/data/in"));
    assert_eq!(caps.root_for("/data/other"), None);
    assert_eq!(caps.root_for("/mnt/diskette"), None);
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
