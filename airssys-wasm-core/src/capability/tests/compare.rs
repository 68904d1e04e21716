//! Tests of comparing capabilities: covers, intersect, overlap, and
//! forbidden rules.

use super::*;

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
