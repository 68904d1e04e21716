//! The file resolver: paths resolved beneath a grant's directory handle,
//! links followed only where they stay beneath it, effects on handles.
#![cfg(unix)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use airssys_wasm_core::capability::{FileRights, PathGlob};
use airssys_wasm_core::files::{self, Kind, Links, OpenOptions, ResolveError};
use airssys_wasm_core::{Capability, CapabilitySet};

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    /// `root/granted` (with `ok.txt`) and `root/secret` (with `key`).
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("granted/sub")).unwrap();
        std::fs::create_dir_all(root.join("secret")).unwrap();
        std::fs::write(root.join("secret/key"), "k").unwrap();
        std::fs::write(root.join("granted/ok.txt"), "ok").unwrap();
        Self { _dir: dir, root }
    }

    fn p(&self, rel: &str) -> String {
        self.root.join(rel).display().to_string()
    }

    fn granted(&self, rights: FileRights) -> CapabilitySet {
        let glob = PathGlob::new(&format!("{}/**", self.p("granted"))).unwrap();
        CapabilitySet::new().with(Capability::files(glob, rights))
    }
}

fn escapes(r: Result<files::Target, ResolveError>) -> bool {
    matches!(r, Err(ResolveError::Escapes { .. }))
}

#[test]
fn links_inside_the_grant_are_followed_and_their_path_is_reported() {
    let t = Tree::new();
    let caps = t.granted(FileRights::READ);
    symlink("ok.txt", t.root.join("granted/inner")).unwrap();
    symlink("../ok.txt", t.root.join("granted/sub/up")).unwrap();
    for link in ["granted/inner", "granted/sub/up"] {
        let r = files::resolve(&caps, &t.p(link), Links::Follow).unwrap();
        assert_eq!(r.path(), t.p("granted/ok.txt"), "{link}");
        assert_eq!(r.kind(), Some(Kind::File));
        let mut s = String::new();
        std::io::Read::read_to_string(&mut r.open(OpenOptions::new().read(true)).unwrap(), &mut s)
            .unwrap();
        assert_eq!(s, "ok");
    }
}

#[test]
fn links_out_of_the_grant_are_refused_in_every_spelling() {
    let t = Tree::new();
    let caps = t.granted(FileRights::ALL);
    symlink(t.root.join("secret/key"), t.root.join("granted/abs")).unwrap();
    symlink("../secret", t.root.join("granted/rel")).unwrap();
    symlink("../../out/pwned", t.root.join("granted/sub/dangling")).unwrap();
    symlink("/", t.root.join("granted/evil")).unwrap();
    for (path, links) in [
        ("granted/abs", Links::Follow),
        ("granted/rel/key", Links::Follow),
        ("granted/rel/new", Links::Follow),
        ("granted/sub/dangling", Links::Follow),
        ("granted/sub/dangling/", Links::Follow),
        ("granted/sub/x/../dangling", Links::Follow),
        ("granted/evil/etc/passwd", Links::Follow),
        ("granted/evil/etc", Links::KeepLast),
    ] {
        let r = files::resolve(&caps, &t.p(path), links);
        assert!(escapes(r), "{path} must not resolve out of the grant");
    }
    assert!(!t.root.join("out").exists());
}

#[test]
fn a_dangling_link_is_never_created_through() {
    let t = Tree::new();
    let caps = t.granted(FileRights::ALL);
    // Dangling, but pointing inside the grant: the target is reported, and
    // creating the link's own entry fails (O_EXCL), it is not written through.
    symlink("later.txt", t.root.join("granted/pending")).unwrap();
    let r = files::resolve(&caps, &t.p("granted/pending"), Links::KeepLast).unwrap();
    assert_eq!(r.kind(), Some(Kind::Link));
    let err = r.create_new().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(!t.root.join("granted/later.txt").exists());
    // Followed, it names its missing target, which must be checked.
    let r = files::resolve(&caps, &t.p("granted/pending"), Links::Follow).unwrap();
    assert_eq!(r.kind(), None);
    assert_eq!(r.path(), t.p("granted/later.txt"));
}

