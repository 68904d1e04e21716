//! Tests of sets, patterns, topics, environment names, key-value and
//! custom grants, serde and the kinds of imports.

use super::*;

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
        // Served by providers, which declare what they check.
        ("airssys:host/key-value@0.1.0", None),
        ("airssys:host/http-client@0.1.0", None),
        ("airssys:host/filesystem@0.1.0", None),
        ("airssys:host/logging@0.1.0", None),
        ("airssys:host/config@0.1.0", None),
        ("airssys:test/host-fns@0.1.0", None),
    ];
    for (import, kind) in cases {
        assert_eq!(CapabilityKind::for_import(import), kind, "{import}");
    }
}
