//! The host's state directory: what survives a restart, owner-only.
//!
//! ```text
//! DIR/                  mode 0700
//!   registry.redb       versions, their bytes, deployments and routes
//!   kv.redb             the components' key-value data
//!   audit.log           the chained audit log (and audit.log.head)
//!   audit.key           its chain key (0600)
//!   host.key, host.pub  the host's signing key (0600), which signs the log
//!   admin.token         the bearer token of the admin API on TCP (0600)
//!   cache/              compiled artifacts, authenticated (0700)
//!   admin.sock          the admin API's Unix socket (0600)
//! ```

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use airssys_wasm::security::signing::KeyPair;

use crate::error::{HostError, Result};

/// An opened state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Opens `root`, creating it (mode 0700) when missing. An existing
    /// directory that others can read, write or enter is refused: its
    /// secrets would not be the host's alone.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        match fs::symlink_metadata(&root) {
            Ok(meta) => {
                if !meta.is_dir() {
                    return Err(HostError::State(format!(
                        "{} is not a directory",
                        root.display()
                    )));
                }
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(HostError::State(format!(
                        "{} is open to other users (mode {mode:o}); a host's state holds its keys: `chmod 700 {}`",
                        root.display(),
                        root.display()
                    )));
                }
            }
            Err(_) => {
                fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
                fs::set_permissions(&root, fs::Permissions::from_mode(0o700))
                    .map_err(|e| io(&root, e))?;
            }
        }
        let dir = Self { root };
        let cache = dir.cache();
        if !cache.exists() {
            fs::create_dir(&cache).map_err(|e| io(&cache, e))?;
            fs::set_permissions(&cache, fs::Permissions::from_mode(0o700))
                .map_err(|e| io(&cache, e))?;
        }
        Ok(dir)
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The lifecycle's registry.
    pub fn registry(&self) -> PathBuf {
        self.root.join("registry.redb")
    }

    /// The key-value store.
    pub fn kv(&self) -> PathBuf {
        self.root.join("kv.redb")
    }

    /// The audit log.
    pub fn audit_log(&self) -> PathBuf {
        self.root.join("audit.log")
    }

    /// The compiled-artifact cache.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The admin socket's default path.
    pub fn socket(&self) -> PathBuf {
        self.root.join("admin.sock")
    }

    /// The audit log's chain key, made on first use.
    pub fn chain_key(&self) -> Result<[u8; 32]> {
        let text = self.secret("audit.key", || hex(&random32()))?;
        KeyPair::public_from_hex(text.trim()).ok_or_else(|| {
            HostError::State(format!(
                "{} is not a chain key (64 hex digits)",
                self.root.join("audit.key").display()
            ))
        })
    }

    /// The host's signing key, made on first use (its public half beside
    /// it as `host.pub`, for `audit verify --pubkey`).
    pub fn signing_key(&self) -> Result<KeyPair> {
        let text = self.secret("host.key", || KeyPair::from_seed(random32()).secret_hex())?;
        let key = KeyPair::from_hex(text.trim()).ok_or_else(|| {
            HostError::State(format!(
                "{} is not a secret key (64 hex digits)",
                self.root.join("host.key").display()
            ))
        })?;
        let public = self.root.join("host.pub");
        if !public.exists() {
            fs::write(&public, format!("{}\n", key.public_hex())).map_err(|e| io(&public, e))?;
        }
        Ok(key)
    }

    /// The admin API's bearer token (for TCP), made on first use.
    pub fn token(&self) -> Result<String> {
        Ok(self
            .secret("admin.token", || hex(&random32()))?
            .trim()
            .to_owned())
    }

    /// Reads secret `name`, writing `make()` first when it is missing. The
    /// file is created owner-only and refused when others can read it.
    fn secret(&self, name: &str, make: impl FnOnce() -> String) -> Result<String> {
        let path = self.root.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(format!("{}\n", make()).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| io(&path, e))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(&path, e)),
        }
        let meta = fs::symlink_metadata(&path).map_err(|e| io(&path, e))?;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return Err(HostError::State(format!(
                "{} must be a file only its owner can read (`chmod 600 {}`)",
                path.display(),
                path.display()
            )));
        }
        fs::read_to_string(&path).map_err(|e| io(&path, e))
    }
}

fn random32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    bytes
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io(path: &Path, e: std::io::Error) -> HostError {
    HostError::State(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_and_its_secrets_are_owner_only_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDir::open(tmp.path().join("state")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.root()), 0o700);
        assert_eq!(mode(&dir.cache()), 0o700);
        let token = dir.token().unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(dir.token().unwrap(), token, "the token is kept");
        let key = dir.chain_key().unwrap();
        assert_eq!(dir.chain_key().unwrap(), key);
        let signing = dir.signing_key().unwrap();
        assert_eq!(
            dir.signing_key().unwrap().public_key(),
            signing.public_key()
        );
        for secret in ["admin.token", "audit.key", "host.key"] {
            assert_eq!(mode(&dir.root().join(secret)), 0o600, "{secret}");
        }
    }

    #[test]
    fn a_directory_or_secret_open_to_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("state");
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let e = StateDir::open(&root).unwrap_err().to_string();
        assert!(e.contains("chmod 700"), "{e}");
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();
        let dir = StateDir::open(&root).unwrap();
        dir.token().unwrap();
        fs::set_permissions(root.join("admin.token"), fs::Permissions::from_mode(0o644)).unwrap();
        let e = dir.token().unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}
