//! Files only the host's user may touch: the cache directory, its key, and
//! the artifacts in it.
//!
//! Unix only: owners and modes are how the cache knows that nobody else can
//! write its directory or read its key. Elsewhere the cache is refused at
//! construction rather than used unchecked.

use std::fs::File;
use std::io;
use std::path::Path;

/// The bytes of the per-host secret.
pub(super) const KEY_LEN: usize = 32;

/// Mode bits that make a cache directory unsafe: written by group or others.
#[cfg(unix)]
const DIR_FORBIDDEN: u32 = 0o022;
/// Mode bits that make the key unsafe: any access by group or others.
#[cfg(unix)]
const KEY_FORBIDDEN: u32 = 0o077;

/// `Ok` when a file of `owner` and `mode` may serve as `what`: owned by
/// `euid` (this process's user) and with none of the `forbidden` mode bits;
/// otherwise the reason, in words.
#[cfg(any(unix, test))]
pub(super) fn check_owner_and_mode(
    what: &str,
    owner: u32,
    mode: u32,
    euid: u32,
    forbidden: u32,
) -> Result<(), String> {
    if owner != euid {
        return Err(format!(
            "refusing this {what}: it is owned by uid {owner}, not by this process's user \
             (uid {euid})"
        ));
    }
    if mode & forbidden != 0 {
        let access = if forbidden & 0o044 != 0 {
            "readable or writable"
        } else {
            "writable"
        };
        return Err(format!(
            "refusing this {what}: it is {access} by group or others (mode {:04o}); only its \
             owner may have access (mode {:04o})",
            mode & 0o7777,
            mode & 0o7777 & !forbidden
        ));
    }
    Ok(())
}

fn refused(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, message)
}

/// A name no one can guess: `prefix`, 16 random hex digits, `.tmp`.
pub(super) fn random_name(prefix: &str) -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("no entropy: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}.{hex}.tmp"))
}

/// Creates `dir` (mode 0700) if it is missing; refuses it when it is a
/// symbolic link, not a directory, owned by another user, or writable by
/// group or others.
#[cfg(unix)]
pub(super) fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        return Err(refused(
            "refusing this compiled-artifact cache directory: it is a symbolic link (give the \
             directory's own path)"
                .into(),
        ));
    }
    if !meta.is_dir() {
        return Err(refused(
            "refusing this compiled-artifact cache directory: it is not a directory".into(),
        ));
    }
    check_owner_and_mode(
        "compiled-artifact cache directory",
        meta.uid(),
        meta.mode(),
        euid(),
        DIR_FORBIDDEN,
    )
    .map_err(refused)
}

#[cfg(not(unix))]
pub(super) fn private_dir(_dir: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the compiled-artifact cache needs Unix owners and modes to keep its directory and key \
         private; it is not available on this platform",
    ))
}

#[cfg(unix)]
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Opens `path` for reading without following a symbolic link at its last
/// component (and without blocking on a FIFO planted there).
#[cfg(unix)]
pub(super) fn open_no_follow(path: &Path) -> io::Result<File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((OFlags::NOFOLLOW | OFlags::NONBLOCK).bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
pub(super) fn open_no_follow(_path: &Path) -> io::Result<File> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Whether `e` is what [`open_no_follow`] fails with on a symbolic link.
pub(super) fn is_symlink_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        // Linux says ELOOP; FreeBSD and NetBSD say EMLINK.
        [Errno::LOOP, Errno::MLINK]
            .iter()
            .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Creates `path`, which must not exist (`O_EXCL`: not even as a symbolic
/// link), readable and writable by its owner only.
#[cfg(unix)]
pub(super) fn create_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
pub(super) fn create_private(_path: &Path) -> io::Result<File> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The per-host secret in `path`, created if it does not exist yet.
///
/// A new key is written to a file of a random name first and linked to
/// `path` whole (a link never replaces an existing file): two processes
/// starting at once agree on one key, and none reads a half-written one.
/// An existing key must be a regular file (not a symbolic link) of exactly
/// [`KEY_LEN`] bytes, owned by this process's user, with no access for
/// group or others; anything else is refused, never replaced.
#[cfg(unix)]
pub(super) fn host_key(path: &Path) -> io::Result<[u8; KEY_LEN]> {
    // Two rounds: the second reads a key another process linked in first.
    for _ in 0..2 {
        match open_no_follow(path) {
            Ok(file) => return read_key(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) if is_symlink_refusal(&e) => {
                return Err(refused(
                    "refusing this compiled-artifact cache key: it is a symbolic link".into(),
                ));
            }
            Err(e) => return Err(e),
        }
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| io::Error::other(format!("no entropy: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let tmp = dir.join(random_name(".cache.key")?);
        let linked = create_private(&tmp).and_then(|mut f| {
            use std::io::Write;
            f.write_all(&key)?;
            f.sync_all()?;
            std::fs::hard_link(&tmp, path)
        });
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(key),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(
        "the compiled-artifact cache key appeared and disappeared while it was being read",
    ))
}

#[cfg(not(unix))]
pub(super) fn host_key(_path: &Path) -> io::Result<[u8; KEY_LEN]> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(unix)]
fn read_key(mut file: File) -> io::Result<[u8; KEY_LEN]> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    // The checks are made on the open file: what is read is what was checked.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(
            "refusing this compiled-artifact cache key: it is not a regular file".into(),
        ));
    }
    check_owner_and_mode(
        "compiled-artifact cache key",
        meta.uid(),
        meta.mode(),
        euid(),
        KEY_FORBIDDEN,
    )
    .map_err(refused)?;
    if meta.len() != KEY_LEN as u64 {
        return Err(refused(format!(
            "refusing this compiled-artifact cache key: it has {} bytes, a key has {KEY_LEN} \
             (remove the file to make a new key)",
            meta.len()
        )));
    }
    let mut key = [0u8; KEY_LEN];
    file.read_exact(&mut key)?;
    Ok(key)
}
