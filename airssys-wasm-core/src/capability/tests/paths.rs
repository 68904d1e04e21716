//! Tests of path grants: normalisation, globs and rights, mounts, roots.

use super::*;

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
