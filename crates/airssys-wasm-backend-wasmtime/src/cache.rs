//! The on-disk cache of compiled components.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use airssys_wasm_core::{Digest, Error, Result};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Compiled artifacts keyed by component digest and engine configuration.
pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_key: u64,
}

impl ArtifactCache {
    pub(crate) fn new(dir: PathBuf, engine: &Engine) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(Self {
            dir,
            engine_key: h.finish(),
        })
    }

    fn path(&self, digest: Digest) -> PathBuf {
        let mut key = blake3::Hasher::new();
        key.update(&digest.0);
        key.update(&self.engine_key.to_le_bytes());
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        self.dir
            .join(format!("{}.cwasm", &key.finalize().to_hex()[..32]))
    }

    /// Loads the compiled component for `digest`, or compiles `bytes` and
    /// stores the result. Returns whether it came from the cache.
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: Digest,
    ) -> Result<(Component, bool)> {
        let path = self.path(digest);
        if path.exists() {
            // SAFETY: the artifact was written by `Engine::precompile_component`
            // of an engine with the same compatibility hash (it is part of the
            // file name) into a directory the host owns; wasmtime also checks
            // the artifact's header against the engine before using it.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unusable cached artifact");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|e| Error::InvalidComponent(format!("{e:#}")))?;
        if let Err(e) = write_atomically(&path, &compiled) {
            tracing::warn!(path = %path.display(), error = %e, "cannot store compiled artifact");
        }
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| Error::Backend(format!("{e:#}")))?;
        Ok((component, false))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
