//! Manifests and policies: parsing with positions, requested ∩ granted −
//! forbidden, limits clamped to the policy's maxima.

use std::time::Duration;

use airssys_wasm_core::capability::{FileOp, FileRights, HostPattern, NetKind, PathGlob};
use airssys_wasm_core::{Capability, Limits, MIB};
use airssys_wasm_security::{ConfigError, Manifest, Policy, PolicyError, Subject};

const POLICY: &str = r#"
require-signed = false

[limits.default]
memory = "32MiB"
fuel = 1_000_000

[limits.max]
memory = "128MiB"
timeout = "10s"

[forbid]
files = [{ path = "/etc/**", rights = ["read", "write", "create", "delete"] }]
env = ["AWS_*"]
network = [{ host = "169.254.169.254:*", use = "http" }]

[grant."*"]
clocks = true

[grant.reporter]
stdio = true
env = ["APP_*", { name = "TZ", value = "UTC" }]
files = [{ path = "/srv/data/**", rights = ["read"] }]
network = ["*.example.com:443"]
"#;

fn policy() -> Policy {
    Policy::parse("policy.toml", POLICY).unwrap()
}

fn manifest(body: &str) -> Manifest {
    Manifest::parse(
        "Component.toml",
        format!("[component]\nname = \"reporter\"\n\n{body}"),
    )
    .unwrap()
}

fn glob(p: &str) -> PathGlob {
    PathGlob::new(p).unwrap()
}

