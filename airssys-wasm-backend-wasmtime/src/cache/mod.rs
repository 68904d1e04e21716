//! The on-disk cache of compiled components, authenticated.
//!
//! A compiled artifact is native code that wasmtime maps executable without
//! checking it, so the cache trusts an artifact only when it carries a tag
//! that only this host could have made. A cache directory holds:
//!
//! - `cache.key`: the per-host secret, 32 random bytes, made on first use
//!   (mode 0600, never replaced; see [`private::host_key`]);
//! - `<name>.cwasm`: one artifact each, the keyed blake3 hash (the tag) of
//!   [`DOMAIN`], the component's digest, the engine's compatibility key,
//!   the crate's version and the serialised component, then the serialised
//!   component; `<name>` is a hash of the digest, the engine key and the
//!   version;
//! - `.<name>.<random>.tmp`: an artifact being stored, renamed into place
//!   when it is complete.
//!
//! A load opens the artifact without following a symbolic link, reads it
//! into memory, checks the tag, and deserialises the bytes it checked. An
//! artifact that fails (another component's artifact under this name, a
//! changed or missing byte, another key's tag, a link, a FIFO) is refused:
//! the component is compiled from its bytes, the file replaced, and the
//! refusal handed to the runtime to audit
//! ([`airssys_wasm_core::CompiledComponent::cache_refusal`]).

mod private;
#[cfg(all(test, unix))]
mod tests;

use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airssys_wasm_core::{Digest, Error, Result};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The name of the key file in a cache directory.
pub(crate) const KEY_FILE: &str = "cache.key";
/// What the tag of an artifact is the tag of; changes with the format.
const DOMAIN: &[u8] = b"airssys-wasm compiled-artifact cache v1\0";
/// Bytes of the tag in front of each artifact.
const TAG_LEN: usize = 32;
/// The largest artifact read (interpreters compiled to wasm make artifacts
/// of tens of megabytes).
const MAX_ARTIFACT: u64 = 1 << 30;

/// A cache directory checked to be private, and its key.
pub(crate) struct CacheDir {
    dir: PathBuf,
    key: [u8; private::KEY_LEN],
}

impl CacheDir {
    /// Makes `dir` (mode 0700) if it is missing, refuses it if it is not
    /// private to this user, and reads or makes its key.
    pub(crate) fn open(dir: PathBuf) -> Result<Self> {
        let io_error = |path: &Path| {
            let path = path.display().to_string();
            move |source| Error::Io { path, source }
        };
        private::private_dir(&dir).map_err(io_error(&dir))?;
        let key_path = dir.join(KEY_FILE);
        let key = private::host_key(&key_path).map_err(io_error(&key_path))?;
        Ok(Self { dir, key })
    }
}

/// Compiled artifacts of one engine, keyed by component digest and engine
/// configuration, authenticated with the host's key.
pub(crate) struct ArtifactCache {
    dir: Arc<CacheDir>,
    engine_key: [u8; 32],
}

/// What [`ArtifactCache::load_or_compile`] gives.
pub(crate) struct Loaded {
    pub(crate) component: Component,
    /// The code came from the cache.
    pub(crate) from_cache: bool,
    /// Why an artifact in the cache was refused, if one was.
    pub(crate) refusal: Option<String>,
}

/// Feeds what `Hash` writes into blake3 (stable, unlike `DefaultHasher`).
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let hash = self.0.finalize();
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }
}

