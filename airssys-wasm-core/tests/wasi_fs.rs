//! The WASI filesystem both backends serve: every right is checked at the
//! moment of use, every decision recorded, nothing outside the grants
//! reachable by `..` or by links.

use std::path::Path;
use std::sync::Arc;

use airssys_wasm_core::capability::{FileOp, FileRights, PathGlob};
use airssys_wasm_core::wasi::fs::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, WasiFs};
use airssys_wasm_core::{AuditKind, Capability, CapabilitySet, MemorySink};

struct Setup {
    _dir: tempfile::TempDir,
    root: String,
    fs: WasiFs,
    audit: Arc<MemorySink>,
}

impl Setup {
    /// A directory with `a.txt`, `b.json` and `sub/c.txt`, and a
    /// filesystem under grants of `(pattern below the directory, rights)`.
    fn new(grants: &[(&str, &[FileOp])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap().display().to_string();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("b.json"), "{}").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/c.txt"), "c").unwrap();
        let mut caps = CapabilitySet::new();
        for (pattern, rights) in grants {
            caps.grant(Capability::files(
                PathGlob::new(&format!("{root}/{pattern}")).unwrap(),
                FileRights::of(rights),
            ));
        }
        let audit = Arc::new(MemorySink::new());
        let fs = WasiFs::open("t".into(), Arc::new(caps), audit.clone()).unwrap();
        Self {
            _dir: dir,
            root,
            fs,
            audit,
        }
    }

    fn preopen(&self) -> Descriptor {
        self.preopen_of("")
    }

    /// The one preopen, which must be the directory `below` the root.
    fn preopen_of(&self, below: &str) -> Descriptor {
        let mut p = self.fs.preopens().unwrap();
        assert_eq!(p.len(), 1, "one preopen");
        let (d, guest) = p.remove(0);
        let want = if below.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{below}", self.root)
        };
        assert_eq!(guest, want);
        d
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        Path::new(&self.root).join(name)
    }

    fn denied(&self, request: &str) -> bool {
        let request = request.replace("ROOT", &self.root);
        self.audit.events().iter().any(
            |e| matches!(&e.kind, AuditKind::CapabilityDenied { request: r, .. } if *r == request),
        )
    }
}

const READ: DescriptorFlags = DescriptorFlags {
    read: true,
    write: false,
    mutate_directory: false,
};
const WRITE: DescriptorFlags = DescriptorFlags {
    read: false,
    write: true,
    mutate_directory: true,
};
const CREATE: OpenFlags = OpenFlags {
    create: true,
    directory: false,
    exclusive: false,
    truncate: true,
};

fn code<T: std::fmt::Debug>(r: Result<T, airssys_wasm_core::wasi::fs::FsError>) -> ErrorCode {
    r.unwrap_err().code().expect("a code for the guest")
}

#[test]
fn each_operation_needs_its_own_right() {
    let s = Setup::new(&[("*.txt", &[FileOp::Read, FileOp::Create])]);
    let d = s.preopen();
    // Create a new file: yes. Replace an existing one: that is `write`.
    let f = s.fs.open_at(&d, false, "new.txt", CREATE, WRITE).unwrap();
    f.write(b"made", 0).unwrap();
    assert_eq!(std::fs::read_to_string(s.path("new.txt")).unwrap(), "made");
    assert_eq!(
        code(s.fs.open_at(&d, false, "a.txt", CREATE, WRITE)),
        ErrorCode::Access
    );
    assert!(s.denied("write ROOT/a.txt"));
    assert_eq!(std::fs::read_to_string(s.path("a.txt")).unwrap(), "a");
    // Delete: not granted.
    assert_eq!(code(s.fs.unlink_file_at(&d, "a.txt")), ErrorCode::Access);
    assert!(s.denied("delete ROOT/a.txt"));
    assert!(s.path("a.txt").exists());
    // A directory is made with `create` where the pattern matches it.
    assert_eq!(code(s.fs.create_directory_at(&d, "dir")), ErrorCode::Access);
    assert!(s.denied("create ROOT/dir"));
}