#[test]
fn effective_is_requested_and_granted() {
    let m = manifest(
        r#"[capabilities]
stdio = true
clocks = true
random = true
env = ["APP_MODE", "TZ"]
files = [{ path = "/srv/data/reports/**", rights = ["read", "write"] }]
network = ["api.example.com:443", "api.other.net:443"]
"#,
    );
    let e = policy()
        .evaluate(
            &Subject::named("reporter"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap();
    let got: Vec<String> = e.capabilities.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        got,
        [
            "stdio",
            "clocks",
            "env APP_MODE",
            "env TZ",
            "files /srv/data/reports/** [read]",
            "http api.example.com:443",
        ]
    );
    // TZ gets the policy's fixed value.
    assert!(
        e.capabilities
            .iter()
            .any(|c| *c == Capability::env_value("TZ", "UTC"))
    );
    insta::assert_snapshot!(e.warnings.join("\n"), @r"
    Component.toml:7:10: `random` is requested but not granted by policy.toml; it is not given
    Component.toml:9:10: `files /srv/data/reports/** [read,write]` is granted only in part (`files /srv/data/reports/** [read]`); the rest is not given
    Component.toml:10:35: `http api.other.net:443` is requested but not granted by policy.toml; it is not given
    ");
}

#[test]
fn grants_for_other_components_do_not_apply() {
    let m = Manifest::parse(
        "Component.toml",
        "[component]\nname = \"other\"\n[capabilities]\nstdio = true\nclocks = true\n",
    )
    .unwrap();
    let e = policy()
        .evaluate(
            &Subject::named("other"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap();
    assert_eq!(
        e.capabilities.iter().collect::<Vec<_>>(),
        [&Capability::Clocks]
    );
}

#[test]
fn a_forbidden_request_is_refused_naming_the_line_and_the_rule() {
    let m = manifest(
        r#"[capabilities]
stdio = true
files = [{ path = "/**", rights = ["read"] }]
env = ["AWS_SECRET_ACCESS_KEY"]
"#,
    );
    let err = policy()
        .evaluate(
            &Subject::named("reporter"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap_err();
    let PolicyError::Forbidden { refusals, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(refusals.len(), 2);
    insta::assert_snapshot!(err.to_string(), @r"
    `reporter` is refused: it asks for what policy.toml forbids
      Component.toml:6:10: requests `files /** [read]`, forbidden by `files /etc/** [read,write,create,delete]` at policy.toml:13:10
      Component.toml:7:8: requests `env AWS_SECRET_ACCESS_KEY`, forbidden by `env AWS_*` at policy.toml:14:8
      remove these requests from the manifest, or ask the operator to change the policy
    ");
}

#[test]
fn a_forbidden_direct_grant_is_refused_too() {
    let err = policy()
        .evaluate(
            &Subject::named("reporter"),
            None,
            &[Capability::network(
                HostPattern::new("169.254.169.254:80").unwrap(),
                NetKind::Http,
            )],
            &Limits::unlimited(),
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("a direct grant gives `http 169.254.169.254:80`"),
        "{err}"
    );
    // The operator's own grant: the advice is not to edit the manifest.
    assert!(
        err.to_string().ends_with(
            "drop these direct grants (the command line's flags, or LoadOptions::grant), or \
             change the policy"
        ),
        "{err}"
    );
}

#[test]
fn a_grant_that_overlaps_a_forbidden_rule_gives_nothing() {
    let p = Policy::parse(
        "policy.toml",
        r#"
[forbid]
files = [{ path = "/srv/secret/**", rights = ["read"] }]
[grant.reporter]
files = [{ path = "/srv/**", rights = ["read"] }]
"#,
    )
    .unwrap();
    let m =
        manifest("[capabilities]\nfiles = [{ path = \"/srv/public/**\", rights = [\"read\"] }]\n");
    let e = p
        .evaluate(
            &Subject::named("reporter"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap();
    assert_eq!(
        e.capabilities.iter().collect::<Vec<_>>(),
        [&Capability::files(glob("/srv/public/**"), FileRights::READ)]
    );
}

#[test]
fn without_a_manifest_only_direct_grants_apply() {
    let e = policy()
        .evaluate(
            &Subject::named("reporter"),
            None,
            &[Capability::Random],
            &Limits::unlimited(),
        )
        .unwrap();
    assert_eq!(
        e.capabilities.iter().collect::<Vec<_>>(),
        [&Capability::Random]
    );
    assert!(e.warnings[0].contains("no manifest"), "{:?}", e.warnings);
    assert!(
        e.rows.iter().any(|r| r.requested.is_none()
            && r.effective.is_empty()
            && r.granted == [Capability::Stdio]),
        "unused grants are listed: {:?}",
        e.rows
    );
}

#[test]
fn limits_default_then_requested_then_clamped() {
    let p = policy();
    let none = p
        .evaluate(&Subject::named("reporter"), None, &[], &Limits::unlimited())
        .unwrap();
    assert_eq!(none.limits.memory_bytes, Some(32 * MIB));
    assert_eq!(none.limits.fuel, Some(1_000_000));
    assert_eq!(
        none.limits.timeout,
        Some(Duration::from_secs(10)),
        "the maximum applies when unset"
    );

    let m = manifest("[limits]\nmemory = \"1GiB\"\ntimeout = \"1m\"\nfuel = 5\n");
    let e = p
        .evaluate(
            &Subject::named("reporter"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap();
    assert_eq!(e.limits.memory_bytes, Some(128 * MIB));
    assert_eq!(e.limits.timeout, Some(Duration::from_secs(10)));
    assert_eq!(e.limits.fuel, Some(5));
    insta::assert_snapshot!(e.warnings.join("\n"), @r"
    memory 1.0 GiB is above the maximum 128.0 MiB set by policy.toml; 128.0 MiB is used
    timeout 1m is above the maximum 10s set by policy.toml; 10s is used
    ");

    let mut direct = Limits::unlimited();
    direct.memory_bytes = Some(512 * MIB);
    let d = p
        .evaluate(&Subject::named("reporter"), Some(&m), &[], &direct)
        .unwrap();
    assert_eq!(
        d.limits.memory_bytes,
        Some(128 * MIB),
        "direct limits are clamped too"
    );
}

fn config_error(result: Result<impl std::fmt::Debug, ConfigError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn bad_files_name_the_line_column_and_fix() {
    let cases = [
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\nfiles = [{ path = \"data/**\", rights = [\"read\"] }]\n",
        )),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\nnetwork = [\"example.com\"]\n",
        )),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\nfiles = [{ path = \"/x/**\", rights = [\"exec\"] }]\n",
        )),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\nsockets = true\n",
        )),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[limits]\nmemory = \"lots\"\n",
        )),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[limits]\ntimeout = \"soon\"\n",
        )),
        config_error(Manifest::parse("M.toml", "[capabilities]\nstdio = true\n")),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\nmessaging = [{ topic = \"a.>.b\", publish = true }]\n",
        )),
        config_error(Policy::parse(
            "P.toml",
            "[[trusted-keys]]\nname = \"acme\"\npublic-key = \"abc\"\n",
        )),
        config_error(Policy::parse("P.toml", "on-denied = \"explode\"\n")),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\nfiles = [\"/srv/app/motd.txt\"]\n",
        )),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\ndirs = [\"/srv\"]\n",
        )),
        config_error(Manifest::parse(
            "M.toml",
            "[component]\nname = \"x\"\n[capabilities]\nkey-value = [\"notes\"]\n",
        )),
    ];
    insta::assert_snapshot!(cases.join("\n---\n"));
}

#[test]
fn files_from_disk_and_beside_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("reporter.wasm");
    assert_eq!(Manifest::beside(&component), None);
    let file = dir.path().join("Component.toml");
    std::fs::write(&file, "[component]\nname = \"reporter\"\nversion = \"1.2.0\"\n[capabilities]\nfiles = [{ path = \"/srv/data/**\", rights = [\"read\", \"delete\"] }]\n").unwrap();
    assert_eq!(Manifest::beside(&component), Some(file.clone()));
    let m = Manifest::load(&file).unwrap();
    assert_eq!(
        (m.name.as_str(), m.version.as_deref()),
        ("reporter", Some("1.2.0"))
    );
    assert_eq!(
        m.requested[0].capability,
        Capability::files(
            glob("/srv/data/**"),
            FileRights::of(&[FileOp::Read, FileOp::Delete])
        )
    );
    assert_eq!(m.requested[0].at.line, 5);
    let missing = Policy::load(&dir.path().join("nope.toml")).unwrap_err();
    assert!(missing.to_string().contains("nope.toml"), "{missing}");
}

/// The review's example: a manifest whose mount climbs out with `..`.
#[test]
fn host_paths_are_normalised_before_they_are_compared() {
    let p = Policy::parse(
        "policy.toml",
        r#"
[forbid]
files = [{ path = "/etc/**", rights = ["read"] }]
[grant.probe]
dirs = [{ host = "/srv/p", guest = "/data" }]
"#,
    )
    .unwrap();
    let m = Manifest::parse(
        "Component.toml",
        "[component]\nname = \"probe\"\n[capabilities]\ndirs = [{ host = \"/srv/p/../../\", guest = \"/host\" }]\n",
    )
    .unwrap();
    assert_eq!(
        m.requested[0].capability,
        Capability::dir("/", "/host", false),
        "the manifest's path is read in its normal form"
    );
    let err = p
        .evaluate(
            &Subject::named("probe"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("Component.toml:4:9"), "{err}");
    assert!(err.contains("forbidden by `files /etc/** [read]`"), "{err}");
    // Without the forbid rule it gets what the grant allows of it: `/srv/p`,
    // never `/`.
    let lax = Policy::parse(
        "policy.toml",
        "[grant.probe]\ndirs = [{ host = \"/srv/p\", guest = \"/data\" }]\n",
    )
    .unwrap();
    let e = lax
        .evaluate(
            &Subject::named("probe"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap();
    assert_eq!(
        e.capabilities.iter().collect::<Vec<_>>(),
        [&Capability::dir("/srv/p", "/host", false)]
    );
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("granted only in part")),
        "{:?}",
        e.warnings
    );
}

#[test]
fn host_paths_that_do_not_normalise_are_errors_with_their_position() {
    for (entry, needle) in [
        (
            r#"dirs = [{ host = "data", guest = "/d" }]"#,
            "must be absolute",
        ),
        (
            r#"dirs = [{ host = "/a/../../etc", guest = "/d" }]"#,
            "climbs above",
        ),
        (r#"dirs = [{ host = "/srv/\u0000x", guest = "/d" }]"#, "NUL"),
        (
            r#"files = [{ path = "/srv/*/../etc/**", rights = ["read"] }]"#,
            "wildcard",
        ),
        (
            r#"files = [{ path = "/srv/\u0000/**", rights = ["read"] }]"#,
            "NUL",
        ),
    ] {
        let err = config_error(Manifest::parse(
            "M.toml",
            format!("[component]\nname = \"x\"\n[capabilities]\n{entry}\n"),
        ));
        assert!(err.starts_with("M.toml:4:"), "{err}");
        assert!(err.contains(needle), "{err} should say {needle}");
    }
}

#[test]
fn sizes_that_do_not_fit_are_refused() {
    let err = config_error(Manifest::parse(
        "M.toml",
        "[component]\nname = \"x\"\n[limits]\nmemory = \"99999999999GiB\"\n",
    ));
    assert!(
        err.contains("M.toml:4:10") && err.contains("too large"),
        "{err}"
    );
}

const SIGNED_POLICY: &str = r#"
[[trusted-keys]]
name = "acme"
public-key = "0101010101010101010101010101010101010101010101010101010101010101"

[grant."*"]
clocks = true

[grant.reporter]
stdio = true

[grant.billing]
signer = "acme"
key-value = [{ namespace = "billing" }]

[config.reporter]
secret = "s"
"#;

fn granted_kinds(e: &airssys_wasm_security::Evaluation) -> Vec<String> {
    e.capabilities.iter().map(|c| c.to_string()).collect()
}

/// A name in a component's own manifest does not choose whose grants it
/// gets.
#[test]
fn a_manifest_name_gets_a_named_grant_only_through_a_pinned_signer() {
    let p = Policy::parse("policy.toml", SIGNED_POLICY).unwrap();
    let m = |name: &str| {
        Manifest::parse(
            "Component.toml",
            format!(
                "[component]\nname = \"{name}\"\n[capabilities]\nclocks = true\nstdio = true\n\
                 key-value = [{{ namespace = \"billing\" }}]\n"
            ),
        )
        .unwrap()
    };
    let eval = |subject: Subject<'_>, name: &str| {
        p.evaluate(&subject, Some(&m(name)), &[], &Limits::unlimited())
            .unwrap()
    };

    // Claimed by the manifest, no signer pinned: only [grant."*"], and why.
    let e = eval(Subject::claimed("reporter"), "reporter");
    assert_eq!(granted_kinds(&e), ["clocks"]);
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("[grant.reporter] is not applied") && w.contains("pins no signer")),
        "{:?}",
        e.warnings
    );
    assert!(e.config.is_empty(), "[config.NAME] follows the same rule");
    // Named by the operator: it applies.
    let e = eval(Subject::named("reporter"), "reporter");
    assert_eq!(granted_kinds(&e), ["clocks", "stdio"]);
    assert_eq!(e.config.get("secret").map(String::as_str), Some("s"));

    // A grant pinning a signer: applies with that signature, whoever named it…
    let e = eval(
        Subject::claimed("billing").signed_by(Some("acme")),
        "billing",
    );
    assert!(
        granted_kinds(&e)
            .iter()
            .any(|k| k.starts_with("kv billing")),
        "{:?}",
        e.capabilities
    );
    assert_eq!(e.signer.as_deref(), Some("acme"));
    // …and never without it, not even under the operator's name.
    for subject in [Subject::claimed("billing"), Subject::named("billing")] {
        let e = eval(subject, "billing");
        assert_eq!(granted_kinds(&e), ["clocks"], "{subject:?}");
        assert!(
            e.warnings.iter().any(|w| w.contains("pins signer `acme`")),
            "{:?}",
            e.warnings
        );
    }
}

#[test]
fn a_signer_is_pinned_only_in_named_grants_and_to_a_trusted_key() {
    for (text, needle) in [
        ("[grant.x]\nsigner = \"nobody\"\n", "not a trusted key"),
        (
            "[[trusted-keys]]\nname = \"acme\"\npublic-key = \"0101010101010101010101010101010101010101010101010101010101010101\"\n[grant.\"*\"]\nsigner = \"acme\"\n",
            "every component",
        ),
        ("[forbid]\nsigner = \"acme\"\n", "not in [forbid]"),
    ] {
        let err = config_error(Policy::parse("P.toml", text));
        assert!(err.starts_with("P.toml:"), "{err}");
        assert!(err.contains(needle), "{err} should say {needle}");
    }
    let err = config_error(Manifest::parse(
        "M.toml",
        "[component]\nname = \"x\"\n[capabilities]\nsigner = \"acme\"\n",
    ));
    assert!(
        err.contains("M.toml:4:10") && err.contains("[grant.NAME]"),
        "{err}"
    );
}

/// Forbidden rules go into the effective set, so they hold again when the
/// request is made: a name's grant never reaches a forbidden address.
#[test]
fn forbidden_rules_travel_with_the_effective_capabilities() {
    let p = policy();
    let m = manifest("[capabilities]\nnetwork = [\"api.example.com:443\"]\n");
    let e = p
        .evaluate(
            &Subject::named("reporter"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap();
    let caps = &e.capabilities;
    assert_eq!(caps.forbidden().count(), 3);
    let connect = |host| airssys_wasm_core::Request::Connect {
        host,
        port: 443,
        kind: NetKind::Http,
    };
    assert!(caps.allows(&connect("api.example.com")).is_allowed());
    assert!(!caps.allows(&connect("169.254.169.254")).is_allowed());
    let _ = HostPattern::new("x:1").unwrap();
}

#[test]
fn component_names_outside_the_character_set_are_errors_at_their_position() {
    let manifest = |name: &str| {
        Manifest::parse(
            "M.toml",
            format!("# a comment\n[component]\nname = {name}\n"),
        )
    };
    for (name, why) in [
        (r#""two words""#, "it contains a space"),
        (
            r#""evil\nFAKE LINE""#,
            r"it contains the control character '\n'",
        ),
        (
            r#""\u001b[2J""#,
            r"it contains the control character '\u{1b}'",
        ),
        (r#""""#, "it is empty"),
        (r#"".hidden""#, "it begins with `.`"),
    ] {
        let e = config_error(manifest(name));
        assert!(
            e.starts_with("M.toml:3:8: [component] name: invalid component name"),
            "{e}"
        );
        assert!(e.contains(why), "{name}: {e}");
        // The message shows the name escaped: one line, no control characters.
        assert!(!e.contains(['\n', '\u{1b}']), "{e:?}");
    }
    assert_eq!(
        manifest(r#""text-tools.v2_x""#).unwrap().name,
        "text-tools.v2_x"
    );

    let e = config_error(Policy::parse(
        "P.toml",
        "[grant.\"*\"]\nclocks = true\n\n[grant.\"bad name\"]\nstdio = true\n",
    ));
    assert!(
        e.starts_with(
            "P.toml:4:8: [grant.NAME]: invalid component name `bad name`: it contains a space"
        ),
        "{e}"
    );
    let e = config_error(Policy::parse(
        "P.toml",
        "[config.\"x\\u001b[31m\"]\ngreeting = \"hi\"\n",
    ));
    assert!(
        e.starts_with("P.toml:1:9: [config.NAME]: invalid component name `x\\u{1b}[31m`"),
        "{e}"
    );
    // `*` is the grant to every component, not a config key.
    let e = config_error(Policy::parse("P.toml", "[config.\"*\"]\na = \"b\"\n"));
    assert!(e.contains("it contains `*`"), "{e}");
    assert!(
        Policy::parse(
            "P.toml",
            "[grant.\"*\"]\nclocks = true\n[grant.\"a-b_c.d\"]\nstdio = true\n"
        )
        .is_ok()
    );
}

/// A manifest cannot reach a forbidden address by spelling it another way:
/// every spelling the system resolver accepts is the address, so it
/// overlaps the forbid and refuses the load.
#[test]
fn every_spelling_of_a_forbidden_address_is_refused_at_load() {
    let p = Policy::parse(
        "policy.toml",
        r#"
[forbid]
network = [{ host = "169.254.169.254:*", use = "http" }]
[grant."*"]
network = ["*:80"]
"#,
    )
    .unwrap();
    for spelling in [
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        "169.254.169.254.",
    ] {
        let m = manifest(&format!("[capabilities]\nnetwork = [\"{spelling}:80\"]\n"));
        let err = p
            .evaluate(
                &Subject::named("reporter"),
                Some(&m),
                &[],
                &Limits::unlimited(),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "requests `http 169.254.169.254:80`, forbidden by `http 169.254.169.254:*`"
            ),
            "{spelling}: {err}"
        );
    }
    // A name is not refused at load: it is checked on the addresses it
    // resolves to when it connects, with the forbid in the effective set.
    let m = manifest("[capabilities]\nnetwork = [\"metadata.example:80\"]\n");
    let e = p
        .evaluate(
            &Subject::named("reporter"),
            Some(&m),
            &[],
            &Limits::unlimited(),
        )
        .unwrap();
    let request = airssys_wasm_core::Request::Connect {
        host: "metadata.example",
        port: 80,
        kind: NetKind::Http,
    };
    let metadata: std::net::IpAddr = "169.254.169.254".parse().unwrap();
    assert!(e.capabilities.allows(&request).is_allowed());
    assert!(
        !e.capabilities
            .allows_connection(&request, metadata)
            .is_allowed()
    );
}
