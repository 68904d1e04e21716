//! The cache refuses what it did not write, and keeps its key private.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use airssys_wasm_core::Digest;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

use super::{ArtifactCache, CacheDir, KEY_FILE, Loaded, private};

/// The cache in `dir` for `engine`, as a backend makes it.
fn open(dir: PathBuf, engine: &Engine) -> airssys_wasm_core::Result<ArtifactCache> {
    let dir = std::sync::Arc::new(CacheDir::open(dir)?);
    Ok(ArtifactCache::new(dir, engine))
}

fn engine() -> Engine {
    let mut c = Config::new();
    c.wasm_component_model(true);
    Engine::new(&c).unwrap()
}

/// A component whose export `f` returns `n`.
fn returning(n: u32) -> (Vec<u8>, Digest) {
    let bytes = wat::parse_str(format!(
        r#"(component
            (core module $m (func (export "f") (result i32) i32.const {n}))
            (core instance $i (instantiate $m))
            (func (export "f") (result u32) (canon lift (core func $i "f"))))"#
    ))
    .unwrap();
    let digest = Digest::of(&bytes);
    (bytes, digest)
}

/// What `f` of the component returns.
fn call_f(engine: &Engine, component: &Component) -> u32 {
    let mut store = Store::new(engine, ());
    let instance = Linker::new(engine)
        .instantiate(&mut store, component)
        .unwrap();
    let f = instance
        .get_typed_func::<(), (u32,)>(&mut store, "f")
        .unwrap();
    f.call(&mut store, ()).unwrap().0
}

fn load(cache: &ArtifactCache, engine: &Engine, (bytes, digest): &(Vec<u8>, Digest)) -> Loaded {
    cache.load_or_compile(engine, bytes, *digest).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn refusal(loaded: &Loaded) -> &str {
    assert!(!loaded.from_cache, "a refused artifact is not used");
    loaded.refusal.as_deref().expect("the refusal is reported")
}

/// A cache in a fresh directory, the victim's component (returns 1) with
/// its artifact stored, and the victim's artifact path.
fn cache_with_victim() -> (
    tempfile::TempDir,
    Engine,
    ArtifactCache,
    (Vec<u8>, Digest),
    PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache = open(dir.path().join("cache"), &engine).unwrap();
    let victim = returning(1);
    let first = load(&cache, &engine, &victim);
    assert!(!first.from_cache && first.refusal.is_none());
    let path = cache.path(victim.1);
    assert!(path.is_file());
    (dir, engine, cache, victim, path)
}

/// The refused artifact was replaced: the next load takes the code from
/// the cache, and it is the victim's.
fn assert_replaced(cache: &ArtifactCache, engine: &Engine, victim: &(Vec<u8>, Digest)) {
    let again = load(cache, engine, victim);
    assert!(again.from_cache, "the replaced artifact is used");
    assert!(again.refusal.is_none());
    assert_eq!(call_f(engine, &again.component), 1);
}

#[test]
fn the_directory_is_made_private_and_its_key_is_0600_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("a/b");
    let engine = engine();
    let cache = open(cache_dir.clone(), &engine).unwrap();
    assert_eq!(mode(&cache_dir), 0o700);
    let key = cache_dir.join(KEY_FILE);
    assert_eq!(mode(&key), 0o600, "the key is private");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    let victim = returning(1);
    load(&cache, &engine, &victim);
    assert_eq!(mode(&cache.path(victim.1)), 0o600);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(&cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // A later cache on the directory reads the same key, never a new one:
    // the artifact's tag still holds.
    let before = std::fs::read(&key).unwrap();
    let later = open(cache_dir, &engine).unwrap();
    assert_eq!(std::fs::read(&key).unwrap(), before);
    assert!(load(&later, &engine, &victim).from_cache);
}

#[test]
fn another_components_artifact_planted_under_the_victims_name_is_refused() {
    let (_dir, engine, cache, victim, path) = cache_with_victim();
    let attacker = returning(2);
    load(&cache, &engine, &attacker);
    // A valid artifact, with a valid tag, of another component.
    std::fs::copy(cache.path(attacker.1), &path).unwrap();
    let loaded = load(&cache, &engine, &victim);
    let why = refusal(&loaded);
    assert!(why.contains("authentication tag does not match"), "{why}");
    assert!(why.contains(&path.display().to_string()), "{why}");
    assert!(why.contains("replaced the file"), "{why}");
    // The victim's own code, compiled from its bytes.
    assert_eq!(call_f(&engine, &loaded.component), 1);
    assert_replaced(&cache, &engine, &victim);
}

#[test]
fn a_flipped_byte_is_refused() {
    let (_dir, engine, cache, victim, path) = cache_with_victim();
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let why = refusal(&load(&cache, &engine, &victim)).to_owned();
    assert!(why.contains("authentication tag does not match"), "{why}");
    assert_replaced(&cache, &engine, &victim);
}

#[test]
fn a_truncated_file_is_refused() {
    let (_dir, engine, cache, victim, path) = cache_with_victim();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let why = refusal(&load(&cache, &engine, &victim)).to_owned();
    assert!(why.contains("authentication tag does not match"), "{why}");
    std::fs::write(&path, &bytes[..10]).unwrap();
    let why = refusal(&load(&cache, &engine, &victim)).to_owned();
    assert!(why.contains("10 bytes, too few"), "{why}");
    assert_replaced(&cache, &engine, &victim);
}

#[test]
fn an_artifact_made_with_another_hosts_key_is_refused() {
    let (_dir, engine, cache, victim, path) = cache_with_victim();
    let elsewhere = tempfile::tempdir().unwrap();
    let other = open(elsewhere.path().join("cache"), &engine).unwrap();
    load(&other, &engine, &victim);
    // The same component, the same engine: only the key differs.
    std::fs::copy(other.path(victim.1), &path).unwrap();
    let why = refusal(&load(&cache, &engine, &victim)).to_owned();
    assert!(why.contains("authentication tag does not match"), "{why}");
    assert_replaced(&cache, &engine, &victim);
}

#[test]
fn a_symbolic_link_at_the_artifacts_name_is_not_followed() {
    let (dir, engine, cache, victim, path) = cache_with_victim();
    // Even a link to the victim's own valid artifact is refused: what is
    // read must be the file in the cache.
    let target = dir.path().join("elsewhere.cwasm");
    std::fs::rename(&path, &target).unwrap();
    let original = std::fs::read(&target).unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let why = refusal(&load(&cache, &engine, &victim)).to_owned();
    assert!(why.contains("symbolic link"), "{why}");
    // The link itself was replaced; what it pointed to is untouched.
    assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    assert_eq!(std::fs::read(&target).unwrap(), original);
    assert_replaced(&cache, &engine, &victim);
}

#[test]
fn a_fifo_at_the_artifacts_name_is_refused_without_blocking() {
    let (_dir, engine, cache, victim, path) = cache_with_victim();
    std::fs::remove_file(&path).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        0,
    )
    .unwrap();
    let why = refusal(&load(&cache, &engine, &victim)).to_owned();
    assert!(why.contains("not a regular file"), "{why}");
    assert_replaced(&cache, &engine, &victim);
}