#[test]
fn nothing_outside_the_grants_is_seen_or_touched() {
    let s = Setup::new(&[("sub/*.txt", &[FileOp::Read])]);
    let d = s.preopen_of("sub");
    // The preopen is the grant's directory (`sub`) itself.
    assert_eq!(
        s.fs.read_directory(&d)
            .unwrap()
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["c.txt"]
    );
    // `..` may not climb above the preopen; the attempt is recorded.
    assert_eq!(
        code(s.fs.open_at(&d, false, "../a.txt", OpenFlags::default(), READ)),
        ErrorCode::NotPermitted
    );
    assert!(s.denied("read ROOT/a.txt"));
    assert_eq!(
        code(s.fs.stat_at(&d, false, "/etc/passwd")),
        ErrorCode::NotPermitted
    );
}

#[test]
fn directories_on_the_way_to_granted_files_can_be_walked() {
    let s = Setup::new(&[("**/c.txt", &[FileOp::Read])]);
    let d = s.preopen();
    let names = |d: &Descriptor| -> Vec<String> {
        s.fs.read_directory(d)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect()
    };
    // `a.txt` and `b.json` do not match; `sub` may hold matches.
    assert_eq!(names(&d), ["sub"]);
    let open_dir = OpenFlags {
        directory: true,
        ..OpenFlags::default()
    };
    let sub = s.fs.open_at(&d, false, "sub", open_dir, READ).unwrap();
    assert_eq!(names(&sub), ["c.txt"]);
    let c =
        s.fs.open_at(&sub, false, "c.txt", OpenFlags::default(), READ)
            .unwrap();
    assert_eq!(c.read(10, 0).unwrap().0, b"c");
    assert_eq!(
        code(s.fs.open_at(&d, false, "a.txt", OpenFlags::default(), READ)),
        ErrorCode::Access
    );
}

#[test]
fn a_link_is_checked_where_it_leads() {
    let s = Setup::new(&[("a.txt", &[FileOp::Read]), ("link", &[FileOp::Read])]);
    std::os::unix::fs::symlink(s.path("b.json"), s.path("link")).unwrap();
    let d = s.preopen();
    // `link` is granted, but it leads to `b.json`, which is not.
    assert_eq!(
        code(s.fs.open_at(&d, true, "link", OpenFlags::default(), READ)),
        ErrorCode::Access
    );
    assert!(s.denied("read ROOT/b.json"));
    // A link out of the preopen is refused outright.
    std::fs::remove_file(s.path("link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", s.path("link")).unwrap();
    assert_eq!(
        code(s.fs.open_at(&d, true, "link", OpenFlags::default(), READ)),
        ErrorCode::NotPermitted
    );
    assert!(s.denied("read /etc/passwd"));
}

#[test]
fn a_rename_needs_delete_at_the_source_and_create_at_the_destination() {
    let all = [FileOp::Read, FileOp::Write, FileOp::Create, FileOp::Delete];
    let s = Setup::new(&[("*.txt", &all), ("*.json", &[FileOp::Read])]);
    let d = s.preopen();
    s.fs.rename_at(&d, "a.txt", &d, "moved.txt").unwrap();
    assert!(s.path("moved.txt").exists() && !s.path("a.txt").exists());
    assert_eq!(
        code(s.fs.rename_at(&d, "b.json", &d, "b.txt")),
        ErrorCode::Access
    );
    assert!(s.denied("delete ROOT/b.json"));
    assert_eq!(
        code(s.fs.rename_at(&d, "moved.txt", &d, "x.json")),
        ErrorCode::Access
    );
    assert!(s.denied("create ROOT/x.json"));
    assert!(s.path("moved.txt").exists() && s.path("b.json").exists());
}

#[test]
fn a_read_only_descriptor_writes_nothing_even_where_the_grant_would() {
    let all = [FileOp::Read, FileOp::Write, FileOp::Create, FileOp::Delete];
    let s = Setup::new(&[("**", &all)]);
    let d = s.preopen();
    let f =
        s.fs.open_at(&d, false, "a.txt", OpenFlags::default(), READ)
            .unwrap();
    assert_eq!(code(f.write(b"x", 0)), ErrorCode::ReadOnly);
    let open_dir = OpenFlags {
        directory: true,
        ..OpenFlags::default()
    };
    let sub = s.fs.open_at(&d, false, "sub", open_dir, READ).unwrap();
    assert_eq!(
        code(s.fs.unlink_file_at(&sub, "c.txt")),
        ErrorCode::NotPermitted
    );
    assert!(s.path("sub/c.txt").exists());
}