#[test]
fn an_entry_swapped_for_a_link_after_resolving_is_not_followed() {
    let t = Tree::new();
    let caps = t.granted(FileRights::ALL);
    let r = files::resolve(&caps, &t.p("granted/ok.txt"), Links::Follow).unwrap();
    // The race: between the check and the open, the file becomes a link.
    std::fs::remove_file(t.root.join("granted/ok.txt")).unwrap();
    symlink(t.root.join("secret/key"), t.root.join("granted/ok.txt")).unwrap();
    assert!(r.open(OpenOptions::new().read(true)).is_err());
    assert!(r.open(OpenOptions::new().write(true)).is_err());
    assert_eq!(
        std::fs::read_to_string(t.root.join("secret/key")).unwrap(),
        "k"
    );
    // A directory on the way swapped for a link after it was opened: the
    // handle still names the real directory.
    let r = files::resolve(&caps, &t.p("granted/sub/new.txt"), Links::Follow).unwrap();
    std::fs::rename(t.root.join("granted/sub"), t.root.join("granted/moved")).unwrap();
    symlink(t.root.join("secret"), t.root.join("granted/sub")).unwrap();
    r.create_new().unwrap();
    assert!(t.root.join("granted/moved/new.txt").exists());
    assert!(!t.root.join("secret/new.txt").exists());
}

#[test]
fn a_preopen_directory_is_real_all_the_way_below_its_root() {
    let t = Tree::new();
    let caps = t.granted(FileRights::ALL);
    symlink("..", t.root.join("granted/up")).unwrap();
    symlink("sub", t.root.join("granted/alias")).unwrap();
    for path in ["granted/up", "granted/alias"] {
        let e = files::open_dir_within(&caps, &t.p(path)).unwrap_err();
        assert!(e.is_refusal(), "{path}: {e}");
    }
    let d = files::open_dir_within(&caps, &t.p("granted/sub")).unwrap();
    assert!(d.entries().unwrap().next().is_none());
    assert!(files::open_dir_within(&caps, &t.p("granted/ok.txt")).is_err());
}

#[test]
fn a_narrower_request_is_resolved_beneath_the_operators_directory() {
    // The policy granted `granted/**`; the manifest asked `granted/evil/**`,
    // where `evil` is a link to `/` the guest made: the root is the
    // operator's directory, and `evil` leads out of it.
    let t = Tree::new();
    symlink("/", t.root.join("granted/evil")).unwrap();
    let operator = Capability::files(
        PathGlob::new(&format!("{}/**", t.p("granted"))).unwrap(),
        FileRights::ALL,
    );
    let asked = Capability::files(
        PathGlob::new(&format!("{}/**", t.p("granted/evil"))).unwrap(),
        FileRights::READ,
    );
    let mut caps = CapabilitySet::new();
    caps.grant_within(asked, &operator);
    assert_eq!(caps.roots().collect::<Vec<_>>(), [t.p("granted")]);
    assert!(
        files::open_dir_within(&caps, &t.p("granted/evil"))
            .unwrap_err()
            .is_refusal()
    );
    assert!(escapes(files::resolve(
        &caps,
        &t.p("granted/evil/etc/passwd"),
        Links::Follow
    )));
}

#[test]
fn paths_outside_every_root_and_link_loops_are_refused() {
    let t = Tree::new();
    let caps = t.granted(FileRights::READ);
    assert!(matches!(
        files::resolve(&caps, &t.p("secret/key"), Links::Follow),
        Err(ResolveError::NoRoot { .. })
    ));
    assert!(matches!(
        files::resolve(&caps, "relative/path", Links::Follow),
        Err(ResolveError::NoRoot { .. })
    ));
    symlink("b", t.root.join("granted/a")).unwrap();
    symlink("a", t.root.join("granted/b")).unwrap();
    assert!(matches!(
        files::resolve(&caps, &t.p("granted/a"), Links::Follow),
        Err(ResolveError::TooManyLinks { .. })
    ));
    assert!(Path::new(&t.p("granted")).is_dir());
}