impl ArtifactCache {
    /// The cache in `dir` for artifacts of `engine`.
    pub(crate) fn new(dir: Arc<CacheDir>, engine: &Engine) -> Self {
        let mut h = Blake3Hasher(blake3::Hasher::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        Self {
            dir,
            engine_key: *h.0.finalize().as_bytes(),
        }
    }

    /// Where the artifact of `digest` lives.
    pub(crate) fn path(&self, digest: Digest) -> PathBuf {
        let mut key = blake3::Hasher::new();
        key.update(&digest.0);
        key.update(&self.engine_key);
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        self.dir
            .dir
            .join(format!("{}.cwasm", &key.finalize().to_hex()[..32]))
    }

    /// The tag of `artifact` as the compiled code of `digest`.
    fn tag(&self, digest: Digest, artifact: &[u8]) -> blake3::Hash {
        let version = env!("CARGO_PKG_VERSION").as_bytes();
        let mut mac = blake3::Hasher::new_keyed(&self.dir.key);
        mac.update(DOMAIN)
            .update(&digest.0)
            .update(&self.engine_key)
            .update(&(version.len() as u64).to_le_bytes())
            .update(version)
            .update(&(artifact.len() as u64).to_le_bytes())
            .update(artifact);
        mac.finalize()
    }

    /// Loads the compiled component for `digest`, or compiles `bytes` and
    /// stores the result.
    // The one place the backend deserialises native code: see the SAFETY
    // comments at each `unsafe` below.
    #[allow(unsafe_code)]
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: Digest,
    ) -> Result<Loaded> {
        let path = self.path(digest);
        let refused = match self.read_checked(&path, digest) {
            Ok(None) => None,
            Ok(Some(file)) => {
                // SAFETY: the bytes carry this host's tag over this digest,
                // engine key and crate version, so they are what
                // `Engine::precompile_component` of a compatible engine
                // produced in `load_or_compile` below; they were read into
                // memory before the check, and it is those bytes that are
                // deserialised. wasmtime checks their header again.
                match unsafe { Component::deserialize(engine, &file[TAG_LEN..]) } {
                    Ok(component) => {
                        return Ok(Loaded {
                            component,
                            from_cache: true,
                            refusal: None,
                        });
                    }
                    Err(e) => Some(format!("wasmtime would not load it ({e:#})")),
                }
            }
            Err(why) => Some(why),
        };
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|e| Error::InvalidComponent(format!("{e:#}")))?;
        let stored = self.store(&path, digest, &compiled);
        if let Err(e) = &stored {
            tracing::warn!(path = %path.display(), error = %e, "cannot store compiled artifact");
        }
        let refusal = refused.map(|why| {
            let after = match &stored {
                Ok(()) => "compiled the component from its bytes and replaced the file".to_owned(),
                Err(e) => {
                    format!("compiled the component from its bytes; replacing the file failed: {e}")
                }
            };
            let refusal = format!("cached artifact {}: {why}; {after}", path.display());
            tracing::debug!(digest = %digest, "{refusal}");
            refusal
        });
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| Error::Backend(format!("{e:#}")))?;
        Ok(Loaded {
            component,
            from_cache: false,
            refusal,
        })
    }

    /// The whole file at `path` when it is an artifact of `digest` with a
    /// valid tag; `None` when there is none; otherwise why it is refused.
    fn read_checked(
        &self,
        path: &Path,
        digest: Digest,
    ) -> std::result::Result<Option<Vec<u8>>, String> {
        let file = match private::open_no_follow(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if private::is_symlink_refusal(&e) => {
                return Err("it is a symbolic link (not followed)".into());
            }
            Err(e) => return Err(format!("it cannot be opened ({e})")),
        };
        let meta = file
            .metadata()
            .map_err(|e| format!("it cannot be examined ({e})"))?;
        if !meta.is_file() {
            return Err("it is not a regular file".into());
        }
        if meta.len() > MAX_ARTIFACT {
            return Err(format!(
                "it has {} bytes, more than an artifact may ({MAX_ARTIFACT})",
                meta.len()
            ));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_ARTIFACT)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("it cannot be read ({e})"))?;
        if bytes.len() < TAG_LEN {
            return Err(format!(
                "it has {} bytes, too few for an authenticated artifact (truncated or not one)",
                bytes.len()
            ));
        }
        let (tag, artifact) = bytes.split_at(TAG_LEN);
        let tag: [u8; TAG_LEN] = tag.try_into().expect("TAG_LEN bytes");
        // blake3::Hash compares in constant time.
        if blake3::Hash::from_bytes(tag) != self.tag(digest, artifact) {
            return Err(
                "its authentication tag does not match: this host's cache did not write \
                 it for this component and engine (another component's artifact, a changed or \
                 truncated file, or another key's)"
                    .into(),
            );
        }
        Ok(Some(bytes))
    }

    /// Stores `artifact` as the compiled code of `digest` at `path`: written
    /// to a new file of a random name (mode 0600), then renamed over `path`
    /// (which replaces a symbolic link there, not what it points to). A
    /// crash halfway leaves a file whose tag fails, never a wrong artifact.
    fn store(&self, path: &Path, digest: Digest, artifact: &[u8]) -> io::Result<()> {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self
            .dir
            .dir
            .join(private::random_name(&format!(".{stem}"))?);
        let written = private::create_private(&tmp).and_then(|mut f| {
            f.write_all(self.tag(digest, artifact).as_bytes())?;
            f.write_all(artifact)?;
            f.flush()
        });
        let placed = written.and_then(|()| std::fs::rename(&tmp, path));
        if placed.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        placed
    }
}