#[test]
fn a_directory_writable_by_group_or_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    for (mode, shown) in [(0o770, "0770"), (0o702, "0702"), (0o777, "0777")] {
        let cache_dir = dir.path().join(format!("c{mode:o}"));
        std::fs::create_dir(&cache_dir).unwrap();
        std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = open(cache_dir.clone(), &engine)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("writable by group or others") && err.contains(shown),
            "{err}"
        );
        assert!(err.contains(&cache_dir.display().to_string()), "{err}");
        assert!(
            !cache_dir.join(KEY_FILE).exists(),
            "nothing is written there"
        );
    }
    // Readable by others is fine: artifacts are not secret, the key is 0600.
    let readable = dir.path().join("readable");
    std::fs::create_dir(&readable).unwrap();
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o755)).unwrap();
    open(readable, &engine).unwrap();
}

#[test]
fn a_symbolic_link_as_the_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let err = open(link, &engine()).err().expect("refused").to_string();
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn a_key_that_others_can_read_or_that_is_a_link_or_the_wrong_size_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine();
    let cache_dir = dir.path().join("cache");
    open(cache_dir.clone(), &engine).unwrap();
    let key = cache_dir.join(KEY_FILE);
    let refused = || {
        open(cache_dir.clone(), &engine)
            .err()
            .expect("refused")
            .to_string()
    };
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refused();
    assert!(
        err.contains("readable or writable by group or others (mode 0644)"),
        "{err}"
    );
    assert!(err.contains(&key.display().to_string()), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let saved = std::fs::read(&key).unwrap();
    std::fs::write(&key, b"short").unwrap();
    let err = refused();
    assert!(err.contains("5 bytes, a key has 32"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), b"short", "never replaced");

    let elsewhere = dir.path().join("other.key");
    std::fs::write(&elsewhere, &saved).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&key).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &key).unwrap();
    let err = refused();
    assert!(err.contains("symbolic link"), "{err}");
}

#[test]
fn a_file_of_another_user_is_refused_naming_both_users() {
    let err =
        private::check_owner_and_mode("compiled-artifact cache directory", 1000, 0o40700, 0, 0o022)
            .unwrap_err();
    assert!(
        err.contains("owned by uid 1000, not by this process's user (uid 0)"),
        "{err}"
    );
    assert!(private::check_owner_and_mode("x", 7, 0o40755, 7, 0o022).is_ok());
    let err = private::check_owner_and_mode("x", 7, 0o100640, 7, 0o077).unwrap_err();
    assert!(
        err.contains("(mode 0640)") && err.contains("(mode 0600)"),
        "{err}"
    );
}

#[test]
fn a_cache_directory_owned_by_another_user_is_refused() {
    // Only root can give a directory away; elsewhere the check above
    // covers the rule.
    if rustix::process::geteuid().as_raw() != 0 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("theirs");
    std::fs::create_dir(&cache_dir).unwrap();
    std::os::unix::fs::chown(&cache_dir, Some(65534), None).unwrap();
    let err = open(cache_dir, &engine())
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("owned by uid 65534"), "{err}");
}
